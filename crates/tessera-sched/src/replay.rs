//! Replaying a workload: a fixed job list, or a generated stream that grows until a
//! window of its jobs has finished (Gavel's `jobs_to_complete` measurement), and the
//! window's statistics. The use case behind `tessera simulate`, and the server's
//! what-if runs.

use crate::PolicyError;
use crate::sim::{SimConfig, SimJob, SimResult, simulate};
use crate::workload::{JobType, poisson_jobs};

/// A generated stream is extended to at most this many times the window's last job
/// index while waiting for the window to finish (Gavel's Figure 8 point needs about
/// 2.8 times).
pub const STREAM_LIMIT: usize = 8;

/// A Poisson stream of Gavel-style jobs that can be extended: the generator is
/// prefix-stable (the same seed gives the same first jobs).
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub types: Vec<JobType>,
    /// Index of the reference type whose throughput sets each job's length.
    pub reference: usize,
    /// Mean gap between arrivals, seconds.
    pub mean_gap_s: f64,
    pub seed: u64,
}

impl Stream {
    /// The first `n` jobs of the stream.
    pub fn jobs(&self, n: usize) -> Vec<SimJob> {
        poisson_jobs(&self.types, self.reference, n, self.mean_gap_s, self.seed)
    }
}

/// A window of job indices, inclusive (`lo..=hi`).
pub type Window = (usize, usize);

/// The window's jobs: how many there are and finished, and their average JCT over the
/// finished ones (0 when none finished).
#[derive(Debug, Clone, PartialEq)]
pub struct WindowStats {
    pub window: Window,
    pub jobs: usize,
    pub finished: usize,
    pub avg_jct_s: f64,
}

impl WindowStats {
    pub fn of(window: Window, jobs: &[SimJob], r: &SimResult) -> WindowStats {
        let (lo, hi) = window;
        let inside = |id: usize| (lo..=hi).contains(&id);
        let jct: Vec<f64> = r
            .jobs
            .iter()
            .filter(|j| inside(j.id))
            .filter_map(|j| j.jct_s)
            .collect();
        WindowStats {
            window,
            jobs: jobs.iter().filter(|j| inside(j.id)).count(),
            finished: jct.len(),
            avg_jct_s: if jct.is_empty() {
                0.0
            } else {
                jct.iter().sum::<f64>() / jct.len() as f64
            },
        }
    }
}

/// What a replay ran and gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    /// The jobs replayed (for a stream, as many as it grew to).
    pub jobs: Vec<SimJob>,
    pub result: SimResult,
    pub window: Option<WindowStats>,
}

/// Replays `jobs`; with a `stream`, a window stops the replay once its jobs are done,
/// and when every generated job arrived before that, the stream is extended (doubled,
/// up to [`STREAM_LIMIT`] times the window's end) and replayed again: a cluster that
/// cannot keep up with the arrival rate would never finish the window, and then the
/// result says `arrivals_exhausted`. `progress(done, total)` is called as jobs finish.
pub fn replay(
    mut jobs: Vec<SimJob>,
    stream: Option<&Stream>,
    window: Option<Window>,
    capacity: &[u32],
    cfg: &SimConfig,
    mut progress: impl FnMut(usize, usize),
) -> Result<Replay, PolicyError> {
    // A generated stream with a window runs until the window is done; a fixed list is
    // replayed to the end.
    let cfg = SimConfig {
        stop_after: window.filter(|_| stream.is_some()),
        ..cfg.clone()
    };
    let limit = window.map_or(0, |(_, hi)| (hi + 1) * STREAM_LIMIT);
    // A stream shorter than its window could never finish it: start with the window.
    if let (Some(s), Some((_, hi))) = (stream, window)
        && jobs.len() <= hi
    {
        jobs = s.jobs(hi + 1);
    }
    let result = loop {
        let r = simulate(&jobs, capacity, &cfg, &mut progress)?;
        match stream {
            Some(s) if r.arrivals_exhausted && jobs.len() < limit => {
                jobs = s.jobs((jobs.len() * 2).min(limit));
            }
            _ => break r,
        }
    };
    let window = window.map(|w| WindowStats::of(w, &jobs, &result));
    Ok(Replay {
        jobs,
        result,
        window,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Policy;

    fn stream() -> Stream {
        Stream {
            types: vec![JobType {
                name: "a".into(),
                throughput: vec![1.0, 2.0],
                shapes: Vec::new(),
            }],
            reference: 0,
            mean_gap_s: 50.0,
            seed: 3,
        }
    }

    fn cfg() -> SimConfig {
        SimConfig {
            policy: Policy::parse("max-min-fairness").expect("a policy"),
            round_s: 360.0,
            restart_s: 0.0,
            seed: 0,
            chips_per_node: None,
            prices: None,
            stop_after: None,
            colocation: None,
            solver: crate::Solver::Simplex,
            realloc_s: None,
            gavel_compat: None,
        }
    }

    #[test]
    fn a_stream_grows_until_its_window_is_done() {
        let s = stream();
        let none = |_: usize, _: usize| {};
        // Jobs of 30 minutes or more arrive about 50 s apart: all four have arrived
        // long before the first four are done, so the stream must grow.
        let r = replay(s.jobs(4), Some(&s), Some((0, 3)), &[4, 4], &cfg(), none).expect("replay");
        assert!(r.jobs.len() > 4, "{} jobs", r.jobs.len());
        assert!(r.jobs.len() <= 4 * STREAM_LIMIT);
        let w = r.window.expect("window stats");
        assert_eq!(w.jobs, 4);
        assert!(
            w.finished == 4 || r.result.arrivals_exhausted,
            "the window finished ({} of 4) or the stream hit its limit",
            w.finished
        );
        // The grown stream starts with the same jobs (prefix-stable).
        assert_eq!(r.jobs[..4], s.jobs(4)[..]);
        // A list shorter than its window starts with the window's jobs.
        let r = replay(s.jobs(2), Some(&s), Some((5, 9)), &[4, 4], &cfg(), none).expect("replay");
        assert!(r.jobs.len() >= 10);
        assert_eq!(r.window.expect("window").jobs, 5);
    }

    #[test]
    fn a_fixed_list_is_replayed_to_the_end() {
        let s = stream();
        let r = replay(s.jobs(6), None, Some((0, 2)), &[4, 4], &cfg(), |_, _| {}).expect("replay");
        assert_eq!(r.jobs.len(), 6);
        assert_eq!(
            r.result.jobs.iter().filter(|j| j.jct_s.is_some()).count(),
            6
        );
        assert_eq!(r.window.expect("window").jobs, 3);
    }
}
