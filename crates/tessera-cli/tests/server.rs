//! `tessera server` against the real Slurm of tools/slurm-local (started by the README's
//! test command, tools/test.sh): jobs of each vendor on the right partition with the
//! right device variable, bad requests, cancels, and a SIGKILL of the server in the
//! middle of a burst of submissions with every acknowledged job run exactly once,
//! counted on the engine's side. Without a cluster the tests say they skipped; under
//! CI=true they fail.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tessera_server::client::request;

mod common;
use common::*;

fn batch(name: &str, chips: u32, chip: &str, command: &str) -> String {
    serde_json::json!({
        "kind": "batch",
        "name": name,
        "command": command,
        "resources": {"chips": chips, "chip-types": [chip]},
    })
    .to_string()
}

/// `DIR/launcher.sh`, an executable stand-in for torchrun or vLLM that prints its
/// arguments (`launcher: ...`) and then runs `report`.
fn standin_launcher(dir: &Path, report: &str) -> PathBuf {
    let p = dir.join("launcher.sh");
    std::fs::write(
        &p,
        format!("#!/bin/bash\necho \"launcher: $*\"\n{report}\n"),
    )
    .unwrap();
    assert!(
        Command::new("chmod")
            .arg("+x")
            .arg(&p)
            .status()
            .unwrap()
            .success()
    );
    p
}

fn output_of(s: &Server, v: &serde_json::Value) -> String {
    let a = v["attempts"].as_array().unwrap().last().unwrap();
    let dir = s.dir.join("spool").join("slurm");
    let suffix = format!("-{}-{}.out", v["id"], a["attempt"]);
    let f = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().ends_with(&suffix))
        .unwrap_or_else(|| panic!("no output file *{suffix} in {}", dir.display()));
    std::fs::read_to_string(f.path()).unwrap()
}

#[test]
fn jobs_of_each_vendor_run_where_they_should() {
    if !have_slurm("jobs_of_each_vendor_run_where_they_should") {
        return;
    }
    let _one = serial();
    let s = Server::new("vendors", "max-min-fairness-perf");
    let cases = [
        ("huawei-ascend-910b2", "ascend", "ASCEND_RT_VISIBLE_DEVICES"),
        ("nvidia-a800-sxm4-80gb", "a800", "CUDA_VISIBLE_DEVICES"),
        ("kunlunxin-p800", "p800", "XPU_VISIBLE_DEVICES"),
    ];
    let ids: Vec<u64> = cases
        .iter()
        .map(|(chip, _, var)| {
            s.submit(&batch(
                "vendor",
                2,
                chip,
                &format!("echo \"devices=${var} pool=$TESSERA_POOL\""),
            ))
        })
        .collect();
    for (id, (_, pool, _)) in ids.iter().zip(cases) {
        let v = s.wait_final(*id);
        assert_eq!(v["state"], "succeeded", "{v}");
        let a = &v["attempts"][0];
        assert_eq!(a["pool"], pool);
        assert_eq!(a["exit_code"], 0);
        let out = output_of(&s, &v);
        assert!(out.contains(&format!("devices=0,1 pool={pool}")), "{out}");
    }
    // A failing script is `failed`, with its exit code.
    let id = s.submit(&batch("fails", 1, "a800", "exit 5"));
    let v = s.wait_final(id);
    assert_eq!(v["state"], "failed");
    assert_eq!(v["attempts"][0]["exit_code"], 5);
    // The pools came from sinfo.
    let (st, p) = s.call("GET", "/api/v1/pools", None, None);
    assert_eq!(st, 200);
    assert_eq!(p["pools"][0]["chips"], 8, "{p}");
    // Planning over the live fleet: the pools Slurm reports, as `tessera plan train` and
    // `plan serve` would plan them.
    let (st, p) = s.call(
        "POST",
        "/api/v1/plan/train",
        None,
        Some(r#"{"model": "llama3-8b", "global-batch": 256, "tokens": 1e10}"#),
    );
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["fleet"], "live");
    assert!(!p["plans"].as_array().unwrap().is_empty(), "{p}");
    assert_eq!(p["pools"].as_array().unwrap().len(), 3, "{p}");
    assert!(p["plans"][0]["chips"].as_u64().unwrap() <= 8);
    // The configured link between the Ascend and A800 pools gives mixed-vendor plans.
    let mixed = p["mixed"].as_array().unwrap();
    assert!(!mixed.is_empty(), "{p}");
    let (st, pools) = s.call("GET", "/api/v1/pools", None, None);
    assert_eq!(st, 200);
    assert_eq!(pools["links"][0]["gb-s"], 12.5, "{pools}");
    let (st, p) = s.call(
        "POST",
        "/api/v1/plan/serve",
        None,
        Some(r#"{"model": "llama3-8b", "rate": 5, "input-len": 1000, "output-len": 200}"#),
    );
    assert_eq!(st, 200, "{p}");
    assert!(!p["plans"].as_array().unwrap().is_empty(), "{p}");
    // Purchase planning with the live fleet as the chips owned: each pool's 8.
    let (st, p) = s.call(
        "POST",
        "/api/v1/procure",
        None,
        Some(r#"{"scenario": "baidu-2023"}"#),
    );
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["scenario"], "baidu-2023");
    let owned = |chip: &str| {
        p["chips"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["chip"] == chip)
            .map(|c| c["owned"].clone())
    };
    assert_eq!(owned("nvidia-a800-sxm4-80gb"), Some(8.into()), "{p}");
    assert_eq!(owned("huawei-ascend-910b2"), Some(8.into()), "{p}");
    let (st, p) = s.call(
        "POST",
        "/api/v1/procure",
        None,
        Some(r#"{"scenario": "baidu-2023", "owned": "scenario"}"#),
    );
    assert_eq!(st, 200, "{p}");
    let a800 = p["chips"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["chip"] == "nvidia-a800-sxm4-80gb")
        .cloned();
    assert_eq!(a800.map(|c| c["owned"].clone()), Some(512.into()), "{p}");
    for (body, field) in [
        (r#"{"scenario": "nope"}"#, "scenario"),
        (r#"{}"#, "scenario"),
        (r#"{"scenario-toml": "id = 3"}"#, "scenario-toml"),
        (r#"{"scenario": "baidu-2023", "owned": "all"}"#, "owned"),
    ] {
        let (st, p) = s.call("POST", "/api/v1/procure", None, Some(body));
        assert_eq!((st, p["field"].as_str()), (422, Some(field)), "{body}: {p}");
    }
    let (st, p) = s.call(
        "POST",
        "/api/v1/plan/train",
        None,
        Some(r#"{"model": "nope"}"#),
    );
    assert_eq!((st, p["field"].as_str()), (422, Some("model")), "{p}");
    let m = request(&s.addr, "GET", "/metrics", None, None).unwrap();
    assert_eq!(m.status, 200);
    assert!(
        m.body.contains("tessera_jobs{state=\"succeeded\"} 3"),
        "{}",
        m.body
    );
}

#[test]
fn bad_requests_get_json_errors_and_teams_stay_apart() {
    if !have_slurm("bad_requests_get_json_errors_and_teams_stay_apart") {
        return;
    }
    let _one = serial();
    let s = Server::new("bad", "fifo-perf");
    let ok = batch("ok", 1, "a800", "sleep 60");
    let cases: Vec<(Option<&str>, String, u16, Option<&str>)> = vec![
        (None, ok.clone(), 401, None),
        (Some("wrong-token-000000000000"), ok.clone(), 401, None),
        (Some(TOKEN), "{".into(), 422, None),
        (
            Some(TOKEN),
            r#"{"kind": "batch"}"#.into(),
            422,
            Some("name"),
        ),
        (
            Some(TOKEN),
            ok.replace("\"name\"", "\"colour\": 1, \"name\""),
            422,
            Some("colour"),
        ),
        (
            Some(TOKEN),
            batch("x", 0, "a800", "true"),
            422,
            Some("resources.chips"),
        ),
        (
            Some(TOKEN),
            format!("{{\"kind\": \"{}\"}}", "x".repeat(70_000)),
            413,
            None,
        ),
    ];
    for (tok, body, status, field) in cases {
        let r = request(&s.addr, "POST", "/api/v1/jobs", tok, Some(&body)).unwrap();
        assert_eq!(r.status, status, "{}", r.body);
        let v: serde_json::Value =
            serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("not JSON: {}", r.body));
        assert!(v["code"].is_string() && v["message"].is_string(), "{v}");
        if let Some(f) = field {
            assert_eq!(v["field"], f, "{v}");
        }
    }
    let (st, _) = s.call("GET", "/api/v1/jobs/abc", None, None);
    assert_eq!(st, 400);
    let (st, _) = s.call("GET", "/api/v1/jobs?state=bogus", None, None);
    assert_eq!(st, 400);
    let (st, _) = s.call("GET", "/api/v1/nothing", None, None);
    assert_eq!(st, 404);
    // Another team neither sees nor cancels this team's job.
    let id = s.submit(&ok);
    let (st, _) = s.call("GET", &format!("/api/v1/jobs/{id}"), Some(OTHER), None);
    assert_eq!(st, 404);
    let (st, _) = s.call("DELETE", &format!("/api/v1/jobs/{id}"), Some(OTHER), None);
    assert_eq!(st, 404);
    let (_, l) = s.call("GET", "/api/v1/jobs", Some(OTHER), None);
    assert_eq!(l["jobs"].as_array().unwrap().len(), 0);
    // Its owner cancels it, running or not.
    let (st, _) = s.call("DELETE", &format!("/api/v1/jobs/{id}"), Some(TOKEN), None);
    assert_eq!(st, 202);
    let v = s.wait_final(id);
    assert_eq!(v["state"], "cancelled", "{v}");
}

/// Submissions in a burst while the server is SIGKILLed twice and restarted: every job
/// the server acknowledged (201) runs exactly once, counted by the jobs themselves in a
/// file the engine's nodes write.
#[test]
fn sigkill_during_a_burst_loses_nothing_and_runs_nothing_twice() {
    if !have_slurm("sigkill_during_a_burst_loses_nothing_and_runs_nothing_twice") {
        return;
    }
    let _one = serial();
    let mut s = Server::new("sigkill", "fifo-perf");
    let runs = s.dir.join("runs.txt");
    let body = |i: u32| {
        batch(
            &format!("burst-{i}"),
            1,
            [
                "huawei-ascend-910b2",
                "nvidia-a800-sxm4-80gb",
                "kunlunxin-p800",
            ][i as usize % 3],
            &format!(
                "echo \"$TESSERA_JOB_ID $TESSERA_ATTEMPT\" >> {}\nsleep 1",
                runs.display()
            ),
        )
    };
    let mut acked = Vec::new();
    for i in 0..36u32 {
        if i == 12 || i == 24 {
            s.kill9();
            s.start();
        }
        if let Ok(r) = request(&s.addr, "POST", "/api/v1/jobs", Some(TOKEN), Some(&body(i)))
            && r.status == 201
        {
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            acked.push(v["id"].as_u64().unwrap());
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    assert_eq!(acked.len(), 36);
    for &id in &acked {
        let v = s.wait_final(id);
        assert_eq!(v["state"], "succeeded", "{v}\n{}", s.log());
    }
    let text = std::fs::read_to_string(&runs).unwrap();
    for &id in &acked {
        let n = text
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(&id.to_string()))
            .count();
        assert_eq!(n, 1, "job {id} ran {n} times:\n{text}");
    }
}

/// slurmctld SIGKILLed and restarted: the server keeps accepting jobs, says the engine
/// is unhealthy, once the controller is back every job finishes, and no job's script
/// runs to its end twice. Slurm 22.05, killed and restarted, can forget a job whose
/// process goes on; tessera then starts a new attempt, whose wrapper waits for the
/// job's lock and does not run the script when the forgotten attempt finished it.
#[test]
fn slurmctld_killed_and_restarted() {
    if !have_slurm("slurmctld_killed_and_restarted") {
        return;
    }
    ctld_scenario();
}

fn ctld_scenario() {
    let _one = serial();
    let s = Server::new("ctld", "fifo-perf");
    let runs = s.dir.join("runs.txt");
    let job = |name: &str, secs: u32| {
        batch(
            name,
            1,
            "a800",
            &format!(
                "echo \"start $TESSERA_JOB_ID $TESSERA_ATTEMPT\" >> {r}\nsleep {secs}\necho \"end $TESSERA_JOB_ID $TESSERA_ATTEMPT\" >> {r}",
                r = runs.display()
            ),
        )
    };
    let a = s.submit(&job("long", 20));
    wait_until("job a running", 60, || s.job(a)["state"] == "running");
    let conf = std::env::var("SLURM_CONF").unwrap();
    let dir = Path::new(&conf)
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let pid = std::fs::read_to_string(dir.join("run").join("slurmctld.pid")).unwrap();
    assert!(
        Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .unwrap()
            .success()
    );
    // Jobs are still accepted, and the engine is reported unhealthy.
    let b = s.submit(&job("during", 1));
    wait_until("engine reported unhealthy", 30, || {
        let r = request(&s.addr, "GET", "/healthz", None, None).unwrap();
        r.body.contains("\"degraded\"")
    });
    let st = Command::new("slurmctld")
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "slurmctld did not restart");
    wait_until("slurmctld up", 60, || {
        Command::new("scontrol")
            .arg("ping")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("UP"))
    });
    // Slurm 22.05 may purge the attempt it had not saved and give its id to the next
    // job, then hold that job and drain the node for a "Duplicate jobid" when it launches
    // it. Resuming such a node is the operator's part (done here as it happens);
    // replacing the held job is tessera's.
    let mut resumed = 0;
    // A controller restarted after SIGKILL reloads its last saved state, which can bring
    // back jobs that had already finished (earlier tests' jobs) as RUNNING for minutes,
    // holding the node. tessera reports such jobs (`unknown-engine-job`) and leaves them
    // alone; cancelling them is the operator's part, played here.
    let mut cancelled = std::collections::BTreeSet::new();
    wait_until("both jobs final", 120, || {
        let drained = Command::new("sinfo")
            .args(["-h", "-N", "-n", "n-a800", "-o", "%T"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("drain"));
        if drained {
            resumed += 1;
            let _ = Command::new("scontrol")
                .args(["update", "nodename=n-a800", "state=resume"])
                .output();
        }
        if let Ok(r) = request(&s.addr, "GET", "/api/v1/events?limit=1000", None, None)
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&r.body)
        {
            for e in v["events"].as_array().into_iter().flatten() {
                if e["kind"] != "unknown-engine-job" {
                    continue;
                }
                let detail = e["detail"].as_str().unwrap_or("");
                if let Some(id) = detail
                    .strip_prefix("slurm job ")
                    .and_then(|x| x.split_whitespace().next())
                    && id.bytes().all(|b| b.is_ascii_digit())
                    && cancelled.insert(id.to_string())
                {
                    let _ = Command::new("scancel").arg(id).output();
                }
            }
        }
        [a, b].iter().all(|&id| {
            matches!(
                s.job(id)["state"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            )
        })
    });
    for id in [a, b] {
        let v = s.job(id);
        assert_eq!(v["state"], "succeeded", "{v}\n{}", s.log());
    }
    let events = request(&s.addr, "GET", "/api/v1/events", None, None).unwrap();
    let events: serde_json::Value = serde_json::from_str(&events.body).unwrap();
    let lost: Vec<String> = events["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] != "state")
        .map(|e| format!("  {} {}: {}", e["job"], e["kind"], e["detail"]))
        .collect();
    eprintln!(
        "slurmctld_killed_and_restarted: resumed n-a800 {resumed} time(s), cancelled {} job(s) the restart brought back; events other than state changes:\n{}\nthe scripts' own log:\n{}",
        cancelled.len(),
        lost.join("\n"),
        std::fs::read_to_string(&runs).unwrap_or_default()
    );
    let r = request(&s.addr, "GET", "/healthz", None, None).unwrap();
    assert!(r.body.contains("\"ok\""), "{}", r.body);
    // A restarted slurmctld can also recover jobs of earlier tests that had finished
    // (its saved state predates their end) as running, with no process, holding their
    // node's CPUs until it notices minutes later; the other live tests (serialized by
    // `serial()`) are not running now, so cancel every job, as an operator would.
    if let Ok(me) = Command::new("id").arg("-un").output() {
        let me = String::from_utf8_lossy(&me.stdout).trim().to_string();
        let _ = Command::new("scancel").args(["--user", &me]).output();
    }
    // No job's script ran to its end twice.
    let text = std::fs::read_to_string(&runs).unwrap();
    for id in [a, b] {
        let ends = text
            .lines()
            .filter(|l| l.starts_with(&format!("end {id} ")))
            .count();
        assert_eq!(ends, 1, "job {id} finished {ends} times:\n{text}");
    }
}

/// Two jobs that each need a whole 8-accelerator pool, under max-min fairness: they take
/// turns, each move a checkpoint signal that the job's script sees, a cancel, and a new
/// attempt.
#[test]
fn preemption_moves_a_job_on_slurm() {
    if !have_slurm("preemption_moves_a_job_on_slurm") {
        return;
    }
    let _one = serial();
    let s = Server::new("preempt", "max-min-fairness-perf");
    let log = s.dir.join("signals.txt");
    let body = |name: &str| {
        serde_json::json!({
            "kind": "batch",
            "name": name,
            "command": format!(
                "trap 'echo \"usr1 $TESSERA_JOB_ID $TESSERA_ATTEMPT\" >> {l}; exit 0' USR1\nsleep 300 & wait",
                l = log.display()
            ),
            "resources": {"chips": 8, "chip-types": ["a800"]},
            "checkpoint-grace-s": 2,
        })
        .to_string()
    };
    let a = s.submit(&body("a"));
    let b = s.submit(&body("b"));
    wait_until("both jobs moved at least once", 90, || {
        [a, b].iter().all(|&id| {
            s.job(id)["attempts"]
                .as_array()
                .is_some_and(|v| v.iter().any(|x| x["state"] == "preempted"))
        })
    });
    for id in [a, b] {
        let (st, _) = s.call("DELETE", &format!("/api/v1/jobs/{id}"), Some(TOKEN), None);
        assert_eq!(st, 202);
    }
    for id in [a, b] {
        assert_eq!(s.wait_final(id)["state"], "cancelled");
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains(&format!("usr1 {a} ")) || text.contains(&format!("usr1 {b} ")),
        "no checkpoint signal seen: {text}"
    );
}

/// A node that fails under a running job (an operator marks it DOWN: Slurm ends the job
/// with NODE_FAIL) costs the job its attempt, not its run: tessera records the attempt
/// as lost with the node's reason and starts a new one, which finishes the job once.
#[test]
fn a_failed_node_requeues_its_job_on_slurm() {
    if !have_slurm("a_failed_node_requeues_its_job_on_slurm") {
        return;
    }
    let _one = serial();
    let s = Server::new("nodefail", "fifo");
    // (agnostic FIFO on purpose: it once left a pool-restricted job unplaced)
    let log = s.dir.join("runs.txt");
    let scontrol = |state: &str| {
        Command::new("scontrol")
            .args(["update", "nodename=n-kunlun", &format!("state={state}")])
            .args(if state == "down" {
                vec!["reason=tessera-test"]
            } else {
                vec![]
            })
            .output()
            .expect("scontrol")
    };
    // Puts the node back whatever happens below.
    struct Resume<F: Fn(&str) -> std::process::Output>(F);
    impl<F: Fn(&str) -> std::process::Output> Drop for Resume<F> {
        fn drop(&mut self) {
            let _ = (self.0)("resume");
        }
    }
    let _resume = Resume(scontrol);
    let id = s.submit(&batch(
        "on-a-failing-node",
        2,
        "kunlunxin-p800",
        &format!(
            "echo \"start $TESSERA_ATTEMPT\" >> {l}\nsleep 6\necho \"end $TESSERA_ATTEMPT\" >> {l}",
            l = log.display()
        ),
    ));
    wait_until("the first attempt runs", 60, || {
        s.job(id)["state"] == "running"
    });
    let out = (_resume.0)("down");
    assert!(
        out.status.success(),
        "scontrol: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until("a second attempt", 60, || {
        s.job(id)["attempts"]
            .as_array()
            .is_some_and(|a| a.len() >= 2)
    });
    let _ = (_resume.0)("resume");
    let v = s.wait_final(id);
    assert_eq!(v["state"], "succeeded", "{v}\n{}", s.log());
    let attempts = v["attempts"].as_array().unwrap();
    assert_eq!(attempts[0]["state"], "lost", "{v}");
    let (_, ev) = s.call("GET", "/api/v1/events?limit=1000", Some(TOKEN), None);
    assert!(
        ev.to_string().contains("ended with its node"),
        "no node-failure event: {ev}"
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let ends = text.lines().filter(|l| l.starts_with("end ")).count();
    assert_eq!(ends, 1, "the job finished {ends} times:\n{text}");
}

fn have_ray(test: &str) -> Option<String> {
    match std::env::var("TESSERA_RAY_URL") {
        Ok(u) => Some(u),
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: no Ray head (TESSERA_RAY_URL unset) under CI=true")
        }
        Err(_) => {
            eprintln!("{test}: skipped, no Ray head (tools/ray-local/start.sh)");
            None
        }
    }
}

/// The server on three Ray pools of one head (Ray's GPU and NPU resources, a custom
/// P800 one): capacity from Ray's resources, each vendor's job run with its device
/// variable (Kunlun's set by tessera), a cancel of a running job.
#[test]
fn jobs_run_on_ray_pools() {
    let Some(url) = have_ray("jobs_run_on_ray_pools") else {
        return;
    };
    let _one = serial();
    let s = Server::with_fleet(
        "ray",
        "fifo-perf",
        &format!(
            r#"[[engine]]
name = "ray"
kind = "ray"
url = "{url}"

[[pool]]
name = "ray-a800"
chip = "a800"
engine = "ray"
resource = "GPU"

[[pool]]
name = "ray-ascend"
chip = "910b2"
engine = "ray"
resource = "NPU"

[[pool]]
name = "ray-p800"
chip = "kunlunxin-p800"
engine = "ray"
resource = "P800"
"#
        ),
    );
    wait_until("Ray's resources make the pools", 30, || {
        let (_, p) = s.call("GET", "/api/v1/pools", None, None);
        p["pools"]
            .as_array()
            .is_some_and(|v| v.len() == 3 && v.iter().all(|x| x["chips"] == 8))
    });
    let out = |n: &str| s.dir.join(format!("{n}.txt"));
    let mut ids = Vec::new();
    for (name, chip, var) in [
        ("nvidia", "a800", "CUDA_VISIBLE_DEVICES"),
        ("ascend", "huawei-ascend-910b2", "ASCEND_RT_VISIBLE_DEVICES"),
        ("kunlun", "kunlunxin-p800", "XPU_VISIBLE_DEVICES"),
    ] {
        let cmd = format!("echo \"${var} $TESSERA_JOB_ID\" > {}", out(name).display());
        ids.push((name, s.submit(&batch(name, 2, chip, &cmd))));
    }
    for (name, id) in &ids {
        let v = s.wait_final(*id);
        assert_eq!(v["state"], "succeeded", "{name}: {v}\n{}", s.log());
        assert_eq!(
            v["attempts"][0]["pool"],
            format!(
                "ray-{}",
                match *name {
                    "nvidia" => "a800",
                    "ascend" => "ascend",
                    _ => "p800",
                }
            ),
            "{v}"
        );
        let text = std::fs::read_to_string(out(name)).unwrap();
        let mut w = text.split_whitespace();
        let devices = w.next().unwrap_or("");
        assert_eq!(devices.split(',').count(), 2, "{name}: `{text}`");
        assert_eq!(w.next(), Some(id.to_string().as_str()), "{name}: `{text}`");
    }
    let long = s.submit(&batch("long", 1, "kunlunxin-p800", "sleep 120"));
    wait_until("the long job runs", 60, || {
        s.job(long)["state"] == "running"
    });
    let (st, _) = s.call("DELETE", &format!("/api/v1/jobs/{long}"), Some(TOKEN), None);
    assert_eq!(st, 202);
    assert_eq!(s.wait_final(long)["state"], "cancelled");
    // The job mix of the Slurm tests: a training job with its planned launch on the
    // Ascend pool ...
    let f = out("train");
    let train = serde_json::json!({
        "kind": "train",
        "name": "llama3-8b on ray ascend",
        "model": "llama3-8b",
        "steps": 100,
        "global-batch": 256,
        "resources": {"chips": 8, "chip-types": ["910b2"]},
        "entrypoint": format!(
            "echo \"fw={{framework}} tp={{tp}} devices=$ASCEND_RT_VISIBLE_DEVICES\" > {f}\necho {{launch}} >> {f}",
            f = f.display()
        ),
    })
    .to_string();
    let id = s.submit(&train);
    let v = s.wait_final(id);
    assert_eq!(v["state"], "succeeded", "{v}\n{}", s.log());
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.contains("fw=mindspeed-llm"), "{text}");
    assert!(text.contains("devices=0,1,2,3,4,5,6,7"), "{text}");
    assert!(text.contains("--global-batch-size 256"), "{text}");
    // ... and a serving job whose replica runs with vLLM's arguments on one GPU, then
    // is cancelled with its job.
    let f = out("serve");
    let serve = serde_json::json!({
        "kind": "serve",
        "name": "chat",
        "model": "llama3-8b",
        "rate": 2,
        "input-len": 1000,
        "output-len": 200,
        "replicas": 1,
        "chip-types": ["a800"],
        "entrypoint": format!(
            "echo \"replica {{replica}} of {{replicas}} devices=$CUDA_VISIBLE_DEVICES\" > {f}\necho {{launch}} >> {f}\nsleep 300",
            f = f.display()
        ),
    })
    .to_string();
    let id = s.submit(&serve);
    wait_until("the replica's launch line", 60, || {
        std::fs::read_to_string(&f).is_ok_and(|t| t.contains("--tensor-parallel-size"))
    });
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.contains("replica 0 of 1 devices="), "{text}");
    let v = s.job(id);
    assert_eq!(v["replicas"][0]["pool"], "ray-a800", "{v}");
    let (st, _) = s.call("DELETE", &format!("/api/v1/jobs/{id}"), Some(TOKEN), None);
    assert_eq!(st, 202);
    wait_until("the serving job cancelled", 60, || {
        s.job(id)["state"] == "cancelled"
    });
}

/// `plan train|serve --emit ray DIR` on the CI Ray head: the driver's placement group,
/// one task per node (training: torchrun's node rank and master) or per replica
/// (serving: vLLM's port), the planned arguments and each vendor's device variable,
/// sent with the emitted `ray job submit` line, a stand-in launcher in place of torchrun
/// and vLLM.
#[test]
fn emitted_ray_jobs_run_on_ray() {
    let Some(url) = have_ray("emitted_ray_jobs_run_on_ray") else {
        return;
    };
    let _one = serial();
    let venv =
        std::env::var("TESSERA_RAY_VENV").expect("TESSERA_RAY_VENV (tools/ray-local/env.sh)");
    let dir = std::env::temp_dir().join(format!("tessera-emit-ray-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let standin = standin_launcher(
        &dir,
        "echo \"devices: ascend=${ASCEND_RT_VISIBLE_DEVICES:-} cuda=${CUDA_VISIBLE_DEVICES:-} xpu=${XPU_VISIBLE_DEVICES:-}\"",
    );
    let cases: [(&str, &[&str], &str, &str); 3] = [
        (
            "train",
            &["--chip", "910b2", "--chips", "8", "--global-batch", "256"],
            "ascend=0,1,2,3,4,5,6,7",
            "--nnodes 1 --node-rank 0 --nproc-per-node 8 --master-addr 127.0.0.1",
        ),
        (
            "train",
            &[
                "--chip",
                "kunlunxin-p800",
                "--chips",
                "8",
                "--global-batch",
                "256",
                "--ray-resource",
                "P800",
            ],
            "xpu=0,1,2,3,4,5,6,7",
            "--tensor-model-parallel-size",
        ),
        (
            "serve",
            &[
                "--chip",
                "a800",
                "--chips",
                "8",
                "--rate",
                "2",
                "--input-len",
                "1000",
                "--output-len",
                "200",
            ],
            "cuda=",
            "serve llama3-8b --host 0.0.0.0 --port 8000",
        ),
    ];
    for (i, (what, args, devices, line)) in cases.iter().enumerate() {
        let out_dir = dir.join(format!("case{i}"));
        let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args(["plan", what, "--model", "llama3-8b"])
            .args(*args)
            .arg("--emit")
            .arg("ray")
            .arg(&out_dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let submit = std::fs::read_dir(&out_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with("-ray-submit.sh"))
            .expect("a submit script");
        let path = format!("{venv}/bin:{}", std::env::var("PATH").unwrap_or_default());
        let o = Command::new("bash")
            .arg(&submit)
            .env("PATH", path)
            .env("RAY_ADDRESS", &url)
            .env("TESSERA_LAUNCHER", &standin)
            .env("TESSERA_RAY_PYTHON", format!("{venv}/bin/python"))
            .env("TESSERA_RAY_WAIT_S", "60")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success(), "case {i}: {text}");
        assert!(
            text.contains("tessera: exit codes [0]") || text.contains("tessera: exit codes [0, "),
            "case {i}: {text}"
        );
        assert!(text.contains(devices), "case {i}: no `{devices}` in {text}");
        assert!(text.contains(line), "case {i}: no `{line}` in {text}");
        let fw = if *what == "train" {
            "--global-batch-size 256"
        } else {
            "--tensor-parallel-size"
        };
        assert!(text.contains(fw), "case {i}: no `{fw}` in {text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Ray dashboard that is not there: the server still takes jobs (durably), keeps
/// them queued, and reports the engine degraded with the request that failed. Needs no
/// service.
#[test]
fn an_unreachable_ray_engine_loses_nothing() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let s = Server::with_fleet(
        "ray-down",
        "fifo-perf",
        &format!(
            "[[engine]]\nname = \"ray\"\nkind = \"ray\"\nurl = \"http://127.0.0.1:{port}\"\n\n[[pool]]\nname = \"ray-npu\"\nchip = \"910b2\"\nengine = \"ray\"\nresource = \"NPU\"\n"
        ),
    );
    let id = s.submit(&batch("waits", 1, "910b2", "true"));
    wait_until("the engine reported degraded", 30, || {
        let r = request(&s.addr, "GET", "/healthz", None, None).unwrap();
        r.body.contains("\"degraded\"") && r.body.contains("/api/v0/nodes")
    });
    assert_eq!(s.job(id)["state"], "queued");
}

/// The event stream: a client that connects, then sees the submission it makes, as a
/// server-sent event with the log's sequence number as its id. Needs no Slurm: with no
/// reachable engine the server still takes jobs, and says it is degraded.
#[test]
fn the_event_stream_carries_submissions() {
    use std::io::{BufRead, BufReader, Write};
    let _one = serial();
    let s = Server::new("sse", "fifo-perf");
    let mut c = std::net::TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        c,
        "GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    )
    .unwrap();
    let mut r = BufReader::new(c);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{line}");
    // Connected before the job exists: the stream starts from now.
    std::thread::sleep(Duration::from_millis(300));
    let id = s.submit(&batch("streamed", 1, "a800", "true"));
    let until = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        assert!(
            Instant::now() < until,
            "no submitted event for job {id}: {seen:?}"
        );
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            continue;
        }
        let l = line.trim_end().to_string();
        if l.starts_with("data:") && l.contains("\"submitted\"") {
            let v: serde_json::Value =
                serde_json::from_str(l.trim_start_matches("data:").trim()).unwrap();
            if v["job"] == id {
                assert!(v["seq"].as_u64().unwrap() > 0);
                break;
            }
        }
        seen.push(l);
    }
    let h = request(&s.addr, "GET", "/healthz", None, None).unwrap();
    assert_eq!(h.status, 200);
    // Every route of the OpenAPI document is served (the stream is checked above).
    for (m, p) in tessera_server::api::ROUTES {
        if p.ends_with("/stream") {
            continue;
        }
        let path = p.replace("{id}", &id.to_string());
        let body = (*m == "post").then_some("{}");
        let r = request(&s.addr, &m.to_ascii_uppercase(), &path, Some(TOKEN), body).unwrap();
        assert!(
            !r.body.contains("no such endpoint"),
            "{m} {path}: {}",
            r.body
        );
    }
    let doc = request(&s.addr, "GET", "/api/v1/openapi.json", None, None).unwrap();
    let v: serde_json::Value = serde_json::from_str(&doc.body).unwrap();
    assert_eq!(v["openapi"], "3.0.3");
    // SIGTERM: a graceful stop, exit 0, and the log says so.
    let mut s = s;
    let st = s.terminate();
    assert!(st.success(), "{st:?}: {}", s.log());
    assert!(s.log().contains("tessera server stopped"), "{}", s.log());
}

/// A training job on Slurm: planned for the pool's chip, its entrypoint runs with the
/// framework's launch line filled in.
#[test]
fn a_training_job_runs_its_planned_launch_on_slurm() {
    if !have_slurm("a_training_job_runs_its_planned_launch_on_slurm") {
        return;
    }
    let _one = serial();
    let s = Server::new("train", "fifo-perf");
    let body = serde_json::json!({
        "kind": "train",
        "name": "llama3-8b on ascend",
        "model": "llama3-8b",
        "steps": 100,
        "global-batch": 256,
        "resources": {"chips": 8, "chip-types": ["910b2"]},
        "entrypoint": "echo \"fw={framework} tp={tp} dp={dp} devices=$ASCEND_RT_VISIBLE_DEVICES\"\necho {launch}",
    })
    .to_string();
    let id = s.submit(&body);
    let v = s.wait_final(id);
    assert_eq!(v["state"], "succeeded", "{v}\n{}", s.log());
    let out = output_of(&s, &v);
    assert!(out.contains("fw=mindspeed-llm"), "{out}");
    assert!(out.contains("devices=0,1,2,3,4,5,6,7"), "{out}");
    assert!(out.contains("--tensor-model-parallel-size"), "{out}");
    assert!(out.contains("--global-batch-size 256"), "{out}");
    // The job's page reads its predicted speed and its launch from its events.
    let (code, ev) = s.call(
        "GET",
        &format!("/api/v1/jobs/{id}/events"),
        Some(TOKEN),
        None,
    );
    assert_eq!(code, 200, "{ev}");
    let ev = ev["events"].as_array().unwrap();
    let of = |k: &str| {
        ev.iter()
            .find(|e| e["kind"] == k)
            .and_then(|e| e["detail"].as_str())
            .unwrap_or_else(|| panic!("no {k} event: {ev:?}"))
            .to_string()
    };
    let predicted = of("predicted");
    assert!(
        predicted.contains("ascend (huawei-ascend-910b2): "),
        "{predicted}"
    );
    assert!(predicted.contains("tokens/s, tp"), "{predicted}");
    let launch = of("launch");
    assert!(
        launch.starts_with("attempt 1 on ascend: FRAMEWORK=mindspeed-llm"),
        "{launch}"
    );
    assert!(
        launch.contains("LAUNCH_ARGS=") && launch.contains("TP="),
        "{launch}"
    );
    assert!(
        ev.windows(2)
            .all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64())
    );
    let (code, _) = s.call("GET", "/api/v1/jobs/999999/events", Some(TOKEN), None);
    assert_eq!(code, 404);
    // A model the catalog does not have is refused, naming the field.
    let bad = body.replace("llama3-8b\"", "llama9-1t\"");
    let r = request(&s.addr, "POST", "/api/v1/jobs", Some(TOKEN), Some(&bad)).unwrap();
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("\"field\":\"model\""), "{}", r.body);
}

/// A training job larger than any one pool runs on Slurm as one heterogeneous job across
/// the Ascend and A800 partitions (the configuration links them): FlagScale's launch,
/// one attempt on both pools, its script reaching both components.
#[test]
fn a_training_job_runs_across_two_pools_on_slurm() {
    if !have_slurm("a_training_job_runs_across_two_pools_on_slurm") {
        return;
    }
    let _one = serial();
    let s = Server::new("gang", "max-min-fairness-perf");
    let body = serde_json::json!({
        "kind": "train",
        "name": "llama3-8b across two vendors",
        "model": "llama3-8b",
        "steps": 100,
        "global-batch": 64,
        "resources": {"chips": 16, "chip-types": ["910b2", "a800"]},
        "entrypoint": "echo \"fw={framework} pool=$TESSERA_POOL parts=$TESSERA_PARTS\"\nsrun --het-group=0,1 bash -c 'echo \"part $SLURM_PROCID on $SLURMD_NODENAME\"'",
    })
    .to_string();
    let id = s.submit(&body);
    let v = s.wait_final(id);
    assert_eq!(v["state"], "succeeded", "{v}\n{}", s.log());
    let a = v["attempts"].as_array().unwrap();
    assert_eq!(a.len(), 1, "{v}");
    assert_eq!(a[0]["pool"], "ascend+a800", "{v}");
    let out = output_of(&s, &v);
    assert!(out.contains("fw=flagscale pool=ascend+a800"), "{out}");
    assert!(out.contains("parts=ascend:huawei-ascend-910b2:8:"), "{out}");
    assert!(out.contains("part 0 on n-ascend"), "{out}");
    assert!(out.contains("part 1 on n-a800"), "{out}");
}

/// A serving job on Slurm: sized by the serving planner, its replicas run as Slurm jobs
/// on the right partition with the planned launch filled in and the device variable
/// set; `tessera scale` adds a replica; cancelling the job ends every replica.
#[test]
fn a_serving_job_runs_scales_and_cancels_on_slurm() {
    if !have_slurm("a_serving_job_runs_scales_and_cancels_on_slurm") {
        return;
    }
    let _one = serial();
    let s = Server::new("serve", "fifo-perf");
    let body = serde_json::json!({
        "kind": "serve",
        "name": "chat",
        "model": "llama3-8b",
        "rate": 2,
        "input-len": 1000,
        "output-len": 200,
        "replicas": 1,
        "chip-types": ["a800"],
        "entrypoint": "echo \"replica {replica} of {replicas} tp={tp} devices=$CUDA_VISIBLE_DEVICES\"\necho {launch}\nsleep 300",
    })
    .to_string();
    let id = s.submit(&body);
    wait_until("serving job running", 60, || {
        s.job(id)["state"] == "running"
    });
    let v = s.job(id);
    let r = &v["replicas"].as_array().unwrap()[0];
    assert_eq!(r["pool"], "a800", "{v}");
    let r0 = s.job(r["id"].as_u64().unwrap());
    assert_eq!(r0["kind"], "replica");
    assert_eq!(r0["parent"], id);
    wait_until("replica output", 30, || {
        output_of(&s, &r0).contains("--tensor-parallel-size")
    });
    let out = output_of(&s, &r0);
    assert!(out.contains("replica 0 of 1 tp="), "{out}");
    // One accelerator of the node, as Slurm's GRES gives it.
    let dev = out
        .split("devices=")
        .nth(1)
        .and_then(|x| x.lines().next())
        .unwrap_or("");
    assert!(!dev.is_empty() && dev.parse::<u32>().is_ok(), "{out}");
    // Scale to 2 with the CLI.
    let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args([
            "scale",
            &id.to_string(),
            "2",
            "--server",
            &format!("http://{}", s.addr),
        ])
        .env("TESSERA_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    wait_until("two replicas running", 60, || {
        let v = s.job(id);
        v["replicas"]
            .as_array()
            .is_some_and(|a| a.iter().filter(|r| r["state"] == "running").count() == 2)
    });
    let r = request(
        &s.addr,
        "DELETE",
        &format!("/api/v1/jobs/{id}"),
        Some(TOKEN),
        None,
    )
    .unwrap();
    assert_eq!(r.status, 202, "{}", r.body);
    wait_until("serving job cancelled", 60, || {
        s.job(id)["state"] == "cancelled"
    });
    let v = s.job(id);
    for r in v["replicas"].as_array().unwrap() {
        assert_eq!(r["state"], "cancelled", "{v}");
    }
    let r = request(
        &s.addr,
        "PATCH",
        &format!("/api/v1/jobs/{id}"),
        Some(TOKEN),
        Some("{\"replicas\": 3}"),
    )
    .unwrap();
    assert_eq!(r.status, 409, "an ended job does not scale: {}", r.body);
}

/// The same server dispatching through slurmrestd (`rest-url`): a job of each vendor's
/// pool runs on its partition with its device variable, and a cancel reaches Slurm.
#[test]
fn jobs_run_through_slurmrestd() {
    if !have_slurm("jobs_run_through_slurmrestd") {
        return;
    }
    let (Ok(url), Ok(user)) = (
        std::env::var("SLURMRESTD_URL"),
        std::env::var("SLURM_LOCAL_USER"),
    ) else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("jobs_run_through_slurmrestd: no slurmrestd (SLURMRESTD_URL) under CI=true");
        }
        eprintln!("jobs_run_through_slurmrestd: skipped, no slurmrestd");
        return;
    };
    let _one = serial();
    let s = Server::with_engine(
        "rest",
        "fifo-perf",
        &format!(
            "rest-url = \"{url}\"\nrest-user = \"{user}\"\nrest-token-env = \"SLURM_LOCAL_JWT\"\n"
        ),
    );
    let mut ids = Vec::new();
    for (chip, var) in [
        ("910b2", "ASCEND_RT_VISIBLE_DEVICES"),
        ("a800", "CUDA_VISIBLE_DEVICES"),
        ("kunlunxin-p800", "XPU_VISIBLE_DEVICES"),
    ] {
        ids.push((
            s.submit(&batch(chip, 2, chip, &format!("echo \"devices=${var}\""))),
            chip,
        ));
    }
    for (id, chip) in ids {
        let v = s.wait_final(id);
        assert_eq!(v["state"], "succeeded", "{chip}: {v}\n{}", s.log());
        let out = output_of(&s, &v);
        let devs = out
            .lines()
            .find_map(|l| l.strip_prefix("devices="))
            .unwrap_or_else(|| panic!("{chip}: {out}"));
        assert_eq!(devs.split(',').count(), 2, "{chip}: {out}");
    }
    let id = s.submit(&batch("long", 1, "a800", "sleep 120"));
    wait_until("job running", 60, || s.job(id)["state"] == "running");
    let r = request(
        &s.addr,
        "DELETE",
        &format!("/api/v1/jobs/{id}"),
        Some(TOKEN),
        None,
    )
    .unwrap();
    assert_eq!(r.status, 202, "{}", r.body);
    let v = s.wait_final(id);
    assert_eq!(v["state"], "cancelled", "{v}");
    let r = request(&s.addr, "GET", "/healthz", None, None).unwrap();
    assert!(r.body.contains("\"ok\""), "{}", r.body);
}

/// `tessera plan train --emit slurm DIR` writes an sbatch script that runs on Slurm as
/// it is: the GRES and partition asked for, srun starting the launcher once per node with
/// the planned arguments, and the chip's device variable set (a stand-in launcher records
/// what it got).
#[test]
fn an_emitted_sbatch_script_runs_on_slurm() {
    if !have_slurm("an_emitted_sbatch_script_runs_on_slurm") {
        return;
    }
    let _one = serial();
    let dir = std::env::temp_dir().join(format!("tessera-emit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let standin = standin_launcher(
        &dir,
        "echo \"cuda=${CUDA_VISIBLE_DEVICES:-} ascend=${ASCEND_RT_VISIBLE_DEVICES:-} master=$MASTER_ADDR:$MASTER_PORT\"",
    );
    for (chip, part, gres, var, fw_flag) in [
        (
            "a800",
            "nvidia",
            "a800",
            "cuda",
            "--tensor-model-parallel-size",
        ),
        (
            "910b2",
            "huawei",
            "ascend910b",
            "ascend",
            "--tensor-model-parallel-size",
        ),
    ] {
        let out_dir = dir.join(chip);
        let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .args([
                "plan",
                "train",
                "--model",
                "llama3-8b",
                "--chip",
                chip,
                "--chips",
                "8",
                "--global-batch",
                "256",
                "--emit",
                "slurm",
            ])
            .arg(&out_dir)
            .args(["--partition", part, "--gres-type", gres])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let script = std::fs::read_dir(&out_dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .find(|e| e.path().extension().is_some_and(|x| x == "sbatch"))
            .unwrap()
            .path();
        let text = std::fs::read_to_string(&script).unwrap();
        assert!(
            text.contains(&format!("#SBATCH --gres=gpu:{gres}:8")),
            "{text}"
        );
        let st = Command::new("sbatch")
            .arg("--wait")
            .arg(format!("--chdir={}", out_dir.display()))
            .arg(&script)
            .env("TESSERA_LAUNCHER", &standin)
            .env("TESSERA_ENTRYPOINT", "train.py")
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{chip}: sbatch: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        let out = std::fs::read_dir(&out_dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .find(|e| e.path().extension().is_some_and(|x| x == "out"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .unwrap();
        assert!(out.contains("--nproc-per-node 8"), "{chip}: {out}");
        assert!(out.contains("train.py"), "{chip}: {out}");
        assert!(out.contains(fw_flag), "{chip}: {out}");
        let devs = out
            .split(&format!("{var}="))
            .nth(1)
            .and_then(|x| x.split_whitespace().next())
            .unwrap_or("");
        assert_eq!(devs.split(',').count(), 8, "{chip}: {out}");
    }
    // A serving plan: a job array, one replica per task, each on its own port.
    let out_dir = dir.join("serve");
    let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args([
            "plan",
            "serve",
            "--model",
            "llama3-8b",
            "--chip",
            "a800",
            "--chips",
            "8",
            "--rate",
            "10",
            "--input-len",
            "1000",
            "--output-len",
            "200",
            "--emit",
            "slurm",
        ])
        .arg(&out_dir)
        .args(["--partition", "nvidia", "--gres-type", "a800"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let script = std::fs::read_dir(&out_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.path().extension().is_some_and(|x| x == "sbatch"))
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&script).unwrap();
    let last: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("#SBATCH --array=0-"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no array line: {text}"));
    let st = Command::new("sbatch")
        .arg("--wait")
        .arg(format!("--chdir={}", out_dir.display()))
        .arg(&script)
        .env("TESSERA_LAUNCHER", &standin)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "serve: sbatch: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let outs: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "out"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    assert_eq!(outs.len(), last + 1, "one output per replica: {outs:?}");
    for k in 0..=last {
        let port = format!("--port {}", 8000 + k);
        assert!(
            outs.iter()
                .any(|o| o.contains("launcher: serve llama3-8b") && o.contains(&port)),
            "replica {k}: {outs:?}"
        );
    }
    assert!(
        outs.iter().all(|o| o.contains("--tensor-parallel-size")),
        "{outs:?}"
    );
}

/// The endpoints the dashboard reads: chips with their export status on a date, the
/// catalog's models, each pool's utilization over time, a plan from a pasted Hugging
/// Face config, and what-if replays; bad input names its field.
#[test]
fn the_dashboard_endpoints_answer_and_name_bad_input() {
    if !have_slurm("the_dashboard_endpoints_answer_and_name_bad_input") {
        return;
    }
    let _one = serial();
    let s = Server::new("dash-api", "fifo-perf");
    let (code, v) = s.call(
        "GET",
        "/api/v1/chips?date=2023-11-20&country=CN",
        None,
        None,
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["date"], "2023-11-20");
    let chips = v["chips"].as_array().unwrap();
    let a800 = chips
        .iter()
        .find(|c| c["id"] == "nvidia-a800-sxm4-80gb")
        .unwrap();
    assert_eq!(a800["in_fleet"], true);
    assert!(
        a800["status"].as_str().unwrap().contains("licence"),
        "{a800}"
    );
    assert!(chips.iter().any(|c| c["in_fleet"] == false));
    for (q, field) in [("date=2023-13-01", "date"), ("country=FR", "country")] {
        let (code, v) = s.call("GET", &format!("/api/v1/chips?{q}"), None, None);
        assert_eq!((code, v["field"].as_str()), (400, Some(field)), "{v}");
    }
    let (code, v) = s.call("GET", "/api/v1/models", None, None);
    assert_eq!(code, 200);
    assert!(
        v["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "llama3-8b")
    );
    // Samples of the three pools appear within a few ticks (a liveness bound).
    wait_until("a utilization sample", 30, || {
        let (_, v) = s.call("GET", "/api/v1/pools/history", None, None);
        v["pools"].as_array().is_some_and(|p| p.len() == 3)
            && v["samples"].as_array().is_some_and(|x| !x.is_empty())
    });
    let (_, h) = s.call("GET", "/api/v1/pools/history", None, None);
    assert_eq!(
        h["samples"][0]["chips"],
        serde_json::json!([8, 8, 8]),
        "{h}"
    );
    // A plan from a pasted config.json is the plan of the catalog's model.
    let hf = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/hf/llama3-8b/config.json"),
    )
    .unwrap();
    let body =
        serde_json::json!({"hf-config": hf, "seq-len": 4096, "global-batch": 512}).to_string();
    let (code, from_hf) = s.call("POST", "/api/v1/plan/train", None, Some(&body));
    assert_eq!(code, 200, "{from_hf}");
    let body =
        serde_json::json!({"model": "llama3-8b", "seq-len": 4096, "global-batch": 512}).to_string();
    let (_, from_cat) = s.call("POST", "/api/v1/plan/train", None, Some(&body));
    assert_eq!(
        from_hf["plans"][0]["layout"],
        from_cat["plans"][0]["layout"]
    );
    let (code, v) = s.call(
        "POST",
        "/api/v1/plan/train",
        None,
        Some(r#"{"hf-config": "{\"hidden_size\": 1}"}"#),
    );
    assert_eq!((code, v["field"].as_str()), (422, Some("hf-config")), "{v}");
    let (code, v) = s.call(
        "POST",
        "/api/v1/plan/train",
        None,
        Some(r#"{"seq-len": 4096}"#),
    );
    assert_eq!((code, v["field"].as_str()), (422, Some("model")), "{v}");
    // Only the chosen pools.
    let body = serde_json::json!({"model": "llama3-8b", "pools": ["a800"]}).to_string();
    let (code, v) = s.call("POST", "/api/v1/plan/train", None, Some(&body));
    assert_eq!(code, 200, "{v}");
    let plans = v["plans"].as_array().unwrap();
    assert!(
        !plans.is_empty() && plans.iter().all(|p| p["pool"] == "a800"),
        "{v}"
    );
    assert!(v["mixed"].as_array().unwrap().is_empty(), "{v}");
    let body = serde_json::json!({"model": "llama3-8b", "rate": 1, "input-len": 512, "output-len": 128, "pools": ["p800"]}).to_string();
    let (code, v) = s.call("POST", "/api/v1/plan/serve", None, Some(&body));
    assert_eq!(code, 200, "{v}");
    assert!(
        v["plans"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["pool"] == "p800"),
        "{v}"
    );
    let body = serde_json::json!({"model": "llama3-8b", "pools": ["h100"]}).to_string();
    let (code, v) = s.call("POST", "/api/v1/plan/train", None, Some(&body));
    assert_eq!((code, v["field"].as_str()), (422, Some("pools")), "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("ascend, a800, p800"),
        "{v}"
    );
    // What-if on the live fleet (8 chips of each type): two policies, each job finished.
    let jobs =
        "[[job]]\nmodel = \"llama2-7b\"\nchips = 8\ntokens = 1e9\nrepeat = 3\nevery-s = 600\n";
    let body =
        serde_json::json!({"jobs-toml": jobs, "policies": ["fifo-perf", "max-min-fairness-perf"]})
            .to_string();
    let (code, v) = s.call("POST", "/api/v1/simulate", None, Some(&body));
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["cluster"].as_array().unwrap().len(), 3, "{v}");
    for r in v["runs"].as_array().unwrap() {
        let j = r["result"]["jobs"].as_array().unwrap();
        assert_eq!(j.len(), 3);
        assert!(
            j.iter()
                .all(|x| x["jct_s"].as_f64().is_some_and(|t| t > 0.0)),
            "{r}"
        );
        assert!(!r["timeline"].as_array().unwrap().is_empty());
    }
    // A Gavel trace, with Gavel's built-in table, on Gavel's types.
    let trace = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tessera-catalog/tests/data/gavel/traces/small_test.trace"),
    )
    .unwrap();
    let body = serde_json::json!({"trace": trace, "cluster": "8:16:24", "policies": ["max-min-fairness-packed", "fifo"]}).to_string();
    let (code, v) = s.call("POST", "/api/v1/simulate", None, Some(&body));
    assert_eq!(code, 200, "{v}");
    assert_eq!(
        v["runs"][0]["result"]["policy"], "max-min-fairness-packed",
        "{v}"
    );
    assert_eq!(
        v["runs"][1]["result"]["jobs"].as_array().unwrap().len(),
        trace.lines().count()
    );
    for (body, field) in [
        (
            serde_json::json!({"trace": trace, "policies": ["fifo"]}),
            "cluster",
        ),
        (serde_json::json!({"policies": ["fifo"]}), "jobs-toml"),
        (
            serde_json::json!({"jobs-toml": jobs, "policies": ["nope"]}),
            "policies",
        ),
        (
            serde_json::json!({"jobs-toml": "[[job]]\nmodel = 1\n", "policies": ["fifo"]}),
            "jobs-toml",
        ),
        (
            serde_json::json!({"jobs-toml": jobs, "policies": ["fifo"], "round-s": 0}),
            "round-s",
        ),
        (
            serde_json::json!({"jobs-toml": jobs, "policies": ["fifo"], "colour": 1}),
            "colour",
        ),
    ] {
        let (code, v) = s.call("POST", "/api/v1/simulate", None, Some(&body.to_string()));
        assert_eq!((code, v["field"].as_str()), (422, Some(field)), "{v}");
    }
    // The page and its assets, with the content policy.
    let r = request(&s.addr, "GET", "/", None, None).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body.contains("/ui/app.js"));
    for a in ["/ui/app.js", "/ui/app.css"] {
        assert_eq!(
            request(&s.addr, "GET", a, None, None).unwrap().status,
            200,
            "{a}"
        );
    }
}
