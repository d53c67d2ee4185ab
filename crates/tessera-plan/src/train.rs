//! Training layout search on one pool.

use tessera_core::model::ModelArch;
use tessera_perf::Hardware;
use tessera_perf::calib::Efficiency;
use tessera_perf::train::{Estimate, Infeasible, Layout, Recompute, TrainJob, estimate_train};

/// What to optimise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// Highest throughput (shortest time to train).
    Time,
    /// Lowest cost per token (differs from time only across chip types).
    Cost,
}

/// A ranked layout.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plan {
    pub layout: Layout,
    pub estimate: Estimate,
    /// The global batch (sequences) this plan runs: the requested one, or the nearest
    /// multiple of what the layout needs within the search's batch tolerance.
    pub global_batch: u32,
}

/// A layout that was faster on paper than the winner but cannot run, or a runner-up and
/// what it lost on.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub layout: Layout,
    pub tokens_per_s: f64,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    pub plans: Vec<Plan>,
    /// Layouts estimated.
    pub evaluated: u64,
    /// Layouts skipped by pruning rules that cannot lose the optimum.
    pub pruned: u64,
    pub rejected: Vec<Rejected>,
}

/// Which techniques the search may use (restrict it to what a framework supports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchOptions {
    /// Highest ZeRO stage to try (0: plain DP, 1: distributed optimizer, 2: + sharded
    /// gradients, 3: + sharded parameters).
    pub max_zero: u8,
    pub sequence_parallel: bool,
    pub context_parallel: bool,
    pub selective_recompute: bool,
    pub interleaving: bool,
    /// Pipeline parallelism at all; layers split unevenly over pipeline stages; and over
    /// virtual stages (Megatron-LM's pipeline layout; MindSpeed-LLM's layer list cannot).
    pub pipeline: bool,
    pub uneven_pipeline: bool,
    pub uneven_interleaving: bool,
    /// Expert parallelism for MoE models.
    pub expert_parallel: bool,
    /// How far (percent) a plan's global batch may be from the requested one: 0 keeps it
    /// exact; otherwise each layout runs the nearest multiple of dp x micro-batch (x pp
    /// with interleaving) within this distance.
    pub batch_tolerance_pct: u8,
}

impl SearchOptions {
    /// What a framework can run (its capability table), at exactly the requested batch.
    pub fn for_framework(fw: crate::launch::TrainFramework) -> SearchOptions {
        let c = fw.capabilities();
        SearchOptions {
            max_zero: c.max_zero,
            sequence_parallel: c.sequence_parallel,
            context_parallel: c.context_parallel,
            selective_recompute: c.selective_recompute,
            interleaving: c.interleaving,
            pipeline: c.pipeline,
            uneven_pipeline: c.uneven_pipeline,
            uneven_interleaving: c.uneven_interleaving,
            expert_parallel: c.expert_parallel,
            batch_tolerance_pct: 0,
        }
    }

    /// Everything tessera models, at exactly the requested global batch.
    pub const ALL: SearchOptions = SearchOptions {
        max_zero: 3,
        sequence_parallel: true,
        context_parallel: true,
        selective_recompute: true,
        interleaving: true,
        pipeline: true,
        uneven_pipeline: true,
        uneven_interleaving: true,
        expert_parallel: true,
        batch_tolerance_pct: 0,
    };
}

/// The global batch a layout runs: `target` itself when it divides (or the tolerance is
/// 0), else the nearest multiple of `unit` within `tol_pct` percent of `target`.
pub fn batch_for(target: u32, unit: u32, tol_pct: u8) -> Option<u32> {
    if unit == 0 || target == 0 {
        return None;
    }
    if target.is_multiple_of(unit) {
        return Some(target);
    }
    if tol_pct == 0 {
        return None;
    }
    let k = ((target as f64 / unit as f64).round() as u64).max(1);
    let gb = k * unit as u64;
    let off = (gb as f64 / target as f64 - 1.0).abs() * 100.0;
    (off <= tol_pct as f64 && gb <= u32::MAX as u64).then_some(gb as u32)
}

/// The unit a layout's global batch must be a multiple of.
fn batch_unit(l: &Layout) -> u32 {
    l.dp.saturating_mul(l.micro_batch)
        .saturating_mul(if l.vpp > 1 { l.pp } else { 1 })
}

fn divisors(n: u64, max: u64) -> Vec<u32> {
    (1..=n.min(max))
        .filter(|d| n.is_multiple_of(*d))
        .map(|d| d as u32)
        .collect()
}

/// The candidate structural layouts (everything but micro-batch and recompute).
pub fn skeletons(
    m: &ModelArch,
    job: &TrainJob,
    chips: u64,
    domain: u32,
    o: &SearchOptions,
) -> Vec<Layout> {
    let mut out = Vec::new();
    let heads = m.heads;
    let kv = if m.mla.is_some() { heads } else { m.kv_heads };
    let tps: Vec<u32> = divisors(chips, domain as u64)
        .into_iter()
        .filter(|t| heads.is_multiple_of(*t as u64) && kv.is_multiple_of(*t as u64))
        .collect();
    let cps: Vec<u32> = [1u32, 2, 4, 8, 16, 32]
        .into_iter()
        .filter(|c| {
            *c == 1
                || (o.context_parallel && job.seq_len >= 8192 && job.seq_len.is_multiple_of(2 * c))
        })
        .collect();
    for &tp in &tps {
        for &cp in &cps {
            let rest = chips / (tp as u64 * cp as u64);
            if rest == 0 || !chips.is_multiple_of(tp as u64 * cp as u64) {
                continue;
            }
            for pp in divisors(rest, if o.pipeline { m.layers } else { 1 }) {
                let dp = (rest / pp as u64) as u32;
                if dp == 0 || batch_for(job.global_batch, dp, o.batch_tolerance_pct).is_none() {
                    continue;
                }
                let uneven = !m.layers.is_multiple_of(pp as u64);
                if uneven && !o.uneven_pipeline {
                    continue;
                }
                let mut vpps = vec![1u32];
                if pp > 1 && o.interleaving {
                    for v in [2u32, 3, 4, 5, 6, 8] {
                        if m.layers >= (pp * v) as u64
                            && (m.layers.is_multiple_of((pp * v) as u64)
                                || (uneven && o.uneven_interleaving))
                        {
                            vpps.push(v);
                        }
                    }
                }
                let eps: Vec<u32> = match &m.moe {
                    Some(moe) if o.expert_parallel => divisors(moe.experts, 1 << 12)
                        .into_iter()
                        .filter(|e| (dp as u64 * cp as u64 * tp as u64).is_multiple_of(*e as u64))
                        .collect(),
                    _ => vec![1],
                };
                for &vpp in &vpps {
                    for &ep in &eps {
                        for zero in 0..=o.max_zero.min(3) {
                            out.push(Layout {
                                tp,
                                pp,
                                dp,
                                cp,
                                ep,
                                etp: if ep > 1 { 1 } else { tp },
                                vpp,
                                micro_batch: 1,
                                sequence_parallel: tp > 1 && o.sequence_parallel,
                                zero,
                                recompute: Recompute::None,
                                uneven_pp: uneven,
                            });
                        }
                    }
                }
            }
        }
    }
    out
}

const MICRO_BATCHES: [u32; 4] = [1, 2, 4, 8];
const RECOMPUTES: [Recompute; 3] = [Recompute::None, Recompute::Selective, Recompute::Full];

fn better(a: &Estimate, b: &Estimate) -> bool {
    a.tokens_per_s > b.tokens_per_s
}

fn keep_top(plans: &mut Vec<Plan>, p: Plan, k: usize) {
    let pos = plans
        .iter()
        .position(|x| better(&p.estimate, &x.estimate))
        .unwrap_or(plans.len());
    if pos < k {
        plans.insert(pos, p);
        plans.truncate(k);
    }
}

/// The job with its global batch moved to the nearest multiple of what one step of the
/// skeleton at micro-batch `mb` consumes, within the search's tolerance; `None` if no
/// multiple is close enough.
fn job_at(job: &TrainJob, sk: &Layout, mb: u32, o: &SearchOptions) -> Option<TrainJob> {
    let unit = batch_unit(&Layout {
        micro_batch: mb,
        ..*sk
    });
    let gb = batch_for(job.global_batch, unit, o.batch_tolerance_pct)?;
    Some(TrainJob {
        global_batch: gb,
        ..*job
    })
}

/// The pruned search. Two rules, each safe because of a property the model's tests check:
/// memory never rises and step time never falls with more recompute, and activation
/// memory never falls with a larger micro-batch. So once a recompute level fits, heavier
/// recompute at the same micro-batch cannot win; once even full recompute does not fit,
/// larger micro-batches cannot fit either.
pub fn search(
    m: &ModelArch,
    hw: &Hardware,
    eff: &Efficiency,
    job: &TrainJob,
    chips: u64,
    top: usize,
    o: &SearchOptions,
) -> SearchResult {
    let mut plans: Vec<Plan> = Vec::new();
    let mut oom: Vec<Plan> = Vec::new();
    let (mut evaluated, mut pruned) = (0u64, 0u64);
    for sk in skeletons(m, job, chips, hw.domain, o) {
        'mb: for (mi, &mb) in MICRO_BATCHES.iter().enumerate() {
            let Some(job) = &job_at(job, &sk, mb, o) else {
                continue;
            };
            let gb = job.global_batch;
            // MLA models: recomputing the up-projections sits between no and full
            // recompute in memory but not in a fixed order with selective recompute in
            // time, so it is estimated beside the pruned levels, never pruned.
            if m.mla.is_some() && o.selective_recompute {
                let l = Layout {
                    micro_batch: mb,
                    recompute: Recompute::MlaUpProj,
                    ..sk
                };
                let e = estimate_train(m, hw, eff, job, &l, chips);
                evaluated += 1;
                let p = Plan {
                    layout: l,
                    estimate: e,
                    global_batch: gb,
                };
                match e.infeasible {
                    None => keep_top(&mut plans, p, top.max(1)),
                    Some(Infeasible::OutOfMemory { .. }) => keep_top(&mut oom, p, 3),
                    Some(_) => {}
                }
            }
            for (ri, &rc) in RECOMPUTES.iter().enumerate() {
                if rc == Recompute::Selective && !o.selective_recompute {
                    pruned += 1;
                    continue;
                }
                let l = Layout {
                    micro_batch: mb,
                    recompute: rc,
                    ..sk
                };
                let e = estimate_train(m, hw, eff, job, &l, chips);
                evaluated += 1;
                match e.infeasible {
                    None => {
                        keep_top(
                            &mut plans,
                            Plan {
                                layout: l,
                                estimate: e,
                                global_batch: gb,
                            },
                            top.max(1),
                        );
                        pruned += (RECOMPUTES.len() - ri - 1) as u64;
                        continue 'mb;
                    }
                    Some(Infeasible::OutOfMemory { .. }) => {
                        keep_top(
                            &mut oom,
                            Plan {
                                layout: l,
                                estimate: e,
                                global_batch: gb,
                            },
                            3,
                        );
                        if rc == Recompute::Full {
                            pruned += ((MICRO_BATCHES.len() - mi - 1) * RECOMPUTES.len()) as u64;
                            break 'mb;
                        }
                    }
                    Some(_) => continue 'mb,
                }
            }
        }
    }
    let rejected = explain(&plans, &oom);
    SearchResult {
        plans,
        evaluated,
        pruned,
        rejected,
    }
}

/// Every layout, no pruning: for checking the pruned search.
pub fn search_exhaustive(
    m: &ModelArch,
    hw: &Hardware,
    eff: &Efficiency,
    job: &TrainJob,
    chips: u64,
    top: usize,
    o: &SearchOptions,
) -> SearchResult {
    let mut plans = Vec::new();
    let mut evaluated = 0;
    for sk in skeletons(m, job, chips, hw.domain, o) {
        for &mb in &MICRO_BATCHES {
            let Some(job) = &job_at(job, &sk, mb, o) else {
                continue;
            };
            let gb = job.global_batch;
            let mla = [Recompute::MlaUpProj];
            for &rc in RECOMPUTES
                .iter()
                .filter(|r| **r != Recompute::Selective || o.selective_recompute)
                .chain(
                    mla.iter()
                        .filter(|_| m.mla.is_some() && o.selective_recompute),
                )
            {
                let l = Layout {
                    micro_batch: mb,
                    recompute: rc,
                    ..sk
                };
                let e = estimate_train(m, hw, eff, job, &l, chips);
                evaluated += 1;
                if e.feasible() {
                    keep_top(
                        &mut plans,
                        Plan {
                            layout: l,
                            estimate: e,
                            global_batch: gb,
                        },
                        top.max(1),
                    );
                }
            }
        }
    }
    SearchResult {
        plans,
        evaluated,
        pruned: 0,
        rejected: vec![],
    }
}

/// Why the best rejected layouts lost: faster layouts that do not fit, and what the
/// runners-up spend more time on than the winner.
fn explain(plans: &[Plan], oom: &[Plan]) -> Vec<Rejected> {
    let mut out = Vec::new();
    let Some(best) = plans.first() else {
        for p in oom {
            out.push(Rejected {
                layout: p.layout,
                tokens_per_s: p.estimate.tokens_per_s,
                why: p
                    .estimate
                    .infeasible
                    .map(|r| format!("memory: {r}"))
                    .unwrap_or_default(),
            });
        }
        return out;
    };
    for p in oom
        .iter()
        .filter(|p| p.estimate.tokens_per_s > best.estimate.tokens_per_s)
    {
        out.push(Rejected {
            layout: p.layout,
            tokens_per_s: p.estimate.tokens_per_s,
            why: p
                .estimate
                .infeasible
                .map(|r| format!("memory: {r}"))
                .unwrap_or_default(),
        });
    }
    let b = best.estimate.breakdown;
    for p in plans.iter().skip(1).take(3) {
        let r = p.estimate.breakdown;
        let terms = [
            ("pipeline bubble", r.bubble_s - b.bubble_s),
            (
                "communication",
                (r.tp_comm_s + r.cp_comm_s + r.ep_comm_s + r.pp_comm_s + r.dp_comm_s)
                    - (b.tp_comm_s + b.cp_comm_s + b.ep_comm_s + b.pp_comm_s + b.dp_comm_s),
            ),
            ("recompute", r.recompute_s - b.recompute_s),
            (
                "compute efficiency",
                (r.forward_s + r.backward_s) - (b.forward_s + b.backward_s),
            ),
        ];
        let (what, by) = terms
            .iter()
            .fold(("compute efficiency", f64::MIN), |acc, t| {
                if t.1 > acc.1 { *t } else { acc }
            });
        out.push(Rejected {
            layout: p.layout,
            tokens_per_s: p.estimate.tokens_per_s,
            // Same global batch, so the step-time ratio is the throughput ratio.
            why: format!(
                "{what}: {by:+.3} s per step more than this pool's best ({:.1}% slower)",
                (best.estimate.tokens_per_s / p.estimate.tokens_per_s - 1.0) * 100.0
            ),
        });
    }
    out
}

/// Chip counts worth trying on a pool of `chips`: all of them, then whole scale-up
/// domains down to half the pool whose counts factor into 2, 3, 5 and 7 only (so that
/// they split into the degrees a layout needs). At most `MAX_COUNTS`, largest first.
pub fn chip_counts(chips: u64, domain: u32) -> Vec<u64> {
    const MAX_COUNTS: usize = 24;
    let smooth = |mut n: u64| {
        for p in [2u64, 3, 5, 7] {
            while n > 1 && n.is_multiple_of(p) {
                n /= p;
            }
        }
        n == 1
    };
    let d = (domain as u64).max(1);
    let mut out = vec![chips];
    let mut k = chips / d;
    while out.len() < MAX_COUNTS && k > 0 && k * d * 2 >= chips {
        let c = k * d;
        if c < chips && smooth(c) {
            out.push(c);
        }
        k -= 1;
    }
    out
}

/// Chips a pool's best plan leaves idle, and what they could do on their own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Idle {
    pub chips: u64,
    /// The best tokens/s the same job would get on the idle chips alone, if any layout fits.
    pub same_job_tokens_per_s: Option<f64>,
}

/// A pool's search over the chip counts of [`chip_counts`].
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSearch {
    /// Plans over every count tried, best first (a plan's `layout.chips()` says how many
    /// chips it uses); `rejected` explains the search on all the pool's chips.
    pub result: SearchResult,
    pub counts_tried: Vec<u64>,
    pub idle: Option<Idle>,
}

/// The best plans for a job on a pool of `chips`, using all of them or fewer: a count
/// that factors better can beat the whole pool (1,024 of 1,600 chips, say).
pub fn search_pool(
    m: &ModelArch,
    hw: &Hardware,
    eff: &Efficiency,
    job: &TrainJob,
    chips: u64,
    top: usize,
    o: &SearchOptions,
) -> PoolSearch {
    let counts = chip_counts(chips, hw.domain);
    let mut all = search(m, hw, eff, job, chips, top, o);
    for &c in counts.iter().skip(1) {
        let r = search(m, hw, eff, job, c, top, o);
        all.evaluated += r.evaluated;
        all.pruned += r.pruned;
        for p in r.plans {
            keep_top(&mut all.plans, p, top.max(1));
        }
    }
    let idle = all.plans.first().and_then(|b| {
        let used = b.layout.chips();
        (used < chips).then(|| {
            let free = chips - used;
            let alone = search(m, hw, eff, job, free, 1, o);
            all.evaluated += alone.evaluated;
            all.pruned += alone.pruned;
            Idle {
                chips: free,
                same_job_tokens_per_s: alone.plans.first().map(|p| p.estimate.tokens_per_s),
            }
        })
    });
    // Faster layouts that did not fit (from the search on every chip), then the
    // runners-up against the best over all counts.
    let best = all.plans.first().map_or(0.0, |p| p.estimate.tokens_per_s);
    let mut rejected: Vec<Rejected> = all
        .rejected
        .iter()
        .filter(|r| r.why.starts_with("memory:") && r.tokens_per_s > best)
        .cloned()
        .collect();
    rejected.extend(
        explain(&all.plans, &[])
            .into_iter()
            .filter(|r| !r.why.starts_with("memory:")),
    );
    all.rejected = rejected;
    PoolSearch {
        result: all,
        counts_tried: counts,
        idle,
    }
}
