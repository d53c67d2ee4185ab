//! What-if replays: the simulator's jobs from a job file of LLM training jobs (each with
//! its tokens/s on every chip type from the training planner, [`SpeedTable`], and, with a
//! link, its gangs across two types; with `elastic`, its other sizes) or from a Gavel
//! trace and throughput table. Shared by `tessera simulate` and the server's
//! `POST /api/v1/simulate`.

use crate::speed::{Gang, SpeedTable};
use std::collections::BTreeMap;
use tessera_core::fleet::PoolLink;
use tessera_core::model::ModelArch;
use tessera_core::sched::{ClusterSpec, LlmJob, Throughputs, TraceJob};
use tessera_sched::MixedUse;
use tessera_sched::sim::{CoLocation, SimJob};

/// The simulator's jobs of a job file.
#[derive(Debug, Clone, Default)]
pub struct LlmSimJobs {
    pub jobs: Vec<SimJob>,
    /// Jobs no layout fits on any type, nor any gang or size: (line, model, chips).
    pub missing: Vec<(usize, String, u32)>,
}

/// The file's jobs, numbered by their place in the file. `models` holds every model the
/// file names (the caller resolves them in its catalog, so that an unknown one is
/// reported against the file's line). With `nodes` (the replay has node boundaries),
/// each job also gets its speeds when split over nodes ([`SpeedTable::piece_speeds`]),
/// for its own size and for each other size `elastic` gives it.
pub fn llm_sim_jobs(
    table: &mut SpeedTable,
    list: &[LlmJob],
    models: &BTreeMap<String, ModelArch>,
    link: Option<&PoolLink>,
    elastic: bool,
    nodes: bool,
) -> LlmSimJobs {
    let mut out = LlmSimJobs::default();
    for (i, j) in list.iter().enumerate() {
        let Some(model) = models.get(&j.model) else {
            out.missing.push((j.line, j.model.clone(), j.chips));
            continue;
        };
        let throughput = table.speeds(model, j.chips).to_vec();
        let mut ways: Vec<Gang> = match link {
            Some(l) if nodes => table
                .gangs_on_nodes(model, j.chips, |_, _| Some(l.clone()))
                .to_vec(),
            Some(l) => table.gangs(model, j.chips, |_, _| Some(l.clone())).to_vec(),
            None => Vec::new(),
        };
        if elastic {
            ways.extend(table.shapes(model, j.chips));
        }
        // With node boundaries, each way's speeds split over nodes: another size on one
        // type from the planner's split speeds, a gang's from its own replanning.
        let mixed: Vec<MixedUse> = ways
            .into_iter()
            .map(|g| {
                let pieces = match g.uses[..] {
                    [(t, w)] if nodes && w > 1 => vec![
                        table
                            .piece_speeds(model, w)
                            .iter()
                            .map(|(p, v)| (*p, v[t]))
                            .collect(),
                    ],
                    _ => g.pieces,
                };
                MixedUse {
                    uses: g.uses,
                    throughput: g.tokens_per_s,
                    pieces,
                }
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
            throughput_pieces: if nodes && j.chips > 1 {
                table.piece_speeds(model, j.chips).to_vec()
            } else {
                Vec::new()
            },
            mixed,
        });
    }
    out
}

/// The simulator's jobs of a Gavel trace.
#[derive(Debug, Clone, Default)]
pub struct GavelSimJobs {
    pub jobs: Vec<SimJob>,
    /// Jobs with no throughput on any cluster type: (line, job type, scale factor).
    pub missing: Vec<(usize, String, u32)>,
    /// Job kinds, (job type, scale factor), numbered in order of first appearance.
    pub kinds: Vec<(String, u32)>,
    /// Gavel's pair throughputs of the kinds (when asked for: the packed policy).
    pub colocation: Option<CoLocation>,
}

/// A trace's jobs with their steps/s on each cluster type from Gavel's table (and the
/// unconsolidated rates where the table has them). `kinds` seeds the kind numbering (a
/// generated stream's job types); with `elastic`, each job may also run at every other
/// size the table has for its job type ([`gavel_shapes`]); with `pairs`, the kinds'
/// co-located throughputs come too.
pub fn gavel_sim_jobs(
    trace: &[TraceJob],
    tput: &Throughputs,
    cluster: &ClusterSpec,
    mut kinds: Vec<(String, u32)>,
    elastic: bool,
    pairs: bool,
) -> GavelSimJobs {
    let mut out = GavelSimJobs::default();
    let mut shapes_of: BTreeMap<u32, Vec<MixedUse>> = BTreeMap::new();
    for (i, j) in trace.iter().enumerate() {
        let key = (j.job_type.clone(), j.scale_factor);
        let kind = match kinds.iter().position(|k| *k == key) {
            Some(k) => k,
            None => {
                kinds.push(key);
                kinds.len() - 1
            }
        } as u32;
        let throughput: Vec<f64> = cluster
            .types
            .iter()
            .map(|(t, _)| tput.isolated(t, &j.job_type, j.scale_factor).unwrap_or(0.0))
            .collect();
        if throughput.iter().all(|&t| t <= 0.0) {
            out.missing
                .push((j.line, j.job_type.clone(), j.scale_factor));
            continue;
        }
        let spread: Vec<f64> = cluster
            .types
            .iter()
            .map(|(t, _)| {
                tput.isolated(&format!("{t}_unconsolidated"), &j.job_type, j.scale_factor)
                    .unwrap_or(0.0)
            })
            .collect();
        // Every job of a kind has the same other sizes: looked up once per kind.
        let mixed = if elastic {
            shapes_of
                .entry(kind)
                .or_insert_with(|| gavel_shapes(tput, cluster, &j.job_type, j.scale_factor))
                .clone()
        } else {
            Vec::new()
        };
        out.jobs.push(SimJob {
            id: i,
            arrival_s: j.arrival_s,
            total_steps: j.total_steps as f64,
            scale_factor: j.scale_factor,
            weight: j.priority_weight,
            priority: 0,
            kind: Some(kind),
            throughput,
            throughput_spread: spread.iter().any(|&v| v > 0.0).then_some(spread),
            throughput_pieces: Vec::new(),
            mixed,
        });
    }
    // Only the packed policy looks up pairs.
    out.colocation = pairs.then(|| colocation_table(tput, cluster, &kinds));
    out.kinds = kinds;
    out
}

/// A Gavel job type's other sizes for elastic replays: every worker count other than
/// `scale_factor` that Gavel's table has for the job type (1, 2, 4 and 8 in its
/// simulation table), on each cluster type where the table has a speed for it, at that
/// speed.
pub fn gavel_shapes(
    tput: &Throughputs,
    cluster: &ClusterSpec,
    job_type: &str,
    scale_factor: u32,
) -> Vec<MixedUse> {
    let mut out = Vec::new();
    for sf in tput.scale_factors(job_type) {
        if sf == scale_factor {
            continue;
        }
        for (t, (name, _)) in cluster.types.iter().enumerate() {
            if let Some(v) = tput.isolated(name, job_type, sf).filter(|&v| v > 0.0) {
                out.push(MixedUse {
                    uses: vec![(t, sf)],
                    throughput: v,
                    pieces: Vec::new(),
                });
            }
        }
    }
    out
}

/// Gavel's pair throughputs for the given job kinds (`kinds[k]` is kind `k`'s (job
/// type, scale factor)), per cluster type.
fn colocation_table(
    tput: &Throughputs,
    cluster: &ClusterSpec,
    kinds: &[(String, u32)],
) -> CoLocation {
    let index: BTreeMap<&(String, u32), u32> = kinds
        .iter()
        .enumerate()
        .map(|(k, key)| (key, k as u32))
        .collect();
    let mut co = CoLocation::default();
    let nt = cluster.types.len();
    for (t, (name, _)) in cluster.types.iter().enumerate() {
        let Some(pairs) = tput.pairs.get(name) else {
            continue;
        };
        for ((a, b), &rates) in pairs {
            let (Some(&ka), Some(&kb)) = (index.get(a), index.get(b)) else {
                continue;
            };
            // Each measurement appears under both jobs; keep one orientation.
            if ka > kb {
                continue;
            }
            co.pairs
                .entry((ka, kb))
                .or_insert_with(|| vec![(0.0, 0.0); nt])[t] = rates;
        }
    }
    co
}
