//! Pipeline segments (`estimate_segment`): a model cut into consecutive segments costs,
//! segment by segment, what the whole costs; a segment's work grows with its layers; and
//! the activations a segment keeps grow with the stages after it (docs/perf-model.md,
//! "Segments").

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use tessera_catalog::Catalog;
use tessera_perf::Hardware;
use tessera_perf::calib::{Efficiency, Family, Stack};
use tessera_perf::train::{
    Layout, Recompute, Segment, TrainJob, TrainPrecision, estimate_segment, estimate_train,
};

const MODELS: [&str; 6] = [
    "llama3-8b",
    "llama3-70b",
    "mixtral-8x7b",
    "qwen3-235b-a22b",
    "ernie-4.5-300b-a47b",
    "gpt3-175b",
];
const CHIPS: [&str; 3] = [
    "nvidia-h100-sxm5-80gb",
    "nvidia-a800-sxm4-80gb",
    "huawei-ascend-910b2",
];

fn layout(tp: u32, dp: u32, ep: u32, recompute: Recompute) -> Layout {
    Layout {
        tp,
        pp: 1,
        dp,
        cp: 1,
        ep,
        etp: 1,
        vpp: 1,
        micro_batch: 1,
        sequence_parallel: tp > 1,
        zero: 1,
        recompute,
        uneven_pp: true,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-30)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Two segments, cut anywhere, take per micro-batch what the whole model takes on one
    /// stage of the same layout, and hold its parameter state between them (plus the
    /// output layer's copy of tied embeddings).
    #[test]
    fn two_segments_add_up_to_the_model(
        model in 0..MODELS.len(),
        chip in 0..CHIPS.len(),
        tp in prop::sample::select(vec![1u32, 2, 4, 8]),
        dp in prop::sample::select(vec![1u32, 2, 8, 16]),
        ep_pow in 0u32..4,
        cut in 0.05f64..0.95,
        full in any::<bool>(),
    ) {
        let cat = Catalog::builtin().unwrap();
        let m = cat.model(MODELS[model]).unwrap();
        let chip = cat.chip(CHIPS[chip]).unwrap();
        let hw = Hardware::from_chip(chip).unwrap();
        let eff = Efficiency::for_family(Family::of(chip), Stack::default_for(chip), TrainPrecision::Bf16);
        let ep = if m.moe.is_some() { 1u32 << ep_pow } else { 1 };
        let l = layout(tp, dp, ep, if full { Recompute::Full } else { Recompute::None });
        let job = TrainJob {
            seq_len: 4096,
            global_batch: dp * 8,
            precision: TrainPrecision::Bf16,
            dropout: false,
            flash_attention: true,
            grad_reduce: Default::default(),
        };
        let whole = estimate_train(&m, &hw, &eff, &job, &l, l.chips());
        if whole.microbatches == 0 {
            return Ok(());
        }
        let a = ((m.layers as f64 * cut).round() as u64).clamp(1, m.layers - 1);
        let s1 = Segment { layers: a, first: true, last: false, stages_after: 1 };
        let s2 = Segment { layers: m.layers - a, first: false, last: true, stages_after: 0 };
        let e1 = estimate_segment(&m, &hw, &eff, &job, &l, l.chips(), &s1);
        let e2 = estimate_segment(&m, &hw, &eff, &job, &l, l.chips(), &s2);
        prop_assert!(e1.microbatches > 0 && e2.microbatches > 0);
        prop_assert!(
            close(e1.stage_s_per_microbatch + e2.stage_s_per_microbatch, whole.stage_s_per_microbatch),
            "{} + {} != {}", e1.stage_s_per_microbatch, e2.stage_s_per_microbatch, whole.stage_s_per_microbatch
        );
        let state = |e: &tessera_perf::train::Estimate| e.memory.weights + e.memory.gradients + e.memory.optimizer;
        // Bf16 weights, fp32 gradients, Adam states sharded over DP (ZeRO-1).
        let tied_copy = if m.params().lm_head == 0 {
            (6.0 + 12.0 / dp as f64) * m.params().embedding as f64 / tp as f64
        } else {
            0.0
        };
        prop_assert!(
            close(state(&e1) + state(&e2), state(&whole) + tied_copy),
            "{} + {} != {} + {}", state(&e1), state(&e2), state(&whole), tied_copy
        );
        // Each segment's own MFU stays under the dense peak.
        prop_assert!(e1.mfu < 1.0 && e2.mfu < 1.0 && e1.mfu > 0.0 && e2.mfu > 0.0);
    }

    /// A middle segment's time per micro-batch is proportional to its layers, and the
    /// activations it keeps never fall as stages are added after it, up to the
    /// micro-batches in flight.
    #[test]
    fn segments_scale_with_layers_and_stages_after(
        model in 0..MODELS.len(),
        chip in 0..CHIPS.len(),
        k in 1u64..6,
        after in 0u32..40,
    ) {
        let cat = Catalog::builtin().unwrap();
        let m = cat.model(MODELS[model]).unwrap();
        let chip = cat.chip(CHIPS[chip]).unwrap();
        let hw = Hardware::from_chip(chip).unwrap();
        let eff = Efficiency::for_family(Family::of(chip), Stack::default_for(chip), TrainPrecision::Bf16);
        let ep = if m.moe.is_some() { 8 } else { 1 };
        let l = layout(1, 8, ep, Recompute::Full);
        let job = TrainJob {
            seq_len: 4096,
            global_batch: 8 * 16,
            precision: TrainPrecision::Bf16,
            dropout: false,
            flash_attention: true,
            grad_reduce: Default::default(),
        };
        let seg = |layers: u64, stages_after: u32| Segment { layers, first: false, last: false, stages_after };
        let one = estimate_segment(&m, &hw, &eff, &job, &l, 8, &seg(k, after));
        let two = estimate_segment(&m, &hw, &eff, &job, &l, 8, &seg(2 * k, after));
        prop_assert!(close(2.0 * one.stage_s_per_microbatch, two.stage_s_per_microbatch));
        let more = estimate_segment(&m, &hw, &eff, &job, &l, 8, &seg(k, after + 1));
        prop_assert!(more.memory.activations >= one.memory.activations);
        // 16 micro-batches: no more than 16 in flight, however long the pipeline.
        let far = estimate_segment(&m, &hw, &eff, &job, &l, 8, &seg(k, 1000));
        let at16 = estimate_segment(&m, &hw, &eff, &job, &l, 8, &seg(k, 15));
        prop_assert!(close(far.memory.activations, at16.memory.activations));
    }
}

/// A segment of no layers, or of more layers than the model has, is a reason, not a
/// number.
#[test]
fn impossible_segments_are_reasons() {
    let cat = Catalog::builtin().unwrap();
    let m = cat.model("llama3-8b").unwrap();
    let chip = cat.chip("nvidia-h100-sxm5-80gb").unwrap();
    let hw = Hardware::from_chip(chip).unwrap();
    let eff = Efficiency::for_family(
        Family::of(chip),
        Stack::default_for(chip),
        TrainPrecision::Bf16,
    );
    let l = layout(1, 1, 1, Recompute::None);
    let job = TrainJob {
        seq_len: 4096,
        global_batch: 4,
        precision: TrainPrecision::Bf16,
        dropout: false,
        flash_attention: true,
        grad_reduce: Default::default(),
    };
    for layers in [0, m.layers + 1] {
        let s = Segment {
            layers,
            first: true,
            last: true,
            stages_after: 0,
        };
        let e = estimate_segment(&m, &hw, &eff, &job, &l, 1, &s);
        assert!(e.infeasible.is_some() && e.step_time_s == 0.0, "{layers}");
    }
}
