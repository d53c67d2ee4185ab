//! One tick of the live loop (`Live::tick`: capacity, reconciliation, serving jobs,
//! cancels, admission, a round) with 10,000 jobs in the queue, on an in-memory engine,
//! so that what is measured is the server's own work: the store reads and writes
//! (SQLite in memory) and the scheduling core. `cargo bench -p tessera-server --bench tick`.
//!
//! Two pools of one 8-accelerator node each and 8-accelerator jobs: two jobs run, the
//! other 9,998 wait, and every tick is a round (the clock moves one round each time).
//! Beside it, one read of the open jobs from the store, which a tick does several times.

use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::{Arc, Mutex};
use tessera_engine::fake::FakeEngine;
use tessera_engine::{Engine, Node, NodeState};
use tessera_sched::sim::Policy;
use tessera_server::config::PoolConfig;
use tessera_server::job::parse_json;
use tessera_server::live::{Live, Snapshot};
use tessera_server::store::{SqliteStore, Store};

fn node(name: &str, part: &str, gres: &str) -> Node {
    Node {
        name: name.into(),
        partition: part.into(),
        gres_name: "gpu".into(),
        gres_type: gres.into(),
        chips: 8,
        chips_used: 0,
        state: NodeState::Up,
    }
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

fn bench(c: &mut Criterion) {
    let mut s: Box<dyn Store> = Box::new(SqliteStore::memory().expect("db"));
    let spec = parse_json(
        r#"{"kind": "batch", "name": "q", "command": "true", "resources": {"chips": 8}}"#,
    )
    .expect("spec");
    for i in 0..10_000 {
        s.insert_job("team", &spec, i as f64 * 0.001)
            .expect("insert");
    }
    let store = Arc::new(Mutex::new(s));
    let reader = store.clone();
    let engine = Arc::new(FakeEngine::new(
        "fake",
        vec![
            node("n-ascend", "huawei", "ascend910b"),
            node("n-a800", "nvidia", "a800"),
        ],
        None,
    ));
    let mut live = Live::new(
        store,
        vec![engine as Arc<dyn Engine>],
        vec![
            pool("ascend", "huawei-ascend-910b2", "huawei", "ascend910b"),
            pool("a800", "nvidia-a800-sxm4-80gb", "nvidia", "a800"),
        ],
        vec!["huawei-ascend-910b2".into(), "nvidia-a800-sxm4-80gb".into()],
        Policy::parse("fifo-perf").expect("policy"),
        60.0,
        Arc::new(Mutex::new(Snapshot::default())),
        Arc::new(tessera_catalog::Catalog::builtin().expect("catalog")),
    )
    .expect("live");
    let mut t = 100.0;
    live.tick(t).expect("first tick");
    let mut g = c.benchmark_group("live tick");
    g.sample_size(10);
    g.bench_function("10,000 queued jobs, a round each tick", |b| {
        b.iter(|| {
            t += 61.0;
            live.tick(t).expect("tick");
        })
    });
    g.bench_function("reading the 10,000 open jobs from the store", |b| {
        b.iter(|| {
            reader
                .lock()
                .expect("store")
                .open_jobs()
                .expect("read")
                .len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
