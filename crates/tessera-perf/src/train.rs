//! The training model: step time, throughput, MFU and memory for one layout.
//!
//! Conventions (see docs/perf-model.md):
//! - FLOPs: 2 per multiply-add, backward = 2x forward. "Model FLOPs" count attention
//!   over the full sequence and exclude recompute (Megatron-LM convention); "hardware
//!   FLOPs" add the recomputed forward work.
//! - Activation memory follows Korthikanti et al. 2022, generalised to GQA, gated MLPs,
//!   MoE and flash attention.
//! - Communication uses ring collectives: an all-reduce moves 2(n-1)/n of the buffer
//!   through each rank's link, an all-gather or reduce-scatter (n-1)/n.

use crate::calib::Efficiency;
use crate::hw::Hardware;
use serde::Serialize;
use std::fmt;
use tessera_core::model::{Mlp, ModelArch};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recompute {
    None,
    /// Recompute the attention core (Korthikanti et al.'s selective recompute).
    Selective,
    /// Recompute every layer's forward pass from its input.
    Full,
}

impl Recompute {
    pub fn parse(s: &str) -> Option<Recompute> {
        match s {
            "none" => Some(Recompute::None),
            "selective" => Some(Recompute::Selective),
            "full" => Some(Recompute::Full),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrainPrecision {
    Bf16,
    Fp8,
}

/// A parallel layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Layout {
    pub tp: u32,
    pub pp: u32,
    pub dp: u32,
    pub cp: u32,
    pub ep: u32,
    /// Expert tensor parallelism (Megatron's expert-tensor-parallel-size).
    pub etp: u32,
    /// Virtual pipeline stages per rank (interleaved 1F1B); 1 = plain 1F1B.
    pub vpp: u32,
    pub micro_batch: u32,
    pub sequence_parallel: bool,
    /// 0: plain data parallel; 1: distributed optimizer (optimizer states sharded);
    /// 2: + gradients sharded; 3: + parameters sharded.
    pub zero: u8,
    pub recompute: Recompute,
    /// Allow a layer count that does not divide evenly into pp x vpp stages (Megatron's
    /// `--decoder-first-pipeline-num-layers` / `--decoder-last-pipeline-num-layers`); the
    /// busiest stage then holds the rounded-up share.
    pub uneven_pp: bool,
}

impl Layout {
    pub fn chips(&self) -> u64 {
        self.tp as u64 * self.pp as u64 * self.dp as u64 * self.cp as u64
    }
}

/// What is trained, on what batch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrainJob {
    pub seq_len: u32,
    pub global_batch: u32,
    pub precision: TrainPrecision,
    /// Dropout layers present (GPT-2/3-era models): adds masks to activation memory.
    pub dropout: bool,
    /// Attention uses a fused kernel that stores no s x s matrix (flash attention).
    pub flash_attention: bool,
}

/// Why a layout cannot run. Carries numbers, not text, so the hot path does not allocate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Infeasible {
    ZeroDegree,
    ChipCount {
        product: u64,
        chips: u64,
    },
    HeadsNotDivisible {
        heads: u64,
        tp: u32,
    },
    KvHeadsNotDivisible {
        kv_heads: u64,
        tp: u32,
    },
    LayersNotDivisible {
        layers: u64,
        stages: u32,
    },
    BatchNotDivisible {
        global_batch: u32,
        dp: u32,
        micro_batch: u32,
    },
    InterleaveNeedsPipeline,
    MicrobatchesNotDivisibleByPp {
        microbatches: u32,
        pp: u32,
    },
    SeqNotDivisible {
        seq: u32,
        by: u32,
    },
    NotMoe {
        ep: u32,
    },
    ExpertsNotDivisible {
        experts: u64,
        ep: u32,
    },
    EpTooLarge {
        ep: u32,
        etp: u32,
        dp_cp_tp: u64,
    },
    NoFp8,
    BadZero {
        zero: u8,
    },
    OutOfMemory {
        need_gib: f64,
        have_gib: f64,
    },
}

impl fmt::Display for Infeasible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Infeasible::ZeroDegree => write!(
                f,
                "every parallel degree and the micro-batch must be at least 1"
            ),
            Infeasible::ChipCount { product, chips } => write!(
                f,
                "dp x tp x pp x cp = {product}, but the job has {chips} chips"
            ),
            Infeasible::HeadsNotDivisible { heads, tp } => {
                write!(f, "{heads} attention heads do not divide over TP {tp}")
            }
            Infeasible::KvHeadsNotDivisible { kv_heads, tp } => {
                write!(f, "{kv_heads} key-value heads do not divide over TP {tp}")
            }
            Infeasible::LayersNotDivisible { layers, stages } => write!(
                f,
                "{layers} layers do not divide into {stages} pipeline stages (pp x vpp)"
            ),
            Infeasible::BatchNotDivisible {
                global_batch,
                dp,
                micro_batch,
            } => {
                write!(
                    f,
                    "global batch {global_batch} is not a multiple of dp {dp} x micro-batch {micro_batch}"
                )
            }
            Infeasible::InterleaveNeedsPipeline => {
                write!(f, "virtual pipeline stages (vpp > 1) need pp > 1")
            }
            Infeasible::MicrobatchesNotDivisibleByPp { microbatches, pp } => {
                write!(
                    f,
                    "the interleaved schedule needs the {microbatches} micro-batches per step to be a multiple of pp {pp}"
                )
            }
            Infeasible::SeqNotDivisible { seq, by } => write!(
                f,
                "sequence length {seq} is not a multiple of {by} (needed by CP / sequence parallelism)"
            ),
            Infeasible::NotMoe { ep } => write!(f, "EP {ep} needs a mixture-of-experts model"),
            Infeasible::ExpertsNotDivisible { experts, ep } => {
                write!(f, "{experts} experts do not divide over EP {ep}")
            }
            Infeasible::EpTooLarge { ep, etp, dp_cp_tp } => write!(
                f,
                "EP {ep} x expert-TP {etp} does not divide dp x cp x tp = {dp_cp_tp}"
            ),
            Infeasible::NoFp8 => write!(
                f,
                "the chip has no fp8 peak in the catalog, so fp8 training cannot be estimated"
            ),
            Infeasible::BadZero { zero } => write!(f, "ZeRO stage {zero} is not one of 0, 1, 2, 3"),
            Infeasible::OutOfMemory { need_gib, have_gib } => write!(
                f,
                "needs {need_gib:.1} GiB per chip, which has {have_gib:.1} GiB"
            ),
        }
    }
}

/// Where a step's time goes, in seconds on the critical path.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Breakdown {
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
}

/// Memory per chip (the busiest pipeline stage), in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
pub struct Memory {
    pub weights: f64,
    pub gradients: f64,
    pub optimizer: f64,
    pub activations: f64,
    pub comm_buffers: f64,
    pub reserved: f64,
    pub total: f64,
    pub capacity: f64,
}

/// The result for one layout.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    pub step_time_s: f64,
    pub tokens_per_s: f64,
    pub tokens_per_s_per_chip: f64,
    pub model_tflops_per_chip: f64,
    pub hardware_tflops_per_chip: f64,
    pub mfu: f64,
    pub hfu: f64,
    pub breakdown: Breakdown,
    pub memory: Memory,
    pub memory_gib_per_chip: f64,
    pub fits: bool,
    /// Set when the layout cannot run; numbers are then those of the layout as if it could
    /// (for memory: how far over it is), or zero for structural problems.
    pub infeasible: Option<Infeasible>,
    pub microbatches: u32,
    pub calibrated: bool,
}

impl Estimate {
    fn infeasible(why: Infeasible) -> Estimate {
        Estimate {
            step_time_s: 0.0,
            tokens_per_s: 0.0,
            tokens_per_s_per_chip: 0.0,
            model_tflops_per_chip: 0.0,
            hardware_tflops_per_chip: 0.0,
            mfu: 0.0,
            hfu: 0.0,
            breakdown: Breakdown::default(),
            memory: Memory::default(),
            memory_gib_per_chip: 0.0,
            fits: false,
            infeasible: Some(why),
            microbatches: 0,
            calibrated: false,
        }
    }

    pub fn feasible(&self) -> bool {
        self.infeasible.is_none()
    }
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Checks the layout's structure against the model and job.
pub fn check_layout(
    m: &ModelArch,
    job: &TrainJob,
    l: &Layout,
    chips: u64,
) -> Result<u32, Infeasible> {
    if l.tp == 0
        || l.pp == 0
        || l.dp == 0
        || l.cp == 0
        || l.ep == 0
        || l.etp == 0
        || l.vpp == 0
        || l.micro_batch == 0
        || job.global_batch == 0
        || job.seq_len == 0
    {
        return Err(Infeasible::ZeroDegree);
    }
    if l.zero > 3 {
        return Err(Infeasible::BadZero { zero: l.zero });
    }
    if l.chips() != chips {
        return Err(Infeasible::ChipCount {
            product: l.chips(),
            chips,
        });
    }
    if !m.heads.is_multiple_of(l.tp as u64) {
        return Err(Infeasible::HeadsNotDivisible {
            heads: m.heads,
            tp: l.tp,
        });
    }
    if m.mla.is_none() && !m.kv_heads.is_multiple_of(l.tp as u64) {
        return Err(Infeasible::KvHeadsNotDivisible {
            kv_heads: m.kv_heads,
            tp: l.tp,
        });
    }
    let stages = l.pp * l.vpp;
    if m.layers < stages as u64 || (!l.uneven_pp && !m.layers.is_multiple_of(stages as u64)) {
        return Err(Infeasible::LayersNotDivisible {
            layers: m.layers,
            stages,
        });
    }
    let per_step = l.dp * l.micro_batch;
    if !job.global_batch.is_multiple_of(per_step) {
        return Err(Infeasible::BatchNotDivisible {
            global_batch: job.global_batch,
            dp: l.dp,
            micro_batch: l.micro_batch,
        });
    }
    let micro = job.global_batch / per_step;
    if l.vpp > 1 {
        if l.pp == 1 {
            return Err(Infeasible::InterleaveNeedsPipeline);
        }
        if !micro.is_multiple_of(l.pp) {
            return Err(Infeasible::MicrobatchesNotDivisibleByPp {
                microbatches: micro,
                pp: l.pp,
            });
        }
    }
    let seq_div = if l.cp > 1 { 2 * l.cp } else { 1 }
        * if l.sequence_parallel && l.tp > 1 {
            l.tp
        } else {
            1
        };
    if !job.seq_len.is_multiple_of(seq_div) {
        return Err(Infeasible::SeqNotDivisible {
            seq: job.seq_len,
            by: seq_div,
        });
    }
    match &m.moe {
        None if l.ep > 1 => return Err(Infeasible::NotMoe { ep: l.ep }),
        Some(moe) => {
            if moe.experts % l.ep as u64 != 0 {
                return Err(Infeasible::ExpertsNotDivisible {
                    experts: moe.experts,
                    ep: l.ep,
                });
            }
            let dct = l.dp as u64 * l.cp as u64 * l.tp as u64;
            if !dct.is_multiple_of(l.ep as u64 * l.etp as u64) {
                return Err(Infeasible::EpTooLarge {
                    ep: l.ep,
                    etp: l.etp,
                    dp_cp_tp: dct,
                });
            }
        }
        None => {}
    }
    Ok(micro)
}

/// Per-token costs of a model, computed once per estimate.
#[derive(Debug, Clone, Copy)]
struct Costs {
    h: f64,
    layers: f64,
    /// Attention projection weights per layer.
    attn_mm: f64,
    /// Dense MLP weights per dense layer and the number of such layers.
    dense_mlp: f64,
    dense_layers: f64,
    /// Per MoE layer: routed expert weights one token passes (top-k), shared, router.
    moe_layers: f64,
    routed_active: f64,
    shared: f64,
    router: f64,
    top_k: f64,
    experts: f64,
    /// Parameters: non-expert (sharded by TP) and expert (sharded by EP x ETP).
    params_dense: f64,
    params_expert: f64,
    /// Attention widths (all heads): q/k per head sum and v.
    q_dim: f64,
    kv_dim: f64,
    heads: f64,
    qkv_head: f64,
    vocab: f64,
    /// MLP intermediate activation bytes factor (per unit of intermediate width).
    mlp_act: f64,
    ffn: f64,
    expert_ffn: f64,
}

fn costs(m: &ModelArch) -> Costs {
    let h = m.hidden as f64;
    let mlp_mats = |f: u64| match m.mlp {
        Mlp::Gated => 3.0 * h * f as f64,
        Mlp::Plain => 2.0 * h * f as f64,
    };
    let experts = m.moe.as_ref().map_or(1.0, |moe| moe.experts as f64);
    let (moe_layers, routed_active, shared, router, top_k, expert_ffn) = match &m.moe {
        Some(moe) => (
            m.moe_layers() as f64,
            moe.top_k as f64 * mlp_mats(moe.expert_ffn_hidden),
            moe.shared_experts as f64 * mlp_mats(moe.shared_ffn_hidden),
            h * moe.experts as f64,
            moe.top_k as f64,
            moe.expert_ffn_hidden as f64,
        ),
        None => (0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    };
    let p = m.params();
    let params_expert = p.routed_experts as f64;
    let params_dense = p.total() as f64 - params_expert;
    let (q_dim, kv_dim) = match &m.mla {
        Some(mla) => (
            (m.heads * (mla.qk_nope_head_dim + mla.qk_rope_head_dim)) as f64,
            // MLA materialises per-head K and V after the up-projection.
            (m.heads * (mla.qk_nope_head_dim + mla.qk_rope_head_dim + mla.v_head_dim)) as f64 / 2.0,
        ),
        None => (
            (m.heads * m.head_dim) as f64,
            (m.kv_heads * m.head_dim) as f64,
        ),
    };
    Costs {
        h,
        layers: m.layers as f64,
        attn_mm: m.attention_matmul_params_per_layer() as f64,
        dense_mlp: mlp_mats(m.ffn_hidden),
        dense_layers: m.dense_mlp_layers() as f64,
        moe_layers,
        routed_active,
        shared,
        router,
        top_k,
        experts,
        params_dense,
        params_expert,
        q_dim,
        kv_dim,
        heads: m.heads as f64,
        qkv_head: (m.qk_head_dim() + m.v_head_dim()) as f64,
        vocab: m.vocab as f64,
        mlp_act: match m.mlp {
            Mlp::Gated => 6.0,
            Mlp::Plain => 4.0,
        },
        ffn: m.ffn_hidden as f64,
        expert_ffn,
    }
}

/// Ring all-reduce time for `bytes` over `n` ranks at `bw` bytes/s per direction.
fn all_reduce(bytes: f64, n: f64, bw: f64) -> f64 {
    if n <= 1.0 {
        0.0
    } else {
        2.0 * (n - 1.0) / n * bytes / bw
    }
}

/// Ring all-gather or reduce-scatter time (output size `bytes`).
fn all_gather(bytes: f64, n: f64, bw: f64) -> f64 {
    if n <= 1.0 {
        0.0
    } else {
        (n - 1.0) / n * bytes / bw
    }
}

/// Estimates one training step. Never allocates.
pub fn estimate_train(
    m: &ModelArch,
    hw: &Hardware,
    eff: &Efficiency,
    job: &TrainJob,
    l: &Layout,
    chips: u64,
) -> Estimate {
    let micro = match check_layout(m, job, l, chips) {
        Ok(v) => v,
        Err(e) => return Estimate::infeasible(e),
    };
    let peak = match job.precision {
        TrainPrecision::Bf16 => hw.peak_16,
        TrainPrecision::Fp8 => match hw.peak_fp8 {
            Some(p) => p,
            None => return Estimate::infeasible(Infeasible::NoFp8),
        },
    };
    let gemm_rel = match job.precision {
        TrainPrecision::Bf16 => 1.0,
        TrainPrecision::Fp8 => eff.fp8_rel,
    };
    let c = costs(m);
    let (tp, pp, dp, cp, ep, etp, vpp) = (
        l.tp as f64,
        l.pp as f64,
        l.dp as f64,
        l.cp as f64,
        l.ep as f64,
        l.etp as f64,
        l.vpp as f64,
    );
    let s = job.seq_len as f64;
    let mb = l.micro_batch as f64;
    let mcount = micro as f64;
    let sp = l.sequence_parallel && l.tp > 1;
    // Tokens per rank per micro-batch.
    let t = mb * s / cp;

    // ---- compute, per micro-batch, per pipeline stage (layers / pp) ----
    // The busiest stage's share of the layers (rounded up for an uneven split).
    let layers_stage = (c.layers / (pp * vpp)).ceil() * vpp;
    let stage_share = layers_stage / c.layers;
    let lin_per_token = c.layers * c.attn_mm / tp
        + c.dense_layers * c.dense_mlp / tp
        + c.moe_layers * (c.shared / tp + c.router);
    // Routed experts: grouped GEMMs over the tokens each local expert receives.
    let expert_per_token = c.moe_layers * c.routed_active / etp;
    let attn_per_token = c.layers * 2.0 * c.heads / tp * c.qkv_head * s; // full sequence, forward
    let lin_flops_stage = 2.0 * t * lin_per_token * stage_share;
    let attn_flops_stage = t * attn_per_token * stage_share;
    let x = t * c.h / tp;
    let gemm_eff = (eff.gemm_max * gemm_rel * x / (x + eff.gemm_knee)).max(1e-6);
    let t_lin = lin_flops_stage / (peak * gemm_eff);
    let t_expert = if c.moe_layers > 0.0 {
        let tokens_per_expert = t * c.top_k * ep / c.experts;
        let xe = tokens_per_expert * c.h / etp;
        let e_rel = match job.precision {
            TrainPrecision::Bf16 => 1.0,
            TrainPrecision::Fp8 => eff.moe_fp8_rel,
        };
        let e_eff = (eff.gemm_max * e_rel * eff.moe_gemm_rel * xe / (xe + eff.gemm_knee)).max(1e-6);
        let flops = 2.0 * t * expert_per_token * stage_share;
        let moved = eff.moe_elementwise_h * c.h * t * c.top_k * c.moe_layers * stage_share;
        flops / (peak * e_eff) + moved / hw.mem_bw
    } else {
        0.0
    };
    let t_lin = t_lin + t_expert;
    // The attention core runs in 16-bit even in fp8 recipes.
    let t_attn = attn_flops_stage * eff.causal_exec / (hw.peak_16 * eff.attn_eff);
    // Sequence parallelism splits the element-wise work over TP ranks but adds the same
    // volume of collectives; Korthikanti et al. 2022 measure it as time-neutral, so the
    // element-wise time is not divided by TP here.
    let elem_bytes = eff.elementwise_h * c.h * t * layers_stage;
    let t_elem = elem_bytes / hw.mem_bw;
    // LM head on the last stage: forward and backward.
    // fp8 recipes keep the output layer in 16-bit.
    let head_flops = 2.0 * t * c.vocab * c.h / tp;
    let t_head_f = head_flops / (hw.peak_16 * gemm_eff / gemm_rel);
    let fwd = t_lin + t_attn + t_elem + t_head_f;
    let bwd = 2.0 * (t_lin + t_attn + t_head_f) + t_elem;
    let recompute = match l.recompute {
        Recompute::None => 0.0,
        Recompute::Selective => t_attn + 0.3 * t_elem,
        Recompute::Full => t_lin + t_attn + t_elem,
    };

    // ---- communication per micro-batch per stage ----
    let bw_of = |span: f64| {
        if span <= hw.domain as f64 {
            hw.scale_up_bw * eff.scale_up_eff
        } else {
            hw.scale_out_bw * eff.scale_out_eff
        }
    };
    let act_bytes = t * c.h * 2.0;
    let tp_colls = 4.0
        + if l.recompute == Recompute::Full {
            2.0
        } else {
            0.0
        };
    let tp_comm = layers_stage * tp_colls * all_reduce(act_bytes, tp, bw_of(tp)) * eff.tp_exposed;
    // Ring attention passes K and V around the CP ranks while computing: the transfer
    // hides behind the attention core, up to the share `1 - cp_exposed` of it.
    let cp_comm = if l.cp > 1 {
        let kv_bytes = t * 2.0 * c.kv_dim / tp * 2.0;
        let comm = layers_stage * 3.0 * (cp - 1.0) * kv_bytes / bw_of(cp * tp);
        (comm - 3.0 * t_attn * (1.0 - eff.cp_exposed)).max(comm * 0.05)
    } else {
        0.0
    };
    let ep_comm = if l.ep > 1 {
        let per_a2a = t * c.top_k * c.h * 2.0 * (ep - 1.0) / ep / bw_of(ep * etp);
        let a2a = 4.0
            + if l.recompute == Recompute::Full {
                2.0
            } else {
                0.0
            };
        c.moe_layers * stage_share * a2a * per_a2a * eff.ep_exposed
    } else {
        0.0
    };
    let pp_comm = if l.pp > 1 {
        let span = tp * cp * dp * pp;
        // Megatron's scatter/gather optimisation (Narayanan et al. 2021) sends 1/tp of the
        // activation from each TP rank.
        2.0 * vpp * act_bytes / tp / bw_of(span) * eff.pp_exposed
    } else {
        0.0
    };

    let per_mb = fwd + bwd + recompute + tp_comm + cp_comm + ep_comm + pp_comm;
    let bubble = (pp - 1.0) / vpp * per_mb;
    let pipeline = mcount * per_mb + bubble;

    // ---- data parallel and optimizer ----
    let p_rank = (c.params_dense / tp + c.params_expert / (ep * etp)) * stage_share.max(1.0 / pp);
    let dp_span = tp * cp * dp;
    let bw_dp = bw_of(dp_span);
    let dp_full = if l.zero >= 1 {
        all_gather(p_rank * eff.grad_comm_bytes, dp * cp, bw_dp)
            + all_gather(p_rank * 2.0, dp * cp, bw_dp)
    } else {
        all_reduce(p_rank * eff.grad_comm_bytes, dp * cp, bw_dp)
    };
    let zero3 = if l.zero == 3 {
        2.0 * mcount * all_gather(p_rank * 2.0, dp, bw_dp)
    } else {
        0.0
    };
    let dp_comm = dp_full * eff.dp_exposed + zero3 * eff.dp_exposed;
    let opt_params = if l.zero >= 1 {
        p_rank / (dp * cp)
    } else {
        p_rank
    };
    let optimizer = opt_params * 30.0 / (hw.mem_bw * 0.8);
    let step = pipeline + dp_comm + optimizer + eff.step_overhead_s;

    // ---- memory on the busiest stage ----
    let shard = |stage: u8| if l.zero >= stage { dp * cp } else { 1.0 };
    let weights = p_rank * 2.0 / shard(3);
    let gradients = p_rank * 4.0 / shard(2);
    let optimizer_bytes = p_rank * 12.0 / shard(1);
    let d_rep = if sp { tp } else { 1.0 };
    let repl = (8.0 + if job.dropout { 2.0 } else { 0.0 }) * c.h;
    let core = if job.flash_attention || l.recompute != Recompute::None {
        0.0
    } else {
        (if job.dropout { 5.0 } else { 2.0 }) * c.heads * s / cp
    };
    let attn_sh = 2.0 * (c.q_dim + 2.0 * c.kv_dim) + 2.0 * c.q_dim + core;
    let dense_layer = repl / d_rep + (attn_sh + c.mlp_act * c.ffn) / tp;
    let moe_layer =
        repl / d_rep + attn_sh / tp + c.top_k * (c.mlp_act * c.expert_ffn / etp + 4.0 * c.h);
    let per_token_all_layers = match l.recompute {
        Recompute::Full => c.layers * 2.0 * c.h / d_rep,
        _ => c.dense_layers * dense_layer + c.moe_layers * moe_layer,
    };
    let in_flight = mcount.min(pp);
    let interleave = if l.vpp > 1 {
        1.0 + (pp - 1.0) / (pp * vpp)
    } else {
        1.0
    };
    let first_stage = per_token_all_layers * stage_share * t * in_flight * interleave;
    let logits = if l.pp == 1 {
        4.0 * 2.0 * t * c.vocab / tp
    } else {
        0.0
    };
    let last_stage = per_token_all_layers * stage_share * t + 4.0 * 2.0 * t * c.vocab / tp;
    let activations = (first_stage + logits).max(last_stage);
    let comm_buffers = 2.0 * act_bytes
        + if l.ep > 1 {
            2.0 * t * c.top_k * c.h * 2.0
        } else {
            0.0
        };
    let total =
        weights + gradients + optimizer_bytes + activations + comm_buffers + eff.reserved_bytes;
    let fits = total <= hw.mem_bytes;

    // ---- throughput and utilisation ----
    let tokens = job.global_batch as f64 * s;
    let tokens_per_s = tokens / step;
    let n = chips as f64;
    let model_flops_token = 3.0
        * (2.0 * m.matmul_params_per_token() as f64
            + m.attention_flops_per_token_fwd(job.seq_len as u64));
    let recompute_flops_token = match l.recompute {
        Recompute::None => 0.0,
        Recompute::Selective => m.attention_flops_per_token_fwd(job.seq_len as u64),
        Recompute::Full => {
            2.0 * (m.matmul_params_per_token() - m.vocab * m.hidden) as f64
                + m.attention_flops_per_token_fwd(job.seq_len as u64)
        }
    };
    let model_tflops = model_flops_token * tokens_per_s / n / 1e12;
    let hw_tflops = (model_flops_token + recompute_flops_token) * tokens_per_s / n / 1e12;
    let peak_tf = peak / 1e12;
    let stage_fwd = mcount * fwd;
    Estimate {
        step_time_s: step,
        tokens_per_s,
        tokens_per_s_per_chip: tokens_per_s / n,
        model_tflops_per_chip: model_tflops,
        hardware_tflops_per_chip: hw_tflops,
        mfu: model_tflops / peak_tf,
        hfu: hw_tflops / peak_tf,
        breakdown: Breakdown {
            forward_s: stage_fwd,
            backward_s: mcount * bwd,
            recompute_s: mcount * recompute,
            tp_comm_s: mcount * tp_comm,
            cp_comm_s: mcount * cp_comm,
            ep_comm_s: mcount * ep_comm,
            pp_comm_s: mcount * pp_comm,
            dp_comm_s: dp_comm,
            bubble_s: bubble,
            optimizer_s: optimizer,
            overhead_s: eff.step_overhead_s,
        },
        memory: Memory {
            weights,
            gradients,
            optimizer: optimizer_bytes,
            activations,
            comm_buffers,
            reserved: eff.reserved_bytes,
            total,
            capacity: hw.mem_bytes,
        },
        memory_gib_per_chip: total / GIB,
        fits,
        infeasible: if fits {
            None
        } else {
            Some(Infeasible::OutOfMemory {
                need_gib: total / GIB,
                have_gib: hw.mem_bytes / GIB,
            })
        },
        microbatches: micro,
        calibrated: eff.calibrated,
    }
}
