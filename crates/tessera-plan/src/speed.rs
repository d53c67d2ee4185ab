//! "How fast does job J run on N chips of type T": the per-chip-type speeds that the
//! scheduler's policies need, from the training planner, cached per (model, chips).
//!
//! Used by `simulate --jobs` and by the live scheduler: both ask for a job's tokens/s on
//! every chip type of the cluster, and a fleet's jobs repeat the same few (model, chip
//! count) pairs, so each pair is searched once.

use crate::launch::TrainFramework;
use crate::mixed::{MixedJob, MixedPlan, MixedPool, data_parallel, pipeline};
use crate::train::{SearchOptions, search};
use std::collections::BTreeMap;
use tessera_core::chip::Chip;
use tessera_core::fleet::PoolLink;
use tessera_core::model::ModelArch;
use tessera_perf::Hardware;
use tessera_perf::calib::{Efficiency, Family, Stack};
use tessera_perf::train::{TrainJob, TrainPrecision};

/// The job every speed is measured on: bf16, 4,096-token sequences, 1,024 sequences per
/// step (4M tokens), as docs/scheduler.md states.
pub const SPEED_JOB: TrainJob = TrainJob {
    seq_len: 4096,
    global_batch: 1024,
    precision: TrainPrecision::Bf16,
    dropout: false,
    flash_attention: true,
    grad_reduce: tessera_perf::train::GradReduce::Fp32,
};

#[derive(Debug, Clone)]
struct ChipType {
    hw: Hardware,
    eff: Efficiency,
    opts: SearchOptions,
}

/// Per-chip-type training speeds with a cache. The types are fixed at construction, in
/// the order the caller's cluster lists them.
#[derive(Debug, Clone)]
pub struct SpeedTable {
    types: Vec<ChipType>,
    cache: BTreeMap<(String, u32), Vec<f64>>,
    /// Keyed by (model id, chips, with split speeds).
    gangs: BTreeMap<(String, u32, bool), Vec<Gang>>,
    pieces: BTreeMap<(String, u32), Vec<PieceSpeeds>>,
}

/// A smallest share of chips per node and the job's tokens/s per type at it
/// ([`SpeedTable::piece_speeds`]).
pub type PieceSpeeds = (u32, Vec<f64>);

/// Another way to run a job than its own size on one type: a gang across two chip types
/// (the chips of each type its mixed plan uses, [`plan_gang`]) or another size on one
/// type ([`SpeedTable::shapes`]), with its tokens/s.
#[derive(Debug, Clone, PartialEq)]
pub struct Gang {
    /// (type index, chips): two entries for a gang across types, one for a shape.
    pub uses: Vec<(usize, u32)>,
    pub tokens_per_s: f64,
    /// "data-parallel" or "pipeline" (across types), "elastic" (another size).
    pub form: &'static str,
    /// Per part of `uses`, its tokens/s when that part's chips are split over nodes
    /// whose fewest share is the piece (the other parts on whole domains), ascending by
    /// piece ([`SpeedTable::gangs_on_nodes`]); empty where not searched.
    pub pieces: Vec<Vec<(u32, f64)>>,
}

/// The splits of a job's chips over two types that [`SpeedTable::gangs`] tries: a
/// quarter, half and three quarters on the first type, in whole nodes of 8 chips when
/// the job has at least 16.
pub fn gang_splits(chips: u32) -> Vec<(u32, u32)> {
    let unit = if chips >= 16 && chips.is_multiple_of(8) {
        8
    } else {
        1
    };
    let mut out: Vec<(u32, u32)> = [1u32, 2, 3]
        .iter()
        .map(|&q| {
            let a = (chips * q / 4) / unit * unit;
            (a, chips - a)
        })
        .filter(|&(a, b)| a > 0 && b > 0)
        .collect();
    out.dedup();
    out
}

impl SpeedTable {
    /// One entry per chip type; the error names the type whose catalog figures are
    /// missing and which figures.
    pub fn new(chips: &[&Chip]) -> Result<SpeedTable, (String, Vec<&'static str>)> {
        let types = chips
            .iter()
            .map(|chip| {
                let hw = Hardware::from_chip(chip).map_err(|m| (chip.id.clone(), m))?;
                Ok(ChipType {
                    hw,
                    eff: Efficiency::for_family(
                        Family::of(chip),
                        Stack::default_for(chip),
                        SPEED_JOB.precision,
                    ),
                    // Only what the vendor's framework runs.
                    opts: SearchOptions::for_framework(TrainFramework::default_for(&chip.vendor)),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(SpeedTable {
            types,
            cache: BTreeMap::new(),
            gangs: BTreeMap::new(),
            pieces: BTreeMap::new(),
        })
    }

    /// USD per chip-hour of each type (price over 4 years plus energy), where every type
    /// has a price.
    pub fn prices(&self) -> Option<Vec<f64>> {
        self.types
            .iter()
            .map(|t| crate::serve::chip_hour_usd(&t.hw, 4.0, 0.10))
            .collect()
    }

    /// Tokens/s of the best layout of `model` on `chips` chips of each type (0 where no
    /// layout fits), searched once per (model id, chips).
    pub fn speeds(&mut self, model: &ModelArch, chips: u32) -> &[f64] {
        let types = &self.types;
        self.cache
            .entry((model.id.clone(), chips))
            .or_insert_with(|| {
                types
                    .iter()
                    .map(|t| best_tokens_per_s(model, &t.hw, t, chips))
                    .collect()
            })
    }

    /// The gangs across two types that `model` on `chips` chips can run as, for every two
    /// types `link` joins (it gets the two types' indices): each split of
    /// [`gang_splits`], planned by [`plan_gang`] on the job every speed is measured on
    /// ([`SPEED_JOB`]). Searched once per (model id, chips): `link` must answer alike on
    /// every call. Their `pieces` are empty ([`SpeedTable::gangs_on_nodes`] has them).
    pub fn gangs(
        &mut self,
        model: &ModelArch,
        chips: u32,
        link: impl Fn(usize, usize) -> Option<PoolLink>,
    ) -> &[Gang] {
        self.gangs_cached(model, chips, &link, false)
    }

    /// [`SpeedTable::gangs`] with each gang's speeds when one of its parts is split over
    /// nodes ([`Gang::pieces`]): for each part and each smallest share `p` = 1, 2, 4, ...
    /// below its chips, the better of the gang replanned with that part's scale-up domain
    /// at most `p` and replanned with every collective of that part on the scale-out
    /// network (no split is slower), never above the gang's speed on whole domains, as
    /// [`SpeedTable::piece_speeds`] does for one type. A replanned gang that would take
    /// more chips of a type than the gang holds does not count. Searched once per
    /// (model id, chips).
    pub fn gangs_on_nodes(
        &mut self,
        model: &ModelArch,
        chips: u32,
        link: impl Fn(usize, usize) -> Option<PoolLink>,
    ) -> &[Gang] {
        self.gangs_cached(model, chips, &link, true)
    }

    fn gangs_cached(
        &mut self,
        model: &ModelArch,
        chips: u32,
        link: &impl Fn(usize, usize) -> Option<PoolLink>,
        split: bool,
    ) -> &[Gang] {
        let key = (model.id.clone(), chips, split);
        if !self.gangs.contains_key(&key) {
            let out = self.plan_gangs(model, chips, link, split);
            self.gangs.insert(key.clone(), out);
        }
        &self.gangs[&key]
    }

    fn plan_gangs(
        &mut self,
        model: &ModelArch,
        chips: u32,
        link: &impl Fn(usize, usize) -> Option<PoolLink>,
        split: bool,
    ) -> Vec<Gang> {
        let mut found = Vec::new();
        let nt = self.types.len();
        for a in 0..nt {
            for b in a + 1..nt {
                let Some(l) = link(a, b) else { continue };
                for (ca, cb) in gang_splits(chips) {
                    let g = GangInputs {
                        uses: [a, b],
                        chips: [ca, cb],
                        alone: [self.speeds(model, ca)[a], self.speeds(model, cb)[b]],
                        ty: [self.types[a].clone(), self.types[b].clone()],
                        link: l.clone(),
                    };
                    if let Some(p) = g.plan(model, &g.ty) {
                        found.push((g, p));
                    }
                }
            }
        }
        // The split speeds replan each gang several times: spread over the cores.
        let pieces: Vec<Vec<Vec<(u32, f64)>>> = if split && !found.is_empty() {
            let workers = std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(found.len());
            let per = found.len().div_ceil(workers);
            std::thread::scope(|sc| {
                let handles: Vec<_> = found
                    .chunks(per)
                    .map(|chunk| {
                        sc.spawn(move || {
                            chunk
                                .iter()
                                .map(|(g, p)| g.split_speeds(model, p))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                    .collect()
            })
        } else {
            Vec::new()
        };
        found
            .into_iter()
            .enumerate()
            .map(|(k, (g, p))| Gang {
                uses: vec![(g.uses[0], p.chips[0]), (g.uses[1], p.chips[1])],
                tokens_per_s: p.plan.tokens_per_s,
                form: p.plan.form,
                pieces: pieces.get(k).cloned().unwrap_or_default(),
            })
            .collect()
    }

    /// The other sizes an elastic scheduler may run `model` at instead of `chips`:
    /// half and twice its chips (at least 1), on each type where a layout fits, each at
    /// its best layout's tokens/s there (one type per shape; `form` "elastic").
    pub fn shapes(&mut self, model: &ModelArch, chips: u32) -> Vec<Gang> {
        let mut out = Vec::new();
        for w in [chips / 2, chips.saturating_mul(2)] {
            if w == 0 || w == chips {
                continue;
            }
            let v = self.speeds(model, w).to_vec();
            for (t, &tps) in v.iter().enumerate() {
                if tps > 0.0 {
                    out.push(Gang {
                        uses: vec![(t, w)],
                        tokens_per_s: tps,
                        form: "elastic",
                        pieces: Vec::new(),
                    });
                }
            }
        }
        out
    }

    /// The job's tokens/s on each type when its `chips` are split over several nodes
    /// (scale-up domains) whose smallest share is `p` chips, for `p` = 1, 2, 4, ... below
    /// `chips`: the better of the best layout whose tensor-parallel groups fit in `p`
    /// chips (the planner with a scale-up domain of at most `p`) and the best layout at
    /// the type's own domain with every collective on the scale-out network (which bounds
    /// any split from below, as no split is slower than all traffic on the network). Each
    /// is at most the job's speed on whole domains. Searched once per (model id, chips).
    pub fn piece_speeds(&mut self, model: &ModelArch, chips: u32) -> &[PieceSpeeds] {
        let key = (model.id.clone(), chips);
        if !self.pieces.contains_key(&key) {
            let best = |hw: &Hardware, t: &ChipType| best_tokens_per_s(model, hw, t, chips);
            let whole = self.speeds(model, chips).to_vec();
            // Every collective on the network: one search per type.
            let network: Vec<f64> = self
                .types
                .iter()
                .map(|t| {
                    if t.hw.scale_out_bw <= 0.0 {
                        return 0.0;
                    }
                    let hw = Hardware {
                        scale_up_bw: t.hw.scale_out_bw.min(t.hw.scale_up_bw),
                        ..t.hw
                    };
                    let mut on_net = t.clone();
                    on_net.eff.scale_up_eff = t.eff.scale_out_eff.min(t.eff.scale_up_eff);
                    best(&hw, &on_net)
                })
                .collect();
            let mut out = Vec::new();
            let mut p = 1u32;
            while p < chips {
                let v: Vec<f64> = self
                    .types
                    .iter()
                    .zip(&network)
                    .zip(&whole)
                    .map(|((t, &net), &w)| {
                        let within = if p >= t.hw.domain {
                            w
                        } else {
                            let hw = Hardware { domain: p, ..t.hw };
                            best(&hw, t)
                        };
                        within.max(net).min(w)
                    })
                    .collect();
                out.push((p, v));
                p = p.saturating_mul(2);
            }
            self.pieces.insert(key.clone(), out);
        }
        &self.pieces[&key]
    }

    /// (model, chips) pairs searched so far.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}

/// Tokens/s of the best layout of `model` on `chips` chips of `hw` with `t`'s
/// efficiency and search options (0 where none fits).
fn best_tokens_per_s(model: &ModelArch, hw: &Hardware, t: &ChipType, chips: u32) -> f64 {
    search(model, hw, &t.eff, &SPEED_JOB, chips as u64, 1, &t.opts)
        .plans
        .first()
        .map_or(0.0, |p| p.estimate.tokens_per_s)
}

/// What [`plan_gang`] plans one of [`SpeedTable::gangs`]'s gangs from: the two types
/// (indices and inputs), the split of the job's chips over them, the job's speed on
/// each part alone, and the link.
struct GangInputs {
    uses: [usize; 2],
    chips: [u32; 2],
    alone: [f64; 2],
    ty: [ChipType; 2],
    link: PoolLink,
}

impl GangInputs {
    fn plan(&self, model: &ModelArch, ty: &[ChipType; 2]) -> Option<GangPlan> {
        let side = |k: usize| GangSide {
            hw: &ty[k].hw,
            eff: &ty[k].eff,
            opts: ty[k].opts,
            chips: self.chips[k],
            alone_tokens_per_s: self.alone[k],
        };
        plan_gang(model, [side(0), side(1)], &self.link, &SPEED_JOB)
    }

    /// Per part of the gang `p`, its speeds with that part split over nodes, as
    /// [`SpeedTable::gangs_on_nodes`] states.
    fn split_speeds(&self, model: &ModelArch, p: &GangPlan) -> Vec<Vec<(u32, f64)>> {
        let whole = p.plan.tokens_per_s;
        // A replanned gang's speed, where it takes no more chips than `p`.
        let speed_of = |ty: &[ChipType; 2]| {
            self.plan(model, ty)
                .filter(|g| g.chips[0] <= p.chips[0] && g.chips[1] <= p.chips[1])
                .map_or(0.0, |g| g.plan.tokens_per_s)
        };
        (0..2)
            .map(|k| {
                let t = &self.ty[k];
                let net = if t.hw.scale_out_bw > 0.0 {
                    let mut on_net = self.ty.clone();
                    on_net[k].hw.scale_up_bw = t.hw.scale_out_bw.min(t.hw.scale_up_bw);
                    on_net[k].eff.scale_up_eff = t.eff.scale_out_eff.min(t.eff.scale_up_eff);
                    speed_of(&on_net)
                } else {
                    0.0
                };
                let mut v = Vec::new();
                let mut s = 1u32;
                while s < p.chips[k] {
                    let within = if s >= t.hw.domain {
                        whole
                    } else {
                        let mut small = self.ty.clone();
                        small[k].hw.domain = s;
                        speed_of(&small)
                    };
                    v.push((s, within.max(net).min(whole)));
                    s = s.saturating_mul(2);
                }
                v
            })
            .collect()
    }
}

/// One side of a gang: a chip type's model inputs, its chips, and the job's speed on
/// them alone (the baseline of the plan's efficiency).
#[derive(Debug, Clone, Copy)]
pub struct GangSide<'a> {
    pub hw: &'a Hardware,
    pub eff: &'a Efficiency,
    pub opts: SearchOptions,
    pub chips: u32,
    pub alone_tokens_per_s: f64,
}

/// A gang's plan: the chips it uses of each side and the mixed plan.
#[derive(Debug, Clone, PartialEq)]
pub struct GangPlan {
    pub chips: [u32; 2],
    pub plan: MixedPlan,
}

/// The mixed plan a scheduler runs a job as across two chip types: the fastest of the
/// mixed planner's forms on these chips that is feasible, uses both sides and can be
/// launched (today FlagScale's heterogeneous pipeline; the data-parallel form has no
/// framework that runs it, [`MixedPlan::cannot_express`]). `None` where there is none.
pub fn plan_gang(
    model: &ModelArch,
    sides: [GangSide<'_>; 2],
    link: &PoolLink,
    job: &TrainJob,
) -> Option<GangPlan> {
    let names = ["0", "1"];
    let pools: Vec<MixedPool> = sides
        .iter()
        .zip(names)
        .map(|(s, name)| MixedPool {
            name,
            chip: name,
            hw: s.hw,
            eff: s.eff,
            chips: s.chips as u64,
            opts: s.opts,
            alone_tokens_per_s: s.alone_tokens_per_s,
        })
        .collect();
    let link = PoolLink {
        a: names[0].into(),
        b: names[1].into(),
        ..link.clone()
    };
    let mj = MixedJob {
        seq_len: job.seq_len,
        global_batch: job.global_batch,
        tolerance_pct: 0,
        precision: job.precision,
    };
    let links = std::slice::from_ref(&link);
    [
        data_parallel(model, &pools, links, &mj),
        pipeline(model, &pools, links, &mj),
    ]
    .into_iter()
    .filter(|p| {
        p.feasible
            && p.launch.is_some()
            && p.tokens_per_s.is_finite()
            && p.tokens_per_s > 0.0
            && p.parts.len() == 2
    })
    .max_by(|x, y| x.tokens_per_s.total_cmp(&y.tokens_per_s))
    .and_then(|p| {
        let used = |name: &str| -> u32 {
            p.parts
                .iter()
                .filter(|q| q.pool == name)
                .map(|q| q.chips as u32)
                .sum()
        };
        let chips = [used(names[0]), used(names[1])];
        (chips[0] > 0 && chips[1] > 0).then_some(GangPlan { chips, plan: p })
    })
}
