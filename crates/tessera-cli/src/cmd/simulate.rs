//! `tessera simulate`: replay a Gavel trace through a policy.

use crate::cli::{Format, SimulateArgs};
use crate::exit::{CliError, Result};
use crate::out::{self, num};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Instant;
use tessera_catalog::gavel::{parse_cluster, parse_throughputs, parse_trace};
use tessera_catalog::jobs::parse_jobs;
use tessera_catalog::{Catalog, CatalogError};
use tessera_core::fleet::PoolLink;
use tessera_core::model::ModelArch;
use tessera_core::sched::ClusterSpec;
use tessera_plan::speed::SpeedTable;
use tessera_sched::replay::{Replay, STREAM_LIMIT, Stream, replay};
use tessera_sched::sim::{CoLocation, Policy, SimConfig, SimJob, SimResult};
use tessera_sched::workload::JobType;

fn read(path: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        CliError::Catalog(CatalogError::Io {
            path: path.to_string(),
            source: e,
        })
    })
}

fn parse_window(s: &str) -> Result<(usize, usize)> {
    let bad = || {
        CliError::Usage(format!(
            "--window: expected FIRST-LAST job indices, found `{s}`"
        ))
    };
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let (a, b): (usize, usize) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

/// `--gavel-compat`: the cluster's types in Gavel's order (sorted by name), and its
/// reference type (`v100`) where the cluster has one.
fn gavel_compat(
    a: &SimulateArgs,
    cluster: &ClusterSpec,
) -> Option<tessera_sched::sim::GavelCompat> {
    a.gavel_compat.then(|| {
        let mut order: Vec<usize> = (0..cluster.types.len()).collect();
        order.sort_by_key(|&t| cluster.types[t].0.to_ascii_lowercase());
        let reference = cluster
            .types
            .iter()
            .position(|(name, _)| name.eq_ignore_ascii_case("v100"));
        tessera_sched::sim::GavelCompat {
            type_order: order,
            reference,
        }
    })
}

pub fn run(cat: &Catalog, fmt: Format, a: &SimulateArgs) -> Result<()> {
    let policy = Policy::parse(&a.policy).ok_or_else(|| {
        CliError::Usage(format!(
            "--policy: unknown policy `{}`; known: {}",
            a.policy,
            Policy::NAMES.join(", ")
        ))
    })?;
    if !(a.round_s.is_finite() && a.round_s > 0.0) {
        return Err(CliError::Usage("--round-s must be positive".into()));
    }
    if !(a.restart_s.is_finite() && a.restart_s >= 0.0 && a.restart_s < a.round_s) {
        return Err(CliError::Usage(
            "--restart-s must be at least 0 and shorter than a round".into(),
        ));
    }
    if let Some(r) = a
        .realloc_s
        .filter(|r| !(r.is_finite() && (0.0..=1e7).contains(r)))
    {
        return Err(CliError::Usage(format!(
            "--realloc-s must be between 0 and 10000000 seconds, not {r}"
        )));
    }
    let window = a.window.as_deref().map(parse_window).transpose()?;
    let cluster =
        parse_cluster(&a.cluster, 1).map_err(|m| CliError::Usage(format!("--cluster: {m}")))?;
    let chips_per_node = a
        .chips_per_node
        .as_deref()
        .map(|spec| parse_per_node(spec, &cluster))
        .transpose()?;
    let capacity: Vec<u32> = cluster.types.iter().map(|(_, n)| *n).collect();
    let Loaded {
        jobs,
        missing,
        source,
        mut in_file,
        table,
        default_prices,
        generator,
        colocation,
    } = match &a.jobs {
        Some(path) => {
            let link = a
                .link
                .as_deref()
                .map(|s| {
                    PoolLink::parse_spec(s).map_err(|m| CliError::Usage(format!("--link {m}")))
                })
                .transpose()?;
            llm_jobs(
                cat,
                path,
                &cluster,
                link.as_ref(),
                a.elastic,
                chips_per_node.is_some(),
            )?
        }
        None => gavel_jobs(a, &cluster, window, policy == Policy::MaxMinFairnessPacked)?,
    };
    let prices = match &a.prices {
        Some(spec) => Some(parse_prices(spec, &cluster)?),
        None => default_prices,
    };
    if policy == Policy::MaxMinFairnessPacked && colocation.is_none() {
        return Err(CliError::Usage(
            "--policy max-min-fairness-packed needs co-located throughputs: Gavel's throughput \
             JSON with --trace or --generate"
                .into(),
        ));
    }
    if matches!(policy, Policy::MinCost(_)) && prices.is_none() {
        return Err(CliError::Usage(
            "--policy min-cost needs --prices TYPE=USD_PER_HOUR,... for every cluster type".into(),
        ));
    }
    if !missing.is_empty() && !a.skip_missing {
        let (line, ty, sf) = &missing[0];
        return Err(CliError::Usage(format!(
            "{source}: {} job(s) have no throughput in {table} on any cluster type, first at line {line} \
             ({ty}, scale factor {sf}); pass --skip-missing to replay without them",
            missing.len(),
        )));
    }
    let cfg = SimConfig {
        policy,
        round_s: a.round_s,
        restart_s: a.restart_s,
        seed: a.seed,
        chips_per_node,
        prices,
        stop_after: None,
        colocation,
        solver: a.solver,
        realloc_s: a.realloc_s,
        gavel_compat: gavel_compat(a, &cluster),
    };
    let started = Instant::now();
    // A progress line on stderr for long replays, only when it is a terminal.
    let show = std::io::stderr().is_terminal() && jobs.len() >= 1000;
    let mut last_pct = 0usize;
    let Replay {
        jobs,
        result: r,
        window: window_stats,
    } = replay(
        jobs,
        generator.as_ref(),
        window,
        &capacity,
        &cfg,
        |done, total| {
            let pct = done * 100 / total.max(1);
            if show && pct != last_pct {
                last_pct = pct;
                eprint!("\r{}", progress_bar(done, total));
                if done == total {
                    eprintln!();
                }
            }
        },
    )
    .map_err(|e| CliError::Internal(e.to_string()))?;
    if generator.is_some() {
        in_file = jobs.len();
    }
    if let Some(dir) = &a.svg_dir {
        write_charts(dir, &r, &cluster.types)?;
    }
    let wall = started.elapsed().as_secs_f64();
    let window_avg = window_stats.as_ref().map(|w| w.avg_jct_s);
    let window_jobs = window_stats.as_ref().map(|w| w.jobs);
    let window_finished = window_stats.as_ref().map(|w| w.finished);
    let o = tessera_output::simulate::SimulateV1::new(
        tessera_output::simulate::SimulateInputs {
            trace: source.to_string(),
            cluster: cluster.types.clone(),
            round_s: a.round_s,
            realloc_s: cfg.min_reallocation_s(),
            jobs_in_trace: in_file,
            skipped_missing_throughput: missing.len(),
            window,
            window_avg_jct_s: window_avg,
            window_jobs,
            window_finished,
            wall_time_s: wall,
            unschedulable_reasons: r
                .unschedulable
                .iter()
                .filter_map(|&i| jobs.iter().find(|j| j.id == i))
                .map(|j| {
                    format!(
                        "job {}: {}",
                        j.id,
                        j.unschedulable_reason(&cluster.types, policy)
                    )
                })
                .collect(),
        },
        &r,
    );
    if fmt == Format::Json {
        return out::print_json(&o);
    }
    let names: Vec<String> = cluster
        .types
        .iter()
        .map(|(t, n)| format!("{t}={n}"))
        .collect();
    let realloc = match cfg.min_reallocation_s() {
        r if r > 0.0 => format!("a new allocation when jobs arrived or left, at most every {r} s"),
        _ => "a new allocation at the next round when jobs arrived or left".to_string(),
    };
    crate::outln!(
        "{} jobs of {} on {} under {} ({} s rounds, {realloc})",
        r.jobs_arrived,
        source,
        names.join(","),
        policy.name(),
        a.round_s
    );
    if !missing.is_empty() {
        crate::outln!(
            "skipped {} jobs with no throughput on any cluster type",
            missing.len()
        );
    }
    let mut t = out::table(&["metric", "value"]);
    let any_finished = r.jobs.iter().any(|j| j.finish_s.is_some());
    let h = |s: f64| {
        if any_finished {
            format!("{} s ({:.2} h)", num(s), s / 3600.0)
        } else {
            "- (no job finished)".to_string()
        }
    };
    t.add_row(vec!["makespan".to_string(), h(r.makespan_s)]);
    t.add_row(vec!["average JCT".to_string(), h(r.avg_jct_s)]);
    t.add_row(vec!["median JCT".to_string(), h(r.median_jct_s)]);
    t.add_row(vec!["p99 JCT".to_string(), h(r.p99_jct_s)]);
    if let (Some((lo, hi)), Some(w), Some(of), Some(fin)) =
        (window, window_avg, window_jobs, window_finished)
    {
        let v = if fin < of {
            format!("{} (only {fin} of {of} finished)", h(w))
        } else {
            h(w)
        };
        t.add_row(vec![format!("average JCT, jobs {lo}-{hi}"), v]);
    }
    for ((name, _), u) in cluster.types.iter().zip(&r.utilization) {
        t.add_row(vec![format!("utilization {name}"), format!("{u:.3}")]);
    }
    t.add_row(vec![
        "finish-time fairness (max / mean)".to_string(),
        format!("{:.2} / {:.2}", r.ftf_rho_max, r.ftf_rho_mean),
    ]);
    if let Some(c) = r.cost_usd {
        t.add_row(vec!["cost".to_string(), format!("USD {}", num(c))]);
    }
    t.add_row(vec!["rounds".to_string(), r.rounds.to_string()]);
    t.add_row(vec![
        "allocations solved".to_string(),
        r.allocations_solved.to_string(),
    ]);
    t.add_row(vec!["preemptions".to_string(), r.preemptions.to_string()]);
    if r.across_placements > 0 {
        t.add_row(vec![
            "rounds run across types".to_string(),
            r.across_placements.to_string(),
        ]);
    }
    if r.resized_placements > 0 {
        t.add_row(vec![
            "rounds run at another size".to_string(),
            r.resized_placements.to_string(),
        ]);
    }
    t.add_row(vec!["wall time".to_string(), format!("{wall:.3} s")]);
    crate::outln!("{t}");
    if r.arrivals_exhausted {
        crate::outln!(
            "the window's jobs had not all finished after {} arrivals ({}x the window's end): \
             the cluster cannot keep up at one job every {} s under {}",
            r.jobs_arrived,
            STREAM_LIMIT,
            a.arrival_s,
            policy.name()
        );
    }
    if !r.unschedulable.is_empty() {
        crate::outln!(
            "UNSCHEDULABLE: {} of {} jobs can never run on this cluster:",
            r.unschedulable.len(),
            r.jobs_arrived
        );
        for &i in r.unschedulable.iter().take(10) {
            if let Some(j) = jobs.iter().find(|j| j.id == i) {
                crate::outln!(
                    "  job {i}: {}",
                    j.unschedulable_reason(&cluster.types, policy)
                );
            }
        }
        if r.unschedulable.len() > 10 {
            crate::outln!("  ... and {} more", r.unschedulable.len() - 10);
        }
    }
    Ok(())
}

fn write_charts(dir: &std::path::Path, r: &SimResult, types: &[(String, u32)]) -> Result<()> {
    use crate::svg::{Series, line_chart};
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let mut jct: Vec<f64> = r.jobs.iter().filter_map(|j| j.jct_s).collect();
    jct.sort_by(f64::total_cmp);
    let n = jct.len().max(1) as f64;
    let cdf: Vec<(f64, f64)> = jct
        .iter()
        .enumerate()
        .map(|(i, &v)| (v / 3600.0, (i + 1) as f64 / n))
        .collect();
    let svg = line_chart(
        &format!("JCT distribution, {}", r.policy),
        "job completion time (h)",
        "fraction of jobs",
        &[Series {
            name: r.policy,
            points: cdf,
        }],
        Some(1.0),
    );
    let p = dir.join("jct-cdf.svg");
    std::fs::write(&p, svg).map_err(|e| io_err(&p, e))?;
    let series: Vec<Series> = types
        .iter()
        .enumerate()
        .map(|(k, (name, _))| Series {
            name,
            points: r
                .timeline
                .iter()
                .flat_map(|(t0, len, f)| [(t0 / 3600.0, f[k]), ((t0 + len) / 3600.0, f[k])])
                .collect(),
        })
        .collect();
    let svg = line_chart(
        &format!("Utilization over time, {}", r.policy),
        "time (h)",
        "busy fraction",
        &series,
        Some(1.0),
    );
    let p = dir.join("utilization.svg");
    std::fs::write(&p, svg).map_err(|e| io_err(&p, e))?;
    Ok(())
}

fn io_err(p: &std::path::Path, e: std::io::Error) -> CliError {
    CliError::Catalog(CatalogError::Io {
        path: p.display().to_string(),
        source: e,
    })
}

/// Jobs to replay, with those no cluster type can run set aside.
struct Loaded {
    jobs: Vec<SimJob>,
    /// (line, job type or model, scale factor) of jobs with no throughput anywhere.
    missing: Vec<(usize, String, u32)>,
    source: String,
    in_file: usize,
    /// Where throughputs come from, for messages.
    table: String,
    /// USD per worker-hour per type, where the inputs imply one.
    default_prices: Option<Vec<f64>>,
    /// For generated jobs: the job types, the reference type and the mean gap between
    /// arrivals, so that the stream can be extended.
    generator: Option<Stream>,
    /// Co-located throughputs of the job kinds, where the inputs have them.
    colocation: Option<CoLocation>,
}

/// `--chips-per-node`: one count for all types, `TYPE=N,...` naming every cluster type,
/// or Gavel's `V100:P100:K80` form; each at least 1.
fn parse_per_node(spec: &str, cluster: &ClusterSpec) -> Result<Vec<u32>> {
    let bad = |m: String| CliError::Usage(format!("--chips-per-node: {m}"));
    let per: Vec<u32> = if let Ok(n) = spec.trim().parse::<u32>() {
        vec![n; cluster.types.len()]
    } else {
        let given = parse_cluster(spec, 1).map_err(bad)?;
        if let Some((g, _)) = given
            .types
            .iter()
            .find(|(g, _)| !cluster.types.iter().any(|(t, _)| t == g))
        {
            return Err(bad(format!("`{g}` is not a type of --cluster")));
        }
        cluster
            .types
            .iter()
            .map(|(t, _)| {
                given
                    .types
                    .iter()
                    .find(|(g, _)| g == t)
                    .map(|(_, n)| *n)
                    .ok_or_else(|| bad(format!("no count for `{t}`")))
            })
            .collect::<Result<_>>()?
    };
    if per.contains(&0) {
        return Err(bad(
            "every type needs at least 1 accelerator per node".into()
        ));
    }
    Ok(per)
}

fn parse_prices(spec: &str, cluster: &ClusterSpec) -> Result<Vec<f64>> {
    let mut map = BTreeMap::new();
    for part in spec.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("--prices: `{part}`: expected TYPE=USD")))?;
        let v: f64 = v
            .trim()
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite() && *x > 0.0)
            .ok_or_else(|| CliError::Usage(format!("--prices: `{part}`: not a positive price")))?;
        map.insert(k.trim().to_ascii_lowercase(), v);
    }
    if let Some(k) = map
        .keys()
        .find(|k| !cluster.types.iter().any(|(t, _)| t == *k))
    {
        return Err(CliError::Usage(format!(
            "--prices: `{k}` is not a type of --cluster"
        )));
    }
    cluster
        .types
        .iter()
        .map(|(t, _)| {
            map.get(t)
                .copied()
                .ok_or_else(|| CliError::Usage(format!("--prices: no price for `{t}`")))
        })
        .collect()
}

/// `replaying [#####.....]  50% (500/1000 jobs)`, 30 cells wide.
fn progress_bar(done: usize, total: usize) -> String {
    const CELLS: usize = 30;
    let total = total.max(1);
    let filled = (done.min(total) * CELLS) / total;
    format!(
        "replaying [{}{}] {:3}% ({done}/{total} jobs)",
        "#".repeat(filled),
        ".".repeat(CELLS - filled),
        done.min(total) * 100 / total
    )
}

/// The most jobs `--generate` makes (and a generated stream may grow to).
const MAX_GENERATE: usize = 10_000_000;

fn gavel_jobs(
    a: &SimulateArgs,
    cluster: &ClusterSpec,
    window: Option<(usize, usize)>,
    pairs: bool,
) -> Result<Loaded> {
    let tput_path = a.throughputs.as_deref().ok_or_else(|| {
        CliError::Usage("--throughputs is needed with --trace and --generate".into())
    })?;
    let tput_text = read(tput_path)?;
    let tput = parse_throughputs(tput_path, &tput_text)?;
    for (t, _) in &cluster.types {
        if !tput.isolated.contains_key(t) {
            return Err(CliError::Usage(format!(
                "--cluster: `{t}` is not an accelerator type of {} (it has {})",
                tput_path,
                tput.worker_types().join(", ")
            )));
        }
    }
    let mut jobs = Vec::new();
    let mut missing = Vec::new();
    let mut generator = None;
    let (trace, source) = match (&a.trace, a.generate) {
        (Some(path), _) => {
            let text = read(path)?;
            (parse_trace(path, &text)?, path.clone())
        }
        (None, Some(n)) => {
            if !(a.arrival_s.is_finite() && a.arrival_s >= 0.0) {
                return Err(CliError::Usage("--arrival-s must be at least 0".into()));
            }
            if n > MAX_GENERATE {
                return Err(CliError::Usage(format!(
                    "--generate: at most {MAX_GENERATE} jobs, not {n}"
                )));
            }
            if let Some((_, hi)) = window.filter(|&(_, hi)| hi >= MAX_GENERATE / STREAM_LIMIT) {
                return Err(CliError::Usage(format!(
                    "--window: with --generate the window must end below job {}, not {hi} \
                     (the stream may grow to {STREAM_LIMIT}x the window's end)",
                    MAX_GENERATE / STREAM_LIMIT
                )));
            }
            // Gavel's job types: single-worker entries with a throughput on every type.
            let names: Vec<String> = tput.isolated[&cluster.types[0].0]
                .keys()
                .filter(|k| k.1 == 1)
                .map(|k| k.0.clone())
                .collect();
            let types: Vec<JobType> = names
                .into_iter()
                .map(|name| JobType {
                    throughput: cluster
                        .types
                        .iter()
                        .map(|(t, _)| tput.isolated(t, &name, 1).unwrap_or(0.0))
                        .collect(),
                    shapes: if a.elastic {
                        tessera_plan::whatif::gavel_shapes(&tput, cluster, &name, 1)
                    } else {
                        Vec::new()
                    },
                    name,
                })
                .filter(|t| t.throughput.iter().all(|&v| v > 0.0))
                .collect();
            let reference = cluster
                .types
                .iter()
                .position(|(t, _)| t == "v100")
                .unwrap_or(0);
            // With a window, start with room for arrivals after it; more are generated
            // if the window is not done when they run out.
            let n_gen = window.map_or(n, |(_, hi)| n.max(4 * (hi + 1)));
            let stream = Stream {
                types,
                reference,
                mean_gap_s: a.arrival_s,
                seed: a.seed,
            };
            jobs = stream.jobs(n_gen);
            generator = Some(stream);
            (Vec::new(), format!("a generated stream (seed {})", a.seed))
        }
        (None, None) => {
            return Err(CliError::Usage("give --trace, --generate or --jobs".into()));
        }
    };
    // Job kinds: (job type, scale factor), numbered in order of first appearance (for a
    // generated stream, the generator's job types).
    let kinds: Vec<(String, u32)> = generator
        .as_ref()
        .map(|s| s.types.iter().map(|t| (t.name.clone(), 1)).collect())
        .unwrap_or_default();
    let g = tessera_plan::whatif::gavel_sim_jobs(&trace, &tput, cluster, kinds, a.elastic, pairs);
    jobs.extend(g.jobs);
    missing.extend(g.missing);
    let in_file = if a.generate.is_some() {
        jobs.len()
    } else {
        trace.len()
    };
    Ok(Loaded {
        jobs,
        missing,
        source,
        in_file,
        table: tput_path.to_string(),
        default_prices: None,
        colocation: g.colocation,
        generator,
    })
}

/// LLM jobs from a tessera job file; each job's tokens/s on each chip type comes from
/// the planner's `SpeedTable`, and with a link its gangs across two types from the
/// mixed-vendor planner.
fn llm_jobs(
    cat: &Catalog,
    path: &str,
    cluster: &ClusterSpec,
    link: Option<&PoolLink>,
    elastic: bool,
    nodes: bool,
) -> Result<Loaded> {
    let text = read(path)?;
    let list = parse_jobs(path, &text)?;
    let chips = cluster
        .types
        .iter()
        .map(|(id, _)| cat.chip(id))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut table = SpeedTable::new(&chips).map_err(|(id, m)| {
        CliError::Usage(format!(
            "--cluster: the catalog lacks {} for {id}; add them with --catalog FILE",
            m.join(", ")
        ))
    })?;
    let default_prices = table.prices();
    let mut models: BTreeMap<String, ModelArch> = BTreeMap::new();
    for j in &list {
        if !models.contains_key(&j.model) {
            let m = cat
                .model(&j.model)
                .map_err(|e| CliError::Catalog(e).at(path, &text, &j.model))?;
            models.insert(j.model.clone(), m);
        }
    }
    let tessera_plan::whatif::LlmSimJobs { jobs, missing } =
        tessera_plan::whatif::llm_sim_jobs(&mut table, &list, &models, link, elastic, nodes);
    Ok(Loaded {
        jobs,
        missing,
        source: path.to_string(),
        in_file: list.len(),
        table: "the training model (no layout fits)".into(),
        default_prices,
        generator: None,
        colocation: None,
    })
}

#[cfg(test)]
mod tests {
    use super::progress_bar;

    #[test]
    fn progress_bar_fills_in_proportion() {
        assert_eq!(
            progress_bar(0, 10),
            format!("replaying [{}]   0% (0/10 jobs)", ".".repeat(30))
        );
        assert_eq!(
            progress_bar(5, 10),
            format!(
                "replaying [{}{}]  50% (5/10 jobs)",
                "#".repeat(15),
                ".".repeat(15)
            )
        );
        assert_eq!(
            progress_bar(10, 10),
            format!("replaying [{}] 100% (10/10 jobs)", "#".repeat(30))
        );
    }
}
