//! Generated workloads: Poisson arrivals of single-worker jobs drawn like Gavel's
//! `generate_job` (the OSDI 2020 paper's continuous-workload experiments). Gavel's own
//! random streams cannot be replayed outside Python, so runs are compared by
//! distribution and by ratios over several seeds.

use crate::MixedUse;
use crate::sim::SimJob;

/// SplitMix64: a small, well-mixed deterministic stream.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5851_f42d_4c95_7f2d)
    }

    /// A stream starting from exactly this internal state.
    pub fn with_state(state: u64) -> Rng {
        Rng(state)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// One job type a generator may draw: its name and steps/s per cluster type.
#[derive(Debug, Clone, PartialEq)]
pub struct JobType {
    pub name: String,
    pub throughput: Vec<f64>,
    /// Other sizes a job of this type may run at (elastic replays: each a one-type
    /// `MixedUse` with the steps/s the throughput table has at that worker count);
    /// empty for fixed-size jobs. Copied into every generated job's `mixed`.
    pub shapes: Vec<MixedUse>,
}

/// `n` jobs with exponential inter-arrival times of mean `mean_interarrival_s` (the
/// first at 0), each of a uniformly drawn type, running 10^x minutes on the reference
/// type with x ~ U[1.5, 3] (80%) or U[3, 4] (20%), as Gavel generates them.
/// `reference` is the index of the reference type (Gavel uses the V100). A job's `kind` is
/// the index of its type in `types`.
pub fn poisson_jobs(
    types: &[JobType],
    reference: usize,
    n: usize,
    mean_interarrival_s: f64,
    seed: u64,
) -> Vec<SimJob> {
    let mut rng = Rng::new(seed);
    // (index in `types`, type): the index is the job's kind.
    let usable: Vec<(usize, &JobType)> = types
        .iter()
        .enumerate()
        .filter(|(_, t)| t.throughput.get(reference).is_some_and(|&v| v > 0.0))
        .collect();
    let mut out = Vec::with_capacity(n);
    let mut at = 0.0f64;
    for id in 0..n {
        if usable.is_empty() {
            break;
        }
        let (type_index, ty) = usable[rng.below(usable.len())];
        let x = if rng.unit() < 0.8 {
            1.5 + 1.5 * rng.unit()
        } else {
            3.0 + rng.unit()
        };
        let minutes = 10f64.powf(x);
        let steps = (ty.throughput[reference] * minutes * 60.0).round().max(1.0);
        out.push(SimJob {
            id,
            arrival_s: at,
            total_steps: steps,
            scale_factor: 1,
            weight: 1.0,
            priority: 0,
            kind: Some(type_index as u32),
            throughput: ty.throughput.clone(),
            throughput_spread: None,
            throughput_pieces: Vec::new(),
            mixed: ty.shapes.clone(),
        });
        if mean_interarrival_s > 0.0 {
            at += -(1.0 - rng.unit()).ln() * mean_interarrival_s;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types() -> Vec<JobType> {
        (0..26)
            .map(|i| JobType {
                name: format!("t{i}"),
                throughput: vec![1.0 + i as f64, 0.5 + i as f64 / 2.0, 0.2],
                shapes: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn arrivals_and_durations_follow_the_distributions() {
        let jobs = poisson_jobs(&types(), 0, 20_000, 642.857, 1);
        assert_eq!(jobs.len(), 20_000);
        // Mean inter-arrival within 3% of 642.857 s.
        let span = jobs.last().map_or(0.0, |j| j.arrival_s);
        let mean = span / (jobs.len() - 1) as f64;
        assert!((mean / 642.857 - 1.0).abs() < 0.03, "{mean}");
        // Durations on the reference type: 10^1.5 to 10^4 minutes, about 20% above 10^3.
        let mins: Vec<f64> = jobs
            .iter()
            .map(|j| j.total_steps / j.throughput[0] / 60.0)
            .collect();
        assert!(mins.iter().all(|&m| (31.0..=10_001.0).contains(&m)));
        let long = mins.iter().filter(|&&m| m > 1000.0).count() as f64 / mins.len() as f64;
        assert!((long - 0.2).abs() < 0.02, "{long}");
        // Deterministic per seed, different across seeds.
        assert_eq!(jobs, poisson_jobs(&types(), 0, 20_000, 642.857, 1));
        assert_ne!(jobs, poisson_jobs(&types(), 0, 20_000, 642.857, 2));
    }

    #[test]
    fn a_types_other_sizes_go_with_each_of_its_jobs() {
        let mut ts = types();
        let shape = MixedUse {
            uses: vec![(1, 2)],
            throughput: 3.0,
            pieces: Vec::new(),
        };
        ts[4].shapes = vec![shape.clone()];
        let jobs = poisson_jobs(&ts, 0, 2_000, 60.0, 5);
        assert!(jobs.iter().any(|j| j.kind == Some(4)));
        for j in &jobs {
            let want: &[MixedUse] = if j.kind == Some(4) {
                std::slice::from_ref(&shape)
            } else {
                &[]
            };
            assert_eq!(j.mixed, want);
        }
        // The draws do not depend on the shapes.
        let plain = poisson_jobs(&types(), 0, 2_000, 60.0, 5);
        assert!(
            jobs.iter()
                .zip(&plain)
                .all(|(a, b)| a.arrival_s == b.arrival_s
                    && a.total_steps == b.total_steps
                    && a.kind == b.kind)
        );
    }
}
