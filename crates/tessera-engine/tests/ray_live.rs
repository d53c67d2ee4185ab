//! Live tests of the Ray engine against a real Ray head (Ray 2.60 from PyPI, started by
//! `tools/ray-local/start.sh` with `GPU`, `NPU` and `P800` resources, as
//! `tools/test.sh` does): capacity from the State API, each vendor's job with its device
//! variable (Ray's for GPU and NPU, tessera's for the custom Kunlun resource), exit
//! codes, logs, the checkpoint signal, a duplicate submission id (Ray's HTTP 500), a job
//! left PENDING by a stop, and delete.
//!
//! They need `TESSERA_RAY_URL` (the dashboard, `http://127.0.0.1:8265`). Without it they
//! say so and pass, except under `CI=true`, where a missing Ray fails.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};
use tessera_engine::ray::RayEngine;
use tessera_engine::{Dispatch, Engine, EngineJob, EngineState, Tag};

mod common;

/// One test at a time: they share the head's accelerators.
static RAY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    RAY.lock().unwrap_or_else(|p| p.into_inner())
}

fn engine(test: &str) -> Option<(RayEngine, String, std::path::PathBuf)> {
    let Ok(url) = std::env::var("TESSERA_RAY_URL") else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{test}: no Ray head (TESSERA_RAY_URL unset) under CI=true");
        }
        eprintln!("{test}: skipped, no Ray head (tools/ray-local/start.sh, then TESSERA_RAY_URL)");
        return None;
    };
    let spool =
        std::env::temp_dir().join(format!("tessera-ray-live-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&spool);
    let e = RayEngine::new("ray", &url, spool.clone()).unwrap();
    Some((e, url, spool))
}

/// Tags of this file.
fn tag(n: u32) -> Tag {
    common::tag(0x7e57_0003, n)
}

fn ray_dispatch(t: Tag, resource: &str, chips: u32, script: &str) -> Dispatch {
    let mut d = common::dispatch(t, "", resource, chips, script);
    d.target.gres_name = "ray".into();
    d.target.visible_devices_env = (resource == "P800").then(|| "XPU_VISIBLE_DEVICES".to_string());
    d
}

fn wait_for(e: &RayEngine, t: Tag, what: &str, done: impl Fn(&EngineJob) -> bool) -> EngineJob {
    let until = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(j) = e.jobs().unwrap().into_iter().find(|j| j.tag == Some(t))
            && done(&j)
        {
            return j;
        }
        assert!(Instant::now() < until, "{what}: not within 90 s");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Forgets jobs as the server does, once per round, until Ray no longer lists them,
/// and checks that none comes back.
fn forget_all(e: &RayEngine, tags: &[Tag]) {
    let until = Instant::now() + tessera_engine::ray::FORGET_AFTER + Duration::from_secs(30);
    loop {
        let listed: Vec<EngineJob> = e
            .jobs()
            .unwrap()
            .into_iter()
            .filter(|j| j.tag.is_some_and(|t| tags.contains(&t)))
            .collect();
        if listed.is_empty() {
            break;
        }
        for j in &listed {
            e.forget(&j.engine_id).unwrap();
        }
        assert!(Instant::now() < until, "still listed: {listed:?}");
        std::thread::sleep(Duration::from_secs(1));
    }
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        e.jobs()
            .unwrap()
            .iter()
            .all(|j| j.tag.is_none_or(|t| !tags.contains(&t))),
        "a deleted job came back"
    );
}

/// Capacity, each vendor's device variable, two Kunlun jobs on distinct devices, exit
/// codes, logs, and delete.
#[test]
fn each_vendor_runs_with_its_devices() {
    let Some((e, _, spool)) = engine("each_vendor_runs_with_its_devices") else {
        return;
    };
    let _one = serial();
    let nodes = e.nodes().unwrap();
    for r in ["GPU", "NPU", "P800"] {
        assert!(
            nodes.iter().any(|n| n.gres_type == r && n.chips >= 8),
            "no {r} node: {nodes:?}"
        );
    }
    let show = |var: &str| format!("echo \"{var}=${var}\"; sleep 4");
    let jobs = [
        (tag(1), "GPU", show("CUDA_VISIBLE_DEVICES")),
        (tag(2), "NPU", show("ASCEND_RT_VISIBLE_DEVICES")),
        (tag(3), "P800", show("XPU_VISIBLE_DEVICES")),
        (tag(4), "P800", show("XPU_VISIBLE_DEVICES")),
    ];
    let second_kunlun = jobs[3].0;
    for (t, r, s) in &jobs {
        let id = e.submit(&ray_dispatch(*t, r, 2, s)).unwrap();
        assert_eq!(id, t.name());
    }
    wait_for(&e, second_kunlun, "the second Kunlun job runs", |j| {
        j.state == EngineState::Running
    });
    let used: u32 = e
        .nodes()
        .unwrap()
        .iter()
        .filter(|n| n.gres_type == "P800")
        .map(|n| n.chips_used)
        .sum();
    assert_eq!(used, 4, "two Kunlun jobs of 2 chips");
    let mut kunlun = Vec::new();
    for (t, r, _) in &jobs {
        let j = wait_for(&e, *t, "a job ends", |j| j.state.is_terminal());
        assert_eq!(j.state, EngineState::Succeeded, "{r}: {j:?}");
        assert_eq!(j.exit_code, Some(0));
        let logs = e.logs(&t.name()).unwrap();
        let line = logs
            .lines()
            .find(|l| l.contains("VISIBLE_DEVICES="))
            .unwrap_or_else(|| panic!("{r}: no device line in {logs}"))
            .to_string();
        let devices = line.split('=').nth(1).unwrap().to_string();
        assert_eq!(devices.split(',').count(), 2, "{r}: {line}");
        if *r == "P800" {
            kunlun.push(devices);
        }
    }
    assert_ne!(kunlun[0], kunlun[1], "two live Kunlun jobs shared devices");
    // Deleted only once seen ended for FORGET_AFTER: a delete right at the end comes
    // back as a FAILED record (Ray 2.60). The server calls forget every round.
    for (t, _, _) in &jobs {
        e.forget(&t.name()).unwrap();
    }
    assert!(
        e.jobs().unwrap().iter().any(|j| j.tag == Some(jobs[0].0)),
        "deleted at once"
    );
    forget_all(&e, &jobs.iter().map(|j| j.0).collect::<Vec<_>>());
    let t = tag(5);
    e.submit(&ray_dispatch(t, "NPU", 1, "exit 3")).unwrap();
    let j = wait_for(&e, t, "a failing job ends", |j| j.state.is_terminal());
    assert_eq!((j.state, j.exit_code), (EngineState::Failed, Some(3)));
    forget_all(&e, &[t]);
    let _ = std::fs::remove_dir_all(spool);
}

/// A duplicate submission id is the same attempt; the checkpoint signal reaches the
/// script; a job Ray leaves PENDING after a stop counts as cancelled and, when Ray
/// starts it later, runs nothing.
#[test]
fn duplicates_checkpoints_and_stuck_pending_jobs() {
    let Some((e, url, spool)) = engine("duplicates_checkpoints_and_stuck_pending_jobs") else {
        return;
    };
    let _one = serial();
    let addr = tessera_engine::http::parse_url(&url).unwrap();
    let seen = spool.join("seen");
    std::fs::create_dir_all(&spool).unwrap();
    let t = tag(11);
    let d = ray_dispatch(
        t,
        "GPU",
        1,
        &format!(
            "trap 'echo usr1 >> {}; exit 0' USR1\nsleep 60 & wait",
            seen.display()
        ),
    );
    assert_eq!(e.submit(&d).unwrap(), t.name());
    // Ray answers the raw duplicate with HTTP 500 and a text/plain traceback.
    let dup = format!(
        r#"{{"entrypoint": "true", "submission_id": "{}"}}"#,
        t.name()
    );
    let r = tessera_engine::http::request(&addr, "POST", "/api/jobs/", &[], Some(&dup)).unwrap();
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(r.body.contains("already exists"), "{}", r.body);
    // The engine takes it as the attempt already there.
    assert_eq!(e.submit(&d).unwrap(), t.name());
    assert_eq!(
        e.jobs()
            .unwrap()
            .iter()
            .filter(|j| j.tag == Some(t))
            .count(),
        1
    );
    wait_for(&e, t, "the job runs", |j| j.state == EngineState::Running);
    e.signal_checkpoint(&t.name()).unwrap();
    let j = wait_for(&e, t, "the job ends on its signal", |j| {
        j.state.is_terminal()
    });
    assert_eq!(j.state, EngineState::Succeeded, "{j:?}");
    assert_eq!(std::fs::read_to_string(&seen).unwrap().trim(), "usr1");

    // A job asking for more than any node has is not sent at all (Ray would keep it
    // PENDING, even after a stop): the engine says no node has room, and the server
    // tries again later.
    let big = tag(13);
    let r = e.submit(&ray_dispatch(big, "NPU", 16, "true"));
    assert!(
        matches!(&r, Err(tessera_engine::EngineError::Unavailable { message, .. }) if message.contains("16 free")),
        "{r:?}"
    );
    assert!(e.jobs().unwrap().iter().all(|j| j.tag != Some(big)));

    // Another user's job holds every NPU, so tessera's next NPU job waits in Ray.
    let hog = format!(
        r#"{{"entrypoint": "sleep 120", "submission_id": "not-tessera-{}", "entrypoint_num_cpus": 0, "entrypoint_resources": {{"NPU": 8}}}}"#,
        t.job
    );
    let r = tessera_engine::http::request(&addr, "POST", "/api/jobs/", &[], Some(&hog)).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let hog_id = format!("not-tessera-{}", t.job);
    let until = Instant::now() + Duration::from_secs(60);
    while !tessera_engine::http::request(&addr, "GET", &format!("/api/jobs/{hog_id}"), &[], None)
        .unwrap()
        .body
        .contains("RUNNING")
    {
        assert!(Instant::now() < until, "the other job never ran");
        std::thread::sleep(Duration::from_millis(300));
    }
    let ran = spool.join("ran");
    let p = tag(12);
    e.submit(&ray_dispatch(
        p,
        "NPU",
        2,
        &format!("echo ran > {}", ran.display()),
    ))
    .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let raw = |id: &str| {
        let r = tessera_engine::http::request(&addr, "GET", &format!("/api/jobs/{id}"), &[], None)
            .unwrap();
        serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(raw(&p.name()), "PENDING");
    e.cancel(&p.name()).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        raw(&p.name()),
        "PENDING",
        "Ray 2.60 keeps a stopped pending job pending"
    );
    let j = e
        .jobs()
        .unwrap()
        .into_iter()
        .find(|j| j.tag == Some(p))
        .unwrap();
    assert_eq!(j.state, EngineState::Cancelled, "{j:?}");
    assert_eq!(e.outcome(p), None);
    // Free the NPUs: Ray now starts the stopped job, whose wrapper runs nothing.
    let r = tessera_engine::http::request(
        &addr,
        "POST",
        &format!("/api/jobs/{hog_id}/stop"),
        &[],
        None,
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let until = Instant::now() + Duration::from_secs(60);
    while raw(&p.name()) == "PENDING" || raw(&p.name()) == "RUNNING" {
        assert!(Instant::now() < until, "the stopped job never ended");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(!ran.exists(), "a job tessera had stopped ran its script");
    forget_all(&e, &[t, p]);
    let _ =
        tessera_engine::http::request(&addr, "DELETE", &format!("/api/jobs/{hog_id}"), &[], None);
    let _ = std::fs::remove_dir_all(spool);
}
