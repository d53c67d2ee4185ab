//! `tessera validate train|serve --format json`: predictions against published runs.

use serde::Serialize;
use tessera_perf::calib::Efficiency;
use tessera_perf::serve::ServeEfficiency;
use tessera_validate::serve::{ServeReport, ServeRowResult};
use tessera_validate::{Mape, Report, RowResult, Skipped};

/// One training row: a published run and tessera's prediction of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainRowV1 {
    pub id: String,
    pub group: &'static str,
    /// `calibration`, `holdout` or `sanity`.
    pub split: String,
    pub model: String,
    pub chip: String,
    pub stack: String,
    pub metric: String,
    pub measured: f64,
    pub predicted: f64,
    /// (predicted - measured) / measured, percent.
    pub error_pct: f64,
    pub layout: String,
    /// The layout was searched (the source did not state it).
    pub layout_searched: bool,
    pub assume: Option<String>,
    pub calibrated: bool,
    /// `bf16` or `fp8`.
    pub precision: &'static str,
    pub fits: bool,
    pub memory_gib_per_chip: f64,
}

impl From<&RowResult> for TrainRowV1 {
    fn from(r: &RowResult) -> Self {
        TrainRowV1 {
            id: r.id.clone(),
            group: r.group,
            split: r.split.clone(),
            model: r.model.clone(),
            chip: r.chip.clone(),
            stack: r.stack.clone(),
            metric: r.metric.clone(),
            measured: r.measured,
            predicted: r.predicted,
            error_pct: r.error_pct,
            layout: r.layout.clone(),
            layout_searched: r.layout_searched,
            assume: r.assume.clone(),
            calibrated: r.calibrated,
            precision: r.precision,
            fits: r.fits,
            memory_gib_per_chip: r.memory_gib_per_chip,
        }
    }
}

/// A row not predicted, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedV1 {
    pub id: String,
    pub reason: String,
}

impl From<&Skipped> for SkippedV1 {
    fn from(s: &Skipped) -> Self {
        SkippedV1 {
            id: s.id.clone(),
            reason: s.reason.clone(),
        }
    }
}

/// Mean absolute percentage error of one split and group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapeV1 {
    pub split: String,
    pub group: String,
    pub rows: usize,
    pub mape_pct: f64,
    pub max_abs_error_pct: f64,
}

impl From<&Mape> for MapeV1 {
    fn from(m: &Mape) -> Self {
        MapeV1 {
            split: m.split.clone(),
            group: m.group.clone(),
            rows: m.rows,
            mape_pct: m.mape_pct,
            max_abs_error_pct: m.max_abs_error_pct,
        }
    }
}

/// The training model's efficiency parameters (fractions of peak unless the name says
/// otherwise; `*_h` in units of the hidden size; bytes; seconds).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EfficiencyV1 {
    pub gemm_max: f64,
    pub gemm_knee: f64,
    pub attn_eff: f64,
    pub causal_exec: f64,
    pub fp8_rel: f64,
    pub moe_gemm_rel: f64,
    pub moe_fp8_rel: f64,
    pub moe_elementwise_h: f64,
    pub elementwise_h: f64,
    pub scale_up_eff: f64,
    pub scale_out_eff: f64,
    pub tp_exposed: f64,
    pub cp_exposed: f64,
    pub ep_exposed: f64,
    pub pp_exposed: f64,
    pub dp_exposed: f64,
    pub grad_comm_bytes: f64,
    pub reserved_bytes: f64,
    pub step_overhead_s: f64,
    pub calibrated: bool,
}

impl From<&Efficiency> for EfficiencyV1 {
    fn from(e: &Efficiency) -> Self {
        EfficiencyV1 {
            gemm_max: e.gemm_max,
            gemm_knee: e.gemm_knee,
            attn_eff: e.attn_eff,
            causal_exec: e.causal_exec,
            fp8_rel: e.fp8_rel,
            moe_gemm_rel: e.moe_gemm_rel,
            moe_fp8_rel: e.moe_fp8_rel,
            moe_elementwise_h: e.moe_elementwise_h,
            elementwise_h: e.elementwise_h,
            scale_up_eff: e.scale_up_eff,
            scale_out_eff: e.scale_out_eff,
            tp_exposed: e.tp_exposed,
            cp_exposed: e.cp_exposed,
            ep_exposed: e.ep_exposed,
            pp_exposed: e.pp_exposed,
            dp_exposed: e.dp_exposed,
            grad_comm_bytes: e.grad_comm_bytes,
            reserved_bytes: e.reserved_bytes,
            step_overhead_s: e.step_overhead_s,
            calibrated: e.calibrated,
        }
    }
}

/// A training fit (`validate train --fit`): one family, stack and precision set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainFitV1 {
    pub family: String,
    pub stack: &'static str,
    pub precisions: Vec<String>,
    pub calibration_mape_before_pct: f64,
    pub calibration_mape_after_pct: f64,
    pub parameters: EfficiencyV1,
}

/// `tessera validate train --format json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidateTrainV1 {
    pub schema_version: u32,
    pub rows: Vec<TrainRowV1>,
    pub skipped: Vec<SkippedV1>,
    pub mape: Vec<MapeV1>,
    pub fitted: Option<Vec<TrainFitV1>>,
}

impl ValidateTrainV1 {
    pub fn new(r: &Report, fitted: Option<Vec<TrainFitV1>>) -> Self {
        ValidateTrainV1 {
            schema_version: crate::SCHEMA_VERSION,
            rows: r.rows.iter().map(TrainRowV1::from).collect(),
            skipped: r.skipped.iter().map(SkippedV1::from).collect(),
            mape: r.mape.iter().map(MapeV1::from).collect(),
            fitted,
        }
    }
}

/// One serving row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServeRowV1 {
    pub id: String,
    pub group: &'static str,
    pub split: String,
    pub model: String,
    pub chip: String,
    pub stack: String,
    pub metric: String,
    /// Input and output lengths, tokens.
    pub input: u32,
    pub output: u32,
    pub measured: f64,
    pub predicted: f64,
    pub error_pct: f64,
    pub layout: String,
    pub assume: Option<String>,
}

impl From<&ServeRowResult> for ServeRowV1 {
    fn from(r: &ServeRowResult) -> Self {
        ServeRowV1 {
            id: r.id.clone(),
            group: r.group,
            split: r.split.clone(),
            model: r.model.clone(),
            chip: r.chip.clone(),
            stack: r.stack.clone(),
            metric: r.metric.clone(),
            input: r.input,
            output: r.output,
            measured: r.measured,
            predicted: r.predicted,
            error_pct: r.error_pct,
            layout: r.layout.clone(),
            assume: r.assume.clone(),
        }
    }
}

/// The serving model's efficiency parameters (fractions unless the name says otherwise).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServeEfficiencyV1 {
    pub mem_eff: f64,
    pub decode_gemm_eff: f64,
    pub prefill_eff: f64,
    pub step_overhead_s: f64,
    pub coll_latency_s: f64,
    pub link_eff: f64,
    pub kv_fraction: f64,
    pub reserved_bytes: f64,
    pub max_batch: f64,
    pub moe_rel: f64,
    pub kv_eff: f64,
    pub layer_overhead_s: f64,
    pub moe_knee_tokens: f64,
    pub comm_overlap: bool,
    pub calibrated: bool,
}

impl From<&ServeEfficiency> for ServeEfficiencyV1 {
    fn from(e: &ServeEfficiency) -> Self {
        ServeEfficiencyV1 {
            mem_eff: e.mem_eff,
            decode_gemm_eff: e.decode_gemm_eff,
            prefill_eff: e.prefill_eff,
            step_overhead_s: e.step_overhead_s,
            coll_latency_s: e.coll_latency_s,
            link_eff: e.link_eff,
            kv_fraction: e.kv_fraction,
            reserved_bytes: e.reserved_bytes,
            max_batch: e.max_batch,
            moe_rel: e.moe_rel,
            kv_eff: e.kv_eff,
            layer_overhead_s: e.layer_overhead_s,
            moe_knee_tokens: e.moe_knee_tokens,
            comm_overlap: e.comm_overlap,
            calibrated: e.calibrated,
        }
    }
}

/// A serving fit (`validate serve --fit`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServeFitV1 {
    pub family: String,
    pub stack: &'static str,
    pub calibration_mape_before_pct: f64,
    pub calibration_mape_after_pct: f64,
    pub parameters: ServeEfficiencyV1,
}

/// `tessera validate serve --format json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidateServeV1 {
    pub rows: Vec<ServeRowV1>,
    pub skipped: Vec<SkippedV1>,
    pub mape: Vec<MapeV1>,
    pub fitted: Option<Vec<ServeFitV1>>,
}

impl ValidateServeV1 {
    pub fn new(r: &ServeReport, fitted: Option<Vec<ServeFitV1>>) -> Self {
        ValidateServeV1 {
            rows: r.rows.iter().map(ServeRowV1::from).collect(),
            skipped: r.skipped.iter().map(SkippedV1::from).collect(),
            mape: r.mape.iter().map(MapeV1::from).collect(),
            fitted,
        }
    }
}
