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
    /// `tessera simulate --jobs`).
    pub jobs_toml: String,
    pub policies: Vec<String>,
    /// `TYPE=N,...` of catalog chips; absent: the live pools' chips, by chip type.
    pub cluster: Option<String>,
    #[serde(default = "default_round")]
    pub round_s: f64,
    #[serde(default)]
    pub restart_s: f64,
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
    if policies.contains(&Policy::MaxMinFairnessPacked) {
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
    let list = tessera_catalog::jobs::parse_jobs("jobs-toml", &r.jobs_toml)
        .map_err(|e| bad("jobs-toml", e.to_string()))?;
    if list.is_empty() {
        return Err(bad("jobs-toml", "the file has no [[job]]"));
    }
    if list.len() > MAX_JOBS {
        return Err(bad(
            "jobs-toml",
            format!(
                "{} jobs; the API replays at most {MAX_JOBS} (use `tessera simulate --jobs` for more)",
                list.len()
            ),
        ));
    }
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
    let sim =
        tessera_plan::whatif::llm_sim_jobs(&mut table, &list, &models, link.as_ref(), r.elastic);
    if let Some((line, model, n)) = sim.missing.first() {
        return Err(bad(
            "jobs-toml",
            format!(
                "jobs-toml:{line}: no layout of {model} fits {n} chips of any type of the cluster ({} such job(s))",
                sim.missing.len()
            ),
        ));
    }
    let capacity: Vec<u32> = types.iter().map(|(_, n)| *n).collect();
    let mut runs = Vec::new();
    for policy in policies {
        if matches!(policy, Policy::MinCost(_)) && prices.is_none() {
            return Err(bad(
                "policies",
                "min-cost needs a price for every chip of the cluster; the catalog lacks one",
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
            colocation: None,
            solver: tessera_sched::Solver::default(),
            gavel_compat: None,
        };
        let started = std::time::Instant::now();
        let out = replay(sim.jobs.clone(), None, None, &capacity, &cfg, |_, _| {})
            .map_err(|e| bad("policies", format!("{}: {e}", policy.name())))?;
        let res = &out.result;
        let reasons = res
            .unschedulable
            .iter()
            .filter_map(|&i| out.jobs.iter().find(|j| j.id == i))
            .map(|j| format!("job {}: {}", j.id, j.unschedulable_reason(&types, policy)))
            .collect();
        let result = SimulateV1::new(
            SimulateInputs {
                trace: "jobs-toml".into(),
                cluster: types.clone(),
                round_s: r.round_s,
                jobs_in_trace: list.len(),
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
        cluster: types,
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
            jobs_toml: JOBS.into(),
            policies: policies.iter().map(|s| s.to_string()).collect(),
            cluster: Some("huawei-ascend-910b2=16,nvidia-a800-sxm4-80gb=16".into()),
            round_s: 360.0,
            restart_s: 0.0,
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
        r.jobs_toml =
            "[[job]]\nmodel = \"no-such-model\"\nchips = 8\ntokens = 1e9\narrival-s = 0\n".into();
        let x = e(r);
        assert_eq!(x.field, "jobs-toml");
        assert!(x.message.contains("jobs-toml:1"), "{}", x.message);
        let mut r = req(&["fifo"]);
        r.round_s = 0.0;
        assert_eq!(e(r).field, "round-s");
        let mut r = req(&["fifo"]);
        r.link = Some("pcie:1".into());
        assert_eq!(e(r).field, "link");
        let mut r = req(&["fifo"]);
        r.cluster = None;
        assert_eq!(e(r).field, "cluster");
    }
}
