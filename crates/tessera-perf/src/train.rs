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
use std::fmt;
use tessera_core::model::{Mlp, ModelArch};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recompute {
    None,
    /// Recompute the attention core (Korthikanti et al.'s selective recompute).
    Selective,
    /// Recompute every layer's forward pass from its input.
    Full,
    /// Megatron's `--recompute-modules mla_up_proj` (MLA models): keep only the compressed
    /// query and key-value latents and redo their up-projections in the backward pass.
    MlaUpProj,
}

impl Recompute {
    pub fn parse(s: &str) -> Option<Recompute> {
        match s {
            "none" => Some(Recompute::None),
            "selective" => Some(Recompute::Selective),
            "full" => Some(Recompute::Full),
            "mla-up-proj" => Some(Recompute::MlaUpProj),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrainPrecision {
    Bf16,
    Fp8,
}

/// A parallel layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainJob {
    pub seq_len: u32,
    pub global_batch: u32,
    pub precision: TrainPrecision,
    /// Dropout layers present (GPT-2/3-era models): adds masks to activation memory.
    pub dropout: bool,
    /// Attention uses a fused kernel that stores no s x s matrix (flash attention).
    pub flash_attention: bool,
    /// The element type of the data-parallel gradient buffers and their reduction.
    pub grad_reduce: GradReduce,
}

/// The element type of the data-parallel gradient buffers, in which gradients accumulate
/// over micro-batches and are reduced: Megatron-Core's `grad_reduce_in_fp32`. Megatron-LM
/// forces fp32 for bf16 training (its `--accumulate-allreduce-grads-in-fp32`); NVIDIA's
/// performance recipes turn it off (Megatron-Bridge's Llama 3.1 and DeepSeek-V3 configs,
/// NeMo's performance scripts for fp8), halving the buffers and the reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GradReduce {
    #[default]
    Fp32,
    Bf16,
}

impl GradReduce {
    pub const ALL: [GradReduce; 2] = [GradReduce::Fp32, GradReduce::Bf16];

    /// Bytes per gradient element.
    pub fn bytes(self) -> f64 {
        match self {
            GradReduce::Fp32 => 4.0,
            GradReduce::Bf16 => 2.0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GradReduce::Fp32 => "fp32",
            GradReduce::Bf16 => "bf16",
        }
    }

    pub fn parse(s: &str) -> Option<GradReduce> {
        GradReduce::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// Why a layout cannot run. Carries numbers, not text, so the hot path does not allocate.
#[derive(Debug, Clone, Copy, PartialEq)]
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
    /// `mla-up-proj` recompute on a model without multi-head latent attention.
    RecomputeNeedsMla,
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
            Infeasible::RecomputeNeedsMla => write!(
                f,
                "mla-up-proj recompute needs a model with multi-head latent attention"
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
#[derive(Debug, Clone, Copy, PartialEq, Default)]
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
    /// Communication beyond what overlap can hide: the step is never shorter than its
    /// serialised communication.
    pub comm_bound_s: f64,
}

/// Memory per chip (the busiest pipeline stage), in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
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
#[derive(Debug, Clone, Copy, PartialEq)]
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
    /// One micro-batch's forward, backward, recompute and exposed TP/CP/EP/PP traffic on
    /// the busiest pipeline rank: the time a stage holds the pipeline per micro-batch.
    pub stage_s_per_microbatch: f64,
    /// The once-per-step data-parallel traffic before overlap (gradient reduce-scatter or
    /// all-reduce, parameter all-gather) and the compute it can hide behind (the last
    /// micro-batch's forward and backward): what a cross-pool exchange added to the same
    /// window would leave exposed.
    pub dp_once_raw_s: f64,
    pub dp_hide_s: f64,
}

/// A contiguous run of a model's layers placed as one pipeline segment (a heterogeneous
/// pipeline places one per pool): how many layers, whether it holds the embedding (first)
/// and the LM head (last), and how many pipeline stages follow it (under 1F1B a stage
/// holds one micro-batch's activations in flight for each stage from it to the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub layers: u64,
    pub first: bool,
    pub last: bool,
    pub stages_after: u32,
}

impl Segment {
    /// The whole model.
    pub fn whole(m: &ModelArch) -> Segment {
        Segment {
            layers: m.layers,
            first: true,
            last: true,
            stages_after: 0,
        }
    }
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
            stage_s_per_microbatch: 0.0,
            dp_once_raw_s: 0.0,
            dp_hide_s: 0.0,
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
    check_layout_of(m, m.layers, job, l, chips)
}

/// [`check_layout`] for a segment of `layers` layers.
fn check_layout_of(
    m: &ModelArch,
    layers: u64,
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
    if l.recompute == Recompute::MlaUpProj && m.mla.is_none() {
        return Err(Infeasible::RecomputeNeedsMla);
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
    if layers < stages as u64 || (!l.uneven_pp && !layers.is_multiple_of(stages as u64)) {
        return Err(Infeasible::LayersNotDivisible { layers, stages });
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
    /// Elements the activation function reads and writes per token: per dense layer, and
    /// per MoE layer (routed top-k and shared experts); and RoPE's q and k elements.
    act_dense: f64,
    act_moe_routed: f64,
    act_moe_shared: f64,
    rope: f64,
    /// MLA: elements of the compressed latents a token keeps (query, key-value, RoPE key),
    /// of the attention output, and the up-projection weights per layer.
    mla_latent: f64,
    mla_out: f64,
    mla_up: f64,
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
    // The activation function reads its input(s) and writes its output: gated MLPs read
    // two ffn-wide tensors and write one, plain ones read one and write one.
    let act_io = match m.mlp {
        Mlp::Gated => 3.0,
        Mlp::Plain => 2.0,
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
        act_dense: act_io * m.ffn_hidden as f64,
        act_moe_routed: match &m.moe {
            Some(moe) => act_io * (moe.top_k * moe.expert_ffn_hidden) as f64,
            None => 0.0,
        },
        act_moe_shared: match &m.moe {
            Some(moe) => act_io * (moe.shared_experts * moe.shared_ffn_hidden) as f64,
            None => 0.0,
        },
        rope: if m.position == tessera_core::model::Position::Rope {
            // read and write q and k
            2.0 * (q_dim + kv_dim)
        } else {
            0.0
        },
        mla_latent: m.mla.as_ref().map_or(0.0, |a| {
            (a.q_lora_rank.unwrap_or(m.hidden) + a.kv_lora_rank + a.qk_rope_head_dim) as f64
        }),
        mla_out: m
            .mla
            .as_ref()
            .map_or(0.0, |a| (m.heads * a.v_head_dim) as f64),
        mla_up: m.mla.as_ref().map_or(0.0, |a| {
            let q_up = a.q_lora_rank.map_or(0, |r| {
                r * m.heads * (a.qk_nope_head_dim + a.qk_rope_head_dim)
            });
            (q_up + a.kv_lora_rank * m.heads * (a.qk_nope_head_dim + a.v_head_dim)) as f64
        }),
    }
}

/// How a model's layers and parameters fall on the pipeline ranks. Rank `r` holds the
/// virtual stages `r, r + pp, ..., r + (vpp - 1) pp` (Megatron's interleaved assignment).
/// When the layers do not divide evenly, every virtual stage gets `base` layers but
/// `deficit` of them one fewer, taken alternately from the first and the last virtual
/// stage inwards (they also hold the embedding and the LM head; Llama 3 balanced its
/// 126 layers on 16 stages this way, Dubey et al. 2024, section 3.3.2).
#[derive(Debug, Clone, Copy)]
struct RankSplit {
    pp: u32,
    vpp: u32,
    base: u64,
    deficit: u64,
    stages: u64,
    /// The rank with the most layers, and how many it has.
    busiest: u32,
    max_layers: f64,
    /// Parameters per layer (averaged over the layers), non-expert and routed-expert.
    dense_per_layer: f64,
    expert_per_layer: f64,
    /// Embedding (first rank) and output layer (last rank) parameters.
    embed: f64,
    head: f64,
}

impl RankSplit {
    fn new(m: &ModelArch, c: &Costs, l: &Layout, seg: &Segment) -> RankSplit {
        let stages = l.pp as u64 * l.vpp as u64;
        let base = seg.layers.div_ceil(stages);
        let deficit = base * stages - seg.layers;
        let p = m.params();
        let head = if !seg.last {
            0.0
        } else if p.lm_head > 0 {
            p.lm_head as f64
        } else if l.pp > 1 || !seg.first {
            // Tied embeddings: the last stage keeps its own copy for the output layer.
            p.embedding as f64
        } else {
            0.0
        };
        let mut s = RankSplit {
            pp: l.pp,
            vpp: l.vpp,
            base,
            deficit,
            stages,
            busiest: 0,
            max_layers: 0.0,
            dense_per_layer: (c.params_dense - p.embedding as f64 - p.lm_head as f64)
                / m.layers as f64,
            expert_per_layer: c.params_expert / m.layers as f64,
            embed: if seg.first { p.embedding as f64 } else { 0.0 },
            head,
        };
        let mut r = 0;
        while r < l.pp {
            let n = s.layers_of(r);
            if n > s.max_layers {
                s.max_layers = n;
                s.busiest = r;
            }
            r = if deficit == 0 { l.pp } else { r + 1 };
        }
        s
    }

    /// Whether virtual stage `v` has one layer fewer.
    fn reduced(&self, v: u64) -> bool {
        let back = self.stages - 1 - v;
        let pos = if v <= back { 2 * v } else { 2 * back + 1 };
        pos < self.deficit
    }

    fn layers_of(&self, r: u32) -> f64 {
        let mut n = self.vpp as u64 * self.base;
        if self.deficit > 0 {
            for chunk in 0..self.vpp as u64 {
                if self.reduced(r as u64 + chunk * self.pp as u64) {
                    n -= 1;
                }
            }
        }
        n as f64
    }

    /// Non-expert parameters (split by TP) and expert parameters (split by EP x ETP) on
    /// one rank of pipeline rank `r`.
    fn params(&self, _c: &Costs, r: u32, tp: f64, ep_etp: f64) -> (f64, f64) {
        let n = self.layers_of(r);
        let mut dense = self.dense_per_layer * n;
        if r == 0 {
            dense += self.embed;
        }
        if r == self.pp - 1 {
            dense += self.head;
        }
        (dense / tp, self.expert_per_layer * n / ep_etp)
    }

    /// The next rank that can hold the memory peak: with an even split, only the first
    /// rank (most micro-batches in flight) and the last (LM head and logits).
    fn next_candidate(&self, r: u32) -> u32 {
        if self.deficit == 0 && r == 0 && self.pp > 1 {
            self.pp - 1
        } else if self.deficit == 0 {
            self.pp
        } else {
            r + 1
        }
    }
}

/// Layers of each virtual stage, in order (stage i on pipeline rank i mod pp), as the
/// model splits them: `ceil(layers / stages)` each, one fewer on `deficit` stages taken
/// alternately from the first and the last inwards. Allocates; for launch files, not
/// the estimate path.
pub fn stage_layers(layers: u64, pp: u32, vpp: u32) -> Vec<u64> {
    let stages = (pp.max(1) as u64 * vpp.max(1) as u64).min(layers.max(1));
    let base = layers.div_ceil(stages);
    let deficit = base * stages - layers;
    (0..stages)
        .map(|v| {
            let back = stages - 1 - v;
            let pos = if v <= back { 2 * v } else { 2 * back + 1 };
            if pos < deficit { base - 1 } else { base }
        })
        .collect()
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
    estimate_segment(m, hw, eff, job, l, chips, &Segment::whole(m))
}

/// Estimates one training step of a segment of the model's layers laid out by `l` on
/// `chips` chips, as one part of a longer pipeline: compute, traffic, memory (with the
/// activations in flight for the stages after it), data-parallel and optimizer time of
/// its own parameters. Its `stage_s_per_microbatch` is what a heterogeneous pipeline
/// balances; its step time and throughput are those of the segment run alone. With
/// [`Segment::whole`] it is [`estimate_train`]. Never allocates.
pub fn estimate_segment(
    m: &ModelArch,
    hw: &Hardware,
    eff: &Efficiency,
    job: &TrainJob,
    l: &Layout,
    chips: u64,
    seg: &Segment,
) -> Estimate {
    if seg.layers == 0 || seg.layers > m.layers {
        return Estimate::infeasible(Infeasible::LayersNotDivisible {
            layers: seg.layers,
            stages: l.pp.saturating_mul(l.vpp),
        });
    }
    let micro = match check_layout_of(m, seg.layers, job, l, chips) {
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
    let mut c = costs(m);
    if seg.layers != m.layers {
        // A segment carries the model's average layer: dense and MoE layers in proportion.
        let frac = seg.layers as f64 / m.layers as f64;
        c.layers = seg.layers as f64;
        c.dense_layers *= frac;
        c.moe_layers *= frac;
    }
    let head_on = if seg.last { 1.0 } else { 0.0 };
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
    // The busiest rank's layers (an uneven split takes layers from the first and last
    // virtual stages, which also hold the embedding and the LM head).
    let split = RankSplit::new(m, &c, l, seg);
    let layers_stage = split.max_layers;
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
    // The element-wise kernels must at least move (in 16-bit) the two residual adds (read
    // two, write one), the two norms (read, write), the activation function's inputs and
    // output, and RoPE's q and k: a floor no fusion goes below; `elementwise_h` is the
    // fitted traffic on top of it (unfused kernels, dropout, casts).
    let act_per_layer = (c.dense_layers * c.act_dense / tp
        + c.moe_layers * (c.act_moe_routed / etp + c.act_moe_shared / tp))
        / c.layers;
    let elem_floor = 2.0 * (10.0 * c.h + act_per_layer + c.rope / tp);
    let elem_bytes = (elem_floor + eff.elementwise_h * c.h) * t * layers_stage;
    let t_elem = elem_bytes / hw.mem_bw;
    // LM head on the last stage: forward and backward.
    // fp8 recipes keep the output layer in 16-bit.
    let head_flops = head_on * 2.0 * t * c.vocab * c.h / tp;
    let t_head_f = head_flops / (hw.peak_16 * gemm_eff / gemm_rel);
    let fwd = t_lin + t_attn + t_elem + t_head_f;
    // A fused (flash) attention backward recomputes the scores from Q and K before its
    // four gradient products: five matrix products to the forward's two, 2.5 times its
    // FLOPs (Dao 2023, FlashAttention-2, section 3.2). Unfused attention saves the
    // probabilities and needs two times.
    let attn_bwd = if job.flash_attention { 2.5 } else { 2.0 };
    let bwd = 2.0 * (t_lin + t_head_f) + attn_bwd * t_attn + t_elem;
    let recompute = match l.recompute {
        Recompute::None => 0.0,
        Recompute::Selective => t_attn + 0.3 * t_elem,
        Recompute::Full => t_lin + t_attn + t_elem,
        // The up-projection GEMMs again, at the dense GEMM rate.
        Recompute::MlaUpProj => 2.0 * t * c.mla_up / tp * layers_stage / (peak * gemm_eff),
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
    let tp_comm_raw = layers_stage * tp_colls * all_reduce(act_bytes, tp, bw_of(tp));
    let tp_comm = tp_comm_raw * eff.tp_exposed;
    // Ring attention passes K and V around the CP ranks while computing: the transfer
    // hides behind the attention core, up to the share `1 - cp_exposed` of it.
    let cp_comm_raw = if l.cp > 1 {
        let kv_bytes = t * 2.0 * c.kv_dim / tp * 2.0;
        layers_stage * 3.0 * (cp - 1.0) * kv_bytes / bw_of(cp * tp)
    } else {
        0.0
    };
    let cp_comm = if l.cp > 1 {
        (cp_comm_raw - 3.0 * t_attn * (1.0 - eff.cp_exposed)).max(cp_comm_raw * 0.05)
    } else {
        0.0
    };
    let ep_comm_raw = if l.ep > 1 {
        let per_a2a = t * c.top_k * c.h * 2.0 * (ep - 1.0) / ep / bw_of(ep * etp);
        let a2a = 4.0
            + if l.recompute == Recompute::Full {
                2.0
            } else {
                0.0
            };
        c.moe_layers * stage_share * a2a * per_a2a
    } else {
        0.0
    };
    let ep_comm = ep_comm_raw * eff.ep_exposed;
    let pp_comm_raw = if l.pp > 1 {
        let span = tp * cp * dp * pp;
        // Megatron's scatter/gather optimisation (Narayanan et al. 2021) sends 1/tp of the
        // activation from each TP rank.
        2.0 * vpp * act_bytes / tp / bw_of(span)
    } else {
        0.0
    };
    let pp_comm = pp_comm_raw * eff.pp_exposed;

    let per_mb = fwd + bwd + recompute + tp_comm + cp_comm + ep_comm + pp_comm;
    let bubble = (pp - 1.0) / vpp * per_mb;
    let pipeline = mcount * per_mb + bubble;

    // ---- data parallel and optimizer ----
    // Non-expert parameters are replicated over the data-parallel group (dp x cp) and
    // split by TP; expert parameters are split EP x ETP ways and replicated over the
    // expert-data-parallel group, (dp x cp x tp) / (ep x etp) ranks (Megatron-Core's
    // expert data parallelism). ZeRO shards each over its own replication group.
    let dshard = dp * cp;
    let eshard = (dp * cp * tp / (ep * etp)).max(1.0);
    let busy = split.busiest;
    let (pd_busy, pe_busy) = split.params(&c, busy, tp, ep * etp);
    let bw_dp = bw_of(tp * cp * dp);
    // The reduction moves the buffers' elements (at most the stack's reduction width).
    let gb = eff.grad_comm_bytes.min(job.grad_reduce.bytes());
    // Gradient reduce-scatter (or all-reduce without ZeRO) and parameter all-gather of the
    // busiest rank, over both replication groups.
    let rs = all_gather(pd_busy * gb, dshard, bw_dp) + all_gather(pe_busy * gb, eshard, bw_dp);
    let ag = all_gather(pd_busy * 2.0, dshard, bw_dp) + all_gather(pe_busy * 2.0, eshard, bw_dp);
    let ar = all_reduce(pd_busy * gb, dshard, bw_dp) + all_reduce(pe_busy * gb, eshard, bw_dp);
    // Traffic once per step (after the last micro-batch's backward) and traffic per
    // micro-batch (ZeRO-2 reduce-scatters each micro-batch's gradients so that no full
    // gradient exists; ZeRO-3 also gathers the parameters for each forward and backward).
    let (dp_once, dp_per_mb) = match l.zero {
        0 => (ar, 0.0),
        1 => (rs + ag, 0.0),
        2 => (ag, rs),
        _ => (0.0, rs + 2.0 * ag),
    };
    // Overlap: a fraction `dp_exposed` stays exposed, and never less than what exceeds the
    // time it can hide behind: the last micro-batch's forward and backward for the
    // once-per-step traffic; every micro-batch's compute and the rank's pipeline bubble
    // (the rank is idle then, its network is not) for the per-micro-batch traffic.
    let hide_mb = fwd + bwd + recompute;
    let per_mb_total = mcount * dp_per_mb;
    let dp_comm = (dp_once * eff.dp_exposed).max(dp_once - hide_mb)
        + (per_mb_total * eff.dp_exposed).max(per_mb_total - mcount * hide_mb - bubble);
    let opt_params = pd_busy / if l.zero >= 1 { dshard } else { 1.0 }
        + pe_busy / if l.zero >= 1 { eshard } else { 1.0 };
    let optimizer = opt_params * 30.0 / (hw.mem_bw * 0.8);
    let step = pipeline + dp_comm + optimizer + eff.step_overhead_s;
    // No overlap hides more communication than there is compute: the step is at least as
    // long as its serialised communication.
    let raw_comm =
        mcount * (tp_comm_raw + cp_comm_raw + ep_comm_raw + pp_comm_raw + dp_per_mb) + dp_once;
    let comm_bound = (raw_comm - step).max(0.0);
    let step = step + comm_bound;

    // ---- memory on the busiest rank ----
    let shard = |stage: u8, g: f64| if l.zero >= stage { g } else { 1.0 };
    let d_rep = if sp { tp } else { 1.0 };
    // Bytes per element of a saved GEMM input: fp8 recipes (Transformer Engine) keep the
    // fp8 copy a GEMM consumed for its weight-gradient GEMM, not the bf16 tensor.
    let gin = match job.precision {
        TrainPrecision::Bf16 => 2.0,
        TrainPrecision::Fp8 => 1.0,
    };
    // Replicated across TP without sequence parallelism: the two norm inputs (bf16) and the
    // QKV and first-MLP GEMM inputs (the norm outputs), plus dropout masks.
    let repl = (4.0 + 2.0 * gin + if job.dropout { 2.0 } else { 0.0 }) * c.h;
    let core = if job.flash_attention || l.recompute != Recompute::None {
        0.0
    } else {
        (if job.dropout { 5.0 } else { 2.0 }) * c.heads * s / cp
    };
    // Q, K, V and the attention output (bf16, for the attention backward); in fp8 the
    // output projection keeps its own fp8 copy of that output.
    let proj_in = if gin < 2.0 { gin * c.q_dim } else { 0.0 };
    let attn_sh = if l.recompute == Recompute::MlaUpProj {
        // Only the latents stay (16-bit), with the attention output.
        2.0 * c.mla_latent + 2.0 * c.mla_out + core
    } else {
        2.0 * (c.q_dim + 2.0 * c.kv_dim) + 2.0 * c.q_dim + proj_in + core
    };
    // The MLP keeps its first GEMM's output (bf16, for the activation's backward) and the
    // second GEMM's input.
    let mlp = c.mlp_act - 2.0 + gin;
    let dense_layer = repl / d_rep + (attn_sh + mlp * c.ffn) / tp;
    let moe_layer = repl / d_rep + attn_sh / tp + c.top_k * (mlp * c.expert_ffn / etp + 4.0 * c.h);
    // Activation bytes one micro-batch leaves per layer (averaged over dense and MoE layers).
    let act_layer = t * match l.recompute {
        Recompute::Full => 2.0 * c.h / d_rep,
        _ => (c.dense_layers * dense_layer + c.moe_layers * moe_layer) / c.layers,
    };
    // Megatron's vocab-parallel cross entropy casts the 16-bit logits to fp32, keeps the
    // fp32 softmax for backward and computes the logits' gradient in place in it; at its
    // peak one 16-bit copy sits beside it (the logits before the cast, or the gradient
    // cast back for the LM head's backward): 4 + 2 bytes per logit.
    let logits = head_on * 6.0 * t * c.vocab / tp;
    // ZeRO-2/3 keep only shards, but a layer's full gradients (ZeRO-2/3) and gathered
    // parameters (ZeRO-3) exist while it runs: two layers' worth, double-buffered.
    let (pd_layer, pe_layer) = (
        split.dense_per_layer / tp,
        split.expert_per_layer / (ep * etp),
    );
    let grad_el = job.grad_reduce.bytes();
    let transient_grads = if l.zero >= 2 {
        2.0 * grad_el * (pd_layer + pe_layer)
    } else {
        0.0
    };
    let transient_weights = if l.zero >= 3 {
        2.0 * 2.0 * (pd_layer + pe_layer)
    } else {
        0.0
    };
    let comm_buffers = 2.0 * act_bytes
        + if l.ep > 1 {
            2.0 * t * c.top_k * c.h * 2.0
        } else {
            0.0
        };
    let mut mem = Memory::default();
    let mut r = 0;
    while r < l.pp {
        // Ranks with the same layer count as a lower rank hold fewer micro-batches in
        // flight: only the first full rank, the ranks with fewer layers and the last rank
        // (LM head, logits) can be the peak.
        let layers_r = split.layers_of(r);
        let (pd, pe) = split.params(&c, r, tp, ep * etp);
        let weights = 2.0 * (pd / shard(3, dshard) + pe / shard(3, eshard)) + transient_weights;
        let gradients = grad_el * (pd / shard(2, dshard) + pe / shard(2, eshard)) + transient_grads;
        let optimizer_bytes = 12.0 * (pd / shard(1, dshard) + pe / shard(1, eshard));
        let after = seg.stages_after as f64;
        let chunks = if l.vpp > 1 {
            (2.0 * (pp - r as f64 - 1.0) + (vpp - 1.0) * pp + 1.0 + after * vpp).min(mcount * vpp)
        } else {
            (pp - r as f64 + after).min(mcount)
        };
        let mut activations = act_layer * layers_r / vpp * chunks;
        if r == l.pp - 1 {
            activations += logits;
        }
        let total =
            weights + gradients + optimizer_bytes + activations + comm_buffers + eff.reserved_bytes;
        if total > mem.total {
            mem = Memory {
                weights,
                gradients,
                optimizer: optimizer_bytes,
                activations,
                comm_buffers,
                reserved: eff.reserved_bytes,
                total,
                capacity: hw.mem_bytes,
            };
        }
        r = split.next_candidate(r);
    }
    let total = mem.total;
    let fits = total <= hw.mem_bytes;

    // ---- throughput and utilisation ----
    let tokens = job.global_batch as f64 * s;
    let tokens_per_s = tokens / step;
    let n = chips as f64;
    // A segment's own work: its share of the layers, the LM head if it holds it.
    let frac = seg.layers as f64 / m.layers as f64;
    let head_mm = (m.vocab * m.hidden) as f64;
    let body_mm = m.matmul_params_per_token() as f64 - head_mm;
    let attn_fwd = m.attention_flops_per_token_fwd(job.seq_len as u64) * frac;
    let model_flops_token = 3.0 * (2.0 * (body_mm * frac + head_mm * head_on) + attn_fwd);
    let recompute_flops_token = match l.recompute {
        Recompute::None => 0.0,
        Recompute::Selective => attn_fwd,
        Recompute::Full => 2.0 * body_mm * frac + attn_fwd,
        Recompute::MlaUpProj => 2.0 * c.mla_up * c.layers,
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
            comm_bound_s: comm_bound,
        },
        memory: mem,
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
        stage_s_per_microbatch: per_mb,
        dp_once_raw_s: dp_once,
        dp_hide_s: hide_mb,
    }
}
