//! Live tests against a real Slurm (tools/slurm-local, started by `.ci/run`): capacity
//! discovery, dispatch of each vendor's GRES to its partition with the right device
//! variable, tags in squeue, exit codes, refusals and cancels.
//!
//! They need `SLURM_CONF` pointing at a cluster with the reference nodes (n-a800,
//! n-ascend, n-kunlun). Without one they say so and pass, except under `CI=true`, where
//! a missing cluster fails.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};
use tessera_engine::slurm::SlurmEngine;
use tessera_engine::{Engine, EngineError, EngineState, NodeState, Tag};

fn engine(test: &str) -> Option<SlurmEngine> {
    let conf = std::env::var_os("SLURM_CONF").map(PathBuf::from);
    let have = conf.as_ref().is_some_and(|c| c.exists())
        && std::process::Command::new("sinfo")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !have {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: no Slurm cluster (SLURM_CONF unset or sinfo missing) under CI=true");
        }
        eprintln!("{test}: skipped, no Slurm cluster (start tools/slurm-local/start.sh)");
        return None;
    }
    let spool =
        std::env::temp_dir().join(format!("tessera-engine-live-{}-{test}", std::process::id()));
    Some(SlurmEngine::new("slurm", conf, None, spool))
}

mod common;

/// This file's tags.
fn tag(n: u32) -> Tag {
    common::tag(0x7e57_0001, n)
}

use common::dispatch;

/// Polls squeue until the tagged job is in a terminal state (60 s at most: a liveness
/// bound, not a speed check).
fn wait_terminal(e: &SlurmEngine, t: Tag) -> tessera_engine::EngineJob {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let jobs = e.jobs().unwrap();
        if let Some(j) = jobs.into_iter().find(|j| j.tag == Some(t))
            && j.state.is_terminal()
        {
            return j;
        }
        assert!(
            Instant::now() < until,
            "job {t:?} did not finish within 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn discovers_the_pools_from_sinfo() {
    let Some(e) = engine("discovers_the_pools_from_sinfo") else {
        return;
    };
    let nodes = e.nodes().unwrap();
    for (part, gres) in [
        ("nvidia", "a800"),
        ("huawei", "ascend910b"),
        ("baidu", "p800"),
    ] {
        let n = nodes
            .iter()
            .find(|n| n.partition == part)
            .unwrap_or_else(|| panic!("no node in partition {part}: {nodes:?}"));
        assert_eq!(n.gres_type, gres);
        assert_eq!(n.chips, 8);
        assert_eq!(n.state, NodeState::Up);
    }
}

#[test]
fn each_vendor_runs_on_its_partition_with_its_device_variable() {
    let Some(e) = engine("each_vendor_runs_on_its_partition_with_its_device_variable") else {
        return;
    };
    for (k, (part, gres, var)) in [
        ("nvidia", "a800", "CUDA_VISIBLE_DEVICES"),
        ("huawei", "ascend910b", "ASCEND_RT_VISIBLE_DEVICES"),
        ("baidu", "p800", "XPU_VISIBLE_DEVICES"),
    ]
    .into_iter()
    .enumerate()
    {
        let t = tag(k as u32 + 1);
        let script = format!("echo \"devices=${var} job=$TESSERA_JOB_ID\"\nexit 3\n");
        let id = e.submit(&dispatch(t, part, gres, 2, &script)).unwrap();
        let j = wait_terminal(&e, t);
        assert_eq!(j.engine_id, id);
        assert_eq!(j.partition, part);
        assert_eq!(j.state, EngineState::Failed, "the script exits 3");
        assert_eq!(j.exit_code, Some(3));
        let out = std::fs::read_to_string(e.spool_file(t, "out")).unwrap();
        // Two distinct device indexes of the node's eight (which two depends on what
        // else runs there).
        let line = out
            .lines()
            .find(|l| l.ends_with(&format!(" job={}", t.job)))
            .unwrap_or_else(|| panic!("{part}: {out}"));
        let ids: Vec<u32> = line
            .trim_start_matches("devices=")
            .split(' ')
            .next()
            .unwrap()
            .split(',')
            .map(|d| d.parse().unwrap_or_else(|_| panic!("{part}: {line}")))
            .collect();
        assert_eq!(ids.len(), 2, "{part}: {line}");
        assert!(
            ids[0] != ids[1] && ids.iter().all(|&d| d < 8),
            "{part}: {line}"
        );
    }
}

#[test]
fn refusals_and_cancels() {
    let Some(e) = engine("refusals_and_cancels") else {
        return;
    };
    // More accelerators than any node of the partition has: the request's fault.
    let t = tag(1);
    match e.submit(&dispatch(t, "huawei", "ascend910b", 16, "true")) {
        Err(EngineError::Rejected { message, .. }) => {
            assert!(message.contains("node configuration"), "{message}")
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    // A long job, cancelled with a checkpoint signal first.
    let t = tag(2);
    let id = e
        .submit(&dispatch(
            t,
            "nvidia",
            "a800",
            1,
            "trap 'echo got-usr1' USR1\necho ready\nsleep 300 & wait\nsleep 300",
        ))
        .unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    while !e
        .jobs()
        .unwrap()
        .iter()
        .any(|j| j.tag == Some(t) && j.state == EngineState::Running)
    {
        assert!(Instant::now() < until, "job never started");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Signal once the script has its handler (a signal before that would end it, as a
    // checkpoint signal ends any job that does not handle it).
    let out = e.spool_file(t, "out");
    while !std::fs::read_to_string(&out).is_ok_and(|s| s.contains("ready")) {
        assert!(Instant::now() < until, "the job's script never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    e.signal_checkpoint(&id).unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&out).is_ok_and(|s| s.contains("got-usr1")) {
        assert!(Instant::now() < until, "the job's script never saw SIGUSR1");
        std::thread::sleep(Duration::from_millis(200));
    }
    e.cancel(&id).unwrap();
    let j = wait_terminal(&e, t);
    assert_eq!(j.state, EngineState::Cancelled);
    assert!(e.cancel("12;rm").is_err(), "not a job id");
    assert!(e.signal_checkpoint("").is_err(), "not a job id");
}

/// An outcome squeue no longer shows comes from the exit file, else from accounting
/// when the cluster keeps it (`sacct`); the engine finds out which by itself. The CI
/// cluster has no accounting (the fallback is checked); with
/// `SLURM_LOCAL_ACCOUNTING=1` the sacct path is.
#[test]
fn outcomes_come_from_accounting_when_the_cluster_keeps_it() {
    let Some(e) = engine("outcomes_come_from_accounting_when_the_cluster_keeps_it") else {
        return;
    };
    let conf = std::fs::read_to_string(std::env::var("SLURM_CONF").unwrap()).unwrap();
    let configured = !conf.contains("accounting_storage/none");
    assert_eq!(e.has_accounting(), configured, "sacct detection");
    let t = tag(40);
    e.submit(&dispatch(t, "nvidia", "a800", 1, "exit 4"))
        .unwrap();
    let j = wait_terminal(&e, t);
    assert_eq!(j.exit_code, Some(4));
    assert_eq!(e.outcome(t), Some(4), "from the exit file");
    std::fs::remove_file(e.spool_file(t, "exit")).unwrap();
    if configured {
        // slurmdbd may take a moment to hold the record.
        let until = Instant::now() + Duration::from_secs(30);
        while e.outcome(t).is_none() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(300));
        }
        assert_eq!(e.outcome(t), Some(4), "from sacct");
        assert_eq!(e.sacct(t).map(|r| r.state), Some(EngineState::Failed));
    } else {
        assert_eq!(
            e.outcome(t),
            None,
            "no exit file and no accounting: unknown"
        );
    }
}

/// One job across two pools (a gang across chip types): a heterogeneous job whose
/// script runs once and reaches both components with `srun --het-group`; squeue's two
/// component rows read as one job with the tag, both partitions and both nodes.
#[test]
fn a_gang_across_two_partitions_runs_as_one_heterogeneous_job() {
    let Some(e) = engine("a_gang_across_two_partitions_runs_as_one_heterogeneous_job") else {
        return;
    };
    assert!(e.runs_gangs_across());
    let t = tag(40);
    let script = "echo \"het=$SLURM_HET_SIZE\"\n\
                  srun --het-group=0,1 bash -c 'echo \"part $SLURM_PROCID on $SLURMD_NODENAME\"'\n\
                  exit 0\n";
    let mut d = dispatch(t, "huawei", "ascend910b", 2, script);
    d.also.push(tessera_engine::Component {
        target: tessera_engine::Target {
            partition: "nvidia".into(),
            gres_type: "a800".into(),
            gres_name: "gpu".into(),
            visible_devices_env: None,
        },
        nodes: 1,
        chips_per_node: 2,
    });
    let id = e.submit(&d).unwrap();
    assert!(id.chars().all(|c| c.is_ascii_digit()), "{id}");
    // Slurm's backfill scheduler starts heterogeneous jobs: allow it a few passes.
    let until = Instant::now() + Duration::from_secs(180);
    let j = loop {
        let jobs = e.jobs().unwrap();
        let mine: Vec<_> = jobs.into_iter().filter(|j| j.tag == Some(t)).collect();
        assert!(mine.len() <= 1, "one job per gang: {mine:?}");
        if let Some(j) = mine.into_iter().next()
            && j.state.is_terminal()
        {
            break j;
        }
        assert!(Instant::now() < until, "gang {t:?} did not finish in 180 s");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(j.engine_id, id);
    assert_eq!(j.partition, "huawei+nvidia");
    assert_eq!(j.state, EngineState::Succeeded, "{j:?}");
    assert_eq!(j.exit_code, Some(0));
    assert!(
        j.nodes.contains("n-ascend") && j.nodes.contains("n-a800"),
        "{j:?}"
    );
    let out = std::fs::read_to_string(e.spool_file(t, "out")).unwrap();
    assert!(out.contains("het=2"), "{out}");
    assert!(out.contains("part 0 on n-ascend"), "{out}");
    assert!(out.contains("part 1 on n-a800"), "{out}");
}
