//! Launch files a user submits by hand (`tessera plan train --emit slurm DIR`): an
//! sbatch script for a training plan, with the GRES, nodes and tasks per node, `srun`
//! starting the framework's launcher once per node with the planned arguments, and the
//! chip's device variable. Pure: the caller writes the text where it wants.

use crate::fleet::RankedTrainPlan;
use tessera_core::Chip;

/// Where and how the script asks Slurm for the chips.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlurmEmit {
    /// The partition (`#SBATCH --partition`); `None`: the cluster's default.
    pub partition: Option<String>,
    /// The GRES type of the chips (`gpu:TYPE:N`); `None`: untyped `gpu:N`.
    pub gres_type: Option<String>,
    /// Accelerators per node the cluster has.
    pub chips_per_node: u32,
}

/// The device variable a chip's runtime reads (the first word of the catalog's
/// `visible-devices-env`), if the catalog says.
pub fn device_variable(chip: &Chip) -> Option<String> {
    let v = chip.visible_devices_env.as_deref()?;
    let w = v.split_whitespace().next()?.trim_end_matches([';', ',']);
    (!w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
    .then(|| w.to_string())
}

/// A string as one shell word: as it is when it is plain, else single-quoted.
pub fn quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A gang of `chips` on nodes of `per_node`: (nodes, chips on each), or why not whole
/// nodes.
pub fn whole_nodes(chips: u64, per_node: u64) -> Result<(u64, u64), String> {
    let cpn = per_node.max(1);
    if chips <= cpn {
        return Ok((1, chips));
    }
    if !chips.is_multiple_of(cpn) {
        return Err(format!(
            "the plan uses {chips} chips, not whole nodes of {cpn}"
        ));
    }
    Ok((chips / cpn, cpn))
}

/// Partition and GRES names go into `#SBATCH` lines: letters, digits, '-', '_', '.'.
fn check_names(o: &SlurmEmit) -> Result<(), String> {
    let word_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    for (what, v) in [("--partition", &o.partition), ("--gres-type", &o.gres_type)] {
        if let Some(v) = v
            && !word_ok(v)
        {
            return Err(format!(
                "{what} `{v}`: letters, digits, '-', '_' and '.' only"
            ));
        }
    }
    Ok(())
}

/// A Slurm job name: other characters than letters, digits, '-', '_', '.' as '-'.
fn job_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The lines that set the chip's device variable from Slurm's GPU binding, where its
/// runtime reads another one than CUDA_VISIBLE_DEVICES.
fn device_lines(chip: &Chip) -> String {
    match device_variable(chip) {
        Some(v) if v != "CUDA_VISIBLE_DEVICES" => format!(
            "# {}'s runtime reads {v}; Slurm's GPU GRES binding sets CUDA_VISIBLE_DEVICES.\n\
             export {v}=${{{v}:-${{CUDA_VISIBLE_DEVICES:-}}}}\n",
            chip.vendor
        ),
        Some(_) => String::new(),
        None => "# The catalog does not name this chip's device variable.\n".into(),
    }
}

/// The launch's notes as comments, then its arguments as a bash array, one option per
/// line with its values.
fn args_block(launch: &crate::launch::Launch) -> String {
    let mut s = String::new();
    for n in &launch.notes {
        s.push_str(&format!("# note: {n}\n"));
    }
    s.push_str("ARGS=(\n");
    let mut line: Vec<String> = Vec::new();
    for a in &launch.args {
        if a.starts_with("--") && !line.is_empty() {
            s.push_str(&format!("  {}\n", line.join(" ")));
            line.clear();
        }
        line.push(quote(a));
    }
    if !line.is_empty() {
        s.push_str(&format!("  {}\n", line.join(" ")));
    }
    s.push_str(")\n");
    s
}

/// The sbatch script of a training plan, or why there is none (a framework that does
/// not launch with torchrun, a plan that is not whole nodes, a bad GRES name).
pub fn slurm_script(
    p: &RankedTrainPlan,
    model: &str,
    chip: &Chip,
    o: &SlurmEmit,
) -> Result<String, String> {
    if !matches!(
        p.launch.framework,
        "megatron-lm" | "megatron-fsdp" | "mindspeed-llm"
    ) {
        return Err(format!(
            "--emit slurm launches Megatron-LM, Megatron-FSDP and MindSpeed-LLM with torchrun; {} starts from its own runner and config (in the plan's JSON)",
            p.launch.framework
        ));
    }
    let cpn = o.chips_per_node.max(1) as u64;
    let (nodes, per_node) = whole_nodes(p.chips, cpn)?;
    check_names(o)?;
    let l = &p.plan.layout;
    let e = &p.plan.estimate;
    let name = job_name(&format!("{model}-{}", p.pool));
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!(
        "# Written by `tessera plan train --emit slurm`: {model} on {} {} (pool {}), the plan ranked {}.\n\
         # Layout TP {} PP {} DP {} CP {} EP {} (VPP {}), micro-batch {}, global batch {} x {} tokens;\n\
         # predicted {:.0} tokens/s, MFU {:.1}% ({}).\n",
        p.chips,
        chip.id,
        p.pool,
        p.rank,
        l.tp,
        l.pp,
        l.dp,
        l.cp,
        l.ep,
        l.vpp,
        l.micro_batch,
        p.plan.global_batch,
        p.seq_len,
        e.tokens_per_s,
        e.mfu * 100.0,
        if p.calibrated { "calibrated" } else { "not calibrated for this chip" },
    ));
    s.push_str(&format!("#SBATCH --job-name={name}\n"));
    if let Some(part) = &o.partition {
        s.push_str(&format!("#SBATCH --partition={part}\n"));
    }
    s.push_str(&format!(
        "#SBATCH --nodes={nodes}\n#SBATCH --ntasks-per-node=1\n"
    ));
    match &o.gres_type {
        Some(t) => s.push_str(&format!("#SBATCH --gres=gpu:{t}:{per_node}\n")),
        None => s.push_str(&format!("#SBATCH --gres=gpu:{per_node}\n")),
    }
    s.push_str(&format!("#SBATCH --output={name}-%j.out\n"));
    s.push_str(
        "set -euo pipefail\n\
         # The launcher and the training script; set these to run something else.\n\
         LAUNCHER=${TESSERA_LAUNCHER:-torchrun}\n\
         ENTRYPOINT=${TESSERA_ENTRYPOINT:-pretrain_gpt.py}\n\
         MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)\n\
         export MASTER_ADDR\n\
         export MASTER_PORT=${MASTER_PORT:-29500}\n",
    );
    s.push_str(&device_lines(chip));
    s.push_str(&args_block(&p.launch));
    s.push_str(&format!(
        "srun --kill-on-bad-exit=1 \"$LAUNCHER\" --nnodes \"$SLURM_NNODES\" --nproc-per-node {per_node} \\\n  \
         --rdzv-backend c10d --rdzv-endpoint \"$MASTER_ADDR:$MASTER_PORT\" --rdzv-id \"$SLURM_JOB_ID\" \\\n  \
         \"$ENTRYPOINT\" \"${{ARGS[@]}}\"\n"
    ));
    Ok(s)
}

/// The sbatch script of a serving plan: a job array of one task per replica, each
/// starting the serving engine (vLLM, vllm-ascend) on its replica's chips with the
/// planned arguments, on port 8000 + the task's index. A replica larger than one node
/// runs on a Ray cluster (vLLM's multi-node mode), which a plain sbatch script does not
/// start: that is refused.
pub fn slurm_serve_script(
    p: &crate::fleet::RankedServePlan,
    model: &str,
    chip: &Chip,
    o: &SlurmEmit,
) -> Result<String, String> {
    let per = p.plan.layout.chips_per_replica().max(1);
    let cpn = o.chips_per_node.max(1) as u64;
    if per > cpn {
        return Err(format!(
            "a replica of {per} chips spans nodes of {cpn}: vLLM runs it on a Ray cluster, which this script does not start"
        ));
    }
    check_names(o)?;
    let replicas = p.plan.replicas.max(1);
    let l = &p.plan.layout;
    let e = &p.plan.per_replica;
    let name = job_name(&format!("{model}-{}-serve", p.pool));
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!(
        "# Written by `tessera plan serve --emit slurm`: {model} on {} (pool {}), the plan ranked {}:\n\
         # {replicas} replica(s) of TP {} PP {} DP {} EP {} on {per} chip(s) each; per replica\n\
         # {:.0} output tokens/s, TTFT p99 {:.3} s, TPOT p99 {:.4} s at the planned rate.\n",
        chip.id, p.pool, p.rank, l.tp, l.pp, l.attn_dp, l.ep, e.output_tokens_per_s, e.ttft_p99_s, e.tpot_p99_s,
    ));
    s.push_str(&format!("#SBATCH --job-name={name}\n"));
    if let Some(part) = &o.partition {
        s.push_str(&format!("#SBATCH --partition={part}\n"));
    }
    s.push_str(&format!(
        "#SBATCH --array=0-{}\n#SBATCH --nodes=1\n#SBATCH --ntasks=1\n",
        replicas - 1
    ));
    match &o.gres_type {
        Some(t) => s.push_str(&format!("#SBATCH --gres=gpu:{t}:{per}\n")),
        None => s.push_str(&format!("#SBATCH --gres=gpu:{per}\n")),
    }
    s.push_str(&format!("#SBATCH --output={name}-%A-%a.out\n"));
    s.push_str(
        "set -euo pipefail\n\
         # The serving engine and the model to load (a checkpoint path or a Hugging Face id).\n\
         LAUNCHER=${TESSERA_LAUNCHER:-vllm}\n",
    );
    s.push_str(&format!("MODEL=${{TESSERA_MODEL:-{}}}\n", quote(model)));
    s.push_str("PORT=$((${TESSERA_BASE_PORT:-8000} + SLURM_ARRAY_TASK_ID))\n");
    s.push_str(&device_lines(chip));
    s.push_str(&args_block(&p.launch));
    s.push_str(
        "exec \"$LAUNCHER\" serve \"$MODEL\" --host 0.0.0.0 --port \"$PORT\" \"${ARGS[@]}\"\n",
    );
    Ok(s)
}

/// How a Ray job spec asks for the chips.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RayEmit {
    /// The Ray resource the chips are counted in (`GPU`, `NPU`, or a custom one).
    pub resource: String,
}

/// The Ray resource of a chip by default: `GPU` for Nvidia (Ray's GPU manager), `NPU`
/// for Huawei Ascend (Ray's Ascend manager); other vendors have no Ray manager, so the
/// cluster's custom resource name must be given.
pub fn ray_resource(chip: &Chip) -> Option<&'static str> {
    let v = chip.vendor.to_ascii_lowercase();
    if v.contains("nvidia") {
        Some("GPU")
    } else if v.contains("huawei") {
        Some("NPU")
    } else {
        None
    }
}

/// A string as a Python string literal (JSON's escapes, which Python reads alike).
fn py_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The Ray driver: a placement group of one bundle per node (training, STRICT_SPREAD)
/// or per replica (serving, PACK), then one task per bundle that runs the launcher with
/// the planned arguments. Ray sets the device variable for `GPU` and `NPU` tasks; for
/// other resources the driver gives each bundle on a node its own indices.
#[allow(clippy::too_many_arguments)]
fn ray_driver(
    header: &str,
    kind: &str,
    bundles: u64,
    chips: u64,
    resource: &str,
    device_var: Option<&str>,
    args: &[String],
    model: &str,
) -> String {
    let args_py: Vec<String> = args.iter().map(|a| format!("    {},", py_str(a))).collect();
    let dv = match device_var {
        Some(v) if resource != "GPU" && resource != "NPU" => py_str(v),
        _ => "None".into(),
    };
    format!(
        r#"#!/usr/bin/env python3
{header}
import os
import subprocess
import sys

import ray
from ray.util.placement_group import placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

KIND = {kind}
BUNDLES = {bundles}  # nodes of the gang (train) or replicas (serve)
CHIPS = {chips}  # per bundle
RESOURCE = {resource}
# Set by this driver for resources Ray has no device manager for (None: Ray sets it).
DEVICE_VAR = {dv}
MODEL = {model}
ARGS = [
{args}
]


def demand():
    return {{"num_gpus": CHIPS}} if RESOURCE == "GPU" else {{"resources": {{RESOURCE: CHIPS}}}}


@ray.remote(num_cpus=0)
def where():
    return ray.util.get_node_ip_address()


@ray.remote(num_cpus=0)
def run(argv, env):
    e = dict(os.environ)
    e.update(env)
    shown = DEVICE_VAR or ("CUDA_VISIBLE_DEVICES" if RESOURCE == "GPU" else "ASCEND_RT_VISIBLE_DEVICES")
    print("tessera: on", ray.util.get_node_ip_address(), shown + "=" + e.get(shown, ""), flush=True)
    return subprocess.call(argv, env=e)


def main():
    ray.init()
    strategy = "STRICT_SPREAD" if KIND == "train" and BUNDLES > 1 else "PACK"
    pg = placement_group([{{RESOURCE: CHIPS}}] * BUNDLES, strategy=strategy)
    wait_s = float(os.environ.get("TESSERA_RAY_WAIT_S", "600"))
    ready, _ = ray.wait([pg.ready()], timeout=wait_s)
    if not ready:
        sys.exit(f"tessera: {{BUNDLES}} bundle(s) of {{CHIPS}} {{RESOURCE}} ({{strategy}}) not available within {{wait_s:.0f}} s")
    on = lambda i: PlacementGroupSchedulingStrategy(placement_group=pg, placement_group_bundle_index=i)
    ips = ray.get([where.options(scheduling_strategy=on(i)).remote() for i in range(BUNDLES)])
    envs = [{{}} for _ in range(BUNDLES)]
    if DEVICE_VAR:
        # Bundles on one node get disjoint indices; this assumes the job holds the
        # node's devices of this kind alone (Ray counts them but does not assign them).
        seen = {{}}
        for i, ip in enumerate(ips):
            k = seen.get(ip, 0)
            seen[ip] = k + 1
            envs[i][DEVICE_VAR] = ",".join(str(d) for d in range(k * CHIPS, (k + 1) * CHIPS))
    if KIND == "train":
        launcher = os.environ.get("TESSERA_LAUNCHER", "torchrun")
        entry = os.environ.get("TESSERA_ENTRYPOINT", "pretrain_gpt.py")
        port = os.environ.get("MASTER_PORT", "29500")
        argvs = [
            [launcher, "--nnodes", str(BUNDLES), "--node-rank", str(i), "--nproc-per-node", str(CHIPS),
             "--master-addr", ips[0], "--master-port", port, entry] + ARGS
            for i in range(BUNDLES)
        ]
        for e in envs:
            e.update({{"MASTER_ADDR": ips[0], "MASTER_PORT": port}})
    else:
        launcher = os.environ.get("TESSERA_LAUNCHER", "vllm")
        model = os.environ.get("TESSERA_MODEL", MODEL)
        base = int(os.environ.get("TESSERA_BASE_PORT", "8000"))
        argvs = [[launcher, "serve", model, "--host", "0.0.0.0", "--port", str(base + i)] + ARGS for i in range(BUNDLES)]
    refs = [run.options(scheduling_strategy=on(i), **demand()).remote(argvs[i], envs[i]) for i in range(BUNDLES)]
    codes = ray.get(refs)
    print("tessera: exit codes", codes, flush=True)
    sys.exit(1 if any(c != 0 for c in codes) else 0)


if __name__ == "__main__":
    main()
"#,
        kind = py_str(kind),
        resource = py_str(resource),
        model = py_str(model),
        args = args_py.join("\n"),
    )
}

/// `submit.sh`: `ray job submit` of the driver beside it, with the working directory
/// uploaded and the launcher settings passed in.
fn ray_submit(header: &str, driver: &str) -> String {
    format!(
        r#"#!/bin/bash
{header}
# Submits {driver} (beside this file) to the Ray cluster at $RAY_ADDRESS (the dashboard,
# default http://127.0.0.1:8265) and waits for it. TESSERA_LAUNCHER, TESSERA_ENTRYPOINT,
# TESSERA_MODEL, TESSERA_BASE_PORT and MASTER_PORT, when set, go to the job; set
# TESSERA_RAY_PYTHON to the cluster's Python if it is not `python`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
env_json=$(python3 -c 'import json, os, sys; print(json.dumps({{"env_vars": {{k: os.environ[k] for k in sys.argv[1:] if k in os.environ}}}}))' \
  TESSERA_LAUNCHER TESSERA_ENTRYPOINT TESSERA_MODEL TESSERA_BASE_PORT MASTER_PORT TESSERA_RAY_WAIT_S)
exec ray job submit --address "${{RAY_ADDRESS:-http://127.0.0.1:8265}}" --working-dir "$here" \
  --runtime-env-json "$env_json" --entrypoint-num-cpus 0 -- "${{TESSERA_RAY_PYTHON:-python}}" {driver}
"#
    )
}

/// The Ray launch files of a training plan: (file name, text) for the driver and
/// `submit.sh`.
pub fn ray_train_files(
    p: &RankedTrainPlan,
    model: &str,
    chip: &Chip,
    o: &RayEmit,
    chips_per_node: u32,
) -> Result<Vec<(String, String)>, String> {
    if !matches!(
        p.launch.framework,
        "megatron-lm" | "megatron-fsdp" | "mindspeed-llm"
    ) {
        return Err(format!(
            "--emit ray launches Megatron-LM, Megatron-FSDP and MindSpeed-LLM with torchrun; {} starts from its own runner and config (in the plan's JSON)",
            p.launch.framework
        ));
    }
    check_resource(&o.resource)?;
    let (nodes, per_node) = whole_nodes(p.chips, chips_per_node.max(1) as u64)?;
    let l = &p.plan.layout;
    let header = format!(
        "# Written by `tessera plan train --emit ray`: {model} on {} {} (pool {}), the plan ranked {};\n\
         # TP {} PP {} DP {}, global batch {} x {} tokens; Ray resource `{}`.",
        p.chips,
        chip.id,
        p.pool,
        p.rank,
        l.tp,
        l.pp,
        l.dp,
        p.plan.global_batch,
        p.seq_len,
        o.resource
    );
    let name = job_name(&format!("{model}-{}", p.pool));
    let driver_name = format!("{name}-ray-driver.py");
    let (bundles, chips) = (nodes, per_node);
    let dv = device_variable(chip);
    Ok(vec![
        (
            driver_name.clone(),
            ray_driver(
                &header,
                "train",
                bundles,
                chips,
                &o.resource,
                dv.as_deref(),
                &p.launch.args,
                model,
            ),
        ),
        (
            format!("{name}-ray-submit.sh"),
            ray_submit(&header, &driver_name),
        ),
    ])
}

/// The Ray launch files of a serving plan: one task per replica running the serving
/// engine on its chips, ports 8000 + the replica's index.
pub fn ray_serve_files(
    p: &crate::fleet::RankedServePlan,
    model: &str,
    chip: &Chip,
    o: &RayEmit,
    chips_per_node: u32,
) -> Result<Vec<(String, String)>, String> {
    check_resource(&o.resource)?;
    let per = p.plan.layout.chips_per_replica().max(1);
    let cpn = chips_per_node.max(1) as u64;
    if per > cpn {
        return Err(format!(
            "a replica of {per} chips spans nodes of {cpn}: vLLM's own Ray mode runs such a replica, which this driver does not start"
        ));
    }
    let replicas = p.plan.replicas.max(1);
    let l = &p.plan.layout;
    let header = format!(
        "# Written by `tessera plan serve --emit ray`: {model} on {} (pool {}), the plan ranked {}:\n\
         # {replicas} replica(s) of TP {} PP {} EP {} on {per} chip(s) each; Ray resource `{}`.",
        chip.id, p.pool, p.rank, l.tp, l.pp, l.ep, o.resource
    );
    let name = job_name(&format!("{model}-{}-serve", p.pool));
    let driver_name = format!("{name}-ray-driver.py");
    let dv = device_variable(chip);
    Ok(vec![
        (
            driver_name.clone(),
            ray_driver(
                &header,
                "serve",
                replicas,
                per,
                &o.resource,
                dv.as_deref(),
                &p.launch.args,
                model,
            ),
        ),
        (
            format!("{name}-ray-submit.sh"),
            ray_submit(&header, &driver_name),
        ),
    ])
}

/// A Ray resource name: letters, digits, '_' and '-'.
fn check_resource(r: &str) -> Result<(), String> {
    if r.is_empty()
        || !r
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(format!(
            "--ray-resource `{r}`: letters, digits, '_' and '-' only"
        ));
    }
    Ok(())
}

/// FlagScale's files for a mixed pipeline plan (`plan train --emit flagscale DIR`):
/// `conf/train/NAME.yaml` (the heterogeneous train config the plan carries),
/// `conf/NAME.yaml` (the experiment: FlagScale's torchrun runner with a static
/// rendezvous, which heterogeneous training needs, the hostfile, and each chip type's
/// device variable under `envs.device_type_specific`) and `hostfile` (one line per node,
/// `HOST slots=N type=CHIP`, in mesh order, with placeholder host names to replace).
/// `parts` gives each part's chip and chips per node, in the plan's order.
pub fn flagscale_hetero_files(
    plan: &crate::mixed::MixedPlan,
    model: &str,
    parts: &[(&Chip, u32)],
) -> Result<Vec<(String, String)>, String> {
    let launch = plan
        .launch
        .as_ref()
        .ok_or_else(|| format!("the {} form has no FlagScale launch", plan.form))?;
    if let Some(n) = launch.notes.iter().find(|n| n.starts_with("NOT RUNNABLE")) {
        return Err(n.clone());
    }
    let config = launch
        .config
        .as_ref()
        .ok_or("the plan carries no FlagScale train config")?;
    if parts.len() != plan.parts.len() {
        return Err("one chip per part of the plan is needed".into());
    }
    let safe: String = model
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let name = format!("{safe}_hetero");
    let mut hosts = String::from(
        "# FlagScale hostfile: one line per node, `HOST slots=N type=CHIP`, in the order of\n\
         # --hetero-process-meshes. Replace each placeholder host with the node's address.\n",
    );
    let mut types = String::new();
    for (part, (chip, cpn)) in plan.parts.iter().zip(parts) {
        let per = (*cpn).max(1) as u64;
        let nodes = part.chips.div_ceil(per);
        for i in 0..nodes {
            let slots = if i + 1 == nodes && !part.chips.is_multiple_of(per) {
                part.chips % per
            } else {
                per
            };
            hosts.push_str(&format!(
                "{}-{:04} slots={slots} type={}\n",
                part.pool, i, part.chip
            ));
        }
        if chip.id != part.chip {
            return Err(format!(
                "part {} is {}, not {}",
                part.pool, part.chip, chip.id
            ));
        }
        let var = device_variable(chip)
            .ok_or_else(|| format!("the catalog names no device variable for {}", chip.id))?;
        let devices: Vec<String> = (0..per.min(part.chips)).map(|d| d.to_string()).collect();
        types.push_str(&format!(
            "      {}:\n        {var}: \"{}\"\n",
            part.chip,
            devices.join(",")
        ));
    }
    let experiment = format!(
        "# FlagScale experiment for tessera's mixed pipeline plan of {model}\n\
         # ({:.0} tokens/s predicted, {:.1}% of the pools' own best plans together).\n\
         # Run from FlagScale's checkout: python run.py --config-path DIR/conf --config-name {name} action=run\n\
         defaults:\n  - train: {name}\n  - _self_\n\n\
         experiment:\n  exp_name: {name}\n  exp_dir: ./outputs_{name}\n  task:\n    type: train\n    backend: megatron\n    entrypoint: ./flagscale/train/train_gpt.py\n  runner:\n    backend: torchrun\n    hostfile: hostfile  # the path of the hostfile written beside conf/\n    rdzv_backend: static  # heterogeneous training only runs with a static rendezvous\n  envs:\n    CUDA_DEVICE_MAX_CONNECTIONS: 1\n    device_type_specific:\n{types}\n\
         action: run\n\n\
         hydra:\n  run:\n    dir: ${{experiment.exp_dir}}/hydra\n",
        plan.tokens_per_s,
        plan.efficiency * 100.0
    );
    Ok(vec![
        (format!("conf/train/{name}.yaml"), config.clone()),
        (format!("conf/{name}.yaml"), experiment),
        ("hostfile".into(), hosts),
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The best plan of a model on `chips` chips of one type, as `plan train` makes it.
    fn best(
        model: &str,
        chip: &str,
        chips: u32,
        framework: Option<&str>,
    ) -> (RankedTrainPlan, Chip) {
        use crate::fleet::{Objective, PoolChip, TrainRequest, plan_train};
        let cat = tessera_catalog::Catalog::builtin().unwrap();
        let m = cat.model(model).unwrap();
        let c = cat.chip(chip).unwrap().clone();
        let fleet = tessera_core::fleet::Fleet {
            id: "t".into(),
            name: "t".into(),
            description: None,
            pools: vec![tessera_core::fleet::Pool {
                name: "p".into(),
                chip: c.id.clone(),
                nodes: chips.div_ceil(8),
                chips_per_node: chips.min(8),
                scale_up_domain: None,
                scale_out_gb_s: None,
            }],
            links: vec![],
        };
        let r = TrainRequest {
            seq_len: 4096,
            global_batch: Some(256),
            precision: tessera_perf::train::TrainPrecision::Bf16,
            tokens: None,
            top: 1,
            objective: Objective::Time,
            stack: None,
            framework: framework.map(|f| crate::launch::TrainFramework::parse(f).unwrap()),
        };
        let pools = [PoolChip {
            pool: &fleet.pools[0],
            chip: &c,
        }];
        let p = plan_train(&m, &fleet, &pools, &r);
        (p.plans[0].clone(), c)
    }

    #[test]
    fn a_two_node_plan_asks_for_two_nodes_and_starts_one_launcher_per_node() {
        let (p, c) = best("llama3-8b", "nvidia-a800-sxm4-80gb", 16, None);
        assert_eq!(p.chips, 16);
        let o = SlurmEmit {
            partition: Some("nvidia".into()),
            gres_type: Some("a800".into()),
            chips_per_node: 8,
        };
        let s = slurm_script(&p, "llama3-8b", &c, &o).unwrap();
        for want in [
            "#SBATCH --nodes=2\n",
            "#SBATCH --ntasks-per-node=1\n",
            "#SBATCH --gres=gpu:a800:8\n",
            "#SBATCH --partition=nvidia\n",
            "--nproc-per-node 8",
            "--tensor-model-parallel-size",
        ] {
            assert!(s.contains(want), "{want}: {s}");
        }
        assert!(!s.contains("ASCEND"), "CUDA needs no mapping");
        let bad = SlurmEmit {
            partition: Some("x; rm -rf /".into()),
            ..o.clone()
        };
        assert!(slurm_script(&p, "llama3-8b", &c, &bad).is_err());
        let odd = SlurmEmit {
            chips_per_node: 6,
            ..o
        };
        assert!(
            slurm_script(&p, "llama3-8b", &c, &odd)
                .unwrap_err()
                .contains("whole nodes")
        );
    }

    #[test]
    fn ascend_maps_its_device_variable_and_flagscale_is_refused() {
        let (p, c) = best("llama3-8b", "huawei-ascend-910b2", 8, None);
        let o = SlurmEmit {
            chips_per_node: 8,
            ..SlurmEmit::default()
        };
        let s = slurm_script(&p, "llama3-8b", &c, &o).unwrap();
        assert!(s.contains("export ASCEND_RT_VISIBLE_DEVICES="), "{s}");
        assert!(s.contains("#SBATCH --gres=gpu:8\n"), "{s}");
        assert!(!s.contains("--partition"), "{s}");
        let (f, c) = best("llama3-8b", "nvidia-a800-sxm4-80gb", 8, Some("flagscale"));
        assert!(
            slurm_script(&f, "llama3-8b", &c, &o)
                .unwrap_err()
                .contains("flagscale")
        );
    }

    #[test]
    fn a_serving_plan_is_a_job_array_of_its_replicas() {
        use crate::fleet::{PoolChip, ServeRequest, plan_serve_fleet};
        let cat = tessera_catalog::Catalog::builtin().unwrap();
        let m = cat.model("llama3-8b").unwrap();
        let c = cat.chip("huawei-ascend-910b2").unwrap().clone();
        let fleet = tessera_core::fleet::Fleet {
            id: "t".into(),
            name: "t".into(),
            description: None,
            pools: vec![tessera_core::fleet::Pool {
                name: "p".into(),
                chip: c.id.clone(),
                nodes: 4,
                chips_per_node: 8,
                scale_up_domain: None,
                scale_out_gb_s: None,
            }],
            links: vec![],
        };
        let r = ServeRequest {
            rate: 20.0,
            input_len: 1000,
            output_len: 200,
            precision: tessera_perf::serve::ServePrecision::Bf16,
            ttft_slo_s: None,
            tpot_slo_s: Some(0.2),
            top: 1,
            stack: None,
        };
        let pools = [PoolChip {
            pool: &fleet.pools[0],
            chip: &c,
        }];
        let p = plan_serve_fleet(&m, &fleet, &pools, &r).plans[0].clone();
        let o = SlurmEmit {
            chips_per_node: 8,
            ..SlurmEmit::default()
        };
        let s = slurm_serve_script(&p, "llama3-8b", &c, &o).unwrap();
        let per = p.plan.layout.chips_per_replica();
        assert!(
            s.contains(&format!("#SBATCH --array=0-{}\n", p.plan.replicas - 1)),
            "{s}"
        );
        assert!(s.contains(&format!("#SBATCH --gres=gpu:{per}\n")), "{s}");
        assert!(s.contains("export ASCEND_RT_VISIBLE_DEVICES="), "{s}");
        assert!(s.contains("--tensor-parallel-size"), "{s}");
        let small = SlurmEmit {
            chips_per_node: 0,
            ..o
        };
        if per > 1 {
            assert!(slurm_serve_script(&p, "llama3-8b", &c, &small).is_err());
        }
    }

    #[test]
    fn device_variables_from_the_catalog_text() {
        let mut c = Chip::new("x", "X", "Huawei");
        c.visible_devices_env = Some(
            "ASCEND_RT_VISIBLE_DEVICES (CANN runtime); ASCEND_VISIBLE_DEVICES (container)".into(),
        );
        assert_eq!(
            device_variable(&c).as_deref(),
            Some("ASCEND_RT_VISIBLE_DEVICES")
        );
        c.visible_devices_env = Some("XPU_VISIBLE_DEVICES".into());
        assert_eq!(device_variable(&c).as_deref(), Some("XPU_VISIBLE_DEVICES"));
        c.visible_devices_env = Some("see the docs".into());
        assert_eq!(device_variable(&c), None);
    }

    #[test]
    fn ray_drivers_spread_a_gang_and_set_the_devices_ray_does_not() {
        let (p, c) = best("llama3-8b", "nvidia-a800-sxm4-80gb", 16, None);
        let o = RayEmit {
            resource: ray_resource(&c).unwrap().into(),
        };
        let files = ray_train_files(&p, "llama3-8b", &c, &o, 8).unwrap();
        assert_eq!(files.len(), 2);
        let driver = &files[0].1;
        for want in [
            "BUNDLES = 2 ",
            "CHIPS = 8 ",
            "RESOURCE = \"GPU\"",
            "DEVICE_VAR = None",
            "STRICT_SPREAD",
            "\"--tensor-model-parallel-size\",",
        ] {
            assert!(driver.contains(want), "{want}: {driver}");
        }
        assert!(files[1].1.contains("ray job submit"), "{}", files[1].1);
        assert!(
            files[1].1.contains(&files[0].0),
            "the submit line names the driver"
        );
        assert!(
            ray_train_files(&p, "llama3-8b", &c, &o, 6)
                .unwrap_err()
                .contains("whole nodes")
        );
        let bad = RayEmit {
            resource: "GPU; rm".into(),
        };
        assert!(ray_train_files(&p, "llama3-8b", &c, &bad, 8).is_err());
        // Kunlun: no Ray manager, so no default resource, and the driver sets the
        // chip's variable itself.
        let (k, kc) = best("llama3-8b", "kunlunxin-p800", 8, None);
        assert_eq!(ray_resource(&kc), None);
        let o = RayEmit {
            resource: "P800".into(),
        };
        let d = &ray_train_files(&k, "llama3-8b", &kc, &o, 8).unwrap()[0].1;
        assert!(d.contains("DEVICE_VAR = \"XPU_VISIBLE_DEVICES\""), "{d}");
        let (f, fc) = best("llama3-8b", "nvidia-a800-sxm4-80gb", 8, Some("flagscale"));
        assert!(
            ray_train_files(&f, "llama3-8b", &fc, &o, 8)
                .unwrap_err()
                .contains("flagscale")
        );
    }

    #[test]
    fn python_literals_escape_what_they_must() {
        assert_eq!(py_str("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(py_str("\u{1}"), "\"\\u0001\"");
        assert_eq!(py_str("--x=1"), "\"--x=1\"");
    }
}
