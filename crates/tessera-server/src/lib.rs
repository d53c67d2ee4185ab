//! tessera's live control plane: `tessera server`.
//!
//! The daemon owns the fleet's queue. It keeps every job in a durable store
//! ([`store`]), drives the scheduling core shared with the simulator with a real clock
//! ([`live`]), dispatches to engines (`tessera-engine`: Slurm today), and serves the
//! HTTP API ([`api`]). docs/server.md is the operator's guide.
//!
//! Architecture invariant: the scheduling decisions are `tessera_sched::round`'s; this
//! crate only feeds it events and carries out its answers. Engine job ids are handles;
//! tessera's job id and attempt are the identity, recorded durably before any dispatch.

pub mod api;
pub mod client;
pub mod config;
pub mod history;
pub mod job;
pub mod live;
pub mod pgstore;
pub mod store;
pub mod ui;
pub mod whatif;

use std::path::Path;
use std::sync::{Arc, Mutex};

/// Server start-up failures, each with its cause.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("{0}")]
    Setup(String),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
}

/// Loads the configuration at `config_path` and runs the server until SIGTERM or
/// SIGINT.
/// The Kubernetes engine of an `[[engine]] kind = "kubernetes"`.
#[cfg(feature = "kube")]
fn kube_engine(
    e: &config::EngineConfig,
    dir: &Path,
) -> Result<Arc<dyn tessera_engine::Engine>, ServerError> {
    let kc = e.kubeconfig.as_ref().map(|k| dir.join(k));
    let s = tessera_engine::kube::KubeSettings {
        namespace: e.namespace.clone().unwrap_or_else(|| "default".into()),
        queue: e.queue.clone().unwrap_or_else(|| "default".into()),
        image: e.image.clone().unwrap_or_default(),
    };
    let k = tessera_engine::kube::KubeEngine::connect(&e.name, kc.as_deref(), s)
        .map_err(|m| ServerError::Setup(format!("engine {}: {m}", e.name)))?;
    Ok(Arc::new(k))
}

#[cfg(not(feature = "kube"))]
fn kube_engine(
    e: &config::EngineConfig,
    _dir: &Path,
) -> Result<Arc<dyn tessera_engine::Engine>, ServerError> {
    Err(ServerError::Setup(format!(
        "engine {}: this tessera was built without the Kubernetes engine; build it with `cargo build --release --features kube`",
        e.name
    )))
}

pub fn run(config_path: &Path, cat: &tessera_catalog::Catalog) -> Result<(), ServerError> {
    init_logs();
    let cfg = config::ServerConfig::load(config_path)?;
    let dir = config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Absolute, since engines hand these paths to other processes (Slurm's daemons).
    let dir = std::fs::canonicalize(dir)
        .map_err(|e| ServerError::Setup(format!("{}: {e}", config_path.display())))?;
    let tokens = config::Tokens::load(&dir.join(&cfg.tokens))?;
    let mut chips = Vec::new();
    for p in &cfg.pool {
        let c = cat.chip(&p.chip).map_err(|e| {
            ServerError::Config(config::ConfigError {
                path: config_path.display().to_string(),
                message: format!("pool {}: chip: {e}", p.name),
            })
        })?;
        chips.push(c.id.clone());
    }
    // A Kubernetes pool's nodes are those labelled with its chip (tessera.io/chip), so
    // the chip id is the pool's partition there.
    let mut pools = cfg.pool.clone();
    for (p, chip) in pools.iter_mut().zip(&chips) {
        if cfg
            .engine
            .iter()
            .any(|e| e.name == p.engine && e.kind == "kubernetes")
        {
            p.partition = chip.clone();
            if p.resource.is_none() {
                // The vendor's device-plugin resource from the catalog (its first name).
                let r = cat
                    .chip(chip)
                    .ok()
                    .and_then(|c| c.k8s_resource.as_deref())
                    .and_then(|r| r.split_whitespace().next())
                    .filter(|r| r.contains('/'))
                    .map(str::to_string);
                match r {
                    Some(r) => p.resource = Some(r),
                    None => {
                        return Err(ServerError::Config(config::ConfigError {
                            path: config_path.display().to_string(),
                            message: format!(
                                "pool {}: the catalog names no device-plugin resource for {chip}; give `resource`",
                                p.name
                            ),
                        }));
                    }
                }
            }
        }
    }
    let state = cfg.state_location(&dir).map_err(|m| {
        ServerError::Config(config::ConfigError {
            path: config_path.display().to_string(),
            message: m,
        })
    })?;
    let store: Box<dyn store::Store> = match &state {
        config::StateLocation::Sqlite(p) => Box::new(store::SqliteStore::open(p)?),
        config::StateLocation::Postgres(url) => Box::new(pgstore::PgStore::connect(url)?),
    };
    let store = Arc::new(Mutex::new(store));
    let spool = dir.join(&cfg.spool);
    let mut engines: Vec<Arc<dyn tessera_engine::Engine>> = Vec::new();
    for e in &cfg.engine {
        let spool = spool.join(&e.name);
        let engine: Arc<dyn tessera_engine::Engine> = match &e.rest_url {
            None if e.kind == "kubernetes" => kube_engine(e, &dir)?,
            None if e.kind == "ray" => Arc::new(
                tessera_engine::ray::RayEngine::new(&e.name, e.url.as_deref().unwrap_or(""), spool)
                    .map_err(|m| ServerError::Setup(format!("engine {}: {m}", e.name)))?,
            ),
            None => Arc::new(tessera_engine::slurm::SlurmEngine::new(
                &e.name,
                e.slurm_conf.as_ref().map(|c| dir.join(c)),
                e.bin.as_ref().map(|b| dir.join(b)),
                spool,
            )),
            Some(url) => {
                use tessera_engine::slurmrest::{SlurmRestEngine, Token};
                let token = match (&e.rest_token_file, &e.rest_token_env) {
                    (Some(f), _) => Token::File(dir.join(f)),
                    (None, Some(var)) => Token::Value(std::env::var(var).map_err(|_| {
                        ServerError::Setup(format!(
                            "engine {}: rest-token-env names ${var}, which is not set",
                            e.name
                        ))
                    })?),
                    (None, None) => {
                        return Err(ServerError::Setup(format!(
                            "engine {}: no REST token",
                            e.name
                        )));
                    }
                };
                let user = e.rest_user.as_deref().unwrap_or("root");
                Arc::new(
                    SlurmRestEngine::new(&e.name, url, user, token, spool)
                        .map_err(|m| ServerError::Setup(format!("engine {}: {m}", e.name)))?,
                )
            }
        };
        engines.push(engine);
    }
    let policy = tessera_sched::sim::Policy::parse(&cfg.policy)
        .ok_or_else(|| ServerError::Setup(format!("policy `{}`", cfg.policy)))?;
    let snapshot = Arc::new(Mutex::new(live::Snapshot {
        links: cfg.link.clone(),
        fleet_chips: chips.clone(),
        ..live::Snapshot::default()
    }));
    let mut sched = live::Live::new(
        store.clone(),
        engines,
        pools,
        chips,
        policy,
        cfg.round_s,
        snapshot.clone(),
        Arc::new(cat.clone()),
    )
    .map_err(|e| ServerError::Setup(e.to_string()))?;
    if let Some(sv) = cfg.solver.as_deref().and_then(tessera_sched::Solver::parse) {
        sched.set_solver(sv);
    }
    sched.set_elastic(cfg.elastic);
    let clock: Arc<dyn live::Clock> = Arc::new(live::SystemClock);
    let (shut_tx, shut_rx) = tokio::sync::watch::channel(false);
    let history = Arc::new(Mutex::new(history::PoolHistory::default()));
    let (hist, hist_snap) = (history.clone(), snapshot.clone());
    let app = api::router(
        api::AppState {
            store,
            tokens: Arc::new(tokens),
            snapshot,
            read_needs_token: cfg.read_needs_token,
            clock: clock.clone(),
            catalog: Arc::new(cat.clone()),
            shutdown: shut_rx,
            history,
        },
        cfg.max_body_bytes,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ServerError::Setup(format!("async runtime: {e}")))?;
    let poll = cfg.round_s.clamp(1.0, 5.0);
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&cfg.listen)
            .await
            .map_err(|source| ServerError::Listen {
                addr: cfg.listen.clone(),
                source,
            })?;
        tracing::info!(listen = %cfg.listen, state = %state, "tessera server started");
        // The scheduling loop: one tick at a time, off the async workers.
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        // Set when the loop dies: the server then stops too, with an error, rather
        // than take jobs it would never schedule (a supervisor restarts it, and the
        // restart reconciles).
        let (dead_tx, mut dead_rx) = tokio::sync::watch::channel(false);
        let ticker = tokio::spawn(async move {
            let mut iv = tokio::time::interval(std::time::Duration::from_secs_f64(poll));
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = iv.tick() => {}
                    _ = stop_rx.changed() => break,
                }
                let now = clock.now();
                let r = tokio::task::spawn_blocking(move || {
                    let e = sched.tick(now);
                    (sched, e)
                })
                .await;
                match r {
                    Ok((s, res)) => {
                        sched = s;
                        let snap = hist_snap.lock().map(|g| g.clone());
                        if let (Ok(snap), Ok(mut h)) = (snap, hist.lock()) {
                            h.record(now, &snap);
                        }
                        if let Err(e) = res {
                            tracing::error!(error = %e, "scheduling tick failed");
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "scheduling tick panicked; stopping the server");
                        let _ = dead_tx.send(true);
                        break;
                    }
                }
            }
        });
        let mut dead = dead_rx.clone();
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                tokio::select! {
                    _ = shutdown() => {}
                    _ = dead.wait_for(|d| *d) => {}
                }
                // Event streams end; other requests finish.
                let _ = shut_tx.send(true);
            })
            .await
            .map_err(|e| ServerError::Setup(format!("HTTP server: {e}")))?;
        let _ = stop_tx.send(true);
        let _ = ticker.await;
        if *dead_rx.borrow_and_update() {
            return Err(ServerError::Setup(
                "the scheduling loop panicked (see the log); the server stopped".into(),
            ));
        }
        tracing::info!("tessera server stopped");
        Ok(())
    })
}

async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}

/// Structured logs on stderr; `RUST_LOG` filters them (default `info`).
fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
