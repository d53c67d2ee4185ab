//! FlagScale's heterogeneous mode: the rules its argument validation enforces
//! (`data/args/flagscale-hetero.md`, numbered there and here), checked on the argument
//! list tessera emits, and the train config (YAML) that carries it.

use crate::launch::{TrainFramework, flagscale_yaml};
use crate::mixed::Hetero;

/// The rules of `data/args/flagscale-hetero.md`, with their source.
pub const HETERO_RULES: &str = include_str!("../data/args/flagscale-hetero.md");

fn values<'a>(args: &'a [String], key: &str) -> Option<Vec<&'a str>> {
    let i = args.iter().position(|a| a == key)?;
    Some(
        args[i + 1..]
            .iter()
            .take_while(|a| !a.starts_with("--"))
            .map(String::as_str)
            .collect(),
    )
}

fn ints(args: &[String], key: &str) -> Result<Option<Vec<u64>>, String> {
    match values(args, key) {
        None => Ok(None),
        Some(v) => v
            .iter()
            .map(|x| {
                x.parse::<u64>()
                    .map_err(|_| format!("{key}: `{x}` is not a whole number"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
    }
}

fn one(args: &[String], key: &str) -> Result<Option<u64>, String> {
    Ok(ints(args, key)?.and_then(|v| v.first().copied()))
}

/// `args` less each of `keys` and the values that follow it (up to the next `--` flag).
pub fn without_args(args: &[String], keys: &[&str]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut skip = false;
    for a in args {
        if a.starts_with("--") {
            skip = keys.contains(&a.as_str());
        }
        if !skip {
            out.push(a.clone());
        }
    }
    out
}

/// Checks a heterogeneous FlagScale argument list against FlagScale's rules; every
/// broken rule is one message naming its number.
pub fn check_hetero(args: &[String]) -> Result<(), Vec<String>> {
    let mut errs = Vec::new();
    let known = TrainFramework::FlagScale.argument_names();
    for a in args.iter().filter(|a| a.starts_with("--")) {
        if !known.contains(&a.as_str()) {
            errs.push(format!("FlagScale defines no argument {a}"));
        }
    }
    let has = |k: &str| args.iter().any(|a| a == k);
    let r = (|| -> Result<Vec<String>, String> {
        let mut e = Vec::new();
        if !has("--enable-hetero") {
            e.push("--enable-hetero is not set".into());
        }
        let meshes = ints(args, "--hetero-process-meshes")?.unwrap_or_default();
        if meshes.is_empty() || !meshes.len().is_multiple_of(5) {
            e.push(format!(
                "rule 1: --hetero-process-meshes needs five numbers per mesh (tp, cp, ep, dp, pp), has {}",
                meshes.len()
            ));
            return Ok(e);
        }
        let mesh: Vec<&[u64]> = meshes.chunks(5).collect();
        if mesh.iter().flat_map(|m| m.iter()).any(|&x| x == 0) {
            e.push("rule 1: a mesh degree is 0".into());
        }
        let mb = one(args, "--micro-batch-size")?.unwrap_or(1);
        let dp0 = mesh[0][3];
        for m in &mesh {
            if m[3] == 0 || !(dp0 * mb).is_multiple_of(m[3]) {
                e.push(format!(
                    "rule 2: the first mesh's dp x micro-batch ({dp0} x {mb}) is not a multiple of a mesh's dp {}",
                    m[3]
                ));
            }
        }
        if mesh.iter().any(|m| m[1] != mesh[0][1]) {
            e.push("rule 3: the meshes' cp differ".into());
        }
        let ep1 = mesh.iter().filter(|m| m[2] == 1).count();
        if ep1 != 0 && ep1 != mesh.len() {
            e.push("rule 4: some meshes have ep 1 and others not".into());
        }
        let pp_total: u64 = mesh.iter().map(|m| m[4]).sum();
        let pp = one(args, "--pipeline-model-parallel-size")?.unwrap_or(1);
        if pp != pp_total {
            e.push(format!(
                "rule 5: --pipeline-model-parallel-size {pp} is not the meshes' total pp {pp_total}"
            ));
        }
        if has("--standalone-embedding-stage") {
            e.push("rule 6: a standalone embedding stage is not supported".into());
        }
        if !has("--untie-embeddings-and-output-weights") {
            let (f, l) = (mesh[0], mesh[mesh.len() - 1]);
            if f[0] != l[0] {
                e.push(
                    "rule 7: tied embeddings need the same tp on the first and last meshes".into(),
                );
            }
            if f[3] != l[3]
                && has("--use-distributed-optimizer")
                && (!(f[3].is_multiple_of(l[3]) || l[3].is_multiple_of(f[3]))
                    || !has("--use-partial-reduce-for-shared-embedding"))
            {
                e.push("rule 7: tied embeddings with different first and last dp need one to divide the other and --use-partial-reduce-for-shared-embedding".into());
            }
        }
        if has("--num-layers-per-virtual-pipeline-stage")
            || has("--num-virtual-stages-per-pipeline-rank")
            || has("--pipeline-model-parallel-layout")
        {
            e.push("rule 8: no virtual pipeline stages in heterogeneous mode".into());
        }
        let layers = one(args, "--num-layers")?.unwrap_or(0);
        if let Some(split) = ints(args, "--hetero-pipeline-layer-split")? {
            if split.len() as u64 != pp_total {
                e.push(format!(
                    "rule 9: --hetero-pipeline-layer-split has {} entries for {pp_total} stages",
                    split.len()
                ));
            }
            if split.iter().sum::<u64>() != layers {
                e.push(format!(
                    "rule 9: --hetero-pipeline-layer-split sums to {}, not --num-layers {layers}",
                    split.iter().sum::<u64>()
                ));
            }
        }
        let types = values(args, "--hetero-device-types").unwrap_or_default();
        if types.len() != mesh.len() {
            e.push(format!(
                "rule 10: {} device types for {} meshes",
                types.len(),
                mesh.len()
            ));
        }
        match values(args, "--hetero-current-device-type").and_then(|v| v.first().copied()) {
            Some(c) if types.contains(&c) => {}
            _ => e.push(
                "rule 10: --hetero-current-device-type is not one of the device types".into(),
            ),
        }
        if let Some(etp) = ints(args, "--expert-tensor-parallel-size-per-process-mesh")?
            && etp.len() != mesh.len()
        {
            e.push(format!(
                "rule 11: {} expert-TP sizes for {} meshes",
                etp.len(),
                mesh.len()
            ));
        }
        if let Some(entries) = values(args, "--recompute-granularity-per-stage-micro-batch") {
            let gran = values(args, "--recompute-granularity").and_then(|v| v.first().copied());
            if gran != Some("full") || !has("--recompute-method") {
                e.push("rule 12: per-stage recompute needs --recompute-granularity full and a --recompute-method".into());
            }
            let gbs = one(args, "--global-batch-size")?.unwrap_or(0);
            let mcount = gbs.checked_div(dp0 * mb).unwrap_or(0);
            let mut stages = 0;
            for en in entries {
                let nums: Vec<u64> = en
                    .trim_matches(|c| c == '[' || c == ']')
                    .split(',')
                    .map(|x| x.trim().parse::<u64>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| format!("rule 12: `{en}` is not a list of whole numbers"))?;
                if nums.len() < 3 || nums.len().is_multiple_of(2) {
                    e.push(format!("rule 12: `{en}` is not [stages, n1, v1, ...]"));
                    continue;
                }
                stages += nums[0];
                let n: u64 = nums[1..].iter().step_by(2).sum();
                if n != mcount {
                    e.push(format!(
                        "rule 12: `{en}` covers {n} micro-batches, not {mcount}"
                    ));
                }
                if nums[2..].iter().step_by(2).any(|v| *v > 1) {
                    e.push(format!("rule 12: `{en}` has a flag other than 0 or 1"));
                }
            }
            if stages != pp_total {
                e.push(format!(
                    "rule 12: the per-stage recompute entries cover {stages} stages, not {pp_total}"
                ));
            }
        }
        Ok(e)
    })();
    match r {
        Ok(e) => errs.extend(e),
        Err(x) => errs.push(x),
    }
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

/// The train config of a heterogeneous plan: the plain arguments as
/// [`flagscale_yaml`] lays them out, the heterogeneous ones in a `hetero` group under
/// `model` with YAML lists (FlagScale's runner flattens groups and turns a list into the
/// argument's values).
pub fn hetero_yaml(args: &[String], h: &Hetero) -> String {
    const HETERO: [&str; 8] = [
        "--enable-hetero",
        "--hetero-process-meshes",
        "--hetero-pipeline-layer-split",
        "--hetero-device-types",
        "--hetero-current-device-type",
        "--expert-tensor-parallel-size-per-process-mesh",
        "--hetero-use-cpu-communication",
        "--recompute-granularity-per-stage-micro-batch",
    ];
    let plain = without_args(args, &HETERO);
    let list = |v: Vec<String>| format!("[{}]", v.join(", "));
    let mut out = flagscale_yaml(&plain);
    out.push_str("  hetero:\n    enable_hetero: true\n");
    out.push_str(&format!(
        "    hetero_process_meshes: {}\n",
        list(h.meshes.iter().map(u32::to_string).collect())
    ));
    out.push_str(&format!(
        "    hetero_pipeline_layer_split: {}\n",
        list(h.split.iter().map(u64::to_string).collect())
    ));
    out.push_str(&format!(
        "    hetero_device_types: {}\n",
        list(h.device_types.iter().map(|t| format!("\"{t}\"")).collect())
    ));
    out.push_str(&format!(
        "    hetero_current_device_type: \"{}\"\n",
        h.device_types[0]
    ));
    if let Some(e) = &h.etp_per_mesh {
        out.push_str(&format!(
            "    expert_tensor_parallel_size_per_process_mesh: {}\n",
            list(e.iter().map(u32::to_string).collect())
        ));
    }
    if h.cpu_communication {
        out.push_str("    hetero_use_cpu_communication: true\n");
    }
    if let Some(r) = &h.recompute_per_stage {
        out.push_str("    recompute_granularity_per_stage_micro_batch:\n");
        for v in r {
            out.push_str(&format!(
                "      - {}\n",
                list(v.iter().map(u32::to_string).collect())
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid heterogeneous argument list: 8 layers over two meshes (tp2 dp2 pp1, then
    /// tp2 dp4 pp1), micro-batch 2 on the first, 16 sequences per step.
    fn valid() -> Vec<String> {
        "--num-layers 8 --untie-embeddings-and-output-weights --tensor-model-parallel-size 2 \
         --pipeline-model-parallel-size 2 --micro-batch-size 2 --global-batch-size 16 \
         --use-distributed-optimizer --recompute-granularity full --recompute-method uniform \
         --recompute-num-layers 1 --enable-hetero --hetero-process-meshes 2 1 1 2 1 2 1 1 4 1 \
         --hetero-pipeline-layer-split 5 3 --hetero-device-types a800 ascend \
         --hetero-current-device-type a800 --expert-tensor-parallel-size-per-process-mesh 1 1 \
         --recompute-granularity-per-stage-micro-batch [1,4,1] [1,2,0,2,1]"
            .split_whitespace()
            .map(String::from)
            .collect()
    }

    fn set(args: &[String], key: &str, vals: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        let mut i = 0;
        let mut found = false;
        while i < args.len() {
            if args[i] == key {
                found = true;
                out.push(key.to_string());
                out.extend(vals.iter().map(|v| v.to_string()));
                i += 1;
                while i < args.len() && !args[i].starts_with("--") {
                    i += 1;
                }
                continue;
            }
            out.push(args[i].clone());
            i += 1;
        }
        if !found {
            out.push(key.to_string());
            out.extend(vals.iter().map(|v| v.to_string()));
        }
        out
    }

    fn without(args: &[String], key: &str) -> Vec<String> {
        without_args(args, &[key])
    }

    fn broken(args: &[String], rule: &str) {
        let errs = check_hetero(args).expect_err(rule);
        assert!(
            errs.iter().any(|e| e.contains(rule)),
            "{rule} not among {errs:?}"
        );
    }

    #[test]
    fn the_valid_list_passes_and_each_rule_breaks_once() {
        let v = valid();
        check_hetero(&v).unwrap();
        let meshes = "--hetero-process-meshes";
        broken(&set(&v, meshes, &["2", "1", "1", "2"]), "rule 1");
        broken(
            &set(
                &v,
                meshes,
                &["2", "1", "1", "3", "1", "2", "1", "1", "4", "1"],
            ),
            "rule 2",
        );
        broken(
            &set(
                &v,
                meshes,
                &["2", "1", "1", "2", "1", "2", "2", "1", "4", "1"],
            ),
            "rule 3",
        );
        broken(
            &set(
                &v,
                meshes,
                &["2", "1", "2", "2", "1", "2", "1", "1", "4", "1"],
            ),
            "rule 4",
        );
        broken(&set(&v, "--pipeline-model-parallel-size", &["3"]), "rule 5");
        broken(&set(&v, "--standalone-embedding-stage", &[]), "rule 6");
        broken(
            &set(
                &without(&v, "--untie-embeddings-and-output-weights"),
                meshes,
                &["2", "1", "1", "2", "1", "1", "1", "1", "4", "1"],
            ),
            "rule 7",
        );
        broken(
            &without(&v, "--untie-embeddings-and-output-weights"),
            "rule 7",
        );
        broken(
            &set(&v, "--num-layers-per-virtual-pipeline-stage", &["1"]),
            "rule 8",
        );
        broken(
            &set(&v, "--hetero-pipeline-layer-split", &["4", "3"]),
            "rule 9",
        );
        broken(&set(&v, "--hetero-pipeline-layer-split", &["8"]), "rule 9");
        broken(&set(&v, "--hetero-device-types", &["a800"]), "rule 10");
        broken(
            &set(&v, "--hetero-current-device-type", &["h100"]),
            "rule 10",
        );
        broken(
            &set(&v, "--expert-tensor-parallel-size-per-process-mesh", &["1"]),
            "rule 11",
        );
        broken(
            &set(
                &v,
                "--recompute-granularity-per-stage-micro-batch",
                &["[1,4,1]", "[1,3,1]"],
            ),
            "rule 12",
        );
        broken(
            &set(
                &v,
                "--recompute-granularity-per-stage-micro-batch",
                &["[3,4,1]"],
            ),
            "rule 12",
        );
        broken(
            &set(
                &v,
                "--recompute-granularity-per-stage-micro-batch",
                &["[1,4,2]", "[1,4,1]"],
            ),
            "rule 12",
        );
        broken(
            &set(&v, "--recompute-granularity", &["selective"]),
            "rule 12",
        );
        let errs = check_hetero(&set(&v, "--no-such-flag", &[])).unwrap_err();
        assert!(errs[0].contains("defines no argument --no-such-flag"));
    }

    #[test]
    fn the_config_carries_lists_as_yaml_lists() {
        let h = Hetero {
            meshes: vec![2, 1, 1, 2, 1, 2, 1, 1, 4, 1],
            split: vec![5, 3],
            device_types: vec!["a800".into(), "ascend".into()],
            etp_per_mesh: None,
            cpu_communication: true,
            recompute_per_stage: Some(vec![vec![1, 4, 1], vec![1, 4, 0]]),
        };
        let y = hetero_yaml(&valid(), &h);
        assert!(
            y.contains("    hetero_process_meshes: [2, 1, 1, 2, 1, 2, 1, 1, 4, 1]\n"),
            "{y}"
        );
        assert!(y.contains("    hetero_device_types: [\"a800\", \"ascend\"]\n"));
        assert!(y.contains("    hetero_use_cpu_communication: true\n"));
        assert!(y.contains("      - [1, 4, 0]\n"));
        // The heterogeneous arguments appear once, in the hetero group only.
        assert_eq!(y.matches("hetero_process_meshes").count(), 1);
        assert!(y.contains("  num_layers: 8\n"));
    }
}
