//! Gavel's real files (tests/data/gavel, copied from the public repository) parse, and
//! the jobs no throughput covers are found, as the shared notes describe.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use tessera_catalog::gavel::{parse_cluster, parse_throughputs, parse_trace};
use tessera_core::sched::jobs_without_throughput;

fn dir() -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "tests", "data", "gavel"]
        .iter()
        .collect()
}

fn read(rel: &str) -> (String, String) {
    let p = dir().join(rel);
    (
        p.display().to_string(),
        std::fs::read_to_string(&p).unwrap(),
    )
}

#[test]
fn physical_cluster_traces() {
    let (p, t) = read("simulation_throughputs.json");
    let tput = parse_throughputs(&p, &t).unwrap();
    assert_eq!(
        tput.worker_types(),
        [
            "k80",
            "k80_unconsolidated",
            "p100",
            "p100_unconsolidated",
            "v100",
            "v100_unconsolidated"
        ]
    );
    // 26 job types, each alone on one V100.
    let single: Vec<_> = tput.isolated["v100"].keys().filter(|k| k.1 == 1).collect();
    assert_eq!(single.len(), 26);
    let cluster = parse_cluster("v100=8,p100=16,k80=24", 1).unwrap();
    for (name, jobs) in [
        ("traces/minimize_makespan.trace", 100),
        ("traces/max_min_fairness.trace", 96),
        ("traces/artifact_evaluation.trace", 15),
    ] {
        let (p, t) = read(name);
        let j = parse_trace(&p, &t).unwrap();
        assert_eq!(j.len(), jobs, "{name}");
        // The physical-cluster traces are fully covered by the throughput table.
        assert!(
            jobs_without_throughput(&j, &tput, &cluster).is_empty(),
            "{name}"
        );
    }
    let (p, t) = read("traces/minimize_makespan.trace");
    assert!(
        parse_trace(&p, &t)
            .unwrap()
            .iter()
            .all(|j| j.arrival_s == 0.0)
    );
}

#[test]
fn msr_traces_and_missing_throughputs() {
    let (p, t) = read("simulation_throughputs.json");
    let tput = parse_throughputs(&p, &t).unwrap();
    let cluster = parse_cluster("v100=300,p100=300,k80=300", 1).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir().join("traces/msr-seed0"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "trace"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 15);
    let (mut jobs, mut missing) = (0, 0);
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let j = parse_trace(&f.display().to_string(), &text).unwrap();
        jobs += j.len();
        missing += jobs_without_throughput(&j, &tput, &cluster).len();
    }
    assert_eq!(jobs, 15_264);
    eprintln!("{missing} of {jobs} msr-seed0 jobs lack a throughput on v100, p100 and k80");
    // The shared notes: about 10% of these jobs have a (type, scale factor) pair the
    // throughput JSON lacks.
    let share = missing as f64 / jobs as f64;
    assert!((0.05..0.15).contains(&share), "{missing} of {jobs}");
}
