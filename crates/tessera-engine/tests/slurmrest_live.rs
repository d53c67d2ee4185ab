//! Live tests of the slurmrestd engine against a real slurmrestd (tools/slurm-local with
//! `SLURM_LOCAL_REST=1`, as `tools/test.sh` starts it): capacity from `/nodes`, each
//! vendor's job on its partition with its device variable, exit codes, refusals, the
//! checkpoint signal reaching the job's script, cancels, a bad token reported as the
//! engine being unavailable. (The wrapper's guard against a Slurm requeue is tested with
//! bash in the crate's unit tests: a requeued job is rerun by Slurm only after two
//! minutes, too long for a test.)
//!
//! They need `SLURMRESTD_URL`, `SLURM_LOCAL_USER` and `SLURM_LOCAL_JWT` (the
//! `env.sh` of tools/slurm-local). Without them they say so and pass, except under
//! `CI=true`, where a missing slurmrestd fails.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};
use tessera_engine::slurmrest::{SlurmRestEngine, Token};
use tessera_engine::{Engine, EngineError, EngineState, NodeState, Tag};

fn engine(test: &str) -> Option<(SlurmRestEngine, std::path::PathBuf)> {
    let (Ok(url), Ok(user), Ok(jwt)) = (
        std::env::var("SLURMRESTD_URL"),
        std::env::var("SLURM_LOCAL_USER"),
        std::env::var("SLURM_LOCAL_JWT"),
    ) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "{test}: no slurmrestd (SLURMRESTD_URL, SLURM_LOCAL_USER, SLURM_LOCAL_JWT) under CI=true"
            );
        }
        eprintln!("{test}: skipped, no slurmrestd (SLURM_LOCAL_REST=1 tools/slurm-local/start.sh)");
        return None;
    };
    let spool =
        std::env::temp_dir().join(format!("tessera-rest-live-{}-{test}", std::process::id()));
    let e =
        SlurmRestEngine::new("slurm-rest", &url, &user, Token::Value(jwt), spool.clone()).unwrap();
    Some((e, spool))
}

mod common;

/// This file's tags.
fn tag(n: u32) -> Tag {
    common::tag(0x7e57_0002, n)
}

use common::dispatch;

fn wait_for(
    e: &SlurmRestEngine,
    t: Tag,
    what: &str,
    done: impl Fn(&tessera_engine::EngineJob) -> bool,
) -> tessera_engine::EngineJob {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(j) = e.jobs().unwrap().into_iter().find(|j| j.tag == Some(t))
            && done(&j)
        {
            return j;
        }
        assert!(Instant::now() < until, "job {t:?}: not {what} within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn rest_discovers_runs_refuses_signals_and_cancels() {
    let Some((e, spool)) = engine("rest_discovers_runs_refuses_signals_and_cancels") else {
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
        assert_eq!(
            (n.gres_type.as_str(), n.chips, n.state),
            (gres, 8, NodeState::Up)
        );
    }
    // Each vendor on its partition, with its device variable and the job's exit code.
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
        let j = wait_for(&e, t, "finished", |j| j.state.is_terminal());
        assert_eq!(
            (j.engine_id.as_str(), j.partition.as_str()),
            (id.as_str(), part)
        );
        assert_eq!((j.state, j.exit_code), (EngineState::Failed, Some(3)));
        let out = std::fs::read_to_string(
            spool.join(format!("{:08x}-{}-{}.out", t.instance, t.job, t.attempt)),
        )
        .unwrap();
        let line = out
            .lines()
            .find(|l| l.ends_with(&format!(" job={}", t.job)))
            .unwrap_or_else(|| panic!("{part}: {out}"));
        let devs = line
            .trim_start_matches("devices=")
            .split(' ')
            .next()
            .unwrap();
        assert_eq!(devs.split(',').count(), 2, "{part}: {line}");
    }
    // A shape no node has is the request's fault.
    let t = tag(10);
    match e.submit(&dispatch(t, "nvidia", "a800", 9, "true")) {
        Err(EngineError::Rejected { message, .. }) => {
            assert!(message.contains("node configuration"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // The checkpoint signal reaches the job's script; a cancel ends the job.
    let t = tag(11);
    let script = "trap 'echo got-usr1; exit 0' USR1\necho ready\nsleep 60 & wait\n";
    let id = e.submit(&dispatch(t, "nvidia", "a800", 1, script)).unwrap();
    wait_for(&e, t, "running", |j| j.state == EngineState::Running);
    std::thread::sleep(Duration::from_millis(500));
    e.signal_checkpoint(&id).unwrap();
    let j = wait_for(&e, t, "finished", |j| j.state.is_terminal());
    assert_eq!(
        (j.state, j.exit_code),
        (EngineState::Succeeded, Some(0)),
        "{j:?}"
    );
    let t = tag(12);
    let id = e
        .submit(&dispatch(t, "nvidia", "a800", 1, "sleep 60"))
        .unwrap();
    wait_for(&e, t, "running", |j| j.state == EngineState::Running);
    e.cancel(&id).unwrap();
    let j = wait_for(&e, t, "cancelled", |j| j.state.is_terminal());
    assert_eq!(j.state, EngineState::Cancelled);
    assert!(matches!(
        e.cancel("1; rm"),
        Err(EngineError::Rejected { .. })
    ));
}

#[test]
fn rest_with_a_bad_token_is_unavailable() {
    let Some((_, spool)) = engine("rest_with_a_bad_token_is_unavailable") else {
        return;
    };
    let url = std::env::var("SLURMRESTD_URL").unwrap();
    let e = SlurmRestEngine::new(
        "slurm-rest",
        &url,
        "root",
        Token::Value("nope".into()),
        spool,
    )
    .unwrap();
    match e.nodes() {
        Err(EngineError::Unavailable { message, .. }) => {
            assert!(message.contains("HTTP"), "{message}")
        }
        other => panic!("expected the engine unavailable, got {other:?}"),
    }
}
