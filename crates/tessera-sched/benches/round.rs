//! One scheduling round of the live scheduler's size: `cargo bench -p tessera-sched
//! --bench round`. 10,000 queued jobs on 100,000 accelerators in 16 pools (6,250 each,
//! nodes of 8); each job accepts the pools of 1 to 4 chip types and asks for 1 to 64
//! accelerators, like batch jobs on the live server (speed 1 where a job may run).
//! "first round" includes the allocation (the LP over the jobs' distinct rows); "next
//! round" is a round with the allocation in place (placement only).

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tessera_sched::round::{Event, Reaction, RoundCore};
use tessera_sched::sim::{Policy, SimConfig, SimJob};

const POOLS: usize = 16;

fn core(policy: &str) -> RoundCore {
    let cfg = SimConfig {
        policy: Policy::parse(policy).expect("policy"),
        round_s: 60.0,
        restart_s: 0.0,
        seed: 1,
        chips_per_node: Some(vec![8; POOLS]),
        prices: None,
        stop_after: None,
        colocation: None,
        solver: tessera_sched::Solver::Simplex,
        realloc_s: None,
        gavel_compat: None,
    };
    let mut c = RoundCore::new(&[6250; POOLS], &cfg);
    c.set_min_reallocation_s(60.0);
    let mut s = 99u64;
    let mut next = |m: u64| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 33) % m
    };
    for id in 0..10_000usize {
        let first = next(POOLS as u64) as usize;
        let span = 1 + next(4) as usize;
        let tput: Vec<f64> = (0..POOLS)
            .map(|p| {
                if (p + POOLS - first) % POOLS < span {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let i = c.add(SimJob {
            id,
            arrival_s: 0.0,
            total_steps: 1e15,
            scale_factor: [1u32, 2, 4, 8, 16, 32, 64][next(7) as usize],
            weight: 1.0,
            priority: 0,
            kind: None,
            throughput: tput,
            throughput_spread: None,
            throughput_pieces: Vec::new(),
            mixed: Vec::new(),
        });
        c.handle(Event::Arrived { job: i }).expect("arrive");
    }
    c
}

/// One round: the core's decision; returns the placements (job indices).
fn run_round(c: &mut RoundCore, now: f64) -> Vec<usize> {
    match c.handle(Event::RoundDue { now }).expect("round") {
        Reaction::Round(p) => p.placements.iter().map(|x| x.job).collect(),
        _ => Vec::new(),
    }
}

/// Reports every placed job as having run the round, and ends it.
fn end_round(c: &mut RoundCore, placed: &[usize]) {
    for &job in placed {
        c.handle(Event::Ran {
            job,
            used_s: 60.0,
            steps_left: 1e15,
        })
        .expect("ran");
    }
    c.handle(Event::RoundEnded).expect("end");
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("round-10k-jobs-100k-chips-16-pools");
    g.sample_size(10);
    for policy in [
        "max-min-fairness-perf",
        "fifo-perf",
        "shortest-job-first-perf",
    ] {
        let base = core(policy);
        g.bench_function(format!("{policy}/first round"), |b| {
            b.iter_batched(
                || base.clone(),
                |mut c| black_box(run_round(&mut c, 0.0)),
                BatchSize::LargeInput,
            )
        });
        // A core one round in, its allocation solved: the next round only places.
        let mut warm = base.clone();
        let placed = run_round(&mut warm, 0.0);
        assert!(
            !placed.is_empty(),
            "{policy}: the first round placed nothing"
        );
        end_round(&mut warm, &placed);
        g.bench_function(format!("{policy}/next round"), |b| {
            b.iter_batched(
                || warm.clone(),
                |mut c| black_box(run_round(&mut c, 60.0)),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
