//! "How fast does job J run on N chips of type T": the per-chip-type speeds that the
//! scheduler's policies need, from the training planner, cached per (model, chips).
//!
//! Used by `simulate --jobs` and by the live scheduler: both ask for a job's tokens/s on
//! every chip type of the cluster, and a fleet's jobs repeat the same few (model, chip
//! count) pairs, so each pair is searched once.

use crate::launch::TrainFramework;
use crate::train::{SearchOptions, search};
use std::collections::BTreeMap;
use tessera_core::chip::Chip;
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

    /// (model, chips) pairs searched so far.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }
}
