//! `tessera simulate --format json`: the replay's inputs, its summary and each job's
//! outcome (docs/json-output.md). Its own type, so that a change of the simulator's
//! result struct does not change the contract.

use serde::Serialize;
use tessera_sched::sim::SimResult;

#[derive(Debug, Clone, Serialize)]
pub struct SimulateV1 {
    pub schema_version: u32,
    pub trace: String,
    pub cluster: Vec<(String, u32)>,
    pub policy: String,
    pub round_s: f64,
    /// The least seconds between two allocations the replay used (`--realloc-s`, or the
    /// policy's default).
    pub realloc_s: f64,
    pub jobs_in_trace: usize,
    pub skipped_missing_throughput: usize,
    pub window: Option<(usize, usize)>,
    /// Over the window's finished jobs only.
    pub window_avg_jct_s: Option<f64>,
    pub window_jobs: Option<usize>,
    pub window_finished: Option<usize>,
    pub wall_time_s: f64,
    /// One line per unschedulable job (same order as `unschedulable`).
    pub unschedulable_reasons: Vec<String>,
    pub makespan_s: f64,
    pub avg_jct_s: f64,
    pub median_jct_s: f64,
    pub p99_jct_s: f64,
    pub utilization: Vec<f64>,
    pub rounds: u64,
    pub allocations_solved: u64,
    pub preemptions: u64,
    pub spread_placements: u64,
    /// Rounds a job ran as one gang across types (`simulate --link`).
    pub across_placements: u64,
    /// Rounds a job ran at another size than its own (`simulate --elastic`).
    pub resized_placements: u64,
    pub cost_usd: Option<f64>,
    pub ftf_rho_max: f64,
    pub ftf_rho_mean: f64,
    pub unschedulable: Vec<usize>,
    pub arrivals_exhausted: bool,
    pub jobs_arrived: usize,
    pub jobs: Vec<SimJobV1>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimJobV1 {
    pub id: usize,
    pub arrival_s: f64,
    pub finish_s: Option<f64>,
    pub jct_s: Option<f64>,
    pub preemptions: u32,
    pub ftf_rho: Option<f64>,
}

/// What the replay was run on, besides its result.
#[derive(Debug, Clone)]
pub struct SimulateInputs {
    pub trace: String,
    pub cluster: Vec<(String, u32)>,
    pub round_s: f64,
    pub realloc_s: f64,
    pub jobs_in_trace: usize,
    pub skipped_missing_throughput: usize,
    pub window: Option<(usize, usize)>,
    pub window_avg_jct_s: Option<f64>,
    pub window_jobs: Option<usize>,
    pub window_finished: Option<usize>,
    pub wall_time_s: f64,
    pub unschedulable_reasons: Vec<String>,
}

impl SimulateV1 {
    pub fn new(i: SimulateInputs, r: &SimResult) -> SimulateV1 {
        SimulateV1 {
            schema_version: crate::SCHEMA_VERSION,
            trace: i.trace,
            cluster: i.cluster,
            policy: r.policy.to_string(),
            round_s: i.round_s,
            realloc_s: i.realloc_s,
            jobs_in_trace: i.jobs_in_trace,
            skipped_missing_throughput: i.skipped_missing_throughput,
            window: i.window,
            window_avg_jct_s: i.window_avg_jct_s,
            window_jobs: i.window_jobs,
            window_finished: i.window_finished,
            wall_time_s: i.wall_time_s,
            unschedulable_reasons: i.unschedulable_reasons,
            makespan_s: r.makespan_s,
            avg_jct_s: r.avg_jct_s,
            median_jct_s: r.median_jct_s,
            p99_jct_s: r.p99_jct_s,
            utilization: r.utilization.clone(),
            rounds: r.rounds,
            allocations_solved: r.allocations_solved,
            preemptions: r.preemptions,
            spread_placements: r.spread_placements,
            across_placements: r.across_placements,
            resized_placements: r.resized_placements,
            cost_usd: r.cost_usd,
            ftf_rho_max: r.ftf_rho_max,
            ftf_rho_mean: r.ftf_rho_mean,
            unschedulable: r.unschedulable.clone(),
            arrivals_exhausted: r.arrivals_exhausted,
            jobs_arrived: r.jobs_arrived,
            jobs: r
                .jobs
                .iter()
                .map(|j| SimJobV1 {
                    id: j.id,
                    arrival_s: j.arrival_s,
                    finish_s: j.finish_s,
                    jct_s: j.jct_s,
                    preemptions: j.preemptions,
                    ftf_rho: j.ftf_rho,
                })
                .collect(),
        }
    }
}

/// The most points of a what-if run's utilization timeline.
pub const TIMELINE_POINTS: usize = 400;

/// `POST /api/v1/simulate`: one replay per policy of the same jobs on the same cluster.
#[derive(Debug, Clone, Serialize)]
pub struct WhatIfV1 {
    pub schema_version: u32,
    pub cluster: Vec<(String, u32)>,
    pub runs: Vec<WhatIfRunV1>,
}

/// One policy's replay: the summary and jobs of `tessera simulate --format json`, and the
/// busy fraction of each type over time.
#[derive(Debug, Clone, Serialize)]
pub struct WhatIfRunV1 {
    pub result: SimulateV1,
    /// At most [`TIMELINE_POINTS`] points: rounds merged into equal spans of time, each
    /// point the length-weighted mean over its rounds.
    pub timeline: Vec<UtilPointV1>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UtilPointV1 {
    /// Start of the span, seconds since the replay began.
    pub t_s: f64,
    /// Busy fraction of each cluster type (0 to 1), in the cluster's order.
    pub utilization: Vec<f64>,
}

/// The simulator's per-round timeline merged into at most `points` spans.
pub fn timeline_points(timeline: &[(f64, f64, Vec<f64>)], points: usize) -> Vec<UtilPointV1> {
    let (Some(first), Some(last)) = (timeline.first(), timeline.last()) else {
        return Vec::new();
    };
    let start = first.0;
    let end = last.0 + last.1;
    let nt = first.2.len();
    let points = points.max(1);
    let span = ((end - start) / points as f64).max(f64::MIN_POSITIVE);
    let mut busy = vec![vec![0.0; nt]; points];
    let mut len = vec![0.0; points];
    for (t, l, frac) in timeline {
        let k = (((t - start) / span) as usize).min(points - 1);
        len[k] += l;
        for (b, f) in busy[k].iter_mut().zip(frac) {
            *b += f * l;
        }
    }
    (0..points)
        .filter(|&k| len[k] > 0.0)
        .map(|k| UtilPointV1 {
            t_s: k as f64 * span,
            utilization: busy[k].iter().map(|b| b / len[k]).collect(),
        })
        .collect()
}

#[cfg(test)]
mod whatif_tests {
    use super::*;

    #[test]
    fn timelines_merge_into_length_weighted_spans() {
        // Two rounds in the first half (busy 1.0 for 10 s, 0.0 for 30 s), one in the second.
        let t = vec![
            (0.0, 10.0, vec![1.0]),
            (10.0, 30.0, vec![0.0]),
            (40.0, 40.0, vec![0.5]),
        ];
        let p = timeline_points(&t, 2);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].t_s, 0.0);
        assert!((p[0].utilization[0] - 0.25).abs() < 1e-12);
        assert_eq!(p[1].t_s, 40.0);
        assert!((p[1].utilization[0] - 0.5).abs() < 1e-12);
        // Fewer rounds than points: one point per round.
        assert_eq!(timeline_points(&t, 400).len(), 3);
        assert!(timeline_points(&[], 10).is_empty());
    }
}
