//! The round mechanism as a state machine over events: one scheduling core that the
//! simulator drives with a virtual clock ([`crate::sim::simulate`]) and the live
//! scheduler with a real one.
//!
//! Gavel's mechanism: the policy's allocation (time fractions per job and accelerator
//! type) is recomputed when the job set changed and at least the policy's interval
//! ([`SimConfig::min_reallocation_s`]: Gavel's
//! [`crate::sim::MIN_SECONDS_BETWEEN_ALLOCATIONS`] but for shortest-job-first) passed
//! since the last one; each round, jobs are
//! placed by priority (allocation over the share of time received since it), highest
//! tier first, worker type by worker type; gangs go onto nodes; pairs of the packed
//! policy share workers. The core holds the bookkeeping (time received, deficits, the
//! allocation, who held which workers) and decides; it does not run anything, keep
//! time, or do IO. Its driver reports what happened:
//!
//! - [`Event::Arrived`]: a registered job is now in the queue;
//! - [`Event::RoundDue`]: decide a round at time `now` ([`Reaction::Round`] with the
//!   placements, or [`Reaction::Wait`] when nothing can be placed);
//! - [`Event::Ran`]: a placed job ran for `used_s` seconds of the round and has
//!   `steps_left` steps to go (0: it finished);
//! - [`Event::Finished`]: a job ended outside a round's report (it completed or was
//!   cancelled on the engine);
//! - [`Event::RoundEnded`]: the round is over; finished jobs leave, and placements
//!   that moved count as preemptions;
//! - [`Event::PlacementLost`]: a job lost its workers (a node failed); it is placed
//!   afresh, as a restart, in a later round.

use crate::sim::{CoLocation, Policy, SimConfig, SimJob};
use crate::workload::Rng;
use crate::{
    Allocation, Awareness, JobRow, PairRow, PolicyError, finish_time_fairness, isolated_throughput,
    max_min_fairness, max_min_fairness_packed, max_sum_throughput, min_cost, min_makespan,
};
use std::collections::HashMap;

/// What the driver tells the core.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// The job (an index from [`RoundCore::add`]) joins the queue.
    Arrived { job: usize },
    /// A round starts at `now` (seconds on the driver's clock).
    RoundDue { now: f64 },
    /// A job placed in the current round ran `used_s` seconds of it and has
    /// `steps_left` steps to go.
    Ran {
        job: usize,
        used_s: f64,
        steps_left: f64,
    },
    /// The job ended (completed or cancelled) on its own.
    Finished { job: usize },
    /// The current round is over.
    RoundEnded,
    /// The job lost the workers it held.
    PlacementLost { job: usize },
}

/// What the core answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Reaction {
    /// Nothing to do.
    None,
    /// Run this round's placements.
    Round(RoundPlan),
    /// Nothing can be placed now; a new allocation may be computed from
    /// `next_allocation_s` on (or earlier, when a job arrives).
    Wait { next_allocation_s: f64 },
}

/// One job's placement for a round.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    pub job: usize,
    /// Accelerator type (index into the capacity); for a gang across types, its first
    /// part's type.
    pub ty: usize,
    /// Steps/s the job runs at here (alone, spread over nodes, or in its pair).
    pub rate: f64,
    /// The job did not hold this type last round: it restarts from a checkpoint.
    pub restart: bool,
    /// Its workers span more nodes than its size needs (when nodes are modelled).
    pub spread: bool,
    /// Node indices within the type (empty when nodes are not modelled).
    pub nodes: Vec<usize>,
    /// The partner job when it shares its workers with one (packed policy).
    pub partner: Option<usize>,
    /// A gang across types: which of the job's mixed options and every part's workers
    /// (`ty` and `nodes` above are the first part's). `None`: all on `ty`.
    pub across: Option<Across>,
}

/// A placement of a job across several types (one of its [`SimJob::mixed`] options).
#[derive(Debug, Clone, PartialEq)]
pub struct Across {
    /// Index into the job's `mixed` options.
    pub option: usize,
    pub parts: Vec<Part>,
}

/// One type's part of a gang across types.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub ty: usize,
    pub workers: u32,
    /// Node indices within the type (empty when nodes are not modelled).
    pub nodes: Vec<usize>,
}

/// A round's decision.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RoundPlan {
    /// Single placements first, then both jobs of each pair (first `a`, then `b`).
    pub placements: Vec<Placement>,
    /// The pairs placed, as indices into `placements` of their two jobs.
    pub pairs: Vec<(usize, usize)>,
    /// Whether an allocation was solved for this round.
    pub solved: bool,
}

/// The scheduling core.
#[derive(Debug, Clone)]
pub struct RoundCore {
    cfg: SimConfig,
    capacity: Vec<u32>,
    cpn: Option<Vec<u32>>,
    half: f64,
    jobs: Vec<SimJob>,
    remaining: Vec<f64>,
    preempt: Vec<u32>,
    // Gavel's bookkeeping since the last allocation: time each job received per type
    // (starting at half a round), time each type was used, and the accumulated deficit.
    got: Vec<Vec<f64>>,
    type_time: Vec<f64>,
    deficit: Vec<Vec<f64>>,
    // Allocation row per job (None: not in the current allocation).
    x_of: Vec<Option<Vec<f64>>>,
    need_update: bool,
    /// The capacity changed: the next round allocates anew, however recent the last
    /// allocation.
    capacity_changed: bool,
    /// Least seconds between allocations (Gavel's 1,920 s unless set).
    min_realloc_s: f64,
    /// Place jobs on the types their allocation gives them time on before any job takes
    /// idle workers of another type (off: Gavel's single pass).
    allocated_first: bool,
    last_reset: Option<f64>,
    held: Vec<Option<usize>>,
    placed_on: Vec<Option<usize>>,
    taken: Vec<bool>,
    allocated: Vec<usize>,
    // Packed policy: the pairs of the current allocation, and per job this round its
    // partner slot (jobs placed as a pair run at the pair's rates).
    slots: Vec<PairSlot>,
    in_slot: Vec<Option<usize>>,
    used_of: Vec<f64>,
    spread_of: Vec<bool>,
    /// Per job this round: on several nodes, its fewest workers on one of them (0: on
    /// one node, or no node boundaries).
    share_of: Vec<u32>,
    attained: Vec<f64>,
    nodes_of: Vec<Vec<usize>>,
    /// Nodes of each part of a job's gang across types, while it runs as one.
    part_nodes: Vec<Vec<Vec<usize>>>,
    /// Whether the current allocation has a gang column for some job.
    gang_columns: bool,
    active: Vec<usize>,
    is_active: Vec<bool>,
    // FIFO's standing assignment of jobs to types, and the random stream.
    fifo_on: Vec<Option<usize>>,
    rng: Rng,
    /// Gavel's FIFO generator (`--gavel-compat`): Python's, seeded with the seed.
    py: crate::pyrandom::PyRandom,
    // Finish-time fairness: isolated-time equivalent of the progress so far, and the
    // remaining steps and isolated rate at the last allocation.
    done_isolated: Vec<f64>,
    ftf_prev: Vec<Option<(f64, f64)>>,
    solves: u64,
    // The current round: its single placements and pairs (slot, type).
    round: Option<(Placements, Placements)>,
}

impl RoundCore {
    /// A core for a cluster of `capacity[t]` workers per type (`cfg.stop_after` is the
    /// driver's business and is ignored here).
    pub fn new(capacity: &[u32], cfg: &SimConfig) -> RoundCore {
        let nt = capacity.len();
        RoundCore {
            cfg: cfg.clone(),
            capacity: capacity.to_vec(),
            cpn: cfg.chips_per_node.as_ref().map(|v| {
                (0..nt)
                    .map(|t| v.get(t).copied().unwrap_or(1).max(1))
                    .collect()
            }),
            half: cfg.round_s / 2.0,
            jobs: Vec::new(),
            remaining: Vec::new(),
            preempt: Vec::new(),
            got: Vec::new(),
            type_time: vec![0.0; nt],
            deficit: Vec::new(),
            x_of: Vec::new(),
            need_update: false,
            capacity_changed: false,
            min_realloc_s: cfg.min_reallocation_s(),
            allocated_first: false,
            last_reset: None,
            held: Vec::new(),
            placed_on: Vec::new(),
            taken: Vec::new(),
            allocated: Vec::new(),
            slots: Vec::new(),
            in_slot: Vec::new(),
            used_of: Vec::new(),
            spread_of: Vec::new(),
            share_of: Vec::new(),
            attained: Vec::new(),
            nodes_of: Vec::new(),
            part_nodes: Vec::new(),
            gang_columns: false,
            active: Vec::new(),
            is_active: Vec::new(),
            fifo_on: Vec::new(),
            rng: Rng::with_state(cfg.seed ^ 0x9e37_79b9_7f4a_7c15),
            py: crate::pyrandom::PyRandom::new(cfg.seed),
            done_isolated: Vec::new(),
            ftf_prev: Vec::new(),
            solves: 0,
            round: None,
        }
    }

    /// Registers a job and returns its index; it competes once it has
    /// [`Event::Arrived`]. Ties between jobs break by this index.
    pub fn add(&mut self, job: SimJob) -> usize {
        let nt = self.capacity.len();
        self.remaining.push(job.total_steps);
        // Time received per column: the types, then each gang across types.
        self.got.push(vec![self.half; nt + job.mixed.len()]);
        self.jobs.push(job);
        self.preempt.push(0);
        self.deficit.push(vec![0.0; nt]);
        self.x_of.push(None);
        self.held.push(None);
        self.placed_on.push(None);
        self.taken.push(false);
        self.in_slot.push(None);
        self.used_of.push(0.0);
        self.spread_of.push(false);
        self.share_of.push(0);
        self.attained.push(0.0);
        self.nodes_of.push(Vec::new());
        self.part_nodes.push(Vec::new());
        self.is_active.push(false);
        self.fifo_on.push(None);
        self.done_isolated.push(0.0);
        self.ftf_prev.push(None);
        self.jobs.len() - 1
    }

    /// Changes the workers per type (a node drained, failed or came back): the next
    /// round solves a new allocation on the new counts (however recent the last one),
    /// and placements never exceed them. Node placement keeps its
    /// per-node size. The number of types is fixed.
    pub fn set_capacity(&mut self, capacity: &[u32]) -> Result<(), PolicyError> {
        if capacity.len() != self.capacity.len() {
            return Err(PolicyError::BadJob {
                job: 0,
                what: format!(
                    "capacity has {} types, the core {}",
                    capacity.len(),
                    self.capacity.len()
                ),
            });
        }
        if capacity != self.capacity.as_slice() {
            self.capacity = capacity.to_vec();
            self.need_update = true;
            self.capacity_changed = true;
        }
        Ok(())
    }

    /// The LP method of the LP policies from now on.
    pub fn set_solver(&mut self, solver: crate::Solver) {
        self.cfg.solver = solver;
    }

    /// Sets the least time between two allocations. The simulator keeps Gavel's 1,920 s
    /// (its results are compared with Gavel's); a live scheduler, where a new job should
    /// not wait half an hour for its first allocation, sets its round length.
    pub fn set_min_reallocation_s(&mut self, s: f64) {
        if s.is_finite() && s >= 0.0 {
            self.min_realloc_s = s;
        }
    }

    /// `--gavel-compat`: Gavel's simulator, finding nothing running and no job left to
    /// arrive, sets its last reset time to 0, so the next round allocates anew at once.
    pub fn gavel_forget_last_allocation(&mut self) {
        if self.cfg.gavel_compat.is_some() && self.last_reset.is_some() {
            self.last_reset = Some(0.0);
        }
    }

    /// Forgets jobs that finished, so a long-running scheduler's memory follows its
    /// queue, not its history. Only between rounds. Returns, for each old index, its
    /// new one (`None`: forgotten). Decisions after a compaction are the same as without
    /// it (the kept jobs keep their order, so ties break alike).
    pub fn compact(&mut self) -> Result<Vec<Option<usize>>, PolicyError> {
        if self.round.is_some() {
            return Err(PolicyError::BadJob {
                job: 0,
                what: "compaction during a round".into(),
            });
        }
        let n = self.jobs.len();
        // A finished job FIFO still holds a type for is kept until FIFO hands the type on.
        let keep: Vec<bool> = (0..n)
            .map(|i| self.is_active[i] || self.fifo_on[i].is_some())
            .collect();
        let mut map = vec![None; n];
        let mut k = 0;
        for (i, m) in map.iter_mut().enumerate() {
            if keep[i] {
                *m = Some(k);
                k += 1;
            }
        }
        fn filter<T>(v: &mut Vec<T>, keep: &[bool]) {
            let mut i = 0;
            v.retain(|_| {
                let k = keep[i];
                i += 1;
                k
            });
        }
        filter(&mut self.jobs, &keep);
        filter(&mut self.remaining, &keep);
        filter(&mut self.preempt, &keep);
        filter(&mut self.got, &keep);
        filter(&mut self.deficit, &keep);
        filter(&mut self.x_of, &keep);
        filter(&mut self.held, &keep);
        filter(&mut self.placed_on, &keep);
        filter(&mut self.taken, &keep);
        filter(&mut self.in_slot, &keep);
        filter(&mut self.used_of, &keep);
        filter(&mut self.spread_of, &keep);
        filter(&mut self.share_of, &keep);
        filter(&mut self.attained, &keep);
        filter(&mut self.nodes_of, &keep);
        filter(&mut self.part_nodes, &keep);
        filter(&mut self.is_active, &keep);
        filter(&mut self.fifo_on, &keep);
        filter(&mut self.done_isolated, &keep);
        filter(&mut self.ftf_prev, &keep);
        let re = |i: usize| map[i];
        self.active = self.active.iter().filter_map(|&i| re(i)).collect();
        self.allocated = self.allocated.iter().filter_map(|&i| re(i)).collect();
        self.slots.retain(|p| keep[p.a] && keep[p.b]);
        for p in &mut self.slots {
            p.a = map[p.a].unwrap_or(0);
            p.b = map[p.b].unwrap_or(0);
        }
        Ok(map)
    }

    /// Places every job on the types its allocation gives it time on before any job
    /// takes idle workers of a type it has no time on. Off by default (Gavel's single
    /// pass, which the simulator is compared with); the live scheduler turns it on, so a
    /// job is not left on a slower pool while its allocated one idles.
    pub fn set_allocated_types_first(&mut self, on: bool) {
        self.allocated_first = on;
    }

    /// The registered jobs, by index.
    pub fn jobs(&self) -> &[SimJob] {
        &self.jobs
    }

    /// Jobs in the queue (arrived, not finished), in arrival order.
    pub fn active(&self) -> &[usize] {
        &self.active
    }

    /// Times job `i` was moved off workers it held, or stopped between rounds.
    pub fn preemptions(&self, i: usize) -> u32 {
        self.preempt.get(i).copied().unwrap_or(0)
    }

    /// Allocations solved so far.
    pub fn solves(&self) -> u64 {
        self.solves
    }

    /// The type job `i` held in the last round, if any (for a gang across types, its
    /// first part's type).
    pub fn held(&self, i: usize) -> Option<usize> {
        let c = self.held.get(i).copied().flatten()?;
        let nt = self.capacity.len();
        if c < nt {
            Some(c)
        } else {
            self.jobs[i].mixed.get(c - nt)?.uses.first().map(|u| u.0)
        }
    }

    /// The current allocation's row of job `i` (time fraction per type), if it has one.
    pub fn allocation(&self, i: usize) -> Option<&[f64]> {
        self.x_of.get(i).and_then(|x| x.as_deref())
    }

    /// Feeds one event to the core.
    pub fn handle(&mut self, e: Event) -> Result<Reaction, PolicyError> {
        let bad = |job: usize, what: &str| PolicyError::BadJob {
            job,
            what: what.into(),
        };
        match e {
            Event::Arrived { job } => {
                if job >= self.jobs.len() {
                    return Err(bad(job, "arrived but was never added"));
                }
                if !self.is_active[job] {
                    self.is_active[job] = true;
                    self.active.push(job);
                    let half = self.half;
                    self.got[job].iter_mut().for_each(|g| *g = half);
                    self.need_update = true;
                }
                Ok(Reaction::None)
            }
            Event::RoundDue { now } => {
                if self.round.is_some() {
                    return Err(bad(0, "a round is due before the last one ended"));
                }
                self.decide(now)
            }
            Event::Ran {
                job,
                used_s,
                steps_left,
            } => {
                if self.round.is_none() {
                    return Err(bad(job, "reported running outside a round"));
                }
                let Some(t) = self.placed_on.get(job).copied().flatten() else {
                    return Err(bad(job, "reported running but was not placed"));
                };
                self.remaining[job] = steps_left.max(0.0);
                let nt = self.capacity.len();
                if t >= nt {
                    // A gang across types: its own column, no type's queue.
                    let w: u32 = self.jobs[job].mixed[t - nt].uses.iter().map(|u| u.1).sum();
                    self.attained[job] += used_s * w as f64;
                    self.got[job][t] += used_s;
                } else {
                    self.attained[job] += used_s * self.jobs[job].scale_factor as f64;
                    if self.in_slot[job].is_none() {
                        self.got[job][t] += used_s;
                        self.type_time[t] += used_s;
                    }
                }
                self.used_of[job] = used_s;
                Ok(Reaction::None)
            }
            Event::Finished { job } => {
                if job >= self.jobs.len() {
                    return Err(bad(job, "finished but was never added"));
                }
                self.remaining[job] = 0.0;
                if self.round.is_none() {
                    self.retire();
                }
                Ok(Reaction::None)
            }
            Event::RoundEnded => {
                let Some((_, pairs)) = self.round.take() else {
                    return Err(bad(0, "a round ended that never started"));
                };
                // A pair holds its workers until the later of its two jobs stops.
                for &(k, t) in &pairs {
                    let (a, b) = (self.slots[k].a, self.slots[k].b);
                    let used = self.used_of[a].max(self.used_of[b]);
                    self.slots[k].got[t] += used;
                    self.type_time[t] += used;
                    self.in_slot[a] = None;
                    self.in_slot[b] = None;
                }
                // Preemptions, then this round's placements become the held ones.
                for &i in &self.active {
                    if self.held[i].is_some()
                        && self.placed_on[i] != self.held[i]
                        && self.remaining[i] > 0.0
                    {
                        self.preempt[i] += 1;
                    }
                    self.held[i] = self.placed_on[i].take();
                }
                self.retire();
                Ok(Reaction::None)
            }
            Event::PlacementLost { job } => {
                if job >= self.jobs.len() {
                    return Err(bad(job, "lost a placement but was never added"));
                }
                if self.held[job].take().is_some() && self.remaining[job] > 0.0 {
                    self.preempt[job] += 1;
                }
                self.nodes_of[job].clear();
                self.part_nodes[job].clear();
                Ok(Reaction::None)
            }
        }
    }

    /// Finished jobs leave the queue; a pair ends with either of its jobs (the other
    /// waits for the next allocation). A change of the job set asks for a new
    /// allocation.
    fn retire(&mut self) {
        let before = self.active.len();
        let (remaining, is_active) = (&self.remaining, &mut self.is_active);
        self.active.retain(|&i| {
            let keep = remaining[i] > 0.0;
            if !keep {
                is_active[i] = false;
            }
            keep
        });
        self.slots
            .retain(|p| remaining[p.a] > 0.0 && remaining[p.b] > 0.0);
        if before != self.active.len() {
            self.need_update = true;
        }
    }

    /// A round at `now`: a new allocation if one is due, then placements.
    fn decide(&mut self, now: f64) -> Result<Reaction, PolicyError> {
        if self.active.is_empty() {
            return Ok(Reaction::None);
        }
        let due = self.capacity_changed
            || self
                .last_reset
                .is_none_or(|t| now - t >= self.min_realloc_s)
            // Gavel (`_update_priorities`) takes a last reset time of 0 for "never", so
            // after an allocation at t = 0 the next one is not held back by the interval.
            || (self.cfg.gavel_compat.is_some() && self.last_reset == Some(0.0));
        let solved = self.need_update && due;
        if solved {
            self.allocate(now)?;
        }
        let nt = self.capacity.len();
        // Queue policies give X = 1 or 0: a job outside its slot waits.
        let fifo = matches!(
            self.cfg.policy,
            Policy::Fifo(_) | Policy::ShortestJobFirst(_) | Policy::LeastAttainedService(_)
        );
        // Gavel fills worker types in a fixed order for heterogeneity-aware policies and
        // in a freshly shuffled order each round for agnostic ones.
        let mut type_order: Vec<usize> = (0..nt).collect();
        if self.cfg.policy.awareness() == Awareness::Agnostic {
            for k in (1..nt).rev() {
                type_order.swap(k, self.rng.below(k + 1));
            }
        }
        let ledger = Ledger {
            x_of: &self.x_of,
            got: &self.got,
            type_time: &self.type_time,
            deficit: &self.deficit,
            slots: &self.slots,
        };
        // Gavel: one pass, where a job may take idle workers of a type its allocation
        // gives no time on (FIFO excepted). Allocated types first: such jobs fill only
        // what the allocated placements leave, in a second pass.
        let passes: &[bool] = if fifo {
            &[true]
        } else if self.allocated_first {
            &[true, false]
        } else {
            &[false]
        };
        // Gangs across types first: they need room on several types at once. (Only when
        // the allocation gave some job a gang column: otherwise the round is Gavel's.)
        let gangs = self.gang_columns;
        let elapsed = self.last_reset.map_or(0.0, |t| (now - t).max(0.0));
        let mut across = if gangs {
            across_round(
                &self.jobs,
                &self.active,
                &ledger,
                &self.capacity,
                (self.half, elapsed),
                false,
                &mut self.taken,
            )
        } else {
            Vec::new()
        };
        let mut left = self.capacity.clone();
        for &(i, m) in &across {
            for &(t, w) in &self.jobs[i].mixed[m].uses {
                left[t] -= w;
            }
        }
        let (mut placed, pairs_placed) = priority_round(
            &self.jobs,
            &self.active,
            &ledger,
            &left,
            passes,
            &type_order,
            &mut self.taken,
        );
        // Then gangs take what the one-type placements leave idle, as jobs take idle
        // workers of types their allocation gives them no time on.
        if gangs {
            for &(i, t) in &placed {
                self.taken[i] = true;
                left[t] -= self.jobs[i].scale_factor;
            }
            for &(k, t) in &pairs_placed {
                let (a, b) = (self.slots[k].a, self.slots[k].b);
                self.taken[a] = true;
                self.taken[b] = true;
                left[t] -= self.jobs[a].scale_factor;
            }
            let more = across_round(
                &self.jobs,
                &self.active,
                &ledger,
                &left,
                (self.half, elapsed),
                true,
                &mut self.taken,
            );
            across.extend(more);
            for &(i, _) in &placed {
                self.taken[i] = false;
            }
            for &(k, _) in &pairs_placed {
                self.taken[self.slots[k].a] = false;
                self.taken[self.slots[k].b] = false;
            }
        }
        for &(i, _) in &across {
            self.taken[i] = false;
        }
        // Both jobs of each placed pair run this round, at the pair's rates.
        let singles = placed.len();
        for &(k, t) in &pairs_placed {
            let (a, b) = (self.slots[k].a, self.slots[k].b);
            self.in_slot[a] = Some(k);
            self.in_slot[b] = Some(k);
            placed.push((a, t));
            placed.push((b, t));
        }
        if placed.is_empty() && across.is_empty() {
            // Nothing placeable (every active job waits for an allocation).
            return Ok(Reaction::Wait {
                next_allocation_s: self.last_reset.map_or(now, |t| t + self.min_realloc_s),
            });
        }
        // Node placement is per gang: a pair's two jobs share their workers; a gang
        // across types has a part on each of its types.
        let units: Vec<(usize, usize)> = placed
            .iter()
            .copied()
            .filter(|&(i, _)| self.in_slot[i].is_none_or(|k| self.slots[k].a == i))
            .collect();
        let mut across_spread = vec![false; across.len()];
        // Each way's rate on its nodes: the slowest of its parts' split rates (parts on
        // one node, or without split speeds, at the way's whole rate).
        let mut across_rate: Vec<f64> = across
            .iter()
            .map(|&(i, m)| self.jobs[i].mixed[m].throughput)
            .collect();
        let unit_spread = match &self.cpn {
            Some(c) => {
                let none: &[usize] = &[];
                let mut nu: Vec<NodeUnit> = units
                    .iter()
                    .map(|&(i, t)| NodeUnit {
                        job: i,
                        ty: t,
                        workers: self.jobs[i].scale_factor,
                        keep: if self.held[i] == Some(t) {
                            &self.nodes_of[i]
                        } else {
                            none
                        },
                    })
                    .collect();
                for &(i, m) in &across {
                    let same = self.held[i] == Some(nt + m);
                    for (p, &(t, w)) in self.jobs[i].mixed[m].uses.iter().enumerate() {
                        nu.push(NodeUnit {
                            job: i,
                            ty: t,
                            workers: w,
                            keep: match self.part_nodes[i].get(p) {
                                Some(v) if same => v,
                                _ => none,
                            },
                        });
                    }
                }
                let got = place_on_nodes(&nu, &self.capacity, c);
                let mut it = got.into_iter();
                let mut sp = Vec::with_capacity(units.len());
                for &(i, _) in &units {
                    let (nodes, s, least) = it.next().unwrap_or_default();
                    if let Some(n) = nodes {
                        self.nodes_of[i] = n;
                    }
                    let share = if self.nodes_of[i].len() > 1 { least } else { 0 };
                    sp.push((s, share));
                }
                for (k, &(i, m)) in across.iter().enumerate() {
                    let opt = &self.jobs[i].mixed[m];
                    let parts = opt.uses.len();
                    let mut now: Vec<Vec<usize>> = Vec::with_capacity(parts);
                    for p in 0..parts {
                        let (nodes, s, least) = it.next().unwrap_or_default();
                        let kept = || self.part_nodes[i].get(p).cloned().unwrap_or_default();
                        let on = nodes.unwrap_or_else(kept);
                        if let Some(pieces) =
                            opt.pieces.get(p).filter(|v| on.len() > 1 && !v.is_empty())
                        {
                            let r = piece_rate(pieces.iter().copied(), least, opt.throughput);
                            across_rate[k] = across_rate[k].min(r);
                        }
                        now.push(on);
                        across_spread[k] |= s;
                    }
                    self.part_nodes[i] = now;
                }
                sp
            }
            None => vec![(false, 0); units.len()],
        };
        // Every placed job is a unit or a pair's second job, so each entry read below is
        // written here first (a buffer reused across rounds).
        for (&(i, _), &(sp, share)) in units.iter().zip(&unit_spread) {
            self.spread_of[i] = sp;
            self.share_of[i] = share;
            if let Some(k) = self.in_slot[i] {
                let b = self.slots[k].b;
                self.nodes_of[b] = self.nodes_of[i].clone();
                self.spread_of[b] = sp;
                self.share_of[b] = share;
            }
        }
        let mut plan = RoundPlan {
            placements: Vec::with_capacity(placed.len() + across.len()),
            pairs: (0..pairs_placed.len())
                .map(|p| (singles + 2 * p, singles + 2 * p + 1))
                .collect(),
            solved,
        };
        for &(i, t) in &placed {
            let j = &self.jobs[i];
            let spread = self.spread_of[i];
            let share = self.share_of[i];
            let (rate, partner) = match (self.in_slot[i], &j.throughput_spread, spread) {
                (Some(k), _, _) if self.slots[k].a == i => {
                    (self.slots[k].rates[t].0, Some(self.slots[k].b))
                }
                (Some(k), _, _) => (self.slots[k].rates[t].1, Some(self.slots[k].a)),
                (None, _, _) if share > 0 && !j.throughput_pieces.is_empty() => {
                    (split_rate(j, t, share), None)
                }
                (None, Some(v), true) if v[t] > 0.0 => (v[t], None),
                _ => (j.throughput[t], None),
            };
            plan.placements.push(Placement {
                job: i,
                ty: t,
                rate,
                restart: self.held[i] != Some(t),
                spread,
                nodes: if self.cpn.is_some() {
                    self.nodes_of[i].clone()
                } else {
                    Vec::new()
                },
                partner,
                across: None,
            });
            self.placed_on[i] = Some(t);
        }
        // Gangs across types come after the single placements and pairs' jobs, so the
        // pairs' indices above stay as they are.
        for (k, &(i, m)) in across.iter().enumerate() {
            let opt = &self.jobs[i].mixed[m];
            let parts: Vec<Part> = opt
                .uses
                .iter()
                .enumerate()
                .map(|(p, &(t, w))| Part {
                    ty: t,
                    workers: w,
                    nodes: self.part_nodes[i].get(p).cloned().unwrap_or_default(),
                })
                .collect();
            let rate = across_rate[k];
            plan.placements.push(Placement {
                job: i,
                ty: parts.first().map_or(0, |p| p.ty),
                rate,
                restart: self.held[i] != Some(nt + m),
                spread: across_spread[k],
                nodes: parts.first().map(|p| p.nodes.clone()).unwrap_or_default(),
                partner: None,
                across: Some(Across { option: m, parts }),
            });
            self.placed_on[i] = Some(nt + m);
        }
        self.round = Some((placed, pairs_placed));
        Ok(Reaction::Round(plan))
    }

    /// Settles deficits against the old allocation and computes a new one, highest
    /// priority tier first.
    fn allocate(&mut self, now: f64) -> Result<(), PolicyError> {
        let nt = self.capacity.len();
        let half = self.half;
        let a = self.cfg.policy.awareness();
        let since = now - self.last_reset.unwrap_or(now);
        for &i in &self.active {
            for t in 0..nt {
                let should = self.x_of[i].as_ref().map_or(0.0, |x| x[t] * since);
                self.deficit[i][t] += should - (self.got[i][t] - half);
                self.got[i][t] = half;
            }
            // Gangs across types keep no deficit: only their time since this allocation.
            for g in self.got[i].iter_mut().skip(nt) {
                *g = half;
            }
        }
        for (t, tt) in self.type_time.iter_mut().enumerate() {
            *tt = self.active.iter().map(|&i| self.got[i][t]).sum();
        }
        self.last_reset = Some(now);
        for i in self.allocated.drain(..) {
            self.x_of[i] = None;
        }
        let jobs = &self.jobs;
        // Priority tiers: the LP policies allocate the highest tier first on the whole
        // cluster, each lower tier on what the tiers above leave (whole workers); the
        // queue policies order by tier before their own key.
        let mut tiers: Vec<u32> = self.active.iter().map(|&i| jobs[i].priority).collect();
        tiers.sort_unstable_by(|x, y| y.cmp(x));
        tiers.dedup();
        let queue_policy = matches!(
            self.cfg.policy,
            Policy::Fifo(_) | Policy::ShortestJobFirst(_) | Policy::LeastAttainedService(_)
        );
        if queue_policy || tiers.len() < 2 {
            tiers.truncate(1);
        }
        self.slots.clear();
        let mut cap: Vec<u32> = self.capacity.clone();
        for &tier in &tiers {
            if cap.iter().all(|&c| c == 0) {
                // Nothing left: lower tiers get no allocation, and only take workers the
                // tiers above leave idle.
                for &i in self.active.iter().filter(|&&i| jobs[i].priority == tier) {
                    self.x_of[i] = Some(vec![0.0; nt]);
                    self.allocated.push(i);
                }
                continue;
            }
            let slots_before = self.slots.len();
            let group: Vec<usize> = if tiers.len() == 1 {
                self.active.clone()
            } else {
                self.active
                    .iter()
                    .copied()
                    .filter(|&i| jobs[i].priority == tier)
                    .collect()
            };
            // Gavel's agnostic max-min fairness, minimum makespan and finish-time
            // fairness plan with one speed on every type, even where the job has none
            // (`--gavel-compat`); tessera's keep each job to the types it can run on.
            let gavel_inputs = self.cfg.gavel_compat.as_ref().filter(|_| {
                a == Awareness::Agnostic
                    && matches!(
                        self.cfg.policy,
                        Policy::MaxMinFairness(_)
                            | Policy::MinMakespan(_)
                            | Policy::FinishTimeFairness(_)
                    )
            });
            let rows: Vec<JobRow> = group
                .iter()
                .map(|&i| JobRow {
                    throughput: match gavel_inputs {
                        Some(gc) => gavel_agnostic_row(&jobs[i].throughput, gc.reference),
                        None => jobs[i].throughput.clone(),
                    },
                    scale_factor: jobs[i].scale_factor,
                    weight: jobs[i].weight,
                    mixed: jobs[i].mixed.clone(),
                })
                .collect();
            let remaining = &self.remaining;
            let x: Allocation = match self.cfg.policy {
                Policy::MaxMinFairness(_) => max_min_fairness(&rows, &cap, a, self.cfg.solver)?,
                Policy::MaxMinFairnessPacked => {
                    let co = self
                        .cfg
                        .colocation
                        .as_ref()
                        .ok_or_else(|| PolicyError::BadJob {
                            job: 0,
                            what: "max-min-fairness-packed needs co-located throughputs".into(),
                        })?;
                    let cands = pair_candidates(jobs, &group, co);
                    let pos: HashMap<usize, usize> =
                        group.iter().enumerate().map(|(k, &i)| (i, k)).collect();
                    let pair_rows: Vec<PairRow> = cands
                        .iter()
                        .map(|(a, b, rates)| PairRow {
                            a: pos[a],
                            b: pos[b],
                            throughput: rates.clone(),
                        })
                        .collect();
                    let packed = max_min_fairness_packed(&rows, &pair_rows, &cap, self.cfg.solver)?;
                    for ((a, b, rates), y) in cands.into_iter().zip(packed.pairs) {
                        if y.iter().any(|&v| v > 1e-9) {
                            self.slots.push(PairSlot {
                                a,
                                b,
                                rates,
                                x: y,
                                got: vec![half; nt],
                            });
                        }
                    }
                    packed.single
                }
                Policy::MaxSumThroughput(_) => {
                    max_sum_throughput(&rows, &cap, a, false, self.cfg.solver)?
                }
                Policy::MaxSumNormalizedThroughput(_) => {
                    max_sum_throughput(&rows, &cap, a, true, self.cfg.solver)?
                }
                Policy::Fifo(_) => match (&self.cfg.gavel_compat, a) {
                    (Some(gc), Awareness::Agnostic) => gavel_fifo_allocation(
                        jobs,
                        &group,
                        &cap,
                        &gc.type_order,
                        &mut self.fifo_on,
                        &mut self.py,
                    ),
                    _ => fifo_allocation(jobs, &group, &cap, a, &mut self.fifo_on, &mut self.rng),
                },
                Policy::ShortestJobFirst(_) | Policy::LeastAttainedService(_) => {
                    // Order by remaining time (at the job's best or mean speed) or by
                    // GPU-seconds received; ties by arrival.
                    let attained = &self.attained;
                    let key = |i: usize| -> f64 {
                        if let Policy::LeastAttainedService(_) = self.cfg.policy {
                            return attained[i];
                        }
                        let speeds = jobs[i].throughput.iter().filter(|&&v| v > 0.0);
                        let speed = match a {
                            // With gangs or sizes, the fastest way at its own size.
                            Awareness::Aware => speeds
                                .copied()
                                .chain(
                                    jobs[i]
                                        .mixed
                                        .iter()
                                        .filter(|m| m.workers() == jobs[i].scale_factor)
                                        .map(|m| m.throughput),
                                )
                                .fold(0.0, f64::max),
                            Awareness::Agnostic => {
                                let v: Vec<f64> = speeds.copied().collect();
                                v.iter().sum::<f64>() / v.len().max(1) as f64
                            }
                        };
                        remaining[i] / speed.max(1e-12)
                    };
                    let mut order = group.clone();
                    order.sort_by(|&x, &y| {
                        jobs[y]
                            .priority
                            .cmp(&jobs[x].priority)
                            .then(key(x).total_cmp(&key(y)))
                            .then(x.cmp(&y))
                    });
                    if self.cfg.policy.uses_mixed()
                        && group.iter().any(|&i| !jobs[i].mixed.is_empty())
                    {
                        ordered_allocation_mixed(jobs, &group, &order, &cap)
                    } else {
                        ordered_allocation(jobs, &group, &order, &cap, a, &mut self.rng)
                    }
                }
                Policy::MinCost(_) => {
                    let p = self
                        .cfg
                        .prices
                        .as_deref()
                        .ok_or_else(|| PolicyError::BadJob {
                            job: 0,
                            what: "min-cost needs prices per type".into(),
                        })?;
                    min_cost(&rows, &cap, p, a, self.cfg.solver)?
                }
                Policy::MinMakespan(_) => {
                    let rem: Vec<f64> = group.iter().map(|&i| remaining[i]).collect();
                    let search = match self.cfg.gavel_compat {
                        Some(_) => crate::DeadlineSearch::Gavel,
                        None => crate::DeadlineSearch::Tight,
                    };
                    min_makespan(&rows, &rem, &cap, a, self.cfg.solver, search)?
                }
                Policy::FinishTimeFairness(_) => {
                    // Gavel's bookkeeping: the steps done since the last allocation count
                    // as time in isolation at that allocation's isolated rate.
                    for &i in &group {
                        if let Some((rem0, rate0)) = self.ftf_prev[i] {
                            self.done_isolated[i] += (rem0 - remaining[i]) / rate0.max(1e-12);
                        }
                    }
                    let rem: Vec<f64> = group.iter().map(|&i| remaining[i]).collect();
                    let done: Vec<f64> = group.iter().map(|&i| self.done_isolated[i]).collect();
                    let age: Vec<f64> = group.iter().map(|&i| now - jobs[i].arrival_s).collect();
                    let rate = isolated_throughput(&rows, &cap, a);
                    for (k, &i) in group.iter().enumerate() {
                        self.ftf_prev[i] = (rate[k] > 0.0).then_some((remaining[i], rate[k]));
                    }
                    finish_time_fairness(&rows, &rem, &done, &age, &cap, a, self.cfg.solver)?
                }
            };
            self.solves += 1;
            for (k, &i) in group.iter().enumerate() {
                self.x_of[i] = Some(x.x[k].clone());
                self.allocated.push(i);
            }
            // What this tier leaves: whole workers only.
            for (t, c) in cap.iter_mut().enumerate() {
                let used: f64 = group
                    .iter()
                    .enumerate()
                    .map(|(k, &i)| {
                        x.x[k][t] * jobs[i].scale_factor as f64
                            + jobs[i]
                                .mixed
                                .iter()
                                .zip(x.x[k].iter().skip(nt))
                                .map(|(m, v)| v * m.workers_on(t) as f64)
                                .sum::<f64>()
                    })
                    .sum::<f64>()
                    + self.slots[slots_before..]
                        .iter()
                        .map(|p| p.x[t] * jobs[p.a].scale_factor as f64)
                        .sum::<f64>();
                *c = ((*c as f64 - used + 1e-6).floor().max(0.0)) as u32;
            }
        }
        // Pairs start, like jobs, with half a round received on every type.
        for (t, tt) in self.type_time.iter_mut().enumerate() {
            *tt += self.slots.iter().map(|p| p.got[t]).sum::<f64>();
        }
        let nt = self.capacity.len();
        self.gang_columns = self
            .allocated
            .iter()
            .any(|&i| self.x_of[i].as_ref().is_some_and(|x| x.len() > nt));
        self.need_update = false;
        self.capacity_changed = false;
        Ok(())
    }
}

/// Partners considered per job by the packed policy: the pairs with the largest gain
/// (normalised throughput of the two together, above 1 on some type). Bounds the LP at
/// a few variables per job instead of one per pair of jobs.
pub const PACK_PARTNERS: usize = 4;

/// A pair of jobs in the current packed allocation, with its share per type and the
/// time it has received per type since the allocation.
#[derive(Debug, Clone)]
struct PairSlot {
    a: usize,
    b: usize,
    rates: Vec<(f64, f64)>,
    x: Vec<f64>,
    got: Vec<f64>,
}

/// A candidate pair: its two jobs (indices into the jobs) and its rates per type.
type Candidate = (usize, usize, Vec<(f64, f64)>);

/// Candidate pairs among `group` (indices into `jobs`): same scale factor, both kinds
/// known, measured together, and better together than apart on some type; each job
/// keeps its [`PACK_PARTNERS`] best partners.
fn pair_candidates(jobs: &[SimJob], group: &[usize], co: &CoLocation) -> Vec<Candidate> {
    let mut all: Vec<(f64, Candidate)> = Vec::new();
    for (x, &a) in group.iter().enumerate() {
        for &b in &group[x + 1..] {
            let (ja, jb) = (&jobs[a], &jobs[b]);
            let (Some(ka), Some(kb)) = (ja.kind, jb.kind) else {
                continue;
            };
            if ja.scale_factor != jb.scale_factor {
                continue;
            }
            let Some(rates) = co.get(ka, kb) else {
                continue;
            };
            let gain = rates
                .iter()
                .enumerate()
                .filter(|(t, _)| {
                    ja.throughput.get(*t).is_some_and(|&v| v > 0.0)
                        && jb.throughput.get(*t).is_some_and(|&v| v > 0.0)
                })
                .map(|(t, &(ra, rb))| ra / ja.throughput[t] + rb / jb.throughput[t])
                .fold(0.0, f64::max);
            if gain > 1.0 {
                all.push((gain, (a, b, rates)));
            }
        }
    }
    all.sort_by(|p, q| {
        q.0.total_cmp(&p.0)
            .then(p.1.0.cmp(&q.1.0))
            .then(p.1.1.cmp(&q.1.1))
    });
    let mut count: HashMap<usize, usize> = HashMap::new();
    let mut out = Vec::new();
    for (_, (a, b, rates)) in all {
        let (ca, cb) = (
            count.get(&a).copied().unwrap_or(0),
            count.get(&b).copied().unwrap_or(0),
        );
        if ca < PACK_PARTNERS || cb < PACK_PARTNERS {
            *count.entry(a).or_default() += 1;
            *count.entry(b).or_default() += 1;
            out.push((a, b, rates));
        }
    }
    out
}

/// One gang's workers on one type, for node placement: `keep` are the nodes it held
/// there last round (empty: none, or a different placement).
/// Steps/s of job `j` on type `t` with its workers split over nodes, `share` the fewest
/// on one of them: the entry of [`SimJob::throughput_pieces`] for the largest piece not
/// above `share`. Where that is 0 (no layout runs so), the smallest positive rate of any
/// smaller piece, so a placement never stalls a job; with none, its whole-node rate.
fn split_rate(j: &SimJob, t: usize, share: u32) -> f64 {
    let on_t = j
        .throughput_pieces
        .iter()
        .map(move |(p, v)| (*p, v.get(t).copied().unwrap_or(0.0)));
    piece_rate(on_t, share, j.throughput[t])
}

/// The rate of [`split_rate`] from one type's (piece, steps/s) entries, ascending by
/// piece, with `whole` the rate on whole nodes.
fn piece_rate(pieces: impl Iterator<Item = (u32, f64)> + Clone, share: u32, whole: f64) -> f64 {
    let fits = pieces.filter(|&(p, _)| p <= share);
    match fits.clone().last() {
        Some((_, r)) if r > 0.0 => r,
        _ => fits
            .map(|(_, r)| r)
            .filter(|&r| r > 0.0)
            .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.min(r))))
            .unwrap_or(whole),
    }
}

/// Where [`place_on_nodes`] put a unit: its new nodes (`None`: the ones it kept),
/// whether it is fragmented, and its fewest workers on one node.
type NodePlace = (Option<Vec<usize>>, bool, u32);

struct NodeUnit<'a> {
    job: usize,
    ty: usize,
    workers: u32,
    keep: &'a [usize],
}

/// Puts each unit's workers on nodes of its type: first units that keep the nodes they
/// held if those still have room, then the rest from the largest down, each on the
/// fullest node that fits it whole (best fit), else spread over the nodes with the most
/// free workers, or in equal power-of-two pieces where those give a larger smallest
/// share. Returns, per unit, its new nodes (`None`: it keeps `keep`), whether it is
/// fragmented (on more nodes than its size needs: a unit larger than a node needs
/// several anyway), and the fewest workers it has on any one of its nodes.
fn place_on_nodes(units: &[NodeUnit], capacity: &[u32], per_node: &[u32]) -> Vec<NodePlace> {
    let mut free: Vec<Vec<u32>> = capacity
        .iter()
        .zip(per_node)
        .map(|(&c, &cpn)| {
            let full = (c / cpn) as usize;
            let mut v = vec![cpn; full];
            if c % cpn > 0 {
                v.push(c % cpn);
            }
            v
        })
        .collect();
    let mut out: Vec<NodePlace> = vec![(None, false, 0); units.len()];
    let mut done = vec![false; units.len()];
    // Lease renewal: keep a gang where it ran if all its nodes still have room.
    for (k, u) in units.iter().enumerate() {
        if u.keep.is_empty() {
            continue;
        }
        let (t, sf) = (u.ty, u.workers);
        let per = sf.div_ceil(u.keep.len() as u32);
        if u.keep
            .iter()
            .all(|&nd| free[t].get(nd).is_some_and(|&f| f >= per))
        {
            let mut left = sf;
            let mut least = sf;
            for &nd in u.keep {
                let take = per.min(left);
                free[t][nd] -= take;
                left -= take;
                least = least.min(take);
            }
            out[k] = (
                None,
                u.keep.len() > sf.div_ceil(per_node[t]) as usize,
                least,
            );
            done[k] = true;
        }
    }
    let mut rest: Vec<usize> = (0..units.len()).filter(|&k| !done[k]).collect();
    rest.sort_by(|&a, &b| {
        units[b]
            .workers
            .cmp(&units[a].workers)
            .then(units[a].job.cmp(&units[b].job))
            .then(units[a].ty.cmp(&units[b].ty))
    });
    for k in rest {
        let (t, sf) = (units[k].ty, units[k].workers);
        let fit = (0..free[t].len())
            .filter(|&nd| free[t][nd] >= sf)
            .min_by_key(|&nd| (free[t][nd], nd));
        match fit {
            Some(nd) => {
                free[t][nd] -= sf;
                out[k] = (Some(vec![nd]), false, sf);
            }
            None => {
                // Topology: a split job's speed is set by its fewest workers on one node,
                // rounded down to a power of two (the shares its speeds are planned for).
                // The nodes with the most free workers first give a share; pieces of
                // whole `p` workers, `p` the largest power of two dividing the unit (at
                // most a node) whose whole pieces the free nodes hold, give at least `p`.
                // The pieces are taken when `p` is the larger share (nodes with 7, 7 and
                // 2 free take an 8-worker unit as 4 + 4, not 7 + 1), else the most free
                // nodes first, which use no more nodes.
                let split = |p: u32, free: &mut [u32]| {
                    let whole = |f: u32| f / p * p;
                    let mut order: Vec<usize> = (0..free.len()).collect();
                    order.sort_by_key(|&nd| (std::cmp::Reverse(whole(free[nd])), nd));
                    let (mut left, mut least, mut used) = (sf, sf, Vec::new());
                    for nd in order {
                        if left == 0 {
                            break;
                        }
                        let take = whole(free[nd]).min(left);
                        if take > 0 {
                            free[nd] -= take;
                            left -= take;
                            least = least.min(take);
                            used.push(nd);
                        }
                    }
                    (used, least)
                };
                let cap = per_node[t].min(sf).max(1);
                let mut p = 1u32 << (31 - cap.leading_zeros());
                while p > 1
                    && (!sf.is_multiple_of(p)
                        || free[t].iter().map(|&f| f / p * p).sum::<u32>() < sf)
                {
                    p /= 2;
                }
                let mut greedy_free = free[t].clone();
                let (mut used, mut least) = split(1, &mut greedy_free);
                let pow2_floor = |n: u32| {
                    if n == 0 {
                        0
                    } else {
                        1u32 << (31 - n.leading_zeros())
                    }
                };
                if p > pow2_floor(least) {
                    (used, least) = split(p, &mut free[t]);
                } else {
                    free[t] = greedy_free;
                }
                let spread = used.len() > sf.div_ceil(per_node[t]) as usize;
                out[k] = (Some(used), spread, least);
            }
        }
    }
    out
}

/// The type a queue policy gives job `j` among those with room (`fits`, non-empty):
/// agnostic, a random one; aware, the fastest (ties to the first).
fn pick_type(j: &SimJob, fits: &[usize], a: Awareness, rng: &mut Rng) -> usize {
    match a {
        Awareness::Agnostic => fits[rng.below(fits.len())],
        Awareness::Aware => *fits
            .iter()
            .max_by(|&&x, &&y| j.throughput[x].total_cmp(&j.throughput[y]).then(y.cmp(&x)))
            .unwrap_or(&fits[0]),
    }
}

/// X = 1 on the type each active job was given, 0 elsewhere.
fn one_hot(active: &[usize], on: &[Option<usize>], nt: usize) -> Allocation {
    Allocation {
        x: active
            .iter()
            .map(|&i| {
                (0..nt)
                    .map(|t| if on[i] == Some(t) { 1.0 } else { 0.0 })
                    .collect()
            })
            .collect(),
    }
}

/// Jobs in `order` each get all of one type's time, as long as a type has room:
/// agnostic, a random type with room; aware, the fastest. A job that fits nowhere is
/// skipped (later, smaller jobs may still fit).
fn ordered_allocation(
    jobs: &[SimJob],
    active: &[usize],
    order: &[usize],
    capacity: &[u32],
    a: Awareness,
    rng: &mut Rng,
) -> Allocation {
    let nt = capacity.len();
    let mut free: Vec<u64> = capacity.iter().map(|&c| c as u64).collect();
    let mut on: Vec<Option<usize>> = vec![None; jobs.len()];
    for &i in order {
        let sf = jobs[i].scale_factor as u64;
        let fits: Vec<usize> = (0..nt)
            .filter(|&t| free[t] >= sf && jobs[i].throughput[t] > 0.0)
            .collect();
        if fits.is_empty() {
            continue;
        }
        let t = pick_type(&jobs[i], &fits, a, rng);
        on[i] = Some(t);
        free[t] -= sf;
    }
    one_hot(active, &on, nt)
}

/// Shortest-job-first with a job's other ways to run (its `mixed` options: gangs across
/// types and other sizes), heterogeneity-aware. Two passes in the order given: first each
/// job takes the fastest way at its own size that fits what the jobs before it left (one
/// type, or a gang across types), or else the fastest smaller size that fits; then each
/// placed job, in order, moves to a faster way (a larger size, another type) if what is
/// still free, with its own workers back, holds it and it is at least
/// [`GROW_GAIN`] faster. So the shortest jobs start first, no job grows while one before
/// it in the order waits, and idle workers go to the jobs nearest to finishing.
fn ordered_allocation_mixed(
    jobs: &[SimJob],
    active: &[usize],
    order: &[usize],
    capacity: &[u32],
) -> Allocation {
    let nt = capacity.len();
    let mut free: Vec<u64> = capacity.iter().map(|&c| c as u64).collect();
    let mut on: Vec<Option<usize>> = vec![None; jobs.len()];
    // (column, workers on each type it uses, throughput) of every way a job runs.
    let ways = |j: &SimJob| -> Vec<Way> {
        let own = (0..nt)
            .filter(|&t| j.throughput[t] > 0.0)
            .map(|t| (t, vec![(t, j.scale_factor as u64)], j.throughput[t]));
        let more = j
            .mixed
            .iter()
            .enumerate()
            .filter(|(_, m)| m.throughput > 0.0)
            .map(|(k, m)| {
                (
                    nt + k,
                    m.uses.iter().map(|&(t, w)| (t, w as u64)).collect(),
                    m.throughput,
                )
            });
        own.chain(more).collect()
    };
    let fits = |free: &[u64], uses: &[(usize, u64)]| uses.iter().all(|&(t, w)| free[t] >= w);
    let take = |free: &mut [u64], uses: &[(usize, u64)], sign: bool| {
        for &(t, w) in uses {
            if sign {
                free[t] -= w;
            } else {
                free[t] += w;
            }
        }
    };
    let mut rate = vec![0.0; jobs.len()];
    let mut held: Vec<Vec<(usize, u64)>> = vec![Vec::new(); jobs.len()];
    for &i in order {
        let sf = jobs[i].scale_factor as u64;
        let w = ways(&jobs[i]);
        let size = |u: &[(usize, u64)]| u.iter().map(|x| x.1).sum::<u64>();
        let best = |pred: &dyn Fn(u64) -> bool| {
            w.iter()
                .filter(|(_, u, _)| pred(size(u)) && fits(&free, u))
                .max_by(|x, y| x.2.total_cmp(&y.2).then(y.0.cmp(&x.0)))
                .cloned()
        };
        let pick = best(&|n| n == sf).or_else(|| best(&|n| n < sf));
        if let Some((c, u, r)) = pick {
            take(&mut free, &u, true);
            on[i] = Some(c);
            rate[i] = r;
            held[i] = u;
        }
    }
    for &i in order {
        if on[i].is_none() {
            continue;
        }
        let mine = std::mem::take(&mut held[i]);
        take(&mut free, &mine, false);
        let faster = ways(&jobs[i])
            .into_iter()
            .filter(|(_, u, r)| *r >= rate[i] * (1.0 + GROW_GAIN) && fits(&free, u))
            .max_by(|x, y| x.2.total_cmp(&y.2).then(y.0.cmp(&x.0)));
        let u = match faster {
            Some((c, u, r)) => {
                on[i] = Some(c);
                rate[i] = r;
                u
            }
            None => mine,
        };
        take(&mut free, &u, true);
        held[i] = u;
    }
    Allocation {
        x: active
            .iter()
            .map(|&i| {
                (0..nt + jobs[i].mixed.len())
                    .map(|c| if on[i] == Some(c) { 1.0 } else { 0.0 })
                    .collect()
            })
            .collect(),
    }
}

/// One way a job runs: its allocation column, the workers it takes on each type it
/// uses, and its throughput.
type Way = (usize, Vec<(usize, u64)>, f64);

/// The least speed-up for which [`ordered_allocation_mixed`] moves a job to another way
/// of running (a restart).
pub const GROW_GAIN: f64 = 0.2;

/// FIFO as an allocation (Gavel's FIFO policy): jobs in arrival order each get all of
/// one type's time (X = 1 there). Agnostic: a job keeps its type until it finishes; a
/// finished job's workers go to the head of the queue if it fits there; then waiting jobs
/// take a random type with room, and the queue stops at the first job that fits nowhere.
/// Aware: the assignment is redone from scratch in arrival order, each job on its
/// fastest type with room.
fn fifo_allocation(
    jobs: &[SimJob],
    active: &[usize],
    capacity: &[u32],
    a: Awareness,
    on: &mut [Option<usize>],
    rng: &mut Rng,
) -> Allocation {
    let nt = capacity.len();
    let mut free: Vec<u64> = capacity.iter().map(|&c| c as u64).collect();
    let mut is_active = vec![false; jobs.len()];
    for &i in active {
        is_active[i] = true;
    }
    let mut queue: Vec<usize> = active.to_vec();
    // Higher tiers first, then arrival order (= trace order).
    queue.sort_unstable_by(|&x, &y| jobs[y].priority.cmp(&jobs[x].priority).then(x.cmp(&y)));
    if a == Awareness::Aware {
        on.iter_mut().for_each(|o| *o = None);
    } else {
        // Finished jobs hand their type to the queue's head, if it fits there.
        let mut finished: Vec<(usize, usize)> = on
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.map(|t| (i, t)))
            .filter(|&(i, _)| !is_active[i])
            .collect();
        finished.sort_unstable();
        for &(i, _) in &finished {
            on[i] = None;
        }
        for (i, &o) in on.iter().enumerate() {
            if let Some(t) = o {
                free[t] -= jobs[i].scale_factor as u64;
            }
        }
        queue.retain(|&i| on[i].is_none());
        for &(_, t) in &finished {
            if let Some(&h) = queue.first() {
                let sf = jobs[h].scale_factor as u64;
                if sf <= free[t] && jobs[h].throughput[t] > 0.0 {
                    on[h] = Some(t);
                    free[t] -= sf;
                    queue.remove(0);
                }
            }
        }
    }
    for &i in &queue {
        let sf = jobs[i].scale_factor as u64;
        // Among the types with room that the job can use. (Gavel's FIFO draws among all
        // types with room and skips a draw the job cannot use; since an allocation is
        // only recomputed when a job arrives or ends, a job that some types cannot run
        // could then wait for an unrelated event, as a pool-restricted job did under
        // `tessera server` with `policy = "fifo"`.)
        let room: Vec<usize> = (0..nt).filter(|&t| free[t] >= sf).collect();
        if room.is_empty() {
            break;
        }
        let fits: Vec<usize> = room
            .into_iter()
            .filter(|&t| jobs[i].throughput[t] > 0.0)
            .collect();
        if fits.is_empty() {
            // Its types are full; a later job may run on another.
            continue;
        }
        let t = pick_type(&jobs[i], &fits, a, rng);
        on[i] = Some(t);
        free[t] -= sf;
    }
    one_hot(active, on, nt)
}

/// Gavel's agnostic FIFO as Gavel runs it (`scheduler/policies/fifo.py`, base mode, at
/// c4fa400), for `--gavel-compat`. Allocations persist; a finished job's type goes to the
/// queue's head if it fits there; then, for each queued job, Gavel draws an index among
/// the types with room for it but allocates the job to the last type of its sorted list
/// of types with free workers (the variable its loop left behind), without checking that
/// it has room, so that type is over-subscribed; when that type's count reaches exactly
/// zero it removes the drawn entry from the list, whichever type that is.
fn gavel_fifo_allocation(
    jobs: &[SimJob],
    active: &[usize],
    capacity: &[u32],
    type_order: &[usize],
    on: &mut [Option<usize>],
    py: &mut crate::pyrandom::PyRandom,
) -> Allocation {
    let nt = capacity.len();
    let mut avail: Vec<i64> = capacity.iter().map(|&c| c as i64).collect();
    let mut is_active = vec![false; jobs.len()];
    for &i in active {
        is_active[i] = true;
    }
    let mut queue: Vec<usize> = active
        .iter()
        .copied()
        .filter(|&i| on[i].is_none())
        .collect();
    queue.sort_unstable();
    let scheduled: Vec<usize> = (0..jobs.len()).filter(|&i| on[i].is_some()).collect();
    for j in scheduled {
        let Some(t) = on[j] else { continue };
        if is_active[j] {
            avail[t] -= jobs[j].scale_factor as i64;
            continue;
        }
        if let Some(&h) = queue.first()
            && jobs[h].scale_factor as i64 <= avail[t]
            && jobs[h].throughput[t] > 0.0
        {
            queue.remove(0);
            on[h] = Some(t);
            avail[t] -= jobs[h].scale_factor as i64;
        }
        on[j] = None;
    }
    let mut types: Vec<usize> = type_order
        .iter()
        .copied()
        .filter(|&t| t < nt && avail[t] > 0)
        .collect();
    while !queue.is_empty() && !types.is_empty() {
        let j = queue.remove(0);
        let sf = jobs[j].scale_factor as i64;
        let with: Vec<usize> = (0..types.len())
            .filter(|&k| avail[types[k]] >= sf)
            .collect();
        if with.is_empty() {
            break;
        }
        let drawn = with[py.randrange(with.len())];
        let Some(&t) = types.last() else { break };
        if jobs[j].throughput[t] > 0.0 {
            on[j] = Some(t);
            avail[t] -= sf;
            if avail[t] == 0 {
                types.remove(drawn);
            }
        }
    }
    one_hot(active, on, nt)
}

/// Gavel's agnostic input row (`--gavel-compat`): the reference type's speed (else the
/// job's first speed) on every type, so that the agnostic planner sees no type the job
/// cannot use. A job with no speed anywhere keeps its zeros.
fn gavel_agnostic_row(throughput: &[f64], reference: Option<usize>) -> Vec<f64> {
    let speed = reference
        .and_then(|r| throughput.get(r).copied())
        .filter(|&v| v > 0.0)
        .or_else(|| throughput.iter().copied().find(|&v| v > 0.0))
        .unwrap_or(0.0);
    vec![speed; throughput.len()]
}

/// What the priority mechanism reads: the allocation and the time received since it.
struct Ledger<'a> {
    x_of: &'a [Option<Vec<f64>>],
    got: &'a [Vec<f64>],
    type_time: &'a [f64],
    deficit: &'a [Vec<f64>],
    slots: &'a [PairSlot],
}

/// Placements of a round: `(job or pair slot, type)`.
type Placements = Vec<(usize, usize)>;

/// Gangs across types to place this round, `(job, option)`, among jobs not `taken`,
/// each with room on all of its types at once. A job's time on one of its gangs is a
/// column of its allocation like a type. First (`fill` false, before any job is placed
/// on one type) the gangs whose jobs have received no more of the time since the
/// allocation on them than the allocation gives (`clock`: half a round, the start of
/// every column's count as on the types, and the seconds since the allocation), most
/// behind first, then by tier and allocation. Then (`fill` true, on what the one-type
/// placements leave) any gang of a job whose policy planned gangs, by tier and
/// allocation. Tessera's, not Gavel's (Gavel places every job on one type).
fn across_round(
    jobs: &[SimJob],
    active: &[usize],
    l: &Ledger,
    capacity: &[u32],
    clock: (f64, f64),
    fill: bool,
    taken: &mut [bool],
) -> Vec<(usize, usize)> {
    let (half, elapsed) = clock;
    let nt = capacity.len();
    // (tier, how far behind, allocation, job, option)
    let mut q: Vec<(u32, f64, f64, usize, usize)> = Vec::new();
    for &i in active {
        let Some(x) = &l.x_of[i] else { continue };
        for (m, &xm) in x.iter().enumerate().skip(nt) {
            if fill {
                if jobs[i].mixed[m - nt].throughput > 0.0 {
                    q.push((jobs[i].priority, 0.0, xm, i, m - nt));
                }
                continue;
            }
            if xm <= 1e-9 {
                continue;
            }
            let received = if elapsed > 0.0 {
                ((l.got[i][m] - half) / elapsed).max(0.0)
            } else {
                0.0
            };
            if received <= xm + 1e-9 {
                q.push((jobs[i].priority, xm - received, xm, i, m - nt));
            }
        }
    }
    q.sort_by(|p, r| {
        r.0.cmp(&p.0)
            .then(r.1.total_cmp(&p.1))
            .then(r.2.total_cmp(&p.2))
            .then(p.3.cmp(&r.3))
            .then(p.4.cmp(&r.4))
    });
    let mut free: Vec<u32> = capacity.to_vec();
    let mut out = Vec::new();
    for (_, _, _, i, m) in q {
        if taken[i] {
            continue;
        }
        let uses = &jobs[i].mixed[m].uses;
        if uses.iter().all(|&(t, w)| free[t] >= w) {
            for &(t, w) in uses {
                free[t] -= w;
            }
            taken[i] = true;
            out.push((i, m));
        }
    }
    out
}

/// Gavel's priority mechanism: a job's priority on a type is its allocation over the
/// share of that type's time it has received since the allocation was computed (the
/// allocation itself, scaled up, before it has received any); ties go to the larger
/// deficit, then the larger allocation. Worker types are filled one after another in
/// cluster order, each from its own priority queue; a job gets at most one type, and
/// only where its scale factor fits. Jobs outside the current allocation wait. Pairs of
/// the packed policy compete in the same queues (their deficit counts as 0) and take
/// their scale factor's workers once for both jobs. Returns the single placements
/// `(job, type)` and the pair placements `(slot, type)`.
fn priority_round(
    jobs: &[SimJob],
    active: &[usize],
    l: &Ledger,
    capacity: &[u32],
    passes: &[bool],
    type_order: &[usize],
    taken: &mut [bool],
) -> (Placements, Placements) {
    let (x_of, got, type_time, deficit, slots) = (l.x_of, l.got, l.type_time, l.deficit, l.slots);
    let n = jobs.len();
    let mut free: Vec<u64> = capacity.iter().map(|&c| c as u64).collect();
    let mut placed = Vec::new();
    let mut paired = Vec::new();
    // Candidates are jobs (0..n) and pair slots (n + k).
    let tier = |c: usize| {
        if c < n {
            jobs[c].priority
        } else {
            jobs[slots[c - n].a].priority
        }
    };
    // (priority, deficit, allocation, candidate): a strict total order, highest first,
    // after the candidate's tier.
    let cmp = |p: &(f64, f64, f64, usize), r: &(f64, f64, f64, usize)| {
        tier(r.3)
            .cmp(&tier(p.3))
            .then(r.0.total_cmp(&p.0))
            .then(r.1.total_cmp(&p.1))
            .then(r.2.total_cmp(&p.2))
            .then(p.3.cmp(&r.3))
    };
    let priority = |a: f64, got: f64, t: usize| {
        if a <= 0.0 {
            0.0
        } else {
            let share = if type_time[t] > 0.0 {
                got / type_time[t]
            } else {
                0.0
            };
            if share > 0.0 { a / share } else { a * 1e9 }
        }
    };
    let mut q: Vec<(f64, f64, f64, usize)> = Vec::with_capacity(active.len() + slots.len());
    // Each pass fills the types in order; `true`: only candidates whose allocation gives
    // them time on the type.
    for &skip_zero in passes {
        for &t in type_order {
            q.clear();
            for &i in active {
                let Some(x) = &x_of[i] else { continue };
                let sf = jobs[i].scale_factor as u64;
                if taken[i] || jobs[i].throughput[t] <= 0.0 || free[t] < sf {
                    continue;
                }
                let pri = priority(x[t], got[i][t], t);
                if skip_zero && pri <= 0.0 {
                    continue;
                }
                q.push((pri, deficit[i][t], x[t], i));
            }
            for (k, p) in slots.iter().enumerate() {
                let sf = jobs[p.a].scale_factor as u64;
                if p.x[t] <= 0.0 || taken[p.a] || taken[p.b] || free[t] < sf {
                    continue;
                }
                q.push((priority(p.x[t], p.got[t], t), 0.0, p.x[t], n + k));
            }
            // Each placement takes at least one worker, so only the best `free` candidates
            // can be placed unless some do not fit or share a job: order just those (a
            // selection, not a sort of every candidate), and the next ones if room is left.
            let mut start = 0;
            while start < q.len() && free[t] > 0 {
                let rest = &mut q[start..];
                let k = (free[t] as usize).min(rest.len());
                if k < rest.len() {
                    rest.select_nth_unstable_by(k - 1, cmp);
                }
                rest[..k].sort_unstable_by(cmp);
                for &(_, _, _, c) in &rest[..k] {
                    if c < n {
                        let sf = jobs[c].scale_factor as u64;
                        if !taken[c] && free[t] >= sf {
                            free[t] -= sf;
                            taken[c] = true;
                            placed.push((c, t));
                        }
                    } else {
                        let p = &slots[c - n];
                        let sf = jobs[p.a].scale_factor as u64;
                        if !taken[p.a] && !taken[p.b] && free[t] >= sf {
                            free[t] -= sf;
                            taken[p.a] = true;
                            taken[p.b] = true;
                            paired.push((c - n, t));
                        }
                    }
                }
                start += k;
            }
        }
    }
    // Leave the shared buffer clean for the next round.
    for &(i, _) in &placed {
        taken[i] = false;
    }
    for &(k, _) in &paired {
        taken[slots[k].a] = false;
        taken[slots[k].b] = false;
    }
    (placed, paired)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn job(id: usize, steps: f64, sf: u32, tput: &[f64]) -> SimJob {
        SimJob {
            id,
            arrival_s: 0.0,
            total_steps: steps,
            scale_factor: sf,
            weight: 1.0,
            priority: 0,
            kind: None,
            throughput: tput.to_vec(),
            throughput_spread: None,
            throughput_pieces: Vec::new(),
            mixed: Vec::new(),
        }
    }

    fn cfg(policy: &str) -> SimConfig {
        SimConfig {
            policy: Policy::parse(policy).unwrap(),
            round_s: 100.0,
            restart_s: 0.0,
            seed: 1,
            chips_per_node: None,
            prices: None,
            stop_after: None,
            colocation: None,
            solver: crate::Solver::Simplex,
            realloc_s: None,
            gavel_compat: None,
        }
    }

    /// `--gavel-compat`'s agnostic inputs: Gavel's agnostic max-min fairness sees 1.0 on
    /// every type, so a job that cannot run on a type still gets time there; tessera's
    /// keeps each job to the types it can run on. The mechanism never places a job where
    /// it has no speed either way.
    #[test]
    fn gavel_compat_agnostic_inputs_ignore_where_a_job_cannot_run() {
        assert_eq!(gavel_agnostic_row(&[2.0, 0.0, 3.0], Some(2)), vec![3.0; 3]);
        assert_eq!(gavel_agnostic_row(&[0.0, 2.0], Some(0)), vec![2.0; 2]);
        assert_eq!(gavel_agnostic_row(&[0.0, 0.0], None), vec![0.0; 2]);
        let on = |compat: bool| {
            let c = SimConfig {
                realloc_s: None,
                gavel_compat: compat.then(|| crate::sim::GavelCompat {
                    type_order: vec![0, 1],
                    reference: Some(0),
                }),
                ..cfg("max-min-fairness")
            };
            let mut core = RoundCore::new(&[1, 1], &c);
            core.add(job(0, 1e6, 1, &[1.0, 0.0]));
            core.add(job(1, 1e6, 1, &[1.0, 1.0]));
            for i in 0..2 {
                core.handle(Event::Arrived { job: i }).unwrap();
            }
            let plan = round(&mut core, 0.0);
            assert!(
                plan.placements.iter().all(|p| p.job != 0 || p.ty == 0),
                "{plan:?}"
            );
            core.allocation(0).unwrap().to_vec()
        };
        let ours = on(false);
        let gavel = on(true);
        assert!(ours[1].abs() < 1e-9, "tessera: {ours:?}");
        assert!(gavel[1] > 0.1, "Gavel: {gavel:?}");
    }

    fn round(core: &mut RoundCore, now: f64) -> RoundPlan {
        match core.handle(Event::RoundDue { now }).unwrap() {
            Reaction::Round(p) => p,
            r => panic!("expected a round, got {r:?}"),
        }
    }

    /// Two jobs on one 1-worker type share it round by round under max-min fairness;
    /// the core's placements alternate, and its allocation gives each half the time.
    #[test]
    fn jobs_share_a_type_round_by_round() {
        let mut core = RoundCore::new(&[1], &cfg("max-min-fairness-perf"));
        let a = core.add(job(0, 1e9, 1, &[1.0]));
        let b = core.add(job(1, 1e9, 1, &[1.0]));
        core.handle(Event::Arrived { job: a }).unwrap();
        core.handle(Event::Arrived { job: b }).unwrap();
        let mut on = Vec::new();
        for r in 0..4 {
            let p = round(&mut core, r as f64 * 100.0);
            assert_eq!(p.solved, r == 0, "solved only when the job set changed");
            assert_eq!(p.placements.len(), 1);
            let pl = &p.placements[0];
            on.push(pl.job);
            core.handle(Event::Ran {
                job: pl.job,
                used_s: 100.0,
                steps_left: 1e9 - 100.0 * (r + 1) as f64,
            })
            .unwrap();
            core.handle(Event::RoundEnded).unwrap();
        }
        assert_eq!(on, [0, 1, 0, 1]);
        assert!((core.allocation(a).unwrap()[0] - 0.5).abs() < 1e-9);
    }

    /// FIFO over pools that only some jobs can use (as under `tessera server`): a job
    /// goes to a type it can run on in its first allocation, whatever the draw, and a
    /// job whose only type is full does not hold up a later job of another type.
    /// A gang across types is placed with a part on each type, on nodes, alongside a job
    /// on one type; it keeps its nodes round to round (no restart), counts as held on
    /// its first part's type, and a lost placement starts it afresh.
    #[test]
    fn a_gang_across_types_is_placed_part_by_part() {
        let mut c = cfg("max-min-fairness-perf");
        c.chips_per_node = Some(vec![4, 4]);
        let mut core = RoundCore::new(&[8, 8], &c);
        let big = core.add(SimJob {
            mixed: vec![crate::MixedUse {
                uses: vec![(0, 4), (1, 8)],
                throughput: 3.0,
                pieces: Vec::new(),
            }],
            ..job(0, 1e9, 12, &[0.0, 0.0])
        });
        let small = core.add(job(1, 1e9, 4, &[1.0, 0.0]));
        core.handle(Event::Arrived { job: big }).unwrap();
        core.handle(Event::Arrived { job: small }).unwrap();
        let mut nodes_before = None;
        for r in 0..3 {
            let p = round(&mut core, r as f64 * 100.0);
            assert_eq!(p.placements.len(), 2, "{p:?}");
            let g = p.placements.iter().find(|q| q.job == big).unwrap();
            let a = g.across.as_ref().unwrap();
            assert_eq!(a.option, 0);
            assert_eq!(g.rate, 3.0);
            assert_eq!(g.ty, 0);
            assert_eq!(
                a.parts
                    .iter()
                    .map(|p| (p.ty, p.workers))
                    .collect::<Vec<_>>(),
                vec![(0, 4), (1, 8)]
            );
            assert_eq!(a.parts[0].nodes.len(), 1);
            assert_eq!(a.parts[1].nodes, vec![0, 1]);
            assert_eq!(g.nodes, a.parts[0].nodes);
            assert_eq!(g.restart, r == 0);
            let s = p.placements.iter().find(|q| q.job == small).unwrap();
            assert!(s.across.is_none());
            assert_eq!(s.ty, 0);
            // The small job's node is the other type-0 node.
            assert_ne!(s.nodes, a.parts[0].nodes);
            if let Some(n) = &nodes_before {
                assert_eq!(n, &a.parts[0].nodes, "kept its nodes");
            }
            nodes_before = Some(a.parts[0].nodes.clone());
            for q in &p.placements {
                core.handle(Event::Ran {
                    job: q.job,
                    used_s: 100.0,
                    steps_left: 1e9,
                })
                .unwrap();
            }
            core.handle(Event::RoundEnded).unwrap();
            assert_eq!(core.held(big), Some(0));
        }
        assert_eq!(core.preemptions(big), 0);
        core.handle(Event::PlacementLost { job: big }).unwrap();
        assert_eq!(core.preemptions(big), 1);
        let p = round(&mut core, 300.0);
        let g = p.placements.iter().find(|q| q.job == big).unwrap();
        assert!(g.restart);
    }

    /// A gang whose parts are split over nodes runs at the slowest of its split parts'
    /// rates: each part's entry for its fewest workers on one node, a part on one node
    /// at the gang's whole rate.
    #[test]
    fn a_gang_split_over_nodes_runs_at_its_slowest_parts_rate() {
        let gang = |pieces: Vec<Vec<(u32, f64)>>| SimJob {
            mixed: vec![crate::MixedUse {
                uses: vec![(0, 4), (1, 8)],
                throughput: 3.0,
                pieces,
            }],
            ..job(0, 1e9, 12, &[0.0, 0.0])
        };
        let part0 = vec![(1, 0.5), (2, 1.2)];
        let part1 = vec![(1, 1.0), (2, 1.5), (4, 2.0)];
        // (nodes of each type, rate): type 0's 4 workers on one node of 4 or as 2 + 2;
        // type 1's 8 on nodes of 8 (one) or of 4 (4 + 4).
        for (cpn, want) in [
            (vec![4, 8], 3.0),
            (vec![4, 4], 2.0),
            (vec![2, 8], 1.2),
            (vec![2, 4], 1.2),
        ] {
            let mut c = cfg("max-min-fairness-perf");
            c.chips_per_node = Some(cpn.clone());
            let mut core = RoundCore::new(&[4, 8], &c);
            let g = core.add(gang(vec![part0.clone(), part1.clone()]));
            core.handle(Event::Arrived { job: g }).unwrap();
            let p = round(&mut core, 0.0);
            assert_eq!(p.placements.len(), 1, "{p:?}");
            assert_eq!(p.placements[0].rate, want, "{cpn:?}: {p:?}");
        }
        // Without split speeds, the whole rate on any nodes.
        let mut c = cfg("max-min-fairness-perf");
        c.chips_per_node = Some(vec![2, 4]);
        let mut core = RoundCore::new(&[4, 8], &c);
        let g = core.add(gang(Vec::new()));
        core.handle(Event::Arrived { job: g }).unwrap();
        assert_eq!(round(&mut core, 0.0).placements[0].rate, 3.0);
    }

    #[test]
    fn fifo_places_pool_restricted_jobs() {
        for policy in ["fifo", "fifo-perf"] {
            for seed in 0..16 {
                let mut c = cfg(policy);
                c.seed = seed;
                let mut core = RoundCore::new(&[1, 1, 1], &c);
                let a = core.add(job(0, 1e9, 1, &[0.0, 0.0, 1.0]));
                let b = core.add(job(1, 1e9, 1, &[0.0, 0.0, 1.0]));
                let d = core.add(job(2, 1e9, 1, &[1.0, 0.0, 0.0]));
                for j in [a, b, d] {
                    core.handle(Event::Arrived { job: j }).unwrap();
                }
                let p = round(&mut core, 0.0);
                let mut placed: Vec<(usize, usize)> =
                    p.placements.iter().map(|pl| (pl.job, pl.ty)).collect();
                placed.sort_unstable();
                assert_eq!(placed, [(0, 2), (2, 0)], "{policy} seed {seed}");
            }
        }
    }

    /// A job whose node fails is placed again as a restart, and the move counts as a
    /// preemption; a job that finishes outside a round leaves the queue at once and
    /// the next round solves a new allocation.
    #[test]
    fn lost_placements_and_finishes_outside_rounds() {
        let mut core = RoundCore::new(&[2], &cfg("max-min-fairness-perf"));
        let a = core.add(job(0, 1e9, 1, &[1.0]));
        let b = core.add(job(1, 1e9, 1, &[1.0]));
        core.handle(Event::Arrived { job: a }).unwrap();
        core.handle(Event::Arrived { job: b }).unwrap();
        let p = round(&mut core, 0.0);
        assert_eq!(p.placements.len(), 2);
        assert!(
            p.placements.iter().all(|x| x.restart),
            "first placements start fresh"
        );
        for x in &p.placements {
            core.handle(Event::Ran {
                job: x.job,
                used_s: 100.0,
                steps_left: 1e9,
            })
            .unwrap();
        }
        core.handle(Event::RoundEnded).unwrap();
        assert_eq!(core.held(a), Some(0));
        let p = round(&mut core, 100.0);
        assert!(
            p.placements.iter().all(|x| !x.restart),
            "kept their workers"
        );
        for x in &p.placements {
            core.handle(Event::Ran {
                job: x.job,
                used_s: 100.0,
                steps_left: 1e9,
            })
            .unwrap();
        }
        core.handle(Event::RoundEnded).unwrap();
        core.handle(Event::PlacementLost { job: a }).unwrap();
        assert_eq!(core.preemptions(a), 1);
        assert_eq!(core.held(a), None);
        let p = round(&mut core, 200.0);
        let pa = p.placements.iter().find(|x| x.job == a).unwrap();
        assert!(pa.restart, "a lost placement restarts");
        assert!(!p.solved);
        for x in &p.placements {
            core.handle(Event::Ran {
                job: x.job,
                used_s: 100.0,
                steps_left: 1e9,
            })
            .unwrap();
        }
        core.handle(Event::RoundEnded).unwrap();
        core.handle(Event::Finished { job: b }).unwrap();
        assert_eq!(core.active(), [a]);
        // 1920 s after the last allocation a new one is due for the changed job set.
        let p = round(&mut core, 2000.0);
        assert!(p.solved);
        assert_eq!(p.placements.len(), 1);
    }

    /// Events out of order are errors, not panics.
    #[test]
    fn events_out_of_order_are_errors() {
        let mut core = RoundCore::new(&[1], &cfg("fifo"));
        assert!(core.handle(Event::Arrived { job: 3 }).is_err());
        assert!(core.handle(Event::RoundEnded).is_err());
        let a = core.add(job(0, 10.0, 1, &[1.0]));
        assert!(
            core.handle(Event::Ran {
                job: a,
                used_s: 1.0,
                steps_left: 1.0
            })
            .is_err()
        );
        core.handle(Event::Arrived { job: a }).unwrap();
        let _ = round(&mut core, 0.0);
        assert!(core.handle(Event::RoundDue { now: 1.0 }).is_err());
        assert!(core.handle(Event::PlacementLost { job: 9 }).is_err());
        assert!(core.handle(Event::Finished { job: 9 }).is_err());
    }

    /// With nothing to place (FIFO's queue waits for a new allocation), the core says
    /// when the next allocation may come.
    #[test]
    fn nothing_placeable_waits_for_the_next_allocation() {
        let mut core = RoundCore::new(&[1], &cfg("max-min-fairness-perf"));
        let a = core.add(job(0, 1e9, 1, &[1.0]));
        core.handle(Event::Arrived { job: a }).unwrap();
        let _ = round(&mut core, 0.0);
        core.handle(Event::Ran {
            job: a,
            used_s: 100.0,
            steps_left: 1e9,
        })
        .unwrap();
        core.handle(Event::RoundEnded).unwrap();
        // A job that cannot run on the only type gets an allocation of 0 and waits.
        let b = core.add(job(1, 1e9, 1, &[0.0]));
        core.handle(Event::Finished { job: a }).unwrap();
        core.handle(Event::Arrived { job: b }).unwrap();
        match core.handle(Event::RoundDue { now: 100.0 }).unwrap() {
            Reaction::Wait { next_allocation_s } => assert_eq!(next_allocation_s, 1920.0),
            r => panic!("expected a wait, got {r:?}"),
        }
    }

    /// Compacting away finished jobs changes no decision: two cores fed the same
    /// events, one compacted after every round, place the same jobs on the same types.
    #[test]
    fn compaction_changes_no_decision() {
        for policy in ["max-min-fairness-perf", "fifo", "shortest-job-first-perf"] {
            let mut plain = RoundCore::new(&[2, 3], &cfg(policy));
            let mut comp = RoundCore::new(&[2, 3], &cfg(policy));
            // Job id -> index in each core.
            let (mut ip, mut ic): (Vec<usize>, Vec<Option<usize>>) = (Vec::new(), Vec::new());
            let mut left: Vec<f64> = Vec::new();
            for r in 0..40usize {
                // Two arrivals per round for the first 15 rounds, of varied length.
                if r < 15 {
                    for k in 0..2 {
                        let id = ip.len();
                        let steps = 50.0 + ((id * 37) % 11) as f64 * 40.0;
                        let j = job(id, steps, 1 + (k as u32 % 2), &[1.0, 0.5 + k as f64]);
                        ip.push(plain.add(j.clone()));
                        ic.push(Some(comp.add(j)));
                        left.push(steps);
                        plain.handle(Event::Arrived { job: ip[id] }).unwrap();
                        comp.handle(Event::Arrived {
                            job: ic[id].unwrap(),
                        })
                        .unwrap();
                    }
                }
                let now = r as f64 * 100.0;
                let (pp, pc) = (
                    round_or_empty(&mut plain, now),
                    round_or_empty(&mut comp, now),
                );
                let by_id = |p: &[Placement], idx: &dyn Fn(usize) -> Option<usize>| {
                    let mut v: Vec<(usize, usize)> = (0..left.len())
                        .filter_map(|id| {
                            let i = idx(id)?;
                            p.iter().find(|x| x.job == i).map(|x| (id, x.ty))
                        })
                        .collect();
                    v.sort_unstable();
                    v
                };
                let a = by_id(&pp, &|id| Some(ip[id]));
                let b = by_id(&pc, &|id| ic[id]);
                assert_eq!(a, b, "{policy}, round {r}");
                for &(id, ty) in &a {
                    let rate = if ty == 0 { 1.0 } else { 0.5 + (id % 2) as f64 };
                    let used = (left[id] / rate).min(100.0);
                    left[id] = (left[id] - rate * used).max(0.0);
                    for (core, i) in [(&mut plain, ip[id]), (&mut comp, ic[id].unwrap())] {
                        core.handle(Event::Ran {
                            job: i,
                            used_s: used,
                            steps_left: left[id],
                        })
                        .unwrap();
                    }
                }
                if !pp.is_empty() {
                    plain.handle(Event::RoundEnded).unwrap();
                    comp.handle(Event::RoundEnded).unwrap();
                }
                let map = comp.compact().unwrap();
                for x in ic.iter_mut() {
                    *x = x.and_then(|i| map[i]);
                }
            }
            assert!(
                comp.jobs().len() < plain.jobs().len(),
                "{policy}: nothing was compacted"
            );
        }
    }

    fn round_or_empty(core: &mut RoundCore, now: f64) -> Vec<Placement> {
        if core.active().is_empty() {
            return Vec::new();
        }
        match core.handle(Event::RoundDue { now }).unwrap() {
            Reaction::Round(p) => p.placements,
            _ => Vec::new(),
        }
    }

    /// One job, two idle types, its allocation all on the second (faster) one: Gavel's
    /// single pass puts it on the first type filled; allocated types first puts it where
    /// its allocation is.
    #[test]
    fn allocated_types_first_follows_the_allocation() {
        for (first, want) in [(false, 0usize), (true, 1)] {
            let mut core = RoundCore::new(&[8, 8], &cfg("max-sum-throughput-perf"));
            core.set_allocated_types_first(first);
            let a = core.add(job(0, 1e9, 8, &[1.0, 1.2]));
            core.handle(Event::Arrived { job: a }).unwrap();
            let p = round(&mut core, 0.0);
            assert_eq!(core.allocation(a).unwrap()[1], 1.0);
            assert_eq!(p.placements[0].ty, want, "allocated first: {first}");
        }
    }

    /// Topology-aware spreading: a unit no node holds whole goes in the largest equal
    /// power-of-two pieces the free nodes hold when that gives it a larger smallest share
    /// (rounded down to a power of two) than the most free nodes first; kept units stay
    /// where they were.
    #[test]
    fn a_spread_unit_takes_the_largest_equal_pieces() {
        let none: &[usize] = &[];
        let (k0, k1, k2) = ([0usize], [1usize], [2usize]);
        let unit = |job, workers, keep| NodeUnit {
            job,
            ty: 0,
            workers,
            keep,
        };
        // Nodes of 8 with 7, 7 and 2 free once the kept units are placed.
        let units = [
            unit(0, 1, &k0[..]),
            unit(1, 1, &k1[..]),
            unit(2, 6, &k2[..]),
            unit(3, 8, none),
        ];
        let got = place_on_nodes(&units, &[24], &[8]);
        assert_eq!(got[0], (None, false, 1));
        assert_eq!(got[2], (None, false, 6));
        assert_eq!(got[3], (Some(vec![0, 1]), true, 4));
        // A 12-worker unit on 8 + 4 free (pieces of 4); a 6-worker one on 3 + 3 + 2 free
        // as 3 + 3 (pieces of 2 would give no larger share, on one node more).
        let units = [unit(0, 4, &k1[..]), unit(1, 12, none)];
        assert_eq!(
            place_on_nodes(&units, &[16], &[8])[1],
            (Some(vec![0, 1]), false, 4)
        );
        let units = [
            unit(0, 5, &k0[..]),
            unit(1, 5, &k1[..]),
            unit(2, 6, &k2[..]),
            unit(3, 6, none),
        ];
        assert_eq!(
            place_on_nodes(&units, &[24], &[8])[3],
            (Some(vec![0, 1]), true, 3)
        );
        // With equal pieces impossible (5 free as 3 + 2 for a 5-worker unit) it falls back
        // to the most free nodes first.
        let units = [unit(0, 5, &k0[..]), unit(1, 6, &k1[..]), unit(2, 5, none)];
        assert_eq!(
            place_on_nodes(&units, &[16], &[8])[2],
            (Some(vec![0, 1]), true, 2)
        );
    }
}
