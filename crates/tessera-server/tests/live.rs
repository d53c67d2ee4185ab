//! The live scheduler on a fake engine and a clock the test moves: dispatch by tag,
//! reconciliation after crashes and engine losses, cancels, preemption, engine outages
//! and drained nodes. The real-Slurm versions are in tests/server_slurm.rs.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use tessera_engine::fake::FakeEngine;
use tessera_engine::{Dispatch, Engine, EngineState, Node, NodeState, Tag, Target};
use tessera_sched::sim::Policy;
use tessera_server::config::PoolConfig;
use tessera_server::job::{JobSpec, JobState, parse_json};
use tessera_server::live::{Live, Snapshot};
use tessera_server::store::{Attempt, SqliteStore, Store};

fn node(name: &str, part: &str, gres: &str, chips: u32) -> Node {
    Node {
        name: name.into(),
        partition: part.into(),
        gres_name: "gpu".into(),
        gres_type: gres.into(),
        chips,
        chips_used: 0,
        state: NodeState::Up,
    }
}

struct World {
    store: Arc<Mutex<Box<dyn Store>>>,
    engine: Arc<FakeEngine>,
    live: Live,
    snap: Arc<Mutex<Snapshot>>,
}

fn pool(name: &str, chip: &str, part: &str, gres: &str) -> PoolConfig {
    PoolConfig {
        name: name.into(),
        chip: chip.into(),
        engine: "fake".into(),
        partition: part.into(),
        gres: format!("gpu:{gres}"),
        resource: None,
    }
}

fn world(nodes: Vec<Node>, policy: &str, store: Option<Arc<Mutex<Box<dyn Store>>>>) -> World {
    let store = store.unwrap_or_else(|| {
        let s: Box<dyn Store> = Box::new(SqliteStore::memory().unwrap());
        Arc::new(Mutex::new(s))
    });
    let engine = Arc::new(FakeEngine::new("fake", nodes, None));
    world_with(store, engine, policy)
}

fn world_with(store: Arc<Mutex<Box<dyn Store>>>, engine: Arc<FakeEngine>, policy: &str) -> World {
    let snap = Arc::new(Mutex::new(Snapshot::default()));
    let live = Live::new(
        store.clone(),
        vec![engine.clone() as Arc<dyn Engine>],
        vec![
            pool("ascend", "huawei-ascend-910b2", "huawei", "ascend910b"),
            pool("a800", "nvidia-a800-sxm4-80gb", "nvidia", "a800"),
        ],
        vec!["huawei-ascend-910b2".into(), "nvidia-a800-sxm4-80gb".into()],
        Policy::parse(policy).unwrap(),
        60.0,
        snap.clone(),
        Arc::new(tessera_catalog::Catalog::builtin().unwrap()),
    )
    .unwrap();
    World {
        store,
        engine,
        live,
        snap,
    }
}

fn submit(w: &World, chips: u32, types: &[&str], now: f64) -> u64 {
    let types: Vec<String> = types.iter().map(|t| format!("\"{t}\"")).collect();
    let spec = parse_json(&format!(
        r#"{{"kind": "batch", "name": "t", "command": "true", "resources": {{"chips": {chips}, "chip-types": [{}]}}}}"#,
        types.join(",")
    ))
    .unwrap();
    w.store
        .lock()
        .unwrap()
        .insert_job("team-a", &spec, now)
        .unwrap()
}

fn state(w: &World, id: u64) -> JobState {
    w.store.lock().unwrap().job(id).unwrap().unwrap().state
}

fn attempts(w: &World, id: u64) -> Vec<Attempt> {
    w.store.lock().unwrap().job(id).unwrap().unwrap().attempts
}

fn two_pools() -> Vec<Node> {
    vec![
        node("n-ascend", "huawei", "ascend910b", 8),
        node("n-a800", "nvidia", "a800", 8),
    ]
}

#[test]
fn jobs_run_on_their_chip_type_and_finish() {
    let mut w = world(two_pools(), "max-min-fairness-perf", None);
    let a = submit(&w, 2, &["huawei-ascend-910b2"], 0.0);
    let b = submit(&w, 4, &["nvidia-a800-sxm4-80gb"], 0.0);
    w.live.tick(1.0).unwrap();
    let d = w.engine.dispatches();
    assert_eq!(d.len(), 2);
    let of = |id: u64| d.iter().find(|(x, _)| x.tag.job == id).unwrap().0.clone();
    assert_eq!(of(a).target.partition, "huawei");
    assert_eq!(of(a).target.gres_type, "ascend910b");
    assert_eq!(of(a).chips_per_node, 2);
    assert_eq!(of(b).target.partition, "nvidia");
    let inst = w.store.lock().unwrap().instance().unwrap();
    assert_eq!(
        of(a).tag,
        Tag {
            instance: inst,
            job: a,
            attempt: 1
        }
    );
    assert!(
        of(a)
            .env
            .contains(&("TESSERA_JOB_ID".into(), a.to_string()))
    );
    w.live.tick(2.0).unwrap();
    assert_eq!(state(&w, a), JobState::Running);
    let ea = attempts(&w, a)[0].engine_id.clone().unwrap();
    w.engine.finish(&ea, 0);
    let eb = attempts(&w, b)[0].engine_id.clone().unwrap();
    w.engine.finish(&eb, 7);
    w.live.tick(3.0).unwrap();
    assert_eq!(state(&w, a), JobState::Succeeded);
    assert_eq!(state(&w, b), JobState::Failed);
    assert_eq!(attempts(&w, b)[0].exit_code, Some(7));
    // Later rounds dispatch nothing more.
    w.live.tick(200.0).unwrap();
    assert_eq!(w.engine.submits(), 2);
}

/// A crash after the attempt was recorded but before the engine heard of it: the
/// restarted scheduler finds no engine job with the tag, queues the job again and runs
/// a second attempt. A crash after the submit but before the engine id was stored: the
/// tag finds the engine job, which is adopted as that attempt, not run again.
#[test]
fn crashes_around_the_dispatch_lose_nothing_and_duplicate_nothing() {
    let w = world(two_pools(), "fifo-perf", None);
    let a = submit(&w, 1, &["huawei-ascend-910b2"], 0.0);
    let b = submit(&w, 1, &["huawei-ascend-910b2"], 0.0);
    // a: recorded, never submitted.
    let rec = |attempt| Attempt {
        attempt,
        pool: "ascend".into(),
        engine: "fake".into(),
        engine_id: None,
        state: "dispatching".into(),
        chips: 1,
        nodes: String::new(),
        dispatched_at: 0.5,
        started_at: None,
        ended_at: None,
        exit_code: None,
        stop_at: None,
    };
    w.store.lock().unwrap().begin_attempt(a, &rec(1)).unwrap();
    // b: recorded and submitted, its engine id never stored.
    w.store.lock().unwrap().begin_attempt(b, &rec(1)).unwrap();
    w.engine
        .submit(&Dispatch {
            tag: Tag {
                instance: w.store.lock().unwrap().instance().unwrap(),
                job: b,
                attempt: 1,
            },
            target: Target {
                partition: "huawei".into(),
                gres_type: "ascend910b".into(),
                gres_name: "gpu".into(),
                visible_devices_env: None,
            },
            nodes: 1,
            chips_per_node: 1,
            script: "true".into(),
            env: vec![],
            grace_s: 0,
            lost_attempts: vec![],
            also: Vec::new(),
        })
        .unwrap();
    // A fresh scheduler over the same store and engine: the restart.
    let store = w.store.clone();
    let mut w = world_with(store, w.engine.clone(), "fifo-perf");
    w.live.tick(1.0).unwrap();
    // Missing but within the grace an engine may need to list a job: not lost yet.
    assert_eq!(attempts(&w, a)[0].state, "dispatching");
    w.live
        .tick(1.0 + tessera_server::live::LOST_GRACE_S)
        .unwrap();
    let at_a = attempts(&w, a);
    assert_eq!(at_a[0].state, "lost");
    let at_b = attempts(&w, b);
    assert_eq!(at_b.len(), 1, "b is not run twice: {at_b:?}");
    assert_eq!(at_b[0].state, "running");
    assert!(at_b[0].engine_id.is_some());
    // The next round gives a its second attempt.
    w.live.tick(70.0).unwrap();
    let at_a = attempts(&w, a);
    assert_eq!(at_a.len(), 2);
    assert_eq!(at_a[1].attempt, 2);
    let per_job = |id: u64| {
        w.engine
            .dispatches()
            .iter()
            .filter(|(d, _)| d.tag.job == id)
            .count()
    };
    assert_eq!((per_job(a), per_job(b)), (1, 1));
}

/// The engine forgets its jobs (slurmctld killed before it saved them) and reuses their
/// ids: the jobs are queued again with new attempts, and the new engine jobs that got
/// the old ids are not mistaken for the old attempts.
#[test]
fn an_engine_that_forgets_and_reuses_ids_is_reconciled_by_tag() {
    let mut w = world(two_pools(), "fifo-perf", None);
    let a = submit(&w, 1, &["huawei-ascend-910b2"], 0.0);
    w.live.tick(1.0).unwrap();
    w.live.tick(2.0).unwrap();
    let first = attempts(&w, a)[0].engine_id.clone().unwrap();
    w.engine.forget_all();
    // Someone else's job takes the old id.
    w.engine
        .submit(&Dispatch {
            tag: Tag {
                instance: w.store.lock().unwrap().instance().unwrap(),
                job: 999,
                attempt: 1,
            },
            target: Target {
                partition: "nvidia".into(),
                gres_type: "a800".into(),
                gres_name: "gpu".into(),
                visible_devices_env: None,
            },
            nodes: 1,
            chips_per_node: 1,
            script: "true".into(),
            env: vec![],
            grace_s: 0,
            lost_attempts: vec![],
            also: Vec::new(),
        })
        .unwrap();
    assert_eq!(w.engine.dispatches()[0].0.tag.job, 999);
    w.live.tick(3.0).unwrap();
    w.live
        .tick(3.0 + tessera_server::live::LOST_GRACE_S)
        .unwrap();
    let at = attempts(&w, a);
    assert_eq!(at[0].state, "lost", "{at:?}");
    assert_eq!(at[0].engine_id.as_deref(), Some(first.as_str()));
    let ev = w.store.lock().unwrap().events_since(0, 1000).unwrap();
    assert!(
        ev.iter()
            .any(|e| e.kind == "unknown-engine-job" && e.job == Some(999)),
        "the stranger is reported: {ev:?}"
    );
    w.live.tick(70.0).unwrap();
    w.live.tick(71.0).unwrap();
    let at = attempts(&w, a);
    assert_eq!(at.len(), 2);
    assert_eq!(at[1].state, "running");
    assert_eq!(state(&w, a), JobState::Running);
}

#[test]
fn cancels_reach_the_engine() {
    let mut w = world(two_pools(), "fifo-perf", None);
    let a = submit(&w, 1, &[], 0.0);
    let b = submit(&w, 1, &[], 0.0);
    w.store.lock().unwrap().request_cancel(b, 0.5).unwrap();
    w.live.tick(1.0).unwrap();
    assert_eq!(
        state(&w, b),
        JobState::Cancelled,
        "cancelled before any dispatch"
    );
    w.live.tick(2.0).unwrap();
    w.store.lock().unwrap().request_cancel(a, 2.5).unwrap();
    w.live.tick(3.0).unwrap();
    w.live.tick(4.0).unwrap();
    assert_eq!(state(&w, a), JobState::Cancelled);
    assert_eq!(w.engine.dispatches()[0].1, EngineState::Cancelled);
    assert_eq!(w.engine.submits(), 1);
}

/// Two 8-chip jobs and one 8-chip pool under max-min fairness: they take turns, each
/// move a checkpoint signal, the grace period and a cancel, then a new attempt.
#[test]
fn preemption_moves_jobs_between_rounds() {
    let mut w = world(
        vec![node("n-ascend", "huawei", "ascend910b", 8)],
        "max-min-fairness-perf",
        None,
    );
    let a = submit(&w, 8, &["huawei-ascend-910b2"], 0.0);
    let b = submit(&w, 8, &["huawei-ascend-910b2"], 0.0);
    let mut t = 1.0;
    for _ in 0..12 {
        w.live.tick(t).unwrap();
        t += 31.0;
    }
    let (aa, ab) = (attempts(&w, a), attempts(&w, b));
    assert!(
        aa.len() >= 2 && ab.len() >= 2,
        "both ran more than once: {aa:?} {ab:?}"
    );
    assert!(aa.iter().chain(&ab).any(|x| x.state == "preempted"));
    let ev = w.store.lock().unwrap().events_since(0, 10_000).unwrap();
    assert!(ev.iter().any(|e| e.kind == "preempting"));
    // Never both on the pool's 8 chips at once, as the engine saw it.
    let running = w
        .engine
        .dispatches()
        .iter()
        .filter(|(_, s)| *s == EngineState::Running)
        .count();
    assert!(running <= 1);
}

#[test]
fn an_engine_outage_is_reported_and_survived() {
    let mut w = world(two_pools(), "fifo-perf", None);
    w.engine.set_down(true);
    let a = submit(&w, 1, &[], 0.0);
    w.live.tick(1.0).unwrap();
    {
        let s = w.snap.lock().unwrap();
        assert!(!s.engines[0].healthy);
        assert!(s.engines[0].last_error.as_deref().unwrap().contains("down"));
    }
    assert_eq!(state(&w, a), JobState::Queued);
    w.engine.set_down(false);
    // Backoff: the next try comes after 1 s.
    w.live.tick(3.0).unwrap();
    w.live.tick(4.0).unwrap();
    assert!(w.snap.lock().unwrap().engines[0].healthy);
    assert_eq!(state(&w, a), JobState::Running);
}

#[test]
fn a_drained_node_shrinks_its_pool_and_too_big_jobs_say_why() {
    let mut w = world(two_pools(), "fifo-perf", None);
    w.engine.set_node_state("n-a800", NodeState::Drained);
    let big = submit(&w, 12, &["huawei-ascend-910b2"], 0.0);
    w.live.tick(1.0).unwrap();
    {
        let s = w.snap.lock().unwrap();
        let p = s.pools.iter().find(|p| p.name == "a800").unwrap();
        assert_eq!((p.chips, p.nodes_drained), (0, 1));
        let why = s.unschedulable.get(&big).unwrap();
        assert!(why.contains("not whole nodes of 8"), "{why}");
    }
    assert_eq!(state(&w, big), JobState::Queued);
}

/// A training job is planned on every pool it accepts: it runs where the policy sends it
/// by its predicted speed, with the planned layout and the framework's launch line in
/// its script; a job no pool can hold says why.
#[test]
fn training_jobs_run_with_their_planned_layout() {
    let mut w = world(
        vec![
            node("n-ascend", "huawei", "ascend910b", 8),
            node("n-a800", "nvidia", "a800", 8),
        ],
        "max-sum-throughput-perf",
        None,
    );
    let spec = parse_json(
        r#"{"kind": "train", "name": "llama", "model": "llama3-8b", "tokens": 1e9, "seq-len": 4096,
            "global-batch": 256, "resources": {"chips": 8},
            "entrypoint": "torchrun --nproc-per-node {chips_per_node} pretrain_gpt.py {launch} # tp={tp} pp={pp} dp={dp}"}"#,
    )
    .unwrap();
    let id = w
        .store
        .lock()
        .unwrap()
        .insert_job("team-a", &spec, 0.0)
        .unwrap();
    let huge = parse_json(
        r#"{"kind": "train", "name": "huge", "model": "llama3.1-405b", "steps": 10,
            "resources": {"chips": 8}, "entrypoint": "x {launch}"}"#,
    )
    .unwrap();
    let big = w
        .store
        .lock()
        .unwrap()
        .insert_job("team-a", &huge, 0.0)
        .unwrap();
    w.live.tick(1.0).unwrap();
    let d = w.engine.dispatches();
    assert_eq!(d.len(), 1, "only the job that fits is dispatched");
    let (disp, _) = &d[0];
    assert_eq!(disp.tag.job, id);
    // Both pools can run it; it runs on the faster by the planner's speeds (the live
    // scheduler places jobs on their allocated types first), with that pool's layout.
    let cat0 = tessera_catalog::Catalog::builtin().unwrap();
    let m0 = cat0.model("llama3-8b").unwrap();
    let tps = |chip: &str| {
        tessera_plan::fleet::best_on_chips(&m0, cat0.chip(chip).unwrap(), 8, 4096, 256)
            .unwrap()
            .0
            .estimate
            .tokens_per_s
    };
    let faster_part = if tps("huawei-ascend-910b2") > tps("nvidia-a800-sxm4-80gb") {
        "huawei"
    } else {
        "nvidia"
    };
    assert_eq!(disp.target.partition, faster_part);
    // It runs with the layout planned for the pool it was placed on.
    let cat = tessera_catalog::Catalog::builtin().unwrap();
    let m = cat.model("llama3-8b").unwrap();
    let chip = match disp.target.partition.as_str() {
        "huawei" => "huawei-ascend-910b2",
        _ => "nvidia-a800-sxm4-80gb",
    };
    let plan = tessera_plan::fleet::best_on_chips(&m, cat.chip(chip).unwrap(), 8, 4096, 256)
        .unwrap()
        .0;
    let faster = (disp.target.partition.as_str(), &plan);
    let l = &faster.1.layout;
    assert!(
        disp.script
            .contains(&format!("# tp={} pp={} dp={}", l.tp, l.pp, l.dp)),
        "{}",
        disp.script
    );
    assert!(
        disp.script
            .starts_with("torchrun --nproc-per-node 8 pretrain_gpt.py --"),
        "{}",
        disp.script
    );
    assert!(disp.env.contains(&("TESSERA_TP".into(), l.tp.to_string())));
    let why = w
        .snap
        .lock()
        .unwrap()
        .unschedulable
        .get(&big)
        .cloned()
        .unwrap();
    assert!(why.contains("no layout fits"), "{why}");
}

/// A node that fails under a running job: the job is queued again and runs a new
/// attempt on what is left, not marked failed.
#[test]
fn a_failed_node_requeues_its_jobs() {
    let mut w = world(
        vec![
            node("n-a800-1", "nvidia", "a800", 8),
            node("n-a800-2", "nvidia", "a800", 8),
        ],
        "fifo-perf",
        None,
    );
    let a = submit(&w, 8, &["nvidia-a800-sxm4-80gb"], 0.0);
    w.live.tick(1.0).unwrap();
    w.live.tick(2.0).unwrap();
    let first = attempts(&w, a)[0].clone();
    assert_eq!(first.state, "running");
    w.engine.set_node_state(&first.nodes, NodeState::Down);
    w.live.tick(3.0).unwrap();
    assert_eq!(attempts(&w, a)[0].state, "lost");
    assert_eq!(state(&w, a), JobState::Queued);
    {
        let s = w.snap.lock().unwrap();
        let p = s.pools.iter().find(|p| p.name == "a800").unwrap();
        assert_eq!((p.chips, p.nodes_down), (8, 1), "the pool shrank");
    }
    w.live.tick(70.0).unwrap();
    w.live.tick(71.0).unwrap();
    let at = attempts(&w, a);
    assert_eq!(at.len(), 2);
    assert_eq!(at[1].state, "running");
    assert_ne!(
        at[1].nodes, first.nodes,
        "the new attempt runs on the other node"
    );
}

/// A launch the engine fails (Slurm cancels a job whose launch failed when requeues are
/// off) is not the job's fault: a new attempt, told which attempts were lost; a job that
/// no launch starts fails after MAX_LOST_ATTEMPTS instead of looping.
#[test]
fn failed_launches_get_new_attempts_up_to_a_limit() {
    let mut w = world(two_pools(), "fifo-perf", None);
    w.engine.fail_launches(1);
    let a = submit(&w, 2, &["nvidia-a800-sxm4-80gb"], 0.0);
    w.live.tick(1.0).unwrap();
    w.live.tick(2.0).unwrap();
    let at = attempts(&w, a);
    assert_eq!(at[0].state, "lost", "{at:?}");
    assert_eq!(state(&w, a), JobState::Queued);
    w.live.tick(70.0).unwrap();
    w.live.tick(71.0).unwrap();
    let at = attempts(&w, a);
    assert_eq!((at.len(), at[1].state.as_str()), (2, "running"), "{at:?}");
    let d = w.engine.dispatches();
    let last = &d.last().unwrap().0;
    assert_eq!(
        (last.tag.attempt, last.lost_attempts.clone()),
        (2, vec![1]),
        "the new attempt is told which attempts were lost"
    );

    let b = submit(&w, 2, &["huawei-ascend-910b2"], 80.0);
    w.engine.fail_launches(u32::MAX);
    let mut t = 80.0;
    while !state(&w, b).is_final() && t < 80.0 + 61.0 * 20.0 {
        t += 61.0;
        w.live.tick(t).unwrap();
        w.live.tick(t + 1.0).unwrap();
    }
    assert_eq!(state(&w, b), JobState::Failed);
    let at = attempts(&w, b);
    assert_eq!(at.len(), tessera_server::live::MAX_LOST_ATTEMPTS, "{at:?}");
    assert!(at.iter().all(|x| x.state == "lost"));
    let ev = w.store.lock().unwrap().events_since(0, 10_000).unwrap();
    assert!(
        ev.iter().any(|e| e.job == Some(b)
            && e.kind == "failed"
            && e.detail.contains("8 attempts lost")),
        "{ev:?}"
    );
}

fn submit_serve(w: &World, extra: &str, now: f64) -> u64 {
    let spec = parse_json(&format!(
        r#"{{"kind": "serve", "name": "chat", "model": "llama3-8b", "rate": 4, "input-len": 1000, "output-len": 200, "chip-types": ["nvidia-a800-sxm4-80gb"], "entrypoint": "vllm serve {{model}} {{launch}} # replica {{replica}} of {{replicas}}, tp {{tp}}"{extra}}}"#
    ))
    .unwrap();
    w.store
        .lock()
        .unwrap()
        .insert_job("team-a", &spec, now)
        .unwrap()
}

fn replicas(w: &World, id: u64) -> Vec<tessera_server::store::JobRecord> {
    w.store.lock().unwrap().children(id).unwrap()
}

/// A serving job is sized by the serving planner on the pools it accepts, runs one
/// replica job per planned replica with the layout filled into its entrypoint, replaces
/// a replica that fails, scales both ways, and cancels all its replicas when cancelled.
#[test]
fn serving_jobs_are_sized_replaced_scaled_and_cancelled() {
    let mut w = world(two_pools(), "fifo-perf", None);
    let s = submit_serve(&w, "", 0.0);
    w.live.tick(1.0).unwrap();
    let spec = w.store.lock().unwrap().job(s).unwrap().unwrap().spec;
    let JobSpec::Serve(v) = spec else { panic!() };
    let planned = v
        .replicas
        .expect("sized: the count is recorded in the spec");
    assert!(planned >= 1);
    let kids = replicas(&w, s);
    assert_eq!(kids.len(), planned as usize);
    let JobSpec::Replica(r0) = &kids[0].spec else {
        panic!()
    };
    assert_eq!(r0.resources.chip_types, vec!["nvidia-a800-sxm4-80gb"]);
    assert!(
        r0.command
            .starts_with("vllm serve llama3-8b --tensor-parallel-size "),
        "{}",
        r0.command
    );
    assert!(
        r0.command.contains("replica ${TESSERA_REPLICA} of"),
        "{}",
        r0.command
    );
    let ev = w.store.lock().unwrap().events_since(0, 1000).unwrap();
    let sized = ev
        .iter()
        .find(|e| e.kind == "sized")
        .expect("a sizing event");
    assert!(sized.detail.contains("pool a800"), "{}", sized.detail);

    // Scale to 2 (whatever was planned) and let the replicas run.
    let scaled = |w: &World, n: u32, t: f64| {
        let mut st = w.store.lock().unwrap();
        let JobSpec::Serve(mut v) = st.job(s).unwrap().unwrap().spec else {
            panic!()
        };
        v.replicas = Some(n);
        st.set_spec(s, &JobSpec::Serve(v), t).unwrap();
    };
    scaled(&w, 2, 2.0);
    for t in [3.0, 64.0, 65.0, 66.0] {
        w.live.tick(t).unwrap();
    }
    let open: Vec<_> = replicas(&w, s)
        .into_iter()
        .filter(|c| !c.state.is_final())
        .collect();
    assert_eq!(open.len(), 2, "{open:?}");
    assert!(
        open.iter().all(|c| c.state == JobState::Running),
        "{open:?}"
    );
    assert_eq!(state(&w, s), JobState::Running);
    let d = w.engine.dispatches();
    assert!(d.iter().any(
        |(x, _)| x.env.contains(&("TESSERA_REPLICA".into(), "1".into()))
            && x.env.contains(&("TESSERA_SERVE_JOB".into(), s.to_string()))
    ));

    // Replica 0 fails: a new replica 0 replaces it.
    let r0 = open
        .iter()
        .find(|c| matches!(&c.spec, JobSpec::Replica(r) if r.replica == 0))
        .unwrap();
    let eid = r0.attempts[0].engine_id.clone().unwrap();
    w.engine.finish(&eid, 1);
    for t in [67.0, 68.0, 130.0, 131.0] {
        w.live.tick(t).unwrap();
    }
    let all = replicas(&w, s);
    assert_eq!(state(&w, r0.id), JobState::Failed);
    let zeros: Vec<_> = all
        .iter()
        .filter(|c| matches!(&c.spec, JobSpec::Replica(r) if r.replica == 0))
        .collect();
    assert_eq!(zeros.len(), 2, "replica 0 was replaced");
    assert_eq!(zeros[1].state, JobState::Running, "{:?}", zeros[1]);

    // Scale down to 1: replica 1 is cancelled.
    scaled(&w, 1, 132.0);
    for t in [133.0, 134.0, 135.0] {
        w.live.tick(t).unwrap();
    }
    let open: Vec<_> = replicas(&w, s)
        .into_iter()
        .filter(|c| !c.state.is_final())
        .collect();
    assert_eq!(open.len(), 1, "{open:?}");
    assert!(matches!(&open[0].spec, JobSpec::Replica(r) if r.replica == 0));

    // Cancel the serving job: its replicas are cancelled, then it is.
    w.store.lock().unwrap().request_cancel(s, 136.0).unwrap();
    for t in [137.0, 138.0, 139.0] {
        w.live.tick(t).unwrap();
    }
    assert_eq!(state(&w, s), JobState::Cancelled);
    assert!(replicas(&w, s).iter().all(|c| c.state.is_final()));
}

/// A serving job no accepted pool can size waits with the planner's reason.
#[test]
fn a_serving_job_nothing_can_size_says_why() {
    let mut w = world(two_pools(), "fifo-perf", None);
    let spec = parse_json(
        r#"{"kind": "serve", "name": "big", "model": "llama3-70b", "rate": 100, "input-len": 1000, "output-len": 200, "tpot-slo-s": 0.0001, "chip-types": ["huawei-ascend-910b2"], "entrypoint": "x"}"#,
    )
    .unwrap();
    let s = w
        .store
        .lock()
        .unwrap()
        .insert_job("team-a", &spec, 0.0)
        .unwrap();
    w.live.tick(1.0).unwrap();
    assert!(replicas(&w, s).is_empty());
    assert_eq!(state(&w, s), JobState::Queued);
    let why = w.snap.lock().unwrap().unschedulable.get(&s).cloned();
    assert!(
        why.as_deref().is_some_and(|x| x.contains("ascend")),
        "{why:?}"
    );
}

/// A training job larger than either pool, with a link between them: it runs as one gang
/// across both (one engine job with a component per pool, FlagScale's heterogeneous
/// launch), recorded as one attempt on both pools; without the link it waits.
#[test]
fn a_job_larger_than_either_pool_runs_as_one_gang_across_both() {
    let nodes = || {
        vec![
            node("n-ascend-0", "huawei", "ascend910b", 8),
            node("n-ascend-1", "huawei", "ascend910b", 8),
            node("n-a800-0", "nvidia", "a800", 8),
            node("n-a800-1", "nvidia", "a800", 8),
        ]
    };
    let spec = parse_json(
        r#"{"kind": "train", "name": "wide", "model": "llama2-13b", "tokens": 1e9, "seq-len": 4096,
            "global-batch": 256, "resources": {"chips": 32},
            "entrypoint": "flagscale-run {framework} {launch} # nodes={nodes}"}"#,
    )
    .unwrap();
    // No link: nothing fits one pool (it waits for nodes to come back), and no gang is
    // possible.
    let mut w = world(nodes(), "max-min-fairness-perf", None);
    let id = w
        .store
        .lock()
        .unwrap()
        .insert_job("team-a", &spec, 0.0)
        .unwrap();
    for t in [1.0, 70.0, 140.0] {
        w.live.tick(t).unwrap();
    }
    assert!(w.engine.dispatches().is_empty());
    assert_eq!(state(&w, id), JobState::Queued);

    let mut w = world(nodes(), "max-min-fairness-perf", None);
    w.snap.lock().unwrap().links = vec![tessera_server::config::LinkConfig {
        pools: vec!["ascend".into(), "a800".into()],
        gb_s: 12.5,
        kind: Some("host-staged".into()),
        latency_us: None,
        copy_gb_s: None,
    }];
    let id = w
        .store
        .lock()
        .unwrap()
        .insert_job("team-a", &spec, 0.0)
        .unwrap();
    w.live.tick(1.0).unwrap();
    let d = w.engine.dispatches();
    assert_eq!(d.len(), 1, "{d:?}");
    let (disp, st) = &d[0];
    assert_eq!(disp.tag.job, id);
    assert_eq!(*st, EngineState::Running);
    assert_eq!(disp.target.partition, "huawei");
    assert_eq!((disp.nodes, disp.chips_per_node), (2, 8));
    assert_eq!(disp.also.len(), 1);
    assert_eq!(disp.also[0].target.partition, "nvidia");
    assert_eq!((disp.also[0].nodes, disp.also[0].chips_per_node), (2, 8));
    let env = |k: &str| {
        disp.env
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(env("TESSERA_POOL"), "ascend+a800");
    assert_eq!(env("TESSERA_FRAMEWORK"), "flagscale");
    assert!(
        env("TESSERA_PARTS").starts_with("ascend:huawei-ascend-910b2:16:"),
        "{}",
        env("TESSERA_PARTS")
    );
    assert!(
        disp.script.starts_with("flagscale-run flagscale "),
        "{}",
        disp.script
    );
    assert!(disp.script.ends_with("# nodes=4"), "{}", disp.script);
    assert!(
        disp.script.contains(&env("TESSERA_LAUNCH_ARGS")),
        "{}",
        disp.script
    );
    w.live.tick(2.0).unwrap();
    assert_eq!(state(&w, id), JobState::Running);
    let a = attempts(&w, id);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].pool, "ascend+a800");
    assert_eq!(a[0].chips, 32);
    // Later rounds keep it where it is: no stop, no second attempt.
    for t in [70.0, 140.0, 210.0] {
        w.live.tick(t).unwrap();
    }
    assert_eq!(attempts(&w, id).len(), 1);
    assert_eq!(state(&w, id), JobState::Running);
    let engine_id = a[0].engine_id.clone().unwrap();
    w.engine.finish(&engine_id, 0);
    w.live.tick(220.0).unwrap();
    assert_eq!(state(&w, id), JobState::Succeeded);
}

/// Elastic sizes: alone on an idle pool of 16, a training job of 8 chips runs at 16 when
/// that is faster (its planned layout for 16), recorded as an attempt of 16 chips; when
/// a second job arrives the first goes back to 8 through a preemption and a new attempt.
#[test]
fn an_elastic_training_job_grows_into_an_idle_pool_and_shrinks_back() {
    for policy in ["max-min-fairness-perf", "shortest-job-first-perf"] {
        elastic_grows_and_shrinks(policy);
    }
}

fn elastic_grows_and_shrinks(policy: &str) {
    let mut w = world(
        vec![
            node("n-a800-0", "nvidia", "a800", 8),
            node("n-a800-1", "nvidia", "a800", 8),
        ],
        policy,
        None,
    );
    w.live.set_elastic(true);
    let spec = |name: &str| {
        parse_json(&format!(
            r#"{{"kind": "train", "name": "{name}", "model": "llama3-8b", "tokens": 1e12, "seq-len": 4096,
                "global-batch": 256, "resources": {{"chips": 8, "chip-types": ["nvidia-a800-sxm4-80gb"]}},
                "checkpoint-grace-s": 0, "entrypoint": "run {{launch}} # chips={{chips_per_node}}x{{nodes}}"}}"#
        ))
        .unwrap()
    };
    let a = w
        .store
        .lock()
        .unwrap()
        .insert_job("team-a", &spec("a"), 0.0)
        .unwrap();
    w.live.tick(1.0).unwrap();
    let d = w.engine.dispatches();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        (d[0].0.nodes, d[0].0.chips_per_node),
        (2, 8),
        "grown to 16: {d:?}"
    );
    assert!(d[0].0.script.ends_with("# chips=8x2"), "{}", d[0].0.script);
    w.live.tick(2.0).unwrap();
    assert_eq!(attempts(&w, a)[0].chips, 16);
    // A second job: the first is preempted and comes back at its own size.
    let b = w
        .store
        .lock()
        .unwrap()
        .insert_job("team-a", &spec("b"), 3.0)
        .unwrap();
    for t in [70.0, 71.0, 72.0, 140.0, 141.0, 142.0] {
        w.live.tick(t).unwrap();
    }
    let at = attempts(&w, a);
    assert!(at.len() >= 2, "{at:?}");
    let live: Vec<_> = at.iter().filter(|x| x.is_live()).collect();
    assert!(live.iter().all(|x| x.chips == 8), "{at:?}");
    assert!(attempts(&w, b).iter().any(|x| x.is_live() && x.chips == 8));
    // Never more chips at once than the pool has.
    let used: u32 = w
        .engine
        .dispatches()
        .iter()
        .filter(|(_, s)| *s == EngineState::Running)
        .map(|(d, _)| d.nodes * d.chips_per_node)
        .sum();
    assert!(used <= 16, "{used}");
}
