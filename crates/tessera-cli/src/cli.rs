//! Command-line definitions.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Control plane for mixed-vendor AI accelerator fleets",
    long_about = "tessera: what each accelerator can do for your models, which ones you may buy, \
                  and how to lay jobs out on a fleet that mixes vendors.\n\n\
                  Exit codes: 0 success, 1 internal error, 2 usage error, 3 invalid input file, \
                  4 unknown id, 5 file not readable."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// A catalog file (TOML) adding or overriding chips, models and export events.
    /// May be given more than once; later files win.
    #[arg(long, global = true, value_name = "FILE")]
    pub catalog: Vec<PathBuf>,
    /// A directory whose *.toml catalog files are all loaded (in name order) before any
    /// --catalog file. Default: $TESSERA_CONFIG_DIR (set it empty to load none), else
    /// $XDG_CONFIG_HOME/tessera/catalog or ~/.config/tessera/catalog if it exists.
    #[arg(long, global = true, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Browse and compare the accelerator catalog.
    #[command(subcommand)]
    Chips(ChipsCmd),
    /// Browse the model catalog, or read a Hugging Face config.json.
    #[command(subcommand)]
    Models(ModelsCmd),
    /// Classify a chip under the US export rules (ECCN 3A090), with the arithmetic.
    ExportCheck(ExportCheckArgs),
    /// Predict step time, throughput, MFU and memory for a layout.
    #[command(subcommand)]
    Estimate(EstimateCmd),
    /// Compare the performance model with published measurements.
    #[command(subcommand)]
    Validate(ValidateCmd),
    /// Find the best layouts for a job on a fleet (or on N chips of one type).
    #[command(subcommand)]
    Plan(PlanCmd),
    /// What to buy for training and serving targets under a budget, power and export rules.
    Procure(ProcureArgs),
    /// Replay a job trace through a scheduling policy on a cluster (round-based, Gavel's mechanism).
    Simulate(Box<SimulateArgs>),
    /// Run the live control plane: the queue, the scheduler, Slurm dispatch and the HTTP API (docs/server.md).
    Server(ServerArgs),
    /// Submit a job file (TOML, or the same document as JSON) to a server.
    Submit(SubmitArgs),
    /// List a server's jobs.
    Jobs(JobsArgs),
    /// Show one job of a server, with its attempts.
    Job(JobArgs),
    /// Cancel a job on a server.
    Cancel(JobArgs),
    /// Scale a serving job on a server to a number of replicas.
    Scale(ScaleArgs),
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The server's configuration file (TOML; docs/server.md lists every key).
    #[arg(long)]
    pub config: std::path::PathBuf,
}

/// How the client reaches a server.
#[derive(Debug, Args)]
pub struct ServerConn {
    /// The server, http://HOST:PORT [default: $TESSERA_SERVER, else http://127.0.0.1:8473].
    #[arg(long)]
    pub server: Option<String>,
    /// A file holding the team's token [default: $TESSERA_TOKEN].
    #[arg(long)]
    pub token_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The job file: TOML (`kind = "batch"` ...) or JSON.
    pub file: std::path::PathBuf,
    #[command(flatten)]
    pub conn: ServerConn,
}

#[derive(Debug, Args)]
pub struct JobsArgs {
    /// Only jobs in this state (queued, dispatching, running, preempted, succeeded, failed, cancelled).
    #[arg(long)]
    pub state: Option<String>,
    #[command(flatten)]
    pub conn: ServerConn,
}

#[derive(Debug, Args)]
pub struct JobArgs {
    /// The job's id.
    pub id: u64,
    #[command(flatten)]
    pub conn: ServerConn,
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// The serving job's id.
    pub id: u64,
    /// Replicas to run (1 to 1000).
    #[arg(value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub replicas: u32,
    #[command(flatten)]
    pub conn: ServerConn,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// A Gavel trace (10 or 7 tab-separated columns).
    #[arg(
        long,
        required_unless_present_any = ["generate", "jobs"],
        conflicts_with_all = ["generate", "jobs"]
    )]
    pub trace: Option<String>,
    /// A tessera job file of LLM training jobs (docs/scheduler.md); their speed on each
    /// chip type comes from the training model. `--cluster` then names catalog chips,
    /// e.g. huawei-ascend-910b2=1600,nvidia-a800-sxm4-80gb=1024.
    #[arg(long, conflicts_with = "generate")]
    pub jobs: Option<String>,
    /// Instead of a trace, generate this many single-worker jobs with Poisson arrivals,
    /// drawn like Gavel's continuous workload (job types uniform over the throughput
    /// table; 10^x minutes on the V100, x ~ U[1.5, 3] or, 20% of the time, U[3, 4]).
    /// With --window, arrivals go on past this count until the window's jobs have all
    /// finished, and the replay ends there (as Gavel's generated-jobs driver does).
    #[arg(long)]
    pub generate: Option<usize>,
    /// Mean seconds between generated arrivals (642.857 = 5.6 jobs/h, the paper's
    /// Figure 8 high-load point).
    #[arg(long, default_value_t = 642.857)]
    pub arrival_s: f64,
    /// Gavel's throughput JSON (steps/s per job type, scale factor and accelerator type);
    /// needed with --trace and --generate.
    #[arg(long, required_unless_present = "jobs")]
    pub throughputs: Option<String>,
    /// Accelerators per type, e.g. v100=8,p100=16,k80=24 (or Gavel's 8:16:24).
    #[arg(long)]
    pub cluster: String,
    /// Policy: fifo, shortest-job-first, least-attained-service, max-min-fairness,
    /// finish-time-fairness, min-makespan, max-sum-throughput, min-cost; add -perf for
    /// the heterogeneity-aware form (e.g. max-min-fairness-perf).
    #[arg(long, default_value = "max-min-fairness-perf")]
    pub policy: String,
    /// Round length in seconds.
    #[arg(long, default_value_t = 360.0)]
    pub round_s: f64,
    /// Model nodes of this many accelerators: one count for every type (8), one per type
    /// (v100=4,p100=4,k80=2, every cluster type named) or Gavel's V100:P100:K80 form
    /// (4:4:2). A multi-worker job goes on one node when one has room, else it spans
    /// nodes (at Gavel's `_unconsolidated` throughput where the table has one). Without
    /// it, node boundaries are ignored, as in Gavel's simulator.
    #[arg(long)]
    pub chips_per_node: Option<String>,
    /// USD per worker-hour of each type, e.g. v100=2.48,p100=1.46,k80=0.45: enables the
    /// cost metric and the min-cost policy. With --jobs, catalog chips default to their
    /// price spread over 4 years plus energy at USD 0.10/kWh, where the catalog has both.
    #[arg(long)]
    pub prices: Option<String>,
    /// Seconds lost when a job restarts on new workers (checkpoint restore).
    #[arg(long, default_value_t = 0.0)]
    pub restart_s: f64,
    /// Least seconds between two allocations (a new allocation is made only when jobs
    /// arrived or left; 0 to 10^7). Default: 1920, Gavel's, for every policy Gavel has; 0
    /// (every round the job set changed) for shortest-job-first.
    #[arg(long)]
    pub realloc_s: Option<f64>,
    /// Skip jobs whose (type, scale factor) has no throughput on any cluster type, and say
    /// how many; without it they are an error.
    #[arg(long)]
    pub skip_missing: bool,
    /// Average JCT over this window of job indices only, e.g. 4000-4999. With
    /// --generate, the replay ends when these jobs have finished, with jobs still
    /// arriving until then.
    #[arg(long)]
    pub window: Option<String>,
    /// Write SVG charts here: jct-cdf.svg (the JCT distribution) and utilization.svg
    /// (busy fraction per type over time).
    #[arg(long)]
    pub svg_dir: Option<std::path::PathBuf>,
    /// Seed for generated jobs and for the random choices of agnostic policies.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The LP method of the LP policies: `simplex` (microlp; a vertex of the optimal set)
    /// or `interior` (Clarabel's interior-point method; a central point, as Gavel's
    /// ECOS gives).
    #[arg(long, default_value = "simplex", value_parser = parse_solver)]
    pub solver: tessera_sched::Solver,
    /// Reproduce Gavel's behaviour where tessera corrects it (docs/scheduler.md): the
    /// agnostic FIFO's type choice (each queued job to the alphabetically last type with
    /// room, over-subscribing it, drawn from Python's generator seeded by --seed);
    /// minimum makespan's deadline search (100 s to 10^6 s, up by 10x, stopping within
    /// 5%) with no objective at the value found (use with --solver interior); the
    /// agnostic inputs (1.0, or the v100 speed, on every type, even where a job cannot
    /// run); the clock (a reallocation soon after one at t = 0, a jump to the next
    /// arrival when nothing can be placed); and whole steps per round.
    #[arg(long)]
    pub gavel_compat: bool,
    /// With --jobs: the link between every two chip types of the cluster, KIND:GB_S (KIND
    /// rdma, host-staged or flagcx; GB/s per chip, 0.01 to 1000), e.g. host-staged:12.5.
    /// The heterogeneity-aware max-min-fairness, max-sum-throughput and
    /// shortest-job-first policies may then run a job as one gang across two types, at its mixed plan's speed, where the
    /// mixed-vendor planner finds one (docs/scheduler.md).
    #[arg(long, conflicts_with_all = ["trace", "generate"])]
    pub link: Option<String>,
    /// With --jobs, --trace or --generate: each job may also run at other sizes on a type
    /// (with --jobs at half or twice its chips, at that size's planned speed; with --trace
    /// or --generate at every other scale factor Gavel's table has for the job type, at
    /// the table's throughput; a restart when its size changes), for the policies that
    /// plan more than one shape per job (the -perf forms of max-min-fairness,
    /// max-sum-throughput and shortest-job-first; docs/scheduler.md "Elastic sizes").
    #[arg(long)]
    pub elastic: bool,
}

#[derive(Debug, Args)]
pub struct ProcureArgs {
    /// A built-in scenario id (baidu-2023) or a scenario TOML file (docs/procure.md).
    /// Without it, the built-in baidu-2023 scenario.
    #[arg(long)]
    pub scenario: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PlanCmd {
    /// The fastest or cheapest training layouts, per pool and across pools, with launch arguments.
    Train(Box<PlanTrainArgs>),
    /// How many chips of which type, and what replica layout, carry a request rate.
    Serve(Box<PlanServeArgs>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ObjectiveArg {
    Time,
    Cost,
}

#[derive(Debug, Args)]
pub struct PlanTrainArgs {
    /// Model id or path to a Hugging Face config.json.
    #[arg(long)]
    pub model: String,
    /// A fleet: a built-in id (baidu-2023, h100-16k) or a fleet TOML file.
    #[arg(long, conflicts_with_all = ["chip", "chips"])]
    pub fleet: Option<String>,
    /// Only this pool of the fleet.
    #[arg(long, requires = "fleet")]
    pub pool: Option<String>,
    /// Shorthand for a one-pool fleet: the chip id ...
    #[arg(long, requires = "chips")]
    pub chip: Option<String>,
    /// ... and how many.
    #[arg(long, requires = "chip", value_parser = clap::value_parser!(u64).range(1..=MAX_CHIPS))]
    pub chips: Option<u64>,
    /// Tokens to train, for time and cost to train (1 to 1e16).
    #[arg(long, value_parser = parse_tokens)]
    pub tokens: Option<f64>,
    /// Global batch (sequences, 1 to 16,777,216). Default: about 4M tokens.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_BATCH))]
    pub global_batch: Option<u32>,
    /// Sequence length (tokens, 1 to 1,048,576; at most the model's learned positions).
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=MAX_SEQ))]
    pub seq_len: u32,
    #[arg(long, value_enum, default_value_t = ObjectiveArg::Time)]
    pub objective: ObjectiveArg,
    /// How many plans to show (1 to 1000).
    #[arg(long, default_value_t = 5, value_parser = parse_top)]
    pub top: usize,
    #[arg(long, value_enum, default_value_t = PrecisionArg::Bf16)]
    pub precision: PrecisionArg,
    /// Software stack for every pool (default: by vendor).
    #[arg(long)]
    pub stack: Option<String>,
    /// Training framework for every pool: megatron-lm (distributed optimizer, ZeRO-1),
    /// megatron-fsdp (ZeRO-1 to 3, no pipeline parallelism), mindspeed-llm, flagscale
    /// (Megatron-LM's capabilities; prints its YAML train config). The search covers only
    /// what it can run. Default: mindspeed-llm on Huawei, else megatron-lm.
    #[arg(long)]
    pub framework: Option<String>,
    /// Write launch files for the best plan into DIR (created if needed): `--emit slurm
    /// DIR` an sbatch script; `--emit ray DIR` a Ray driver (a placement group of one
    /// bundle per node, torchrun on each) and the `ray job submit` line that sends it;
    /// `--emit k8s DIR` Kubernetes manifests (a headless Service, a Volcano PodGroup, an
    /// indexed Job); `--emit flagscale DIR` the mixed pipeline plan across pools as
    /// FlagScale's heterogeneous train config, experiment config and hostfile.
    #[arg(long, num_args = 2, value_names = ["KIND", "DIR"])]
    pub emit: Option<Vec<String>>,
    #[command(flatten)]
    pub launch: EmitOptions,
    /// With --emit k8s: the Volcano queue (default `default`).
    #[arg(long, requires = "emit")]
    pub queue: Option<String>,
}

/// How `--emit` launch files ask for the chips, for `plan train` and `plan serve`.
#[derive(Debug, Args)]
pub struct EmitOptions {
    /// With --emit slurm: the partition the script asks for (default: the cluster's).
    #[arg(long, requires = "emit")]
    pub partition: Option<String>,
    /// With --emit slurm: the GRES type of the chips (`gpu:TYPE:N`; default untyped `gpu:N`).
    #[arg(long, requires = "emit")]
    pub gres_type: Option<String>,
    /// With --emit ray: the Ray resource of the chips (default `GPU` for Nvidia, `NPU`
    /// for Ascend; required for chips Ray has no manager for, such as Kunlun's).
    #[arg(long, requires = "emit")]
    pub ray_resource: Option<String>,
    /// With --emit k8s: the container image (default: a placeholder to replace).
    #[arg(long, requires = "emit")]
    pub image: Option<String>,
    /// With --emit k8s: the namespace (default: none, kubectl's current one).
    #[arg(long, requires = "emit")]
    pub namespace: Option<String>,
}

#[derive(Debug, Args)]
pub struct PlanServeArgs {
    #[arg(long)]
    pub model: String,
    #[arg(long, conflicts_with_all = ["chip", "chips"])]
    pub fleet: Option<String>,
    #[arg(long, requires = "chips")]
    pub chip: Option<String>,
    #[arg(long, requires = "chip", value_parser = clap::value_parser!(u64).range(1..=MAX_CHIPS))]
    pub chips: Option<u64>,
    /// Requests per second to carry (0.001 to 1,000,000).
    #[arg(long, value_parser = parse_rate)]
    pub rate: f64,
    /// Prompt tokens per request (1 to 1,048,576).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=MAX_SEQ))]
    pub input_len: u32,
    /// Generated tokens per request (1 to 1,048,576).
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=MAX_SEQ))]
    pub output_len: u32,
    /// Time-to-first-token limit: a duration with its unit (`500ms`, `2s`), or bare
    /// seconds up to 60. Default: none.
    #[arg(long, value_parser = parse_ttft)]
    pub ttft_slo: Option<f64>,
    /// Time-per-output-token limit: a duration with its unit (`50ms`, `0.2s`), or bare
    /// seconds up to 2; `off` for none. Default: 200ms, MLPerf Inference's server-scenario
    /// limit for Llama 2 70B (docs/planner.md).
    #[arg(long, default_value = "200ms", value_parser = parse_tpot_or_off)]
    pub tpot_slo: Slo,
    #[arg(long, value_enum, default_value_t = ServePrecisionArg::Bf16)]
    pub precision: ServePrecisionArg,
    /// Serving engine for every pool (default: by vendor).
    #[arg(long)]
    pub stack: Option<String>,
    /// How many plans to show (1 to 1000).
    #[arg(long, default_value_t = 5, value_parser = parse_top)]
    pub top: usize,
    /// Write launch files for the best plan into DIR: `--emit slurm DIR` an sbatch job
    /// array, one task per replica; `--emit ray DIR` a Ray driver (one task per replica)
    /// and its `ray job submit` line; `--emit k8s DIR` a Deployment of the replicas and a
    /// Service.
    #[arg(long, num_args = 2, value_names = ["KIND", "DIR"])]
    pub emit: Option<Vec<String>>,
    #[command(flatten)]
    pub launch: EmitOptions,
}

#[derive(Debug, Subcommand)]
pub enum EstimateCmd {
    /// One LLM training step on one chip type and layout.
    Train(Box<TrainArgs>),
    /// LLM serving: latency, throughput and KV capacity on one chip type and layout.
    Serve(Box<ServeArgs>),
}

#[derive(Debug, Subcommand)]
pub enum ValidateCmd {
    /// Predict every published training measurement and report the errors.
    Train {
        /// A rows file (TOML, the format of crates/tessera-validate/data/train-rows.toml,
        /// with `measured` on each row) instead of the built-in rows.
        #[arg(long, value_name = "FILE")]
        data: Option<std::path::PathBuf>,
        /// Also refit the efficiency parameters on the calibration rows and print them.
        #[arg(long)]
        fit: bool,
    },
    /// Predict every published serving measurement and report the errors.
    Serve {
        /// A rows file (TOML, the format of crates/tessera-validate/data/serve-rows.toml)
        /// instead of the built-in rows.
        #[arg(long, value_name = "FILE")]
        data: Option<std::path::PathBuf>,
        /// Also refit the serving parameters on the calibration rows and print them.
        #[arg(long)]
        fit: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ServePrecisionArg {
    Bf16,
    Fp8,
    /// int8 weights and activations (W8A8).
    Int8,
    /// int4 weights, 16-bit activations.
    Int4,
    /// fp4 weights and activations (Blackwell).
    Fp4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KvPrecisionArg {
    Bf16,
    Fp8,
    Int8,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Model id (see `tessera models list`) or a path to a Hugging Face config.json.
    #[arg(long)]
    pub model: String,
    /// Chip id.
    #[arg(long)]
    pub chip: String,
    /// Number of chips (all pools together; 1 to 1,048,576).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_CHIPS))]
    pub chips: u64,
    /// Tensor parallelism per replica.
    #[arg(long, default_value_t = 1, value_parser = degree())]
    pub tp: u32,
    /// Pipeline parallelism per replica.
    #[arg(long, default_value_t = 1, value_parser = degree())]
    pub pp: u32,
    /// Expert parallelism within a replica (MoE models).
    #[arg(long, default_value_t = 1, value_parser = degree())]
    pub ep: u32,
    /// Data-parallel attention ranks per replica (DeepSeek-style; experts spread over them).
    #[arg(long, default_value_t = 1, value_parser = degree())]
    pub attn_dp: u32,
    /// Replicas. Default: the chips (of the decode pool) / (tp x pp x attn-dp).
    #[arg(long, value_parser = degree())]
    pub replicas: Option<u32>,
    /// Prompt length (tokens, 1 to 1,048,576).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=MAX_SEQ))]
    pub input_len: u32,
    /// Generated length (tokens, 1 to 1,048,576).
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=MAX_SEQ))]
    pub output_len: u32,
    /// A distribution of request lengths instead of --input-len / --output-len: a CSV
    /// file with the header `input,output` or `input,output,weight`, one request class a line.
    #[arg(long, value_name = "FILE")]
    pub lengths: Option<std::path::PathBuf>,
    /// Sequences in flight over the whole system (1 to 1,048,576).
    #[arg(long, conflicts_with = "rate", value_parser = degree())]
    pub concurrency: Option<u32>,
    /// Requests per second over the whole system (0.001 to 1,000,000).
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Weight and activation precision.
    #[arg(long, value_enum, default_value_t = ServePrecisionArg::Bf16)]
    pub precision: ServePrecisionArg,
    /// KV-cache precision. Default: fp8 with fp8 weights, else bf16.
    #[arg(long, value_enum)]
    pub kv_precision: Option<KvPrecisionArg>,
    /// Time-to-first-token limit (SLO mode): a duration with its unit (`500ms`, `2s`), or
    /// bare seconds up to 60.
    #[arg(long, value_parser = parse_ttft)]
    pub ttft_slo: Option<f64>,
    /// Time-per-output-token limit (SLO mode): a duration with its unit (`50ms`,
    /// `0.2s`), or bare seconds up to 2.
    #[arg(long, value_parser = parse_tpot)]
    pub tpot_slo: Option<f64>,
    /// Serving engine: tensorrt-llm, vllm, vllm-ascend, mindie, deepseek.
    /// Default: vllm-ascend for Huawei, else vllm.
    #[arg(long)]
    pub stack: Option<String>,
    /// Prefill/decode disaggregation: chips in the prefill pool (the rest decode).
    #[arg(long)]
    pub prefill_chips: Option<u64>,
    /// Tensor parallelism of each prefill replica.
    #[arg(long, default_value_t = 1)]
    pub prefill_tp: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RecomputeArg {
    None,
    Selective,
    Full,
    /// Megatron's `--recompute-modules mla_up_proj` (MLA models only).
    MlaUpProj,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrecisionArg {
    Bf16,
    Fp8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GradReduceArg {
    Fp32,
    Bf16,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Model id (see `tessera models list`) or a path to a Hugging Face config.json.
    #[arg(long)]
    pub model: String,
    /// Chip id (see `tessera chips list`).
    #[arg(long)]
    pub chip: String,
    /// Number of chips (1 to 1,048,576).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_CHIPS))]
    pub chips: u64,
    /// Tensor parallelism.
    #[arg(long, default_value_t = 1, value_parser = degree())]
    pub tp: u32,
    /// Pipeline parallelism.
    #[arg(long, default_value_t = 1, value_parser = degree())]
    pub pp: u32,
    /// Data parallelism. Default: chips / (tp x pp x cp).
    #[arg(long, value_parser = degree())]
    pub dp: Option<u32>,
    /// Context parallelism.
    #[arg(long, default_value_t = 1, value_parser = degree())]
    pub cp: u32,
    /// Expert parallelism (MoE models).
    #[arg(long, default_value_t = 1, value_parser = degree())]
    pub ep: u32,
    /// Expert tensor parallelism. Default: 1 when ep > 1, else tp.
    #[arg(long, value_parser = degree())]
    pub etp: Option<u32>,
    /// Virtual pipeline stages per rank (interleaved 1F1B).
    #[arg(long, default_value_t = 1, value_parser = degree())]
    pub vpp: u32,
    /// Allow layers that do not divide evenly over pp x vpp stages.
    #[arg(long)]
    pub uneven_pp: bool,
    /// Micro-batch size (sequences).
    #[arg(long, default_value_t = 1, value_parser = degree())]
    pub micro_batch: u32,
    /// Global batch size (sequences, 1 to 16,777,216). Default: about 4M tokens, a multiple
    /// of dp x micro-batch.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_BATCH))]
    pub global_batch: Option<u32>,
    /// Sequence length (tokens, 1 to 1,048,576; at most the model's learned positions).
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=MAX_SEQ))]
    pub seq_len: u32,
    /// Activation recomputation.
    #[arg(long, value_enum, default_value_t = RecomputeArg::None)]
    pub recompute: RecomputeArg,
    /// ZeRO stage: 0 none, 1 distributed optimizer, 2 + gradients, 3 + parameters.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=3))]
    pub zero: u8,
    /// Turn sequence parallelism off (it is on whenever tp > 1).
    #[arg(long)]
    pub no_sequence_parallel: bool,
    /// Training precision of the GEMMs.
    #[arg(long, value_enum, default_value_t = PrecisionArg::Bf16)]
    pub precision: PrecisionArg,
    /// Software stack: megatron-2021, megatron-core, mindspeed, mindspeed-legacy, paddle.
    /// Default: by vendor (mindspeed for Huawei, paddle for Kunlunxin, else megatron-core).
    #[arg(long)]
    pub stack: Option<String>,
    /// The model has dropout layers (GPT-2/3-era); adds their masks to activation memory.
    #[arg(long)]
    pub dropout: bool,
    /// Attention without a fused flash kernel: stores the s x s scores.
    #[arg(long)]
    pub no_flash_attention: bool,
    /// Element type of the data-parallel gradient buffers and their reduction: fp32
    /// (Megatron-LM's choice for bf16) or bf16 (NVIDIA's performance recipes:
    /// grad_reduce_in_fp32 off).
    #[arg(long, value_enum, default_value_t = GradReduceArg::Fp32)]
    pub grad_reduce: GradReduceArg,
    /// Also report time, chip-hours, energy and cost to train this many tokens (e.g. 15e12;
    /// 1 to 1e16).
    #[arg(long, value_parser = parse_tokens)]
    pub tokens: Option<f64>,
    /// Electricity price for the energy cost, USD per kWh (0 to 10).
    #[arg(long, default_value_t = 0.10, value_parser = parse_usd_per_kwh)]
    pub usd_per_kwh: f64,
    /// Years over which a chip's price is amortised for the cost per chip-hour.
    #[arg(long, default_value_t = 4.0)]
    pub amortization_years: f64,
}

#[derive(Debug, Subcommand)]
pub enum ChipsCmd {
    /// List the chips, optionally of one vendor.
    List {
        /// Only chips whose vendor contains this text (case-insensitive).
        #[arg(long)]
        vendor: Option<String>,
    },
    /// Every figure of one chip, with its status and source.
    Show {
        /// Chip id, e.g. huawei-ascend-910b2 (see `tessera chips list`).
        id: String,
    },
    /// Chips side by side, with ratios to the first. With no ids: the chips of Baidu's
    /// November 2023 decision (Ascend 910B2 vs A800, H800 and H20).
    Compare {
        /// Chip ids; the first is the baseline for ratios.
        ids: Vec<String>,
        /// Date for the export status row (YYYY-MM-DD). Default: 2023-11-17 for the
        /// built-in comparison (the day the October 2023 rule took effect), else today.
        #[arg(long)]
        date: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCmd {
    /// List the built-in (and user) models.
    List,
    /// A model's shape and derived figures.
    Show {
        /// Model id (see `tessera models list`) or a path to a Hugging Face config.json.
        model: String,
        /// Sequence length for the attention part of the training FLOPs.
        #[arg(long, default_value_t = 4096)]
        seq_len: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuleArg {
    #[value(name = "2022-10")]
    Oct2022,
    #[value(name = "2023-10")]
    Oct2023,
    /// The rule in force on --date.
    Latest,
}

#[derive(Debug, Args)]
pub struct ExportCheckArgs {
    /// Chip id.
    pub id: String,
    /// Which rule's verdict heads the report.
    #[arg(long, value_enum, default_value_t = RuleArg::Latest)]
    pub rule: RuleArg,
    /// The date the question is asked on (YYYY-MM-DD); dated events up to it apply.
    /// Default: today.
    #[arg(long)]
    pub date: Option<String>,
}

/// The largest chip count an option takes (2^20: far above any cluster, and small enough
/// that no product of degrees overflows).
pub const MAX_CHIPS: u64 = 1 << 20;
/// The largest global batch in sequences.
pub const MAX_BATCH: i64 = 1 << 24;
/// The longest sequence, in tokens.
pub const MAX_SEQ: i64 = 1 << 20;

/// A parallel degree or micro-batch: 1 to 1,048,576.
fn degree() -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(1..=(1 << 20))
}

fn finite_in(s: &str, lo: f64, hi: f64) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if !v.is_finite() || v < lo || v > hi {
        return Err(format!("{s} is not in {lo}..={hi:e}"));
    }
    Ok(v)
}

fn parse_tokens(s: &str) -> Result<f64, String> {
    finite_in(s, 1.0, 1e16)
}

fn parse_usd_per_kwh(s: &str) -> Result<f64, String> {
    finite_in(s, 0.0, 10.0)
}

fn parse_top(s: &str) -> Result<usize, String> {
    let v: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a whole number"))?;
    if !(1..=1000).contains(&v) {
        return Err(format!("{v} is not in 1..=1000"));
    }
    Ok(v)
}

/// A latency limit, or none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo(pub Option<f64>);

/// Seconds from `500ms`, `2s`, `1.5 s`, `2000us`, or bare seconds up to `bare_max` (a bare
/// number above it is almost certainly milliseconds, and refused with that hint).
fn parse_duration(s: &str, bare_max: f64) -> Result<f64, String> {
    let t = s.trim();
    let (num, scale) = if let Some(v) = t.strip_suffix("ms") {
        (v, 1e-3)
    } else if let Some(v) = t.strip_suffix("us") {
        (v, 1e-6)
    } else if let Some(v) = t.strip_suffix('s') {
        (v, 1.0)
    } else {
        (t, 0.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a duration; write it with its unit, e.g. 50ms or 2s"))?;
    if !v.is_finite() || v <= 0.0 {
        return Err(format!("`{s}` must be a positive duration"));
    }
    if scale == 0.0 {
        if v > bare_max {
            return Err(format!(
                "`{s}` read as seconds is implausible (at most {bare_max} s without a unit); \
                 did you mean {s}ms?"
            ));
        }
        return Ok(v);
    }
    let secs = v * scale;
    if secs > 3600.0 {
        return Err(format!("`{s}` is over an hour"));
    }
    Ok(secs)
}

fn parse_ttft(s: &str) -> Result<f64, String> {
    parse_duration(s, 60.0)
}

fn parse_tpot(s: &str) -> Result<f64, String> {
    parse_duration(s, 2.0)
}

fn parse_tpot_or_off(s: &str) -> Result<Slo, String> {
    if s.trim() == "off" {
        Ok(Slo(None))
    } else {
        parse_tpot(s).map(|v| Slo(Some(v)))
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    finite_in(s, 1e-3, 1e6)
}

fn parse_solver(s: &str) -> Result<tessera_sched::Solver, String> {
    tessera_sched::Solver::parse(s).ok_or_else(|| {
        format!(
            "unknown solver `{s}`; use {}",
            tessera_sched::Solver::NAMES.join(" or ")
        )
    })
}
