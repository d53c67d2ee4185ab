//! Durable job submissions through the API, side by side with `sbatch` against the local
//! slurmctld in the same run: `cargo bench -p tessera-server --bench submit` (with
//! `SLURM_CONF` set, e.g. after tools/slurm-local/start.sh; without it only the API side
//! runs). Each API submission is one HTTP request on a new connection to a server on
//! 127.0.0.1 that answers 201 only once the job's SQLite transaction is on disk
//! (WAL, synchronous=FULL). Each sbatch is one `sbatch --parsable --wrap true`.

use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::{Arc, Mutex};
use tessera_server::api::{AppState, router};
use tessera_server::client::request;
use tessera_server::live::{Snapshot, SystemClock};
use tessera_server::store::{SqliteStore, Store};

const TOKEN: &str = "bench-team-token-00000001";

fn start_server(dir: &std::path::Path) -> String {
    let tokens_file = dir.join("tokens.toml");
    std::fs::write(
        &tokens_file,
        format!("[[token]]\nteam = \"b\"\ntoken = \"{TOKEN}\"\n"),
    )
    .expect("tokens");
    let store: Box<dyn Store> = Box::new(SqliteStore::open(&dir.join("state.db")).expect("db"));
    let st = AppState {
        store: Arc::new(Mutex::new(store)),
        tokens: Arc::new(tessera_server::config::Tokens::load(&tokens_file).expect("tokens")),
        snapshot: Arc::new(Mutex::new(Snapshot::default())),
        read_needs_token: false,
        clock: Arc::new(SystemClock),
        catalog: Arc::new(tessera_catalog::Catalog::builtin().expect("catalog")),
        shutdown: tokio::sync::watch::channel(false).1,
        history: Arc::default(),
    };
    let app = router(st, 1 << 20);
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = std_listener.local_addr().expect("addr").to_string();
    std_listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(std_listener).expect("listener");
            let _ = axum::serve(l, app).await;
        });
    });
    addr
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("tessera-bench-submit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let addr = start_server(&dir);
    let body = r#"{"kind": "batch", "name": "bench", "command": "true", "resources": {"chips": 1, "chip-types": ["a800"]}}"#;
    let mut g = c.benchmark_group("submit");
    g.sample_size(20);
    g.bench_function("tessera API (durable, SQLite)", |b| {
        b.iter(|| {
            let r = request(&addr, "POST", "/api/v1/jobs", Some(TOKEN), Some(body)).expect("post");
            assert_eq!(r.status, 201, "{}", r.body);
        })
    });
    if std::env::var_os("SLURM_CONF").is_some() {
        g.bench_function("sbatch --parsable", |b| {
            b.iter(|| {
                let o = std::process::Command::new("sbatch")
                    .args([
                        "--parsable",
                        "-J",
                        "tessera-bench",
                        "-o",
                        "/dev/null",
                        "-p",
                        "nvidia",
                        "--wrap",
                        "true",
                    ])
                    .output()
                    .expect("sbatch");
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            })
        });
    } else {
        eprintln!("submit/sbatch: skipped, SLURM_CONF is not set");
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
