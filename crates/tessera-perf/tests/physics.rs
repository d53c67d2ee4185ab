//! Physical bounds of the training model, over random models, chips and layouts.
//!
//! No real run can break these, whatever the efficiency parameters: the state that must
//! exist fits somewhere, no chip computes faster than its peak, and no step is shorter
//! than the bytes it must move over the links it crosses (docs/perf-model.md, "Bounds").

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use tessera_catalog::Catalog;
use tessera_perf::Hardware;
use tessera_perf::calib::{Efficiency, Family, Stack};
use tessera_perf::train::{
    GradReduce, Layout, Recompute, TrainJob, TrainPrecision, estimate_train,
};

const MODELS: [&str; 10] = [
    "llama3-8b",
    "llama3-70b",
    "llama3.1-405b",
    "gpt3-175b",
    "mixtral-8x7b",
    "qwen3-235b-a22b",
    "deepseek-v3",
    "ernie-4.5-300b-a47b",
    "ernie-4.5-21b-a3b",
    "bloom-176b",
];
const CHIPS: [&str; 5] = [
    "nvidia-h100-sxm5-80gb",
    "nvidia-a800-sxm4-80gb",
    "huawei-ascend-910b2",
    "nvidia-gb200",
    "nvidia-h20",
];

/// The plausibility ceiling on MFU, for either precision: no whole training step runs its
/// GEMMs faster than a large GEMM alone, and the best measured large GEMM reaches 78-81%
/// of the dense peak (8192^3 bf16 on an H200, docs/accuracy.md). The best published whole
/// runs are well below it (56.3% bf16 MFU, Korthikanti et al. 2022, 1T GPT on A100).
const MFU_CEILING: f64 = 0.81;

#[derive(Debug, Clone)]
struct Case {
    model: usize,
    chip: usize,
    tp: u32,
    pp: u32,
    dp: u32,
    cp: u32,
    ep_pow: u32,
    vpp: u32,
    mb: u32,
    k: u32,
    zero: u8,
    recompute: Recompute,
    sp: bool,
    fp8: bool,
    seq: u32,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (0..MODELS.len(), 0..CHIPS.len()),
        (
            prop::sample::select(vec![1u32, 2, 4, 8]),
            prop::sample::select(vec![1u32, 2, 4, 8, 16]),
            prop::sample::select(vec![1u32, 2, 4, 8, 16, 32, 64]),
            prop::sample::select(vec![1u32, 2]),
        ),
        (
            0u32..7,
            prop::sample::select(vec![1u32, 2, 3, 4]),
            1u32..3,
            1u32..9,
        ),
        (
            0u8..4,
            prop::sample::select(vec![Recompute::None, Recompute::Selective, Recompute::Full]),
            any::<bool>(),
            any::<bool>(),
            prop::sample::select(vec![2048u32, 4096, 8192]),
        ),
    )
        .prop_map(
            |(
                (model, chip),
                (tp, pp, dp, cp),
                (ep_pow, vpp, mb, k),
                (zero, recompute, sp, fp8, seq),
            )| Case {
                model,
                chip,
                tp,
                pp,
                dp,
                cp,
                ep_pow,
                vpp,
                mb,
                k,
                zero,
                recompute,
                sp,
                fp8,
                seq,
            },
        )
}

/// Ring all-reduce / reduce-scatter time at the fastest link the chip has: a lower bound
/// on the time of the real collective.
fn ring(bytes: f64, n: f64, bw: f64, all_reduce: bool) -> f64 {
    if n <= 1.0 {
        return 0.0;
    }
    (if all_reduce { 2.0 } else { 1.0 }) * (n - 1.0) / n * bytes / bw
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn training_estimates_obey_physical_bounds(c in case()) {
        let cat = Catalog::builtin().unwrap();
        let m = cat.model(MODELS[c.model]).unwrap();
        let chip = cat.chip(CHIPS[c.chip]).unwrap();
        let Ok(hw) = Hardware::from_chip(chip) else { return Ok(()) };
        let precision = if c.fp8 { TrainPrecision::Fp8 } else { TrainPrecision::Bf16 };
        let eff = Efficiency::for_family(Family::of(chip), Stack::default_for(chip), precision);
        let ep = match &m.moe {
            Some(moe) => (1u32 << c.ep_pow).min(moe.experts as u32),
            None => 1,
        };
        let l = Layout {
            tp: c.tp,
            pp: c.pp,
            dp: c.dp,
            cp: c.cp,
            ep,
            etp: 1,
            vpp: if c.pp > 1 { c.vpp } else { 1 },
            micro_batch: c.mb,
            sequence_parallel: c.sp,
            zero: c.zero,
            recompute: c.recompute,
            uneven_pp: true,
        };
        let job = TrainJob {
            seq_len: c.seq,
            global_batch: c.dp * c.mb * c.k * c.pp,
            precision,
            dropout: false,
            flash_attention: true,
            // Both gradient-buffer types, from a field already drawn at random.
            grad_reduce: if c.k % 2 == 0 { GradReduce::Bf16 } else { GradReduce::Fp32 },
        };
        let e = estimate_train(&m, &hw, &eff, &job, &l, l.chips());
        if e.microbatches == 0 {
            // Structurally impossible (a reason is given); nothing to bound.
            prop_assert!(e.infeasible.is_some());
            return Ok(());
        }
        let n = l.chips() as f64;
        let p = m.total_params() as f64;

        // Memory: weights (2 bytes), gradients (4 in fp32 buffers, 2 in bf16) and Adam
        // states (12) of every parameter exist at least once over all chips, and no chip
        // holds more than the peak reported.
        let mem = e.memory;
        let state = 2.0 + job.grad_reduce.bytes() + 12.0;
        prop_assert!(
            n * mem.total >= state * p * (1.0 - 1e-9),
            "memory over all chips {:.3e} B < {} x {:.3e} params ({:?})",
            n * mem.total, state, p, l
        );
        prop_assert!(mem.total >= mem.weights + mem.gradients + mem.optimizer + mem.activations);
        prop_assert_eq!(e.fits, mem.total <= hw.mem_bytes);

        // Compute: no chip beyond its dense peak; MFU under the plausibility ceiling.
        let peak = match precision {
            TrainPrecision::Bf16 => hw.peak_16,
            TrainPrecision::Fp8 => hw.peak_fp8.unwrap(),
        };
        prop_assert!(e.step_time_s.is_finite() && e.step_time_s > 0.0);
        prop_assert!(e.model_tflops_per_chip * 1e12 <= peak * (1.0 + 1e-9));
        prop_assert!(e.mfu > 0.0 && e.mfu <= MFU_CEILING, "MFU {} ({:?}, {})", e.mfu, l, MODELS[c.model]);
        // The step is at least its compute ...
        let b = e.breakdown;
        prop_assert!(e.step_time_s >= b.forward_s + b.backward_s + b.recompute_s);

        // ... and at least the gradient traffic of one rank at the fastest link: the
        // busiest rank holds at least the average share of the non-expert parameters.
        let bw = hw.scale_up_bw.max(hw.scale_out_bw);
        let experts = m.params().routed_experts as f64;
        let dense_rank = (p - experts) / (c.tp as f64 * c.pp as f64);
        let groups = c.dp as f64 * c.cp as f64;
        let grad_bytes = dense_rank * eff.grad_comm_bytes.min(job.grad_reduce.bytes());
        let dp_floor = match c.zero {
            0 => ring(grad_bytes, groups, bw, true),
            _ => ring(grad_bytes, groups, bw, false),
        };
        prop_assert!(
            e.step_time_s >= dp_floor * (1.0 - 1e-9),
            "step {} s < gradient traffic {} s ({:?})", e.step_time_s, dp_floor, l
        );
    }
}

/// Serving: a prompt's time to first token is at least its non-expert prefill work on
/// the chips of the one attention-DP rank that runs it, at their dense peak (other ranks
/// cannot share a prompt's attention and dense layers), plus moving its tokens to the
/// experts and back at the link's full rate.
#[test]
fn ttft_is_at_least_the_prefill_work_on_the_chips_that_do_it() {
    use tessera_perf::calib::{ServeStack, serve_efficiency};
    use tessera_perf::serve::{Load, ServeJob, ServeLayout, ServePrecision, estimate_serve};
    let cat = Catalog::builtin().unwrap();
    let mut checked = 0;
    for (model, chip, chips) in [
        ("deepseek-v3", "nvidia-h20", 64u32),
        ("deepseek-v3", "nvidia-h200-sxm", 64),
        ("qwen3-235b-a22b", "nvidia-h100-sxm5-80gb", 16),
        ("llama3-70b", "nvidia-h100-sxm5-80gb", 8),
    ] {
        let m = cat.model(model).unwrap();
        let c = cat.chip(chip).unwrap();
        let hw = Hardware::from_chip(c).unwrap();
        let eff = serve_efficiency(Family::of(c), ServeStack::default_for(c));
        // Non-expert matmul parameters one token passes (routed experts excluded).
        let routed = m.moe.as_ref().map_or(0.0, |moe| {
            let mats = match m.mlp {
                tessera_core::model::Mlp::Gated => 3.0,
                tessera_core::model::Mlp::Plain => 2.0,
            };
            (m.moe_layers() * moe.top_k) as f64 * mats * (m.hidden * moe.expert_ffn_hidden) as f64
        });
        let dense = m.matmul_params_per_token() as f64 - routed;
        for (p, peak) in [
            (ServePrecision::Bf16, hw.peak_16),
            (ServePrecision::Fp8, hw.peak_fp8.unwrap_or(hw.peak_16)),
        ] {
            for dp in [1u32, 2, 4, 8, 16, 32, 64] {
                if dp > chips || m.moe.is_none() && dp > 1 {
                    continue;
                }
                let tp = chips / dp;
                let l = ServeLayout {
                    tp,
                    pp: 1,
                    ep: if m.moe.is_some() { chips } else { 1 },
                    attn_dp: dp,
                    replicas: 1,
                };
                for input in [128u32, 2000, 8000] {
                    let job = ServeJob {
                        input_len: input,
                        output_len: 256,
                        precision: p,
                        kv_bytes: 1.0,
                        load: Load::Concurrency { sequences: 1 },
                        ttft_slo_s: None,
                        tpot_slo_s: None,
                        disaggregated: false,
                        lengths: None,
                    };
                    let e = estimate_serve(&m, &hw, None, &eff, &job, &l);
                    if e.infeasible.is_some() {
                        continue;
                    }
                    let compute = 2.0 * input as f64 * dense / (tp as f64 * peak);
                    // Its tokens also cross the expert-parallel fabric twice per MoE
                    // layer (dispatch and combine), at no more than the link's rate;
                    // this engine (vLLM) does not overlap them with compute.
                    let a2a = m.moe.as_ref().map_or(0.0, |moe| {
                        let ep = chips as f64;
                        let bytes = input as f64 / tp as f64
                            * moe.top_k as f64
                            * m.hidden as f64
                            * if p == ServePrecision::Bf16 { 2.0 } else { 1.0 }
                            * (ep - 1.0)
                            / ep;
                        let bw = if chips <= hw.domain {
                            hw.scale_up_bw
                        } else {
                            hw.scale_out_bw
                        };
                        2.0 * m.moe_layers() as f64 * bytes / bw
                    });
                    let floor = compute + a2a;
                    assert!(
                        e.ttft_s >= floor * (1.0 - 1e-9),
                        "{model} on {chips} x {chip} tp{tp} attn-dp{dp} {p:?} input {input}: TTFT {:.1} ms below {:.1} ms",
                        e.ttft_s * 1e3,
                        floor * 1e3
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 40, "only {checked} cases");
}

/// Queueing: under Poisson arrivals TTFT and TPOT percentiles never fall as the rate
/// rises towards capacity, p99 is at least p50, and p50 TTFT is at least one prompt's
/// prefill alone.
#[test]
fn latency_percentiles_grow_with_load() {
    use tessera_perf::calib::{ServeStack, serve_efficiency};
    use tessera_perf::serve::{Load, ServeJob, ServeLayout, ServePrecision, estimate_serve};
    let cat = Catalog::builtin().unwrap();
    for (model, chip, tp, ep, dp) in [
        ("llama3-70b", "nvidia-h100-sxm5-80gb", 8u32, 1u32, 1u32),
        ("llama3-8b", "nvidia-h100-sxm5-80gb", 1, 1, 1),
        ("deepseek-v3", "nvidia-h200-sxm", 1, 16, 16),
    ] {
        let m = cat.model(model).unwrap();
        let c = cat.chip(chip).unwrap();
        let hw = Hardware::from_chip(c).unwrap();
        let eff = serve_efficiency(Family::of(c), ServeStack::default_for(c));
        let l = ServeLayout {
            tp,
            pp: 1,
            ep,
            attn_dp: dp,
            replicas: 1,
        };
        let job = |load| ServeJob {
            input_len: 1024,
            output_len: 512,
            precision: ServePrecision::Fp8,
            kv_bytes: 1.0,
            load,
            ttft_slo_s: None,
            tpot_slo_s: None,
            disaggregated: false,
            lengths: None,
        };
        let cap = estimate_serve(&m, &hw, None, &eff, &job(Load::Offline), &l).requests_per_s;
        let single = estimate_serve(
            &m,
            &hw,
            None,
            &eff,
            &job(Load::Concurrency { sequences: 1 }),
            &l,
        );
        let mut last = (0.0, 0.0);
        for f in [0.05, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95] {
            let e = estimate_serve(&m, &hw, None, &eff, &job(Load::Rate { per_s: f * cap }), &l);
            assert!(
                e.infeasible.is_none(),
                "{model} at {f} of capacity: {:?}",
                e.infeasible
            );
            assert!(e.ttft_p99_s >= e.ttft_p50_s && e.tpot_p99_s >= e.tpot_p50_s);
            assert!(e.ttft_p50_s >= single.prefill_s_per_request * (1.0 - 1e-9));
            assert!(
                e.ttft_p99_s >= last.0 * (1.0 - 1e-9),
                "{model}: p99 TTFT fell at {f}"
            );
            assert!(
                e.tpot_p99_s >= last.1 * (1.0 - 1e-9),
                "{model}: p99 TPOT fell at {f}"
            );
            last = (e.ttft_p99_s, e.tpot_p99_s);
        }
        // Near capacity the tail dominates.
        let near = estimate_serve(
            &m,
            &hw,
            None,
            &eff,
            &job(Load::Rate { per_s: 0.95 * cap }),
            &l,
        );
        assert!(
            near.ttft_p99_s > 3.0 * single.ttft_s,
            "{model}: no queueing near capacity"
        );
    }
}

/// Communication overlap (DeepSeek's engine) hides collectives behind compute but never
/// below either stream: a decode step is at least the longer of its compute-or-memory
/// time and its communication, and never longer than the same step without overlap.
#[test]
fn overlapped_decode_is_bounded_by_its_longer_stream() {
    use tessera_perf::calib::{ServeStack, serve_efficiency};
    use tessera_perf::serve::{Load, ServeJob, ServeLayout, ServePrecision, estimate_serve};
    let cat = Catalog::builtin().unwrap();
    let m = cat.model("deepseek-v3").unwrap();
    let mut overlapped = 0;
    for chip in ["nvidia-h800-sxm5-80gb", "nvidia-h200-sxm", "nvidia-h20"] {
        let c = cat.chip(chip).unwrap();
        let hw = Hardware::from_chip(c).unwrap();
        let with = serve_efficiency(Family::of(c), ServeStack::Deepseek);
        assert!(with.comm_overlap);
        let without = tessera_perf::serve::ServeEfficiency {
            comm_overlap: false,
            ..with
        };
        for (ep, dp) in [(16u32, 16u32), (32, 32), (144, 144)] {
            for seqs in [1u32, 16, 256, 4096, 30000] {
                let l = ServeLayout {
                    tp: 1,
                    pp: 1,
                    ep,
                    attn_dp: dp,
                    replicas: 1,
                };
                let job = ServeJob {
                    input_len: 2048,
                    output_len: 1024,
                    precision: ServePrecision::Fp8,
                    kv_bytes: 2.0,
                    load: Load::Concurrency { sequences: seqs },
                    ttft_slo_s: None,
                    tpot_slo_s: None,
                    disaggregated: false,
                    lengths: None,
                };
                let a = estimate_serve(&m, &hw, None, &with, &job, &l);
                let b = estimate_serve(&m, &hw, None, &without, &job, &l);
                if a.infeasible.is_some() {
                    continue;
                }
                let s = a.decode_step;
                let floor = s.compute_s.max(s.memory_s).max(s.comm_s) + s.overhead_s;
                assert!(
                    s.time_s >= floor * (1.0 - 1e-9),
                    "{chip} ep{ep} x{seqs}: step {} below its longer stream {floor}",
                    s.time_s
                );
                assert!(
                    s.time_s <= b.decode_step.time_s * (1.0 + 1e-9),
                    "{chip} ep{ep} x{seqs}: overlap made the step longer"
                );
                if s.time_s < b.decode_step.time_s * (1.0 - 1e-6) {
                    overlapped += 1;
                }
            }
        }
    }
    assert!(overlapped > 0, "overlap never shortened a step");
}

/// Serving: no replica computes faster than its chips' peak. Every token, prompt or
/// generated, passes at least the matmuls one token uses (2 FLOPs per active matmul
/// parameter), so total tokens/s x that work stays under chips x peak, for each calibrated
/// TensorRT-LLM group (the Blackwell one refitted in December 2026) across batch sizes.
#[test]
fn serving_throughput_stays_under_the_chips_peak() {
    use tessera_perf::calib::{ServeStack, serve_efficiency};
    use tessera_perf::serve::{Load, ServeJob, ServeLayout, ServePrecision, estimate_serve};
    let cat = Catalog::builtin().unwrap();
    let mut checked = 0;
    for (model, chip, tp, ep, dp) in [
        ("qwen3-235b-a22b", "nvidia-b200", 1u32, 8u32, 8u32),
        ("qwen3-235b-a22b", "nvidia-h200-sxm", 1, 8, 8),
        ("deepseek-v3", "nvidia-b200", 1, 8, 8),
        ("llama3-70b", "nvidia-b200", 1, 1, 1),
        ("llama3-8b", "nvidia-h100-sxm5-80gb", 1, 1, 1),
    ] {
        let m = cat.model(model).unwrap();
        let c = cat.chip(chip).unwrap();
        let hw = Hardware::from_chip(c).unwrap();
        let eff = serve_efficiency(Family::of(c), ServeStack::TensorrtLlm);
        let l = ServeLayout {
            tp,
            pp: 1,
            ep,
            attn_dp: dp,
            replicas: 1,
        };
        let chips = l.chips_per_replica() as f64;
        let work = 2.0 * m.matmul_params_per_token() as f64;
        for (p, peak) in [
            (ServePrecision::Fp8, hw.peak_fp8),
            (ServePrecision::Fp4, hw.peak_fp4),
        ] {
            let Some(peak) = peak else { continue };
            for (input, output) in [(128u32, 128u32), (128, 2048), (2048, 128), (5000, 500)] {
                for sequences in [1u32, 64, 1024, 30000] {
                    let job = ServeJob {
                        input_len: input,
                        output_len: output,
                        precision: p,
                        kv_bytes: 1.0,
                        load: Load::Concurrency { sequences },
                        ttft_slo_s: None,
                        tpot_slo_s: None,
                        disaggregated: false,
                        lengths: None,
                    };
                    let e = estimate_serve(&m, &hw, None, &eff, &job, &l);
                    if e.infeasible.is_some() {
                        continue;
                    }
                    assert!(
                        e.total_tokens_per_s * work <= chips * peak,
                        "{model} on {chips} x {chip} {p:?} {input}/{output} x{sequences}: {:.3e} FLOP/s above the peak {:.3e}",
                        e.total_tokens_per_s * work,
                        chips * peak
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 40, "only {checked} cases");
}
