//! Utilization of each pool over time, for the dashboard's chart: a sample of every
//! pool's chips (on nodes that are up) and chips in use after a scheduling tick, at most
//! one per [`SAMPLE_EVERY_S`], the last [`KEEP`] kept in memory (8 hours). Samples
//! start when the server starts; the durable record of what ran where is the store's
//! attempts.

use crate::live::Snapshot;
use serde::Serialize;
use std::collections::VecDeque;

/// Least seconds between two samples.
pub const SAMPLE_EVERY_S: f64 = 10.0;
/// Samples kept: 8 hours at one per 10 s.
pub const KEEP: usize = 2880;

/// One sample: when, and per pool (in the configuration's order) chips up and in use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub t: f64,
    pub chips: Vec<u32>,
    pub used: Vec<u32>,
}

#[derive(Debug, Clone, Default)]
pub struct PoolHistory {
    pools: Vec<String>,
    samples: VecDeque<Sample>,
}

impl PoolHistory {
    /// Records the snapshot's pools at `now`, unless the last sample is younger than
    /// [`SAMPLE_EVERY_S`]; a change of the pools' names starts a new history.
    pub fn record(&mut self, now: f64, snap: &Snapshot) {
        let names = snap.pools.iter().map(|p| p.name.as_str());
        if !self.pools.iter().map(String::as_str).eq(names) {
            self.pools = snap.pools.iter().map(|p| p.name.clone()).collect();
            self.samples.clear();
        }
        if self
            .samples
            .back()
            .is_some_and(|s| now - s.t < SAMPLE_EVERY_S)
        {
            return;
        }
        if self.samples.len() == KEEP {
            self.samples.pop_front();
        }
        self.samples.push_back(Sample {
            t: now,
            chips: snap.pools.iter().map(|p| p.chips).collect(),
            used: snap.pools.iter().map(|p| p.chips_used).collect(),
        });
    }

    pub fn pools(&self) -> &[String] {
        &self.pools
    }

    /// Samples at or after `since`, oldest first.
    pub fn since(&self, since: f64) -> Vec<Sample> {
        self.samples
            .iter()
            .filter(|s| s.t >= since)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::live::PoolStatus;

    fn snap(names: &[&str], used: u32) -> Snapshot {
        Snapshot {
            pools: names
                .iter()
                .map(|n| PoolStatus {
                    name: n.to_string(),
                    chips: 16,
                    chips_used: used,
                    ..PoolStatus::default()
                })
                .collect(),
            ..Snapshot::default()
        }
    }

    #[test]
    fn samples_are_spaced_bounded_and_reset_when_the_pools_change() {
        let mut h = PoolHistory::default();
        h.record(0.0, &snap(&["a", "b"], 4));
        h.record(5.0, &snap(&["a", "b"], 8)); // too soon: dropped
        h.record(10.0, &snap(&["a", "b"], 12));
        let s = h.since(0.0);
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].used, vec![12, 12]);
        assert_eq!(h.since(1.0).len(), 1);
        for i in 0..(KEEP + 10) {
            h.record(20.0 + 10.0 * i as f64, &snap(&["a", "b"], 1));
        }
        assert_eq!(h.since(0.0).len(), KEEP);
        h.record(1e9, &snap(&["a"], 3));
        assert_eq!(h.pools(), ["a".to_string()]);
        assert_eq!(h.since(0.0).len(), 1);
    }
}
