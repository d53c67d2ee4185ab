//! Training estimates and plans.

use serde::Serialize;
use tessera_perf::train::{Breakdown, Estimate, Layout, Memory};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// A parallel layout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayoutV1 {
    pub tp: u32,
    pub pp: u32,
    pub dp: u32,
    pub cp: u32,
    pub ep: u32,
    pub etp: u32,
    pub vpp: u32,
    pub micro_batch: u32,
    pub sequence_parallel: bool,
    /// 0: plain data parallel; 1: optimizer states sharded; 2: + gradients; 3: + weights.
    pub zero: u8,
    /// "none", "selective" or "full".
    pub recompute: &'static str,
    pub uneven_pp: bool,
    /// Chips the layout uses (tp x pp x dp x cp).
    pub chips: u64,
}

impl From<&Layout> for LayoutV1 {
    fn from(l: &Layout) -> Self {
        LayoutV1 {
            tp: l.tp,
            pp: l.pp,
            dp: l.dp,
            cp: l.cp,
            ep: l.ep,
            etp: l.etp,
            vpp: l.vpp,
            micro_batch: l.micro_batch,
            sequence_parallel: l.sequence_parallel && l.tp > 1,
            zero: l.zero,
            recompute: crate::estimate::recompute(l.recompute),
            uneven_pp: l.uneven_pp,
            chips: l.chips(),
        }
    }
}

/// Memory per chip on the busiest pipeline rank, in GiB.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryGibV1 {
    pub weights_gib: f64,
    pub gradients_gib: f64,
    pub optimizer_gib: f64,
    pub activations_gib: f64,
    pub comm_buffers_gib: f64,
    pub reserved_gib: f64,
    pub total_gib: f64,
    pub capacity_gib: f64,
}

impl From<&Memory> for MemoryGibV1 {
    fn from(m: &Memory) -> Self {
        MemoryGibV1 {
            weights_gib: m.weights / GIB,
            gradients_gib: m.gradients / GIB,
            optimizer_gib: m.optimizer / GIB,
            activations_gib: m.activations / GIB,
            comm_buffers_gib: m.comm_buffers / GIB,
            reserved_gib: m.reserved / GIB,
            total_gib: m.total / GIB,
            capacity_gib: m.capacity / GIB,
        }
    }
}

/// Where a step's time goes, seconds on the critical path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BreakdownV1 {
    pub forward_s: f64,
    pub backward_s: f64,
    pub recompute_s: f64,
    pub tp_comm_s: f64,
    pub cp_comm_s: f64,
    pub ep_comm_s: f64,
    pub pp_comm_s: f64,
    pub dp_comm_s: f64,
    pub bubble_s: f64,
    pub optimizer_s: f64,
    pub overhead_s: f64,
    /// Communication beyond what overlap can hide.
    pub comm_bound_s: f64,
}

impl From<&Breakdown> for BreakdownV1 {
    fn from(b: &Breakdown) -> Self {
        BreakdownV1 {
            forward_s: b.forward_s,
            backward_s: b.backward_s,
            recompute_s: b.recompute_s,
            tp_comm_s: b.tp_comm_s,
            cp_comm_s: b.cp_comm_s,
            ep_comm_s: b.ep_comm_s,
            pp_comm_s: b.pp_comm_s,
            dp_comm_s: b.dp_comm_s,
            bubble_s: b.bubble_s,
            optimizer_s: b.optimizer_s,
            overhead_s: b.overhead_s,
            comm_bound_s: b.comm_bound_s,
        }
    }
}

/// One training step's estimate. Fractions (`mfu`, `hfu`) are 0-1.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainEstimateV1 {
    pub step_time_s: f64,
    pub tokens_per_s: f64,
    pub tokens_per_s_per_chip: f64,
    pub model_tflops_per_chip: f64,
    pub hardware_tflops_per_chip: f64,
    pub mfu: f64,
    pub hfu: f64,
    pub microbatches_per_step: u32,
    pub fits: bool,
    /// Why the layout cannot run (memory included); `null` when it can.
    pub infeasible_reason: Option<String>,
    pub memory: MemoryGibV1,
    pub breakdown: BreakdownV1,
    pub calibrated: bool,
}

impl From<&Estimate> for TrainEstimateV1 {
    fn from(e: &Estimate) -> Self {
        TrainEstimateV1 {
            step_time_s: e.step_time_s,
            tokens_per_s: e.tokens_per_s,
            tokens_per_s_per_chip: e.tokens_per_s_per_chip,
            model_tflops_per_chip: e.model_tflops_per_chip,
            hardware_tflops_per_chip: e.hardware_tflops_per_chip,
            mfu: e.mfu,
            hfu: e.hfu,
            microbatches_per_step: e.microbatches,
            fits: e.fits,
            infeasible_reason: e.infeasible.map(|r| r.to_string()),
            memory: (&e.memory).into(),
            breakdown: (&e.breakdown).into(),
            calibrated: e.calibrated,
        }
    }
}

/// A layout that lost, in the pool where it lost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectedV1 {
    pub pool: String,
    pub layout: LayoutV1,
    pub tokens_per_s: f64,
    pub why: String,
}

impl RejectedV1 {
    pub fn new(pool: &str, r: &tessera_plan::train::Rejected) -> RejectedV1 {
        RejectedV1 {
            pool: pool.to_string(),
            layout: (&r.layout).into(),
            tokens_per_s: r.tokens_per_s,
            why: r.why.clone(),
        }
    }
}

/// Launch arguments for a framework.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LaunchV1 {
    pub framework: &'static str,
    pub args: Vec<String>,
    pub notes: Vec<String>,
    /// A configuration file's text, for frameworks launched from one (FlagScale's YAML);
    /// omitted otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
}

impl From<&tessera_plan::launch::Launch> for LaunchV1 {
    fn from(l: &tessera_plan::launch::Launch) -> Self {
        LaunchV1 {
            framework: l.framework,
            args: l.args.clone(),
            notes: l.notes.clone(),
            config: l.config.clone(),
        }
    }
}
