//! Efficiency parameters: what fraction of its peaks a chip family reaches under a
//! software stack. A few numbers per (family, stack), fitted to published measurements;
//! `docs/accuracy.md` records how.

use serde::Serialize;
use tessera_core::chip::Chip;

/// The training software stack, where efficiency differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stack {
    /// Megatron-LM as of 2021-2022 (Narayanan et al. 2021; Korthikanti et al. 2022):
    /// no fused flash attention, little communication overlap.
    Megatron2021,
    /// Megatron-Core / NeMo / Megatron-Bridge with Transformer Engine (2023 on): flash
    /// attention, overlapped gradient reduction and parameter gathering.
    MegatronCore,
    /// MindSpeed(-LLM) on Ascend (Megatron-based, with Ascend fused kernels).
    Mindspeed,
    /// PaddlePaddle (Baidu), for Kunlun chips.
    Paddle,
}

impl Stack {
    pub const ALL: [Stack; 4] = [
        Stack::Megatron2021,
        Stack::MegatronCore,
        Stack::Mindspeed,
        Stack::Paddle,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stack::Megatron2021 => "megatron-2021",
            Stack::MegatronCore => "megatron-core",
            Stack::Mindspeed => "mindspeed",
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
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
        } else if id.starts_with("nvidia-b") {
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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
    /// The parameters for a chip family under a stack. Families without measurements get
    /// the defaults of the closest family and `calibrated = false`.
    pub fn for_family(family: Family, stack: Stack) -> Efficiency {
        let modern = Efficiency {
            gemm_max: 0.78,
            gemm_knee: 1.5e6,
            attn_eff: 0.55,
            causal_exec: 0.5,
            fp8_rel: 0.80,
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
        let mut e = match stack {
            Stack::Megatron2021 => Efficiency {
                gemm_max: 0.80,
                gemm_knee: 1.0e6,
                attn_eff: 0.35,
                causal_exec: 1.0,
                elementwise_h: 28.0,
                tp_exposed: 1.0,
                cp_exposed: 1.0,
                pp_exposed: 1.0,
                dp_exposed: 0.5,
                ..modern
            },
            Stack::MegatronCore => modern,
            Stack::Mindspeed => Efficiency {
                gemm_max: 0.62,
                ..modern
            },
            Stack::Paddle => Efficiency {
                gemm_max: 0.55,
                ..modern
            },
        };
        e.calibrated = matches!(
            (family, stack),
            (Family::NvidiaAmpere, Stack::Megatron2021)
                | (Family::NvidiaHopper, Stack::MegatronCore)
                | (Family::Ascend, Stack::Mindspeed)
        );
        e
    }
}
