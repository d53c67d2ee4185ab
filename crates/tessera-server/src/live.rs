//! The live scheduler: the same scheduling core as the simulator
//! ([`tessera_sched::round::RoundCore`]), driven by a real clock, with the store as its
//! memory and engines as its hands.
//!
//! Each [`Live::tick`] (every few seconds):
//! 1. refreshes each pool's capacity from its engine (nodes that are up, with the
//!    pool's partition and GRES type); a drained or down node shrinks the pool;
//! 2. reconciles: every live attempt in the store is matched with the engine job that
//!    carries its tag (job id and attempt), never by the engine's id. A job the engine
//!    runs is `running`; one it finished is `succeeded` or `failed` (from the engine, or
//!    from the exit file when the engine forgot it); one it lost (no engine job, no exit
//!    record) is queued again and gets a new attempt. An engine job with a tessera tag
//!    that no live attempt has is reported in the event log, never adopted;
//! 3. carries out cancels, and ends the checkpoint grace of attempts being stopped;
//! 4. gives new jobs to the core, then, once per round, lets the core decide, stops
//!    jobs whose placement moved (checkpoint signal, grace, cancel) and dispatches jobs
//!    placed without a live attempt: the attempt is recorded durably before the engine
//!    is asked, so a crash between the two is resolved by step 2 and no job starts
//!    twice.
//!
//! An engine that fails is marked unhealthy and retried with exponential backoff; jobs
//! are still accepted meanwhile.

use crate::config::PoolConfig;
use crate::job::{JobSpec, JobState};
use crate::store::{Attempt, JobRecord, Store, StoreError};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use tessera_engine::{
    Dispatch, Engine, EngineError, EngineJob, EngineState, NodeState, Tag, Target,
};
use tessera_plan::launch::Launch;
use tessera_plan::train::Plan;
use tessera_sched::round::{Event, Reaction, RoundCore};
use tessera_sched::sim::{Policy, SimConfig, SimJob};

/// Steps a batch job of unknown length is given: it runs until its script ends.
const UNKNOWN_STEPS: f64 = 1e15;

/// Seconds an attempt may be missing from its engine, with no exit record, before it is
/// declared lost and the job queued again.
pub const LOST_GRACE_S: f64 = 10.0;

/// Attempts a job may lose (to the engine, a failed node or a failed launch) before it
/// is failed instead of queued again: a job that no node can start must not loop.
pub const MAX_LOST_ATTEMPTS: usize = 8;

/// A clock in seconds since the Unix epoch. The server uses the system's; tests set it.
pub trait Clock: Send + Sync {
    fn now(&self) -> f64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }
}

/// A clock the test moves.
#[derive(Debug, Default)]
pub struct ManualClock(Mutex<f64>);

impl ManualClock {
    pub fn new(t: f64) -> ManualClock {
        ManualClock(Mutex::new(t))
    }
    pub fn set(&self, t: f64) {
        if let Ok(mut g) = self.0.lock() {
            *g = t;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> f64 {
        self.0.lock().map_or(0.0, |g| *g)
    }
}

/// A pool as the scheduler sees it now.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PoolStatus {
    pub name: String,
    pub chip: String,
    pub engine: String,
    pub partition: String,
    pub gres: String,
    /// Accelerators on nodes that are up.
    pub chips: u32,
    pub chips_used: u32,
    pub nodes_up: u32,
    pub nodes_drained: u32,
    pub nodes_down: u32,
    /// Accelerators per node (the largest node's).
    pub chips_per_node: u32,
}

/// An engine's health.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EngineHealth {
    pub name: String,
    pub healthy: bool,
    pub last_error: Option<String>,
    /// Failures in a row.
    pub failures: u32,
    #[serde(skip)]
    pub retry_at: f64,
}

/// The scheduler's shared view, for the API.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Snapshot {
    pub pools: Vec<PoolStatus>,
    pub engines: Vec<EngineHealth>,
    pub rounds: u64,
    pub last_tick_at: f64,
    /// Jobs no pool can hold, and why.
    pub unschedulable: BTreeMap<u64, String>,
    /// The configured links between pools (for mixed-vendor plans).
    pub links: Vec<crate::config::LinkConfig>,
    /// The catalog chip of each configured pool, known from the start (`pools` fills
    /// at the first tick, after the engines answered).
    #[serde(skip)]
    pub fleet_chips: Vec<String>,
}

/// The live scheduler.
pub struct Live {
    store: Arc<Mutex<Box<dyn Store>>>,
    engines: Vec<Arc<dyn Engine>>,
    pools: Vec<PoolConfig>,
    /// Catalog chip id of each pool.
    pool_chip: Vec<String>,
    pool_engine: Vec<usize>,
    snapshot: Arc<Mutex<Snapshot>>,
    core: RoundCore,
    cfg: SimConfig,
    core_idx: HashMap<u64, usize>,
    job_of: Vec<u64>,
    /// The round in progress: when it started and what it placed (job, where).
    round: Option<(f64, Vec<(u64, Where)>)>,
    next_round_at: f64,
    reported_unknown: BTreeSet<String>,
    instance: u32,
    missing_since: HashMap<Tag, f64>,
    catalog: Arc<tessera_catalog::Catalog>,
    /// A training job's plan on a pool (layout, speed, launch line), or why none fits.
    plans: HashMap<(u64, usize), Result<(Plan, Launch), String>>,
    /// A training job's gangs across two pools, in the order of its `SimJob::mixed`.
    gangs: HashMap<u64, Vec<GangRun>>,
    /// A training job's other sizes (after its gangs in `SimJob::mixed`).
    sizes: HashMap<u64, Vec<SizeRun>>,
    /// Whether training jobs may run at other sizes (the configuration's `elastic`).
    elastic: bool,
    /// Tokens a training job has left, as the scheduler estimates them from its
    /// predicted speed and the time it ran (reset to the total after a server restart).
    left: HashMap<u64, f64>,
    /// Serving jobs the planner could not size now, and why.
    serve_unsched: BTreeMap<u64, String>,
    /// The last read of the open jobs, with the store's write count then.
    open_cache: Option<(u64, Arc<Vec<JobRecord>>)>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("pools", &self.pools)
            .field("round", &self.round)
            .finish_non_exhaustive()
    }
}

/// Where a job runs in a round: on one pool, or as its gang across two pools (an index
/// into its gangs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Where {
    Pool(usize),
    Gang(usize),
    /// Another size on one pool (an index into its sizes).
    Size(usize),
}

/// Another size a training job runs at on one pool (elastic sizes): the pool, its chips,
/// and the plan there.
#[derive(Debug, Clone)]
struct SizeRun {
    pool: usize,
    chips: u32,
    plan: (Plan, Launch),
}

/// One way a training job runs across two pools of one engine: the pools, the chips of
/// each, and the launchable mixed plan (FlagScale's heterogeneous pipeline).
#[derive(Debug, Clone)]
struct GangRun {
    pools: [usize; 2],
    chips: [u32; 2],
    plan: tessera_plan::mixed::MixedPlan,
}

/// Live-scheduler failures (the store failing; engines failing are health, not errors).
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("scheduling core: {0}")]
    Core(#[from] tessera_sched::PolicyError),
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Live {
    /// A scheduler over `pools` (each with its catalog chip id and the index of its
    /// engine), with `policy` rounds of `round_s` seconds.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Arc<Mutex<Box<dyn Store>>>,
        engines: Vec<Arc<dyn Engine>>,
        pools: Vec<PoolConfig>,
        pool_chip: Vec<String>,
        policy: Policy,
        round_s: f64,
        snapshot: Arc<Mutex<Snapshot>>,
        catalog: Arc<tessera_catalog::Catalog>,
    ) -> Result<Live, LiveError> {
        let instance = lock(&store).instance()?;
        let pool_engine = pools
            .iter()
            .map(|p| {
                engines
                    .iter()
                    .position(|e| e.name() == p.engine)
                    .unwrap_or(0)
            })
            .collect();
        let cfg = SimConfig {
            policy,
            round_s,
            restart_s: 0.0,
            seed: 0,
            chips_per_node: None,
            prices: None,
            stop_after: None,
            colocation: None,
            solver: tessera_sched::Solver::Simplex,
            realloc_s: None,
            gavel_compat: None,
        };
        {
            let mut s = lock(&snapshot);
            s.engines = engines
                .iter()
                .map(|e| EngineHealth {
                    name: e.name().to_string(),
                    healthy: true,
                    last_error: None,
                    failures: 0,
                    retry_at: 0.0,
                })
                .collect();
        }
        let mut core = RoundCore::new(&vec![0; pools.len()], &cfg);
        // A new job gets its allocation at the next round, not Gavel's 1,920 s later.
        core.set_min_reallocation_s(round_s);
        // And is placed where its allocation puts it before it may fill idle pools.
        core.set_allocated_types_first(true);
        Ok(Live {
            instance,
            core,
            store,
            engines,
            pool_chip,
            pool_engine,
            pools,
            snapshot,
            cfg,
            core_idx: HashMap::new(),
            job_of: Vec::new(),
            round: None,
            next_round_at: 0.0,
            reported_unknown: BTreeSet::new(),
            missing_since: HashMap::new(),
            catalog,
            plans: HashMap::new(),
            gangs: HashMap::new(),
            sizes: HashMap::new(),
            elastic: false,
            left: HashMap::new(),
            serve_unsched: BTreeMap::new(),
            open_cache: None,
        })
    }

    /// Lets training jobs also run at half or twice their chips on a pool (the
    /// configuration's `elastic`), for the policies that plan more than one shape.
    pub fn set_elastic(&mut self, on: bool) {
        self.elastic = on;
    }

    /// The LP method of the LP policies (the configuration's `solver`).
    pub fn set_solver(&mut self, solver: tessera_sched::Solver) {
        self.cfg.solver = solver;
        self.core.set_solver(solver);
    }

    /// The index of the engine an attempt names.
    fn engine_of(&self, name: &str) -> Option<usize> {
        self.engines.iter().position(|x| x.name() == name)
    }

    fn engine_ok(&self, e: usize, now: f64) -> bool {
        let s = lock(&self.snapshot);
        s.engines[e].healthy || now >= s.engines[e].retry_at
    }

    fn engine_result<T>(&self, e: usize, now: f64, r: Result<T, EngineError>) -> Option<T> {
        let mut s = lock(&self.snapshot);
        let h = &mut s.engines[e];
        match r {
            Ok(v) => {
                h.healthy = true;
                h.failures = 0;
                h.last_error = None;
                Some(v)
            }
            Err(err) => {
                h.healthy = false;
                h.failures += 1;
                // 1, 2, 4 ... 60 s.
                h.retry_at = now + 2f64.powi(h.failures.min(6) as i32 - 1).min(60.0);
                h.last_error = Some(err.to_string());
                tracing::warn!(engine = %h.name, error = %err, "engine call failed");
                None
            }
        }
    }

    /// One pass of the loop at time `now`.
    pub fn tick(&mut self, now: f64) -> Result<(), LiveError> {
        let jobs_by_engine = self.refresh(now);
        // Each step reads the open jobs as the last one left them; a read is reused
        // while nothing has been written since (most ticks change little).
        let mut cache = self.open_cache.take();
        let open = self.open_jobs(&mut cache)?;
        self.reconcile(now, &open, &jobs_by_engine)?;
        let open = self.open_jobs(&mut cache)?;
        self.serving(now, &open)?;
        let open = self.open_jobs(&mut cache)?;
        self.cancels(now, &open)?;
        let open = self.open_jobs(&mut cache)?;
        self.admit(now, &open)?;
        self.rounds(now, &open)?;
        self.open_cache = cache;
        lock(&self.snapshot).last_tick_at = now;
        Ok(())
    }

    /// The open jobs: the cached read while the store's write count says it is current.
    fn open_jobs(
        &self,
        cache: &mut Option<(u64, Arc<Vec<JobRecord>>)>,
    ) -> Result<Arc<Vec<JobRecord>>, LiveError> {
        let mut st = lock(&self.store);
        let n = st.write_count();
        if let Some((m, jobs)) = cache.as_ref()
            && *m == n
        {
            return Ok(jobs.clone());
        }
        let jobs = Arc::new(st.open_jobs()?);
        *cache = Some((n, jobs.clone()));
        Ok(jobs)
    }

    /// Capacity and engine jobs, per engine (`None` where the engine failed).
    fn refresh(&mut self, now: f64) -> Vec<Option<Vec<EngineJob>>> {
        let mut listed = Vec::new();
        let mut nodes_of = Vec::new();
        for e in 0..self.engines.len() {
            if !self.engine_ok(e, now) {
                listed.push(None);
                nodes_of.push(None);
                continue;
            }
            let n = self.engines[e].nodes();
            let n = self.engine_result(e, now, n);
            let j = if n.is_some() {
                let j = self.engines[e].jobs();
                self.engine_result(e, now, j)
            } else {
                None
            };
            nodes_of.push(n);
            listed.push(j);
        }
        let mut status = Vec::new();
        let mut cap = Vec::new();
        for (i, p) in self.pools.iter().enumerate() {
            let (gname, gtype) = p.gres_parts();
            let mut s = PoolStatus {
                name: p.name.clone(),
                chip: self.pool_chip[i].clone(),
                engine: p.engine.clone(),
                partition: p.partition.clone(),
                gres: format!("{gname}:{gtype}"),
                chips: 0,
                chips_used: 0,
                nodes_up: 0,
                nodes_drained: 0,
                nodes_down: 0,
                chips_per_node: 0,
            };
            if let Some(nodes) = &nodes_of[self.pool_engine[i]] {
                for n in nodes
                    .iter()
                    .filter(|n| n.partition == p.partition && n.gres_type == gtype)
                {
                    match n.state {
                        NodeState::Up => {
                            s.nodes_up += 1;
                            s.chips += n.chips;
                            s.chips_used += n.chips_used;
                            s.chips_per_node = s.chips_per_node.max(n.chips);
                        }
                        NodeState::Drained => s.nodes_drained += 1,
                        NodeState::Down => s.nodes_down += 1,
                    }
                }
            } else {
                // An engine that cannot be read keeps the pool's last known shape, so
                // nothing is stopped for want of an answer; nothing new goes there.
                if let Some(old) = lock(&self.snapshot).pools.get(i) {
                    s = PoolStatus {
                        chips: 0,
                        ..old.clone()
                    };
                }
            }
            cap.push(s.chips);
            status.push(s);
        }
        let changed = lock(&self.snapshot)
            .pools
            .iter()
            .map(|p| p.chips)
            .ne(cap.iter().copied());
        if self.core.set_capacity(&cap).is_err() {
            tracing::error!("pool count changed under the scheduler");
        }
        if changed && self.round.is_none() {
            // Act on a pool that grew or shrank now, not at the next round.
            self.next_round_at = now;
        }
        lock(&self.snapshot).pools = status;
        listed
    }

    fn reconcile(
        &mut self,
        now: f64,
        open: &[JobRecord],
        listed: &[Option<Vec<EngineJob>>],
    ) -> Result<(), LiveError> {
        let mut by_tag: Vec<HashMap<Tag, &EngineJob>> = Vec::new();
        for l in listed {
            // Should one tag ever appear twice, a live engine job wins over an ended
            // one, and a newer id over an older.
            let mut m: HashMap<Tag, &EngineJob> = HashMap::new();
            for j in l.iter().flatten() {
                let Some(t) = j.tag else { continue };
                let better = |old: &EngineJob| {
                    let num = |x: &EngineJob| x.engine_id.parse::<u64>().unwrap_or(0);
                    (!j.state.is_terminal(), num(j)) > (!old.state.is_terminal(), num(old))
                };
                if m.get(&t).is_none_or(|old| better(old)) {
                    m.insert(t, j);
                }
            }
            by_tag.push(m);
        }
        let mut known: BTreeSet<(usize, Tag)> = BTreeSet::new();
        for j in open {
            for a in j.attempts.iter().filter(|a| a.is_live()) {
                let Some(e) = self.engine_of(&a.engine) else {
                    continue;
                };
                let tag = Tag {
                    instance: self.instance,
                    job: j.id,
                    attempt: a.attempt,
                };
                known.insert((e, tag));
                if listed[e].is_none() {
                    continue; // the engine could not be read: decide nothing
                }
                let mut a = a.clone();
                if by_tag[e].contains_key(&tag) {
                    self.missing_since.remove(&tag);
                }
                match by_tag[e].get(&tag) {
                    Some(ej) => {
                        if a.engine_id.as_deref() != Some(&ej.engine_id) {
                            a.engine_id = Some(ej.engine_id.clone());
                        }
                        match ej.state {
                            EngineState::Pending => {}
                            EngineState::Held => {
                                // It will not start by itself: cancel it and run a new
                                // attempt where the scheduler next places the job.
                                let r = self.engines[e].cancel(&ej.engine_id);
                                if self.engine_result(e, now, r).is_some() {
                                    let why = format!(
                                        "attempt {} held by {} ({}); cancelled there, queued for a new attempt",
                                        a.attempt, a.engine, ej.detail
                                    );
                                    self.attempt_lost(now, j, &mut a, &why)?;
                                }
                                continue;
                            }
                            EngineState::Running if a.state == "dispatching" => {
                                a.state = "running".into();
                                a.started_at = Some(now);
                                a.nodes = ej.nodes.clone();
                                let mut st = lock(&self.store);
                                st.update_attempt(j.id, &a)?;
                                if !j.cancel_requested {
                                    st.set_state(j.id, JobState::Running, now)?;
                                }
                                continue;
                            }
                            // The node failed under it: not the job's fault, so it is
                            // queued again (a new attempt where the next round puts it).
                            EngineState::NodeFailed if !j.cancel_requested => {
                                let why = format!(
                                    "attempt {} ended with its node ({}: {}); queued for a new attempt",
                                    a.attempt, ej.nodes, ej.detail
                                );
                                self.attempt_lost(now, j, &mut a, &why)?;
                                continue;
                            }
                            // Cancelled by the engine itself before it ever ran (Slurm
                            // cancels a job whose launch failed, as after a controller
                            // crash that reused its id, since tessera forbids requeues):
                            // not the job's fault either.
                            EngineState::Cancelled
                                if !j.cancel_requested
                                    && a.state == "dispatching"
                                    && ej.exit_code.is_none() =>
                            {
                                let why = format!(
                                    "attempt {} was cancelled by {} before it ran ({}); queued for a new attempt",
                                    a.attempt, a.engine, ej.detail
                                );
                                self.attempt_lost(now, j, &mut a, &why)?;
                                continue;
                            }
                            s if s.is_terminal() => {
                                self.attempt_ended(now, j, &mut a, s, ej.exit_code)?;
                                continue;
                            }
                            _ => {}
                        }
                        lock(&self.store).update_attempt(j.id, &a)?;
                    }
                    None => match self.engines[e].outcome(tag) {
                        Some(code) => {
                            let s = if code == 0 {
                                EngineState::Succeeded
                            } else {
                                EngineState::Failed
                            };
                            self.attempt_ended(now, j, &mut a, s, Some(code))?;
                        }
                        None => {
                            // Missing, with no exit record. An attempt submitted just now
                            // may not be listed yet, and one whose engine job was purged
                            // may still be finishing on its node: wait LOST_GRACE_S
                            // before calling it lost.
                            let since = *self.missing_since.entry(tag).or_insert(now);
                            if now - since >= LOST_GRACE_S {
                                self.missing_since.remove(&tag);
                                let why = format!(
                                    "attempt {} is not known to {} (it was never submitted, or the engine lost it); queued for a new attempt",
                                    a.attempt, a.engine
                                );
                                self.attempt_lost(now, j, &mut a, &why)?;
                            }
                        }
                    },
                }
            }
        }
        // Tagged engine jobs no live attempt accounts for: report, never adopt.
        for (e, l) in listed.iter().enumerate() {
            for ej in l.iter().flatten() {
                let Some(tag) = ej.tag else { continue };
                if known.contains(&(e, tag)) {
                    continue;
                }
                if ej.state.is_terminal() {
                    // Its end is in the store (the attempt is no longer live): the
                    // engine may drop its record (Ray keeps every job until deleted).
                    if tag.instance == self.instance {
                        let r = self.engines[e].forget(&ej.engine_id);
                        if let Err(err) = r {
                            tracing::debug!(engine = %self.engines[e].name(), job = %ej.engine_id, error = %err, "forget");
                        }
                    }
                    continue;
                }
                let key = format!("{}:{}", self.engines[e].name(), ej.engine_id);
                if self.reported_unknown.insert(key) {
                    let ours = (tag.instance == self.instance).then_some(tag.job);
                    lock(&self.store).log(
                        now,
                        ours,
                        "unknown-engine-job",
                        &format!(
                            "{} job {} carries tessera tag {} but no live attempt of this server ({:08x}) has it; left alone",
                            self.engines[e].name(),
                            ej.engine_id,
                            tag.comment(),
                            self.instance
                        ),
                    )?;
                }
            }
        }
        Ok(())
    }

    fn attempt_ended(
        &mut self,
        now: f64,
        j: &JobRecord,
        a: &mut Attempt,
        s: EngineState,
        exit: Option<i32>,
    ) -> Result<(), LiveError> {
        let stopping = a.state == "stopping";
        a.ended_at = Some(now);
        a.exit_code = exit;
        let next = if j.cancel_requested {
            a.state = "cancelled".into();
            JobState::Cancelled
        } else if stopping {
            a.state = "preempted".into();
            JobState::Preempted
        } else {
            match s {
                EngineState::Succeeded => {
                    a.state = "succeeded".into();
                    JobState::Succeeded
                }
                EngineState::Cancelled => {
                    // Cancelled on the engine by someone else: the job did not finish.
                    a.state = "cancelled".into();
                    JobState::Failed
                }
                _ => {
                    a.state = "failed".into();
                    JobState::Failed
                }
            }
        };
        let mut st = lock(&self.store);
        st.update_attempt(j.id, a)?;
        if next == JobState::Succeeded
            && let Some(e) = self.engine_of(&a.engine)
            && let Some(by) = self.engines[e].finished_by(Tag {
                instance: self.instance,
                job: j.id,
                attempt: a.attempt,
            })
        {
            st.log(
                now,
                Some(j.id),
                "finished-by-lost-attempt",
                &format!(
                    "attempt {} did not run the job: attempt {by}, which {} had lost, finished it",
                    a.attempt, a.engine
                ),
            )?;
        }
        st.set_state(j.id, next, now)?;
        drop(st);
        if next.is_final() {
            self.finished(j.id)?;
        } else {
            self.placement_lost(j.id, false)?;
        }
        Ok(())
    }

    fn attempt_lost(
        &mut self,
        now: f64,
        j: &JobRecord,
        a: &mut Attempt,
        why: &str,
    ) -> Result<(), LiveError> {
        a.state = "lost".into();
        a.ended_at = Some(now);
        let lost = 1 + j
            .attempts
            .iter()
            .filter(|x| x.state == "lost" && x.attempt != a.attempt)
            .count();
        let next = if j.cancel_requested {
            JobState::Cancelled
        } else if lost >= MAX_LOST_ATTEMPTS {
            JobState::Failed
        } else {
            JobState::Queued
        };
        let mut st = lock(&self.store);
        st.update_attempt(j.id, a)?;
        st.log(now, Some(j.id), "lost", why)?;
        if next == JobState::Failed {
            st.log(
                now,
                Some(j.id),
                "failed",
                &format!("{lost} attempts lost (at most {MAX_LOST_ATTEMPTS}); not queued again"),
            )?;
        }
        st.set_state(j.id, next, now)?;
        drop(st);
        self.placement_lost(j.id, next.is_final())
    }

    fn finished(&mut self, job: u64) -> Result<(), LiveError> {
        if let Some(&i) = self.core_idx.get(&job) {
            self.core.handle(Event::Finished { job: i })?;
        }
        Ok(())
    }

    fn placement_lost(&mut self, job: u64, fin: bool) -> Result<(), LiveError> {
        if let Some(&i) = self.core_idx.get(&job) {
            self.core.handle(Event::PlacementLost { job: i })?;
            if fin {
                self.core.handle(Event::Finished { job: i })?;
            }
        }
        Ok(())
    }

    /// Serving jobs: sizes each new one with the serving planner over the live pools it
    /// accepts and records the replica count in its spec; keeps as many replica jobs
    /// open as it asks for (a failed or lost replica is replaced, at most
    /// `max_replica_failures` times; one that ended with success, or was cancelled by
    /// itself, stays ended); cancels replicas above the count and all of them when the
    /// job is cancelled; and derives the job's state from its replicas'.
    fn serving(&mut self, now: f64, open: &[JobRecord]) -> Result<(), LiveError> {
        let ids: BTreeSet<u64> = open.iter().map(|j| j.id).collect();
        self.serve_unsched.retain(|k, _| ids.contains(k));
        for j in open {
            let JobSpec::Serve(v) = &j.spec else { continue };
            let children = lock(&self.store).children(j.id)?;
            let open_children: Vec<&JobRecord> =
                children.iter().filter(|c| !c.state.is_final()).collect();
            if j.cancel_requested {
                let mut st = lock(&self.store);
                for c in &open_children {
                    if !c.cancel_requested {
                        st.request_cancel(c.id, now)?;
                    }
                }
                if open_children.is_empty() {
                    st.set_state(j.id, JobState::Cancelled, now)?;
                }
                drop(st);
                self.serve_unsched.remove(&j.id);
                continue;
            }
            // Size it once: the first replica's spec holds the plan, its own the count.
            let template = match children.last() {
                Some(c) => match &c.spec {
                    JobSpec::Replica(r) => r.clone(),
                    _ => continue,
                },
                None => match self.size_serve(j.id, v) {
                    Ok((template, replicas, why)) => {
                        self.serve_unsched.remove(&j.id);
                        let mut spec = v.clone();
                        spec.replicas = Some(v.replicas.unwrap_or(replicas));
                        let mut st = lock(&self.store);
                        st.set_spec(j.id, &JobSpec::Serve(spec), now)?;
                        st.log(now, Some(j.id), "sized", &why)?;
                        drop(st);
                        template
                    }
                    Err(why) => {
                        self.serve_unsched.insert(j.id, why);
                        continue;
                    }
                },
            };
            let want = lock(&self.store)
                .job(j.id)?
                .and_then(|x| match x.spec {
                    JobSpec::Serve(s) => s.replicas,
                    _ => None,
                })
                .unwrap_or(1);
            let index = |c: &JobRecord| match &c.spec {
                JobSpec::Replica(r) => r.replica,
                _ => u32::MAX,
            };
            let failed = children
                .iter()
                .filter(|c| c.state == JobState::Failed)
                .count();
            let limit = max_replica_failures(want);
            let mut st = lock(&self.store);
            if failed > limit {
                for c in &open_children {
                    if !c.cancel_requested {
                        st.request_cancel(c.id, now)?;
                    }
                }
                if open_children.is_empty() {
                    st.log(
                        now,
                        Some(j.id),
                        "failed",
                        &format!("{failed} replica jobs failed (at most {limit} are replaced)"),
                    )?;
                    st.set_state(j.id, JobState::Failed, now)?;
                }
                continue;
            }
            // Scale down: the highest indices go.
            for c in open_children.iter().filter(|c| index(c) >= want) {
                if !c.cancel_requested {
                    st.request_cancel(c.id, now)?;
                    st.log(
                        now,
                        Some(j.id),
                        "scaled",
                        &format!(
                            "replica {} (job {}) cancelled: {want} wanted",
                            index(c),
                            c.id
                        ),
                    )?;
                }
            }
            // Each index below the count has an open replica, unless its last replica
            // ended by itself (success, or cancelled on its own).
            let mut created = 0;
            for r in 0..want {
                if open_children.iter().any(|c| index(c) == r) {
                    continue;
                }
                let last = children.iter().rev().find(|c| index(c) == r);
                if last.is_some_and(|c| c.state != JobState::Failed) {
                    continue;
                }
                let mut spec = template.clone();
                spec.replica = r;
                spec.name = format!("{}-replica-{r}", v.name);
                let id = st.insert_job(&j.owner, &JobSpec::Replica(spec), now)?;
                st.log(
                    now,
                    Some(j.id),
                    "replica",
                    &format!(
                        "replica {r} is job {id}{}",
                        if last.is_some() {
                            " (the last one failed)"
                        } else {
                            ""
                        }
                    ),
                )?;
                created += 1;
            }
            let running = open_children.iter().any(|c| c.state == JobState::Running);
            let next = if running {
                JobState::Running
            } else if open_children.is_empty() && created == 0 {
                JobState::Succeeded
            } else {
                JobState::Queued
            };
            if next != j.state {
                st.set_state(j.id, next, now)?;
            }
        }
        Ok(())
    }

    /// The cheapest serving plan over the live pools a serving job accepts: one
    /// replica's spec (its script filled in), the planned replica count, and a line for
    /// the event log; or why no pool can serve it.
    fn size_serve(
        &self,
        id: u64,
        v: &crate::job::ServeJobSpec,
    ) -> Result<(crate::job::ReplicaSpec, u32, String), String> {
        use tessera_plan::fleet::{PoolChip, ServeRequest};
        let model = self.catalog.model(&v.model).map_err(|e| e.to_string())?;
        let mut fleet = fleet_of(&lock(&self.snapshot));
        fleet
            .pools
            .retain(|p| v.chip_types.is_empty() || v.chip_types.contains(&p.chip));
        if fleet.pools.is_empty() {
            return Err(format!(
                "no pool with nodes up holds chip types {:?}",
                v.chip_types
            ));
        }
        let pools: Vec<PoolChip> = fleet
            .pools
            .iter()
            .filter_map(|p| {
                Some(PoolChip {
                    pool: p,
                    chip: self.catalog.chip(&p.chip).ok()?,
                })
            })
            .collect();
        let r = ServeRequest {
            rate: v.rate,
            input_len: v.input_len,
            output_len: v.output_len,
            precision: crate::job::serve_precision(v.precision.as_deref())
                .ok_or("unknown precision")?,
            ttft_slo_s: v.ttft_slo_s,
            tpot_slo_s: Some(v.tpot_slo_s.unwrap_or(crate::job::DEFAULT_TPOT_SLO_S)),
            top: 1,
            stack: None,
        };
        let plan = tessera_plan::fleet::plan_serve_fleet(&model, &fleet, &pools, &r);
        let Some(best) = plan.plans.first() else {
            let notes: Vec<String> = plan
                .pools
                .iter()
                .map(|n| format!("{}: {}", n.pool, n.note))
                .collect();
            return Err(if notes.is_empty() {
                "the serving planner found no plan".into()
            } else {
                notes.join("; ")
            });
        };
        let pool = fleet
            .pools
            .iter()
            .find(|p| p.name == best.pool)
            .ok_or("the plan names an unknown pool")?;
        let l = &best.plan.layout;
        let per = l.chips_per_replica().max(1) as u32;
        let cpn = pool.chips_per_node.max(1);
        let nodes = per.div_ceil(cpn);
        let replicas = best.plan.replicas.clamp(1, crate::job::MAX_REPLICAS as u64) as u32;
        let quoted: Vec<String> = best
            .launch
            .args
            .iter()
            .map(|a| tessera_plan::emit::quote(a))
            .collect();
        let command = v
            .entrypoint
            .replace("{launch}", &quoted.join(" "))
            .replace("{framework}", best.launch.framework)
            .replace("{model}", &model.id)
            .replace("{tp}", &l.tp.to_string())
            .replace("{pp}", &l.pp.to_string())
            .replace("{dp}", &l.attn_dp.to_string())
            .replace("{ep}", &l.ep.to_string())
            .replace("{chips}", &per.to_string())
            .replace("{nodes}", &nodes.to_string())
            .replace("{chips_per_node}", &per.min(cpn).to_string())
            .replace("{replica}", "${TESSERA_REPLICA}")
            .replace("{replicas}", &replicas.to_string());
        let est = &best.plan.per_replica;
        let why = format!(
            "job {id} on pool {} ({}): {replicas} replica(s) of TP{} PP{} DP{} EP{} on {per} chip(s) each, {} the planner's count; {:.0} output tokens/s per replica; {}",
            best.pool,
            best.chip,
            l.tp,
            l.pp,
            l.attn_dp,
            l.ep,
            if v.replicas.is_some() {
                "the job fixes the count, not"
            } else {
                "as"
            },
            est.output_tokens_per_s,
            best.plan
                .usd_per_million_output_tokens
                .map_or("cost unknown".into(), |c| format!(
                    "{c:.3} USD per million output tokens"
                )),
        );
        Ok((
            crate::job::ReplicaSpec {
                parent: id,
                replica: 0,
                name: format!("{}-replica-0", v.name),
                command,
                resources: crate::job::Resources {
                    chips: per,
                    chip_types: vec![best.chip.clone()],
                },
                priority: v.priority,
            },
            replicas,
            why,
        ))
    }

    /// Cancels asked for, and stops whose grace has run out.
    fn cancels(&mut self, now: f64, open: &[JobRecord]) -> Result<(), LiveError> {
        for j in open {
            if matches!(j.spec, JobSpec::Serve(_)) {
                continue; // its replicas are cancelled, and it ends, in `serving`
            }
            let live: Vec<&Attempt> = j.attempts.iter().filter(|a| a.is_live()).collect();
            if j.cancel_requested && live.is_empty() {
                lock(&self.store).set_state(j.id, JobState::Cancelled, now)?;
                self.finished(j.id)?;
                continue;
            }
            for a in live {
                let Some(e) = self.engine_of(&a.engine) else {
                    continue;
                };
                let Some(id) = a.engine_id.clone() else {
                    continue;
                };
                let due_stop = a.state == "stopping" && a.stop_at.is_some_and(|t| now >= t);
                if (j.cancel_requested || due_stop) && self.engine_ok(e, now) {
                    let r = self.engines[e].cancel(&id);
                    // An id the engine no longer knows is fine: reconcile settles it.
                    let r = match r {
                        Err(EngineError::Rejected { .. }) => Ok(()),
                        r => r,
                    };
                    self.engine_result(e, now, r);
                }
            }
        }
        Ok(())
    }

    /// Which pools a job can run on and how fast (1 per pool for batch jobs, whose speed
    /// is unknown; the planned tokens/s for training jobs); the reason when none.
    fn shapes(
        &mut self,
        id: u64,
        spec: &JobSpec,
    ) -> (Vec<f64>, Vec<tessera_sched::MixedUse>, Option<String>) {
        let pools = lock(&self.snapshot).pools.clone();
        let chips = spec.chips();
        let want = spec.chip_types().to_vec();
        let mut tput = vec![0.0; self.pools.len()];
        let mut why = Vec::new();
        for (i, t) in tput.iter_mut().enumerate() {
            let name = self.pools[i].name.clone();
            if !want.is_empty() && !want.iter().any(|w| *w == self.pool_chip[i]) {
                continue;
            }
            let Some(s) = pools.get(i) else { continue };
            let cpn = s.chips_per_node.max(1);
            if chips > cpn && !chips.is_multiple_of(cpn) {
                why.push(format!(
                    "{name}: {chips} chips are not whole nodes of {cpn}"
                ));
                continue;
            }
            if chips > s.chips {
                why.push(format!(
                    "{name}: {chips} chips, the pool has {} up",
                    s.chips
                ));
                // Still a candidate: nodes may come back.
            }
            *t = match spec {
                JobSpec::Batch(_) | JobSpec::Replica(_) => 1.0,
                JobSpec::Serve(_) => 0.0,
                JobSpec::Train(job) => {
                    let (catalog, chip_id) = (&self.catalog, &self.pool_chip[i]);
                    let plan = self.plans.entry((id, i)).or_insert_with(|| {
                        let model = catalog.model(&job.model).map_err(|e| e.to_string())?;
                        let chip = catalog.chip(chip_id).map_err(|e| e.to_string())?;
                        tessera_plan::fleet::best_on_chips(
                            &model,
                            chip,
                            chips as u64,
                            job.seq_len,
                            job.batch(),
                        )
                    });
                    match plan {
                        Ok((p, _)) => p.estimate.tokens_per_s,
                        Err(e) => {
                            why.push(format!("{name}: {e}"));
                            0.0
                        }
                    }
                }
            };
        }
        let mixed = match spec {
            JobSpec::Train(job) if self.cfg.policy.uses_mixed() => {
                let mut m = self.gangs_of(id, job, chips, &want, &pools);
                if self.elastic {
                    m.extend(self.sizes_of(id, job, chips, &want, &pools));
                }
                m
            }
            _ => Vec::new(),
        };
        let reason = if tput.iter().all(|&t| t <= 0.0) && mixed.is_empty() {
            Some(if why.is_empty() {
                format!("no pool holds chip types {want:?}")
            } else {
                why.join("; ")
            })
        } else {
            None
        };
        (tput, mixed, reason)
    }

    /// A training job's predicted speed where it may run, as its page shows it: per
    /// pool the planned layout and tokens/s (or why none fits), and its gangs and sizes.
    fn predicted(&self, id: u64, tput: &[f64], mixed: &[tessera_sched::MixedUse]) -> String {
        let mut parts = Vec::new();
        for (i, t) in tput.iter().enumerate() {
            let name = &self.pools[i].name;
            match self.plans.get(&(id, i)) {
                Some(Ok((p, launch))) if *t > 0.0 => {
                    let l = &p.layout;
                    parts.push(format!(
                        "{name} ({}): {:.0} tokens/s, tp{} pp{} dp{} cp{} ep{} micro-batch {}, {}",
                        self.pool_chip[i],
                        t,
                        l.tp,
                        l.pp,
                        l.dp,
                        l.cp,
                        l.ep,
                        l.micro_batch,
                        launch.framework
                    ));
                }
                Some(Err(e)) => parts.push(format!("{name} ({}): no plan: {e}", self.pool_chip[i])),
                _ => {}
            }
        }
        for m in mixed {
            let uses: Vec<String> = m
                .uses
                .iter()
                .map(|&(p, n)| {
                    format!(
                        "{n} on {}",
                        self.pools.get(p).map_or("?", |q| q.name.as_str())
                    )
                })
                .collect();
            parts.push(format!(
                "{}: {:.0} tokens/s",
                uses.join(" + "),
                m.throughput
            ));
        }
        if parts.is_empty() {
            "no pool it accepts has a plan".into()
        } else {
            parts.join("; ")
        }
    }

    /// A training job's gangs across two pools: every two acceptable pools of one engine
    /// that starts jobs across pools, with a configured link between them, for each
    /// split of the job's chips ([`tessera_plan::speed::gang_splits`]) that is whole
    /// nodes on both and fits the pools, where the mixed planner finds a launchable
    /// plan at the job's batch. Planned once per job.
    fn gangs_of(
        &mut self,
        id: u64,
        job: &crate::job::TrainJobSpec,
        chips: u32,
        want: &[String],
        pools: &[PoolStatus],
    ) -> Vec<tessera_sched::MixedUse> {
        if !self.gangs.contains_key(&id) {
            let links = lock(&self.snapshot).links.clone();
            let mut runs = Vec::new();
            let ok = |i: usize| want.is_empty() || want.iter().any(|w| *w == self.pool_chip[i]);
            let whole = |n: u32, cpn: u32| n <= cpn || n.is_multiple_of(cpn);
            let n = self.pools.len();
            for a in 0..n {
                for b in a + 1..n {
                    let same = self.pool_engine[a] == self.pool_engine[b];
                    if !(ok(a)
                        && ok(b)
                        && same
                        && self.engines[self.pool_engine[a]].runs_gangs_across())
                    {
                        continue;
                    }
                    let (na, nb) = (&self.pools[a].name, &self.pools[b].name);
                    let Some(l) = links.iter().find(|l| {
                        l.pools.len() == 2
                            && ((&l.pools[0] == na && &l.pools[1] == nb)
                                || (&l.pools[0] == nb && &l.pools[1] == na))
                    }) else {
                        continue;
                    };
                    let (Some(sa), Some(sb)) = (pools.get(a), pools.get(b)) else {
                        continue;
                    };
                    let (Ok(model), Ok(ca), Ok(cb)) = (
                        self.catalog.model(&job.model),
                        self.catalog.chip(&self.pool_chip[a]),
                        self.catalog.chip(&self.pool_chip[b]),
                    ) else {
                        continue;
                    };
                    let link = l.to_link();
                    for (xa, xb) in tessera_plan::speed::gang_splits(chips) {
                        let (pa, pb) = (sa.chips_per_node.max(1), sb.chips_per_node.max(1));
                        if !whole(xa, pa) || !whole(xb, pb) || xa > sa.chips || xb > sb.chips {
                            continue;
                        }
                        if let Ok(g) = tessera_plan::fleet::gang_on_chips(
                            &model,
                            (ca, cb),
                            (xa, xb),
                            &link,
                            job.seq_len,
                            job.batch(),
                        ) {
                            // The gang holds the split it asked for (whole nodes).
                            runs.push(GangRun {
                                pools: [a, b],
                                chips: [xa, xb],
                                plan: g.plan,
                            });
                        }
                    }
                }
            }
            self.gangs.insert(id, runs);
        }
        self.gangs[&id]
            .iter()
            .map(|g| tessera_sched::MixedUse {
                uses: vec![(g.pools[0], g.chips[0]), (g.pools[1], g.chips[1])],
                throughput: g.plan.tokens_per_s,
                pieces: Vec::new(),
            })
            .collect()
    }

    /// A training job's other sizes: half and twice its chips on each acceptable pool,
    /// in whole nodes and within the pool, where a layout fits at the job's batch.
    /// Planned once per job.
    fn sizes_of(
        &mut self,
        id: u64,
        job: &crate::job::TrainJobSpec,
        chips: u32,
        want: &[String],
        pools: &[PoolStatus],
    ) -> Vec<tessera_sched::MixedUse> {
        if !self.sizes.contains_key(&id) {
            let mut runs = Vec::new();
            for (i, st) in pools.iter().enumerate().take(self.pools.len()) {
                if !(want.is_empty() || want.iter().any(|w| *w == self.pool_chip[i])) {
                    continue;
                }
                let cpn = st.chips_per_node.max(1);
                let (Ok(model), Ok(chip)) = (
                    self.catalog.model(&job.model),
                    self.catalog.chip(&self.pool_chip[i]),
                ) else {
                    continue;
                };
                for w in [chips / 2, chips.saturating_mul(2)] {
                    if w == 0 || w == chips || w > st.chips || (w > cpn && !w.is_multiple_of(cpn)) {
                        continue;
                    }
                    if let Ok(plan) = tessera_plan::fleet::best_on_chips(
                        &model,
                        chip,
                        w as u64,
                        job.seq_len,
                        job.batch(),
                    ) {
                        runs.push(SizeRun {
                            pool: i,
                            chips: w,
                            plan,
                        });
                    }
                }
            }
            self.sizes.insert(id, runs);
        }
        self.sizes[&id]
            .iter()
            .map(|r| tessera_sched::MixedUse {
                uses: vec![(r.pool, r.chips)],
                throughput: r.plan.0.estimate.tokens_per_s,
                pieces: Vec::new(),
            })
            .collect()
    }

    /// The index into the job's `SimJob::mixed` of a gang or another size (`None` on
    /// its own size on one pool): its gangs first, then its sizes.
    fn option_of(&self, job: u64, w: Where) -> Option<usize> {
        match w {
            Where::Pool(_) => None,
            Where::Gang(m) => Some(m),
            Where::Size(k) => Some(self.gangs.get(&job).map_or(0, |g| g.len()) + k),
        }
    }

    /// Where an option of `job`'s `SimJob::mixed` runs: the inverse of [`Live::option_of`].
    fn where_of_option(&self, job: u64, option: usize) -> Where {
        let ng = self.gangs.get(&job).map_or(0, |g| g.len());
        if option < ng {
            Where::Gang(option)
        } else {
            Where::Size(option - ng)
        }
    }

    /// Chips an attempt of `job` at `w` holds.
    fn where_chips(&self, job: u64, w: Where, spec_chips: u32) -> u32 {
        match w {
            Where::Pool(_) => spec_chips,
            Where::Gang(m) => self
                .gangs
                .get(&job)
                .and_then(|g| g.get(m))
                .map_or(spec_chips, |g| g.chips.iter().sum()),
            Where::Size(k) => self
                .sizes
                .get(&job)
                .and_then(|g| g.get(k))
                .map_or(spec_chips, |r| r.chips),
        }
    }

    /// The pool name an attempt of `job` records for `w`: the pool's, or both pools'
    /// joined by `+` for a gang.
    fn where_name(&self, job: u64, w: Where) -> String {
        match w {
            Where::Pool(p) => self.pools[p].name.clone(),
            Where::Size(k) => self
                .sizes
                .get(&job)
                .and_then(|g| g.get(k))
                .map_or_else(String::new, |r| self.pools[r.pool].name.clone()),
            Where::Gang(m) => {
                self.gangs
                    .get(&job)
                    .and_then(|g| g.get(m))
                    .map_or_else(String::new, |g| {
                        format!(
                            "{}+{}",
                            self.pools[g.pools[0]].name, self.pools[g.pools[1]].name
                        )
                    })
            }
        }
    }

    /// Gives the core the open jobs it does not know yet.
    fn admit(&mut self, now: f64, open: &[JobRecord]) -> Result<(), LiveError> {
        let mut unsched = BTreeMap::new();
        for j in open {
            if self.core_idx.contains_key(&j.id)
                || j.cancel_requested
                || matches!(j.spec, JobSpec::Serve(_))
            {
                continue;
            }
            let (tput, mixed, reason) = self.shapes(j.id, &j.spec);
            if let Some(r) = reason {
                unsched.insert(j.id, r);
                continue;
            }
            if matches!(j.spec, JobSpec::Train(_)) {
                let detail = self.predicted(j.id, &tput, &mixed);
                lock(&self.store).log(now, Some(j.id), "predicted", &detail)?;
            }
            let total = match &j.spec {
                JobSpec::Batch(_) | JobSpec::Serve(_) | JobSpec::Replica(_) => UNKNOWN_STEPS,
                JobSpec::Train(t) => {
                    let left = *self.left.entry(j.id).or_insert(t.total_tokens());
                    left.max(1.0)
                }
            };
            let i = self.core.add(SimJob {
                id: j.id as usize,
                arrival_s: j.submitted_at,
                total_steps: total,
                scale_factor: j.spec.chips(),
                weight: 1.0,
                priority: j.spec.priority(),
                kind: None,
                throughput: tput,
                throughput_spread: None,
                throughput_pieces: Vec::new(),
                mixed,
            });
            self.core_idx.insert(j.id, i);
            self.job_of.push(j.id);
            self.core.handle(Event::Arrived { job: i })?;
            let _ = now;
        }
        unsched.extend(self.serve_unsched.iter().map(|(k, v)| (*k, v.clone())));
        lock(&self.snapshot).unschedulable = unsched;
        Ok(())
    }

    fn rounds(&mut self, now: f64, open: &[JobRecord]) -> Result<(), LiveError> {
        let by_id: HashMap<u64, &JobRecord> = open.iter().map(|j| (j.id, j)).collect();
        // End the round in progress.
        if let Some((start, placed)) = &self.round {
            if now - start < self.cfg.round_s {
                return Ok(());
            }
            let (start, used) = (*start, (now - start).min(self.cfg.round_s));
            for &(job, w) in placed {
                let Some(&i) = self.core_idx.get(&job) else {
                    continue;
                };
                let name = self.where_name(job, w);
                let open = by_id.get(&job).filter(|j| !j.state.is_final());
                let left = match open {
                    None => 0.0,
                    Some(j) => match &j.spec {
                        JobSpec::Batch(_) | JobSpec::Serve(_) | JobSpec::Replica(_) => {
                            UNKNOWN_STEPS
                        }
                        JobSpec::Train(t) => {
                            // Progress at the planned speed while its attempt ran on this
                            // pool, less the restart cost of an attempt begun this round.
                            let speed = match self.option_of(job, w) {
                                None => match w {
                                    Where::Pool(p) => self.core.jobs()[i].throughput[p],
                                    _ => 0.0,
                                },
                                Some(m) => self.core.jobs()[i]
                                    .mixed
                                    .get(m)
                                    .map_or(0.0, |g| g.throughput),
                            };
                            let run = j
                                .attempts
                                .iter()
                                .rev()
                                .find(|a| a.state == "running" && a.pool == name)
                                .and_then(|a| a.started_at)
                                .map_or(0.0, |s0| {
                                    let ran = (now - s0.max(start)).clamp(0.0, used);
                                    if s0 >= start {
                                        (ran - t.checkpoint_restart_s).max(0.0)
                                    } else {
                                        ran
                                    }
                                });
                            let l = self.left.entry(job).or_insert(t.total_tokens());
                            *l = (*l - speed * run).max(1.0);
                            *l
                        }
                    },
                };
                self.core.handle(Event::Ran {
                    job: i,
                    used_s: used,
                    steps_left: left,
                })?;
            }
            self.core.handle(Event::RoundEnded)?;
            self.round = None;
            lock(&self.snapshot).rounds += 1;
            self.compact()?;
        }
        if now < self.next_round_at || self.core.active().is_empty() {
            return Ok(());
        }
        let plan = match self.core.handle(Event::RoundDue { now })? {
            Reaction::Round(p) => p,
            Reaction::Wait { next_allocation_s } => {
                self.next_round_at = next_allocation_s.min(now + self.cfg.round_s);
                return Ok(());
            }
            Reaction::None => return Ok(()),
        };
        let want: HashMap<u64, Where> = plan
            .placements
            .iter()
            .map(|p| {
                let id = self.job_of[p.job];
                let w = match &p.across {
                    Some(a) => self.where_of_option(id, a.option),
                    None => Where::Pool(p.ty),
                };
                (id, w)
            })
            .collect();
        // Stop what moved or lost its place (preemptible jobs only).
        for j in open {
            let Some(a) = j.attempts.iter().rev().find(|a| a.is_live()) else {
                continue;
            };
            if a.state == "stopping" || !j.spec.preemptible() {
                continue;
            }
            if want.get(&j.id).is_some_and(|&w| {
                self.where_name(j.id, w) == a.pool
                    && self.where_chips(j.id, w, j.spec.chips()) == a.chips
            }) {
                continue;
            }
            self.stop(now, j, a)?;
        }
        // Dispatch what has a place and no live attempt.
        for (&job, &w) in &want {
            let Some(j) = by_id.get(&job) else { continue };
            if j.cancel_requested || j.attempts.iter().any(|a| a.is_live()) {
                continue;
            }
            self.dispatch(now, j, w)?;
        }
        self.round = Some((now, want.into_iter().collect()));
        self.next_round_at = now + self.cfg.round_s;
        Ok(())
    }

    /// Drops finished jobs from the core once they outnumber the queue, so memory follows
    /// the queue and not the history.
    fn compact(&mut self) -> Result<(), LiveError> {
        let (known, active) = (self.core.jobs().len(), self.core.active().len());
        if known <= 2 * active + 1024 {
            return Ok(());
        }
        let map = self.core.compact()?;
        let mut job_of = Vec::with_capacity(active);
        self.core_idx.clear();
        for (old, new) in map.iter().enumerate() {
            if let Some(n) = *new {
                debug_assert_eq!(n, job_of.len());
                job_of.push(self.job_of[old]);
                self.core_idx.insert(self.job_of[old], n);
            }
        }
        self.job_of = job_of;
        Ok(())
    }

    fn stop(&mut self, now: f64, j: &JobRecord, a: &Attempt) -> Result<(), LiveError> {
        let Some(e) = self.engine_of(&a.engine) else {
            return Ok(());
        };
        let mut a = a.clone();
        if let Some(id) = a.engine_id.clone() {
            if !self.engine_ok(e, now) {
                return Ok(());
            }
            let r = self.engines[e].signal_checkpoint(&id);
            let r = match r {
                Err(EngineError::Rejected { .. }) => Ok(()),
                r => r,
            };
            if self.engine_result(e, now, r).is_none() {
                return Ok(());
            }
        }
        a.state = "stopping".into();
        a.stop_at = Some(now + j.spec.grace_s() as f64);
        let mut st = lock(&self.store);
        st.update_attempt(j.id, &a)?;
        st.set_state(j.id, JobState::Preempted, now)?;
        st.log(
            now,
            Some(j.id),
            "preempting",
            &format!(
                "attempt {} on {}: checkpoint signal, cancel after {} s",
                a.attempt,
                a.pool,
                j.spec.grace_s()
            ),
        )?;
        Ok(())
    }

    fn dispatch(&mut self, now: f64, j: &JobRecord, w: Where) -> Result<(), LiveError> {
        let gang = match w {
            Where::Pool(_) | Where::Size(_) => None,
            Where::Gang(m) => match self.gangs.get(&j.id).and_then(|g| g.get(m)) {
                Some(g) => Some(g.clone()),
                None => return Ok(()),
            },
        };
        let size = match w {
            Where::Size(k) => match self.sizes.get(&j.id).and_then(|g| g.get(k)) {
                Some(r) => Some(r.clone()),
                None => return Ok(()),
            },
            _ => None,
        };
        let pool = match (&w, &gang, &size) {
            (Where::Pool(p), _, _) => *p,
            (_, Some(g), _) => g.pools[0],
            (_, _, Some(r)) => r.pool,
            _ => return Ok(()),
        };
        let e = self.pool_engine[pool];
        if !self.engine_ok(e, now) {
            return Ok(());
        }
        let p = &self.pools[pool];
        // Nodes and chips per node of `chips` chips on pool `i`.
        let shape = |i: usize, chips: u32| {
            let cpn = lock(&self.snapshot)
                .pools
                .get(i)
                .map_or(1, |s| s.chips_per_node.max(1));
            if chips > cpn {
                (chips / cpn, cpn)
            } else {
                (1, chips)
            }
        };
        let chips = match (&gang, &size) {
            (Some(g), _) => g.chips[0],
            (_, Some(r)) => r.chips,
            _ => j.spec.chips(),
        };
        let (nodes, per) = shape(pool, chips);
        let also: Vec<tessera_engine::Component> = gang
            .iter()
            .map(|g| {
                let b = g.pools[1];
                let (n, per_b) = shape(b, g.chips[1]);
                let (gres_name, gres_type) = self.pools[b].gres_parts();
                tessera_engine::Component {
                    target: Target {
                        partition: self.pools[b].partition.clone(),
                        gres_type,
                        gres_name,
                        visible_devices_env: self
                            .catalog
                            .chip(&self.pool_chip[b])
                            .ok()
                            .and_then(tessera_plan::emit::device_variable),
                    },
                    nodes: n,
                    chips_per_node: per_b,
                }
            })
            .collect();
        let place = self.where_name(j.id, w);
        let attempt = j.attempts.iter().map(|a| a.attempt).max().unwrap_or(0) + 1;
        let tag = Tag {
            instance: self.instance,
            job: j.id,
            attempt,
        };
        let (gres_name, gres_type) = p.gres_parts();
        let chip_name = match &gang {
            Some(g) => format!(
                "{}+{}",
                self.pool_chip[g.pools[0]], self.pool_chip[g.pools[1]]
            ),
            None => self.pool_chip[pool].clone(),
        };
        let mut env = vec![
            ("TESSERA_JOB_ID".to_string(), j.id.to_string()),
            ("TESSERA_ATTEMPT".into(), attempt.to_string()),
            ("TESSERA_POOL".into(), place.clone()),
            ("TESSERA_CHIP".into(), chip_name),
        ];
        let script = match &j.spec {
            JobSpec::Batch(b) => b.command.clone(),
            JobSpec::Replica(r) => {
                env.push(("TESSERA_SERVE_JOB".into(), r.parent.to_string()));
                env.push(("TESSERA_REPLICA".into(), r.replica.to_string()));
                r.command.clone()
            }
            JobSpec::Serve(_) => return Ok(()), // never placed: its replicas are
            JobSpec::Train(t) if gang.is_some() => {
                let Some(g) = &gang else { return Ok(()) };
                let Some(launch) = &g.plan.launch else {
                    return Ok(());
                };
                let quoted: Vec<String> = launch
                    .args
                    .iter()
                    .map(|a| tessera_plan::emit::quote(a))
                    .collect();
                env.push(("TESSERA_FRAMEWORK".into(), launch.framework.to_string()));
                env.push(("TESSERA_LAUNCH_ARGS".into(), quoted.join(" ")));
                if let Some(c) = &launch.config {
                    env.push(("TESSERA_FRAMEWORK_CONFIG".into(), c.clone()));
                }
                // One part per pool: name, chip, chips, and its layout.
                let parts: Vec<String> = g
                    .plan
                    .parts
                    .iter()
                    .zip(g.pools)
                    .map(|(q, i)| {
                        let l = &q.layout;
                        format!(
                            "{}:{}:{}:tp{}pp{}dp{}",
                            self.pools[i].name, self.pool_chip[i], q.chips, l.tp, l.pp, l.dp
                        )
                    })
                    .collect();
                env.push(("TESSERA_PARTS".into(), parts.join(",")));
                let l = g.plan.parts.first().map(|q| q.layout);
                let get = |f: fn(&tessera_perf::train::Layout) -> u64| {
                    l.as_ref().map_or(String::new(), |l| f(l).to_string())
                };
                t.entrypoint
                    .replace("{launch}", &quoted.join(" "))
                    .replace("{framework}", launch.framework)
                    .replace("{tp}", &get(|l| l.tp as u64))
                    .replace("{pp}", &get(|l| l.pp as u64))
                    .replace("{dp}", &get(|l| l.dp as u64))
                    .replace("{cp}", &get(|l| l.cp as u64))
                    .replace("{ep}", &get(|l| l.ep as u64))
                    .replace("{micro_batch}", &get(|l| l.micro_batch as u64))
                    .replace("{global_batch}", &g.plan.global_batch.to_string())
                    .replace("{seq_len}", &t.seq_len.to_string())
                    .replace(
                        "{nodes}",
                        &(nodes + also.iter().map(|c| c.nodes).sum::<u32>()).to_string(),
                    )
                    .replace("{chips_per_node}", &per.to_string())
            }
            JobSpec::Train(t) => match size
                .as_ref()
                .map(|r| &r.plan)
                .or_else(|| self.plans.get(&(j.id, pool)).and_then(|r| r.as_ref().ok()))
            {
                Some((plan, launch)) => {
                    let l = &plan.layout;
                    let quoted: Vec<String> = launch
                        .args
                        .iter()
                        .map(|a| tessera_plan::emit::quote(a))
                        .collect();
                    env.push(("TESSERA_FRAMEWORK".into(), launch.framework.to_string()));
                    env.push(("TESSERA_LAUNCH_ARGS".into(), quoted.join(" ")));
                    for (k, v) in [
                        ("TP", l.tp),
                        ("PP", l.pp),
                        ("DP", l.dp),
                        ("CP", l.cp),
                        ("EP", l.ep),
                    ] {
                        env.push((format!("TESSERA_{k}"), v.to_string()));
                    }
                    t.entrypoint
                        .replace("{launch}", &quoted.join(" "))
                        .replace("{framework}", launch.framework)
                        .replace("{tp}", &l.tp.to_string())
                        .replace("{pp}", &l.pp.to_string())
                        .replace("{dp}", &l.dp.to_string())
                        .replace("{cp}", &l.cp.to_string())
                        .replace("{ep}", &l.ep.to_string())
                        .replace("{micro_batch}", &l.micro_batch.to_string())
                        .replace("{global_batch}", &plan.global_batch.to_string())
                        .replace("{seq_len}", &t.seq_len.to_string())
                        .replace("{nodes}", &nodes.to_string())
                        .replace("{chips_per_node}", &per.to_string())
                }
                // No plan there: the job is never placed there (its speed is 0).
                _ => return Ok(()),
            },
        };
        // A training attempt's layout and launch, for its page: the variables the
        // script gets, in their order.
        let launch: Vec<String> = env
            .iter()
            .filter(|(k, _)| {
                k.starts_with("TESSERA_")
                    && !matches!(
                        k.as_str(),
                        "TESSERA_JOB_ID" | "TESSERA_ATTEMPT" | "TESSERA_POOL" | "TESSERA_CHIP"
                    )
            })
            .map(|(k, v)| format!("{}={v}", k.trim_start_matches("TESSERA_")))
            .collect();
        let d = Dispatch {
            tag,
            target: Target {
                partition: p.partition.clone(),
                gres_type,
                gres_name,
                visible_devices_env: self
                    .catalog
                    .chip(&self.pool_chip[pool])
                    .ok()
                    .and_then(tessera_plan::emit::device_variable),
            },
            nodes,
            chips_per_node: per,
            script,
            env,
            grace_s: j.spec.grace_s(),
            lost_attempts: j
                .attempts
                .iter()
                .filter(|a| a.state == "lost")
                .map(|a| a.attempt)
                .collect(),
            also,
        };
        let mut a = Attempt {
            attempt,
            pool: place,
            engine: p.engine.clone(),
            engine_id: None,
            state: "dispatching".into(),
            chips: self.where_chips(j.id, w, j.spec.chips()),
            nodes: String::new(),
            dispatched_at: now,
            started_at: None,
            ended_at: None,
            exit_code: None,
            stop_at: None,
        };
        {
            // Durable before the engine hears of it.
            let mut st = lock(&self.store);
            st.begin_attempt(j.id, &a)?;
            st.set_state(j.id, JobState::Dispatching, now)?;
            if matches!(j.spec, JobSpec::Train(_)) {
                st.log(
                    now,
                    Some(j.id),
                    "launch",
                    &format!("attempt {attempt} on {}: {}", a.pool, launch.join("; ")),
                )?;
            }
        }
        match self.engines[e].submit(&d) {
            Ok(id) => {
                self.engine_result::<()>(e, now, Ok(()));
                a.engine_id = Some(id);
                lock(&self.store).update_attempt(j.id, &a)?;
            }
            Err(EngineError::Rejected { message, .. }) => {
                a.state = "failed".into();
                a.ended_at = Some(now);
                let mut st = lock(&self.store);
                st.update_attempt(j.id, &a)?;
                st.log(now, Some(j.id), "rejected", &message)?;
                st.set_state(j.id, JobState::Failed, now)?;
                drop(st);
                self.finished(j.id)?;
            }
            Err(err) => {
                // Not submitted: the next reconciliation finds no engine job with this
                // tag and queues the job again.
                self.engine_result::<()>(e, now, Err(err));
            }
        }
        Ok(())
    }
}

/// Failed replica jobs a serving job with `replicas` replicas survives (replaced each
/// time); one more fails the job.
pub fn max_replica_failures(replicas: u32) -> usize {
    2 * replicas as usize + 3
}

/// The live pools (nodes up now) and the configured links between them as a fleet for
/// the planners (mixed-vendor plans need a link).
pub fn fleet_of(snap: &Snapshot) -> tessera_core::fleet::Fleet {
    tessera_core::fleet::Fleet {
        id: "live".into(),
        name: "the server's pools, nodes up now".into(),
        description: None,
        pools: snap
            .pools
            .iter()
            .filter(|p| p.nodes_up > 0)
            .map(|p| tessera_core::fleet::Pool {
                name: p.name.clone(),
                chip: p.chip.clone(),
                nodes: p.nodes_up,
                chips_per_node: p.chips_per_node.max(1),
                scale_up_domain: None,
                scale_out_gb_s: None,
            })
            .collect(),
        // Links between two pools that are both up now.
        links: snap
            .links
            .iter()
            .filter(|l| {
                l.pools
                    .iter()
                    .all(|n| snap.pools.iter().any(|p| &p.name == n && p.nodes_up > 0))
            })
            .map(|l| l.to_link())
            .collect(),
    }
}
