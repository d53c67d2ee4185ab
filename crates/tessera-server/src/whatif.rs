//! What-if replays for the API (`POST /api/v1/simulate`): a job file's LLM training jobs
//! replayed under each chosen policy on the live fleet's chips (or a given cluster), with
//! the simulator of `tessera simulate --jobs`. The same library calls as the CLI; this
//! module only checks the request and bounds its cost.

use std::collections::BTreeMap;
use tessera_catalog::Catalog;
use tessera_core::fleet::PoolLink;
use tessera_core::model::ModelArch;
use tessera_output::simulate::{
    SimulateInputs, SimulateV1, TIMELINE_POINTS, WhatIfRunV1, WhatIfV1, timeline_points,
};
use tessera_plan::speed::SpeedTable;
use tessera_sched::replay::replay;
use tessera_sched::sim::{Policy, SimConfig};

/// The most jobs one request may replay.
pub const MAX_JOBS: usize = 2000;
/// The most policies one request may compare.
pub const MAX_POLICIES: usize = 6;

/// A request, as the API's body gives it (kebab-case keys).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WhatIfRequest {
    /// A job file: `[[job]]` tables with model, chips, tokens, arrival-s (the format of
    /// `tessera simulate --jobs`); or give `trace`.
    pub jobs_toml: Option<String>,
    /// A Gavel trace (`tessera simulate --trace`), replayed with Gavel's built-in
    /// throughput table on a cluster of its types (v100, p100, k80).
    pub trace: Option<String>,
    pub policies: Vec<String>,
    /// `TYPE=N,...` of catalog chips; absent: the live pools' chips, by chip type.
    pub cluster: Option<String>,
    #[serde(default = "default_round")]
    pub round_s: f64,
    #[serde(default)]
    pub restart_s: f64,
    /// Least seconds between two allocations (`tessera simulate --realloc-s`); absent:
    /// each policy's own interval.
    pub realloc_s: Option<f64>,
    /// `KIND:GB_S` between any two types: jobs may also run as gangs across two types.
    pub link: Option<String>,
    #[serde(default)]
    pub elastic: bool,
}

fn default_round() -> f64 {
    360.0
}

/// A request the server will not run: the body's field at fault and why.
#[derive(Debug, Clone, PartialEq)]
pub struct WhatIfError {
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> WhatIfError {
    WhatIfError {
        field,
        message: message.into(),
    }
}

/// At least one job and at most [`MAX_JOBS`]; `field` is also the CLI option that takes
/// more (`--jobs` or `--trace`).
fn check_count(field: &'static str, n: usize, none: &str) -> Result<(), WhatIfError> {
    if n == 0 {
        return Err(bad(field, none));
    }
    if n > MAX_JOBS {
        let option = if field == "trace" {
            "--trace"
        } else {
            "--jobs"
        };
        return Err(bad(
            field,
            format!(
                "{n} jobs; the API replays at most {MAX_JOBS} (use `tessera simulate {option}` for more)"
            ),
        ));
    }
    Ok(())
}

/// The live pools' chips summed by chip type, and the chips per node of each type (the
/// largest of its pools').
pub fn live_cluster(snap: &crate::live::Snapshot) -> (Vec<(String, u32)>, Vec<u32>) {
    let mut by: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for p in &snap.pools {
        let e = by.entry(p.chip.clone()).or_default();
        e.0 += p.chips;
        e.1 = e.1.max(p.chips_per_node);
    }
    by.into_iter()
        .filter(|(_, (n, _))| *n > 0)
        .map(|(t, (n, per))| ((t, n), per.max(1)))
        .unzip()
}

/// Runs the request: one replay per policy, in the order given.
pub fn run(
    cat: &Catalog,
    live: (Vec<(String, u32)>, Vec<u32>),
    r: &WhatIfRequest,
) -> Result<WhatIfV1, WhatIfError> {
    if r.policies.is_empty() || r.policies.len() > MAX_POLICIES {
        return Err(bad(
            "policies",
            format!("give 1 to {MAX_POLICIES} policies"),
        ));
    }
    let mut policies = Vec::new();
    for p in &r.policies {
        policies.push(Policy::parse(p).ok_or_else(|| {
            bad(
                "policies",
                format!("unknown policy `{p}`; known: {}", Policy::NAMES.join(", ")),
            )
        })?);
    }
    let trace = match (&r.jobs_toml, &r.trace) {
        (Some(_), None) => None,
        (None, Some(t)) => Some(t.as_str()),
        _ => {
            return Err(bad(
                "jobs-toml",
                "give exactly one of jobs-toml (a job file) and trace (a Gavel trace)",
            ));
        }
    };
    if trace.is_none() && policies.contains(&Policy::MaxMinFairnessPacked) {
        return Err(bad(
            "policies",
            "max-min-fairness-packed needs Gavel's co-located throughputs, which LLM job files do not have",
        ));
    }
    if !(r.round_s.is_finite() && (1.0..=86_400.0).contains(&r.round_s)) {
        return Err(bad("round-s", "valid range 1..=86400 seconds"));
    }
    if !(r.restart_s.is_finite() && r.restart_s >= 0.0 && r.restart_s < r.round_s) {
        return Err(bad(
            "restart-s",
            "must be at least 0 and shorter than a round",
        ));
    }
    if r.realloc_s
        .is_some_and(|v| !(v.is_finite() && (0.0..=1e7).contains(&v)))
    {
        return Err(bad("realloc-s", "valid range 0..=10000000 seconds"));
    }
    if let Some(text) = trace {
        return run_trace(text, &policies, r);
    }
    let jobs_toml = r.jobs_toml.as_deref().unwrap_or_default();
    let (types, per_node) = match &r.cluster {
        Some(spec) => {
            let c =
                tessera_catalog::gavel::parse_cluster(spec, 1).map_err(|m| bad("cluster", m))?;
            (c.types, None)
        }
        None => {
            if live.0.is_empty() {
                return Err(bad(
                    "cluster",
                    "the live fleet has no chips up; give a cluster such as 910b2=64,a800=64",
                ));
            }
            (live.0, Some(live.1))
        }
    };
    let chips = types
        .iter()
        .map(|(id, _)| cat.chip(id))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("cluster", e.to_string()))?;
    let link = r
        .link
        .as_deref()
        .map(PoolLink::parse_spec)
        .transpose()
        .map_err(|m| bad("link", m))?;
    let list = tessera_catalog::jobs::parse_jobs("jobs-toml", jobs_toml)
        .map_err(|e| bad("jobs-toml", e.to_string()))?;
    check_count("jobs-toml", list.len(), "the file has no [[job]]")?;
    let mut models: BTreeMap<String, ModelArch> = BTreeMap::new();
    for j in &list {
        if !models.contains_key(&j.model) {
            let m = cat
                .model(&j.model)
                .map_err(|e| bad("jobs-toml", format!("jobs-toml:{}: model: {e}", j.line)))?;
            models.insert(j.model.clone(), m);
        }
    }
    let mut table = SpeedTable::new(&chips).map_err(|(id, m)| {
        bad(
            "cluster",
            format!("the catalog lacks {} for {id}", m.join(", ")),
        )
    })?;
    let prices = table.prices();
    let sim = tessera_plan::whatif::llm_sim_jobs(
        &mut table,
        &list,
        &models,
        link.as_ref(),
        r.elastic,
        per_node.is_some(),
    );
    if let Some((line, model, n)) = sim.missing.first() {
        return Err(bad(
            "jobs-toml",
            format!(
                "jobs-toml:{line}: no layout of {model} fits {n} chips of any type of the cluster ({} such job(s))",
                sim.missing.len()
            ),
        ));
    }
    let setup = Setup {
        source: "jobs-toml",
        jobs_in_file: list.len(),
        prices,
        per_node,
        colocation: None,
    };
    replay_all(sim.jobs, &types, &policies, r, &setup)
}

/// What the replays of one request share besides the jobs.
struct Setup {
    source: &'static str,
    jobs_in_file: usize,
    prices: Option<Vec<f64>>,
    per_node: Option<Vec<u32>>,
    colocation: Option<tessera_sched::sim::CoLocation>,
}

/// A Gavel trace with Gavel's built-in throughput table.
fn run_trace(text: &str, policies: &[Policy], r: &WhatIfRequest) -> Result<WhatIfV1, WhatIfError> {
    let spec = r.cluster.as_deref().ok_or_else(|| {
        bad(
            "cluster",
            "a Gavel trace needs a cluster of Gavel's types, e.g. v100=8,p100=16,k80=24 (or 8:16:24)",
        )
    })?;
    let cluster = tessera_catalog::gavel::parse_cluster(spec, 1).map_err(|m| bad("cluster", m))?;
    if r.link.is_some() {
        return Err(bad(
            "link",
            "links between types are for job files (gangs of LLM jobs)",
        ));
    }
    let tput = tessera_catalog::gavel::builtin_throughputs()
        .map_err(|e| bad("trace", format!("Gavel's built-in table: {e}")))?;
    if let Some((t, _)) = cluster
        .types
        .iter()
        .find(|(t, _)| !tput.isolated.contains_key(t))
    {
        return Err(bad(
            "cluster",
            format!(
                "`{t}` is not a type of Gavel's table (it has {})",
                tput.worker_types()
                    .into_iter()
                    .filter(|w| !w.ends_with("_unconsolidated"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let list = tessera_catalog::gavel::parse_trace("trace", text)
        .map_err(|e| bad("trace", e.to_string()))?;
    check_count("trace", list.len(), "the trace has no job")?;
    let packed = policies.contains(&Policy::MaxMinFairnessPacked);
    let g =
        tessera_plan::whatif::gavel_sim_jobs(&list, &tput, &cluster, Vec::new(), r.elastic, packed);
    if let Some((line, ty, sf)) = g.missing.first() {
        return Err(bad(
            "trace",
            format!(
                "trace:{line}: {ty} at scale factor {sf} has no throughput in Gavel's table on any type of the cluster ({} such job(s))",
                g.missing.len()
            ),
        ));
    }
    let setup = Setup {
        source: "trace",
        jobs_in_file: list.len(),
        prices: None,
        per_node: None,
        colocation: g.colocation,
    };
    replay_all(g.jobs, &cluster.types, policies, r, &setup)
}

/// One replay per policy of the same jobs.
fn replay_all(
    jobs: Vec<tessera_sched::sim::SimJob>,
    types: &[(String, u32)],
    policies: &[Policy],
    r: &WhatIfRequest,
    setup: &Setup,
) -> Result<WhatIfV1, WhatIfError> {
    let capacity: Vec<u32> = types.iter().map(|(_, n)| *n).collect();
    let (prices, per_node) = (&setup.prices, &setup.per_node);
    let mut runs = Vec::new();
    for &policy in policies {
        if matches!(policy, Policy::MinCost(_)) && prices.is_none() {
            return Err(bad(
                "policies",
                "min-cost needs a price for every type of the cluster (the catalog's chips; a Gavel trace has none)",
            ));
        }
        let cfg = SimConfig {
            policy,
            round_s: r.round_s,
            restart_s: r.restart_s,
            seed: 0,
            chips_per_node: per_node.clone(),
            prices: prices.clone(),
            stop_after: None,
            colocation: setup.colocation.clone(),
            solver: tessera_sched::Solver::default(),
            realloc_s: r.realloc_s,
            gavel_compat: None,
        };
        let started = std::time::Instant::now();
        let out = replay(jobs.clone(), None, None, &capacity, &cfg, |_, _| {})
            .map_err(|e| bad("policies", format!("{}: {e}", policy.name())))?;
        let res = &out.result;
        let reasons = res
            .unschedulable
            .iter()
            .filter_map(|&i| out.jobs.iter().find(|j| j.id == i))
            .map(|j| format!("job {}: {}", j.id, j.unschedulable_reason(types, policy)))
            .collect();
        let result = SimulateV1::new(
            SimulateInputs {
                trace: setup.source.into(),
                cluster: types.to_vec(),
                round_s: r.round_s,
                realloc_s: cfg.min_reallocation_s(),
                jobs_in_trace: setup.jobs_in_file,
                skipped_missing_throughput: 0,
                window: None,
                window_avg_jct_s: None,
                window_jobs: None,
                window_finished: None,
                wall_time_s: started.elapsed().as_secs_f64(),
                unschedulable_reasons: reasons,
            },
            res,
        );
        runs.push(WhatIfRunV1 {
            result,
            timeline: timeline_points(&res.timeline, TIMELINE_POINTS),
        });
    }
    Ok(WhatIfV1 {
        schema_version: crate::api::API_VERSION,
        cluster: types.to_vec(),
        runs,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const JOBS: &str = r#"
[[job]]
model = "llama2-7b"
chips = 8
tokens = 2e9
arrival-s = 0

[[job]]
model = "llama2-7b"
chips = 16
tokens = 4e9
arrival-s = 600
"#;

    fn req(policies: &[&str]) -> WhatIfRequest {
        WhatIfRequest {
            jobs_toml: Some(JOBS.into()),
            trace: None,
            policies: policies.iter().map(|s| s.to_string()).collect(),
            cluster: Some("huawei-ascend-910b2=16,nvidia-a800-sxm4-80gb=16".into()),
            round_s: 360.0,
            restart_s: 0.0,
            realloc_s: None,
            link: None,
            elastic: false,
        }
    }

    #[test]
    fn each_policy_replays_the_same_jobs_and_every_job_finishes() {
        let cat = Catalog::builtin().unwrap();
        let w = run(
            &cat,
            (vec![], vec![]),
            &req(&["fifo-perf", "max-min-fairness-perf"]),
        )
        .unwrap();
        assert_eq!(w.runs.len(), 2);
        for r in &w.runs {
            assert_eq!(r.result.jobs.len(), 2);
            assert!(
                r.result
                    .jobs
                    .iter()
                    .all(|j| j.jct_s.is_some_and(|t| t > 0.0))
            );
            assert!(!r.timeline.is_empty());
            for p in &r.timeline {
                assert!(p.utilization.iter().all(|u| (0.0..=1.0 + 1e-9).contains(u)));
            }
        }
        assert_eq!(w.runs[0].result.policy, "fifo-perf");
    }

    /// `realloc-s` reaches each replay and its JSON.
    #[test]
    fn the_reallocation_interval_is_the_requests() {
        let cat = Catalog::builtin().unwrap();
        let mut r = req(&["max-min-fairness-perf", "shortest-job-first-perf"]);
        let w = run(&cat, (vec![], vec![]), &r).unwrap();
        let got: Vec<f64> = w.runs.iter().map(|x| x.result.realloc_s).collect();
        assert_eq!(got, [1920.0, 0.0]);
        r.realloc_s = Some(600.0);
        let w = run(&cat, (vec![], vec![]), &r).unwrap();
        assert!(w.runs.iter().all(|x| x.result.realloc_s == 600.0));
    }

    #[test]
    fn bad_requests_name_their_field() {
        let cat = Catalog::builtin().unwrap();
        let e = |r: WhatIfRequest| run(&cat, (vec![], vec![]), &r).unwrap_err();
        assert_eq!(e(req(&[])).field, "policies");
        assert!(e(req(&["nope"])).message.contains("unknown policy `nope`"));
        let mut r = req(&["fifo"]);
        r.cluster = Some("h100".into());
        assert_eq!(e(r).field, "cluster");
        let mut r = req(&["fifo"]);
        r.jobs_toml = Some(
            "[[job]]\nmodel = \"no-such-model\"\nchips = 8\ntokens = 1e9\narrival-s = 0\n".into(),
        );
        let x = e(r);
        assert_eq!(x.field, "jobs-toml");
        let mut big = req(&["fifo"]);
        big.jobs_toml = Some(
            "[[job]]\nmodel = \"llama2-7b\"\nchips = 8\ntokens = 1e9\nrepeat = 2001\nevery-s = 1\n"
                .into(),
        );
        let y = e(big);
        assert_eq!(y.field, "jobs-toml");
        assert!(
            y.message.contains("at most 2000") && y.message.contains("--jobs"),
            "{}",
            y.message
        );
        assert!(x.message.contains("jobs-toml:1"), "{}", x.message);
        let mut r = req(&["fifo"]);
        r.round_s = 0.0;
        assert_eq!(e(r).field, "round-s");
        for bad in [-1.0, f64::NAN, 1e8] {
            let mut r = req(&["fifo"]);
            r.realloc_s = Some(bad);
            assert_eq!(e(r).field, "realloc-s");
        }
        let mut r = req(&["fifo"]);
        r.link = Some("pcie:1".into());
        assert_eq!(e(r).field, "link");
        let mut r = req(&["fifo"]);
        r.cluster = None;
        assert_eq!(e(r).field, "cluster");
    }

    /// A Gavel trace with Gavel's built-in table: each policy replays it, the packed one
    /// too (its pair throughputs come with the table); a cluster of Gavel's types is
    /// needed, and a job file and a trace together are refused.
    #[test]
    fn a_gavel_trace_replays_with_gavels_table() {
        let cat = Catalog::builtin().unwrap();
        let trace = include_str!("../../tessera-catalog/tests/data/gavel/traces/small_test.trace");
        let r = WhatIfRequest {
            jobs_toml: None,
            trace: Some(trace.into()),
            cluster: Some("v100=4,p100=4,k80=4".into()),
            ..req(&["max-min-fairness-perf", "max-min-fairness-packed", "fifo"])
        };
        let w = run(&cat, (vec![], vec![]), &r).unwrap();
        assert_eq!(w.runs.len(), 3);
        for run in &w.runs {
            assert_eq!(run.result.jobs_in_trace, trace.lines().count());
            assert!(
                run.result.jobs.iter().all(|j| j.jct_s.is_some()),
                "{}",
                run.result.policy
            );
        }
        let e = |r: WhatIfRequest| run(&cat, (vec![], vec![]), &r).unwrap_err();
        assert_eq!(
            e(WhatIfRequest {
                cluster: None,
                ..r.clone()
            })
            .field,
            "cluster"
        );
        assert_eq!(
            e(WhatIfRequest {
                cluster: Some("h100=8".into()),
                ..r.clone()
            })
            .field,
            "cluster"
        );
        assert_eq!(
            e(WhatIfRequest {
                jobs_toml: Some(JOBS.into()),
                ..r.clone()
            })
            .field,
            "jobs-toml"
        );
        assert_eq!(
            e(WhatIfRequest {
                trace: Some("not a trace\n".into()),
                ..r.clone()
            })
            .field,
            "trace"
        );
        assert_eq!(
            e(WhatIfRequest {
                link: Some("rdma:10".into()),
                ..r
            })
            .field,
            "link"
        );
    }
}
