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
        let eff =
            Efficiency::for_family(Family::of(ch), Stack::default_for(ch), TrainPrecision::Bf16);
        let job = TrainJob {
            seq_len: seq,
            global_batch: gb,
            precision: TrainPrecision::Bf16,
            dropout: false,
            flash_attention: true,
            grad_reduce: Default::default(),
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

fn bench_serve(c: &mut Criterion) {
    use tessera_perf::calib::{ServeStack, serve_efficiency};
    use tessera_perf::serve::{Load, ServeJob, ServeLayout, ServePrecision, estimate_serve};
    let cat = Catalog::builtin().expect("catalog");
    let cases = [
        (
            "llama3.1-70b",
            "nvidia-h100-sxm5-80gb",
            ServeLayout {
                tp: 2,
                pp: 1,
                ep: 1,
                attn_dp: 1,
                replicas: 4,
            },
            None,
        ),
        (
            "deepseek-v3",
            "nvidia-h200-sxm",
            ServeLayout {
                tp: 1,
                pp: 1,
                ep: 8,
                attn_dp: 8,
                replicas: 1,
            },
            Some(0.05),
        ),
    ];
    for (model, chip, layout, tpot) in cases {
        let m = cat.model(model).expect("model");
        let ch = cat.chip(chip).expect("chip");
        let hw = Hardware::from_chip(ch).expect("hardware");
        let eff = serve_efficiency(Family::of(ch), ServeStack::TensorrtLlm);
        let job = ServeJob {
            input_len: 1000,
            output_len: 1000,
            precision: ServePrecision::Fp8,
            kv_bytes: 1.0,
            load: Load::Offline,
            ttft_slo_s: None,
            tpot_slo_s: tpot,
            disaggregated: false,
            lengths: None,
        };
        let name = if tpot.is_some() {
            format!("estimate_serve/{model}/slo")
        } else {
            format!("estimate_serve/{model}/offline")
        };
        c.bench_function(&name, |b| {
            b.iter(|| {
                estimate_serve(
                    black_box(&m),
                    black_box(&hw),
                    None,
                    black_box(&eff),
                    black_box(&job),
                    black_box(&layout),
                )
            })
        });
        // The loaded case: Poisson arrivals at half the offline capacity, with p50/p99.
        let cap = estimate_serve(&m, &hw, None, &eff, &job, &layout).requests_per_s;
        let loaded = ServeJob {
            load: Load::Rate { per_s: 0.5 * cap },
            ..job
        };
        c.bench_function(&format!("estimate_serve/{model}/rate-p99"), |b| {
            b.iter(|| {
                estimate_serve(
                    black_box(&m),
                    black_box(&hw),
                    None,
                    black_box(&eff),
                    black_box(&loaded),
                    black_box(&layout),
                )
            })
        });
    }
}

criterion_group!(benches, bench, bench_serve);
criterion_main!(benches);
