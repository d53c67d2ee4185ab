//! One training job over pools of different chips.
//!
//! (a) Pipeline stages on different pools, with the layers split to balance stage times.
//! (b) Data-parallel groups on different pools, with batch shares that balance step times
//!     and gradients synchronised over the inter-pool link.
//!
//! Both start from each pool's best homogeneous plan and report the combined throughput
//! as a fraction of the sum of the pools' homogeneous throughputs.

use tessera_core::model::ModelArch;

/// A pool's best homogeneous plan, summarised.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolBest {
    pub pool: String,
    pub chips: u64,
    pub tokens_per_s: f64,
    pub step_time_s: f64,
    pub tp: u32,
    pub pp: u32,
    pub memory_gib_per_chip: f64,
    pub capacity_gib: f64,
    /// Weights + gradients + optimizer per chip, GiB (scales with the layers held).
    pub state_gib_per_chip: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MixedPlan {
    pub form: &'static str,
    pub pools: Vec<String>,
    pub tokens_per_s: f64,
    /// Combined throughput / sum of the pools' homogeneous throughputs.
    pub efficiency: f64,
    /// Share of the global batch (form b) or of the layers (form a) per pool.
    pub shares: Vec<f64>,
    /// Layers per pool (form a).
    pub layers: Vec<u64>,
    pub sync_s: f64,
    pub feasible: bool,
    pub note: String,
}

/// Form (b): data-parallel groups on each pool. Each step, the pools exchange their
/// gradients: a ring all-reduce over `k` pools of the model's bf16 gradients, carried by
/// the chips of one model replica (tp x pp chips) in parallel over the link.
pub fn data_parallel(
    m: &ModelArch,
    pools: &[PoolBest],
    link_gb_s_per_chip: f64,
    global_batch_tokens: f64,
) -> MixedPlan {
    let total: f64 = pools.iter().map(|p| p.tokens_per_s).sum();
    let k = pools.len() as f64;
    let carriers = pools
        .iter()
        .map(|p| (p.tp * p.pp) as f64)
        .fold(f64::INFINITY, f64::min)
        .max(1.0);
    let grad_bytes = m.total_params() as f64 * 2.0;
    let sync_s = if k > 1.0 {
        2.0 * (k - 1.0) / k * grad_bytes / (link_gb_s_per_chip * 1e9 * carriers)
    } else {
        0.0
    };
    let compute_s = global_batch_tokens / total;
    let tps = global_batch_tokens / (compute_s + sync_s);
    MixedPlan {
        form: "data-parallel",
        pools: pools.iter().map(|p| p.pool.clone()).collect(),
        tokens_per_s: tps,
        efficiency: tps / total,
        shares: pools.iter().map(|p| p.tokens_per_s / total).collect(),
        layers: vec![],
        sync_s,
        feasible: true,
        note: format!(
            "batch shares follow each pool's throughput so steps end together; {:.2} s per step to all-reduce {:.1} GB of gradients across pools at {link_gb_s_per_chip} GB/s per chip over {carriers:.0} chips",
            sync_s,
            grad_bytes / 1e9
        ),
    }
}

/// Form (a): pipeline stages on each pool, layers split in proportion to each pool's
/// per-layer speed (its throughput x its layer count). Activations cross the inter-pool
/// link once per micro-batch each way; the first pool's state memory must fit.
pub fn pipeline(
    m: &ModelArch,
    pools: &[PoolBest],
    link_gb_s_per_chip: f64,
    seq: u32,
    micro_batch: u32,
) -> MixedPlan {
    let total: f64 = pools.iter().map(|p| p.tokens_per_s).sum();
    let layers = m.layers;
    let mut split: Vec<u64> = pools
        .iter()
        .map(|p| ((p.tokens_per_s / total) * layers as f64).round().max(1.0) as u64)
        .collect();
    let sum: u64 = split.iter().sum();
    if let Some(last) = split.last_mut() {
        *last = (*last + layers).saturating_sub(sum).max(1);
    }
    // Each pool's layer share against its throughput share sets the bottleneck.
    let bottleneck = pools
        .iter()
        .zip(&split)
        .map(|(p, l)| (*l as f64 / layers as f64) / (p.tokens_per_s / total))
        .fold(0.0f64, f64::max);
    let ideal = total / bottleneck.max(1e-9);
    // Activation transfer per micro-batch across each pool boundary, both directions.
    let act = micro_batch as f64 * seq as f64 * m.hidden as f64 * 2.0;
    let carriers = pools
        .iter()
        .map(|p| p.tp as f64)
        .fold(f64::INFINITY, f64::min)
        .max(1.0);
    let boundaries = (pools.len() - 1) as f64;
    let transfer_per_token = 2.0 * boundaries * act
        / (link_gb_s_per_chip * 1e9 * carriers)
        / (micro_batch as f64 * seq as f64);
    // The transfer overlaps with other micro-batches' compute, except on the boundary
    // stages; charge it against the bottleneck pool's time per token.
    let time_per_token = 1.0 / ideal + transfer_per_token / pools.len() as f64;
    let tps = 1.0 / time_per_token;
    // Memory: each pool keeps its homogeneous layout's chips but holds only its share of
    // the layers, so its per-chip state shrinks; activations per stage are unchanged.
    let feasible = pools
        .iter()
        .all(|p| p.memory_gib_per_chip <= p.capacity_gib);
    let note = format!(
        "layers split {split:?} by per-pool speed; activations cross at {link_gb_s_per_chip} GB/s per chip"
    );
    MixedPlan {
        form: "pipeline",
        pools: pools.iter().map(|p| p.pool.clone()).collect(),
        tokens_per_s: tps,
        efficiency: tps / total,
        shares: split.iter().map(|l| *l as f64 / layers as f64).collect(),
        layers: split,
        sync_s: 0.0,
        feasible,
        note,
    }
}
