//! Fleet plans: the JSON of `plan train` and `plan serve` (and of the server's planning
//! endpoints), converted from `tessera_plan::fleet`.

use crate::train::{LaunchV1, LayoutV1, RejectedV1, TrainEstimateV1};
use serde::Serialize;
use tessera_perf::serve::ServeLayout;
use tessera_plan::fleet::{
    FleetServePlan, FleetTrainPlan, PoolNote, RankedServePlan, RankedTrainPlan,
};
use tessera_plan::mixed::MixedPlan;

/// One ranked training plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainPlanV1 {
    pub rank: usize,
    pub pool: String,
    pub chip: String,
    /// Chips the plan uses; `pool_chips` the pool holds (the rest stay idle).
    pub chips: u64,
    pub pool_chips: u64,
    pub stack: &'static str,
    pub layout: LayoutV1,
    pub global_batch: u32,
    pub seq_len: u32,
    pub estimate: TrainEstimateV1,
    pub usd_per_million_tokens: Option<f64>,
    pub days_to_train: Option<f64>,
    pub cost_to_train_usd: Option<f64>,
    pub calibrated: bool,
    pub launch: LaunchV1,
}

impl From<&RankedTrainPlan> for TrainPlanV1 {
    fn from(p: &RankedTrainPlan) -> Self {
        TrainPlanV1 {
            rank: p.rank,
            pool: p.pool.clone(),
            chip: p.chip.clone(),
            chips: p.chips,
            pool_chips: p.pool_chips,
            stack: p.stack.as_str(),
            layout: (&p.plan.layout).into(),
            global_batch: p.plan.global_batch,
            seq_len: p.seq_len,
            estimate: (&p.plan.estimate).into(),
            usd_per_million_tokens: p.usd_per_million_tokens,
            days_to_train: p.days_to_train,
            cost_to_train_usd: p.cost_to_train_usd,
            calibrated: p.calibrated,
            launch: (&p.launch).into(),
        }
    }
}

/// What became of one pool: its best throughput (tokens/s for training; `null` for
/// serving and for pools without a plan), or why it has no plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolNoteV1 {
    pub pool: String,
    pub chip: String,
    pub chips: u64,
    pub best_tokens_per_s: Option<f64>,
    pub note: String,
}

impl From<&PoolNote> for PoolNoteV1 {
    fn from(n: &PoolNote) -> Self {
        PoolNoteV1 {
            pool: n.pool.clone(),
            chip: n.chip.clone(),
            chips: n.chips,
            best_tokens_per_s: n.best_tokens_per_s,
            note: n.note.clone(),
        }
    }
}

/// One job across pools of different chips.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixedPlanV1 {
    /// "data-parallel" or "pipeline".
    pub form: &'static str,
    pub pools: Vec<String>,
    pub tokens_per_s: f64,
    /// Combined throughput over the sum of the pools' own best throughputs, 0-1.
    pub efficiency: f64,
    /// Share of the global batch (data-parallel) or of the layers (pipeline) per pool.
    pub shares: Vec<f64>,
    /// Layers per pool (pipeline form).
    pub layers: Vec<u64>,
    /// Time per step the inter-pool link costs (exposed), seconds.
    pub sync_s: f64,
    pub feasible: bool,
    pub note: String,
    /// Whether it beats the best single pool alone.
    pub worthwhile: bool,
    pub global_batch: u32,
    /// Micro-batches per step (pipeline form; 0 for data-parallel, whose pools each run
    /// their own).
    pub microbatches: u32,
    pub step_time_s: f64,
    /// The sum of the pools' own best throughputs, tokens/s.
    pub parts_tokens_per_s: f64,
    pub parts: Vec<MixedPartV1>,
    /// The step time term by term; the seconds add up to `step_time_s`.
    pub terms: Vec<TermV1>,
    /// FlagScale's heterogeneous launch (pipeline form).
    pub launch: Option<LaunchV1>,
    /// What the launch cannot express.
    pub cannot_express: Vec<String>,
}

/// One pool's part of a mixed plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixedPartV1 {
    pub pool: String,
    pub chip: String,
    pub chips: u64,
    pub layout: LayoutV1,
    /// Sequences per step through the pool.
    pub batch: u32,
    /// Layers on each of the pool's pipeline stages.
    pub stage_layers: Vec<u64>,
    /// Data-parallel: the pool's step alone at its share; pipeline: its busiest stage's
    /// time per micro-batch with link transfers, seconds.
    pub time_s: f64,
    pub memory_gib_per_chip: f64,
    pub capacity_gib: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TermV1 {
    pub name: &'static str,
    pub seconds: f64,
    pub detail: String,
}

impl From<&MixedPlan> for MixedPlanV1 {
    fn from(m: &MixedPlan) -> Self {
        let pipeline = m.form == "pipeline";
        let layers: Vec<u64> = if pipeline {
            m.parts
                .iter()
                .map(|p| p.stage_layers.iter().sum())
                .collect()
        } else {
            vec![]
        };
        let shares = if pipeline {
            let total: u64 = layers.iter().sum();
            layers
                .iter()
                .map(|l| *l as f64 / total.max(1) as f64)
                .collect()
        } else {
            m.parts
                .iter()
                .map(|p| p.batch as f64 / m.global_batch.max(1) as f64)
                .collect()
        };
        MixedPlanV1 {
            form: m.form,
            pools: m.pools.clone(),
            tokens_per_s: m.tokens_per_s,
            efficiency: m.efficiency,
            shares,
            layers,
            sync_s: m.link_s,
            feasible: m.feasible,
            note: m.note.clone(),
            worthwhile: m.worthwhile,
            global_batch: m.global_batch,
            microbatches: m.microbatches,
            step_time_s: m.step_time_s,
            parts_tokens_per_s: m.parts_tokens_per_s,
            parts: m
                .parts
                .iter()
                .map(|p| MixedPartV1 {
                    pool: p.pool.clone(),
                    chip: p.chip.clone(),
                    chips: p.chips,
                    layout: (&p.layout).into(),
                    batch: p.batch,
                    stage_layers: p.stage_layers.clone(),
                    time_s: p.time_s,
                    memory_gib_per_chip: p.memory_gib_per_chip,
                    capacity_gib: p.capacity_gib,
                })
                .collect(),
            terms: m
                .terms
                .iter()
                .map(|t| TermV1 {
                    name: t.name,
                    seconds: t.seconds,
                    detail: t.detail.clone(),
                })
                .collect(),
            launch: m.launch.as_ref().map(Into::into),
            cannot_express: m.cannot_express.clone(),
        }
    }
}

/// The JSON of `plan train`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetTrainV1 {
    pub schema_version: u32,
    pub model: String,
    pub fleet: String,
    /// "time" or "cost".
    pub objective: &'static str,
    pub plans: Vec<TrainPlanV1>,
    pub evaluated: u64,
    pub pruned: u64,
    pub search_time_s: f64,
    pub rejected: Vec<RejectedV1>,
    pub pools: Vec<PoolNoteV1>,
    pub mixed: Vec<MixedPlanV1>,
    pub recommendation: String,
}

impl FleetTrainV1 {
    /// The output of a fleet plan that took `search_time_s` seconds.
    pub fn new(p: &FleetTrainPlan, search_time_s: f64) -> FleetTrainV1 {
        FleetTrainV1 {
            schema_version: crate::SCHEMA_VERSION,
            model: p.model.clone(),
            fleet: p.fleet.clone(),
            objective: p.objective.as_str(),
            plans: p.plans.iter().map(Into::into).collect(),
            evaluated: p.evaluated,
            pruned: p.pruned,
            search_time_s,
            rejected: p
                .rejected
                .iter()
                .map(|r| RejectedV1::new(&r.pool, &r.rejected))
                .collect(),
            pools: p.pools.iter().map(Into::into).collect(),
            mixed: p.mixed.iter().map(Into::into).collect(),
            recommendation: p.recommendation.clone(),
        }
    }
}

/// A serving replica's layout.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServeLayoutV1 {
    pub tp: u32,
    pub pp: u32,
    pub ep: u32,
    pub attn_dp: u32,
    pub replicas: u32,
}

impl From<&ServeLayout> for ServeLayoutV1 {
    fn from(l: &ServeLayout) -> Self {
        ServeLayoutV1 {
            tp: l.tp,
            pp: l.pp,
            ep: l.ep,
            attn_dp: l.attn_dp,
            replicas: l.replicas,
        }
    }
}

/// One ranked serving plan. `per_replica` is the serving estimate of one replica at its
/// operating point, in the shape `estimate serve` prints (seconds, tokens/s, bytes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServePlanV1 {
    pub rank: usize,
    pub pool: String,
    pub chip: String,
    pub stack: &'static str,
    pub layout: ServeLayoutV1,
    /// Replicas needed for the rate.
    pub replicas: u64,
    pub chips: u64,
    pub per_replica: ServeEstimateV1,
    /// The chips' cost per hour (amortised price plus energy), USD, if known.
    pub usd_per_hour: Option<f64>,
    pub usd_per_million_output_tokens: Option<f64>,
    pub launch: ServeLaunchV1,
}

/// A serving estimate of one replica (seconds, tokens/s, bytes; the memory in bytes per
/// chip), the fields of tessera-perf's `ServeEstimate` as this contract fixes them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServeEstimateV1 {
    pub ttft_s: f64,
    pub ttft_p90_s: f64,
    pub e2e_p90_s: f64,
    pub tpot_s: f64,
    pub ttft_p50_s: f64,
    pub ttft_p99_s: f64,
    pub tpot_p50_s: f64,
    pub tpot_p99_s: f64,
    pub utilization: f64,
    pub e2e_latency_s: f64,
    pub output_tokens_per_s: f64,
    pub total_tokens_per_s: f64,
    pub output_tokens_per_s_per_chip: f64,
    pub requests_per_s: f64,
    pub batch_per_replica: f64,
    pub max_concurrency: f64,
    pub kv_bytes_per_token: f64,
    pub memory: ServeMemoryV1,
    pub decode_step: StepCostV1,
    pub prefill_s_per_request: f64,
    pub prefill_tokens_per_s_per_chip: f64,
    /// `compute`, `memory-bandwidth` or `communication`.
    pub bottleneck: &'static str,
    pub fits: bool,
    /// Why the layout cannot run, in words (`null` for a plan: plans run).
    pub infeasible: Option<String>,
    pub chips: u64,
    pub calibrated: bool,
}

/// Memory per chip, bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServeMemoryV1 {
    pub weights: f64,
    pub kv_cache: f64,
    pub reserved: f64,
    pub total: f64,
    pub capacity: f64,
}

/// One decode step at the operating point's batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepCostV1 {
    pub time_s: f64,
    pub compute_s: f64,
    pub memory_s: f64,
    pub comm_s: f64,
    pub overhead_s: f64,
    pub experts_touched: f64,
    pub weight_bytes_read: f64,
    pub kv_bytes_read: f64,
}

impl From<&tessera_perf::serve::StepCost> for StepCostV1 {
    fn from(c: &tessera_perf::serve::StepCost) -> Self {
        StepCostV1 {
            time_s: c.time_s,
            compute_s: c.compute_s,
            memory_s: c.memory_s,
            comm_s: c.comm_s,
            overhead_s: c.overhead_s,
            experts_touched: c.experts_touched,
            weight_bytes_read: c.weight_bytes_read,
            kv_bytes_read: c.kv_bytes_read,
        }
    }
}

impl From<&tessera_perf::serve::ServeEstimate> for ServeEstimateV1 {
    fn from(e: &tessera_perf::serve::ServeEstimate) -> Self {
        use tessera_perf::serve::Bottleneck;
        ServeEstimateV1 {
            ttft_s: e.ttft_s,
            ttft_p90_s: e.ttft_p90_s,
            e2e_p90_s: e.e2e_p90_s,
            tpot_s: e.tpot_s,
            ttft_p50_s: e.ttft_p50_s,
            ttft_p99_s: e.ttft_p99_s,
            tpot_p50_s: e.tpot_p50_s,
            tpot_p99_s: e.tpot_p99_s,
            utilization: e.utilization,
            e2e_latency_s: e.e2e_latency_s,
            output_tokens_per_s: e.output_tokens_per_s,
            total_tokens_per_s: e.total_tokens_per_s,
            output_tokens_per_s_per_chip: e.output_tokens_per_s_per_chip,
            requests_per_s: e.requests_per_s,
            batch_per_replica: e.batch_per_replica,
            max_concurrency: e.max_concurrency,
            kv_bytes_per_token: e.kv_bytes_per_token,
            memory: ServeMemoryV1 {
                weights: e.memory.weights,
                kv_cache: e.memory.kv_cache,
                reserved: e.memory.reserved,
                total: e.memory.total,
                capacity: e.memory.capacity,
            },
            decode_step: (&e.decode_step).into(),
            prefill_s_per_request: e.prefill_s_per_request,
            prefill_tokens_per_s_per_chip: e.prefill_tokens_per_s_per_chip,
            bottleneck: match e.bottleneck {
                Bottleneck::Compute => "compute",
                Bottleneck::MemoryBandwidth => "memory-bandwidth",
                Bottleneck::Communication => "communication",
            },
            fits: e.fits,
            infeasible: e.infeasible.map(|i| i.to_string()),
            chips: e.chips,
            calibrated: e.calibrated,
        }
    }
}

/// A serving engine's arguments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServeLaunchV1 {
    pub framework: &'static str,
    pub args: Vec<String>,
    pub notes: Vec<String>,
    /// Always `null` for serving engines (they take no configuration file).
    pub config: Option<String>,
}

impl From<&RankedServePlan> for ServePlanV1 {
    fn from(p: &RankedServePlan) -> Self {
        ServePlanV1 {
            rank: p.rank,
            pool: p.pool.clone(),
            chip: p.chip.clone(),
            stack: p.stack.as_str(),
            layout: (&p.plan.layout).into(),
            replicas: p.plan.replicas,
            chips: p.plan.chips,
            per_replica: (&p.plan.per_replica).into(),
            usd_per_hour: p.plan.usd_per_hour,
            usd_per_million_output_tokens: p.plan.usd_per_million_output_tokens,
            launch: ServeLaunchV1 {
                framework: p.launch.framework,
                args: p.launch.args.clone(),
                notes: p.launch.notes.clone(),
                config: p.launch.config.clone(),
            },
        }
    }
}

/// The JSON of `plan serve`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetServeV1 {
    pub model: String,
    pub fleet: String,
    /// Requests per second.
    pub rate: f64,
    /// The latency limits the plans meet, seconds (`null`: none).
    pub ttft_slo_s: Option<f64>,
    pub tpot_slo_s: Option<f64>,
    pub plans: Vec<ServePlanV1>,
    pub pools: Vec<PoolNoteV1>,
}

impl FleetServeV1 {
    pub fn new(p: &FleetServePlan, r: &tessera_plan::fleet::ServeRequest) -> FleetServeV1 {
        FleetServeV1 {
            model: p.model.clone(),
            fleet: p.fleet.clone(),
            rate: r.rate,
            ttft_slo_s: r.ttft_slo_s,
            tpot_slo_s: r.tpot_slo_s,
            plans: p.plans.iter().map(Into::into).collect(),
            pools: p.pools.iter().map(Into::into).collect(),
        }
    }
}
