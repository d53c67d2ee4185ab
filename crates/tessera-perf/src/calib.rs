//! Efficiency parameters: what fraction of its peaks a chip family reaches under a
//! software stack. A few numbers per (family, stack), fitted to published measurements;
//! `docs/accuracy.md` records how.

use crate::train::TrainPrecision;
use tessera_core::chip::Chip;

/// The training software stack, where efficiency differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    /// Megatron-LM as of 2021-2022 (Narayanan et al. 2021; Korthikanti et al. 2022):
    /// no fused flash attention, little communication overlap.
    Megatron2021,
    /// Megatron-Core / NeMo / Megatron-Bridge with Transformer Engine (2023 on): flash
    /// attention, overlapped gradient reduction and parameter gathering.
    MegatronCore,
    /// MindSpeed(-LLM) on Ascend (Megatron-Core based, with Ascend fused kernels).
    Mindspeed,
    /// MindSpeed-LLM's older "legacy" (pre-Megatron-Core) code path.
    MindspeedLegacy,
    /// PaddlePaddle (Baidu), for Kunlun chips.
    Paddle,
}

impl Stack {
    pub const ALL: [Stack; 5] = [
        Stack::Megatron2021,
        Stack::MegatronCore,
        Stack::Mindspeed,
        Stack::MindspeedLegacy,
        Stack::Paddle,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stack::Megatron2021 => "megatron-2021",
            Stack::MegatronCore => "megatron-core",
            Stack::Mindspeed => "mindspeed",
            Stack::MindspeedLegacy => "mindspeed-legacy",
            Stack::Paddle => "paddle",
        }
    }

    pub fn parse(s: &str) -> Option<Stack> {
        Stack::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The usual stack for a chip's vendor.
    pub fn default_for(chip: &Chip) -> Stack {
        let v = chip.vendor.to_ascii_lowercase();
        if v.starts_with("huawei") {
            Stack::Mindspeed
        } else if v.starts_with("kunlunxin") {
            Stack::Paddle
        } else {
            Stack::MegatronCore
        }
    }
}

/// A chip family, for choosing efficiency parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    NvidiaAmpere,
    NvidiaHopper,
    NvidiaBlackwell,
    Ascend,
    Kunlun,
    Other,
}

impl Family {
    pub fn of(chip: &Chip) -> Family {
        let id = chip.id.as_str();
        if id.starts_with("nvidia-a100") || id.starts_with("nvidia-a800") {
            Family::NvidiaAmpere
        } else if id.starts_with("nvidia-h") {
            Family::NvidiaHopper
        } else if id.starts_with("nvidia-b") || id.starts_with("nvidia-gb") {
            Family::NvidiaBlackwell
        } else if id.starts_with("huawei-ascend-910") {
            Family::Ascend
        } else if id.starts_with("kunlunxin") {
            Family::Kunlun
        } else {
            Family::Other
        }
    }
}

/// The efficiency parameters. Fractions are of the hardware peak unless noted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Efficiency {
    /// Fraction of the dense peak a large GEMM reaches.
    pub gemm_max: f64,
    /// GEMM size (tokens x hidden / TP, elements) at which GEMM efficiency is half of `gemm_max`.
    pub gemm_knee: f64,
    /// Fraction of the dense peak the attention core (QK^T, softmax, AV) reaches.
    pub attn_eff: f64,
    /// Share of the full-sequence attention FLOPs actually executed (1.0 without a fused
    /// causal kernel, about 0.5 with flash attention skipping masked blocks).
    pub causal_exec: f64,
    /// fp8 GEMMs: fraction of the fp8 peak reached, relative to `gemm_max`.
    pub fp8_rel: f64,
    /// Expert (grouped) GEMMs: efficiency relative to dense GEMMs of the same size.
    pub moe_gemm_rel: f64,
    /// Expert GEMMs in fp8: fraction of the fp8 peak reached relative to `gemm_max`
    /// (block-scaled fp8 grouped GEMMs gain less than dense ones).
    pub moe_fp8_rel: f64,
    /// Bytes moved through memory per routed token copy per MoE layer (permutation,
    /// un-permutation, routing), in units of `hidden`.
    pub moe_elementwise_h: f64,
    /// Bytes moved through memory per token per layer by element-wise work
    /// (norms, activations, dropout, residuals), in units of `hidden`.
    pub elementwise_h: f64,
    /// Achieved fraction of the per-direction scale-up / scale-out bandwidth in collectives.
    pub scale_up_eff: f64,
    pub scale_out_eff: f64,
    /// Fraction of each communication's time left exposed (not hidden behind compute).
    pub tp_exposed: f64,
    pub cp_exposed: f64,
    pub ep_exposed: f64,
    pub pp_exposed: f64,
    pub dp_exposed: f64,
    /// Bytes per gradient element in the data-parallel reduction.
    pub grad_comm_bytes: f64,
    /// Memory the runtime and framework hold beyond the model's own (bytes).
    pub reserved_bytes: f64,
    /// Fixed time per step (data loading, logging, launch gaps), seconds.
    pub step_overhead_s: f64,
    /// Whether measurements of this family and stack were used to fit these values.
    pub calibrated: bool,
}

impl Efficiency {
    /// Defaults for a modern Megatron-based stack, before any fitting.
    pub const MODERN_DEFAULT: Efficiency = Efficiency {
        gemm_max: 0.78,
        gemm_knee: 1.5e6,
        attn_eff: 0.55,
        causal_exec: 0.5,
        fp8_rel: 0.80,
        moe_gemm_rel: 0.8,
        moe_fp8_rel: 0.6,
        moe_elementwise_h: 12.0,
        elementwise_h: 16.0,
        scale_up_eff: 0.80,
        scale_out_eff: 0.80,
        tp_exposed: 0.6,
        cp_exposed: 0.3,
        ep_exposed: 0.7,
        pp_exposed: 0.5,
        dp_exposed: 0.15,
        grad_comm_bytes: 4.0,
        reserved_bytes: 3.0 * 1024.0 * 1024.0 * 1024.0,
        step_overhead_s: 0.0,
        calibrated: false,
    };

    /// The parameters for a chip family under a stack, for one training precision.
    ///
    /// The calibrated groups hold the values `tessera validate train --fit` found on the
    /// calibration rows of `crates/tessera-validate/data/train-rows.toml` of that family,
    /// stack and precision (rounded; procedure in docs/accuracy.md). A precision is never
    /// calibrated on rows of another: a group without rows of the precision asked for
    /// gets `calibrated = false`, and its estimates say so. Every other family and stack
    /// gets the closest group's values, also with `calibrated = false`.
    pub fn for_family(family: Family, stack: Stack, precision: TrainPrecision) -> Efficiency {
        let e = Self::for_family_any(family, stack, precision);
        match Self::rows_of(family, stack, precision) {
            true => e,
            false => Efficiency {
                calibrated: false,
                ..e
            },
        }
    }

    /// Whether the built-in calibration rows include runs of this family, stack and
    /// precision (kept in step with the rows file by a test in tessera-validate).
    pub fn rows_of(family: Family, stack: Stack, precision: TrainPrecision) -> bool {
        use TrainPrecision::{Bf16, Fp8};
        matches!(
            (family, stack, precision),
            (Family::NvidiaAmpere, Stack::Megatron2021, Bf16)
                | (Family::NvidiaHopper, Stack::MegatronCore, Bf16 | Fp8)
                | (Family::NvidiaBlackwell, Stack::MegatronCore, Bf16 | Fp8)
                | (Family::Ascend, Stack::Mindspeed, Bf16)
                | (Family::Ascend, Stack::MindspeedLegacy, Bf16)
        )
    }

    fn for_family_any(family: Family, stack: Stack, precision: TrainPrecision) -> Efficiency {
        let d = Efficiency::MODERN_DEFAULT;
        // A100, Megatron-LM 2021-22 (Narayanan 2021 and Korthikanti 2022 rows).
        let ampere_2021 = Efficiency {
            gemm_max: 0.80,
            gemm_knee: 2.472e5,
            attn_eff: 0.1807,
            causal_exec: 1.0,
            elementwise_h: 40.38,
            tp_exposed: 1.0,
            cp_exposed: 1.0,
            pp_exposed: 1.0,
            dp_exposed: 0.2719,
            calibrated: true,
            ..d
        };
        // H100, Megatron-Core / NeMo (NeMo 24.12 rows). gemm_max is measured, not fitted:
        // 769-798 of 989 TFLOP/s for an 8192^3 bf16 GEMM on an H200 (shared facts README).
        let hopper_core = Efficiency {
            gemm_max: 0.79,
            attn_eff: 0.30,
            fp8_rel: 0.8137,
            elementwise_h: 0.8302,
            tp_exposed: 0.1,
            cp_exposed: 0.3,
            calibrated: true,
            ..d
        };
        // GB200 / B200, Megatron-Bridge (25.11 rows).
        let blackwell_core = Efficiency {
            gemm_max: 0.5698,
            fp8_rel: 1.0,
            moe_gemm_rel: 0.6427,
            moe_fp8_rel: 0.432,
            moe_elementwise_h: 5.674,
            ep_exposed: 0.7545,
            calibrated: true,
            ..d
        };
        // Ascend 910B, MindSpeed-LLM (Atlas 900 A2 PODc rows, layouts searched).
        let ascend_mindspeed = Efficiency {
            gemm_max: 0.81,
            attn_eff: 0.1714,
            elementwise_h: 0.0,
            calibrated: true,
            ..d
        };
        // Ascend 910B, MindSpeed-LLM legacy code path.
        let ascend_legacy = Efficiency {
            gemm_max: 0.67,
            attn_eff: 0.165,
            elementwise_h: 3.814,
            calibrated: true,
            ..d
        };
        let uncal = |e: Efficiency| Efficiency {
            calibrated: false,
            ..e
        };
        // H100 in bf16, Megatron-Core: fitted on NVIDIA's own bf16 weak-scaling table
        // (Megatron-LM README, rows M01, M03, M04), gemm_max measured as for fp8. The
        // fixed time per step is the README's "end-to-end" throughput: data loading,
        // optimizer and logging included.
        let hopper_core = match precision {
            TrainPrecision::Bf16 => Efficiency {
                gemm_knee: HOPPER_BF16.0,
                attn_eff: HOPPER_BF16.1,
                elementwise_h: HOPPER_BF16.2,
                tp_exposed: HOPPER_BF16.3,
                dp_exposed: HOPPER_BF16.4,
                step_overhead_s: HOPPER_BF16.5,
                ..hopper_core
            },
            TrainPrecision::Fp8 => hopper_core,
        };
        match (family, stack) {
            (Family::NvidiaAmpere, Stack::Megatron2021) => ampere_2021,
            (_, Stack::Megatron2021) => uncal(ampere_2021),
            (Family::NvidiaHopper, Stack::MegatronCore) => hopper_core,
            (Family::NvidiaBlackwell, Stack::MegatronCore) => blackwell_core,
            (Family::NvidiaAmpere, Stack::MegatronCore) => uncal(Efficiency {
                gemm_max: 0.80,
                fp8_rel: 1.0,
                ..hopper_core
            }),
            (_, Stack::MegatronCore) => uncal(hopper_core),
            (Family::Ascend, Stack::Mindspeed) => ascend_mindspeed,
            (Family::Ascend, Stack::MindspeedLegacy) => ascend_legacy,
            (_, Stack::Mindspeed) | (_, Stack::MindspeedLegacy) | (_, Stack::Paddle) => {
                uncal(ascend_mindspeed)
            }
        }
    }
}

/// What an estimate says about where its efficiency parameters come from.
pub fn calibration_note(family: Family, stack: Stack, precision: TrainPrecision) -> String {
    let p = match precision {
        TrainPrecision::Bf16 => "bf16",
        TrainPrecision::Fp8 => "fp8",
    };
    if Efficiency::rows_of(family, stack, precision) {
        format!(
            "calibrated: {family:?} under {} on {p} runs (docs/accuracy.md)",
            stack.as_str()
        )
    } else if [TrainPrecision::Bf16, TrainPrecision::Fp8]
        .iter()
        .any(|&q| Efficiency::rows_of(family, stack, q))
    {
        format!(
            "uncalibrated for {p}: {family:?} under {} is calibrated only on runs of another precision; \
             its {p} efficiency is not measured (docs/accuracy.md)",
            stack.as_str()
        )
    } else {
        let (f, s) = calibration_source(family, stack);
        let adjusted = if (family, stack) == (Family::NvidiaAmpere, Stack::MegatronCore) {
            ", with Ampere's GEMM ceiling and no fp8"
        } else {
            ""
        };
        format!(
            "uncalibrated: no published {p} runs of {family:?} under {}; parameters of {f:?} under {}{adjusted} (docs/accuracy.md)",
            stack.as_str(),
            s.as_str()
        )
    }
}

/// The calibrated training group whose parameters `Efficiency::for_family` gives an
/// uncalibrated (family, stack); the group itself where it has calibration rows.
pub fn calibration_source(family: Family, stack: Stack) -> (Family, Stack) {
    match (family, stack) {
        (Family::NvidiaAmpere, Stack::Megatron2021) => (family, stack),
        (_, Stack::Megatron2021) => (Family::NvidiaAmpere, Stack::Megatron2021),
        (Family::NvidiaHopper | Family::NvidiaBlackwell, Stack::MegatronCore) => (family, stack),
        (_, Stack::MegatronCore) => (Family::NvidiaHopper, Stack::MegatronCore),
        (Family::Ascend, Stack::Mindspeed | Stack::MindspeedLegacy) => (family, stack),
        (_, Stack::Mindspeed | Stack::MindspeedLegacy | Stack::Paddle) => {
            (Family::Ascend, Stack::Mindspeed)
        }
    }
}

/// Hopper bf16 under Megatron-Core: gemm_knee, attn_eff, elementwise_h, tp_exposed,
/// dp_exposed, step_overhead_s (fitted; docs/accuracy.md).
const HOPPER_BF16: (f64, f64, f64, f64, f64, f64) =
    (6.398e5, 0.3386, 2.417, 0.06025, 0.1857, 0.1267);

/// The serving engine, where efficiency differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServeStack {
    TensorrtLlm,
    Vllm,
    VllmAscend,
    Mindie,
    /// DeepSeek's own inference system (as described in its 2025 overview).
    Deepseek,
}

impl ServeStack {
    pub const ALL: [ServeStack; 5] = [
        ServeStack::TensorrtLlm,
        ServeStack::Vllm,
        ServeStack::VllmAscend,
        ServeStack::Mindie,
        ServeStack::Deepseek,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServeStack::TensorrtLlm => "tensorrt-llm",
            ServeStack::Vllm => "vllm",
            ServeStack::VllmAscend => "vllm-ascend",
            ServeStack::Mindie => "mindie",
            ServeStack::Deepseek => "deepseek",
        }
    }

    pub fn parse(s: &str) -> Option<ServeStack> {
        ServeStack::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the engine overlaps decode collectives with compute. DeepSeek's does
    /// ("DeepSeek-V3/R1 Inference System Overview", Open-Source Week day 6, 1 March 2025:
    /// dual micro-batch overlap, five-stage pipelined decode); the others are taken not to
    /// until a source says so.
    pub fn overlaps_comm(self) -> bool {
        matches!(self, ServeStack::Deepseek)
    }

    pub fn default_for(chip: &Chip) -> ServeStack {
        if chip.vendor.to_ascii_lowercase().starts_with("huawei") {
            ServeStack::VllmAscend
        } else {
            ServeStack::Vllm
        }
    }
}

/// Serving efficiency for a chip family under an engine. The calibrated group holds the
/// values `tessera validate serve --fit` found (docs/accuracy.md); others reuse them with
/// `calibrated = false`.
pub fn serve_efficiency(family: Family, stack: ServeStack) -> crate::serve::ServeEfficiency {
    let d = crate::serve::ServeEfficiency::DEFAULT;
    // H100 / H200 under TensorRT-LLM (FP8), fitted on the calibration rows of
    // crates/tessera-validate/data/serve-rows.toml.
    let hopper_trt = crate::serve::ServeEfficiency {
        mem_eff: 0.8221,
        kv_eff: 0.8234,
        decode_gemm_eff: 0.3645,
        prefill_eff: 0.5706,
        step_overhead_s: 4.254e-3,
        layer_overhead_s: 3.753e-5,
        coll_latency_s: 1.178e-5,
        max_batch: 3513.0,
        moe_rel: 0.1614,
        moe_knee_tokens: 108.5,
        calibrated: true,
        ..d
    };
    // B200 / GB200 under TensorRT-LLM (FP4), fitted likewise.
    let blackwell_trt = crate::serve::ServeEfficiency {
        mem_eff: 0.6298,
        kv_eff: 0.6334,
        decode_gemm_eff: 0.3051,
        prefill_eff: 0.4276,
        step_overhead_s: 8.888e-3,
        layer_overhead_s: 4.967e-5,
        coll_latency_s: 5.831e-5,
        max_batch: 8192.0,
        moe_rel: 0.2541,
        moe_knee_tokens: 33.38,
        calibrated: true,
        ..d
    };
    let uncal = |e: crate::serve::ServeEfficiency| crate::serve::ServeEfficiency {
        calibrated: false,
        ..e
    };
    let from = serve_calibration_source(family, stack);
    let e = match from.0 {
        Family::NvidiaBlackwell => blackwell_trt,
        _ => hopper_trt,
    };
    let e = crate::serve::ServeEfficiency {
        comm_overlap: stack.overlaps_comm(),
        ..e
    };
    if from == (family, stack) { e } else { uncal(e) }
}

/// The calibrated serving group whose parameters `serve_efficiency` gives a (family,
/// stack): the group itself where it is calibrated, Blackwell under TensorRT-LLM for other
/// Blackwell stacks, Hopper under TensorRT-LLM for everything else (the group with the
/// most published rows).
pub fn serve_calibration_source(family: Family, stack: ServeStack) -> (Family, ServeStack) {
    match (family, stack) {
        (Family::NvidiaHopper, ServeStack::TensorrtLlm) => (family, stack),
        (Family::NvidiaBlackwell, _) => (Family::NvidiaBlackwell, ServeStack::TensorrtLlm),
        _ => (Family::NvidiaHopper, ServeStack::TensorrtLlm),
    }
}

/// What a serving estimate says about its calibration.
pub fn serve_calibration_note(family: Family, stack: ServeStack) -> String {
    let (f, s) = serve_calibration_source(family, stack);
    if (f, s) == (family, stack) {
        format!(
            "calibrated: {family:?} under {} (docs/accuracy.md)",
            stack.as_str()
        )
    } else {
        format!(
            "uncalibrated: no published serving measurements of {family:?} under {} are fitted; parameters of {f:?} under {} (docs/accuracy.md)",
            stack.as_str(),
            s.as_str()
        )
    }
}

#[cfg(test)]
mod source_tests {
    use super::*;

    /// Every training group takes its parameters from a group that has calibration rows,
    /// and the note names that group: what `for_family` returns is the named group's
    /// parameters (Ampere under Megatron-Core also lowers the GEMM ceiling and drops fp8).
    #[test]
    fn uncalibrated_groups_name_the_group_they_borrow_from() {
        let families = [
            Family::NvidiaAmpere,
            Family::NvidiaHopper,
            Family::NvidiaBlackwell,
            Family::Ascend,
            Family::Kunlun,
            Family::Other,
        ];
        for f in families {
            for s in Stack::ALL {
                let (sf, ss) = calibration_source(f, s);
                assert!(
                    [TrainPrecision::Bf16, TrainPrecision::Fp8]
                        .iter()
                        .any(|&p| Efficiency::rows_of(sf, ss, p)),
                    "{f:?}/{s:?} borrows from uncalibrated {sf:?}/{ss:?}"
                );
                for p in [TrainPrecision::Bf16, TrainPrecision::Fp8] {
                    let mut got = Efficiency::for_family_any(f, s, p);
                    let want = Efficiency::for_family_any(sf, ss, p);
                    if (f, s) == (Family::NvidiaAmpere, Stack::MegatronCore) {
                        got.gemm_max = want.gemm_max;
                        got.fp8_rel = want.fp8_rel;
                    }
                    got.calibrated = want.calibrated;
                    assert_eq!(got, want, "{f:?}/{s:?} {p:?}");
                    let note = calibration_note(f, s, p);
                    if !Efficiency::rows_of(f, s, TrainPrecision::Bf16)
                        && !Efficiency::rows_of(f, s, TrainPrecision::Fp8)
                    {
                        assert!(
                            note.contains(&format!("{sf:?} under {}", ss.as_str())),
                            "{note}"
                        );
                    }
                }
            }
        }
    }
}
