//! What-if replays of LLM training jobs: a job file's jobs as the simulator's jobs, each
//! with its tokens/s on every chip type from the training planner ([`SpeedTable`]) and,
//! with a link, its gangs across two types; with `elastic`, its other sizes. Shared by
//! `tessera simulate --jobs` and the server's `POST /api/v1/simulate`.

use crate::speed::{Gang, SpeedTable};
use std::collections::BTreeMap;
use tessera_core::fleet::PoolLink;
use tessera_core::model::ModelArch;
use tessera_core::sched::LlmJob;
use tessera_sched::MixedUse;
use tessera_sched::sim::SimJob;

/// The simulator's jobs of a job file.
#[derive(Debug, Clone, Default)]
pub struct LlmSimJobs {
    pub jobs: Vec<SimJob>,
    /// Jobs no layout fits on any type, nor any gang or size: (line, model, chips).
    pub missing: Vec<(usize, String, u32)>,
}

/// The file's jobs, numbered by their place in the file. `models` holds every model the
/// file names (the caller resolves them in its catalog, so that an unknown one is
/// reported against the file's line).
pub fn llm_sim_jobs(
    table: &mut SpeedTable,
    list: &[LlmJob],
    models: &BTreeMap<String, ModelArch>,
    link: Option<&PoolLink>,
    elastic: bool,
) -> LlmSimJobs {
    let mut out = LlmSimJobs::default();
    for (i, j) in list.iter().enumerate() {
        let Some(model) = models.get(&j.model) else {
            out.missing.push((j.line, j.model.clone(), j.chips));
            continue;
        };
        let throughput = table.speeds(model, j.chips).to_vec();
        let mut ways: Vec<Gang> = match link {
            Some(l) => table.gangs(model, j.chips, |_, _| Some(l.clone())).to_vec(),
            None => Vec::new(),
        };
        if elastic {
            ways.extend(table.shapes(model, j.chips));
        }
        let mixed: Vec<MixedUse> = ways
            .into_iter()
            .map(|g| MixedUse {
                uses: g.uses,
                throughput: g.tokens_per_s,
            })
            .collect();
        if throughput.iter().all(|&t| t <= 0.0) && mixed.is_empty() {
            out.missing.push((j.line, j.model.clone(), j.chips));
            continue;
        }
        out.jobs.push(SimJob {
            id: i,
            arrival_s: j.arrival_s,
            total_steps: j.tokens,
            scale_factor: j.chips,
            weight: j.weight,
            priority: j.priority,
            kind: None,
            throughput,
            throughput_spread: None,
            mixed,
        });
    }
    out
}
