//! Speed of the allocation LPs: `cargo bench -p tessera-sched --bench allocation`.
//! Gavel's Figure 8 point solves max-min fairness every round over the active jobs on a
//! 36:36:36 cluster; the jobs here are random, with throughputs spread like Gavel's table.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tessera_sched::{Awareness, JobRow, max_min_fairness};

fn jobs(n: usize) -> Vec<JobRow> {
    let mut s = 12345u64;
    let mut next = |m: u64| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) % m
    };
    (0..n)
        .map(|_| {
            let v100 = 1.0 + next(100) as f64;
            JobRow {
                throughput: vec![
                    v100,
                    v100 / (1.0 + next(30) as f64 / 10.0),
                    v100 / (2.0 + next(80) as f64 / 10.0),
                ],
                scale_factor: 1,
                weight: 1.0,
                mixed: Vec::new(),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let cap = [36u32, 36, 36];
    let mut g = c.benchmark_group("max-min-fairness-perf");
    for n in [50usize, 100, 200] {
        let js = jobs(n);
        g.bench_with_input(BenchmarkId::from_parameter(n), &js, |b, js| {
            b.iter(|| {
                max_min_fairness(
                    black_box(js),
                    &cap,
                    Awareness::Aware,
                    tessera_sched::Solver::Simplex,
                )
                .expect("lp")
            })
        });
    }
    // Gavel-like: 500 active jobs drawn from 26 job types, so the LP works on at most 26
    // classes (identical rows share one set of variables).
    let types = jobs(26);
    let many: Vec<JobRow> = (0..500).map(|i| types[i * 7 % 26].clone()).collect();
    g.bench_with_input(BenchmarkId::new("26-types", 500), &many, |b, js| {
        b.iter(|| {
            max_min_fairness(
                black_box(js),
                &cap,
                Awareness::Aware,
                tessera_sched::Solver::Simplex,
            )
            .expect("lp")
        })
    });
    g.finish();
    // The same LPs with the interior-point method, side by side in one run.
    let mut g = c.benchmark_group("max-min-fairness-perf-interior");
    for n in [50usize, 100, 200] {
        let js = jobs(n);
        g.bench_with_input(BenchmarkId::from_parameter(n), &js, |b, js| {
            b.iter(|| {
                max_min_fairness(
                    black_box(js),
                    &cap,
                    Awareness::Aware,
                    tessera_sched::Solver::Interior,
                )
                .expect("lp")
            })
        });
    }
    g.bench_with_input(BenchmarkId::new("26-types", 500), &many, |b, js| {
        b.iter(|| {
            max_min_fairness(
                black_box(js),
                &cap,
                Awareness::Aware,
                tessera_sched::Solver::Interior,
            )
            .expect("lp")
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
