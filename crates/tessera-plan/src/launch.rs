//! Launch arguments for real frameworks, from a planned layout.

use serde::Serialize;
use tessera_core::model::ModelArch;
use tessera_perf::serve::{ServeLayout, ServePrecision};
use tessera_perf::train::{Layout, Recompute, TrainPrecision};

/// The argument names each framework accepts, written down with their source.
pub const FRAMEWORK_ARGS: &str = include_str!("../data/framework-args.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrainFramework {
    MegatronLm,
    MindspeedLlm,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Launch {
    pub framework: &'static str,
    pub args: Vec<String>,
    /// Things the framework needs that tessera cannot express as an argument.
    pub notes: Vec<String>,
}

fn push(v: &mut Vec<String>, k: &str, val: impl ToString) {
    v.push(k.to_string());
    v.push(val.to_string());
}

/// Layers per pipeline stage when `layers` does not divide evenly: the first and last
/// stages take the remainder off (they also hold the embedding and the output layer).
pub fn uneven_split(layers: u64, pp: u32) -> Vec<u64> {
    let pp = pp.max(1) as u64;
    let base = layers.div_ceil(pp);
    let mut v = vec![base; pp as usize];
    let mut extra = base * pp - layers;
    // Take layers off the first stage, then the last, then alternate inward.
    let mut order: Vec<usize> = Vec::new();
    let (mut lo, mut hi) = (0usize, pp as usize - 1);
    while lo <= hi {
        order.push(lo);
        if hi != lo {
            order.push(hi);
        }
        lo += 1;
        if hi == 0 {
            break;
        }
        hi -= 1;
    }
    let mut i = 0;
    while extra > 0 && !order.is_empty() {
        let s = order[i % order.len()];
        if v[s] > 1 {
            v[s] -= 1;
            extra -= 1;
        }
        i += 1;
    }
    v
}

/// Megatron-LM or MindSpeed-LLM arguments for a training layout.
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
    push(&mut a, "--num-layers", m.layers);
    push(&mut a, "--tensor-model-parallel-size", l.tp);
    push(&mut a, "--pipeline-model-parallel-size", l.pp);
    if l.vpp > 1 {
        if m.layers.is_multiple_of((l.pp * l.vpp) as u64) {
            push(
                &mut a,
                "--num-layers-per-virtual-pipeline-stage",
                m.layers / (l.pp * l.vpp) as u64,
            );
        } else {
            notes.push(format!("{} layers do not split evenly over {} virtual stages; set the virtual layout by hand", m.layers, l.pp * l.vpp));
        }
    }
    if l.ep > 1 {
        push(&mut a, "--expert-model-parallel-size", l.ep);
        if fw == TrainFramework::MegatronLm {
            push(&mut a, "--expert-tensor-parallel-size", l.etp);
        }
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
        Recompute::Full => {
            push(&mut a, "--recompute-granularity", "full");
            push(&mut a, "--recompute-method", "uniform");
            push(&mut a, "--recompute-num-layers", 1);
        }
    }
    if l.zero >= 1 {
        a.push("--use-distributed-optimizer".into());
        a.push("--overlap-grad-reduce".into());
        a.push("--overlap-param-gather".into());
    }
    if l.zero >= 2 {
        notes.push(format!(
            "ZeRO stage {} (sharded {}) needs Megatron-FSDP (or DeepSpeed); Megatron-LM's distributed optimizer covers stage 1",
            l.zero,
            if l.zero == 2 { "gradients" } else { "gradients and parameters" }
        ));
    }
    if l.sequence_parallel && l.tp > 1 {
        a.push("--sequence-parallel".into());
    }
    if l.uneven_pp && l.pp > 1 {
        let split = uneven_split(m.layers, l.pp);
        match fw {
            TrainFramework::MegatronLm => {
                let first = split[0];
                let last = split[split.len() - 1];
                let middle: Vec<u64> = split[1..split.len() - 1].to_vec();
                let even_middle = middle.windows(2).all(|w| w[0] == w[1]);
                push(&mut a, "--decoder-first-pipeline-num-layers", first);
                push(&mut a, "--decoder-last-pipeline-num-layers", last);
                if !even_middle {
                    notes.push(format!("the middle stages need {middle:?} layers, which Megatron's first/last options cannot express; a custom layout is needed"));
                }
            }
            TrainFramework::MindspeedLlm => {
                push(
                    &mut a,
                    "--num-layer-list",
                    split
                        .iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                );
            }
        }
    }
    match (precision, fw) {
        (TrainPrecision::Bf16, _) => a.push("--bf16".into()),
        (TrainPrecision::Fp8, TrainFramework::MegatronLm) => {
            a.push("--bf16".into());
            push(&mut a, "--fp8-format", "hybrid");
        }
        (TrainPrecision::Fp8, TrainFramework::MindspeedLlm) => {
            a.push("--bf16".into());
            notes.push("fp8 training on Ascend is not available in MindSpeed-LLM's arguments; this plan assumed fp8".into());
        }
    }
    if fw == TrainFramework::MindspeedLlm {
        for f in [
            "--use-flash-attn",
            "--use-fused-rmsnorm",
            "--use-fused-swiglu",
            "--use-fused-rotary-pos-emb",
        ] {
            a.push(f.into());
        }
        if l.tp > 1 && l.sequence_parallel {
            a.push("--use-mc2".into());
        }
    }
    Launch {
        framework: match fw {
            TrainFramework::MegatronLm => "megatron-lm",
            TrainFramework::MindspeedLlm => "mindspeed-llm",
        },
        args: a,
        notes,
    }
}

/// vLLM (or vllm-ascend) arguments for a serving replica.
pub fn serve_args(
    ascend: bool,
    l: &ServeLayout,
    precision: ServePrecision,
    kv_bytes: f64,
    max_num_seqs: u32,
    max_model_len: u32,
) -> Launch {
    let mut a = Vec::new();
    let mut notes = Vec::new();
    push(&mut a, "--tensor-parallel-size", l.tp);
    if l.pp > 1 {
        push(&mut a, "--pipeline-parallel-size", l.pp);
    }
    if l.attn_dp > 1 {
        push(&mut a, "--data-parallel-size", l.attn_dp);
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
