//! `tessera plan train` and `tessera plan serve`.

use crate::cli::{
    Format, ObjectiveArg, PlanServeArgs, PlanTrainArgs, PrecisionArg, ServePrecisionArg,
};
use crate::exit::{CliError, Result};
use crate::out::{self, num};
use serde::Serialize;
use std::time::Instant;
use tessera_catalog::{Catalog, CatalogError};
use tessera_core::chip::{Chip, Precision};
use tessera_core::fleet::{Fleet, Pool};
use tessera_core::model::ModelArch;
use tessera_output::train::{LaunchV1, LayoutV1, RejectedV1, TrainEstimateV1};
use tessera_perf::Hardware;
use tessera_perf::calib::{Efficiency, Family, ServeStack, Stack, serve_efficiency};
use tessera_perf::serve::{Load, ServeJob, ServePrecision};
use tessera_perf::train::{Layout, TrainJob, TrainPrecision};
use tessera_plan::launch::{Launch, TrainFramework, serve_args, train_args};
use tessera_plan::mixed::{MixedPlan, PoolBest, data_parallel, pipeline};
use tessera_plan::serve::{ServePlan, ServeTarget, chip_hour_usd, plan_serve};
use tessera_plan::train::{Rejected, SearchOptions, search_pool};

fn load_fleet(
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

/// The pool's hardware: catalog figures with the pool's own domain and scale-out.
fn pool_hw(chip: &Chip, pool: &Pool) -> std::result::Result<Hardware, String> {
    let mut c = chip.clone();
    if let Some(g) = pool.scale_out_gb_s {
        c.scale_out_gb_s = Some(tessera_core::Figure::new(
            g,
            tessera_core::Status::User,
            format!("fleet pool {}", pool.name),
        ));
    }
    let mut hw = Hardware::from_chip(&c).map_err(|m| {
        format!(
            "the catalog lacks {} for {}; add them with --catalog FILE",
            m.join(", "),
            chip.id
        )
    })?;
    if let Some(d) = pool.scale_up_domain {
        hw.domain = d;
    }
    Ok(hw)
}

#[derive(Serialize)]
struct TrainPlanOut {
    rank: usize,
    pool: String,
    chip: String,
    /// Chips the plan uses; `pool_chips` the pool holds (the rest stay idle).
    chips: u64,
    pool_chips: u64,
    stack: &'static str,
    layout: LayoutV1,
    #[serde(skip)]
    domain_layout: Layout,
    global_batch: u32,
    seq_len: u32,
    estimate: TrainEstimateV1,
    usd_per_million_tokens: Option<f64>,
    days_to_train: Option<f64>,
    cost_to_train_usd: Option<f64>,
    calibrated: bool,
    launch: LaunchV1,
}

/// A layout that lost, in the pool where it lost.
#[derive(Serialize)]
struct RejectedOut {
    #[serde(flatten)]
    out: RejectedV1,
    #[serde(skip)]
    rejected: Rejected,
}

#[derive(Serialize)]
struct PoolNote {
    pool: String,
    chip: String,
    chips: u64,
    best_tokens_per_s: Option<f64>,
    note: String,
}

#[derive(Serialize)]
struct TrainOut {
    schema_version: u32,
    model: String,
    fleet: String,
    objective: &'static str,
    plans: Vec<TrainPlanOut>,
    evaluated: u64,
    pruned: u64,
    search_time_s: f64,
    rejected: Vec<RejectedOut>,
    pools: Vec<PoolNote>,
    mixed: Vec<MixedPlan>,
    recommendation: String,
}

/// How far (percent) a plan's global batch may be from the default of about 4M tokens
/// when the user gives no --global-batch (docs/planner.md).
const BATCH_TOLERANCE_PCT: u8 = 25;

/// The framework for a pool: `--framework`, else the one the chip's vendor ships for.
fn framework_for(chip: &Chip, arg: Option<&str>) -> Result<TrainFramework> {
    match arg {
        None => Ok(TrainFramework::default_for(&chip.vendor)),
        Some(s) => TrainFramework::parse(s).ok_or_else(|| {
            CliError::Usage(format!(
                "--framework: unknown framework `{s}`; use one of: {}",
                TrainFramework::ALL.map(|f| f.as_str()).join(", ")
            ))
        }),
    }
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
    let precision = match a.precision {
        PrecisionArg::Bf16 => TrainPrecision::Bf16,
        PrecisionArg::Fp8 => TrainPrecision::Fp8,
    };
    let started = Instant::now();
    let (mut evaluated, mut pruned) = (0u64, 0u64);
    let mut all: Vec<TrainPlanOut> = Vec::new();
    let mut notes = Vec::new();
    let mut bests: Vec<PoolBest> = Vec::new();
    let mut rejected = Vec::new();
    for pool in &pools {
        let chip = cat.chip(&pool.chip)?;
        let n = pool.chips();
        let stack = match &a.stack {
            Some(s) => Stack::parse(s)
                .ok_or_else(|| CliError::Usage(format!("--stack: unknown stack `{s}`")))?,
            None => Stack::default_for(chip),
        };
        let eff = Efficiency::for_family(Family::of(chip), stack, precision);
        let hw = match pool_hw(chip, pool) {
            Ok(h) => h,
            Err(why) => {
                notes.push(PoolNote {
                    pool: pool.name.clone(),
                    chip: chip.id.clone(),
                    chips: n,
                    best_tokens_per_s: None,
                    note: format!("not planned: {why}"),
                });
                continue;
            }
        };
        let gb = a.global_batch.unwrap_or_else(|| {
            ((4.0 * 1024.0 * 1024.0 / a.seq_len.max(1) as f64).round() as u32).max(1)
        });
        let job = TrainJob {
            seq_len: a.seq_len,
            global_batch: gb,
            precision,
            dropout: false,
            flash_attention: true,
        };
        if precision == TrainPrecision::Fp8 && hw.peak_fp8.is_none() {
            notes.push(PoolNote {
                pool: pool.name.clone(),
                chip: chip.id.clone(),
                chips: n,
                best_tokens_per_s: None,
                note: format!(
                    "not planned: the catalog has no fp8 peak for {}, so fp8 training cannot be estimated",
                    chip.id
                ),
            });
            continue;
        }
        // Exact with --global-batch; otherwise each layout runs the nearest batch within
        // BATCH_TOLERANCE_PCT of about 4M tokens.
        let fw = framework_for(chip, a.framework.as_deref())?;
        if precision == TrainPrecision::Fp8 && !fw.capabilities().fp8 {
            notes.push(PoolNote {
                pool: pool.name.clone(),
                chip: chip.id.clone(),
                chips: n,
                best_tokens_per_s: None,
                note: format!("not planned: {} has no fp8 training recipe", fw.as_str()),
            });
            continue;
        }
        // Only what the framework can run; the batch exact with --global-batch, else
        // the nearest within BATCH_TOLERANCE_PCT of about 4M tokens.
        let opts = SearchOptions {
            batch_tolerance_pct: if a.global_batch.is_some() {
                0
            } else {
                BATCH_TOLERANCE_PCT
            },
            ..SearchOptions::for_framework(fw)
        };
        let ps = search_pool(&model, &hw, &eff, &job, n, a.top.max(1), &opts);
        let r = ps.result;
        evaluated += r.evaluated;
        pruned += r.pruned;
        let chip_hour = chip_hour_usd_train(&hw);
        match r.plans.first() {
            None => notes.push(PoolNote {
                pool: pool.name.clone(),
                chip: chip.id.clone(),
                chips: n,
                best_tokens_per_s: None,
                note: no_plan_reason(&model, &hw, n),
            }),
            Some(b) => {
                let state = b.estimate.memory.weights
                    + b.estimate.memory.gradients
                    + b.estimate.memory.optimizer;
                bests.push(PoolBest {
                    pool: pool.name.clone(),
                    chips: b.layout.chips(),
                    tokens_per_s: b.estimate.tokens_per_s,
                    step_time_s: b.estimate.step_time_s,
                    tp: b.layout.tp,
                    pp: b.layout.pp,
                    memory_gib_per_chip: b.estimate.memory_gib_per_chip,
                    capacity_gib: b.estimate.memory.capacity / 1073741824.0,
                    state_gib_per_chip: state / 1073741824.0,
                });
                notes.push(PoolNote {
                    pool: pool.name.clone(),
                    chip: chip.id.clone(),
                    chips: n,
                    best_tokens_per_s: Some(b.estimate.tokens_per_s),
                    note: {
                        let cal = crate::cmd::with_unverified(
                            tessera_perf::calib::calibration_note(
                                Family::of(chip),
                                stack,
                                precision,
                            ),
                            &tessera_perf::hw::unverified_inputs(
                                chip,
                                precision == TrainPrecision::Fp8,
                            ),
                        )
                        .replace('\n', "; ");
                        match ps.idle {
                            Some(i) => format!(
                                "uses {} of {} chips (a count the layout's degrees divide better); \
                                 the {} left idle {}; {cal}",
                                num(b.layout.chips() as f64),
                                num(n as f64),
                                num(i.chips as f64),
                                match i.same_job_tokens_per_s {
                                    Some(t) => format!(
                                        "could run the same job alone at {} tokens/s, or other work",
                                        num(t)
                                    ),
                                    None => "are too few for this job; free for other work".into(),
                                }
                            ),
                            None => cal,
                        }
                    },
                });
            }
        }
        rejected.extend(r.rejected.iter().map(|x| RejectedOut {
            out: RejectedV1::new(&pool.name, x),
            rejected: x.clone(),
        }));
        for p in r.plans {
            let used = p.layout.chips();
            let usd_per_m =
                chip_hour.map(|c| c * used as f64 / (p.estimate.tokens_per_s * 3600.0) * 1e6);
            all.push(TrainPlanOut {
                rank: 0,
                pool: pool.name.clone(),
                chip: chip.id.clone(),
                chips: used,
                pool_chips: n,
                stack: stack.as_str(),
                layout: (&p.layout).into(),
                domain_layout: p.layout,
                global_batch: p.global_batch,
                seq_len: a.seq_len,
                estimate: (&p.estimate).into(),
                usd_per_million_tokens: usd_per_m,
                days_to_train: a.tokens.map(|t| t / p.estimate.tokens_per_s / 86_400.0),
                cost_to_train_usd: a.tokens.and_then(|t| usd_per_m.map(|u| u * t / 1e6)),
                calibrated: eff.calibrated,
                launch: (&train_args(fw, &model, &p.layout, a.seq_len, p.global_batch, precision))
                    .into(),
            });
        }
    }
    match a.objective {
        ObjectiveArg::Time => {
            all.sort_by(|x, y| y.estimate.tokens_per_s.total_cmp(&x.estimate.tokens_per_s))
        }
        ObjectiveArg::Cost => {
            all.sort_by(
                |x, y| match (x.usd_per_million_tokens, y.usd_per_million_tokens) {
                    (Some(p), Some(q)) => p.total_cmp(&q),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => y.estimate.tokens_per_s.total_cmp(&x.estimate.tokens_per_s),
                },
            )
        }
    }
    all.truncate(a.top.max(1));
    for (i, p) in all.iter_mut().enumerate() {
        p.rank = i + 1;
    }
    // A layout shown in the table did not lose: explain only the others.
    rejected.retain(|r| {
        !all.iter()
            .any(|p| p.pool == r.out.pool && p.domain_layout == r.rejected.layout)
    });
    // Mixed-vendor plans over the pools that have a plan and a stated link.
    let mut mixed = Vec::new();
    let mut recommendation = String::new();
    if bests.len() >= 2 {
        let link = bests
            .windows(2)
            .filter_map(|w| fleet.link(&w[0].pool, &w[1].pool))
            .fold(f64::INFINITY, f64::min);
        if link.is_finite() {
            let gb_tokens = a.global_batch.unwrap_or(1024) as f64 * a.seq_len as f64;
            mixed.push(data_parallel(&model, &bests, link, gb_tokens));
            mixed.push(pipeline(&model, &bests, link, a.seq_len, 1));
            let best_single = bests.iter().map(|b| b.tokens_per_s).fold(0.0, f64::max);
            let best_mixed = mixed
                .iter()
                .filter(|m| m.feasible)
                .map(|m| m.tokens_per_s)
                .fold(0.0, f64::max);
            recommendation = if best_mixed > best_single {
                format!(
                    "run one job across the pools: the best mixed plan gives {} tokens/s against {} for the best single pool ({:.0}% more)",
                    num(best_mixed),
                    num(best_single),
                    (best_mixed / best_single - 1.0) * 100.0
                )
            } else {
                format!(
                    "run the job on the best single pool ({} tokens/s); no mixed plan beats it",
                    num(best_single)
                )
            };
        } else {
            recommendation =
                "the fleet states no bandwidth between these pools, so no mixed plan was made"
                    .into();
        }
    }
    if recommendation.is_empty() {
        recommendation = match all.first() {
            Some(p) => format!("run on {} with the top plan", p.pool),
            None => "no pool can run this job".into(),
        };
    }
    let out = TrainOut {
        schema_version: tessera_output::SCHEMA_VERSION,
        model: model.id.clone(),
        fleet: fleet.id.clone(),
        objective: match a.objective {
            ObjectiveArg::Time => "time",
            ObjectiveArg::Cost => "cost",
        },
        plans: all,
        evaluated,
        pruned,
        search_time_s: started.elapsed().as_secs_f64(),
        rejected,
        pools: notes,
        mixed,
        recommendation,
    };
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
            tessera_validate::describe(&p.domain_layout),
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
        for r in out.rejected.iter().take(5) {
            crate::outln!(
                "  {}: {} ({} tokens/s): {}",
                r.out.pool,
                tessera_validate::describe(&r.rejected.layout),
                num(r.rejected.tokens_per_s),
                r.rejected.why
            );
        }
    }
    for m in &out.mixed {
        crate::outln!(
            "mixed ({}): {} tokens/s over {:?}, {:.1}% of the pools' separate total{}; {}",
            m.form,
            num(m.tokens_per_s),
            m.pools,
            m.efficiency * 100.0,
            if m.feasible { "" } else { " (does not fit)" },
            m.note
        );
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

fn chip_hour_usd_train(hw: &Hardware) -> Option<f64> {
    chip_hour_usd(hw, 4.0, 0.10)
}

#[derive(Serialize)]
struct ServePlanOut {
    rank: usize,
    pool: String,
    chip: String,
    stack: &'static str,
    #[serde(flatten)]
    plan: ServePlan,
    launch: Launch,
}

#[derive(Serialize)]
struct ServeOut {
    model: String,
    fleet: String,
    rate: f64,
    /// The latency limits the plans meet, seconds (`null`: none).
    ttft_slo_s: Option<f64>,
    tpot_slo_s: Option<f64>,
    plans: Vec<ServePlanOut>,
    pools: Vec<PoolNote>,
}

pub fn serve(cat: &Catalog, fmt: Format, a: &PlanServeArgs) -> Result<()> {
    let model = cat.model(&a.model)?;
    let fleet = load_fleet(cat, a.fleet.as_deref(), a.chip.as_deref(), a.chips)?;
    let precision = match a.precision {
        ServePrecisionArg::Bf16 => ServePrecision::Bf16,
        ServePrecisionArg::Fp8 => ServePrecision::Fp8,
        ServePrecisionArg::Int8 => ServePrecision::Int8,
        ServePrecisionArg::Int4 => ServePrecision::Int4,
        ServePrecisionArg::Fp4 => ServePrecision::Fp4,
    };
    let kv = if matches!(precision, ServePrecision::Fp8 | ServePrecision::Fp4) {
        1.0
    } else {
        2.0
    };
    let job = ServeJob {
        input_len: a.input_len,
        output_len: a.output_len,
        precision,
        kv_bytes: kv,
        load: Load::Offline,
        ttft_slo_s: a.ttft_slo,
        tpot_slo_s: a.tpot_slo.0,
        disaggregated: false,
        lengths: None,
    };
    let mut plans = Vec::new();
    let mut notes = Vec::new();
    for pool in &fleet.pools {
        let chip = cat.chip(&pool.chip)?;
        let stack = match &a.stack {
            Some(s) => ServeStack::parse(s)
                .ok_or_else(|| CliError::Usage(format!("--stack: unknown serving stack `{s}`")))?,
            None => ServeStack::default_for(chip),
        };
        let eff = serve_efficiency(Family::of(chip), stack);
        let hw = match Hardware::from_chip_within_domain(chip) {
            Ok(h) => h,
            Err(m) => {
                notes.push(PoolNote {
                    pool: pool.name.clone(),
                    chip: chip.id.clone(),
                    chips: pool.chips(),
                    best_tokens_per_s: None,
                    note: format!("not planned: the catalog lacks {}", m.join(", ")),
                });
                continue;
            }
        };
        let int8 = chip.peak(Precision::Int8).map(|f| f.value * 1e12);
        let target = ServeTarget {
            rate: a.rate,
            max_chips: pool.chips(),
            chip_hour_usd: chip_hour_usd(&hw, 4.0, 0.10),
        };
        let ps = plan_serve(&model, &hw, int8, &eff, &job, &target);
        if ps.is_empty() {
            notes.push(PoolNote {
                pool: pool.name.clone(),
                chip: chip.id.clone(),
                chips: pool.chips(),
                best_tokens_per_s: None,
                note: tessera_plan::serve::why_no_plan(&model, &hw, int8, &eff, &job, &target),
            });
        }
        let ascend = chip.vendor.to_ascii_lowercase().starts_with("huawei");
        for p in ps {
            // vLLM's --max-num-seqs is per engine: one engine per attention-DP rank.
            let max_seqs =
                ((p.per_replica.batch_per_replica / p.layout.attn_dp as f64).ceil() as u32).max(1);
            plans.push(ServePlanOut {
                rank: 0,
                pool: pool.name.clone(),
                chip: chip.id.clone(),
                stack: stack.as_str(),
                launch: serve_args(
                    ascend,
                    &p.layout,
                    hw.domain,
                    model.layers,
                    precision,
                    kv,
                    max_seqs,
                    a.input_len + a.output_len,
                ),
                plan: p,
            });
        }
    }
    plans.sort_by(|x, y| {
        match (
            x.plan.usd_per_million_output_tokens,
            y.plan.usd_per_million_output_tokens,
        ) {
            (Some(p), Some(q)) => p.total_cmp(&q),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => x.plan.chips.cmp(&y.plan.chips),
        }
    });
    plans.truncate(a.top.max(1));
    for (i, p) in plans.iter_mut().enumerate() {
        p.rank = i + 1;
    }
    let out = ServeOut {
        model: model.id.clone(),
        fleet: fleet.id.clone(),
        rate: a.rate,
        ttft_slo_s: a.ttft_slo,
        tpot_slo_s: a.tpot_slo.0,
        plans,
        pools: notes,
    };
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
        let l = &p.plan.layout;
        t.add_row(vec![
            p.rank.to_string(),
            format!("{} x {}", p.plan.chips, p.chip),
            format!("tp{} ep{} attn-dp{}", l.tp, l.ep, l.attn_dp),
            p.plan.replicas.to_string(),
            format!("{:.1}", p.plan.per_replica.ttft_p99_s * 1000.0),
            format!("{:.2}", p.plan.per_replica.tpot_p99_s * 1000.0),
            p.plan
                .usd_per_million_output_tokens
                .map_or("unknown".into(), |u| format!("{u:.3}")),
            p.plan
                .usd_per_hour
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

/// Why a pool has no plan: the state that must exist (bf16 weights, fp32 gradients, Adam
/// states: 18 bytes per parameter) against the pool's memory, else the layouts' memory.
fn no_plan_reason(model: &ModelArch, hw: &Hardware, chips: u64) -> String {
    let gib = 1024.0 * 1024.0 * 1024.0;
    let state = 18.0 * model.total_params() as f64;
    let have = hw.mem_bytes * chips as f64;
    if state > have {
        format!(
            "no layout fits in memory: the weights, gradients and Adam states alone are {:.0} GiB, \
             more than the {:.0} GiB of all {chips} chips together",
            state / gib,
            have / gib
        )
    } else {
        "no layout fits in memory (state plus activations exceed each chip's memory in every layout searched)".into()
    }
}
