//! One training job over pools of different chips (docs/planner.md, "Mixed-vendor plans").
//!
//! Two forms, each built from the performance model of every pool's own chip:
//!
//! - **data-parallel**: every pool runs whole model replicas with its own best layout and
//!   its own share of the global batch, chosen so that the pools' steps end together. The
//!   gradients are exchanged hierarchically: reduce-scattered inside each pool (part of
//!   the pool's own estimate), the shards exchanged between the pools by all chips in
//!   parallel over the inter-pool link, and all-gathered inside each pool; the cross-pool
//!   part shares the window of the last micro-batch's backward pass with the in-pool
//!   traffic, and what does not fit in it is exposed.
//! - **pipeline**: the model's layers split into consecutive segments, one per pool,
//!   each pool with its own TP, DP, pipeline stages and micro-batch (FlagScale's
//!   heterogeneous process meshes: the pools' DP x micro-batch is one global micro-batch).
//!   Layers per stage are chosen so that every stage's time per micro-batch, computed for
//!   its pool's chip, balances; activations and their gradients cross each pool boundary
//!   per micro-batch at the link's rate; the 1F1B schedule's fill and drain are set by the
//!   stages' own times and its steady state by the slowest stage. Replicating the mixed
//!   pipeline (DP inside every pool's segment) is the "both together" form.
//!
//! Efficiency is the mixed plan's throughput over the sum of the pools' own best plans
//! for the same job, and each plan says which terms of its step time cost what.

use crate::launch::{Launch, TrainFramework, train_args};
use crate::train::{Plan, SearchOptions, chip_counts, search};
use tessera_core::fleet::{LinkKind, PoolLink, find_link};
use tessera_core::model::ModelArch;
use tessera_perf::Hardware;
use tessera_perf::calib::Efficiency;
use tessera_perf::train::{
    Estimate, Layout, Recompute, Segment, TrainJob, TrainPrecision, estimate_segment, stage_layers,
};

/// A pool as the mixed planner sees it.
#[derive(Debug, Clone, Copy)]
pub struct MixedPool<'a> {
    pub name: &'a str,
    pub chip: &'a str,
    pub hw: &'a Hardware,
    pub eff: &'a Efficiency,
    pub chips: u64,
    /// What the pool's framework can run (the data-parallel form searches within it).
    pub opts: SearchOptions,
    /// The pool's own best plan for the job, tokens/s: the baseline of efficiency.
    pub alone_tokens_per_s: f64,
}

/// The job, as the single-pool plans were searched for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MixedJob {
    pub seq_len: u32,
    /// Sequences per step.
    pub global_batch: u32,
    /// How far (percent) the mixed plan's batch may be from `global_batch`.
    pub tolerance_pct: u8,
    pub precision: TrainPrecision,
}

impl MixedJob {
    fn train_job(&self, batch: u32) -> TrainJob {
        TrainJob {
            seq_len: self.seq_len,
            global_batch: batch,
            precision: self.precision,
            dropout: false,
            flash_attention: true,
            grad_reduce: Default::default(),
        }
    }
}

/// One pool's part of a mixed plan.
#[derive(Debug, Clone, PartialEq)]
pub struct MixedPart {
    pub pool: String,
    pub chip: String,
    /// The pool's layout: a whole replica (data-parallel form) or its segment (pipeline).
    pub layout: Layout,
    pub chips: u64,
    /// Sequences per step through this pool (data-parallel form: its share; pipeline
    /// form: the whole batch).
    pub batch: u32,
    /// Layers on each of its pipeline stages (pipeline form: its segment of the model).
    pub stage_layers: Vec<u64>,
    /// Its step time alone at its share (data-parallel) or its busiest stage's time per
    /// micro-batch including link transfers (pipeline), seconds.
    pub time_s: f64,
    pub memory_gib_per_chip: f64,
    pub capacity_gib: f64,
}

/// One term of a mixed plan's step time.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub name: &'static str,
    pub seconds: f64,
    pub detail: String,
}

/// A mixed-vendor plan, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub struct MixedPlan {
    /// "data-parallel" or "pipeline".
    pub form: &'static str,
    pub pools: Vec<String>,
    pub parts: Vec<MixedPart>,
    pub global_batch: u32,
    pub microbatches: u32,
    pub step_time_s: f64,
    pub tokens_per_s: f64,
    /// The sum of the pools' own best throughputs.
    pub parts_tokens_per_s: f64,
    /// `tokens_per_s / parts_tokens_per_s`.
    pub efficiency: f64,
    /// The step time, term by term (they add up to `step_time_s`).
    pub terms: Vec<Term>,
    /// Time per step the inter-pool link costs (exposed), seconds.
    pub link_s: f64,
    pub feasible: bool,
    /// Whether it beats the best single pool.
    pub worthwhile: bool,
    pub note: String,
    /// FlagScale's heterogeneous launch (pipeline form), else `None` with the reason in
    /// `cannot_express`.
    pub launch: Option<Launch>,
    pub cannot_express: Vec<String>,
}

impl MixedPlan {
    fn none(form: &'static str, pools: &[MixedPool<'_>], job: &MixedJob, why: String) -> Self {
        MixedPlan {
            form,
            pools: pools.iter().map(|p| p.name.to_string()).collect(),
            parts: vec![],
            global_batch: job.global_batch,
            microbatches: 0,
            step_time_s: 0.0,
            tokens_per_s: 0.0,
            parts_tokens_per_s: parts_total(pools),
            efficiency: 0.0,
            terms: vec![],
            link_s: 0.0,
            feasible: false,
            worthwhile: false,
            note: why,
            launch: None,
            cannot_express: vec![],
        }
    }
}

fn parts_total(pools: &[MixedPool<'_>]) -> f64 {
    pools.iter().map(|p| p.alone_tokens_per_s).sum()
}

/// Exposed time of `raw` seconds of once-per-step traffic behind a window of `hide`
/// seconds, at the stack's exposed fraction: the same rule as the pool's own estimate.
fn exposed(raw: f64, hide: f64, frac: f64) -> f64 {
    (raw * frac).max(raw - hide).max(0.0)
}

/// The best plan of the whole model on a pool for `batch` sequences (within `tol_pct`),
/// over the chip counts the pool's own search tries.
fn best_replica(
    m: &ModelArch,
    p: &MixedPool<'_>,
    job: &MixedJob,
    batch: u32,
    tol_pct: u8,
) -> Option<Plan> {
    let opts = SearchOptions {
        batch_tolerance_pct: tol_pct,
        ..p.opts
    };
    let tj = job.train_job(batch.max(1));
    let mut best: Option<Plan> = None;
    for c in chip_counts(p.chips, p.hw.domain) {
        if let Some(plan) = search(m, p.hw, p.eff, &tj, c, 1, &opts)
            .plans
            .into_iter()
            .next()
            && best
                .as_ref()
                .is_none_or(|b| plan.estimate.tokens_per_s > b.estimate.tokens_per_s)
        {
            best = Some(plan);
        }
    }
    best
}

/// The cross-pool gradient exchange of the data-parallel form: a ring over the pools of
/// each chip's shard (the gradients over the pool's chips after the in-pool
/// reduce-scatter), the pool with the fewest chips and the slowest link setting the time.
/// Returns the seconds, the gradient bytes and the fewest chips.
fn exchange_s(
    m: &ModelArch,
    used: &[(&MixedPool<'_>, &Plan)],
    ring: &[&PoolLink],
) -> (f64, f64, u64) {
    let k = used.len() as f64;
    let grad_bytes = used
        .iter()
        .map(|(p, _)| p.eff.grad_comm_bytes)
        .fold(0.0, f64::max)
        * m.total_params() as f64;
    let fewest = used
        .iter()
        .map(|(_, p)| p.layout.chips())
        .min()
        .unwrap_or(1)
        .max(1);
    if k < 2.0 {
        return (0.0, grad_bytes, fewest);
    }
    let rate = ring
        .iter()
        .map(|l| l.bytes_per_s())
        .fold(f64::INFINITY, f64::min);
    let latency = ring.iter().map(|l| l.latency_s).fold(0.0, f64::max);
    (
        2.0 * (k - 1.0) / k * grad_bytes / fewest as f64 / rate + 2.0 * (k - 1.0) * latency,
        grad_bytes,
        fewest,
    )
}

/// The ring of links over `names` in order (two pools: one link), or the first missing.
fn ring_links<'l>(links: &'l [PoolLink], names: &[&str]) -> Result<Vec<&'l PoolLink>, String> {
    let n = names.len();
    let mut ring = Vec::new();
    for i in 0..n {
        if n == 2 && i == 1 {
            break;
        }
        let (a, b) = (names[i], names[(i + 1) % n]);
        ring.push(
            find_link(links, a, b)
                .ok_or_else(|| format!("the fleet states no link between {a} and {b}"))?,
        );
    }
    Ok(ring)
}

/// The step of one pool's replica with the cross-pool exchange `x` added to its
/// once-per-step traffic.
fn dp_step(pool: &MixedPool<'_>, plan: &Plan, x: f64) -> f64 {
    let e = &plan.estimate;
    let f = pool.eff.dp_exposed;
    e.step_time_s + exposed(e.dp_once_raw_s + x, e.dp_hide_s, f)
        - exposed(e.dp_once_raw_s, e.dp_hide_s, f)
}

/// The data-parallel form over `pools` (a ring in the order given; two pools need one
/// link, more need consecutive pools and the last and first linked). Each pool's plan
/// is searched on a grid of batch shares; every combination of the pools' options
/// (including leaving a pool out) is costed, and the fastest whose shares add up to the
/// job's batch (within its tolerance) wins.
pub fn data_parallel(
    m: &ModelArch,
    pools: &[MixedPool<'_>],
    links: &[PoolLink],
    job: &MixedJob,
) -> MixedPlan {
    const FORM: &str = "data-parallel";
    let n = pools.len();
    let parts_tps = parts_total(pools);
    let target = job.global_batch;
    let exact = job.tolerance_pct == 0;
    // A grid of batches per pool around its throughput share, all on one spacing so that
    // shares can add up to the batch exactly (the last pool's grid is offset for that):
    // the largest power of two dividing the batch and at most an eighth of an even share,
    // so that the shares keep the factors layouts divide by.
    let d = {
        let cap = (target as f64 / (8.0 * n as f64)).max(1.0) as u32;
        let mut d = 1u32;
        while d * 2 <= cap && target.is_multiple_of(d * 2) {
            d *= 2;
        }
        d
    };
    let mut options: Vec<Vec<Plan>> = Vec::with_capacity(n);
    for (i, p) in pools.iter().enumerate() {
        let center = target as f64 * p.alone_tokens_per_s / parts_tps;
        let offset = if i + 1 == n { target % d } else { 0 };
        let base = ((center / d as f64).round() as i64) * d as i64 + offset as i64;
        let mut opts: Vec<Plan> = Vec::new();
        for j in -6i64..=6 {
            let b = base + j * d as i64;
            if b < 1 || b >= target as i64 {
                continue;
            }
            if let Some(plan) = best_replica(m, p, job, b as u32, if exact { 0 } else { 10 })
                && !opts.iter().any(|o| o.global_batch == plan.global_batch)
            {
                opts.push(plan);
            }
        }
        options.push(opts);
    }
    // Every combination (index 0: the pool is left out).
    let mut best: Option<(f64, Vec<usize>, f64)> = None;
    let mut why =
        "fewer than two pools can hold a whole replica at a share of the batch".to_string();
    let mut pick = vec![0usize; n];
    loop {
        let used: Vec<(&MixedPool<'_>, &Plan)> = (0..n)
            .filter(|&i| pick[i] > 0)
            .map(|i| (&pools[i], &options[i][pick[i] - 1]))
            .collect();
        if used.len() >= 2 {
            let batch: u32 = used.iter().map(|(_, p)| p.global_batch).sum();
            let off = (batch as f64 / target as f64 - 1.0).abs() * 100.0;
            let ok = if exact {
                batch == target
            } else {
                off <= job.tolerance_pct as f64
            };
            if ok {
                let names: Vec<&str> = used.iter().map(|(p, _)| p.name).collect();
                match ring_links(links, &names) {
                    Ok(ring) => {
                        let (x, _, _) = exchange_s(m, &used, &ring);
                        let step = used
                            .iter()
                            .map(|(pool, plan)| dp_step(pool, plan, x))
                            .fold(0.0, f64::max);
                        let tps = batch as f64 * job.seq_len as f64 / step;
                        if best.as_ref().is_none_or(|b| tps > b.0) {
                            best = Some((tps, pick.clone(), x));
                        }
                    }
                    Err(e) => why = e,
                }
            } else if best.is_none() {
                why = format!(
                    "no combination of the pools' batch shares adds up to {}{}",
                    target,
                    if exact {
                        " exactly"
                    } else {
                        " within the tolerance"
                    }
                );
            }
        }
        // Next combination.
        let mut k = 0;
        while k < n {
            pick[k] += 1;
            if pick[k] <= options[k].len() {
                break;
            }
            pick[k] = 0;
            k += 1;
        }
        if k == n {
            break;
        }
    }
    let Some((tps, pick, x)) = best else {
        return MixedPlan::none(FORM, pools, job, why);
    };
    let used: Vec<(&MixedPool<'_>, &Plan)> = (0..n)
        .filter(|&i| pick[i] > 0)
        .map(|i| (&pools[i], &options[i][pick[i] - 1]))
        .collect();
    let names: Vec<&str> = used.iter().map(|(p, _)| p.name).collect();
    let ring = ring_links(links, &names).unwrap_or_default();
    let (_, grad_bytes, fewest) = exchange_s(m, &used, &ring);
    let batch: u32 = used.iter().map(|(_, p)| p.global_batch).sum();
    let s = job.seq_len as f64;
    let tokens = batch as f64 * s;
    let step = tokens / tps;
    let slowest_alone = used
        .iter()
        .map(|(_, p)| p.estimate.step_time_s)
        .fold(0.0, f64::max);
    let split_rate: f64 = used
        .iter()
        .map(|(_, p)| p.global_batch as f64 * s / p.estimate.step_time_s)
        .sum();
    let ideal = tokens / parts_tps;
    let at_split = tokens / split_rate;
    let link_s = step - slowest_alone;
    let rate = ring
        .iter()
        .map(|l| l.bytes_per_s())
        .fold(f64::INFINITY, f64::min);
    let parts: Vec<MixedPart> = used
        .iter()
        .map(|(pool, p)| MixedPart {
            pool: pool.name.into(),
            chip: pool.chip.into(),
            layout: p.layout,
            chips: p.layout.chips(),
            batch: p.global_batch,
            stage_layers: stage_layers(m.layers, p.layout.pp, p.layout.vpp),
            time_s: p.estimate.step_time_s,
            memory_gib_per_chip: p.estimate.memory_gib_per_chip,
            capacity_gib: p.estimate.memory.capacity / GIB,
        })
        .collect();
    let left_out: Vec<&str> = pools
        .iter()
        .filter(|p| !names.contains(&p.name))
        .map(|p| p.name)
        .collect();
    let terms = vec![
        Term {
            name: "the pools' own speed",
            seconds: ideal,
            detail: format!(
                "{batch} sequences at the sum of all the pools' own best rates for the whole job ({} tokens/s)",
                tessera_core::num::num(parts_tps)
            ),
        },
        Term {
            name: "smaller batch per pool",
            seconds: at_split - ideal,
            detail: format!(
                "each pool's share has fewer sequences than the whole batch, so fewer micro-batches fill its pipeline and its chips get less work each{}",
                if left_out.is_empty() {
                    String::new()
                } else {
                    format!("; {} left out (its share cost more than it gave)", left_out.join(", "))
                }
            ),
        },
        Term {
            name: "imbalance",
            seconds: slowest_alone - at_split,
            detail: "the slowest pool sets the step; shares come in whole sequences and layouts' batch units".into(),
        },
        Term {
            name: "cross-pool gradient exchange",
            seconds: link_s,
            detail: format!(
                "{x:.3} s to exchange {:.1} GB of gradients as shards over the {fewest} chips of the smallest part at {:.1} GB/s per chip, less what hides behind the last backward pass",
                grad_bytes / 1e9,
                rate / 1e9
            ),
        },
    ];
    let best_single = pools
        .iter()
        .map(|p| p.alone_tokens_per_s)
        .fold(0.0, f64::max);
    let worthwhile = tps > best_single;
    let note = if worthwhile {
        format!(
            "batch shares {} so the steps end together; gradients reduce-scattered in each pool, exchanged across pools by every chip, all-gathered in each pool",
            parts
                .iter()
                .map(|p| format!("{} {}", p.pool, p.batch))
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        format!(
            "worthless: slower than the best single pool alone ({} tokens/s)",
            tessera_core::num::num(best_single)
        )
    };
    MixedPlan {
        form: FORM,
        pools: parts.iter().map(|p| p.pool.clone()).collect(),
        microbatches: 0,
        parts,
        global_batch: batch,
        step_time_s: step,
        tokens_per_s: tps,
        parts_tokens_per_s: parts_tps,
        efficiency: tps / parts_tps,
        terms,
        link_s,
        feasible: true,
        worthwhile,
        note,
        launch: None,
        cannot_express: vec![
            "FlagScale's heterogeneous mode splits a pipeline across the pools' meshes; it has no form for whole replicas per pool with their own batch shares, so this plan needs a framework with uneven data-parallel batches (Poplar- or Cephalo-style)".into(),
        ],
    }
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// One per-pool segment configuration of the pipeline form.
#[derive(Debug, Clone, Copy)]
struct SegCfg {
    tp: u32,
    dp: u32,
    ep: u32,
    recompute: Recompute,
    /// Time per micro-batch of one layer on one stage, seconds.
    per_layer_s: f64,
    /// Memory per chip of a stage: fixed bytes and bytes per layer.
    mem_fixed: f64,
    mem_per_layer: f64,
    capacity: f64,
    /// Stages the pool's chips allow.
    max_stages: u64,
}

impl SegCfg {
    /// Most layers per stage within `t` seconds per micro-batch that fit in memory.
    fn layers_within(&self, t: f64) -> u64 {
        let by_time = (t / self.per_layer_s).floor();
        let by_mem = ((self.capacity - self.mem_fixed) / self.mem_per_layer).floor();
        by_time.min(by_mem).max(0.0) as u64
    }

    fn layout(&self, pp: u32, micro_batch: u32, sp: bool) -> Layout {
        Layout {
            tp: self.tp,
            pp,
            dp: self.dp,
            cp: 1,
            ep: self.ep,
            etp: 1,
            vpp: 1,
            micro_batch,
            sequence_parallel: sp && self.tp > 1,
            zero: 1,
            recompute: self.recompute,
            uneven_pp: true,
        }
    }
}

/// The segment configurations of a pool for a global micro-batch of `micro` sequences:
/// TP within the scale-up domain, DP dividing the micro-batch, EP for MoE models,
/// no or full recompute (what FlagScale can set per mesh), ZeRO-1.
fn seg_configs(
    m: &ModelArch,
    p: &MixedPool<'_>,
    job: &MixedJob,
    micro: u32,
    inflight: u32,
) -> Vec<SegCfg> {
    let mut out = Vec::new();
    let tj = job.train_job(job.global_batch);
    for tp in [1u32, 2, 4, 8] {
        if tp > p.hw.domain
            || !m.heads.is_multiple_of(tp as u64)
            || (m.mla.is_none() && !m.kv_heads.is_multiple_of(tp as u64))
        {
            continue;
        }
        for dp in (1..=micro).filter(|d| micro.is_multiple_of(*d)) {
            if (tp as u64) * (dp as u64) > p.chips || !job.global_batch.is_multiple_of(micro) {
                continue;
            }
            let eps: Vec<u32> = match &m.moe {
                None => vec![1],
                Some(moe) => (1..=7)
                    .map(|k| 1u32 << k)
                    .filter(|&e| {
                        p.opts.expert_parallel
                            && moe.experts.is_multiple_of(e as u64)
                            && (dp * tp).is_multiple_of(e)
                    })
                    .collect(),
            };
            for ep in eps {
                for recompute in [Recompute::None, Recompute::Full] {
                    let mut cfg = SegCfg {
                        tp,
                        dp,
                        ep,
                        recompute,
                        per_layer_s: 0.0,
                        mem_fixed: 0.0,
                        mem_per_layer: 0.0,
                        capacity: p.hw.mem_bytes,
                        max_stages: p.chips / (tp as u64 * dp as u64),
                    };
                    let l = cfg.layout(1, micro / dp, p.opts.sequence_parallel);
                    let seg = |k: u64| Segment {
                        layers: k,
                        first: false,
                        last: false,
                        stages_after: inflight.saturating_sub(1),
                    };
                    let chips = tp as u64 * dp as u64;
                    let e1 = estimate_segment(m, p.hw, p.eff, &tj, &l, chips, &seg(1));
                    let e2 =
                        estimate_segment(m, p.hw, p.eff, &tj, &l, chips, &seg(2.min(m.layers)));
                    if e1.infeasible.as_ref().is_some_and(|w| !is_memory(w)) {
                        continue;
                    }
                    cfg.per_layer_s = e1.stage_s_per_microbatch;
                    cfg.mem_per_layer = (e2.memory.total - e1.memory.total).max(1.0);
                    cfg.mem_fixed = e1.memory.total - cfg.mem_per_layer;
                    if cfg.per_layer_s > 0.0 && cfg.layers_within(f64::INFINITY) > 0 {
                        out.push(cfg);
                    }
                }
            }
        }
    }
    out
}

fn is_memory(w: &tessera_perf::train::Infeasible) -> bool {
    matches!(w, tessera_perf::train::Infeasible::OutOfMemory { .. })
}

/// One pool's place in a pipeline: its index, configuration, stages and layers.
type Placed = (usize, SegCfg, u32, u64);

/// A pipeline-form candidate: per pool (in pipeline order) a configuration and its
/// stages and layers.
#[derive(Debug, Clone)]
struct PipeCand {
    micro: u32,
    cfgs: Vec<Placed>,
}

/// The exact evaluation of a pipeline candidate.
#[derive(Debug, Clone)]
struct PipeEval {
    step: f64,
    parts: Vec<MixedPart>,
    estimates: Vec<Estimate>,
    steady: f64,
    fill: f64,
    link_steady: f64,
    dp_opt: f64,
    overhead: f64,
    t_max: f64,
    fits: bool,
    why: String,
}

fn eval_pipeline(
    m: &ModelArch,
    pools: &[MixedPool<'_>],
    links: &[PoolLink],
    job: &MixedJob,
    c: &PipeCand,
) -> Option<PipeEval> {
    let tj = job.train_job(job.global_batch);
    let mcount = (job.global_batch / c.micro) as f64;
    let total_stages: u32 = c.cfgs.iter().map(|x| x.2).sum();
    // FlagScale's rule 7: with tied embeddings the first and last meshes share the
    // embedding's gradient, so they need the same TP, and DP degrees one of which
    // divides the other.
    if let (true, Some(f), Some(l)) = (m.tied_embeddings, c.cfgs.first(), c.cfgs.last())
        && (f.1.tp != l.1.tp || !(f.1.dp.is_multiple_of(l.1.dp) || l.1.dp.is_multiple_of(f.1.dp)))
    {
        return None;
    }
    let act = c.micro as f64 * job.seq_len as f64 * m.hidden as f64 * 2.0;
    let mut after = total_stages;
    let mut parts = Vec::new();
    let mut ests = Vec::new();
    let mut fill = 0.0;
    let mut t_max = 0.0f64;
    let mut t_max_compute = 0.0f64;
    let mut dp_opt = 0.0f64;
    let mut overhead = 0.0f64;
    let mut fits = true;
    let mut why = String::new();
    for (j, &(i, cfg, pp, layers)) in c.cfgs.iter().enumerate() {
        let p = &pools[i];
        after -= pp;
        let l = cfg.layout(pp, c.micro / cfg.dp, p.opts.sequence_parallel);
        let chips = l.chips();
        let seg = Segment {
            layers,
            first: j == 0,
            last: j + 1 == c.cfgs.len(),
            stages_after: after,
        };
        let e = estimate_segment(m, p.hw, p.eff, &tj, &l, chips, &seg);
        if let Some(w) = &e.infeasible
            && !is_memory(w)
        {
            return None;
        }
        if !e.fits && fits {
            fits = false;
            why = format!(
                "{}'s segment needs {:.1} GiB per chip, which has {:.1} GiB",
                p.name,
                e.memory_gib_per_chip,
                p.hw.mem_bytes / GIB
            );
        }
        // Activations forward to the next pool, their gradients back to the previous one:
        // each boundary's TP x DP ranks carry the micro-batch in parallel.
        let carriers = |k: usize| {
            let (_, cf, _, _) = c.cfgs[k];
            (cf.tp * cf.dp) as f64
        };
        let mut link_t = 0.0;
        for (k, dir) in [(j + 1, true), (j.wrapping_sub(1), false)] {
            if k >= c.cfgs.len() || (!dir && j == 0) {
                continue;
            }
            let other = pools[c.cfgs[k].0].name;
            let link = find_link(links, p.name, other)?;
            link_t += link.transfer_s(act / carriers(j).min(carriers(k)));
        }
        let t = e.stage_s_per_microbatch + link_t;
        t_max = t_max.max(t);
        t_max_compute = t_max_compute.max(e.stage_s_per_microbatch);
        fill += pp as f64 * t;
        dp_opt = dp_opt.max(e.breakdown.dp_comm_s + e.breakdown.optimizer_s);
        overhead = overhead.max(e.breakdown.overhead_s);
        parts.push(MixedPart {
            pool: p.name.into(),
            chip: p.chip.into(),
            layout: l,
            chips,
            batch: job.global_batch,
            stage_layers: stage_layers(layers, pp, 1),
            time_s: t,
            memory_gib_per_chip: e.memory_gib_per_chip,
            capacity_gib: p.hw.mem_bytes / GIB,
        });
        ests.push(e);
    }
    // 1F1B: the first micro-batch passes every stage once (fill and drain), the others
    // follow at the slowest stage's pace.
    let steady = (mcount - 1.0) * t_max;
    let step = steady + fill + dp_opt + overhead;
    Some(PipeEval {
        step,
        parts,
        estimates: ests,
        steady,
        fill,
        link_steady: (mcount - 1.0) * (t_max - t_max_compute).max(0.0),
        dp_opt,
        overhead,
        t_max,
        fits,
        why,
    })
}

/// Candidate global micro-batches: divisors of the batch leaving at least 4 micro-batches.
fn micro_candidates(batch: u32) -> Vec<u32> {
    (1..=batch / 4)
        .filter(|d| batch.is_multiple_of(*d) && (d.is_power_of_two() || *d % 3 == 0))
        .filter(|d| *d <= 256)
        .collect()
}

/// Stage allocation for a time `t` per micro-batch: each pool's configuration with the
/// most layers it can hold within `t`, then stages from the pools with the most layers
/// per stage first until the model is covered. `None`: the pools cannot hold it.
fn allocate(cfgs: &[Vec<SegCfg>], layers: u64, t: f64) -> Option<Vec<Placed>> {
    let mut best: Vec<(usize, SegCfg, u64)> = Vec::new();
    for (i, cs) in cfgs.iter().enumerate() {
        let pick = cs
            .iter()
            .map(|c| (c, c.layers_within(t)))
            .filter(|(_, k)| *k > 0)
            .max_by(|a, b| {
                (a.0.max_stages * a.1, a.1)
                    .cmp(&(b.0.max_stages * b.1, b.1))
                    .then(b.0.per_layer_s.total_cmp(&a.0.per_layer_s))
            });
        if let Some((c, k)) = pick {
            best.push((i, *c, k));
        }
    }
    best.sort_by_key(|b| std::cmp::Reverse(b.2));
    let mut left = layers;
    let mut out = Vec::new();
    for (i, c, k) in best {
        if left == 0 {
            break;
        }
        let stages = left.div_ceil(k).min(c.max_stages).min(left);
        let l = (stages * k).min(left);
        out.push((i, c, stages as u32, l));
        left -= l;
    }
    (left == 0).then_some(out)
}

/// The pipeline form over `pools`: the best heterogeneous pipeline over any subset of
/// two or more of them, in the order that runs fastest.
pub fn pipeline(
    m: &ModelArch,
    pools: &[MixedPool<'_>],
    links: &[PoolLink],
    job: &MixedJob,
) -> MixedPlan {
    const FORM: &str = "pipeline";
    let parts_tps = parts_total(pools);
    let mut best: Option<(PipeEval, PipeCand)> = None;
    let micros = micro_candidates(job.global_batch);
    // Whether any split over two or more pools covered the model's layers.
    let mut covered = false;
    for micro in micros.iter().copied() {
        let mcount = job.global_batch / micro;
        // Memory as if every stage held the in-flight micro-batches of a 16-stage
        // pipeline; the exact evaluation checks each stage at its place.
        let cfgs: Vec<Vec<SegCfg>> = pools
            .iter()
            .map(|p| seg_configs(m, p, job, micro, mcount.min(16)))
            .collect();
        let (lo, hi) = cfgs
            .iter()
            .flatten()
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), c| {
                (
                    lo.min(c.per_layer_s),
                    hi.max(c.per_layer_s * m.layers as f64),
                )
            });
        if !lo.is_finite() || hi <= 0.0 {
            continue;
        }
        let mut cands: Vec<(f64, Vec<Placed>)> = Vec::new();
        let steps = 160;
        for g in 0..=steps {
            let t = lo * (hi / lo).powf(g as f64 / steps as f64);
            if let Some(a) = allocate(&cfgs, m.layers, t) {
                if a.len() < 2 {
                    continue;
                }
                covered = true;
                let stages: u32 = a.iter().map(|x| x.2).sum();
                let per_stage = a
                    .iter()
                    .map(|(_, c, s, l)| c.per_layer_s * l.div_ceil(*s as u64) as f64)
                    .fold(0.0, f64::max);
                cands.push(((mcount as f64 - 1.0 + stages as f64) * per_stage, a));
            }
        }
        cands.sort_by(|a, b| a.0.total_cmp(&b.0));
        cands.dedup_by(|a, b| {
            a.1.iter()
                .map(|x| (x.0, x.2, x.3))
                .eq(b.1.iter().map(|x| (x.0, x.2, x.3)))
        });
        for (_, a) in cands.into_iter().take(4) {
            for order in orders(a.len()) {
                let cand = PipeCand {
                    micro,
                    cfgs: order.iter().map(|&k| a[k]).collect(),
                };
                let cand = refine(m, pools, links, job, cand);
                if let Some(e) = eval_pipeline(m, pools, links, job, &cand)
                    && e.fits
                    && best.as_ref().is_none_or(|(b, _)| e.step < b.step)
                {
                    best = Some((e, cand));
                }
            }
        }
    }
    let Some((e, cand)) = best else {
        let why = if micros.is_empty() {
            format!(
                "{} sequences per step cannot make the 4 or more micro-batches the pipeline form needs",
                job.global_batch
            )
        } else if !covered {
            "no split over two or more pools holds the model's layers within the chips' memory"
                .into()
        } else {
            "no split of the layers over the pools fits in their memory at its place in the pipeline with a link between consecutive pools".into()
        };
        return MixedPlan::none(FORM, pools, job, why);
    };
    let tokens = job.global_batch as f64 * job.seq_len as f64;
    let tps = tokens / e.step;
    let ideal = tokens / parts_tps;
    let stages: u32 = cand.cfgs.iter().map(|x| x.2).sum();
    let mcount = job.global_batch / cand.micro;
    let terms = vec![
        Term {
            name: "steady state at the slowest stage",
            seconds: e.steady - e.link_steady,
            detail: format!(
                "{} more micro-batches at the slowest stage's compute time ({:.3} s each); the pools' own plans would take {ideal:.3} s for the whole batch",
                mcount - 1,
                (e.steady - e.link_steady) / (mcount as f64 - 1.0).max(1.0)
            ),
        },
        Term {
            name: "activations over the links",
            seconds: e.link_steady,
            detail: "activations and their gradients crossing pool boundaries, where they slow the slowest stage".into(),
        },
        Term {
            name: "pipeline fill and drain",
            seconds: e.fill,
            detail: format!("the first micro-batch through all {stages} stages and back, link transfers included (no interleaving in FlagScale's heterogeneous mode)"),
        },
        Term {
            name: "gradient sync and optimizer",
            seconds: e.dp_opt + e.overhead,
            detail: "the slowest pool's exposed data-parallel traffic and optimizer step, and the step overhead".into(),
        },
    ];
    // The link's share: on the slowest stage's pace, and in the fill and drain.
    let fill_compute: f64 = cand
        .cfgs
        .iter()
        .zip(&e.estimates)
        .map(|(c, x)| c.2 as f64 * x.stage_s_per_microbatch)
        .sum();
    let link_s = e.link_steady + (e.fill - fill_compute).max(0.0);
    let best_single = pools
        .iter()
        .map(|p| p.alone_tokens_per_s)
        .fold(0.0, f64::max);
    let worthwhile = tps > best_single;
    let layers: Vec<String> = e
        .parts
        .iter()
        .map(|p| format!("{} {}", p.pool, p.stage_layers.iter().sum::<u64>()))
        .collect();
    let note = if worthwhile {
        format!(
            "layers {} over {stages} stages balanced on each chip's own stage times ({:.3} s per micro-batch at the slowest); {mcount} micro-batches of {} sequences",
            layers.join(", "),
            e.t_max,
            cand.micro
        )
    } else {
        format!(
            "worthless: slower than the best single pool alone ({} tokens/s); {} of the step is fill and drain over {stages} stages",
            tessera_core::num::num(best_single),
            format_args!("{:.0}%", e.fill / e.step * 100.0)
        )
    };
    let (launch, cannot) = flagscale_hetero(m, pools, links, job, &cand, &e.parts);
    MixedPlan {
        form: FORM,
        pools: e.parts.iter().map(|p| p.pool.clone()).collect(),
        global_batch: job.global_batch,
        microbatches: mcount,
        step_time_s: e.step,
        tokens_per_s: tps,
        parts_tokens_per_s: parts_tps,
        efficiency: tps / parts_tps,
        terms,
        link_s,
        feasible: e.fits,
        worthwhile,
        note: if e.fits { note } else { e.why.clone() },
        launch: Some(launch),
        cannot_express: cannot,
        parts: e.parts,
    }
}

/// Every order of `n` pools (at most 4 pools; more keep the order given).
fn orders(n: usize) -> Vec<Vec<usize>> {
    if n > 4 {
        return vec![(0..n).collect()];
    }
    let mut out = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    fn rec(n: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if cur.len() == n {
            out.push(cur.clone());
            return;
        }
        for i in 0..n {
            if !cur.contains(&i) {
                cur.push(i);
                rec(n, cur, out);
                cur.pop();
            }
        }
    }
    rec(n, &mut cur, &mut out);
    out
}

/// Moves layers between pools, one at a time, while the exact step time improves.
fn refine(
    m: &ModelArch,
    pools: &[MixedPool<'_>],
    links: &[PoolLink],
    job: &MixedJob,
    mut c: PipeCand,
) -> PipeCand {
    let mut cur = eval_pipeline(m, pools, links, job, &c).map_or(f64::INFINITY, |e| {
        if e.fits { e.step } else { f64::INFINITY }
    });
    for _ in 0..(2 * m.layers) {
        let mut improved = false;
        for from in 0..c.cfgs.len() {
            for to in 0..c.cfgs.len() {
                if from == to || c.cfgs[from].3 <= c.cfgs[from].2 as u64 {
                    continue;
                }
                let mut t = c.clone();
                t.cfgs[from].3 -= 1;
                t.cfgs[to].3 += 1;
                if let Some(e) = eval_pipeline(m, pools, links, job, &t)
                    && e.fits
                    && e.step < cur - 1e-9
                {
                    cur = e.step;
                    c = t;
                    improved = true;
                }
            }
        }
        if !improved {
            break;
        }
    }
    c
}

/// FlagScale's heterogeneous launch of a pipeline plan: the first mesh's arguments with
/// the pipeline's total depth, and the meshes, device types and per-stage layer split;
/// checked by [`crate::flagscale::check_hetero`]. Also what FlagScale cannot express.
fn flagscale_hetero(
    m: &ModelArch,
    pools: &[MixedPool<'_>],
    links: &[PoolLink],
    job: &MixedJob,
    c: &PipeCand,
    parts: &[MixedPart],
) -> (Launch, Vec<String>) {
    let stages: u32 = parts.iter().map(|p| p.layout.pp).sum();
    let first = parts[0].layout;
    let mut l0 = first;
    l0.pp = stages;
    l0.uneven_pp = false;
    let any_full = parts.iter().any(|p| p.layout.recompute == Recompute::Full);
    let all_full = parts.iter().all(|p| p.layout.recompute == Recompute::Full);
    l0.recompute = if any_full {
        Recompute::Full
    } else {
        Recompute::None
    };
    let base = train_args(
        TrainFramework::FlagScale,
        m,
        &l0,
        job.seq_len,
        job.global_batch,
        job.precision,
    );
    // The base arguments, less what the heterogeneous mode sets itself.
    let mut args = crate::flagscale::without_args(
        &base.args,
        &[
            "--pipeline-model-parallel-layout",
            "--num-virtual-stages-per-pipeline-rank",
        ],
    );
    let meshes: Vec<u32> = parts
        .iter()
        .flat_map(|p| [p.layout.tp, 1, p.layout.ep, p.layout.dp, p.layout.pp])
        .collect();
    let split: Vec<u64> = parts.iter().flat_map(|p| p.stage_layers.clone()).collect();
    let types: Vec<String> = parts.iter().map(|p| p.chip.clone()).collect();
    let staged = c.cfgs.windows(2).any(|w| {
        find_link(links, pools[w[0].0].name, pools[w[1].0].name)
            .is_some_and(|l| l.kind == LinkKind::HostStaged)
    });
    let mcount = job.global_batch / c.micro;
    let h = Hetero {
        meshes,
        split,
        device_types: types,
        etp_per_mesh: m.moe.as_ref().map(|_| vec![1; parts.len()]),
        cpu_communication: staged,
        recompute_per_stage: (any_full && !all_full).then(|| {
            parts
                .iter()
                .map(|p| {
                    let f = u32::from(p.layout.recompute == Recompute::Full);
                    vec![p.layout.pp, mcount, f]
                })
                .collect()
        }),
    };
    args.push("--enable-hetero".into());
    args.push("--hetero-process-meshes".into());
    args.extend(h.meshes.iter().map(|x| x.to_string()));
    args.push("--hetero-pipeline-layer-split".into());
    args.extend(h.split.iter().map(|x| x.to_string()));
    args.push("--hetero-device-types".into());
    args.extend(h.device_types.iter().cloned());
    args.push("--hetero-current-device-type".into());
    args.push(h.device_types[0].clone());
    if let Some(e) = &h.etp_per_mesh {
        args.push("--expert-tensor-parallel-size-per-process-mesh".into());
        args.extend(e.iter().map(|x| x.to_string()));
    }
    if h.cpu_communication {
        args.push("--hetero-use-cpu-communication".into());
    }
    let (f, l) = (parts[0].layout, parts[parts.len() - 1].layout);
    if m.tied_embeddings && f.dp != l.dp {
        args.push("--use-partial-reduce-for-shared-embedding".into());
    }
    if let Some(r) = &h.recompute_per_stage {
        args.push("--recompute-granularity-per-stage-micro-batch".into());
        args.extend(r.iter().map(|v| format!("{v:?}")));
    }
    let mut notes = vec![
        "FlagScale takes these as its train config (conf/train/NAME.yaml); its hostfile names each node's chip type (`HOST slots=8 type=CHIP`, the types of --hetero-device-types) and FlagScale sets --hetero-current-device-type on each node from it".into(),
        format!(
            "ranks in mesh order: {}",
            parts
                .iter()
                .map(|p| format!("{} x {} ({})", p.chips, p.chip, p.pool))
                .collect::<Vec<_>>()
                .join(", then ")
        ),
    ];
    if h.cpu_communication {
        notes.push("a host-staged link: --hetero-use-cpu-communication makes the whole job use gloo on the host (FlagScale's switch is global), which also moves each pool's own collectives off its fast links; with FlagCX as the backend instead, drop the flag and set --distributed-backend flagcx".into());
    }
    let mut cannot = vec![
        "virtual pipeline stages (interleaving): FlagScale rejects them in heterogeneous mode, so the plan has none".into(),
        "selective recompute per mesh: only full recompute can differ by stage".into(),
    ];
    if let Err(errs) = crate::flagscale::check_hetero(&args) {
        notes.push(format!("NOT RUNNABLE as planned: {}", errs.join("; ")));
        cannot.extend(errs);
    }
    let config = Some(crate::flagscale::hetero_yaml(&args, &h));
    (
        Launch {
            framework: "flagscale",
            args,
            notes,
            config,
        },
        cannot,
    )
}

/// FlagScale's heterogeneous settings of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Hetero {
    /// tp, cp, ep, dp, pp per mesh, flattened.
    pub meshes: Vec<u32>,
    pub split: Vec<u64>,
    pub device_types: Vec<String>,
    pub etp_per_mesh: Option<Vec<u32>>,
    pub cpu_communication: bool,
    /// `[stages, micro-batches, flag]` per mesh for full recompute that differs by mesh.
    pub recompute_per_stage: Option<Vec<Vec<u32>>>,
}
