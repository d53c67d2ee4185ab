//! Scheduling inputs: jobs of a trace, per-type throughputs, and a cluster of accelerator
//! types. (The policies and the simulator build on these; see issue 5.)

use std::collections::BTreeMap;

/// One job of a trace, in Gavel's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceJob {
    /// Job type: the key into the throughput table, e.g. `ResNet-18 (batch size 64)`.
    pub job_type: String,
    pub command: String,
    /// Steps (iterations) to run.
    pub total_steps: u64,
    /// Workers (accelerators) the job needs at once, all of one type.
    pub scale_factor: u32,
    pub priority_weight: f64,
    /// Deadline in seconds after arrival, if any.
    pub slo_s: Option<f64>,
    pub arrival_s: f64,
    /// Line of the trace file, for reports.
    pub line: usize,
}

/// Key of an isolated-throughput entry: (job type, scale factor).
pub type JobKey = (String, u32);

/// Co-located throughputs on one worker type: ((job, sf), (other, sf)) -> (own steps/s,
/// other's steps/s).
pub type PairThroughputs = BTreeMap<(JobKey, JobKey), (f64, f64)>;

/// Throughput in steps per second of each (job type, scale factor) on each worker type,
/// alone and, where measured, co-located with another job.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Throughputs {
    /// Worker type -> (job type, scale factor) -> steps/s running alone.
    pub isolated: BTreeMap<String, BTreeMap<JobKey, f64>>,
    /// Worker type -> ((job, sf), (other job, sf)) -> (own steps/s, other's steps/s).
    pub pairs: BTreeMap<String, PairThroughputs>,
}

impl Throughputs {
    /// Steps/s of a job alone on a worker type, if measured.
    pub fn isolated(&self, worker: &str, job_type: &str, scale_factor: u32) -> Option<f64> {
        self.isolated
            .get(worker)?
            .get(&(job_type.to_string(), scale_factor))
            .copied()
    }

    /// The worker counts (scale factors) measured for a job type on any worker type,
    /// ascending.
    pub fn scale_factors(&self, job_type: &str) -> Vec<u32> {
        let mut out: Vec<u32> = self
            .isolated
            .values()
            .flat_map(|m| m.keys())
            .filter(|(t, _)| t == job_type)
            .map(|(_, sf)| *sf)
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Worker types, in name order (the `_unconsolidated` variants included).
    pub fn worker_types(&self) -> Vec<&str> {
        self.isolated.keys().map(String::as_str).collect()
    }
}

/// A cluster: accelerators per type, and chips per server.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSpec {
    /// (worker type, count), in the order given.
    pub types: Vec<(String, u32)>,
    pub chips_per_node: u32,
}

impl ClusterSpec {
    pub fn total(&self) -> u64 {
        self.types.iter().map(|(_, n)| *n as u64).sum()
    }
}

/// Jobs of `jobs` with no throughput on any of the cluster's worker types: a simulator
/// cannot run them. Returns their indices.
pub fn jobs_without_throughput(
    jobs: &[TraceJob],
    tput: &Throughputs,
    cluster: &ClusterSpec,
) -> Vec<usize> {
    jobs.iter()
        .enumerate()
        .filter(|(_, j)| {
            !cluster.types.iter().any(|(w, _)| {
                tput.isolated(w, &j.job_type, j.scale_factor)
                    .is_some_and(|t| t > 0.0)
            })
        })
        .map(|(i, _)| i)
        .collect()
}

/// An LLM training job for the simulator: its speed per chip type comes from the
/// training performance model.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmJob {
    pub model: String,
    pub chips: u32,
    pub tokens: f64,
    pub arrival_s: f64,
    pub weight: f64,
    /// Priority tier (higher first).
    pub priority: u32,
    /// Line of its `[[job]]` table.
    pub line: usize,
}
