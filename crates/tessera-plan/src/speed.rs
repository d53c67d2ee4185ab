//! "How fast does job J run on N chips of type T": the per-chip-type speeds that the
//! scheduler's policies need, from the training planner, cached per (model, chips).
//!
//! Used by `simulate --jobs` and by the live scheduler: both ask for a job's tokens/s on
//! every chip type of the cluster, and a fleet's jobs repeat the same few (model, chip
//! count) pairs, so each pair is searched once.

use crate::launch::TrainFramework;
use crate::mixed::{MixedJob, MixedPool, data_parallel, pipeline};
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
};

#[derive(Debug, Clone)]
struct ChipType {
    id: String,
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
    gangs: BTreeMap<(String, u32), Vec<Gang>>,
}

/// One way to run a job as a gang across two chip types: the chips of each type its
/// mixed plan uses and its tokens/s (the faster of the data-parallel and pipeline forms
/// on that split, from [`crate::mixed`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Gang {
    /// (type index, chips), two entries.
    pub uses: Vec<(usize, u32)>,
    pub tokens_per_s: f64,
    /// "data-parallel" or "pipeline".
    pub form: &'static str,
}

/// The splits of a job's chips over two types that [`SpeedTable::gangs`] tries: a
/// quarter, half and three quarters on the first type, in whole nodes of 8 chips when
/// the job has at least 16.
pub fn gang_splits(chips: u32) -> Vec<(u32, u32)> {
    let unit = if chips >= 16 && chips.is_multiple_of(8) { 8 } else { 1 };
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
                    id: chip.id.clone(),
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
                    .map(|t| {
                        search(model, &t.hw, &t.eff, &SPEED_JOB, chips as u64, 1, &t.opts)
                            .plans
                            .first()
                            .map_or(0.0, |p| p.estimate.tokens_per_s)
                    })
                    .collect()
            })
    }

    /// The gangs across two types that `model` on `chips` chips can run as, for every two
    /// types `link` joins (it gets the two types' indices): each split of
    /// [`gang_splits`], planned with both mixed forms on the job every speed is
    /// measured on ([`SPEED_JOB`]); a split is kept where its plan is feasible and uses
    /// both types. Searched once per (model id, chips): `link` must answer alike on
    /// every call.
    pub fn gangs(
        &mut self,
        model: &ModelArch,
        chips: u32,
        link: impl Fn(usize, usize) -> Option<PoolLink>,
    ) -> &[Gang] {
        let key = (model.id.clone(), chips);
        if !self.gangs.contains_key(&key) {
            let mut out = Vec::new();
            let nt = self.types.len();
            for a in 0..nt {
                for b in a + 1..nt {
                    let Some(l) = link(a, b) else { continue };
                    for (ca, cb) in gang_splits(chips) {
                        let alone_a = self.speeds(model, ca)[a];
                        let alone_b = self.speeds(model, cb)[b];
                        if let Some(g) = self.gang(model, (a, ca, alone_a), (b, cb, alone_b), &l) {
                            out.push(g);
                        }
                    }
                }
            }
            self.gangs.insert(key.clone(), out);
        }
        &self.gangs[&key]
    }

    /// One split's best mixed plan, if feasible and over both types.
    fn gang(
        &self,
        model: &ModelArch,
        (a, ca, alone_a): (usize, u32, f64),
        (b, cb, alone_b): (usize, u32, f64),
        l: &PoolLink,
    ) -> Option<Gang> {
        let (ta, tb) = (&self.types[a], &self.types[b]);
        // Pools are named by type index: a cluster may list one chip twice.
        let (na, nb) = (a.to_string(), b.to_string());
        let pools = [
            MixedPool {
                name: &na,
                chip: &ta.id,
                hw: &ta.hw,
                eff: &ta.eff,
                chips: ca as u64,
                opts: ta.opts,
                alone_tokens_per_s: alone_a,
            },
            MixedPool {
                name: &nb,
                chip: &tb.id,
                hw: &tb.hw,
                eff: &tb.eff,
                chips: cb as u64,
                opts: tb.opts,
                alone_tokens_per_s: alone_b,
            },
        ];
        let link = PoolLink {
            a: na.clone(),
            b: nb.clone(),
            ..l.clone()
        };
        let job = MixedJob {
            seq_len: SPEED_JOB.seq_len,
            global_batch: SPEED_JOB.global_batch,
            tolerance_pct: 0,
            precision: SPEED_JOB.precision,
        };
        let links = std::slice::from_ref(&link);
        [
            data_parallel(model, &pools, links, &job),
            pipeline(model, &pools, links, &job),
        ]
        .into_iter()
        .filter(|p| {
            p.feasible
                && p.tokens_per_s.is_finite()
                && p.tokens_per_s > 0.0
                && p.parts.len() == 2
                && p.parts.iter().all(|q| q.chips > 0)
        })
        .max_by(|x, y| x.tokens_per_s.total_cmp(&y.tokens_per_s))
        .map(|p| {
            let used = |id: &str| -> u32 {
                p.parts
                    .iter()
                    .filter(|q| q.pool == id)
                    .map(|q| q.chips as u32)
                    .sum()
            };
            Gang {
                uses: vec![(a, used(&na)), (b, used(&nb))],
                tokens_per_s: p.tokens_per_s,
                form: p.form,
            }
        })
        .filter(|g| g.uses.iter().all(|&(_, c)| c > 0))
    }

    /// (model, chips) pairs searched so far.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}
