//! `tessera plan train` and `tessera plan serve`: parse, call
//! `tessera_plan::fleet`, render.

use crate::cli::{
    Format, ObjectiveArg, PlanServeArgs, PlanTrainArgs, PrecisionArg, ServePrecisionArg,
};
use crate::exit::{CliError, Result};
use crate::out::{self, num};
use std::time::Instant;
use tessera_catalog::{Catalog, CatalogError};
use tessera_core::fleet::{Fleet, Pool};
use tessera_core::model::ModelArch;
use tessera_output::plan::{FleetServeV1, FleetTrainV1};
use tessera_perf::calib::{ServeStack, Stack};
use tessera_perf::serve::ServePrecision;
use tessera_perf::train::TrainPrecision;
use tessera_plan::fleet::{
    Objective, PoolChip, ServeRequest, TrainRequest, plan_serve_fleet, plan_train,
};
use tessera_plan::launch::TrainFramework;

pub(crate) fn load_fleet(
    cat: &Catalog,
    fleet: Option<&str>,
    chip: Option<&str>,
    chips: Option<u64>,
) -> Result<Fleet> {
    let f = match (fleet, chip, chips) {
        (Some(f), _, _) => match tessera_catalog::fleets::builtin_fleet(f) {
            Some(r) => r?,
            None => {
                let text = std::fs::read_to_string(f).map_err(|e| {
                    CliError::Catalog(CatalogError::Io {
                        path: f.to_string(),
                        source: e,
                    })
                })?;
                tessera_catalog::fleets::parse_fleet(f, &text)?
            }
        },
        (None, Some(c), Some(n)) => {
            let ch = cat.chip(c)?;
            let per = ch
                .scale_up_domain
                .as_ref()
                .map_or(8, |d| d.value as u64)
                .clamp(1, n.max(1));
            let (nodes, per) = if n.is_multiple_of(per) {
                (n / per, per)
            } else {
                (n, 1)
            };
            Fleet {
                id: format!("{n}x{c}"),
                name: format!("{n} x {c}"),
                description: None,
                pools: vec![Pool {
                    name: c.to_string(),
                    chip: c.to_string(),
                    nodes: nodes as u32,
                    chips_per_node: per as u32,
                    scale_up_domain: None,
                    scale_out_gb_s: None,
                }],
                links: vec![],
            }
        }
        _ => {
            return Err(CliError::Usage(
                "give --fleet, or --chip and --chips".into(),
            ));
        }
    };
    for p in &f.pools {
        cat.chip(&p.chip)?;
    }
    Ok(f)
}

/// The chips of the pools to plan, from the catalog.
fn resolve<'a>(cat: &'a Catalog, pools: &[&'a Pool]) -> Result<Vec<PoolChip<'a>>> {
    pools
        .iter()
        .map(|p| {
            Ok(PoolChip {
                pool: p,
                chip: cat.chip(&p.chip)?,
            })
        })
        .collect()
}

/// `--framework`, parsed.
fn framework_arg(arg: Option<&str>) -> Result<Option<TrainFramework>> {
    arg.map(|s| {
        TrainFramework::parse(s).ok_or_else(|| {
            CliError::Usage(format!(
                "--framework: unknown framework `{s}`; use one of: {}",
                TrainFramework::ALL.map(|f| f.as_str()).join(", ")
            ))
        })
    })
    .transpose()
}

/// `--emit KIND DIR`: checks the kind against those supported and gives the directory.
fn emit_dir<'a>(e: &'a [String], kinds: &[&str]) -> Result<(&'a str, &'a std::path::Path)> {
    let [kind, dir] = e else {
        return Err(CliError::Usage("--emit takes KIND and DIR".into()));
    };
    if !kinds.contains(&kind.as_str()) {
        return Err(CliError::Usage(format!(
            "--emit: `{kind}` is not supported here; use {}",
            kinds.join(" or ")
        )));
    }
    Ok((kind.as_str(), std::path::Path::new(dir)))
}

/// Default images of emitted Kubernetes manifests: placeholders the user replaces.
const PLACEHOLDER_IMAGE: &str = "registry.example.com/replace-with-your-training-image:latest";
const PLACEHOLDER_SERVE_IMAGE: &str = "registry.example.com/replace-with-your-serving-image:latest";

/// The device plugin's resource of a chip: the first name of the catalog's `k8s-resource`.
fn device_resource(chip: &tessera_core::Chip) -> Result<String> {
    chip.k8s_resource
        .as_deref()
        .and_then(|r| r.split_whitespace().next())
        .map(str::to_string)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "--emit k8s: the catalog names no device-plugin resource for {}",
                chip.id
            ))
        })
}

/// `--emit k8s DIR` of `plan train`: the best plan as Kubernetes manifests.
fn emit_train_k8s(
    dir: &std::path::Path,
    best: &tessera_plan::fleet::RankedTrainPlan,
    model: &str,
    chip: &tessera_core::Chip,
    cpn: u32,
    a: &PlanTrainArgs,
) -> Result<()> {
    let resource = device_resource(chip)?;
    let (nodes, per) = tessera_plan::emit::whole_nodes(best.chips, cpn as u64)
        .map_err(|m| CliError::Usage(format!("--emit k8s: {m}")))?;
    let mut command: Vec<String> = [
        "torchrun",
        "--nnodes",
        &nodes.to_string(),
        "--nproc-per-node",
        &per.to_string(),
        "--node-rank",
        "$(JOB_COMPLETION_INDEX)",
        "--master-addr",
        "$(MASTER_ADDR)",
        "--master-port",
        "$(MASTER_PORT)",
        "pretrain_gpt.py",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    command.extend(best.launch.args.iter().cloned());
    let l = &best.plan.layout;
    let gang = tessera_engine::k8s::Gang {
        name: tessera_engine::k8s::to_dns_label(&format!("{model}-{}", best.pool)),
        namespace: a.launch.namespace.clone(),
        queue: a.queue.clone().unwrap_or_else(|| "default".into()),
        chip: chip.id.clone(),
        resource,
        nodes: nodes as u32,
        chips_per_node: per as u32,
        image: a
            .launch
            .image
            .clone()
            .unwrap_or_else(|| PLACEHOLDER_IMAGE.into()),
        command,
        env: vec![
            ("TESSERA_FRAMEWORK".into(), best.launch.framework.into()),
            ("TESSERA_TP".into(), l.tp.to_string()),
            ("TESSERA_PP".into(), l.pp.to_string()),
            ("TESSERA_DP".into(), l.dp.to_string()),
        ],
        labels: vec![],
        grace_s: None,
    };
    let objects = tessera_engine::k8s::manifests(&gang)
        .map_err(|m| CliError::Usage(format!("--emit k8s: {m}")))?;
    write_manifests(dir, objects)
}

/// Writes a launch file into `dir` (created if needed) and says so on stderr.
fn write_launch_file(dir: &std::path::Path, name: &str, text: &str, what: &str) -> Result<()> {
    let io = |p: &std::path::Path, e: std::io::Error| {
        CliError::Catalog(tessera_catalog::CatalogError::Io {
            path: p.display().to_string(),
            source: e,
        })
    };
    let file = dir.join(name);
    let parent = file.parent().unwrap_or(dir);
    std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    std::fs::write(&file, text).map_err(|e| io(&file, e))?;
    eprintln!("wrote {} ({what})", file.display());
    Ok(())
}

/// The Ray resource for `--emit ray`: the option, else the vendor's default.
fn ray_emit(chip: &tessera_core::Chip, given: Option<&str>) -> Result<tessera_plan::emit::RayEmit> {
    let resource = match given {
        Some(r) => r.to_string(),
        None => tessera_plan::emit::ray_resource(chip)
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "--emit ray: Ray has no device manager for {} ({}); give --ray-resource NAME, the custom resource your cluster counts these chips in",
                    chip.id, chip.vendor
                ))
            })?
            .to_string(),
    };
    Ok(tessera_plan::emit::RayEmit { resource })
}

/// The Ray driver and its submit script; the script made executable.
fn write_ray_files(dir: &std::path::Path, files: Vec<(String, String)>, what: &str) -> Result<()> {
    for (name, text) in files {
        write_launch_file(dir, &name, &text, what)?;
        if name.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt;
            let p = dir.join(&name);
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755));
        }
    }
    Ok(())
}

/// Kubernetes objects as `DIR/<stem>.json`.
fn write_manifests(dir: &std::path::Path, objects: Vec<(String, serde_json::Value)>) -> Result<()> {
    for (stem, v) in objects {
        let text =
            serde_json::to_string_pretty(&v).map_err(|e| CliError::Internal(e.to_string()))?;
        write_launch_file(dir, &format!("{stem}.json"), &text, "Kubernetes manifest")?;
    }
    Ok(())
}

/// `--emit` when no plan fits.
fn no_plan_to_emit() -> CliError {
    CliError::Usage("--emit: no plan fits, so there is nothing to launch (without --emit, the plan says why each pool has none)".into())
}

/// `--emit flagscale DIR` of `plan train`: the mixed pipeline plan's FlagScale files.
fn emit_train_flagscale(
    cat: &Catalog,
    fleet: &tessera_core::fleet::Fleet,
    plan: &tessera_plan::fleet::FleetTrainPlan,
    model: &str,
    dir: &std::path::Path,
) -> Result<()> {
    let m = plan
        .mixed
        .iter()
        .find(|m| m.form == "pipeline")
        .ok_or_else(|| {
            CliError::Usage(format!(
                "--emit flagscale: no mixed-vendor plan ({}); FlagScale's files are for one job across pools",
                plan.recommendation
            ))
        })?;
    if !m.feasible {
        return Err(CliError::Usage(format!(
            "--emit flagscale: the mixed pipeline plan does not fit: {}",
            m.note
        )));
    }
    let mut parts = Vec::new();
    for p in &m.parts {
        let cpn = fleet.pool(&p.pool).map_or(8, |q| q.chips_per_node);
        parts.push((cat.chip(&p.chip)?, cpn));
    }
    let files = tessera_plan::emit::flagscale_hetero_files(m, model, &parts)
        .map_err(|why| CliError::Usage(format!("--emit flagscale: {why}")))?;
    let what = format!(
        "the mixed pipeline plan over {}{}",
        m.pools.join(" + "),
        if m.worthwhile {
            String::new()
        } else {
            " (slower than the best single pool: see its note)".into()
        }
    );
    for (name, text) in files {
        write_launch_file(dir, &name, &text, &what)?;
    }
    Ok(())
}

/// `--emit slurm DIR` of `plan train`: the best plan's sbatch script.
fn emit_train(
    cat: &Catalog,
    fleet: &tessera_core::fleet::Fleet,
    plan: &tessera_plan::fleet::FleetTrainPlan,
    model: &str,
    e: &[String],
    a: &PlanTrainArgs,
) -> Result<()> {
    let (kind, dir) = emit_dir(e, &["slurm", "ray", "k8s", "flagscale"])?;
    if kind == "flagscale" {
        return emit_train_flagscale(cat, fleet, plan, model, dir);
    }
    let best = plan.plans.first().ok_or_else(no_plan_to_emit)?;
    let chip = cat.chip(&best.chip)?;
    let cpn = fleet.pool(&best.pool).map_or(8, |p| p.chips_per_node);
    if kind == "k8s" {
        return emit_train_k8s(dir, best, model, chip, cpn, a);
    }
    if kind == "ray" {
        let o = ray_emit(chip, a.launch.ray_resource.as_deref())?;
        let files = tessera_plan::emit::ray_train_files(best, model, chip, &o, cpn)
            .map_err(|m| CliError::Usage(format!("--emit ray: {m}")))?;
        return write_ray_files(
            dir,
            files,
            &format!("the plan ranked 1: {} chips of {}", best.chips, best.chip),
        );
    }
    let text = tessera_plan::emit::slurm_script(
        best,
        model,
        chip,
        &tessera_plan::emit::SlurmEmit {
            partition: a.launch.partition.clone(),
            gres_type: a.launch.gres_type.clone(),
            chips_per_node: cpn,
        },
    )
    .map_err(|m| CliError::Usage(format!("--emit slurm: {m}")))?;
    write_launch_file(
        dir,
        &format!("{model}-{}.sbatch", best.pool),
        &text,
        &format!("the plan ranked 1: {} chips of {}", best.chips, best.chip),
    )
}

/// `--emit slurm DIR` of `plan serve`: the best plan's sbatch job array.
fn emit_serve(
    cat: &Catalog,
    fleet: &tessera_core::fleet::Fleet,
    plan: &tessera_plan::fleet::FleetServePlan,
    model: &str,
    e: &[String],
    a: &PlanServeArgs,
) -> Result<()> {
    let (kind, dir) = emit_dir(e, &["slurm", "ray", "k8s"])?;
    let best = plan.plans.first().ok_or_else(no_plan_to_emit)?;
    let chip = cat.chip(&best.chip)?;
    let cpn = fleet.pool(&best.pool).map_or(8, |p| p.chips_per_node);
    if kind == "ray" {
        let o = ray_emit(chip, a.launch.ray_resource.as_deref())?;
        let files = tessera_plan::emit::ray_serve_files(best, model, chip, &o, cpn)
            .map_err(|m| CliError::Usage(format!("--emit ray: {m}")))?;
        return write_ray_files(
            dir,
            files,
            &format!(
                "the plan ranked 1: {} replica(s) on {} chips of {}",
                best.plan.replicas, best.plan.chips, best.chip
            ),
        );
    }
    if kind == "k8s" {
        let resource = device_resource(chip)?;
        let per = best.plan.layout.chips_per_replica().max(1);
        if per > cpn.max(1) as u64 {
            return Err(CliError::Usage(format!(
                "--emit k8s: a replica of {per} chips spans nodes of {cpn}: vLLM runs it on a Ray cluster, which these manifests do not start"
            )));
        }
        let mut command: Vec<String> = [
            "vllm", "serve", "$(MODEL)", "--host", "0.0.0.0", "--port", "8000",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        command.extend(best.launch.args.iter().cloned());
        let r = tessera_engine::k8s::Replicas {
            name: tessera_engine::k8s::to_dns_label(&format!("{model}-{}-serve", best.pool)),
            namespace: a.launch.namespace.clone(),
            chip: chip.id.clone(),
            resource,
            replicas: best.plan.replicas.clamp(1, u32::MAX as u64) as u32,
            chips_per_replica: per as u32,
            image: a
                .launch
                .image
                .clone()
                .unwrap_or_else(|| PLACEHOLDER_SERVE_IMAGE.into()),
            command,
            port: 8000,
            // The model to load: replace with a checkpoint path or a Hugging Face id.
            env: vec![("MODEL".into(), model.into())],
            labels: vec![],
        };
        let objects = tessera_engine::k8s::serving_manifests(&r)
            .map_err(|m| CliError::Usage(format!("--emit k8s: {m}")))?;
        return write_manifests(dir, objects);
    }
    let text = tessera_plan::emit::slurm_serve_script(
        best,
        model,
        chip,
        &tessera_plan::emit::SlurmEmit {
            partition: a.launch.partition.clone(),
            gres_type: a.launch.gres_type.clone(),
            chips_per_node: cpn,
        },
    )
    .map_err(|m| CliError::Usage(format!("--emit slurm: {m}")))?;
    write_launch_file(
        dir,
        &format!("{model}-{}-serve.sbatch", best.pool),
        &text,
        &format!(
            "the plan ranked 1: {} replica(s) on {} chips of {}",
            best.plan.replicas, best.plan.chips, best.chip
        ),
    )
}

pub fn train(cat: &Catalog, fmt: Format, a: &PlanTrainArgs) -> Result<()> {
    let model: ModelArch = cat.model(&a.model)?;
    crate::cmd::check_seq_len(&model, a.seq_len)?;
    let fleet = load_fleet(cat, a.fleet.as_deref(), a.chip.as_deref(), a.chips)?;
    let pools: Vec<&Pool> = match &a.pool {
        Some(p) => vec![
            fleet
                .pool(p)
                .ok_or_else(|| CliError::Usage(format!("no pool `{p}` in fleet {}", fleet.id)))?,
        ],
        None => fleet.pools.iter().collect(),
    };
    let request = TrainRequest {
        seq_len: a.seq_len,
        global_batch: a.global_batch,
        precision: match a.precision {
            PrecisionArg::Bf16 => TrainPrecision::Bf16,
            PrecisionArg::Fp8 => TrainPrecision::Fp8,
        },
        tokens: a.tokens,
        top: a.top.max(1),
        objective: match a.objective {
            ObjectiveArg::Time => Objective::Time,
            ObjectiveArg::Cost => Objective::Cost,
        },
        stack: a
            .stack
            .as_deref()
            .map(|s| {
                Stack::parse(s)
                    .ok_or_else(|| CliError::Usage(format!("--stack: unknown stack `{s}`")))
            })
            .transpose()?,
        framework: framework_arg(a.framework.as_deref())?,
    };
    let pools = resolve(cat, &pools)?;
    let started = Instant::now();
    let plan = plan_train(&model, &fleet, &pools, &request);
    let out = FleetTrainV1::new(&plan, started.elapsed().as_secs_f64());
    if let Some(e) = &a.emit {
        emit_train(cat, &fleet, &plan, &model.id, e, a)?;
    }
    if fmt == Format::Json {
        return out::print_json(&out);
    }
    crate::outln!(
        "{} on fleet {} ({} layouts estimated, {} pruned, {:.3} s)",
        out.model,
        out.fleet,
        out.evaluated,
        out.pruned,
        out.search_time_s
    );
    let mut t = out::wide_table(&[
        "#",
        "pool",
        "layout",
        "tokens/s",
        "per chip",
        "MFU",
        "mem GiB",
        "bubble s",
        "comm s",
        "USD/M tok",
        "days",
    ]);
    for p in &out.plans {
        let b = &p.estimate.breakdown;
        t.add_row(vec![
            p.rank.to_string(),
            format!("{} x {}", p.chips, p.chip),
            tessera_validate::describe(&plan.plans[p.rank - 1].plan.layout),
            num(p.estimate.tokens_per_s),
            num(p.estimate.tokens_per_s_per_chip),
            format!("{:.1}%", p.estimate.mfu * 100.0),
            format!("{:.1}", p.estimate.memory.total_gib),
            format!("{:.3}", b.bubble_s),
            format!(
                "{:.3}",
                b.tp_comm_s + b.cp_comm_s + b.ep_comm_s + b.pp_comm_s + b.dp_comm_s
            ),
            p.usd_per_million_tokens
                .map_or("unknown".into(), |u| format!("{u:.2}")),
            p.days_to_train.map_or("-".into(), |d| format!("{d:.1}")),
        ]);
    }
    crate::outln!("{t}");
    for n in &out.pools {
        match n.best_tokens_per_s {
            Some(b) => crate::outln!(
                "pool {} ({} x {}): best {} tokens/s; {}",
                n.pool,
                n.chips,
                n.chip,
                num(b),
                n.note
            ),
            None => crate::outln!("pool {} ({} x {}): {}", n.pool, n.chips, n.chip, n.note),
        }
    }
    if !out.rejected.is_empty() {
        crate::outln!("why the best rejected layouts lost:");
        for r in plan.rejected.iter().take(5) {
            crate::outln!(
                "  {}: {} ({} tokens/s): {}",
                r.pool,
                tessera_validate::describe(&r.rejected.layout),
                num(r.rejected.tokens_per_s),
                r.rejected.why
            );
        }
    }
    for (m, dm) in out.mixed.iter().zip(&plan.mixed) {
        if m.parts.is_empty() {
            crate::outln!("mixed ({}): no plan: {}", m.form, m.note);
            continue;
        }
        crate::outln!(
            "mixed ({}): {} tokens/s over {}, {:.1}% of the pools' own best plans together ({} tokens/s){}; {}",
            m.form,
            num(m.tokens_per_s),
            if m.pools.is_empty() {
                "no pools".to_string()
            } else {
                m.pools.join(" + ")
            },
            m.efficiency * 100.0,
            num(m.parts_tokens_per_s),
            if m.feasible { "" } else { " (does not fit)" },
            m.note
        );
        for (p, dp) in m.parts.iter().zip(&dm.parts) {
            crate::outln!(
                "  {}: {} x {}, {}, {} sequences per step, {} {:.3} s, {:.1} of {:.1} GiB per chip",
                p.pool,
                p.chips,
                p.chip,
                tessera_validate::describe(&dp.layout),
                p.batch,
                if m.form == "pipeline" {
                    format!(
                        "layers per stage {:?}, stage time per micro-batch",
                        p.stage_layers
                    )
                } else {
                    "step alone".to_string()
                },
                p.time_s,
                p.memory_gib_per_chip,
                p.capacity_gib
            );
        }
        if !m.terms.is_empty() {
            crate::outln!(
                "  step {:.3} s = {}",
                m.step_time_s,
                m.terms
                    .iter()
                    .map(|t| format!("{:.3} s {}", t.seconds, t.name))
                    .collect::<Vec<_>>()
                    .join(" + ")
            );
            for t in &m.terms {
                crate::outln!("    {}: {}", t.name, t.detail);
            }
        }
        if let Some(l) = &m.launch {
            crate::outln!("  launch ({}): {}", l.framework, l.args.join(" "));
            for n in &l.notes {
                crate::outln!("    note: {n}");
            }
            if let Some(c) = &l.config {
                crate::outln!("  config ({}):\n{c}", l.framework);
            }
        }
        for c in &m.cannot_express {
            crate::outln!("  cannot express: {c}");
        }
    }
    crate::outln!("recommendation: {}", out.recommendation);
    if let Some(p) = out.plans.first() {
        crate::outln!(
            "launch ({}): {}",
            p.launch.framework,
            p.launch.args.join(" ")
        );
        for n in &p.launch.notes {
            crate::outln!("  note: {n}");
        }
        if let Some(c) = &p.launch.config {
            crate::outln!("config ({}):\n{c}", p.launch.framework);
        }
    }
    Ok(())
}

pub fn serve(cat: &Catalog, fmt: Format, a: &PlanServeArgs) -> Result<()> {
    let model = cat.model(&a.model)?;
    let fleet = load_fleet(cat, a.fleet.as_deref(), a.chip.as_deref(), a.chips)?;
    let request = ServeRequest {
        rate: a.rate,
        input_len: a.input_len,
        output_len: a.output_len,
        precision: match a.precision {
            ServePrecisionArg::Bf16 => ServePrecision::Bf16,
            ServePrecisionArg::Fp8 => ServePrecision::Fp8,
            ServePrecisionArg::Int8 => ServePrecision::Int8,
            ServePrecisionArg::Int4 => ServePrecision::Int4,
            ServePrecisionArg::Fp4 => ServePrecision::Fp4,
        },
        ttft_slo_s: a.ttft_slo,
        tpot_slo_s: a.tpot_slo.0,
        top: a.top.max(1),
        stack: a
            .stack
            .as_deref()
            .map(|s| {
                ServeStack::parse(s)
                    .ok_or_else(|| CliError::Usage(format!("--stack: unknown serving stack `{s}`")))
            })
            .transpose()?,
    };
    let pools: Vec<&Pool> = fleet.pools.iter().collect();
    let pools = resolve(cat, &pools)?;
    let plan = plan_serve_fleet(&model, &fleet, &pools, &request);
    let out = FleetServeV1::new(&plan, &request);
    if let Some(e) = &a.emit {
        emit_serve(cat, &fleet, &plan, &model.id, e, a)?;
    }
    if fmt == Format::Json {
        return out::print_json(&out);
    }
    crate::outln!(
        "{} at {} requests/s ({} in / {} out) on fleet {}",
        out.model,
        a.rate,
        a.input_len,
        a.output_len,
        out.fleet
    );
    let ms = |s: Option<f64>| s.map_or("none".to_string(), |v| format!("{:.0} ms", v * 1e3));
    crate::outln!(
        "limits: TTFT {}, TPOT {}{}",
        ms(a.ttft_slo),
        ms(a.tpot_slo.0),
        if a.tpot_slo.0 == Some(0.2) {
            " (the default: MLPerf Inference's server limit; --tpot-slo off for none)"
        } else {
            ""
        }
    );
    let mut t = out::wide_table(&[
        "#",
        "chips",
        "replica",
        "replicas",
        "TTFT ms p99",
        "TPOT ms p99",
        "USD/M out tok",
        "USD/h",
    ]);
    for p in &out.plans {
        let l = &p.layout;
        t.add_row(vec![
            p.rank.to_string(),
            format!("{} x {}", p.chips, p.chip),
            format!("tp{} ep{} attn-dp{}", l.tp, l.ep, l.attn_dp),
            p.replicas.to_string(),
            format!("{:.1}", p.per_replica.ttft_p99_s * 1000.0),
            format!("{:.2}", p.per_replica.tpot_p99_s * 1000.0),
            p.usd_per_million_output_tokens
                .map_or("unknown".into(), |u| format!("{u:.3}")),
            p.usd_per_hour
                .map_or("unknown".into(), |u| format!("{u:.1}")),
        ]);
    }
    crate::outln!("{t}");
    for n in &out.pools {
        crate::outln!("pool {} ({} x {}): {}", n.pool, n.chips, n.chip, n.note);
    }
    if let Some(p) = out.plans.first() {
        crate::outln!(
            "launch ({}): {}",
            p.launch.framework,
            p.launch.args.join(" ")
        );
        for n in &p.launch.notes {
            crate::outln!("  note: {n}");
        }
    }
    Ok(())
}
