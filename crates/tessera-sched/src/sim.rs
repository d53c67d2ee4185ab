//! A deterministic, round-based replay of jobs through a policy (Gavel's mechanism):
//! at each round boundary the policy's allocation is turned into placements by priority
//! (allocation over the share of time received so far), each placed job runs for one
//! round on `scale_factor` workers of one type, and a job that finishes mid-round leaves
//! at its exact finish time. No clock, no IO: the caller supplies the jobs.

use crate::round::{Event, Reaction, RoundCore};
use crate::{Awareness, PolicyError};
use std::collections::HashMap;

pub use crate::round::PACK_PARTNERS;

/// A job to replay.
#[derive(Debug, Clone, PartialEq)]
pub struct SimJob {
    pub id: usize,
    pub arrival_s: f64,
    pub total_steps: f64,
    pub scale_factor: u32,
    pub weight: f64,
    /// Priority tier: a higher tier is allocated before any lower one (0 by default).
    /// Weights share capacity within a tier.
    pub priority: u32,
    /// What kind of job this is, for looking up co-located throughputs
    /// ([`CoLocation`]); `None`: it never shares workers.
    pub kind: Option<u32>,
    /// Steps/s per accelerator type (cluster order); 0 where it cannot run.
    pub throughput: Vec<f64>,
    /// Steps/s when its workers span several nodes (Gavel's `_unconsolidated` entries);
    /// `None`: the same as `throughput`.
    pub throughput_spread: Option<Vec<f64>>,
    /// Steps/s per type when its workers are split over several nodes whose smallest
    /// share is at least `p` workers, as `(p, rates)` with `p` ascending (an LLM job's
    /// speeds with its tensor-parallel groups kept within `p` chips, from the planner:
    /// `tessera_plan::speed::SpeedTable::piece_speeds`). Empty: `throughput_spread`'s
    /// rule. With node boundaries (`chips_per_node`), a job placed on several nodes
    /// runs at the entry of the largest `p` not above its smallest share.
    pub throughput_pieces: Vec<(u32, Vec<f64>)>,
    /// Gangs across types it may run as instead (its mixed-vendor plans; steps/s with
    /// the workers of each type). Used by the heterogeneity-aware max-min fairness and
    /// maximum-throughput policies.
    pub mixed: Vec<crate::MixedUse>,
}

impl SimJob {
    /// Why a job can never run: more workers at once than any type it runs on has.
    pub fn unschedulable_reason(&self, types: &[(String, u32)], policy: Policy) -> String {
        let best = self
            .throughput
            .iter()
            .zip(types)
            .filter(|(t, _)| **t > 0.0)
            .map(|(_, (name, n))| (name, *n))
            .max_by_key(|(_, n)| *n);
        let why = match best {
            Some((name, n)) => format!(
                "needs {} workers at once; the largest type it can run on has {n} ({name})",
                self.scale_factor
            ),
            None => "has no throughput on any type of the cluster".into(),
        };
        if !self.mixed.is_empty() && !policy.uses_mixed() {
            format!(
                "{why}; it could run as a gang across types, which {} does not plan \
                 (max-min-fairness-perf, max-sum-throughput-perf, \
                 max-sum-normalized-throughput-perf and shortest-job-first-perf do)",
                policy.name()
            )
        } else {
            why
        }
    }
}

/// Policies, named as Gavel names them (kebab-case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// First come, first served, non-preemptive; agnostic places on any free type,
    /// aware on the fastest free type.
    Fifo(Awareness),
    /// Shortest remaining time first (preemptive at each allocation).
    ShortestJobFirst(Awareness),
    /// Least attained service first (Tiresias-style, by GPU-seconds received).
    LeastAttainedService(Awareness),
    MaxMinFairness(Awareness),
    /// Finish-time fairness (Themis, as Gavel formulates it).
    FinishTimeFairness(Awareness),
    /// Minimum makespan (Gavel's `min_total_duration`).
    MinMakespan(Awareness),
    /// Most steps per second in total (Gavel's `max_sum_throughput`).
    MaxSumThroughput(Awareness),
    /// Most progress in total, each job's steps/s divided by its speed on its fastest
    /// type (tessera's; every job's progress counts alike).
    MaxSumNormalizedThroughput(Awareness),
    /// Heterogeneity-aware max-min fairness with space sharing (Gavel's
    /// `max_min_fairness_packed`): jobs may also run in pairs on the same workers, at
    /// the pair's measured throughputs. Needs `SimConfig::colocation`.
    MaxMinFairnessPacked,
    /// Most steps per dollar (Gavel's `max_sum_throughput_normalized_by_cost`);
    /// needs prices per type.
    MinCost(Awareness),
}

impl Policy {
    pub const NAMES: [&'static str; 19] = [
        "fifo",
        "fifo-perf",
        "shortest-job-first",
        "shortest-job-first-perf",
        "least-attained-service",
        "least-attained-service-perf",
        "max-min-fairness",
        "max-min-fairness-perf",
        "finish-time-fairness",
        "finish-time-fairness-perf",
        "min-makespan",
        "min-makespan-perf",
        "max-sum-throughput",
        "max-sum-throughput-perf",
        "min-cost",
        "min-cost-perf",
        "max-sum-normalized-throughput",
        "max-sum-normalized-throughput-perf",
        "max-min-fairness-packed",
    ];

    /// Parses a policy name (kebab- or snake-case; Gavel's `min_total_duration` is an
    /// alias of `min-makespan`).
    pub fn parse(s: &str) -> Option<Policy> {
        let s = s.replace('_', "-");
        if s == "max-min-fairness-packed" {
            return Some(Policy::MaxMinFairnessPacked);
        }
        let (base, a) = match s.strip_suffix("-perf") {
            Some(b) => (b.to_string(), Awareness::Aware),
            None => (s.clone(), Awareness::Agnostic),
        };
        Some(match base.as_str() {
            "fifo" => Policy::Fifo(a),
            "shortest-job-first" | "sjf" => Policy::ShortestJobFirst(a),
            "least-attained-service" | "las" => Policy::LeastAttainedService(a),
            "max-min-fairness" => Policy::MaxMinFairness(a),
            "finish-time-fairness" => Policy::FinishTimeFairness(a),
            "min-makespan" | "min-total-duration" => Policy::MinMakespan(a),
            "max-sum-throughput" => Policy::MaxSumThroughput(a),
            "max-sum-normalized-throughput" => Policy::MaxSumNormalizedThroughput(a),
            "min-cost" | "max-sum-throughput-normalized-by-cost" => Policy::MinCost(a),
            _ => return None,
        })
    }

    /// Whether the policy plans gangs across types ([`SimJob::mixed`]): the
    /// heterogeneity-aware max-min fairness and maximum-throughput policies.
    pub fn uses_mixed(self) -> bool {
        matches!(
            self,
            Policy::MaxMinFairness(Awareness::Aware)
                | Policy::MaxSumThroughput(Awareness::Aware)
                | Policy::MaxSumNormalizedThroughput(Awareness::Aware)
                | Policy::ShortestJobFirst(Awareness::Aware)
        )
    }

    /// The least seconds between two allocations under this policy: Gavel's interval
    /// ([`MIN_SECONDS_BETWEEN_ALLOCATIONS`]) for every policy Gavel has, so that replays
    /// compare with it; none for shortest-job-first (not one of Gavel's), whose
    /// allocation is a sort, so a job that arrives or a job that ends is acted on at the
    /// next round rather than up to 1,920 s later while workers idle.
    pub fn min_reallocation_s(self) -> f64 {
        match self {
            Policy::ShortestJobFirst(_) => 0.0,
            _ => MIN_SECONDS_BETWEEN_ALLOCATIONS,
        }
    }

    pub fn awareness(self) -> Awareness {
        match self {
            Policy::Fifo(a)
            | Policy::ShortestJobFirst(a)
            | Policy::LeastAttainedService(a)
            | Policy::MaxMinFairness(a)
            | Policy::FinishTimeFairness(a)
            | Policy::MinMakespan(a)
            | Policy::MaxSumThroughput(a)
            | Policy::MaxSumNormalizedThroughput(a)
            | Policy::MinCost(a) => a,
            Policy::MaxMinFairnessPacked => Awareness::Aware,
        }
    }

    pub fn name(self) -> &'static str {
        let i = match self {
            Policy::Fifo(_) => 0,
            Policy::ShortestJobFirst(_) => 2,
            Policy::LeastAttainedService(_) => 4,
            Policy::MaxMinFairness(_) => 6,
            Policy::FinishTimeFairness(_) => 8,
            Policy::MinMakespan(_) => 10,
            Policy::MaxSumThroughput(_) => 12,
            Policy::MinCost(_) => 14,
            Policy::MaxSumNormalizedThroughput(_) => 16,
            Policy::MaxMinFairnessPacked => return Policy::NAMES[18],
        };
        Policy::NAMES[i + usize::from(self.awareness() == Awareness::Aware)]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub policy: Policy,
    pub round_s: f64,
    /// Seconds lost when a job starts on workers it did not hold the round before
    /// (checkpoint restore); 0 by default, as in Gavel's simulator.
    pub restart_s: f64,
    /// Seed for the agnostic FIFO's choice of worker type (Gavel draws it at random).
    pub seed: u64,
    /// Accelerators per node, if nodes are modelled. A job's workers then go on one node
    /// when one has room (the fullest that fits, to keep large holes for large jobs);
    /// otherwise they spread over the nodes with the most free workers and run at the
    /// spread throughput. `None` (Gavel's simulation): no node boundaries.
    /// One count per type, in the order of `capacity`.
    pub chips_per_node: Option<Vec<u32>>,
    /// USD per worker-hour of each type, for the cost metric and the min-cost policy.
    pub prices: Option<Vec<f64>>,
    /// End the replay as soon as every runnable job whose id lies in this inclusive
    /// range has finished (Gavel's `jobs_to_complete`); later jobs keep arriving until
    /// then, and jobs still running at the end have no finish time. Meant for an open
    /// stream of arrivals: if the last job arrives before the range is done, the replay
    /// stops there and says so (`arrivals_exhausted`), so that the caller can extend
    /// the stream. `None`: replay every job to completion.
    pub stop_after: Option<(usize, usize)>,
    /// Measured throughputs of job kinds sharing workers, for the packed policy.
    pub colocation: Option<CoLocation>,
    /// The LP method of the LP policies.
    pub solver: crate::Solver,
    /// Least seconds between two allocations (a new allocation is also only made when
    /// jobs arrived or left). `None`: the policy's own interval
    /// ([`Policy::min_reallocation_s`]).
    pub realloc_s: Option<f64>,
    /// Gavel's own behaviour where tessera corrects it (`--gavel-compat`); `None`:
    /// tessera's mechanism.
    pub gavel_compat: Option<GavelCompat>,
}

impl SimConfig {
    /// The least seconds between two allocations this replay uses.
    pub fn min_reallocation_s(&self) -> f64 {
        self.realloc_s
            .unwrap_or_else(|| self.policy.min_reallocation_s())
    }
}

/// What `--gavel-compat` reproduces of Gavel (stanford-futuredata/gavel c4fa400), where
/// tessera's own mechanism differs on purpose (docs/scheduler.md):
/// - the agnostic FIFO's type choice (`scheduler/policies/fifo.py`, base mode), with
///   Python's random number generator seeded as Gavel seeds it;
/// - minimum makespan's deadline search (`policies/min_total_duration.py`: brackets from
///   [100 s, 10^6 s] up by factors of ten, stopping within 5%) and its LP without an
///   objective ([`crate::DeadlineSearch::Gavel`]);
/// - the agnostic policies' inputs: max-min fairness plans with 1.0 on every type and
///   minimum makespan and finish-time fairness with the reference type's speed on every
///   type, even where the job cannot run (its time there is lost);
/// - the clock: a last allocation at t = 0 counts as none (the next one is not held back
///   by the 1,920 s interval), with nothing placeable the clock jumps to the next
///   arrival, and with none left to arrive it allocates anew at once;
/// - whole steps: a job that does not finish in a round runs `floor(rate * round)`
///   steps, so the round takes a little less than its length (`_get_num_steps`).
#[derive(Debug, Clone, PartialEq)]
pub struct GavelCompat {
    /// The cluster's types sorted by Gavel's worker-type names (`k80`, `p100`, `v100`),
    /// as indices into the capacity.
    pub type_order: Vec<usize>,
    /// The type whose speed Gavel's agnostic deadline policies plan with everywhere
    /// (its `v100`); `None`: each job's first type with a speed.
    pub reference: Option<usize>,
}

/// Steps/s of two job kinds running together on the same workers: for kinds `(a, b)`,
/// per cluster type, `(a's, b's)`; `(0, 0)` where not measured. Either order may be
/// given; a lookup tries both.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CoLocation {
    pub pairs: HashMap<(u32, u32), Vec<(f64, f64)>>,
}

impl CoLocation {
    /// Per type, `(a's, b's)` steps/s when kinds `a` and `b` share workers.
    pub fn get(&self, a: u32, b: u32) -> Option<Vec<(f64, f64)>> {
        if let Some(v) = self.pairs.get(&(a, b)) {
            return Some(v.clone());
        }
        self.pairs
            .get(&(b, a))
            .map(|v| v.iter().map(|&(x, y)| (y, x)).collect())
    }
}

/// One job's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct JobResult {
    pub id: usize,
    pub arrival_s: f64,
    /// `None` if the job never finished (it fits no type).
    pub finish_s: Option<f64>,
    pub jct_s: Option<f64>,
    /// Times the job was moved off workers it held, or stopped between rounds.
    pub preemptions: u32,
    /// Finish-time fairness (Themis): JCT over the time the job would take alone on an
    /// equal 1/N share of the cluster, N the average number of jobs present during its
    /// life; above 1 means it did worse than its fair share.
    pub ftf_rho: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SimResult {
    pub policy: &'static str,
    pub makespan_s: f64,
    pub avg_jct_s: f64,
    pub median_jct_s: f64,
    pub p99_jct_s: f64,
    /// Busy worker-seconds over available worker-seconds up to the makespan, per type.
    pub utilization: Vec<f64>,
    pub rounds: u64,
    pub allocations_solved: u64,
    pub preemptions: u64,
    /// Placements of multi-worker jobs that had to span nodes.
    pub spread_placements: u64,
    /// Placements of a job as one gang across types (rounds it ran so).
    pub across_placements: u64,
    /// Placements of a job at another size on one type (an elastic shape).
    pub resized_placements: u64,
    /// Busy worker-hours times each type's price, if prices were given.
    pub cost_usd: Option<f64>,
    /// Largest and mean finish-time-fairness ratio over finished jobs.
    pub ftf_rho_max: f64,
    pub ftf_rho_mean: f64,
    /// Jobs that can never run (no type has enough workers and a throughput).
    pub unschedulable: Vec<usize>,
    /// With `stop_after`: the last job arrived before the stopping jobs finished, and
    /// the replay stopped there (the stream was too short).
    pub arrivals_exhausted: bool,
    /// Jobs that arrived before the replay ended (all of them without `stop_after`).
    pub jobs_arrived: usize,
    /// The jobs that arrived, in input order.
    pub jobs: Vec<JobResult>,
    /// Per round: its start, its length, and the busy fraction of each type during it
    /// (for charts; not in the JSON).
    pub timeline: Vec<(f64, f64, Vec<f64>)>,
}

/// Percentile by nearest rank over sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Gavel recomputes an allocation at most this often (its default,
/// `minimum_time_between_allocation_resets`), and only when jobs arrived or left.
pub const MIN_SECONDS_BETWEEN_ALLOCATIONS: f64 = 1920.0;

/// Replays `jobs` on a cluster of `capacity[t]` workers per type.
///
/// The mechanism follows Gavel's simulator: jobs join at the first round boundary at or
/// after their arrival; a round ends when its last placed job stops (a full round, or
/// earlier if every placed job finishes); with nothing to run, time jumps to the next
/// arrival. For the LP policies the allocation is recomputed when the job set changed and
/// at least [`MIN_SECONDS_BETWEEN_ALLOCATIONS`] passed since the last one; placements go
/// by priority, worker type by worker type in cluster order.
pub fn simulate(
    jobs: &[SimJob],
    capacity: &[u32],
    cfg: &SimConfig,
    mut progress: impl FnMut(usize, usize),
) -> Result<SimResult, PolicyError> {
    let nt = capacity.len();
    let n = jobs.len();
    let gangs = cfg.policy.uses_mixed();
    let runnable = |j: &SimJob| {
        j.throughput
            .iter()
            .zip(capacity)
            .any(|(&t, &c)| t > 0.0 && j.scale_factor <= c)
            || (gangs
                && j.mixed
                    .iter()
                    .any(|m| m.throughput > 0.0 && m.fits(capacity)))
    };
    // Arrival order, ties by index: deterministic.
    let mut order: Vec<usize> = (0..n).filter(|&i| runnable(&jobs[i])).collect();
    order.sort_by(|&a, &b| {
        jobs[a]
            .arrival_s
            .total_cmp(&jobs[b].arrival_s)
            .then(a.cmp(&b))
    });
    let total = order.len();
    let in_target = |i: usize| {
        cfg.stop_after
            .is_none_or(|(lo, hi)| (lo..=hi).contains(&jobs[i].id))
    };
    // Jobs whose completion ends the replay; progress is reported over them.
    let target = order.iter().filter(|&&i| in_target(i)).count();
    let mut target_done = 0usize;
    let mut arrivals_exhausted = false;

    // The scheduling core decides; this driver is its virtual clock and its engine: it
    // runs each round's placements at their rates and reports back. Jobs are registered
    // in input order, so the core's indices are the input indices.
    let mut core = RoundCore::new(capacity, cfg);
    for j in jobs {
        core.add(j.clone());
    }
    let mut remaining: Vec<f64> = jobs.iter().map(|j| j.total_steps).collect();
    let mut finish: Vec<Option<f64>> = vec![None; n];
    let mut used_of = vec![0.0f64; n];
    let mut busy = vec![0.0f64; nt];
    // Jobs present x seconds, and seconds present, per job (for finish-time fairness).
    let (mut contention, mut lived) = (vec![0.0f64; n], vec![0.0f64; n]);
    let mut spread_count = 0u64;
    let mut across_count = 0u64;
    let mut resized_count = 0u64;
    let mut timeline: Vec<(f64, f64, Vec<f64>)> = Vec::new();
    let mut next_arrival = 0usize;
    let (mut now, mut rounds, mut done) = (0.0f64, 0u64, 0usize);
    let mut forgot = false;

    while done < total && target_done < target {
        while next_arrival < total && jobs[order[next_arrival]].arrival_s <= now {
            core.handle(Event::Arrived {
                job: order[next_arrival],
            })?;
            next_arrival += 1;
        }
        if cfg.stop_after.is_some() && next_arrival >= total {
            arrivals_exhausted = true;
            break;
        }
        if core.active().is_empty() {
            now = jobs[order[next_arrival]].arrival_s;
            continue;
        }
        let plan = match core.handle(Event::RoundDue { now })? {
            Reaction::Round(plan) => {
                forgot = false;
                plan
            }
            Reaction::Wait { next_allocation_s } => {
                // Nothing placeable (every active job waits for an allocation): move to
                // the next arrival or the next allocation time.
                let next_arr = (next_arrival < total).then(|| jobs[order[next_arrival]].arrival_s);
                now = match (&cfg.gavel_compat, next_arr) {
                    // Gavel's clock jumps to the next arrival, however long before it a
                    // new allocation would be due; with none left to arrive, it allocates
                    // anew at once (once: if that places nothing either, the allocation
                    // time rules).
                    (Some(_), Some(a)) => a,
                    (Some(_), None) if !forgot => {
                        forgot = true;
                        core.gavel_forget_last_allocation();
                        now
                    }
                    _ => next_arr.map_or(next_allocation_s, |a| a.min(next_allocation_s)),
                }
                .max(now + 1e-9);
                continue;
            }
            Reaction::None => {
                return Err(PolicyError::BadJob {
                    job: 0,
                    what: "the scheduling core placed nothing while jobs were queued".into(),
                });
            }
        };
        let mut round_end = now;
        let mut round_busy = vec![0.0f64; nt];
        // Each gang counts once: a pair's second job shares its partner's nodes.
        let mut second = vec![false; plan.placements.len()];
        for &(_, b) in &plan.pairs {
            second[b] = true;
        }
        spread_count += plan
            .placements
            .iter()
            .zip(&second)
            .filter(|(p, s)| p.spread && !**s)
            .count() as u64;
        for p in &plan.placements {
            let i = p.job;
            let j = &jobs[i];
            debug_assert!(remaining[i] > 0.0, "job {i} placed after it finished");
            let lost = if p.restart { cfg.restart_s } else { 0.0 };
            let run_s = (cfg.round_s - lost).max(0.0);
            let need_s = remaining[i] / p.rate;
            let used = if need_s <= run_s {
                finish[i] = Some(now + lost + need_s);
                remaining[i] = 0.0;
                lost + need_s
            } else if cfg.gavel_compat.is_some() && p.rate * run_s >= 1.0 {
                // Gavel runs a whole number of steps a round (`int(throughput * 360)`,
                // `_get_num_steps`), so a round takes that many steps' time, a little
                // under the round length, and the round ends with its longest job. (A
                // job slower than one step a round runs on continuously, so it cannot
                // stall.)
                let steps = (p.rate * run_s).floor();
                remaining[i] -= steps;
                lost + steps / p.rate
            } else {
                remaining[i] -= p.rate * run_s;
                cfg.round_s
            };
            if let Some(a) = &p.across {
                if a.parts.len() > 1 {
                    across_count += 1;
                } else {
                    resized_count += 1;
                }
                for part in &a.parts {
                    busy[part.ty] += used * part.workers as f64;
                    round_busy[part.ty] += used * part.workers as f64;
                }
            } else if p.partner.is_none() {
                busy[p.ty] += used * j.scale_factor as f64;
                round_busy[p.ty] += used * j.scale_factor as f64;
            }
            used_of[i] = used;
            round_end = round_end.max(now + used);
            core.handle(Event::Ran {
                job: i,
                used_s: used,
                steps_left: remaining[i],
            })?;
        }
        // A pair holds its workers until the later of its two jobs stops.
        for &(a, b) in &plan.pairs {
            let (pa, pb) = (&plan.placements[a], &plan.placements[b]);
            let used = used_of[pa.job].max(used_of[pb.job]);
            let sf = jobs[pa.job].scale_factor as f64;
            busy[pa.ty] += used * sf;
            round_busy[pa.ty] += used * sf;
        }
        let before = core.active().len();
        let finished_target = core
            .active()
            .iter()
            .filter(|&&i| remaining[i] <= 0.0 && in_target(i))
            .count();
        core.handle(Event::RoundEnded)?;
        let active = core.active();
        if before != active.len() {
            done += before - active.len();
            if finished_target > 0 {
                target_done += finished_target;
                progress(target_done, target);
            }
        }
        let len = round_end - now;
        for &i in active {
            contention[i] += active.len() as f64 * len;
            lived[i] += len;
        }
        if len > 0.0 {
            let frac = round_busy
                .iter()
                .zip(capacity)
                .map(|(b, &c)| if c == 0 { 0.0 } else { b / (c as f64 * len) })
                .collect();
            timeline.push((now, len, frac));
        }
        now = round_end;
        rounds += 1;
    }
    let solves = core.solves();
    let preempt: Vec<u32> = (0..n).map(|i| core.preemptions(i)).collect();
    // With a stopping set, jobs after the end never arrived: they are left out, and a
    // replay that used up every arrival is flagged.
    let arrived = |j: &SimJob| cfg.stop_after.is_none() || j.arrival_s <= now;
    let mut jct: Vec<f64> = Vec::new();
    let results: Vec<JobResult> = jobs
        .iter()
        .enumerate()
        .filter(|(_, j)| arrived(j))
        .map(|(i, j)| {
            let f = finish[i];
            let c = f.map(|f| f - j.arrival_s);
            if let Some(c) = c {
                jct.push(c);
            }
            let rho = c.map(|c| {
                let n_avg = if lived[i] > 0.0 {
                    (contention[i] / lived[i]).max(1.0)
                } else {
                    1.0
                };
                let row: Vec<Vec<f64>> = vec![j.throughput.clone()];
                // Gavel's equal-share throughput with the cluster split over n_avg jobs.
                let share: Vec<f64> = capacity.iter().map(|&c| c as f64 / n_avg).collect();
                let sum: f64 = share.iter().sum();
                let scale = if sum > 1.0 { 1.0 / sum } else { 1.0 };
                let prop: f64 = row[0].iter().zip(&share).map(|(t, s)| t * s * scale).sum();
                let iso = j.total_steps / prop.max(1e-12);
                c / iso
            });
            JobResult {
                id: j.id,
                arrival_s: j.arrival_s,
                finish_s: f,
                jct_s: c,
                preemptions: preempt[i],
                ftf_rho: rho,
            }
        })
        .collect();
    let makespan = finish.iter().flatten().copied().fold(0.0, f64::max);
    jct.sort_by(f64::total_cmp);
    let avg = if jct.is_empty() {
        0.0
    } else {
        jct.iter().sum::<f64>() / jct.len() as f64
    };
    Ok(SimResult {
        policy: cfg.policy.name(),
        makespan_s: makespan,
        avg_jct_s: avg,
        median_jct_s: percentile(&jct, 50.0),
        p99_jct_s: percentile(&jct, 99.0),
        utilization: busy
            .iter()
            .zip(capacity)
            .map(|(b, &c)| {
                if c == 0 || makespan <= 0.0 {
                    0.0
                } else {
                    b / (c as f64 * makespan)
                }
            })
            .collect(),
        rounds,
        allocations_solved: solves,
        preemptions: preempt.iter().map(|&p| p as u64).sum(),
        spread_placements: spread_count,
        across_placements: across_count,
        resized_placements: resized_count,
        ftf_rho_max: results.iter().filter_map(|r| r.ftf_rho).fold(0.0, f64::max),
        ftf_rho_mean: {
            let v: Vec<f64> = results.iter().filter_map(|r| r.ftf_rho).collect();
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        },
        cost_usd: cfg.prices.as_ref().map(|p| {
            busy.iter()
                .zip(p)
                .map(|(b, price)| b / 3600.0 * price)
                .sum()
        }),
        unschedulable: jobs
            .iter()
            .filter(|j| !runnable(j) && arrived(j))
            .map(|j| j.id)
            .collect(),
        arrivals_exhausted,
        jobs_arrived: results.len(),
        jobs: results,
        timeline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::Rng;

    fn job(id: usize, arrival: f64, steps: f64, tput: &[f64]) -> SimJob {
        SimJob {
            id,
            arrival_s: arrival,
            total_steps: steps,
            scale_factor: 1,
            weight: 1.0,
            priority: 0,
            kind: None,
            throughput: tput.to_vec(),
            throughput_spread: None,
            throughput_pieces: Vec::new(),
            mixed: Vec::new(),
        }
    }

    /// Policy `p` with 360 s rounds and no extras.
    fn config(p: &str) -> SimConfig {
        SimConfig {
            policy: Policy::parse(p).unwrap(),
            round_s: 360.0,
            restart_s: 0.0,
            seed: 0,
            chips_per_node: None,
            prices: None,
            stop_after: None,
            // An empty table: the packed policy runs, with nothing to pack.
            colocation: Some(CoLocation::default()),
            solver: crate::Solver::Simplex,
            realloc_s: None,
            gavel_compat: None,
        }
    }

    fn run(jobs: &[SimJob], cap: &[u32], p: &str) -> SimResult {
        let cfg = SimConfig {
            prices: Some(vec![1.0; cap.len()]),
            ..config(p)
        };
        simulate(jobs, cap, &cfg, |_, _| {}).unwrap()
    }

    #[test]
    fn a_stopping_set_ends_the_replay_when_its_jobs_finish() {
        // One worker shared by max-min fairness: job 0 (1 h of work) and job 1 (10 h)
        // both at 0, job 2 long after. Stopping on job 0 ends the replay when it
        // finishes; job 1 is still running and job 2 never arrived.
        let jobs = [
            job(0, 0.0, 3600.0, &[1.0]),
            job(1, 0.0, 36_000.0, &[1.0]),
            job(2, 1e6, 3600.0, &[1.0]),
        ];
        let cfg = SimConfig {
            stop_after: Some((0, 0)),
            ..config("max-min-fairness-perf")
        };
        let r = simulate(&jobs, &[1], &cfg, |_, _| {}).unwrap();
        assert_eq!(r.jobs_arrived, 2);
        assert_eq!(r.jobs.len(), 2);
        assert!(r.jobs[0].finish_s.is_some() && r.jobs[1].finish_s.is_none());
        // Job 0 got about half the worker: it needed about 2 h, not 1.
        let f = r.jobs[0].finish_s.unwrap();
        assert!((6800.0..7600.0).contains(&f), "{f}");
        assert_eq!(r.makespan_s, f);
        // Job 2 was still to come: the stream was long enough.
        assert!(!r.arrivals_exhausted);
        // Stopping on job 2: the replay stops when it arrives, as nothing comes after.
        let all = simulate(
            &jobs,
            &[1],
            &SimConfig {
                stop_after: Some((2, 2)),
                ..cfg.clone()
            },
            |_, _| {},
        )
        .unwrap();
        assert!(all.arrivals_exhausted);
        assert_eq!(all.jobs_arrived, 3);
        assert!(all.jobs[2].finish_s.is_none());
        // Without a stopping set every job runs to the end.
        let full = simulate(
            &jobs,
            &[1],
            &SimConfig {
                stop_after: None,
                ..cfg
            },
            |_, _| {},
        )
        .unwrap();
        assert!(full.jobs.iter().all(|j| j.finish_s.is_some()));
        assert!(!full.arrivals_exhausted);
    }

    #[test]
    fn one_job_alone_finishes_exactly() {
        // 1,000 steps at 2 steps/s: 500 s, inside the second round.
        for p in Policy::NAMES {
            let r = run(&[job(0, 0.0, 1000.0, &[2.0])], &[1], p);
            assert!((r.makespan_s - 500.0).abs() < 1e-9, "{p}: {r:?}");
            assert!((r.avg_jct_s - 500.0).abs() < 1e-9, "{p}");
            assert!((r.utilization[0] - 1.0).abs() < 1e-9, "{p}");
            // Alone on its whole (one-GPU) cluster, a job gets exactly its fair share.
            assert!((r.ftf_rho_max - 1.0).abs() < 1e-9, "{p}: {}", r.ftf_rho_max);
        }
    }

    #[test]
    fn fifo_runs_jobs_in_order_and_fairness_shares() {
        // Two equal jobs of 720 s each on one GPU.
        let jobs = [job(0, 0.0, 720.0, &[1.0]), job(1, 0.0, 720.0, &[1.0])];
        let f = run(&jobs, &[1], "fifo");
        assert_eq!(f.jobs[0].finish_s, Some(720.0));
        // Job 1 waits for the next allocation: at most one every 1,920 s (Gavel's rule),
        // so it runs from 1,920 s to 2,640 s while the GPU idles from 720 s.
        assert_eq!(
            f.jobs[1].finish_s,
            Some(MIN_SECONDS_BETWEEN_ALLOCATIONS + 720.0)
        );
        // Max-min fairness alternates rounds: both finish near the end.
        let m = run(&jobs, &[1], "max-min-fairness");
        assert_eq!(m.makespan_s, 1440.0);
        assert!(
            m.jobs.iter().all(|j| j.finish_s.unwrap() >= 1080.0),
            "{m:?}"
        );
        assert!(m.preemptions > 0);
    }

    #[test]
    fn aware_beats_agnostic_on_a_heterogeneous_cluster() {
        // Gavel-like spread: each job's speedup on the fast type varies from 1x to 10x.
        let jobs: Vec<SimJob> = (0..30)
            .map(|i| {
                let fast = 1.0 + (i * 7 % 10) as f64;
                job(
                    i,
                    (i * 300) as f64,
                    20_000.0 + (i * 53 % 17) as f64 * 2_000.0,
                    &[fast, 1.0],
                )
            })
            .collect();
        let agn = run(&jobs, &[4, 4], "max-min-fairness");
        let aware = run(&jobs, &[4, 4], "max-min-fairness-perf");
        assert!(
            aware.avg_jct_s < 0.9 * agn.avg_jct_s,
            "aware {} vs agnostic {}",
            aware.avg_jct_s,
            agn.avg_jct_s
        );
    }

    #[test]
    fn idle_gaps_and_unschedulable_jobs() {
        let jobs = [
            job(0, 0.0, 100.0, &[1.0]),
            job(1, 100_000.0, 100.0, &[1.0]),
            SimJob {
                scale_factor: 4,
                ..job(2, 0.0, 100.0, &[1.0])
            },
        ];
        let r = run(&jobs, &[2], "max-min-fairness-perf");
        assert_eq!(r.unschedulable, vec![2]);
        assert_eq!(r.jobs[2].finish_s, None);
        // With nothing running, time jumps to job 1's arrival and it starts at once.
        assert_eq!(r.jobs[1].finish_s, Some(100_100.0));
        // Utilization counts the idle gap: 200 busy seconds over 2 GPUs x makespan.
        assert!((r.utilization[0] - 200.0 / (2.0 * r.makespan_s)).abs() < 1e-12);
    }

    #[test]
    fn gangs_prefer_one_node_and_pay_for_spreading() {
        let mk = |id: usize, sf: u32| SimJob {
            scale_factor: sf,
            throughput_spread: Some(vec![0.5]),
            throughput_pieces: Vec::new(),
            mixed: Vec::new(),
            ..job(id, 0.0, 3600.0, &[1.0])
        };
        let jobs = [mk(0, 3), mk(1, 3), mk(2, 2)];
        let cfg = |cpn: u32| SimConfig {
            chips_per_node: Some(vec![cpn]),
            ..config("max-min-fairness-perf")
        };
        // One node of 8: everything fits whole.
        let whole = simulate(&jobs, &[8], &cfg(8), |_, _| {}).unwrap();
        assert_eq!(whole.spread_placements, 0);
        assert_eq!(whole.makespan_s, 3600.0);
        // Two nodes of 4: the 3-worker jobs take one node each and leave a worker free on
        // each, so the 2-worker job is split across both, at half speed.
        let split = simulate(&jobs, &[8], &cfg(4), |_, _| {}).unwrap();
        assert!(split.spread_placements > 0);
        assert_eq!(split.jobs[2].finish_s, Some(7200.0));
        assert_eq!(split.jobs[0].finish_s, Some(3600.0));
    }

    /// max-min-fairness-perf on one type, with or without `--gavel-compat`.
    fn one_type_compat(on: bool) -> SimConfig {
        SimConfig {
            realloc_s: None,
            gavel_compat: on.then(|| GavelCompat {
                type_order: vec![0],
                reference: Some(0),
            }),
            ..config("max-min-fairness-perf")
        }
    }

    /// `--gavel-compat`'s clock: after an allocation at t = 0, the next one is not held
    /// back by the 1,920 s interval (Gavel's last reset time 0 reads as "never"), so a job
    /// arriving at 500 s starts at the next round boundary (720 s: jobs join at round
    /// ends) instead of after 1,920 s (2,160 s).
    #[test]
    fn gavel_compat_clock_follows_gavels() {
        let jobs = [job(0, 0.0, 36_000.0, &[1.0]), job(1, 500.0, 3600.0, &[1.0])];
        let compat = one_type_compat;
        let ours = simulate(&jobs, &[2], &compat(false), |_, _| {}).unwrap();
        let gavel = simulate(&jobs, &[2], &compat(true), |_, _| {}).unwrap();
        assert_eq!(
            ours.jobs[1].finish_s,
            Some(2160.0 + 3600.0),
            "{:?}",
            ours.jobs
        );
        assert_eq!(
            gavel.jobs[1].finish_s,
            Some(720.0 + 3600.0),
            "{:?}",
            gavel.jobs
        );
        // A first allocation later than t = 0 holds the interval as usual.
        let late = [
            job(0, 10.0, 36_000.0, &[1.0]),
            job(1, 500.0, 3600.0, &[1.0]),
        ];
        let gavel = simulate(&late, &[2], &compat(true), |_, _| {}).unwrap();
        assert!(
            gavel.jobs[1].finish_s.unwrap() > 1920.0 + 3600.0,
            "{:?}",
            gavel.jobs
        );
        // With nothing placeable, Gavel's clock jumps to the next arrival even when an
        // allocation falls due earlier: job 1 arrives at 500 s, after job 0 finished,
        // while the allocation of 10 s is recent. tessera allocates at 1,930 s; Gavel's
        // clock waits for job 2's arrival at 5,000 s.
        let jobs = [
            job(0, 10.0, 300.0, &[1.0]),
            job(1, 500.0, 3600.0, &[1.0]),
            job(2, 5000.0, 100.0, &[1.0]),
        ];
        let ours = simulate(&jobs, &[1], &compat(false), |_, _| {}).unwrap();
        let gavel = simulate(&jobs, &[1], &compat(true), |_, _| {}).unwrap();
        assert_eq!(
            ours.jobs[1].finish_s,
            Some(1930.0 + 3600.0),
            "{:?}",
            ours.jobs
        );
        assert!(
            gavel.jobs[1].finish_s.unwrap() >= 5000.0 + 3600.0,
            "{:?}",
            gavel.jobs
        );
    }

    /// `--gavel-compat`'s whole steps: at 1.003 steps/s a 360 s round runs 361 steps, so
    /// each full round lasts 361 / 1.003 = 359.92 s instead of 360 s; the job still
    /// finishes at its steps over its rate, in 28 rounds either way.
    #[test]
    fn gavel_compat_runs_whole_steps_a_round() {
        let jobs = [job(0, 0.0, 10_000.0, &[1.003])];
        let cfg = one_type_compat;
        let ours = simulate(&jobs, &[1], &cfg(false), |_, _| {}).unwrap();
        let gavel = simulate(&jobs, &[1], &cfg(true), |_, _| {}).unwrap();
        let end = 10_000.0 / 1.003;
        assert!((ours.jobs[0].finish_s.unwrap() - end).abs() < 1e-6);
        assert!((gavel.jobs[0].finish_s.unwrap() - end).abs() < 1e-6);
        assert_eq!(ours.rounds, 28);
        assert_eq!(gavel.rounds, 28);
        // The first round's length: 360 s against 361 / 1.003 s.
        let lens = |r: &SimResult| -> Vec<f64> { r.timeline.iter().map(|t| t.1).collect() };
        assert!((lens(&ours)[0] - 360.0).abs() < 1e-9, "{:?}", lens(&ours));
        assert!(
            (lens(&gavel)[0] - 361.0 / 1.003).abs() < 1e-9,
            "{:?}",
            lens(&gavel)
        );
    }

    /// A job split over nodes runs at its speed for the fewest workers it has on one
    /// node (`throughput_pieces`): 6 workers on nodes of 4 go 4 + 2 and run at the
    /// 2-share rate; on one node of 8, or without split speeds, at the whole rate.
    #[test]
    fn a_split_job_runs_at_its_smallest_shares_speed() {
        let j = SimJob {
            scale_factor: 6,
            throughput_pieces: vec![(1, vec![0.25]), (2, vec![0.5]), (4, vec![0.75])],
            ..job(0, 0.0, 3600.0, &[1.0])
        };
        let on = |cpn: u32, job: &SimJob| {
            let cfg = SimConfig {
                chips_per_node: Some(vec![cpn]),
                ..config("max-min-fairness-perf")
            };
            simulate(std::slice::from_ref(job), &[8], &cfg, |_, _| {}).unwrap()
        };
        assert_eq!(on(4, &j).jobs[0].finish_s, Some(7200.0));
        assert_eq!(on(8, &j).jobs[0].finish_s, Some(3600.0));
        let plain = SimJob {
            throughput_pieces: Vec::new(),
            ..j.clone()
        };
        assert_eq!(on(4, &plain).jobs[0].finish_s, Some(3600.0));
        // 8 workers on two nodes of 4: a share of 4, the 4-share rate.
        let eight = SimJob {
            scale_factor: 8,
            ..j.clone()
        };
        let r = on(4, &eight);
        assert_eq!(r.jobs[0].finish_s, Some(4800.0), "{:?}", r.jobs);
        // A zero entry never stalls the job: the smallest positive rate below it.
        let zero = SimJob {
            throughput_pieces: vec![(1, vec![0.25]), (2, vec![0.0])],
            ..j
        };
        assert_eq!(on(4, &zero).jobs[0].finish_s, Some(14_400.0));
    }

    #[test]
    fn a_higher_tier_preempts_and_runs_as_if_alone() {
        // Four long single-worker jobs fill four workers; a 4-worker job of a higher
        // tier arrives at 3,600 s with 1 h of work. It takes the whole cluster at the
        // next allocation and finishes an hour later; without the tier it shares.
        let mut jobs: Vec<SimJob> = (0..4).map(|i| job(i, 0.0, 36_000.0, &[1.0])).collect();
        jobs.push(SimJob {
            scale_factor: 4,
            priority: 1,
            ..job(4, 3600.0, 3600.0, &[1.0])
        });
        for p in [
            "max-min-fairness-perf",
            "min-makespan-perf",
            "finish-time-fairness",
            "shortest-job-first",
            "least-attained-service-perf",
        ] {
            let r = run(&jobs, &[4], p);
            assert_eq!(r.jobs[4].finish_s, Some(7200.0), "{p}");
        }
        let mut flat = jobs.clone();
        flat[4].priority = 0;
        let r = run(&flat, &[4], "max-min-fairness-perf");
        assert!(
            r.jobs[4].finish_s.unwrap() > 7200.0 + 360.0,
            "{:?}",
            r.jobs[4]
        );
        // FIFO: a higher-tier job jumps the queue. One worker, job 0 running; jobs 1
        // (tier 0) and 2 (tier 1) wait; job 2 runs next.
        let q = [
            job(0, 0.0, 3600.0, &[1.0]),
            job(1, 10.0, 3600.0, &[1.0]),
            SimJob {
                priority: 1,
                ..job(2, 20.0, 3600.0, &[1.0])
            },
        ];
        let r = run(&q, &[1], "fifo-perf");
        assert!(r.jobs[2].finish_s < r.jobs[1].finish_s, "{:?}", r.jobs);
    }

    #[test]
    fn packed_jobs_share_workers_when_it_pays() {
        // Two 3,600-step jobs on one worker, 1 step/s alone. Time-shared they finish at
        // about 7,200 s; packed at 0.8 step/s each, both at 4,500 s.
        let mut jobs = vec![job(0, 0.0, 3600.0, &[1.0]), job(1, 0.0, 3600.0, &[1.0])];
        jobs[0].kind = Some(0);
        jobs[1].kind = Some(1);
        let mut co = CoLocation::default();
        co.pairs.insert((0, 1), vec![(0.8, 0.8)]);
        let cfg = SimConfig {
            colocation: Some(co),
            solver: crate::Solver::Simplex,
            realloc_s: None,
            gavel_compat: None,
            ..config("max-min-fairness-packed")
        };
        let r = simulate(&jobs, &[1], &cfg, |_, _| {}).unwrap();
        assert_eq!(r.jobs[0].finish_s, Some(4500.0));
        assert_eq!(r.jobs[1].finish_s, Some(4500.0));
        // The worker was busy 4,500 s: utilization 1, not 2.
        assert!((r.utilization[0] - 1.0).abs() < 1e-9, "{:?}", r.utilization);
        let plain = run(&jobs, &[1], "max-min-fairness-perf");
        assert!(plain.jobs[1].finish_s.unwrap() > 7000.0);
        // A pair worse than time sharing is never used.
        let mut bad = CoLocation::default();
        bad.pairs.insert((1, 0), vec![(0.3, 0.3)]);
        let r = simulate(
            &jobs,
            &[1],
            &SimConfig {
                colocation: Some(bad),
                solver: crate::Solver::Simplex,
                realloc_s: None,
                gavel_compat: None,
                ..config("max-min-fairness-packed")
            },
            |_, _| {},
        )
        .unwrap();
        assert_eq!(r.jobs, plain.jobs);
        // The policy needs a table.
        let none = SimConfig {
            colocation: None,
            solver: crate::Solver::Simplex,
            realloc_s: None,
            gavel_compat: None,
            ..config("max-min-fairness-packed")
        };
        assert!(simulate(&jobs, &[1], &none, |_, _| {}).is_err());
    }

    #[test]
    fn node_size_is_per_type() {
        // The same three gangs (3, 3 and 2 workers) on each of two types of 8 workers:
        // type 0 has one node of 8, type 1 two nodes of 4. Only type 1's 2-worker job
        // has to span nodes.
        let mk = |id: usize, sf: u32, on: usize| SimJob {
            scale_factor: sf,
            throughput_spread: Some(vec![0.5, 0.5]),
            throughput_pieces: Vec::new(),
            mixed: Vec::new(),
            ..job(
                id,
                0.0,
                3600.0,
                if on == 0 { &[1.0, 0.0] } else { &[0.0, 1.0] },
            )
        };
        let jobs = [
            mk(0, 3, 0),
            mk(1, 3, 0),
            mk(2, 2, 0),
            mk(3, 3, 1),
            mk(4, 3, 1),
            mk(5, 2, 1),
        ];
        let cfg = SimConfig {
            chips_per_node: Some(vec![8, 4]),
            ..config("max-min-fairness-perf")
        };
        let r = simulate(&jobs, &[8, 8], &cfg, |_, _| {}).unwrap();
        assert_eq!(r.jobs[2].finish_s, Some(3600.0));
        assert_eq!(r.jobs[5].finish_s, Some(7200.0));
        assert_eq!(r.spread_placements, 20); // every 360 s round of its 7,200 s
    }

    /// A job of 8 workers on a cluster of 4 + 4 runs only as a gang across the two types:
    /// it finishes at its steps over the gang's rate, running so every round, under the
    /// policies that plan gangs; the others cannot run it.
    #[test]
    fn a_job_larger_than_any_type_runs_across_types() {
        let big = SimJob {
            scale_factor: 8,
            mixed: vec![crate::MixedUse {
                uses: vec![(0, 4), (1, 4)],
                throughput: 2.0,
                pieces: Vec::new(),
            }],
            ..job(0, 0.0, 7200.0, &[0.0, 0.0])
        };
        for p in [
            "max-min-fairness-perf",
            "max-sum-throughput-perf",
            "max-sum-normalized-throughput-perf",
        ] {
            let cfg = SimConfig {
                chips_per_node: Some(vec![4, 2]),
                ..config(p)
            };
            let r = simulate(std::slice::from_ref(&big), &[4, 4], &cfg, |_, _| {}).unwrap();
            assert_eq!(r.jobs[0].finish_s, Some(3600.0), "{p}");
            assert_eq!(r.across_placements, 10, "{p}");
            assert_eq!(r.spread_placements, 0, "{p}");
            assert_eq!(r.jobs[0].preemptions, 0, "{p}");
            assert!(r.utilization.iter().all(|&u| (u - 1.0).abs() < 1e-9), "{p}");
        }
        for p in ["max-min-fairness", "fifo-perf", "finish-time-fairness-perf"] {
            let r = run(std::slice::from_ref(&big), &[4, 4], p);
            assert_eq!(r.unschedulable, vec![0], "{p}");
        }
    }

    /// An elastic shape: a job of 4 workers that also runs on all 8 of its type, faster.
    /// Alone it takes the larger size every round (a shape of one type is a column like
    /// a gang, counted as resized, not across types); beside a second job the two share
    /// the type at their own sizes, and it resizes only when there is room.
    #[test]
    fn shortest_job_first_acts_on_an_arrival_at_the_next_round() {
        // A long job holds one of two workers; a short one arrives at 400 s. Queue order
        // is a sort, so shortest-job-first places it at the next round (720 s) on the
        // idle worker; at Gavel's interval (its default for every Gavel policy, or
        // `realloc_s`) it waits for the first round after the allocation due at 1,920 s
        // (2,160 s).
        let jobs = [job(0, 0.0, 100_000.0, &[1.0]), job(1, 400.0, 100.0, &[1.0])];
        let jct = |p: &str, realloc_s: Option<f64>| {
            let cfg = SimConfig {
                realloc_s,
                ..config(p)
            };
            assert_eq!(
                cfg.min_reallocation_s(),
                realloc_s.unwrap_or(cfg.policy.min_reallocation_s())
            );
            let r = simulate(&jobs, &[2], &cfg, |_, _| {}).unwrap();
            r.jobs[1].jct_s.unwrap()
        };
        assert!((jct("shortest-job-first-perf", None) - 420.0).abs() < 1e-6);
        assert!((jct("shortest-job-first", None) - 420.0).abs() < 1e-6);
        assert!((jct("shortest-job-first-perf", Some(1920.0)) - 1860.0).abs() < 1e-6);
        assert!((jct("max-min-fairness-perf", None) - 1860.0).abs() < 1e-6);
        assert!((jct("max-min-fairness-perf", Some(0.0)) - 420.0).abs() < 1e-6);
    }

    #[test]
    fn an_elastic_shape_takes_idle_workers() {
        let one = SimJob {
            scale_factor: 4,
            mixed: vec![crate::MixedUse {
                uses: vec![(0, 8)],
                throughput: 1.8,
                pieces: Vec::new(),
            }],
            ..job(0, 0.0, 1.8 * 3600.0, &[1.0])
        };
        let r = run(std::slice::from_ref(&one), &[8], "max-min-fairness-perf");
        assert_eq!(r.jobs[0].finish_s, Some(3600.0));
        assert_eq!(r.resized_placements, 10);
        assert_eq!(r.across_placements, 0);
        // Planned at its own size only (a policy without shapes): 1 step/s.
        let r = run(std::slice::from_ref(&one), &[8], "max-min-fairness");
        assert_eq!(r.jobs[0].finish_s, Some(1.8 * 3600.0));
        assert_eq!(r.resized_placements, 0);
        // With a second job of 4 the type is full at the own sizes: no resizing while
        // both run, and the shape's 8 workers never over-subscribe the type.
        let other = SimJob {
            scale_factor: 4,
            ..job(1, 0.0, 3600.0, &[1.0])
        };
        let r = run(&[one.clone(), other], &[8], "max-min-fairness-perf");
        for (_, _, busy) in &r.timeline {
            assert!(busy.iter().all(|&b| b <= 1.0 + 1e-9), "{busy:?}");
        }
        assert!(r.jobs.iter().all(|j| j.finish_s.is_some()));
        // On nodes of 4 the shape's 8 workers span two: it runs at its speed for a share
        // of 4 (1.2 steps/s), still above its own size's 1.0, so it still grows.
        let split = SimJob {
            mixed: vec![crate::MixedUse {
                pieces: vec![vec![(1, 0.3), (2, 0.6), (4, 1.2)]],
                ..one.mixed[0].clone()
            }],
            ..one.clone()
        };
        let cfg = SimConfig {
            chips_per_node: Some(vec![4]),
            ..config("max-min-fairness-perf")
        };
        let r = simulate(std::slice::from_ref(&split), &[8], &cfg, |_, _| {}).unwrap();
        assert_eq!(r.jobs[0].finish_s, Some(1.8 * 3600.0 / 1.2));
        assert_eq!(r.resized_placements, 15);
        // Without node boundaries the pieces play no part.
        let r = run(std::slice::from_ref(&split), &[8], "max-min-fairness-perf");
        assert_eq!(r.jobs[0].finish_s, Some(3600.0));
    }

    /// Shortest-job-first with other sizes and gangs (heterogeneity-aware): a job alone
    /// grows into idle workers; two jobs share a type at their own sizes, the shorter
    /// first, and the longer grows only once the shorter is done; a job too large for
    /// either type runs as a gang across both; a job that fits nowhere at its size runs
    /// at a smaller one. The type is never over-subscribed.
    #[test]
    fn shortest_job_first_perf_grows_shrinks_and_runs_gangs() {
        let grows = SimJob {
            scale_factor: 4,
            mixed: vec![crate::MixedUse {
                uses: vec![(0, 8)],
                throughput: 1.8,
                pieces: Vec::new(),
            }],
            ..job(0, 0.0, 1.8 * 3600.0, &[1.0])
        };
        let r = run(
            std::slice::from_ref(&grows),
            &[8],
            "shortest-job-first-perf",
        );
        assert_eq!(r.jobs[0].finish_s, Some(3600.0));
        assert_eq!(r.resized_placements, 10);
        // Its agnostic twin plans its own size only.
        let r = run(std::slice::from_ref(&grows), &[8], "shortest-job-first");
        assert_eq!(r.jobs[0].finish_s, Some(1.8 * 3600.0));
        // Beside a shorter job of 4: both at their own sizes until the shorter finishes
        // (1 h), then the longer grows.
        let short = SimJob {
            scale_factor: 4,
            ..job(1, 0.0, 3600.0, &[1.0])
        };
        let long = SimJob {
            total_steps: 3.0 * 3600.0,
            ..grows.clone()
        };
        let r = run(&[long, short], &[8], "shortest-job-first-perf");
        for (_, _, busy) in &r.timeline {
            assert!(busy.iter().all(|&b| b <= 1.0 + 1e-9), "{busy:?}");
        }
        assert_eq!(r.jobs[1].finish_s, Some(3600.0), "{r:?}");
        // 1 h at 1 step/s, then 2 h of work at 1.8: about 2.11 h more (one round of
        // slack for the reallocation).
        let f = r.jobs[0].finish_s.unwrap();
        assert!(
            (3600.0 + 2.0 * 3600.0 / 1.8..3.0 * 3600.0).contains(&f),
            "{f}"
        );
        assert!(r.resized_placements > 0);
        // Too large for either type: a gang of 8 + 8.
        let wide = SimJob {
            scale_factor: 16,
            mixed: vec![crate::MixedUse {
                uses: vec![(0, 8), (1, 8)],
                throughput: 1.5,
                pieces: Vec::new(),
            }],
            ..job(0, 0.0, 1.5 * 3600.0, &[2.0, 2.0])
        };
        let r = run(
            std::slice::from_ref(&wide),
            &[8, 8],
            "shortest-job-first-perf",
        );
        assert_eq!(r.jobs[0].finish_s, Some(3600.0));
        assert_eq!(r.across_placements, 10);
        let r = run(std::slice::from_ref(&wide), &[8, 8], "fifo-perf");
        assert_eq!(r.unschedulable, vec![0]);
        // Fits nowhere at its size (8 on a type of 4): runs at its half size.
        let half = SimJob {
            scale_factor: 8,
            mixed: vec![crate::MixedUse {
                uses: vec![(0, 4)],
                throughput: 0.6,
                pieces: Vec::new(),
            }],
            ..job(0, 0.0, 0.6 * 3600.0, &[1.0])
        };
        let r = run(std::slice::from_ref(&half), &[4], "shortest-job-first-perf");
        assert_eq!(r.jobs[0].finish_s, Some(3600.0));
    }

    /// Two jobs of 4 workers that run at 1 step/s on type 0, or at 1.5 as a gang of 4 + 4
    /// over both types: type 0 is the bottleneck, and max-min fairness gives each half of
    /// it as a gang (0.75 step/s each). The rounds take turns: each job runs as a gang
    /// every other round, and both finish near their steps over 0.75.
    #[test]
    fn gangs_across_types_take_turns_on_a_shared_type() {
        let one = |id| SimJob {
            scale_factor: 4,
            mixed: vec![crate::MixedUse {
                uses: vec![(0, 4), (1, 4)],
                throughput: 1.5,
                pieces: Vec::new(),
            }],
            ..job(id, 0.0, 0.75 * 36_000.0, &[1.0, 0.0])
        };
        let r = run(&[one(0), one(1)], &[4, 4], "max-min-fairness-perf");
        for j in &r.jobs {
            let f = j.finish_s.unwrap();
            assert!((f - 36_000.0).abs() <= 360.0, "{r:?}");
        }
        // One gang a round (type 0 holds one), 100 rounds of 360 s.
        assert_eq!(r.across_placements, 100);
        // Planned one type per job they would share type 0 at 1 step/s: 54,000 s.
        let plain = run(
            &[
                SimJob {
                    mixed: Vec::new(),
                    ..one(0)
                },
                SimJob {
                    mixed: Vec::new(),
                    ..one(1)
                },
            ],
            &[4, 4],
            "max-min-fairness-perf",
        );
        assert!(
            plain.makespan_s > r.makespan_s * 1.4,
            "{} {}",
            plain.makespan_s,
            r.makespan_s
        );
    }

    /// Random small clusters and job sets, every policy: no type is ever over-subscribed,
    /// every job that fits somewhere finishes, none beats running alone on its fastest
    /// type (or gang across types, for the policies that plan those), and replays repeat
    /// exactly. Some jobs may also run as a gang across two types.
    #[test]
    fn random_replays_keep_the_invariants() {
        let mut g = Rng::new(7);
        let mut across = 0u64;
        for case in 0..30 {
            let nt = 1 + g.below(3);
            let cap: Vec<u32> = (0..nt).map(|_| 1 + g.below(8) as u32).collect();
            let n = 5 + g.below(20);
            let jobs: Vec<SimJob> = (0..n)
                .map(|i| {
                    let tput: Vec<f64> = (0..nt)
                        .map(|_| {
                            if g.below(6) == 0 {
                                0.0
                            } else {
                                0.5 + 4.0 * g.unit()
                            }
                        })
                        .collect();
                    // A gang across two types, sometimes larger than either type.
                    let mixed = if nt >= 2 && g.below(3) == 0 {
                        let a = g.below(nt);
                        let b = (a + 1 + g.below(nt - 1)) % nt;
                        vec![crate::MixedUse {
                            uses: vec![(a, 1 + g.below(6) as u32), (b, 1 + g.below(6) as u32)],
                            throughput: 0.5 + 6.0 * g.unit(),
                            pieces: Vec::new(),
                        }]
                    } else {
                        Vec::new()
                    };
                    SimJob {
                        scale_factor: [1, 1, 1, 2, 4][g.below(5)],
                        weight: 1.0 + g.below(3) as f64,
                        priority: g.below(2) as u32,
                        kind: Some(g.below(3) as u32),
                        mixed,
                        ..job(i, 5000.0 * g.unit(), 500.0 + 20_000.0 * g.unit(), &tput)
                    }
                })
                .collect();
            let per_node =
                (g.below(2) == 0).then(|| (0..nt).map(|_| 1 + g.below(4) as u32).collect());
            // Co-located rates for every pair of the three kinds: 0.2-1.0 step/s each.
            let mut co = CoLocation::default();
            for ka in 0..3u32 {
                for kb in ka..3u32 {
                    let rates = (0..nt)
                        .map(|_| (0.2 + 0.8 * g.unit(), 0.2 + 0.8 * g.unit()))
                        .collect();
                    co.pairs.insert((ka, kb), rates);
                }
            }
            for p in Policy::NAMES {
                let cfg = SimConfig {
                    restart_s: if g.below(2) == 0 { 0.0 } else { 30.0 },
                    seed: case,
                    chips_per_node: per_node.clone(),
                    prices: Some(vec![1.0; nt]),
                    colocation: Some(co.clone()),
                    solver: crate::Solver::Simplex,
                    realloc_s: None,
                    gavel_compat: None,
                    ..config(p)
                };
                let r = simulate(&jobs, &cap, &cfg, |_, _| {})
                    .unwrap_or_else(|e| panic!("case {case} {p}: {e}"));
                let again = simulate(&jobs, &cap, &cfg, |_, _| {}).unwrap();
                assert_eq!(r, again, "case {case} {p}");
                across += r.across_placements;
                if !cfg.policy.uses_mixed() {
                    assert_eq!(r.across_placements, 0, "case {case} {p}");
                }
                for (_, _, busy) in &r.timeline {
                    assert!(
                        busy.iter().all(|&b| (0.0..=1.0 + 1e-9).contains(&b)),
                        "case {case} {p}: {busy:?}"
                    );
                }
                assert!(
                    r.utilization
                        .iter()
                        .all(|&u| (0.0..=1.0 + 1e-9).contains(&u))
                );
                let gangs = cfg.policy.uses_mixed();
                for (j, res) in jobs.iter().zip(&r.jobs) {
                    let gang_fits = |m: &crate::MixedUse| gangs && m.fits(&cap);
                    let fits = j
                        .throughput
                        .iter()
                        .zip(&cap)
                        .any(|(&t, &c)| t > 0.0 && j.scale_factor <= c)
                        || j.mixed.iter().any(gang_fits);
                    assert_eq!(
                        res.finish_s.is_some(),
                        fits,
                        "case {case} {p}: job {}",
                        j.id
                    );
                    assert_eq!(r.unschedulable.contains(&j.id), !fits);
                    if let Some(jct) = res.jct_s {
                        let fastest = j
                            .throughput
                            .iter()
                            .copied()
                            .chain(
                                j.mixed
                                    .iter()
                                    .filter(|m| gang_fits(m))
                                    .map(|m| m.throughput),
                            )
                            .fold(0.0, f64::max);
                        // Paired (packed policy), at most its best co-located rate.
                        let paired = co
                            .pairs
                            .iter()
                            .flat_map(|(&(ka, kb), v)| {
                                v.iter().flat_map(move |&(ra, rb)| [(ka, ra), (kb, rb)])
                            })
                            .filter(|&(k, _)| Some(k) == j.kind)
                            .map(|(_, r)| r)
                            .fold(0.0, f64::max);
                        let fastest = if p == "max-min-fairness-packed" {
                            fastest.max(paired)
                        } else {
                            fastest
                        };
                        assert!(
                            jct >= j.total_steps / fastest - 1e-6,
                            "case {case} {p}: job {}",
                            j.id
                        );
                    }
                }
            }
        }
        // The gangs across types were exercised.
        assert!(across > 0);
    }

    #[test]
    fn replay_is_deterministic() {
        let jobs: Vec<SimJob> = (0..40)
            .map(|i| {
                job(
                    i,
                    (i * 97 % 1000) as f64,
                    500.0 + (i * 37 % 900) as f64 * 10.0,
                    &[3.0, 1.5, 1.0],
                )
            })
            .collect();
        for p in Policy::NAMES {
            let a = run(&jobs, &[2, 2, 2], p);
            let b = run(&jobs, &[2, 2, 2], p);
            assert_eq!(a, b, "{p}");
            assert!(a.jobs.iter().all(|j| j.finish_s.is_some()), "{p}");
        }
    }
}
