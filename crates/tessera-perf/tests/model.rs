//! Checks of the training model: memory against the Megatron papers' formulas, state
//! bytes against Megatron-LM's documented table, and properties that must hold for every
//! layout.

#![allow(clippy::unwrap_used)]

use tessera_core::model::{Mlp, ModelArch, Norm, Position};
use tessera_perf::Hardware;
use tessera_perf::calib::{Efficiency, Family, Stack};
use tessera_perf::train::{
    GradReduce, Layout, Recompute, TrainJob, TrainPrecision, estimate_train,
};

fn gpt(h: u64, layers: u64, heads: u64) -> ModelArch {
    ModelArch {
        id: "gpt".into(),
        name: "gpt".into(),
        family: "gpt".into(),
        hidden: h,
        layers,
        heads,
        kv_heads: heads,
        head_dim: h / heads,
        ffn_hidden: 4 * h,
        vocab: 51200,
        max_seq: 2048,
        tied_embeddings: true,
        mlp: Mlp::Plain,
        position: Position::Learned,
        norm: Norm::Layer,
        qkv_bias: false,
        linear_bias: true,
        qk_norm: false,
        embedding_norm: false,
        moe: None,
        mla: None,
        published: None,
        source: None,
    }
}

fn a100() -> Hardware {
    Hardware {
        peak_16: 312e12,
        peak_fp8: None,
        peak_fp4: None,
        mem_bytes: 80.0 * 1024.0 * 1024.0 * 1024.0,
        mem_bw: 2.039e12,
        scale_up_bw: 300e9,
        domain: 8,
        scale_out_bw: 25e9,
        tdp_w: Some(400.0),
        price_usd: None,
    }
}

fn layout(tp: u32, pp: u32, dp: u32, rc: Recompute, sp: bool) -> Layout {
    Layout {
        tp,
        pp,
        dp,
        cp: 1,
        ep: 1,
        etp: tp,
        vpp: 1,
        micro_batch: 1,
        sequence_parallel: sp,
        zero: 0,
        recompute: rc,
        uneven_pp: false,
    }
}

fn job(gb: u32) -> TrainJob {
    TrainJob {
        seq_len: 2048,
        global_batch: gb,
        precision: TrainPrecision::Bf16,
        dropout: true,
        flash_attention: false,
        grad_reduce: Default::default(),
    }
}

/// Eight-way data parallelism with ZeRO-1, the given recompute.
fn dp8(recompute: Recompute) -> Layout {
    Layout {
        tp: 1,
        pp: 1,
        dp: 8,
        cp: 1,
        ep: 1,
        etp: 1,
        vpp: 1,
        micro_batch: 1,
        sequence_parallel: false,
        zero: 1,
        recompute,
        uneven_pp: false,
    }
}

/// Korthikanti et al. 2022, Table 2: activation bytes per layer for s, b, h, a, t.
fn korthikanti_per_layer(s: f64, b: f64, h: f64, a: f64, t: f64, rc: Recompute, sp: bool) -> f64 {
    match (rc, sp) {
        (Recompute::None, false) => s * b * h * (10.0 + 24.0 / t + 5.0 * a * s / (h * t)),
        (Recompute::None, true) => s * b * h / t * (34.0 + 5.0 * a * s / h),
        (Recompute::Selective, true) => s * b * h * 34.0 / t,
        (Recompute::Selective, false) => s * b * h * (10.0 + 24.0 / t),
        (Recompute::Full, true) => 2.0 * s * b * h / t,
        (Recompute::Full, false) => 2.0 * s * b * h,
        // Not in the paper (GPT-3 has no latent attention).
        (Recompute::MlaUpProj, _) => f64::NAN,
    }
}

/// GPT-3 175B on TP 8 x PP 8 (Korthikanti's configuration): the first stage holds L
/// layers' worth of activations (p micro-batches of L/p layers). tessera's activation
/// memory must be within 10% of the paper's formula for every technique.
#[test]
fn activation_memory_matches_korthikanti() {
    let m = gpt(12288, 96, 96);
    let eff = Efficiency::for_family(
        Family::NvidiaAmpere,
        Stack::Megatron2021,
        TrainPrecision::Bf16,
    );
    for (rc, sp) in [
        (Recompute::None, false),
        (Recompute::None, true),
        (Recompute::Selective, true),
        (Recompute::Full, true),
        (Recompute::Full, false),
    ] {
        let l = layout(8, 8, 1, rc, sp);
        let e = estimate_train(&m, &a100(), &eff, &job(64), &l, 64);
        assert!(e.microbatches > 0, "{:?}", e.infeasible);
        let paper = korthikanti_per_layer(2048.0, 1.0, 12288.0, 96.0, 8.0, rc, sp) * 96.0;
        let ours = e.memory.activations;
        let err = (ours / paper - 1.0).abs();
        assert!(
            err <= 0.10,
            "{rc:?} sp={sp}: tessera {:.2} GiB vs paper {:.2} GiB",
            ours / 1073741824.0,
            paper / 1073741824.0
        );
    }
}

/// Megatron-LM's distributed-optimizer documentation: bf16 parameters with fp32 gradients
/// take 18 bytes per parameter without the distributed optimizer and 6 + 12/d with it.
#[test]
fn state_memory_matches_megatron_table() {
    let m = gpt(4096, 32, 32);
    let eff = Efficiency::for_family(
        Family::NvidiaAmpere,
        Stack::Megatron2021,
        TrainPrecision::Bf16,
    );
    let p = m.total_params() as f64;
    for (zero, dp, expect) in [
        (0u8, 8u32, 18.0),
        (1, 8, 6.0 + 12.0 / 8.0),
        (1, 64, 6.0 + 12.0 / 64.0),
    ] {
        let mut l = layout(1, 1, dp, Recompute::Full, false);
        l.zero = zero;
        let e = estimate_train(&m, &a100(), &eff, &job(dp * 4), &l, dp as u64);
        let state = e.memory.weights + e.memory.gradients + e.memory.optimizer;
        let per_param = state / p;
        assert!(
            (per_param - expect).abs() / expect < 0.01,
            "zero {zero} dp {dp}: {per_param:.3} bytes/param vs {expect}"
        );
    }
}

fn all_layouts(chips_per_dp: &[u32]) -> Vec<Layout> {
    let mut v = Vec::new();
    for &tp in &[1u32, 2, 4, 8] {
        for &pp in &[1u32, 2, 4] {
            for &dp in chips_per_dp {
                for rc in [Recompute::None, Recompute::Selective, Recompute::Full] {
                    for sp in [false, true] {
                        for zero in [0u8, 1, 2, 3] {
                            let mut l = layout(tp, pp, dp, rc, sp);
                            l.zero = zero;
                            v.push(l);
                        }
                    }
                }
            }
        }
    }
    v
}

/// With pp and dp fixed, memory per chip never rises as TP grows.
#[test]
fn memory_never_rises_with_tp() {
    let m = gpt(6144, 48, 64);
    let eff = Efficiency::for_family(
        Family::NvidiaAmpere,
        Stack::Megatron2021,
        TrainPrecision::Bf16,
    );
    for base in all_layouts(&[1, 2, 4]).into_iter().filter(|l| l.tp == 1) {
        let mut last = f64::INFINITY;
        for tp in [1u32, 2, 4, 8] {
            let l = Layout {
                tp,
                etp: tp,
                ..base
            };
            let chips = l.chips();
            let e = estimate_train(&m, &a100(), &eff, &job(64), &l, chips);
            assert!(e.microbatches > 0, "{l:?}: {:?}", e.infeasible);
            assert!(
                e.memory.total <= last * (1.0 + 1e-12),
                "{l:?}: {} > {}",
                e.memory.total,
                last
            );
            last = e.memory.total;
        }
    }
}

/// More recompute never raises activation memory, and never makes a step faster.
#[test]
fn recompute_trades_time_for_memory() {
    let m = gpt(6144, 48, 64);
    let eff = Efficiency::for_family(
        Family::NvidiaAmpere,
        Stack::Megatron2021,
        TrainPrecision::Bf16,
    );
    for base in all_layouts(&[1, 2])
        .into_iter()
        .filter(|l| l.recompute == Recompute::None)
    {
        let chips = base.chips();
        let mut last_mem = f64::INFINITY;
        let mut last_time = 0.0;
        for rc in [Recompute::None, Recompute::Selective, Recompute::Full] {
            let l = Layout {
                recompute: rc,
                ..base
            };
            let e = estimate_train(&m, &a100(), &eff, &job(64), &l, chips);
            assert!(e.memory.activations <= last_mem * (1.0 + 1e-12), "{l:?}");
            assert!(e.step_time_s >= last_time * (1.0 - 1e-12), "{l:?}");
            last_mem = e.memory.activations;
            last_time = e.step_time_s;
        }
    }
}

/// Throughput, utilisation and breakdown are consistent for every runnable layout.
#[test]
fn results_are_consistent() {
    let m = gpt(6144, 48, 64);
    let eff = Efficiency::for_family(
        Family::NvidiaAmpere,
        Stack::Megatron2021,
        TrainPrecision::Bf16,
    );
    let mut checked = 0;
    for l in all_layouts(&[1, 2, 4]) {
        let chips = l.chips();
        let j = job(64);
        let e = estimate_train(&m, &a100(), &eff, &j, &l, chips);
        if e.microbatches == 0 {
            continue;
        }
        checked += 1;
        assert!(e.step_time_s.is_finite() && e.step_time_s > 0.0);
        let tokens = j.global_batch as f64 * j.seq_len as f64;
        assert!((e.tokens_per_s * e.step_time_s / tokens - 1.0).abs() < 1e-9);
        assert!(e.mfu > 0.0 && e.mfu < 1.0, "{l:?}: mfu {}", e.mfu);
        assert!(e.hfu >= e.mfu);
        let b = e.breakdown;
        let sum = b.forward_s
            + b.backward_s
            + b.recompute_s
            + b.tp_comm_s
            + b.cp_comm_s
            + b.ep_comm_s
            + b.pp_comm_s
            + b.dp_comm_s
            + b.bubble_s
            + b.optimizer_s
            + b.overhead_s
            + b.comm_bound_s;
        assert!(
            (sum / e.step_time_s - 1.0).abs() < 1e-9,
            "{l:?}: breakdown {sum} vs step {}",
            e.step_time_s
        );
        assert_eq!(e.fits, e.memory.total <= e.memory.capacity);
    }
    assert!(checked > 500);
}

/// Layouts that cannot run say why instead of failing.
#[test]
fn infeasible_layouts_give_reasons() {
    let m = gpt(6144, 48, 64);
    let eff = Efficiency::for_family(
        Family::NvidiaAmpere,
        Stack::Megatron2021,
        TrainPrecision::Bf16,
    );
    let check = |l: Layout, chips: u64, gb: u32, want: &str| {
        let e = estimate_train(&m, &a100(), &eff, &job(gb), &l, chips);
        let why = e.infeasible.map(|r| r.to_string()).unwrap_or_default();
        assert!(why.contains(want), "{l:?}: {why:?} lacks {want:?}");
    };
    check(
        layout(8, 1, 1, Recompute::None, true),
        16,
        8,
        "dp x tp x pp x cp = 8",
    );
    check(
        layout(3, 1, 1, Recompute::None, true),
        3,
        8,
        "64 attention heads do not divide over TP 3",
    );
    check(
        layout(1, 5, 1, Recompute::None, false),
        5,
        8,
        "48 layers do not divide into 5",
    );
    check(
        layout(1, 1, 4, Recompute::None, false),
        4,
        6,
        "global batch 6 is not a multiple",
    );
    check(
        layout(1, 1, 1, Recompute::None, false),
        1,
        64,
        "GiB per chip",
    );
}

/// Recomputing MLA's up-projections keeps only the latents: less activation memory than
/// no recompute, more than full recompute, and a longer step; a model without MLA
/// cannot use it.
#[test]
fn mla_up_projection_recompute_trades_memory_for_time() {
    let cat = tessera_catalog::Catalog::builtin().unwrap();
    let m = cat.model("deepseek-v3").unwrap();
    let c = cat.chip("nvidia-gb200").unwrap();
    let hw = Hardware::from_chip(c).unwrap();
    let eff = Efficiency::for_family(Family::of(c), Stack::MegatronCore, TrainPrecision::Bf16);
    let j = TrainJob {
        seq_len: 4096,
        global_batch: 4096,
        precision: TrainPrecision::Bf16,
        dropout: false,
        flash_attention: true,
        grad_reduce: Default::default(),
    };
    let at = |rc| {
        let l = Layout {
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
            recompute: rc,
            uneven_pp: true,
        };
        estimate_train(&m, &hw, &eff, &j, &l, 256)
    };
    let (none, mla, full) = (
        at(Recompute::None),
        at(Recompute::MlaUpProj),
        at(Recompute::Full),
    );
    assert!(mla.memory.activations < none.memory.activations);
    assert!(mla.memory.activations > full.memory.activations);
    assert!(mla.step_time_s > none.step_time_s && mla.step_time_s < full.step_time_s);
    assert!(mla.hfu > mla.mfu);
    let llama = cat.model("llama3-8b").unwrap();
    let e = estimate_train(&llama, &hw, &eff, &j, &dp8(Recompute::MlaUpProj), 8);
    assert_eq!(
        e.infeasible,
        Some(tessera_perf::train::Infeasible::RecomputeNeedsMla)
    );
}

/// A fused attention backward recomputes the scores, so its attention core costs 2.5 times
/// its forward (Dao 2023): on a long sequence, where attention dominates, the backward is
/// more than twice the forward. Unfused attention saves the probabilities and its backward
/// stays under twice the forward (the element-wise work runs once each way).
#[test]
fn a_flash_attention_backward_recomputes_the_scores() {
    let cat = tessera_catalog::Catalog::builtin().unwrap();
    let m = cat.model("llama3-8b").unwrap();
    let c = cat.chip("nvidia-h100-sxm5-80gb").unwrap();
    let hw = Hardware::from_chip(c).unwrap();
    let eff = Efficiency::for_family(Family::of(c), Stack::MegatronCore, TrainPrecision::Bf16);
    let l = dp8(Recompute::None);
    let at = |flash| {
        let j = TrainJob {
            seq_len: 65536,
            global_batch: 64,
            precision: TrainPrecision::Bf16,
            dropout: false,
            flash_attention: flash,
            grad_reduce: Default::default(),
        };
        estimate_train(&m, &hw, &eff, &j, &l, 8).breakdown
    };
    let (fused, unfused) = (at(true), at(false));
    assert!(
        fused.backward_s > 2.0 * fused.forward_s,
        "fused: backward {} vs forward {}",
        fused.backward_s,
        fused.forward_s
    );
    assert!(unfused.backward_s < 2.0 * unfused.forward_s);
}

/// bf16 gradient buffers (Megatron-Core's `grad_reduce_in_fp32` off) hold half the bytes
/// of fp32 ones and halve the data-parallel reduction: the same weights and optimizer
/// states, half the gradients, and a step no longer.
#[test]
fn bf16_gradient_buffers_halve_the_gradients() {
    let cat = tessera_catalog::Catalog::builtin().unwrap();
    let m = cat.model("llama3-70b").unwrap();
    let c = cat.chip("nvidia-h100-sxm5-80gb").unwrap();
    let hw = Hardware::from_chip(c).unwrap();
    let eff = Efficiency::for_family(Family::of(c), Stack::MegatronCore, TrainPrecision::Fp8);
    let l = Layout {
        tp: 4,
        pp: 4,
        dp: 4,
        cp: 1,
        ep: 1,
        etp: 4,
        vpp: 5,
        micro_batch: 1,
        sequence_parallel: true,
        zero: 1,
        recompute: Recompute::None,
        uneven_pp: false,
    };
    let at = |g| {
        let j = TrainJob {
            seq_len: 8192,
            global_batch: 128,
            precision: TrainPrecision::Fp8,
            dropout: false,
            flash_attention: true,
            grad_reduce: g,
        };
        estimate_train(&m, &hw, &eff, &j, &l, 64)
    };
    let (f32, b16) = (at(GradReduce::Fp32), at(GradReduce::Bf16));
    assert!((b16.memory.gradients - f32.memory.gradients / 2.0).abs() < 1.0);
    assert_eq!(b16.memory.weights, f32.memory.weights);
    assert_eq!(b16.memory.optimizer, f32.memory.optimizer);
    assert!(f32.breakdown.dp_comm_s > 0.0);
    assert!(b16.breakdown.dp_comm_s < f32.breakdown.dp_comm_s);
    assert!(b16.step_time_s <= f32.step_time_s);
}
