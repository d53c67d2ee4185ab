//! What the live engine tests share: tags unique to a run, and one-node dispatches.

#![allow(clippy::unwrap_used, dead_code)]

use tessera_engine::{Dispatch, Tag, Target};

/// Tags unique to this run (the job id is the time in µs), so reruns against the same
/// cluster never collide; `instance` tells the test files apart.
pub fn tag(instance: u32, n: u32) -> Tag {
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    Tag {
        instance,
        job: run,
        attempt: n,
    }
}

/// A one-node dispatch of `chips` accelerators of GRES type `gres` on `partition`.
pub fn dispatch(tag: Tag, partition: &str, gres: &str, chips: u32, script: &str) -> Dispatch {
    Dispatch {
        tag,
        target: Target {
            partition: partition.into(),
            gres_type: gres.into(),
            gres_name: "gpu".into(),
            visible_devices_env: None,
        },
        nodes: 1,
        chips_per_node: chips,
        script: script.into(),
        env: vec![("TESSERA_JOB_ID".into(), tag.job.to_string())],
        grace_s: 0,
        lost_attempts: vec![],
        also: Vec::new(),
    }
}
