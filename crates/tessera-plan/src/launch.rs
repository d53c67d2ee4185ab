//! Launch arguments for real frameworks, from a planned layout.

use tessera_core::model::ModelArch;
use tessera_perf::serve::{ServeLayout, ServePrecision};
use tessera_perf::train::{Layout, Recompute, TrainPrecision};

/// Every training argument name each framework defines, extracted from its own source by
/// `tools/framework_args.py` (each file's header names the repositories and commits).
pub const MEGATRON_LM_ARGS: &str = include_str!("../data/args/megatron-lm.txt");
pub const MINDSPEED_LLM_ARGS: &str = include_str!("../data/args/mindspeed-llm.txt");
pub const FLAGSCALE_ARGS: &str = include_str!("../data/args/flagscale.txt");

/// Every argument a serving engine accepts, and the values of its enumerated arguments
/// (`value --flag VALUE` lines), extracted from its released source by
/// `tools/engine_args.py` (each file's header names the releases and files).
pub const VLLM_ARGS: &str = include_str!("../data/args/vllm.txt");
pub const VLLM_ASCEND_ARGS: &str = include_str!("../data/args/vllm-ascend.txt");

fn serve_list(ascend: bool) -> &'static str {
    if ascend { VLLM_ASCEND_ARGS } else { VLLM_ARGS }
}

/// Every argument name vLLM (or, with `ascend`, vllm-ascend) accepts.
pub fn serve_argument_names(ascend: bool) -> Vec<&'static str> {
    serve_list(ascend)
        .lines()
        .filter(|l| l.starts_with("--"))
        .collect()
}

/// The values an enumerated serving argument (`--quantization`, `--kv-cache-dtype`,
/// `--distributed-executor-backend`) accepts; empty for an argument not listed.
pub fn serve_argument_values(ascend: bool, flag: &str) -> Vec<&'static str> {
    serve_list(ascend)
        .lines()
        .filter_map(|l| l.strip_prefix("value "))
        .filter_map(|l| l.split_once(' '))
        .filter(|(f, _)| *f == flag)
        .map(|(_, v)| v)
        .collect()
}

/// A training framework tessera writes launch arguments for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainFramework {
    /// Megatron-LM with its distributed optimizer (ZeRO-1 at most).
    MegatronLm,
    /// Megatron-LM with Megatron-FSDP (`--use-megatron-fsdp`): ZeRO-1 to 3 through its
    /// sharding strategies, no pipeline parallelism.
    MegatronFsdp,
    /// MindSpeed-LLM on Ascend (Megatron-LM core_v0.12.1 underneath).
    MindspeedLlm,
    /// FlagScale (BAAI): Megatron-LM (the commit its submodule pins) with its own
    /// additions, configured by a YAML file whose keys are the arguments.
    FlagScale,
}

/// What a framework can run; the planner searches only this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Highest ZeRO stage: Megatron's distributed optimizer shards optimizer states (1);
    /// Megatron-FSDP also gradients (2, `optim_grads`) and parameters (3,
    /// `optim_grads_params`).
    pub max_zero: u8,
    pub pipeline: bool,
    pub interleaving: bool,
    /// Layers split unevenly over pipeline stages, and over virtual stages.
    pub uneven_pipeline: bool,
    pub uneven_interleaving: bool,
    pub context_parallel: bool,
    pub sequence_parallel: bool,
    pub selective_recompute: bool,
    pub expert_parallel: bool,
    pub fp8: bool,
}

impl TrainFramework {
    pub const ALL: [TrainFramework; 4] = [
        TrainFramework::MegatronLm,
        TrainFramework::MegatronFsdp,
        TrainFramework::MindspeedLlm,
        TrainFramework::FlagScale,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TrainFramework::MegatronLm => "megatron-lm",
            TrainFramework::MegatronFsdp => "megatron-fsdp",
            TrainFramework::MindspeedLlm => "mindspeed-llm",
            TrainFramework::FlagScale => "flagscale",
        }
    }

    pub fn parse(s: &str) -> Option<TrainFramework> {
        TrainFramework::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// The framework a chip's vendor ships for: MindSpeed-LLM on Huawei Ascend,
    /// Megatron-LM elsewhere.
    pub fn default_for(vendor: &str) -> TrainFramework {
        if vendor.to_ascii_lowercase().starts_with("huawei") {
            TrainFramework::MindspeedLlm
        } else {
            TrainFramework::MegatronLm
        }
    }

    /// The capability table (docs/planner.md, "Frameworks"), from each framework's
    /// arguments and their validation code: Megatron-LM megatron/training/arguments.py
    /// (the distributed optimizer; `--pipeline-model-parallel-layout` for uneven virtual
    /// stages), Megatron-FSDP docs/user-guide/features/megatron_fsdp.md (sharding
    /// strategies; its examples combine it with TP, CP and EP, not PP), MindSpeed-LLM
    /// (`--num-layer-list` for uneven stages, without virtual stages; no fp8 recipe).
    pub fn capabilities(self) -> Capabilities {
        let megatron = Capabilities {
            max_zero: 1,
            pipeline: true,
            interleaving: true,
            uneven_pipeline: true,
            uneven_interleaving: true,
            context_parallel: true,
            sequence_parallel: true,
            selective_recompute: true,
            expert_parallel: true,
            fp8: true,
        };
        match self {
            TrainFramework::MegatronLm | TrainFramework::FlagScale => megatron,
            TrainFramework::MegatronFsdp => Capabilities {
                max_zero: 3,
                pipeline: false,
                interleaving: false,
                uneven_pipeline: false,
                uneven_interleaving: false,
                ..megatron
            },
            TrainFramework::MindspeedLlm => Capabilities {
                uneven_interleaving: false,
                fp8: false,
                ..megatron
            },
        }
    }

    /// Every argument name the framework defines.
    pub fn argument_names(self) -> Vec<&'static str> {
        let text = match self {
            TrainFramework::MegatronLm | TrainFramework::MegatronFsdp => MEGATRON_LM_ARGS,
            TrainFramework::MindspeedLlm => MINDSPEED_LLM_ARGS,
            TrainFramework::FlagScale => FLAGSCALE_ARGS,
        };
        text.lines().filter(|l| l.starts_with("--")).collect()
    }

    /// Why a layout cannot run under this framework, if it cannot.
    pub fn cannot_run(self, l: &Layout, layers: u64, precision: TrainPrecision) -> Option<String> {
        let c = self.capabilities();
        let fw = self.as_str();
        let uneven = !layers.is_multiple_of(l.pp as u64 * l.vpp as u64);
        if l.zero > c.max_zero {
            Some(format!("{fw} runs ZeRO stages up to {}", c.max_zero))
        } else if l.pp > 1 && !c.pipeline {
            Some(format!("{fw} does not combine with pipeline parallelism"))
        } else if l.vpp > 1 && !c.interleaving {
            Some(format!("{fw} has no interleaved pipeline schedule"))
        } else if uneven && l.vpp > 1 && !c.uneven_interleaving {
            Some(format!(
                "{fw} cannot split layers unevenly over virtual stages"
            ))
        } else if uneven && !c.uneven_pipeline {
            Some(format!(
                "{fw} cannot split layers unevenly over pipeline stages"
            ))
        } else if l.cp > 1 && !c.context_parallel {
            Some(format!("{fw} has no context parallelism"))
        } else if l.ep > 1 && !c.expert_parallel {
            Some(format!("{fw} has no expert parallelism"))
        } else if precision == TrainPrecision::Fp8 && !c.fp8 {
            Some(format!("{fw} has no fp8 training recipe"))
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Launch {
    pub framework: &'static str,
    pub args: Vec<String>,
    /// Things the framework needs that tessera cannot express as an argument.
    pub notes: Vec<String>,
    /// A configuration file, for frameworks launched from one (FlagScale's YAML).
    pub config: Option<String>,
}

fn push(v: &mut Vec<String>, k: &str, val: impl ToString) {
    v.push(k.to_string());
    v.push(val.to_string());
}

/// Layers per pipeline stage when `layers` does not divide evenly: the first and last
/// stages take the remainder off (they also hold the embedding and the output layer).
pub fn uneven_split(layers: u64, pp: u32) -> Vec<u64> {
    tessera_perf::train::stage_layers(layers, pp, 1)
}

/// Megatron's `--pipeline-model-parallel-layout`: every virtual stage in order (stage i
/// on pipeline rank i mod pp), `E` the embedding, `t` a transformer layer, `L` the loss.
pub fn megatron_layout(layers: u64, pp: u32, vpp: u32) -> String {
    let split = tessera_perf::train::stage_layers(layers, pp, vpp);
    let last = split.len() - 1;
    split
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let mut s = String::new();
            if i == 0 {
                s.push('E');
            }
            s.push_str(&"t".repeat(n as usize));
            if i == last {
                s.push('L');
            }
            s
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// The model's shape as Megatron arguments (MindSpeed-LLM takes the same).
fn model_args(a: &mut Vec<String>, notes: &mut Vec<String>, m: &ModelArch) {
    use tessera_core::model::{Mlp, Norm, Position};
    push(a, "--num-layers", m.layers);
    push(a, "--hidden-size", m.hidden);
    push(a, "--ffn-hidden-size", m.ffn_hidden);
    push(a, "--num-attention-heads", m.heads);
    if m.mla.is_none() && m.kv_heads < m.heads {
        a.push("--group-query-attention".into());
        push(a, "--num-query-groups", m.kv_heads);
    }
    if m.mla.is_none() && m.head_dim * m.heads != m.hidden {
        push(a, "--kv-channels", m.head_dim);
    }
    match m.mlp {
        Mlp::Gated => a.push("--swiglu".into()),
        Mlp::Plain if m.family == "nemotron" => a.push("--squared-relu".into()),
        Mlp::Plain => {}
    }
    match m.position {
        Position::Rope => push(a, "--position-embedding-type", "rope"),
        Position::Learned => push(a, "--position-embedding-type", "learned_absolute"),
        Position::Alibi => notes.push(
            "ALiBi position biases are not a Megatron-LM option: this model needs a patched model"
                .into(),
        ),
    }
    match m.norm {
        Norm::Rms => push(a, "--normalization", "RMSNorm"),
        Norm::Layer => push(a, "--normalization", "LayerNorm"),
    }
    if !m.linear_bias {
        a.push("--disable-bias-linear".into());
    }
    if m.qkv_bias {
        a.push("--add-qkv-bias".into());
    }
    if m.qk_norm {
        a.push("--qk-layernorm".into());
    }
    if !m.tied_embeddings {
        a.push("--untie-embeddings-and-output-weights".into());
    }
    push(a, "--vocab-size", m.vocab);
    notes.push(format!(
        "give your tokenizer with --tokenizer-type and --tokenizer-model; its vocabulary must be the model's {} tokens",
        m.vocab
    ));
    if let Some(moe) = &m.moe {
        push(a, "--num-experts", moe.experts);
        push(a, "--moe-router-topk", moe.top_k);
        push(a, "--moe-ffn-hidden-size", moe.expert_ffn_hidden);
        if moe.shared_experts > 0 {
            push(
                a,
                "--moe-shared-expert-intermediate-size",
                moe.shared_experts * moe.shared_ffn_hidden,
            );
        }
        if moe.dense_layers > 0 || moe.interval > 1 {
            let pattern: Vec<String> = (0..m.layers)
                .map(|i| {
                    let moe_layer = i >= moe.dense_layers
                        && (i - moe.dense_layers).is_multiple_of(moe.interval.max(1));
                    if moe_layer { "1" } else { "0" }.to_string()
                })
                .collect();
            push(a, "--moe-layer-freq", format!("[{}]", pattern.join(",")));
        }
        a.push("--moe-grouped-gemm".into());
    }
    if let Some(mla) = &m.mla {
        a.push("--multi-latent-attention".into());
        if let Some(q) = mla.q_lora_rank {
            push(a, "--q-lora-rank", q);
        }
        push(a, "--kv-lora-rank", mla.kv_lora_rank);
        push(a, "--qk-head-dim", mla.qk_nope_head_dim);
        push(a, "--qk-pos-emb-head-dim", mla.qk_rope_head_dim);
        push(a, "--v-head-dim", mla.v_head_dim);
    }
}

/// The complete training arguments for a layout under a framework: model shape,
/// parallelism, batch, recompute, optimizer sharding and precision. Every argument is
/// one the framework defines (tested against `argument_names`). A layout the framework
/// cannot run gets its reason as a note (the planner never proposes one).
pub fn train_args(
    fw: TrainFramework,
    m: &ModelArch,
    l: &Layout,
    seq: u32,
    global_batch: u32,
    precision: TrainPrecision,
) -> Launch {
    let mut a = Vec::new();
    let mut notes = Vec::new();
    if let Some(why) = fw.cannot_run(l, m.layers, precision) {
        notes.push(format!("NOT RUNNABLE as planned: {why}"));
    }
    model_args(&mut a, &mut notes, m);
    push(&mut a, "--tensor-model-parallel-size", l.tp);
    push(&mut a, "--pipeline-model-parallel-size", l.pp);
    let stages = l.pp as u64 * l.vpp as u64;
    let uneven = l.pp > 1 && !m.layers.is_multiple_of(stages);
    match fw {
        TrainFramework::MegatronLm | TrainFramework::MegatronFsdp | TrainFramework::FlagScale => {
            if uneven {
                push(
                    &mut a,
                    "--pipeline-model-parallel-layout",
                    megatron_layout(m.layers, l.pp, l.vpp),
                );
            } else if l.vpp > 1 {
                push(&mut a, "--num-virtual-stages-per-pipeline-rank", l.vpp);
            }
        }
        TrainFramework::MindspeedLlm => {
            if l.vpp > 1 && !uneven {
                push(
                    &mut a,
                    "--num-layers-per-virtual-pipeline-stage",
                    m.layers / stages,
                );
            }
            if uneven && l.vpp == 1 {
                let list: Vec<String> = uneven_split(m.layers, l.pp)
                    .iter()
                    .map(|x| x.to_string())
                    .collect();
                push(&mut a, "--num-layer-list", list.join(","));
            }
        }
    }
    if l.ep > 1 {
        push(&mut a, "--expert-model-parallel-size", l.ep);
        push(&mut a, "--expert-tensor-parallel-size", l.etp);
    }
    if l.cp > 1 {
        push(&mut a, "--context-parallel-size", l.cp);
        if fw == TrainFramework::MindspeedLlm {
            push(&mut a, "--context-parallel-algo", "megatron_cp_algo");
        }
    }
    push(&mut a, "--micro-batch-size", l.micro_batch);
    push(&mut a, "--global-batch-size", global_batch);
    push(&mut a, "--seq-length", seq);
    push(
        &mut a,
        "--max-position-embeddings",
        seq.max(m.max_seq as u32),
    );
    match l.recompute {
        Recompute::None => {}
        Recompute::Selective => push(&mut a, "--recompute-granularity", "selective"),
        Recompute::MlaUpProj => {
            push(&mut a, "--recompute-granularity", "selective");
            push(&mut a, "--recompute-modules", "mla_up_proj");
        }
        Recompute::Full => {
            push(&mut a, "--recompute-granularity", "full");
            push(&mut a, "--recompute-method", "uniform");
            push(&mut a, "--recompute-num-layers", 1);
        }
    }
    match fw {
        TrainFramework::MegatronFsdp => {
            a.push("--use-megatron-fsdp".into());
            push(
                &mut a,
                "--data-parallel-sharding-strategy",
                match l.zero {
                    0 => "no_shard",
                    1 => "optim",
                    2 => "optim_grads",
                    _ => "optim_grads_params",
                },
            );
            push(&mut a, "--ckpt-format", "fsdp_dtensor");
            a.push("--overlap-grad-reduce".into());
            a.push("--overlap-param-gather".into());
        }
        _ if l.zero >= 1 => {
            a.push("--use-distributed-optimizer".into());
            a.push("--overlap-grad-reduce".into());
            a.push("--overlap-param-gather".into());
        }
        _ => a.push("--overlap-grad-reduce".into()),
    }
    if l.sequence_parallel && l.tp > 1 {
        a.push("--sequence-parallel".into());
    }
    a.push("--bf16".into());
    if precision == TrainPrecision::Fp8 && fw != TrainFramework::MindspeedLlm {
        push(&mut a, "--fp8-format", "hybrid");
    }
    if fw == TrainFramework::MindspeedLlm {
        a.push("--use-flash-attn".into());
        if m.norm == tessera_core::model::Norm::Rms {
            a.push("--use-fused-rmsnorm".into());
        }
        if m.mlp == tessera_core::model::Mlp::Gated {
            a.push("--use-fused-swiglu".into());
        }
        if m.position == tessera_core::model::Position::Rope {
            a.push("--use-fused-rotary-pos-emb".into());
        }
        if l.tp > 1 && l.sequence_parallel {
            a.push("--use-mc2".into());
        }
    }
    let config = (fw == TrainFramework::FlagScale).then(|| flagscale_yaml(&a));
    if config.is_some() {
        notes.push(
            "FlagScale takes these as its train config (conf/train/NAME.yaml); an experiment config names it and sets data, tokenizer and nodes".into(),
        );
    }
    Launch {
        framework: fw.as_str(),
        args: a,
        notes,
        config,
    }
}

/// FlagScale's train config: each argument as a key (underscores for dashes; a bare
/// flag is `true`), parallelism, precision, recompute and the optimizer's sharding under
/// `system`, the model's shape and the batch under `model`, as its example configs lay
/// them out.
pub fn flagscale_yaml(args: &[String]) -> String {
    const SYSTEM: [&str; 20] = [
        "tensor-model-parallel-size",
        "pipeline-model-parallel-size",
        "pipeline-model-parallel-layout",
        "num-virtual-stages-per-pipeline-rank",
        "expert-model-parallel-size",
        "expert-tensor-parallel-size",
        "context-parallel-size",
        "sequence-parallel",
        "use-distributed-optimizer",
        "overlap-grad-reduce",
        "overlap-param-gather",
        "recompute-granularity",
        "recompute-method",
        "recompute-num-layers",
        "bf16",
        "fp8-format",
        "use-megatron-fsdp",
        "data-parallel-sharding-strategy",
        "ckpt-format",
        "disable-bias-linear",
    ];
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let k = args[i].trim_start_matches("--").to_string();
        let v = match args.get(i + 1) {
            Some(n) if !n.starts_with("--") => {
                i += 1;
                n.clone()
            }
            _ => "true".into(),
        };
        pairs.push((k, v));
        i += 1;
    }
    let quote = |v: &str| {
        if v == "true" || v.parse::<f64>().is_ok() {
            v.to_string()
        } else {
            format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
        }
    };
    let mut out = String::from("system:\n");
    for (k, v) in pairs
        .iter()
        .filter(|(k, _)| SYSTEM.contains(&k.as_str()) && k != "bf16")
    {
        out.push_str(&format!("  {}: {}\n", k.replace('-', "_"), quote(v)));
    }
    if pairs.iter().any(|(k, _)| k == "bf16") {
        out.push_str("  precision:\n    bf16: true\n");
    }
    out.push_str("model:\n");
    for (k, v) in pairs.iter().filter(|(k, _)| !SYSTEM.contains(&k.as_str())) {
        out.push_str(&format!("  {}: {}\n", k.replace('-', "_"), quote(v)));
    }
    out
}

/// vLLM (or vllm-ascend) arguments for a serving replica.
#[allow(clippy::too_many_arguments)]
pub fn serve_args(
    ascend: bool,
    l: &ServeLayout,
    node_chips: u32,
    layers: u64,
    precision: ServePrecision,
    kv_bytes: f64,
    max_num_seqs: u32,
    max_model_len: u32,
) -> Launch {
    let mut a = Vec::new();
    let mut notes = Vec::new();
    push(&mut a, "--tensor-parallel-size", l.tp);
    if l.pp > 1 && !layers.is_multiple_of(l.pp as u64) {
        let split: Vec<String> = uneven_split(layers, l.pp)
            .iter()
            .map(|x| x.to_string())
            .collect();
        notes.push(format!(
            "{layers} layers split unevenly over PP {}: vLLM does so itself; the plan assumed {}, which VLLM_PP_LAYER_PARTITION={} sets",
            l.pp,
            split.join(" / "),
            split.join(",")
        ));
    }
    if l.pp > 1 {
        push(&mut a, "--pipeline-parallel-size", l.pp);
    }
    if l.attn_dp > 1 {
        push(&mut a, "--data-parallel-size", l.attn_dp);
    }
    // A replica larger than a node: data-parallel engines spread over nodes with one
    // launch per node; a TP x PP group larger than a node runs on a Ray cluster.
    let node = node_chips.max(1) as u64;
    let group = l.tp as u64 * l.pp as u64;
    if group > node {
        push(&mut a, "--distributed-executor-backend", "ray");
        notes.push(format!(
            "TP x PP = {group} spans {} nodes of {node}: start a Ray cluster over them first",
            group.div_ceil(node)
        ));
    } else if l.chips_per_replica() > node {
        let local = (node / group).max(1);
        let nodes = (l.attn_dp as u64).div_ceil(local);
        push(&mut a, "--data-parallel-size-local", local);
        push(&mut a, "--data-parallel-address", "HEAD_NODE_IP");
        push(&mut a, "--data-parallel-rpc-port", 13345);
        notes.push(format!(
            "one launch per node on {nodes} nodes: node k (from 0) adds --data-parallel-start-rank with k x {local}, and every node but the head --headless; HEAD_NODE_IP is the head node's address"
        ));
    }
    if l.ep > 1 {
        a.push("--enable-expert-parallel".into());
        if l.ep as u64 != l.tp as u64 * l.attn_dp as u64 {
            notes.push(format!(
                "vLLM sets EP = TP x DP = {}; the plan assumed EP {}",
                l.tp * l.attn_dp,
                l.ep
            ));
        }
    }
    // Per engine (each attention-DP rank runs its own), not the replica's total.
    push(&mut a, "--max-num-seqs", max_num_seqs.max(1));
    push(&mut a, "--max-model-len", max_model_len);
    match (precision, ascend) {
        (ServePrecision::Bf16, _) => {}
        (ServePrecision::Fp8, false) => push(&mut a, "--quantization", "fp8"),
        (ServePrecision::Int8, true) => push(&mut a, "--quantization", "ascend"),
        (ServePrecision::Int8, false) => notes.push(
            "serve a W8A8 (compressed-tensors) checkpoint; vLLM detects its quantization".into(),
        ),
        (ServePrecision::Int4, _) => notes.push(
            "serve an int4 weight-only (AWQ/GPTQ) checkpoint; vLLM detects its quantization".into(),
        ),
        (ServePrecision::Fp4, _) => {
            notes.push("serve an NVFP4 (ModelOpt) checkpoint; vLLM detects its quantization".into())
        }
        (ServePrecision::Fp8, true) => {
            notes.push("fp8 is not an Ascend 910B format; serve W8A8 instead".into())
        }
    }
    if kv_bytes == 1.0 && !ascend {
        push(&mut a, "--kv-cache-dtype", "fp8");
    }
    push(&mut a, "--gpu-memory-utilization", "0.9");
    Launch {
        framework: if ascend { "vllm-ascend" } else { "vllm" },
        args: a,
        notes,
        config: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uneven_splits() {
        assert_eq!(
            uneven_split(126, 16),
            vec![7, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 7]
        );
        assert_eq!(uneven_split(70, 12).iter().sum::<u64>(), 70);
        assert_eq!(uneven_split(61, 16).iter().sum::<u64>(), 61);
        assert_eq!(uneven_split(8, 4), vec![2, 2, 2, 2]);
    }
}
