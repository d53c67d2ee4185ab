//! The serving model: time to first token, time per output token, throughput and KV
//! capacity of LLM serving on one chip type and layout.
//!
//! A replica holds `tp x pp x attn_dp` chips. Attention and dense layers are split by TP
//! and PP and replicated over `attn_dp` ranks, each serving its own share of the
//! sequences (DeepSeek-style data-parallel attention); routed experts are split over EP
//! ranks within the replica. A decode step is a roofline: the larger of its compute time
//! and its memory time (weights it touches plus the KV cache it reads), plus collectives
//! and a fixed per-step overhead. Prefill is compute-bound work, batched for throughput.

use crate::hw::Hardware;
use std::fmt;
use tessera_core::model::{Mlp, ModelArch};

/// Weight and activation precision of the served model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServePrecision {
    /// 16-bit weights and activations.
    Bf16,
    /// fp8 weights and activations (fp8 GEMMs).
    Fp8,
    /// int8 weights and activations (W8A8, int8 GEMMs).
    Int8,
    /// int4 weights, 16-bit activations (weight-only quantisation).
    Int4,
    /// fp4 weights and activations (NVFP4 / MXFP4 GEMMs).
    Fp4,
}

impl ServePrecision {
    pub fn weight_bytes(self) -> f64 {
        match self {
            ServePrecision::Bf16 => 2.0,
            ServePrecision::Fp8 | ServePrecision::Int8 => 1.0,
            ServePrecision::Int4 | ServePrecision::Fp4 => 0.5,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ServePrecision::Bf16 => "bf16",
            ServePrecision::Fp8 => "fp8",
            ServePrecision::Int8 => "int8",
            ServePrecision::Int4 => "int4",
            ServePrecision::Fp4 => "fp4",
        }
    }

    pub fn parse(s: &str) -> Option<ServePrecision> {
        match s {
            "bf16" | "fp16" => Some(ServePrecision::Bf16),
            "fp8" => Some(ServePrecision::Fp8),
            "int8" | "w8a8" => Some(ServePrecision::Int8),
            "int4" | "w4a16" => Some(ServePrecision::Int4),
            "fp4" | "nvfp4" => Some(ServePrecision::Fp4),
            _ => None,
        }
    }
}

/// The serving layout of one replica, and how many replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLayout {
    pub tp: u32,
    pub pp: u32,
    pub ep: u32,
    pub attn_dp: u32,
    pub replicas: u32,
}

impl ServeLayout {
    pub fn chips_per_replica(&self) -> u64 {
        self.tp as u64 * self.pp as u64 * self.attn_dp as u64
    }

    /// The divisor that gives the busiest pipeline stage's share of `layers`: pp when the
    /// layers divide evenly, else layers / ceil(layers / pp) (engines such as vLLM split
    /// layers unevenly; the stage with the most layers sets the pace).
    pub fn pp_share(&self, layers: f64) -> f64 {
        let pp = self.pp.max(1) as f64;
        if layers <= 0.0 {
            return pp;
        }
        layers / (layers / pp).ceil()
    }

    /// Ranks the routed experts are split over within a pipeline stage: EP when set,
    /// otherwise TP (each expert's matrices are TP-sharded).
    pub fn expert_shards(&self) -> f64 {
        if self.ep > 1 {
            self.ep as f64
        } else {
            self.tp as f64
        }
    }
}

/// Efficiency parameters of a serving stack on a chip family.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServeEfficiency {
    /// Fraction of memory bandwidth reached streaming weights and KV cache.
    pub mem_eff: f64,
    /// Fraction of the dense peak reached by decode GEMMs once compute-bound.
    pub decode_gemm_eff: f64,
    /// Fraction of the dense peak reached by prefill (large GEMMs and attention).
    pub prefill_eff: f64,
    /// Fixed time per decode step (scheduling, sampling, launch), seconds.
    pub step_overhead_s: f64,
    /// Latency of one collective, seconds.
    pub coll_latency_s: f64,
    /// Achieved fraction of link bandwidth.
    pub link_eff: f64,
    /// Share of the memory left after weights that holds KV cache.
    pub kv_fraction: f64,
    /// Runtime and activation workspace per chip, bytes.
    pub reserved_bytes: f64,
    /// Largest batch the engine runs per attention rank.
    pub max_batch: f64,
    /// Experts' decode GEMMs: efficiency relative to dense ones.
    pub moe_rel: f64,
    /// Fraction of memory bandwidth reached reading the paged KV cache in decode attention.
    pub kv_eff: f64,
    /// Fixed time per layer per decode step (kernel launches, norms, routing), seconds.
    pub layer_overhead_s: f64,
    /// Tokens per expert at which expert GEMMs reach half their efficiency.
    pub moe_knee_tokens: f64,
    /// The engine hides decode collectives behind compute by splitting the batch into
    /// micro-batches that alternate (DeepSeek's inference system: dual micro-batch
    /// overlap in prefill, a five-stage pipelined overlap in decode). The step then takes
    /// the longer of the two, not their sum. A stack property, not a fitted one.
    pub comm_overlap: bool,
    pub calibrated: bool,
}

impl ServeEfficiency {
    pub const DEFAULT: ServeEfficiency = ServeEfficiency {
        mem_eff: 0.75,
        decode_gemm_eff: 0.55,
        prefill_eff: 0.55,
        step_overhead_s: 1.0e-3,
        coll_latency_s: 15e-6,
        link_eff: 0.7,
        kv_fraction: 0.9,
        reserved_bytes: 4.0 * 1024.0 * 1024.0 * 1024.0,
        max_batch: 2048.0,
        moe_rel: 0.6,
        kv_eff: 0.6,
        layer_overhead_s: 20e-6,
        moe_knee_tokens: 64.0,
        comm_overlap: false,
        calibrated: false,
    };
}

/// Why a serving layout cannot run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ServeInfeasible {
    ZeroDegree,
    HeadsNotDivisible {
        heads: u64,
        tp: u32,
    },
    LayersNotDivisible {
        layers: u64,
        pp: u32,
    },
    NotMoe {
        ep: u32,
    },
    EpNotDivisible {
        ep: u32,
        experts: u64,
        replica_chips: u64,
    },
    NoPeak {
        precision: ServePrecision,
    },
    WeightsDoNotFit {
        need_gib: f64,
        have_gib: f64,
    },
    NoRoomForKv {
        per_sequence_mib: f64,
        free_mib: f64,
    },
    NeedsScaleOut {
        chips: u64,
        domain: u32,
    },
    RateTooHigh {
        rate: f64,
        capacity: f64,
    },
    SloUnreachable {
        ttft_s: f64,
        tpot_s: f64,
    },
}

impl fmt::Display for ServeInfeasible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ServeInfeasible::ZeroDegree => write!(f, "every degree must be at least 1"),
            ServeInfeasible::HeadsNotDivisible { heads, tp } => {
                write!(f, "{heads} attention heads do not divide over TP {tp}")
            }
            ServeInfeasible::LayersNotDivisible { layers, pp } => {
                write!(f, "{layers} layers cannot fill PP {pp} stages")
            }
            ServeInfeasible::NotMoe { ep } => write!(f, "EP {ep} needs a mixture-of-experts model"),
            ServeInfeasible::EpNotDivisible {
                ep,
                experts,
                replica_chips,
            } => {
                write!(
                    f,
                    "EP {ep} must divide both the {experts} experts and the replica's {replica_chips} chips"
                )
            }
            ServeInfeasible::NoPeak { precision } => {
                write!(f, "the chip has no catalog peak for {precision:?} compute")
            }
            ServeInfeasible::WeightsDoNotFit { need_gib, have_gib } => write!(
                f,
                "weights need {need_gib:.1} GiB per chip, which has {have_gib:.1} GiB"
            ),
            ServeInfeasible::NoRoomForKv {
                per_sequence_mib,
                free_mib,
            } => {
                write!(
                    f,
                    "after the weights, {free_mib:.0} MiB per chip is left but one sequence needs {per_sequence_mib:.0} MiB of KV cache"
                )
            }
            ServeInfeasible::NeedsScaleOut { chips, domain } => write!(
                f,
                "a replica of {chips} chips spans more than one scale-up domain of {domain}, and the catalog has no scale-out bandwidth for this chip"
            ),
            ServeInfeasible::RateTooHigh { rate, capacity } => write!(
                f,
                "{rate:.2} requests/s exceeds the capacity of {capacity:.2} requests/s"
            ),
            ServeInfeasible::SloUnreachable { ttft_s, tpot_s } => {
                write!(
                    f,
                    "even one sequence per replica misses the SLO (TTFT {ttft_s:.3} s, TPOT {tpot_s:.4} s)"
                )
            }
        }
    }
}

/// What limits a decode step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bottleneck {
    Compute,
    MemoryBandwidth,
    Communication,
}

/// How the load is given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Load {
    /// Best throughput within memory (MLPerf Offline).
    Offline,
    /// This many sequences in flight over the whole system.
    Concurrency { sequences: u32 },
    /// This many requests per second over the whole system.
    Rate { per_s: f64 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServeJob {
    pub input_len: u32,
    pub output_len: u32,
    pub precision: ServePrecision,
    /// KV-cache bytes per element (2 for bf16, 1 for fp8/int8).
    pub kv_bytes: f64,
    pub load: Load,
    pub ttft_slo_s: Option<f64>,
    pub tpot_slo_s: Option<f64>,
    /// Prefill runs in a separate pool: decode steps carry no prefill work.
    pub disaggregated: bool,
    /// A distribution of lengths instead of the fixed `input_len` / `output_len`.
    pub lengths: Option<LengthStats>,
}

/// Moments of a request-length distribution, which is all the model needs of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LengthStats {
    pub mean_input: f64,
    pub mean_output: f64,
    /// Mean of the squared input length (causal attention in prefill grows with it).
    pub mean_input_sq: f64,
    pub p90_input: f64,
    pub p90_output: f64,
}

impl LengthStats {
    /// Statistics of weighted (input, output) samples. `None` if the weights sum to zero.
    pub fn from_samples(samples: &[(f64, f64, f64)]) -> Option<LengthStats> {
        let w: f64 = samples.iter().map(|x| x.2).sum();
        if w <= 0.0 {
            return None;
        }
        let mean = |f: &dyn Fn(&(f64, f64, f64)) -> f64| {
            samples.iter().map(|x| f(x) * x.2).sum::<f64>() / w
        };
        let pct = |key: &dyn Fn(&(f64, f64, f64)) -> f64| {
            let mut v: Vec<(f64, f64)> = samples.iter().map(|x| (key(x), x.2)).collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut acc = 0.0;
            for (x, wt) in &v {
                acc += wt;
                if acc >= 0.9 * w {
                    return *x;
                }
            }
            v.last().map_or(0.0, |x| x.0)
        };
        Some(LengthStats {
            mean_input: mean(&|x| x.0),
            mean_output: mean(&|x| x.1),
            mean_input_sq: mean(&|x| x.0 * x.0),
            p90_input: pct(&|x| x.0),
            p90_output: pct(&|x| x.1),
        })
    }
}

/// Decode step cost at one batch size.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepCost {
    pub time_s: f64,
    pub compute_s: f64,
    pub memory_s: f64,
    pub comm_s: f64,
    pub overhead_s: f64,
    /// Distinct routed experts one MoE layer's decode batch touches (0 for dense).
    pub experts_touched: f64,
    /// Weight bytes read per chip in this step.
    pub weight_bytes_read: f64,
    pub kv_bytes_read: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ServeMemory {
    pub weights: f64,
    pub kv_cache: f64,
    pub reserved: f64,
    pub total: f64,
    pub capacity: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServeEstimate {
    pub ttft_s: f64,
    /// TTFT of the 90th-percentile prompt (equals `ttft_s` for fixed lengths).
    pub ttft_p90_s: f64,
    /// End-to-end latency of a 90th-percentile prompt and output.
    pub e2e_p90_s: f64,
    pub tpot_s: f64,
    /// Percentiles under Poisson arrivals at the load's rate (rate mode; the other modes
    /// give the mean for all four): TTFT with the wait for admission, TPOT with the
    /// batch's fluctuation and the prefill chunk a step may carry (docs/perf-model.md).
    pub ttft_p50_s: f64,
    pub ttft_p99_s: f64,
    pub tpot_p50_s: f64,
    pub tpot_p99_s: f64,
    /// Utilisation of a replica at the rate: arrivals over the most it can carry.
    pub utilization: f64,
    pub e2e_latency_s: f64,
    pub output_tokens_per_s: f64,
    pub total_tokens_per_s: f64,
    pub output_tokens_per_s_per_chip: f64,
    pub requests_per_s: f64,
    /// Sequences in flight per replica at this operating point.
    pub batch_per_replica: f64,
    /// Most sequences the KV cache holds, over the whole system.
    pub max_concurrency: f64,
    pub kv_bytes_per_token: f64,
    pub memory: ServeMemory,
    pub decode_step: StepCost,
    pub prefill_s_per_request: f64,
    /// Prompt tokens per second per chip when prefills are batched (a prefill pool's rate).
    pub prefill_tokens_per_s_per_chip: f64,
    pub bottleneck: Bottleneck,
    pub fits: bool,
    pub infeasible: Option<ServeInfeasible>,
    pub chips: u64,
    pub calibrated: bool,
}

impl ServeEstimate {
    fn infeasible(why: ServeInfeasible, chips: u64) -> ServeEstimate {
        ServeEstimate {
            ttft_s: 0.0,
            ttft_p90_s: 0.0,
            ttft_p50_s: 0.0,
            ttft_p99_s: 0.0,
            tpot_p50_s: 0.0,
            tpot_p99_s: 0.0,
            utilization: 0.0,
            e2e_p90_s: 0.0,
            tpot_s: 0.0,
            e2e_latency_s: 0.0,
            output_tokens_per_s: 0.0,
            total_tokens_per_s: 0.0,
            output_tokens_per_s_per_chip: 0.0,
            requests_per_s: 0.0,
            batch_per_replica: 0.0,
            max_concurrency: 0.0,
            kv_bytes_per_token: 0.0,
            memory: ServeMemory::default(),
            decode_step: StepCost::default(),
            prefill_s_per_request: 0.0,
            prefill_tokens_per_s_per_chip: 0.0,
            bottleneck: Bottleneck::Compute,
            fits: false,
            infeasible: Some(why),
            chips,
            calibrated: false,
        }
    }
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The model's shape in the terms serving needs, computed once.
#[derive(Debug, Clone, Copy)]
struct Shape {
    h: f64,
    layers: f64,
    moe_layers: f64,
    experts: f64,
    top_k: f64,
    /// Weights not in routed experts (attention, dense MLP, shared experts, routers, embeddings).
    dense_params: f64,
    /// Matmul weights per token outside routed experts (LM head included).
    dense_matmul: f64,
    /// One routed expert's weights.
    expert_params: f64,
    heads: f64,
    qkv_head: f64,
    kv_elems: f64,
    kv_shardable: bool,
    kv_heads: f64,
}

fn shape(m: &ModelArch) -> Shape {
    let h = m.hidden as f64;
    let mats = |f: u64| match m.mlp {
        Mlp::Gated => 3.0 * h * f as f64,
        Mlp::Plain => 2.0 * h * f as f64,
    };
    let p = m.params();
    let (experts, top_k, expert_params) = match &m.moe {
        Some(moe) => (
            moe.experts as f64,
            moe.top_k as f64,
            mats(moe.expert_ffn_hidden),
        ),
        None => (0.0, 0.0, 0.0),
    };
    let moe_layers = m.moe_layers() as f64;
    let routed_matmul_per_token = moe_layers * top_k * expert_params;
    Shape {
        h,
        layers: m.layers as f64,
        moe_layers,
        experts,
        top_k,
        dense_params: (p.total() - p.routed_experts) as f64,
        dense_matmul: m.matmul_params_per_token() as f64 - routed_matmul_per_token,
        expert_params,
        heads: m.heads as f64,
        qkv_head: (m.qk_head_dim() + m.v_head_dim()) as f64,
        kv_elems: m.kv_cache_elems_per_token() as f64,
        kv_shardable: m.mla.is_none(),
        kv_heads: m.kv_heads as f64,
    }
}

fn peak_for(hw: &Hardware, p: ServePrecision, int8_peak: Option<f64>) -> Option<f64> {
    match p {
        ServePrecision::Bf16 | ServePrecision::Int4 => Some(hw.peak_16),
        ServePrecision::Fp8 => hw.peak_fp8,
        ServePrecision::Int8 => int8_peak,
        ServePrecision::Fp4 => hw.peak_fp4,
    }
}

struct Ctx<'a> {
    s: Shape,
    hw: &'a Hardware,
    eff: &'a ServeEfficiency,
    l: &'a ServeLayout,
    peak: f64,
    wbytes: f64,
    kv_bytes: f64,
}

impl Ctx<'_> {
    fn tp_bw(&self) -> f64 {
        let span = self.l.tp as f64;
        if span <= self.hw.domain as f64 {
            self.hw.scale_up_bw
        } else {
            self.hw.scale_out_bw
        }
    }

    /// Bandwidth of an expert-parallel all-to-all: the scale-up fabric while the replica
    /// fits in one domain, the scale-out network beyond it.
    fn ep_bw(&self) -> f64 {
        if self.l.chips_per_replica() <= self.hw.domain as u64 {
            self.hw.scale_up_bw
        } else {
            self.hw.scale_out_bw
        }
    }

    /// Time of the dispatch and combine all-to-alls of every MoE layer on one chip that
    /// routes `tokens` tokens (nothing without expert parallelism).
    fn ep_all_to_all_s(&self, tokens: f64) -> f64 {
        if self.l.ep <= 1 || self.s.moe_layers <= 0.0 {
            return 0.0;
        }
        let ep = self.l.ep as f64;
        let bytes = tokens * self.s.top_k * self.s.h * self.wbytes.max(1.0) * (ep - 1.0) / ep;
        2.0 * self.s.moe_layers / self.l.pp_share(self.s.layers)
            * (self.eff.coll_latency_s + bytes / (self.ep_bw() * self.eff.link_eff))
    }

    /// KV bytes per token on one chip holding it.
    fn kv_per_token_chip(&self) -> f64 {
        let shard = if self.s.kv_shardable {
            (self.l.tp as f64).min(self.s.kv_heads)
        } else {
            1.0
        };
        self.s.kv_elems * self.kv_bytes / shard / self.l.pp_share(self.s.layers)
    }

    /// One decode step of a replica running `b` sequences with mean context `ctx`.
    fn decode(&self, b: f64, ctx: f64) -> StepCost {
        let (tp, pp, adp) = (
            self.l.tp as f64,
            self.l.pp_share(self.s.layers),
            self.l.attn_dp as f64,
        );
        let b_rank = (b / adp).max(1.0);
        // Weights each chip reads: its dense shard, plus the local experts the batch touches.
        let dense_w = self.s.dense_params / (tp * pp) * self.wbytes;
        let experts_touched = if self.s.experts > 0.0 {
            self.s.experts * (1.0 - (1.0 - self.s.top_k / self.s.experts).powf(b))
        } else {
            0.0
        };
        let local_experts_touched = experts_touched / self.l.expert_shards();
        let expert_w =
            self.s.moe_layers / pp * local_experts_touched * self.s.expert_params * self.wbytes;
        let kv = b_rank * ctx * self.kv_per_token_chip();
        let memory_s = (dense_w + expert_w) / (self.hw.mem_bw * self.eff.mem_eff)
            + kv / (self.hw.mem_bw * self.eff.kv_eff);
        // Compute on one chip.
        let dense_flops = 2.0 * b_rank * self.s.dense_matmul / (tp * pp);
        let expert_flops = 2.0 * b * self.s.top_k * self.s.moe_layers * self.s.expert_params
            / (self.l.expert_shards() * pp);
        let attn_flops =
            2.0 * b_rank * self.s.heads / tp * self.s.qkv_head * ctx * self.s.layers / pp;
        let tokens_per_expert = if self.s.experts > 0.0 {
            b * self.s.top_k / self.s.experts
        } else {
            0.0
        };
        let moe_eff = self.eff.decode_gemm_eff * self.eff.moe_rel * tokens_per_expert
            / (tokens_per_expert + self.eff.moe_knee_tokens);
        let compute_s = (dense_flops + attn_flops) / (self.peak * self.eff.decode_gemm_eff)
            + if expert_flops > 0.0 {
                // Grouped GEMMs lose efficiency with few tokens per expert (the knee), but
                // a GEMM is never slower than streaming its weights at the memory rate
                // while computing at the full grouped rate: cap the knee form there, or
                // fine-grained MoEs at small batch would be charged a fixed cost per
                // expert that no engine pays.
                let knee_form = expert_flops / (self.peak * moe_eff.max(1e-6));
                let floor_eff = self.eff.decode_gemm_eff * self.eff.moe_rel;
                let streaming = expert_flops / (self.peak * floor_eff.max(1e-6))
                    + expert_w / (self.hw.mem_bw * self.eff.mem_eff);
                knee_form.min(streaming)
            } else {
                0.0
            };
        // Collectives: two TP all-reduces per layer, two all-to-alls per MoE layer.
        let layers_chip = self.s.layers / pp;
        let mut comm_s = 0.0;
        if self.l.tp > 1 {
            let bytes = b_rank * self.s.h * 2.0;
            comm_s += 2.0
                * layers_chip
                * (self.eff.coll_latency_s
                    + 2.0 * (tp - 1.0) / tp * bytes / (self.tp_bw() * self.eff.link_eff));
        }
        comm_s += self.ep_all_to_all_s(b_rank);
        if self.l.pp > 1 {
            comm_s += (self.l.pp as f64 - 1.0) * self.eff.coll_latency_s;
        }
        // A pipeline runs its stages one after another for a token.
        let stage = compute_s.max(memory_s);
        let layer_overhead = self.eff.layer_overhead_s * self.s.layers;
        // Overlap needs two micro-batches on each rank; the longer stream sets the step.
        let busy = if self.eff.comm_overlap && b_rank >= 2.0 {
            (stage * pp).max(comm_s)
        } else {
            stage * pp + comm_s
        };
        let time_s = busy + self.eff.step_overhead_s + layer_overhead;
        StepCost {
            time_s,
            compute_s: compute_s * pp,
            memory_s: memory_s * pp,
            comm_s,
            overhead_s: self.eff.step_overhead_s + layer_overhead,
            experts_touched,
            weight_bytes_read: dense_w + expert_w,
            kv_bytes_read: kv,
        }
    }

    /// Prefill time of `tokens` prompt tokens (in prompts of `input_len`) on one replica.
    /// A prompt's attention and dense layers run on its own attention-DP rank (TP x PP
    /// chips); only the routed experts are spread over the whole replica. With fewer
    /// prompts than ranks, the other ranks have no dense work to share.
    fn prefill(&self, tokens: f64, input_len: f64) -> f64 {
        let n = self.l.chips_per_replica() as f64;
        let dp = self.l.attn_dp as f64;
        // The busiest attention-DP rank's tokens: an even share, but never less than one
        // prompt (or the whole chunk, when `tokens` is part of one), which no other rank
        // can take over. The chips of one rank.
        let rank_tokens = (tokens / dp).max(tokens.min(input_len));
        let rank_chips = n / dp;
        let dense_per_token = 2.0 * self.s.dense_matmul
            + 2.0 * self.s.heads * self.s.qkv_head * input_len / 2.0 * self.s.layers;
        let experts = 2.0 * tokens * self.s.moe_layers * self.s.top_k * self.s.expert_params;
        let compute = rank_tokens * dense_per_token
            / (rank_chips * self.peak * self.eff.prefill_eff)
            + experts / (n * self.peak * self.eff.prefill_eff * self.eff.moe_rel);
        // The weights are read at least once.
        let pps = self.l.pp_share(self.s.layers);
        let weights = (self.s.dense_params / (self.l.tp as f64 * pps)
            + self.s.moe_layers * self.s.experts * self.s.expert_params
                / (self.l.expert_shards() * pps))
            * self.wbytes
            / (self.hw.mem_bw * self.eff.mem_eff);
        let tp_comm = if self.l.tp > 1 {
            let bytes = rank_tokens * self.s.h * 2.0;
            2.0 * self.s.layers
                * (self.eff.coll_latency_s
                    + 2.0 * (self.l.tp as f64 - 1.0) / self.l.tp as f64 * bytes
                        / (self.tp_bw() * self.eff.link_eff))
        } else {
            0.0
        };
        // Each chip of the busiest rank dispatches its share of the rank's tokens to the
        // experts and gathers them back, every MoE layer.
        let comm = tp_comm + self.ep_all_to_all_s(rank_tokens / rank_chips);
        let busy = compute.max(weights);
        if self.eff.comm_overlap && rank_tokens >= 2.0 {
            busy.max(comm)
        } else {
            busy + comm
        }
    }
}

/// Prompt tokens a decode step may carry as one prefill chunk (tessera's assumption for
/// the p99 TPOT; engines set it, e.g. vLLM's --max-num-batched-tokens).
pub const PREFILL_CHUNK: f64 = 2048.0;

/// Checks the layout against the model.
pub fn check_serve_layout(m: &ModelArch, l: &ServeLayout) -> Result<(), ServeInfeasible> {
    if l.tp == 0 || l.pp == 0 || l.ep == 0 || l.attn_dp == 0 || l.replicas == 0 {
        return Err(ServeInfeasible::ZeroDegree);
    }
    if !m.heads.is_multiple_of(l.tp as u64) {
        return Err(ServeInfeasible::HeadsNotDivisible {
            heads: m.heads,
            tp: l.tp,
        });
    }
    // Layers need not divide over PP: serving engines split them unevenly.
    if m.layers < l.pp as u64 {
        return Err(ServeInfeasible::LayersNotDivisible {
            layers: m.layers,
            pp: l.pp,
        });
    }
    match &m.moe {
        None if l.ep > 1 => return Err(ServeInfeasible::NotMoe { ep: l.ep }),
        // Experts need not divide evenly over EP: engines add redundant experts.
        Some(moe) if !l.chips_per_replica().is_multiple_of(l.ep as u64) => {
            return Err(ServeInfeasible::EpNotDivisible {
                ep: l.ep,
                experts: moe.experts,
                replica_chips: l.chips_per_replica(),
            });
        }
        _ => {}
    }
    Ok(())
}

/// Estimates serving. `int8_peak` is the chip's int8 peak in OP/s, where known.
pub fn estimate_serve(
    m: &ModelArch,
    hw: &Hardware,
    int8_peak: Option<f64>,
    eff: &ServeEfficiency,
    job: &ServeJob,
    l: &ServeLayout,
) -> ServeEstimate {
    let chips = l.chips_per_replica() * l.replicas as u64;
    if let Err(e) = check_serve_layout(m, l) {
        return ServeEstimate::infeasible(e, chips);
    }
    if l.chips_per_replica() > hw.domain as u64 && hw.scale_out_bw <= 0.0 {
        return ServeEstimate::infeasible(
            ServeInfeasible::NeedsScaleOut {
                chips: l.chips_per_replica(),
                domain: hw.domain,
            },
            chips,
        );
    }
    let Some(peak) = peak_for(hw, job.precision, int8_peak) else {
        return ServeEstimate::infeasible(
            ServeInfeasible::NoPeak {
                precision: job.precision,
            },
            chips,
        );
    };
    let cx = Ctx {
        s: shape(m),
        hw,
        eff,
        l,
        peak,
        wbytes: job.precision.weight_bytes(),
        kv_bytes: job.kv_bytes,
    };
    let (i, o) = match job.lengths {
        Some(ls) => (ls.mean_input.max(1.0), ls.mean_output.max(1.0)),
        None => (job.input_len.max(1) as f64, job.output_len.max(1) as f64),
    };
    // Attention in prefill grows with the square of the prompt: its effective length is
    // E[I^2] / E[I] for a distribution.
    let i_attn = job
        .lengths
        .map_or(i, |ls| (ls.mean_input_sq / ls.mean_input.max(1.0)).max(1.0));
    // Memory per chip.
    let pps = l.pp_share(cx.s.layers);
    let weights = (cx.s.dense_params / (l.tp as f64 * pps)
        + cx.s.moe_layers * cx.s.experts * cx.s.expert_params / (l.expert_shards() * pps))
        * cx.wbytes;
    let free = hw.mem_bytes - weights - eff.reserved_bytes;
    if free <= 0.0 {
        return ServeEstimate::infeasible(
            ServeInfeasible::WeightsDoNotFit {
                need_gib: (weights + eff.reserved_bytes) / GIB,
                have_gib: hw.mem_bytes / GIB,
            },
            chips,
        );
    }
    let kv_token_chip = cx.kv_per_token_chip();
    let per_seq = kv_token_chip * (i + o);
    let kv_room = free * eff.kv_fraction;
    if per_seq > kv_room {
        return ServeEstimate::infeasible(
            ServeInfeasible::NoRoomForKv {
                per_sequence_mib: per_seq / 1048576.0,
                free_mib: kv_room / 1048576.0,
            },
            chips,
        );
    }
    // Sequences per attention rank that fit, then per replica.
    let max_rank = (kv_room / per_seq).floor().min(eff.max_batch);
    let max_replica = max_rank * l.attn_dp as f64;
    let ctx_mean = i + o / 2.0;
    // Batched prefill cost per prompt token on a replica, amortised into decode.
    let prefill_per_token =
        cx.prefill(4096.0 * l.attn_dp as f64, i_attn) / (4096.0 * l.attn_dp as f64);
    let interleaved_prefill = if job.disaggregated {
        0.0
    } else {
        prefill_per_token
    };
    let point = |b: f64| {
        let step = cx.decode(b, ctx_mean);
        // Each decode step also carries, on average, b/o requests' worth of prefill.
        let interval = step.time_s + b * i * interleaved_prefill / o;
        let out_tps = b / interval;
        (step, interval, out_tps)
    };
    let ttft_single = cx.prefill(i, i);
    let replicas = l.replicas as f64;
    // Choose the operating batch per replica.
    let meets = |b: f64| {
        let (_, interval, _) = point(b);
        let ttft = ttft_single + interval;
        job.ttft_slo_s.is_none_or(|s| ttft <= s) && job.tpot_slo_s.is_none_or(|s| interval <= s)
    };
    let mut infeasible = None;
    let b = match job.load {
        Load::Concurrency { sequences } => (sequences as f64 / replicas).clamp(1.0, max_replica),
        Load::Rate { per_s } => {
            let need = per_s / replicas * o; // output tokens/s per replica
            let cap = point(max_replica).2;
            if cap < need {
                infeasible = Some(ServeInfeasible::RateTooHigh {
                    rate: per_s,
                    capacity: cap * replicas / o,
                });
                max_replica
            } else {
                // Smallest batch that carries the rate (throughput grows with batch).
                let (mut lo, mut hi) = (1.0f64, max_replica);
                for _ in 0..40 {
                    let mid = (lo + hi) / 2.0;
                    if point(mid).2 >= need {
                        hi = mid
                    } else {
                        lo = mid
                    }
                }
                hi
            }
        }
        Load::Offline => {
            if job.ttft_slo_s.is_none() && job.tpot_slo_s.is_none() {
                max_replica
            } else if !meets(1.0) {
                let (_, interval, _) = point(1.0);
                infeasible = Some(ServeInfeasible::SloUnreachable {
                    ttft_s: ttft_single + interval,
                    tpot_s: interval,
                });
                1.0
            } else {
                let (mut lo, mut hi) = (1.0f64, max_replica);
                if meets(hi) {
                    lo = hi;
                }
                for _ in 0..40 {
                    if hi - lo < 0.5 {
                        break;
                    }
                    let mid = (lo + hi) / 2.0;
                    if meets(mid) { lo = mid } else { hi = mid }
                }
                lo
            }
        }
    };
    let (step, interval, out_tps_replica) = point(b);
    // Waiting for a prefill slot: about half a decode interval on average.
    let ttft = ttft_single + 0.5 * interval;
    let out_tps = out_tps_replica * replicas;
    let bottleneck = if step.comm_s > step.compute_s.max(step.memory_s) {
        Bottleneck::Communication
    } else if step.compute_s >= step.memory_s {
        Bottleneck::Compute
    } else {
        Bottleneck::MemoryBandwidth
    };
    let kv_used = (b / l.attn_dp as f64) * per_seq;
    let total_mem = weights + kv_used + eff.reserved_bytes;
    let (p90_in, p90_out) = job
        .lengths
        .map_or((i, o), |ls| (ls.p90_input.max(1.0), ls.p90_output.max(1.0)));
    let ttft_p90 = cx.prefill(p90_in, p90_in) + 0.5 * interval;
    // Queueing under Poisson arrivals (rate mode). Admission: the engine spends the
    // batched prefill time of a prompt on each arrival; at utilisation rho the wait is
    // M/D/1's, rho S / (2 (1 - rho)) on average, with the exponential tail P(W > t) =
    // rho exp(-rho t / W). Decode: the sequences in flight are Poisson around the mean
    // batch (M/G/infinity), so the 99th-percentile step runs b + 2.33 sqrt(b) sequences,
    // and without disaggregation it may also carry a prefill chunk of up to PREFILL_CHUNK
    // tokens.
    let (ttft_p50, ttft_p99, tpot_p50, tpot_p99, utilization) = match job.load {
        Load::Rate { per_s } => {
            let lam = per_s / replicas;
            let mu = point(max_replica).2 / o;
            let rho = if mu > 0.0 {
                (lam / mu).min(0.999)
            } else {
                0.999
            };
            let s_admit = i * prefill_per_token;
            let wq = rho * s_admit / (2.0 * (1.0 - rho));
            let wait = |q: f64| {
                if rho > 1.0 - q && rho > 0.0 {
                    wq / rho * (rho / (1.0 - q)).ln()
                } else {
                    0.0
                }
            };
            let p99_in = job.lengths.map_or(i, |ls| ls.p90_input.max(i));
            let ttft_p50 = ttft_single + 0.5 * interval + wait(0.5);
            let ttft_p99 = cx.prefill(p99_in, p99_in) + interval + wait(0.99);
            let n99 = (b + 2.33 * b.sqrt()).min(max_replica).max(b);
            let chunk = if job.disaggregated {
                0.0
            } else {
                i.min(PREFILL_CHUNK) * prefill_per_token
            };
            let tpot_p99 = point(n99).1 + chunk;
            (
                ttft_p50,
                ttft_p99.max(ttft_p50),
                interval,
                tpot_p99.max(interval),
                rho,
            )
        }
        _ => (ttft, ttft, interval, interval, b / max_replica),
    };
    ServeEstimate {
        ttft_s: ttft,
        ttft_p90_s: ttft_p90,
        ttft_p50_s: ttft_p50,
        ttft_p99_s: ttft_p99,
        tpot_p50_s: tpot_p50,
        tpot_p99_s: tpot_p99,
        utilization,
        e2e_p90_s: ttft_p90 + (p90_out - 1.0) * interval,
        tpot_s: interval,
        e2e_latency_s: ttft + (o - 1.0) * interval,
        output_tokens_per_s: out_tps,
        total_tokens_per_s: out_tps * (i + o) / o,
        output_tokens_per_s_per_chip: out_tps / chips as f64,
        requests_per_s: out_tps / o,
        batch_per_replica: b,
        max_concurrency: max_replica * replicas,
        kv_bytes_per_token: m.kv_cache_elems_per_token() as f64 * job.kv_bytes,
        memory: ServeMemory {
            weights,
            kv_cache: kv_used,
            reserved: eff.reserved_bytes,
            total: total_mem,
            capacity: hw.mem_bytes,
        },
        decode_step: step,
        prefill_s_per_request: ttft_single,
        prefill_tokens_per_s_per_chip: 1.0 / (prefill_per_token * l.chips_per_replica() as f64),
        bottleneck,
        fits: true,
        infeasible,
        chips,
        calibrated: eff.calibrated,
    }
}

/// A static batch (all requests start together): latency to generate `output_len` tokens
/// for `batch` prompts of `input_len` on one replica, as the NeMo/TensorRT-LLM latency
/// tables measure it.
pub fn static_batch_latency(
    m: &ModelArch,
    hw: &Hardware,
    eff: &ServeEfficiency,
    job: &ServeJob,
    l: &ServeLayout,
    batch: u32,
) -> Option<f64> {
    check_serve_layout(m, l).ok()?;
    let peak = peak_for(hw, job.precision, None)?;
    let cx = Ctx {
        s: shape(m),
        hw,
        eff,
        l,
        peak,
        wbytes: job.precision.weight_bytes(),
        kv_bytes: job.kv_bytes,
    };
    let (i, o) = (job.input_len as f64, job.output_len as f64);
    let b = batch as f64;
    let prefill = cx.prefill(b * i, i) + eff.step_overhead_s;
    let step = cx.decode(b, i + o / 2.0).time_s;
    Some(prefill + (o - 1.0) * step)
}

/// Prefill/decode disaggregation: a prefill pool of `prefill` layout and a decode pool of
/// `decode` layout. TTFT comes from the prefill pool plus moving the KV cache over the
/// scale-out network; TPOT from a decode pool that does no prefill; the system carries
/// the smaller of the two pools' request rates.
pub fn estimate_disaggregated(
    m: &ModelArch,
    hw: &Hardware,
    int8_peak: Option<f64>,
    eff: &ServeEfficiency,
    job: &ServeJob,
    prefill: &ServeLayout,
    decode: &ServeLayout,
) -> ServeEstimate {
    let chips = prefill.chips_per_replica() * prefill.replicas as u64
        + decode.chips_per_replica() * decode.replicas as u64;
    let pjob = ServeJob {
        disaggregated: false,
        load: Load::Offline,
        ttft_slo_s: None,
        tpot_slo_s: None,
        ..*job
    };
    let p = estimate_serve(m, hw, int8_peak, eff, &pjob, prefill);
    if let Some(why) = p.infeasible {
        return ServeEstimate {
            chips,
            ..ServeEstimate::infeasible(why, chips)
        };
    }
    let djob = ServeJob {
        disaggregated: true,
        ..*job
    };
    let mut d = estimate_serve(m, hw, int8_peak, eff, &djob, decode);
    let (i, o) = (job.input_len.max(1) as f64, job.output_len.max(1) as f64);
    let prefill_chips = (prefill.chips_per_replica() * prefill.replicas as u64) as f64;
    let prefill_rps = p.prefill_tokens_per_s_per_chip * prefill_chips / i;
    if hw.scale_out_bw <= 0.0 {
        return ServeEstimate {
            chips,
            ..ServeEstimate::infeasible(
                ServeInfeasible::NeedsScaleOut {
                    chips,
                    domain: hw.domain,
                },
                chips,
            )
        };
    }
    let kv_transfer = i * d.kv_bytes_per_token / (hw.scale_out_bw * eff.link_eff);
    d.ttft_s = p.prefill_s_per_request + kv_transfer + 0.5 * d.tpot_s;
    d.e2e_latency_s = d.ttft_s + (o - 1.0) * d.tpot_s;
    // The prefill pool's own queueing tail, on top of the transfer and the first step.
    d.ttft_p50_s = d.ttft_s + (p.ttft_p50_s - p.ttft_s).max(0.0);
    d.ttft_p99_s = d.ttft_s + (p.ttft_p99_s - p.ttft_s).max(0.0);
    let (p90_in, p90_out) = job
        .lengths
        .map_or((i, o), |ls| (ls.p90_input.max(1.0), ls.p90_output.max(1.0)));
    let p90_prefill = p.ttft_p90_s - 0.5 * p.tpot_s;
    d.ttft_p90_s = p90_prefill
        + p90_in * d.kv_bytes_per_token / (hw.scale_out_bw * eff.link_eff)
        + 0.5 * d.tpot_s;
    d.e2e_p90_s = d.ttft_p90_s + (p90_out - 1.0) * d.tpot_s;
    if d.requests_per_s > prefill_rps {
        d.requests_per_s = prefill_rps;
        d.output_tokens_per_s = prefill_rps * o;
        d.total_tokens_per_s = prefill_rps * (i + o);
    }
    d.output_tokens_per_s_per_chip = d.output_tokens_per_s / chips as f64;
    d.prefill_tokens_per_s_per_chip = p.prefill_tokens_per_s_per_chip;
    d.prefill_s_per_request = p.prefill_s_per_request;
    d.chips = chips;
    d
}
