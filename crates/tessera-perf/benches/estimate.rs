//! Speed of one training estimate: `cargo bench -p tessera-perf --bench estimate`.
//! Target (issue 3): at most 2 microseconds per estimate on a 2-core machine.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tessera_catalog::Catalog;
use tessera_perf::Hardware;
use tessera_perf::calib::{Efficiency, Family, Stack};
use tessera_perf::train::{Layout, Recompute, TrainJob, TrainPrecision, estimate_train};

fn bench(c: &mut Criterion) {
    let cat = Catalog::builtin().expect("catalog");
    let cases = [
        (
            "llama3.1-405b",
            "nvidia-h100-sxm5-80gb",
            Layout {
                tp: 8,
                pp: 16,
                dp: 128,
                cp: 1,
                ep: 1,
                etp: 8,
                vpp: 1,
                micro_batch: 1,
                sequence_parallel: true,
                zero: 1,
                recompute: Recompute::None,
                uneven_pp: true,
            },
            16384u64,
            2048u32,
            8192u32,
        ),
        (
            "deepseek-v3",
            "nvidia-gb200",
            Layout {
                tp: 1,
                pp: 4,
                dp: 64,
                cp: 1,
                ep: 64,
                etp: 1,
                vpp: 4,
                micro_batch: 1,
                sequence_parallel: false,
                zero: 1,
                recompute: Recompute::None,
                uneven_pp: true,
            },
            256,
            4096,
            4096,
        ),
        (
            "llama2-70b",
            "huawei-ascend-910b2",
            Layout {
                tp: 8,
                pp: 4,
                dp: 1,
                cp: 1,
                ep: 1,
                etp: 8,
                vpp: 4,
                micro_batch: 1,
                sequence_parallel: true,
                zero: 0,
                recompute: Recompute::Selective,
                uneven_pp: false,
            },
            32,
            1024,
            4096,
        ),
    ];
    for (model, chip, layout, chips, gb, seq) in cases {
        let m = cat.model(model).expect("model");
        let ch = cat.chip(chip).expect("chip");
        let hw = Hardware::from_chip(ch).expect("hardware");
        let eff = Efficiency::for_family(Family::of(ch), Stack::default_for(ch));
        let job = TrainJob {
            seq_len: seq,
            global_batch: gb,
            precision: TrainPrecision::Bf16,
            dropout: false,
            flash_attention: true,
        };
        c.bench_function(&format!("estimate_train/{model}"), |b| {
            b.iter(|| {
                estimate_train(
                    black_box(&m),
                    black_box(&hw),
                    black_box(&eff),
                    black_box(&job),
                    black_box(&layout),
                    black_box(chips),
                )
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
