//! `tessera estimate train|serve --format json`: one layout on one chip.

use crate::plan::{ServeLayoutV1, StepCostV1};
use crate::train::{BreakdownV1, MemoryGibV1};
use serde::Serialize;
use tessera_perf::serve::{Bottleneck, LengthStats, ServePrecision};
use tessera_perf::train::{Recompute, TrainPrecision};

/// `bf16` or `fp8`.
pub fn train_precision(p: TrainPrecision) -> &'static str {
    match p {
        TrainPrecision::Bf16 => "bf16",
        TrainPrecision::Fp8 => "fp8",
    }
}

/// `none`, `selective`, `full` or `mla-up-proj`.
pub fn recompute(r: Recompute) -> &'static str {
    match r {
        Recompute::None => "none",
        Recompute::Selective => "selective",
        Recompute::Full => "full",
        Recompute::MlaUpProj => "mla-up-proj",
    }
}

/// `bf16`, `fp8`, `int8`, `int4` or `fp4`.
pub fn serve_precision(p: ServePrecision) -> &'static str {
    p.as_str()
}

/// `compute`, `memory-bandwidth` or `communication`.
pub fn bottleneck(b: Bottleneck) -> &'static str {
    match b {
        Bottleneck::Compute => "compute",
        Bottleneck::MemoryBandwidth => "memory-bandwidth",
        Bottleneck::Communication => "communication",
    }
}

/// The layout `estimate train` was asked about, with the batch it implies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstimateLayoutV1 {
    pub tp: u32,
    pub pp: u32,
    pub dp: u32,
    pub cp: u32,
    pub ep: u32,
    pub etp: u32,
    pub vpp: u32,
    pub micro_batch: u32,
    /// Sequences per optimizer step.
    pub global_batch: u32,
    /// Tokens per sequence.
    pub seq_len: u32,
    pub microbatches_per_step: Option<u32>,
    pub sequence_parallel: bool,
    pub zero: u8,
    /// `none`, `selective`, `full` or `mla-up-proj`.
    pub recompute: &'static str,
    pub uneven_pp: bool,
}

/// The cost of a whole run of `tokens` tokens (`--tokens`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingCostV1 {
    pub tokens: f64,
    pub days: f64,
    pub chip_hours: f64,
    /// Chip TDP only: host, network and cooling are not included.
    pub energy_mwh: Option<f64>,
    pub energy_cost_usd: Option<f64>,
    /// Chip price amortised over `amortization_years`, per chip-hour used.
    pub capital_cost_usd: Option<f64>,
    pub total_cost_usd: Option<f64>,
}

/// `tessera estimate train --format json`. The numbers are `null` when the layout
/// cannot run (`feasible: false`, with `reason`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstimateTrainV1 {
    pub schema_version: u32,
    pub model: String,
    pub chip: String,
    pub chips: u64,
    pub stack: &'static str,
    /// `bf16` or `fp8`.
    pub precision: &'static str,
    /// The data-parallel gradient buffers' element type: `fp32` or `bf16`.
    pub grad_reduce: &'static str,
    pub layout: EstimateLayoutV1,
    pub feasible: bool,
    pub fits: bool,
    pub reason: Option<String>,
    pub step_time_s: Option<f64>,
    pub tokens_per_s: Option<f64>,
    pub tokens_per_s_per_chip: Option<f64>,
    pub model_tflops_per_chip: Option<f64>,
    pub hardware_tflops_per_chip: Option<f64>,
    pub mfu: Option<f64>,
    pub hfu: Option<f64>,
    pub memory_gib_per_chip: Option<f64>,
    /// GiB per chip on the busiest pipeline rank (keys end in `_gib`).
    pub memory: Option<MemoryGibV1>,
    pub breakdown: Option<BreakdownV1>,
    pub calibrated: bool,
    pub calibration_note: String,
    /// Catalog figures this estimate rests on that are neither exact nor vendor-claimed.
    pub unverified_inputs: Vec<String>,
    pub training: Option<TrainingCostV1>,
}

/// Memory per chip of a serving replica, GiB.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServeMemoryGibV1 {
    pub weights: f64,
    pub kv_cache: f64,
    pub reserved: f64,
    pub total: f64,
    pub capacity: f64,
}

/// Moments of a request-length distribution (`--lengths`), tokens.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LengthStatsV1 {
    pub mean_input: f64,
    pub mean_output: f64,
    pub mean_input_sq: f64,
    pub p90_input: f64,
    pub p90_output: f64,
}

impl From<&LengthStats> for LengthStatsV1 {
    fn from(l: &LengthStats) -> Self {
        LengthStatsV1 {
            mean_input: l.mean_input,
            mean_output: l.mean_output,
            mean_input_sq: l.mean_input_sq,
            p90_input: l.p90_input,
            p90_output: l.p90_output,
        }
    }
}

/// `tessera estimate serve --format json`: seconds, tokens/s, GiB. The numbers are
/// `null` when the layout cannot run (`reason` says why).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EstimateServeV1 {
    pub model: String,
    pub chip: String,
    pub chips: u64,
    pub stack: &'static str,
    /// `bf16`, `fp8`, `int8`, `int4` or `fp4`.
    pub precision: &'static str,
    pub kv_bytes_per_element: f64,
    pub layout: ServeLayoutV1,
    pub prefill_layout: Option<ServeLayoutV1>,
    /// `offline`, `slo`, `concurrency` or `rate`.
    pub mode: &'static str,
    pub input_len: u32,
    pub output_len: u32,
    pub fits: bool,
    pub reason: Option<String>,
    pub lengths: Option<LengthStatsV1>,
    pub ttft_s: Option<f64>,
    pub ttft_p90_s: Option<f64>,
    pub e2e_p90_s: Option<f64>,
    pub tpot_s: Option<f64>,
    /// Under Poisson arrivals at --rate (the means in the other modes).
    pub ttft_p50_s: Option<f64>,
    pub ttft_p99_s: Option<f64>,
    pub tpot_p50_s: Option<f64>,
    pub tpot_p99_s: Option<f64>,
    pub utilization: Option<f64>,
    pub e2e_latency_s: Option<f64>,
    pub output_tokens_per_s: Option<f64>,
    pub output_tokens_per_s_per_chip: Option<f64>,
    pub total_tokens_per_s: Option<f64>,
    pub requests_per_s: Option<f64>,
    pub batch_per_replica: Option<f64>,
    pub max_concurrency: Option<f64>,
    pub kv_bytes_per_token: Option<f64>,
    /// `compute`, `memory-bandwidth` or `communication`.
    pub bottleneck: Option<&'static str>,
    pub memory_gib_per_chip: Option<ServeMemoryGibV1>,
    pub decode_step: Option<StepCostV1>,
    pub prefill_tokens_per_s_per_chip: Option<f64>,
    pub calibrated: bool,
    pub calibration_note: String,
    /// Catalog figures this estimate rests on that are neither exact nor vendor-claimed.
    pub unverified_inputs: Vec<String>,
}
