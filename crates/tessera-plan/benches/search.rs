//! Speed of the full training search: `cargo bench -p tessera-plan --bench search`.
//! Target (issue 6): Llama 3.1 405B on 16,384 H100 in at most 1 second.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tessera_catalog::Catalog;
use tessera_perf::Hardware;
use tessera_perf::calib::{Efficiency, Family, Stack};
use tessera_perf::train::{TrainJob, TrainPrecision};
use tessera_plan::train::{SearchOptions, search, search_exhaustive};

fn bench(c: &mut Criterion) {
    let cat = Catalog::builtin().expect("catalog");
    let m = cat.model("llama3.1-405b").expect("model");
    let chip = cat.chip("nvidia-h100-sxm5-80gb").expect("chip");
    let hw = Hardware::from_chip(chip).expect("hw");
    let eff = Efficiency::for_family(Family::of(chip), Stack::MegatronCore, TrainPrecision::Bf16);
    let job = TrainJob {
        seq_len: 8192,
        global_batch: 2048,
        precision: TrainPrecision::Bf16,
        dropout: false,
        flash_attention: true,
        grad_reduce: Default::default(),
    };
    let o = SearchOptions::ALL;
    let r = search(&m, &hw, &eff, &job, 16384, 10, &o);
    let x = search_exhaustive(&m, &hw, &eff, &job, 16384, 10, &o);
    eprintln!(
        "405B on 16,384 H100: pruned search evaluates {} layouts ({} pruned); exhaustive {}",
        r.evaluated, r.pruned, x.evaluated
    );
    let mut g = c.benchmark_group("plan_train");
    g.sample_size(20);
    g.bench_function("llama3.1-405b/16384xH100/pruned", |b| {
        b.iter(|| {
            search(
                black_box(&m),
                black_box(&hw),
                black_box(&eff),
                black_box(&job),
                16384,
                10,
                &o,
            )
        })
    });
    g.bench_function("llama3.1-405b/16384xH100/exhaustive", |b| {
        b.iter(|| {
            search_exhaustive(
                black_box(&m),
                black_box(&hw),
                black_box(&eff),
                black_box(&job),
                16384,
                10,
                &o,
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
