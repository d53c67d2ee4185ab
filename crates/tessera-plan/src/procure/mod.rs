//! Purchase planning: what to buy to meet training and serving targets under a budget,
//! a power cap, availability limits and the export rules in force (docs/procure.md).
//!
//! Two stages. First the performance model and the layout planners turn each workload
//! into per-chip-type coefficients: how many chips of a type train model M on T tokens
//! within D days, and how many requests per second one serving replica of a type gives
//! within the SLOs. Then a MILP ([`milp`]) picks whole servers per type at least capital
//! cost. Everything the report says beyond the optimum (binding constraints, runners-up,
//! sensitivity, infeasibility diagnosis) comes from re-solving the same small MILP with
//! one thing changed.

pub mod milp;

use milp::{MixedCoef, Problem, ServeCoef, Solution, SolverError, TypeCoef};
use std::collections::BTreeMap;
use tessera_core::Chip;
use tessera_core::Precision;
use tessera_core::export::{ExportEvent, china_may_buy, is_china_destination};
use tessera_core::model::ModelArch;
use tessera_core::procure::Scenario;
use tessera_perf::Hardware;
use tessera_perf::calib::{Efficiency, Family, ServeStack, Stack, serve_efficiency};
use tessera_perf::serve::{Load, ServeJob, ServePrecision};
use tessera_perf::train::{TrainJob, TrainPrecision};

use crate::serve::{ServeTarget, plan_serve};
use crate::train::{SearchOptions, search};

/// Server power over accelerator power: NVIDIA's DGX H100 draws up to 10.2 kW for eight
/// 700 W GPUs (5.6 kW), so 10.2 / 5.6 = 1.82 (DGX H100 datasheet). Applied to every
/// chip's TDP to count host CPUs, NICs, switches and fans.
pub const SERVER_POWER_FACTOR: f64 = 10.2 / 5.6;

/// Hours in a year, for energy cost.
const HOURS_PER_YEAR: f64 = 8760.0;

/// The most chips tessera sizes a training job for when a chip has no availability limit.
const MAX_TRAIN_CHIPS: u64 = 65_536;

/// Everything the planner needs, resolved by the caller from the catalog.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub scenario: &'a Scenario,
    /// Every chip the scenario names (owned or candidate), looked up by id.
    pub chips: &'a [Chip],
    /// Models of `scenario.train`, in order.
    pub train_models: &'a [ModelArch],
    /// Models of `scenario.serve`, in order.
    pub serve_models: &'a [ModelArch],
    pub events: &'a [ExportEvent],
}

/// What one chip type can do, before any purchase.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeReport {
    pub chip: String,
    pub owned: u64,
    pub candidate: bool,
    /// May be bought in this scenario (candidate, export rules, price and figures known).
    pub buyable: bool,
    /// Why a candidate may not be bought (not yet released, export rules, no price,
    /// missing figures).
    pub not_buyable_because: Option<String>,
    /// Released by the scenario's date (the catalog's release year; unknown counts as
    /// released).
    pub released: bool,
    pub export_status: Option<String>,
    /// Price per chip, scenario currency.
    pub price: Option<f64>,
    pub price_source: Option<String>,
    pub max_chips: Option<u64>,
    pub node_size: u64,
    pub kw_per_chip: Option<f64>,
    /// Per training job: chips needed to meet the deadline and the days they take.
    pub train: Vec<Option<TrainOption>>,
    /// Per serving job: the replica options (empty: cannot serve it). The best requests/s
    /// per chip first, then smaller replicas that waste less on a small target.
    pub serve: Vec<Vec<ServeOption>>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrainOption {
    pub chips: u64,
    pub days: f64,
    pub tp: u32,
    pub pp: u32,
    pub dp: u32,
    pub cp: u32,
    pub ep: u32,
    pub mfu: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServeOption {
    pub tp: u32,
    pub ep: u32,
    pub chips_per_replica: u64,
    pub rps_per_replica: f64,
    pub ttft_s: f64,
    pub tpot_s: f64,
}

/// A purchase and what it achieves.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub label: String,
    /// Chip id to chips bought.
    pub purchase: BTreeMap<String, u64>,
    /// Chip id to servers bought.
    pub nodes: BTreeMap<String, u64>,
    pub capital_cost: f64,
    /// kW drawn by the whole fleet (owned and bought) at TDP, servers included.
    pub power_kw: f64,
    /// Yearly energy cost at full power, PUE included.
    pub yearly_energy_cost: f64,
    pub train: Vec<TrainAssignment>,
    /// Longest training time among the jobs.
    pub train_days: Option<f64>,
    pub serve: Vec<ServeAssignment>,
    /// Serving capacity summed over the serving jobs.
    pub serve_capacity_rps: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrainAssignment {
    pub model: String,
    /// The chip id, or for a mixed job the ids joined by " + ".
    pub chip: String,
    pub chips: u64,
    pub days: f64,
    pub deadline_days: f64,
    /// A mixed job: the chips of each type, and its form ("data-parallel" or "pipeline").
    pub parts: Vec<(String, u64)>,
    pub mixed_form: Option<&'static str>,
}

/// A training job run across two chip types as one mixed job (the scenario states a
/// link between them): all the owned chips of one beside the fewest whole servers of
/// the other that meet the deadline, planned by the mixed-vendor planner.
#[derive(Debug, Clone, PartialEq)]
pub struct MixedTrainOption {
    pub model: String,
    /// (type index, chip id, chips) per part.
    pub parts: Vec<(usize, String, u64)>,
    pub form: &'static str,
    pub tokens_per_s: f64,
    pub days: f64,
    /// Against the sum of the parts' own best plans.
    pub efficiency: f64,
    /// Whether FlagScale's heterogeneous mode can launch it (the pipeline form).
    pub flagscale: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServeAssignment {
    pub model: String,
    /// Chip id to (replicas, chips).
    pub replicas: BTreeMap<String, (u64, u64)>,
    pub capacity_rps: f64,
    pub target_rps: f64,
}

/// A constraint that shapes the optimum.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub constraint: String,
    pub detail: String,
    /// Capital cost of the cheapest purchase with this constraint lifted (`None`: the
    /// constraint is tight but lifting it saves nothing).
    pub cost_without: Option<f64>,
}

/// What a change to the scenario does.
#[derive(Debug, Clone, PartialEq)]
pub struct Sensitivity {
    pub change: String,
    pub feasible: bool,
    pub capital_cost: Option<f64>,
    pub purchase: BTreeMap<String, u64>,
    /// Whether the optimal purchase differs from the base case.
    pub purchase_changes: bool,
    pub note: String,
}

/// Why a scenario has no feasible purchase.
#[derive(Debug, Clone, PartialEq)]
pub struct Infeasibility {
    pub reason: String,
    /// Single relaxations that would make it feasible, and at what cost.
    pub fixes: Vec<Binding>,
}

/// A fixed purchase evaluated beside the optimum.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceReport {
    pub name: String,
    pub feasible: bool,
    pub outcome: Option<Outcome>,
    /// Days to train each job on every chip of its type that serving leaves free.
    pub train_days_all_chips: Vec<Option<f64>>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProcureReport {
    pub scenario: String,
    pub currency: String,
    pub feasible: bool,
    pub best: Option<Outcome>,
    pub binding_constraints: Vec<Binding>,
    pub runners_up: Vec<Outcome>,
    pub sensitivity: Vec<Sensitivity>,
    pub infeasibility: Option<Infeasibility>,
    pub reference: Option<ReferenceReport>,
    pub types: Vec<TypeReport>,
    /// Per training job, the mixed options considered (empty without scenario links).
    pub mixed_train: Vec<Vec<MixedTrainOption>>,
    /// MILPs solved for this report.
    pub solves: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcureError {
    #[error("scenario names chip `{0}`, which the caller did not resolve")]
    UnknownChip(String),
    #[error(transparent)]
    Solver(#[from] SolverError),
}

/// Plans the purchase. Errors only for caller mistakes and solver failures; an
/// infeasible scenario is a report with `feasible: false` and a diagnosis.
pub fn procure(inp: &Inputs) -> Result<ProcureReport, ProcureError> {
    let sc = inp.scenario;
    let types = type_reports(inp)?;
    let mixed = mixed_options(inp, &types);
    let mut base = problem(sc, &types, true);
    base.mixed = mixed_coefs(&mixed);
    let mut solves = 0u32;
    let mut run = |p: &Problem| -> Result<Option<Solution>, SolverError> {
        solves += 1;
        milp::solve(p)
    };
    let best = run(&base)?;
    let mut report = ProcureReport {
        scenario: sc.id.clone(),
        currency: sc.currency.clone(),
        feasible: best.is_some(),
        best: None,
        binding_constraints: Vec::new(),
        runners_up: Vec::new(),
        sensitivity: Vec::new(),
        infeasibility: None,
        reference: None,
        types: Vec::new(),
        mixed_train: Vec::new(),
        solves: 0,
    };
    // The relaxations: (name, detail, changed problem).
    let relax = relaxations(sc, &types, &base, &[]);
    match &best {
        Some(b) => {
            report.best = Some(outcome(
                "cheapest feasible purchase",
                inp,
                (&types, &mixed),
                &base,
                b,
            ));
            // Binding constraints: tight ones, and ones whose removal lowers the cost.
            if let Some(budget) = sc.budget {
                let slack = budget - b.cost;
                let cheapest_node = base
                    .types
                    .iter()
                    .filter(|t| t.max_nodes > 0)
                    .map(|t| t.price_per_node)
                    .fold(f64::INFINITY, f64::min);
                if slack < cheapest_node {
                    report.binding_constraints.push(Binding {
                        constraint: "budget".into(),
                        detail: format!(
                            "{:.0} of {:.0} {} spent; not one more server fits",
                            b.cost, budget, sc.currency
                        ),
                        cost_without: None,
                    });
                }
            }
            if let Some(cap) = sc.power_cap_kw {
                let used = base.power_kw(&b.nodes);
                let smallest = base
                    .types
                    .iter()
                    .filter(|t| t.max_nodes > 0)
                    .map(|t| t.kw_per_chip * t.node_size as f64)
                    .fold(f64::INFINITY, f64::min);
                if cap - used < smallest {
                    report.binding_constraints.push(Binding {
                        constraint: "power-cap".into(),
                        detail: format!("{used:.0} of {cap:.0} kW drawn; not one more server fits"),
                        cost_without: None,
                    });
                }
            }
            for (name, detail, p) in &relax {
                if name == "budget" {
                    continue; // lifting a budget never lowers the least cost
                }
                if let Some(s) = run(p)?
                    && s.cost < b.cost * (1.0 - 1e-6) - 1e-6
                {
                    if let Some(e) = report
                        .binding_constraints
                        .iter_mut()
                        .find(|e| &e.constraint == name)
                    {
                        e.cost_without = Some(s.cost);
                    } else {
                        report.binding_constraints.push(Binding {
                            constraint: name.clone(),
                            detail: format!("{detail}; without it: {}", describe(&base, &s)),
                            cost_without: Some(s.cost),
                        });
                    }
                }
            }
            // Runners-up: the cheapest purchase of each single buyable type, then the
            // cheapest without each type the optimum buys.
            let mut seen = vec![b.nodes.clone()];
            for (i, t) in base.types.iter().enumerate() {
                if t.max_nodes == 0 {
                    continue;
                }
                let mut p = base.clone();
                for (j, u) in p.types.iter_mut().enumerate() {
                    if j != i {
                        u.max_nodes = 0;
                    }
                }
                match run(&p)? {
                    Some(s) if !seen.contains(&s.nodes) => {
                        seen.push(s.nodes.clone());
                        report.runners_up.push(outcome(
                            &format!("buy only {}", t.chip),
                            inp,
                            (&types, &mixed),
                            &base,
                            &s,
                        ));
                    }
                    Some(_) => {}
                    None => {
                        let closed: Vec<usize> = (0..p.types.len()).filter(|&j| j != i).collect();
                        let why = diagnose(sc, &types, &p, &closed, &mut run)?.reason;
                        report.sensitivity.push(sensitivity(
                            &format!("buy only {}", t.chip),
                            &base,
                            b,
                            None,
                            why,
                        ));
                    }
                }
            }
            report
                .runners_up
                .sort_by(|a, b| a.capital_cost.total_cmp(&b.capital_cost));
            // Sensitivity: each bought type unavailable; each buyable price +-20%.
            for (i, t) in base.types.iter().enumerate() {
                if b.nodes[i] == 0 {
                    continue;
                }
                let mut p = base.clone();
                p.types[i].max_nodes = 0;
                let s = run(&p)?;
                let note = match &s {
                    Some(_) => String::new(),
                    None => diagnose(sc, &types, &p, &[i], &mut run)?.reason,
                };
                report.sensitivity.push(sensitivity(
                    &format!("{} unavailable", t.chip),
                    &base,
                    b,
                    s.as_ref(),
                    note,
                ));
            }
            for (i, t) in base.types.iter().enumerate() {
                if t.max_nodes == 0 {
                    continue;
                }
                for f in [0.8, 1.2] {
                    let mut p = base.clone();
                    p.types[i].price_per_node *= f;
                    let s = run(&p)?;
                    let note = if s.is_none() {
                        "infeasible: the budget no longer covers the purchase".into()
                    } else {
                        String::new()
                    };
                    report.sensitivity.push(sensitivity(
                        &format!("{} price {:+.0}%", t.chip, (f - 1.0) * 100.0),
                        &p,
                        b,
                        s.as_ref(),
                        note,
                    ));
                }
            }
        }
        None => {
            report.infeasibility = Some(diagnose(sc, &types, &base, &[], &mut run)?);
        }
    }
    if let Some(r) = &sc.reference {
        report.reference = Some(reference(inp, (&types, &mixed), &base, r, &mut run)?);
    }
    report.types = types;
    report.mixed_train = mixed;
    report.solves = solves;
    Ok(report)
}

fn mixed_coefs(m: &[Vec<MixedTrainOption>]) -> Vec<Vec<MixedCoef>> {
    m.iter()
        .map(|opts| {
            opts.iter()
                .map(|o| MixedCoef {
                    uses: o.parts.iter().map(|(t, _, n)| (*t, *n)).collect(),
                })
                .collect()
        })
        .collect()
}

/// Per training job, its mixed options: for every link the scenario states, all the
/// owned chips of one side beside the fewest whole servers of the other (a candidate)
/// that meet the deadline, found by bisection over server counts with the mixed-vendor
/// planner (the faster feasible form), up to the servers that type would need alone.
fn mixed_options(inp: &Inputs, types: &[TypeReport]) -> Vec<Vec<MixedTrainOption>> {
    let sc = inp.scenario;
    let mut out = vec![Vec::new(); sc.train.len()];
    for (j, (need, m)) in sc.train.iter().zip(inp.train_models).enumerate() {
        let required = need.tokens / (need.days * 86_400.0);
        for link in &sc.links {
            for (own, buy) in [(&link.a, &link.b), (&link.b, &link.a)] {
                let (Some(ta), Some(tb)) = (
                    types.iter().position(|t| &t.chip == own),
                    types.iter().position(|t| &t.chip == buy),
                ) else {
                    continue;
                };
                let (a, b) = (&types[ta], &types[tb]);
                if a.owned == 0 || !b.buyable {
                    continue;
                }
                let (Some(ca), Some(cb)) = (
                    inp.chips.iter().find(|c| c.id == a.chip),
                    inp.chips.iter().find(|c| c.id == b.chip),
                ) else {
                    continue;
                };
                let node = b.node_size.max(1);
                let cap = b.max_chips.unwrap_or(MAX_TRAIN_CHIPS).min(MAX_TRAIN_CHIPS);
                let hi_chips = b.train[j].as_ref().map_or(cap, |o| o.chips.min(cap));
                let eval = |nodes: u64| mixed_at(m, need, link, (ca, a.owned), (cb, nodes * node));
                let mut hi = hi_chips / node;
                let Some(top) = (hi > 0).then(|| eval(hi)).flatten() else {
                    continue;
                };
                if top.0 < required {
                    continue;
                }
                let (mut lo, mut best) = (0u64, (hi, top));
                while hi - lo > 1 {
                    let mid = (lo + hi) / 2;
                    match eval(mid) {
                        Some(x) if x.0 >= required => {
                            hi = mid;
                            best = (mid, x);
                        }
                        _ => lo = mid,
                    }
                }
                let (nodes, (tps, form, eff, flagscale)) = best;
                out[j].push(MixedTrainOption {
                    model: need.model.clone(),
                    parts: vec![
                        (ta, a.chip.clone(), a.owned),
                        (tb, b.chip.clone(), nodes * node),
                    ],
                    form,
                    tokens_per_s: tps,
                    days: need.tokens / tps / 86_400.0,
                    efficiency: eff,
                    flagscale,
                });
            }
        }
    }
    out
}

/// The best feasible mixed plan of a job over two pools: (tokens/s, form, efficiency,
/// FlagScale-launchable).
fn mixed_at(
    m: &ModelArch,
    need: &tessera_core::procure::TrainNeed,
    link: &tessera_core::fleet::PoolLink,
    (ca, na): (&Chip, u64),
    (cb, nb): (&Chip, u64),
) -> Option<(f64, &'static str, f64, bool)> {
    use tessera_core::fleet::{Fleet, Pool};
    let pool = |c: &Chip, n: u64| {
        let per = if n.is_multiple_of(8) { 8 } else { 1 };
        Pool {
            name: c.id.clone(),
            chip: c.id.clone(),
            nodes: (n / per) as u32,
            chips_per_node: per as u32,
            scale_up_domain: None,
            scale_out_gb_s: None,
        }
    };
    let fleet = Fleet {
        id: "procure-mixed".into(),
        name: "procure-mixed".into(),
        description: None,
        pools: vec![pool(ca, na), pool(cb, nb)],
        links: vec![tessera_core::fleet::PoolLink {
            a: ca.id.clone(),
            b: cb.id.clone(),
            ..link.clone()
        }],
    };
    let pools = [
        crate::fleet::PoolChip {
            pool: &fleet.pools[0],
            chip: ca,
        },
        crate::fleet::PoolChip {
            pool: &fleet.pools[1],
            chip: cb,
        },
    ];
    let r = crate::fleet::TrainRequest {
        seq_len: need.seq_len,
        global_batch: None,
        precision: TrainPrecision::Bf16,
        tokens: None,
        top: 1,
        objective: crate::fleet::Objective::Time,
        stack: None,
        framework: None,
    };
    crate::fleet::plan_train(m, &fleet, &pools, &r)
        .mixed
        .iter()
        .filter(|x| x.feasible && x.pools.len() == 2)
        .max_by(|a, b| a.tokens_per_s.total_cmp(&b.tokens_per_s))
        .map(|x| (x.tokens_per_s, x.form, x.efficiency, x.launch.is_some()))
}

/// The coefficient-level problem tessera solves for a scenario, with the per-type reports
/// it was built from (for tests and for callers that want to solve variants themselves).
pub fn build_problem(inp: &Inputs) -> Result<(Vec<TypeReport>, Problem), ProcureError> {
    let types = type_reports(inp)?;
    let mut p = problem(inp.scenario, &types, true);
    p.mixed = mixed_coefs(&mixed_options(inp, &types));
    Ok((types, p))
}

fn sensitivity(
    change: &str,
    p: &Problem,
    base: &Solution,
    s: Option<&Solution>,
    note: String,
) -> Sensitivity {
    Sensitivity {
        change: change.into(),
        feasible: s.is_some(),
        capital_cost: s.map(|s| s.cost),
        purchase: s.map(|s| purchase_map(p, s)).unwrap_or_default(),
        purchase_changes: s.is_none_or(|s| s.nodes != base.nodes),
        note,
    }
}

/// The base problem, or with every export-blocked candidate allowed (`export = false`).
fn problem(sc: &Scenario, types: &[TypeReport], export: bool) -> Problem {
    let coefs = types
        .iter()
        .map(|t| {
            let may = t.candidate
                && t.price.is_some()
                && t.kw_per_chip.is_some()
                && (t.buyable || !export);
            let max_chips = t.max_chips.unwrap_or(MAX_TRAIN_CHIPS * 4);
            TypeCoef {
                chip: t.chip.clone(),
                node_size: t.node_size,
                price_per_node: t.price.unwrap_or(0.0) * t.node_size as f64,
                kw_per_chip: t.kw_per_chip.unwrap_or(0.0),
                owned: t.owned,
                max_nodes: if may { max_chips / t.node_size } else { 0 },
            }
        })
        .collect();
    let train = (0..sc.train.len())
        .map(|j| {
            types
                .iter()
                .map(|t| t.train[j].as_ref().map(|o| o.chips))
                .collect()
        })
        .collect();
    let serve = sc
        .serve
        .iter()
        .enumerate()
        .map(|(k, need)| {
            let opts = types
                .iter()
                .map(|t| {
                    t.serve[k]
                        .iter()
                        .map(|o| ServeCoef {
                            chips_per_replica: o.chips_per_replica,
                            rps_per_replica: o.rps_per_replica,
                        })
                        .collect()
                })
                .collect();
            (need.rate, opts)
        })
        .collect();
    Problem {
        types: coefs,
        mixed: vec![Vec::new(); sc.train.len()],
        train,
        serve,
        budget: sc.budget,
        power_cap_kw: sc.power_cap_kw,
    }
}

/// One-at-a-time relaxations, named as the binding-constraint list names them.
/// One-at-a-time relaxations of `base`'s limits and workloads. Types in `closed` were
/// closed by the change being diagnosed (a chip made unavailable, a restriction to one
/// type) and stay closed in every relaxation.
fn relaxations(
    sc: &Scenario,
    types: &[TypeReport],
    base: &Problem,
    closed: &[usize],
) -> Vec<(String, String, Problem)> {
    let mut out = Vec::new();
    if let Some(b) = sc.budget {
        out.push((
            "budget".into(),
            format!("budget {b:.0} {}", sc.currency),
            Problem {
                budget: None,
                ..base.clone()
            },
        ));
    }
    if let Some(c) = sc.power_cap_kw {
        out.push((
            "power-cap".into(),
            format!("power cap {c:.0} kW"),
            Problem {
                power_cap_kw: None,
                ..base.clone()
            },
        ));
    }
    let blocked: Vec<&str> = types
        .iter()
        .enumerate()
        .filter(|(i, t)| {
            !closed.contains(i)
                && t.candidate
                && t.released
                && !t.buyable
                && t.price.is_some()
                && t.kw_per_chip.is_some()
        })
        .map(|(_, t)| t)
        .map(|t| t.chip.as_str())
        .collect();
    if !blocked.is_empty() {
        // Open only the export-blocked chips; every other change `base` carries (a chip
        // made unavailable, a restriction to one type) stays.
        let open = problem(sc, types, false);
        let mut p = base.clone();
        for (t, o) in p.types.iter_mut().zip(&open.types) {
            if blocked.contains(&t.chip.as_str()) {
                t.max_nodes = o.max_nodes;
            }
        }
        out.push((
            "export-rules".into(),
            format!("export rules block {}", blocked.join(", ")),
            p,
        ));
    }
    for (i, t) in types.iter().enumerate() {
        if let Some(m) = t.max_chips
            && base.types[i].max_nodes > 0
        {
            let mut p = base.clone();
            p.types[i].max_nodes = (MAX_TRAIN_CHIPS * 4) / t.node_size;
            out.push((
                format!("availability:{}", t.chip),
                format!("at most {m} {} obtainable", t.chip),
                p,
            ));
        }
    }
    for (j, need) in sc.train.iter().enumerate() {
        let mut p = base.clone();
        p.train.remove(j);
        out.push((
            format!("train[{j}]"),
            format!(
                "training {} on {:.3e} tokens within {} days",
                need.model, need.tokens, need.days
            ),
            p,
        ));
    }
    for (k, need) in sc.serve.iter().enumerate() {
        let mut p = base.clone();
        p.serve.remove(k);
        out.push((
            format!("serve[{k}]"),
            format!("serving {} at {} requests/s", need.model, need.rate),
            p,
        ));
    }
    out
}

/// Why `p` is infeasible: which single relaxation fixes it.
fn diagnose(
    sc: &Scenario,
    types: &[TypeReport],
    p: &Problem,
    closed: &[usize],
    run: &mut impl FnMut(&Problem) -> Result<Option<Solution>, SolverError>,
) -> Result<Infeasibility, SolverError> {
    let mut fixes = Vec::new();
    // Limits (budget, power, export rules, availability) are what binds; dropping a
    // workload always "fixes" a purchase, so workloads are blamed only when no limit is.
    let is_workload = |n: &str| n.starts_with("train[") || n.starts_with("serve[");
    let (limits, workloads): (Vec<_>, Vec<_>) = relaxations(sc, types, p, closed)
        .into_iter()
        .partition(|(n, _, _)| !is_workload(n));
    for (name, detail, q) in &limits {
        if let Some(s) = run(q)? {
            fixes.push(Binding {
                constraint: name.clone(),
                detail: format!("lift {detail}: {}", describe(p, &s)),
                cost_without: Some(s.cost),
            });
        }
    }
    // No single limit: two limits that bind together (an availability cap and the power
    // cap, say).
    let mut pairs = Vec::new();
    if fixes.is_empty() {
        for (i, (a, da, qa)) in limits.iter().enumerate() {
            for (b, db, _) in limits.iter().skip(i + 1) {
                let Some((_, _, qab)) = relaxations(sc, types, qa, closed)
                    .into_iter()
                    .find(|(n, _, _)| n == b)
                else {
                    continue;
                };
                if let Some(s) = run(&qab)? {
                    pairs.push(Binding {
                        constraint: format!("{a} + {b}"),
                        detail: format!("lift {da} and {db}: {}", describe(p, &s)),
                        cost_without: Some(s.cost),
                    });
                }
            }
        }
    }
    let limit_fixes = fixes.len();
    let pair_fixes = pairs.len();
    fixes.extend(pairs);
    for (name, detail, q) in workloads {
        if let Some(s) = run(&q)? {
            fixes.push(Binding {
                constraint: name,
                detail: format!("drop {detail}: {}", describe(p, &s)),
                cost_without: Some(s.cost),
            });
        }
    }
    // Workloads no chip type can carry at all.
    let mut hopeless = Vec::new();
    for (j, row) in p.train.iter().enumerate() {
        if row.iter().all(Option::is_none) && p.mixed.get(j).is_none_or(Vec::is_empty) {
            hopeless.push(format!(
                "no chip type can train {} within {} days at any size tessera tried",
                sc.train[j].model, sc.train[j].days
            ));
        }
    }
    fn names(fs: &[Binding]) -> Vec<&str> {
        fs.iter().map(|f| f.constraint.as_str()).collect()
    }
    let reason = if !hopeless.is_empty() {
        hopeless.join("; ")
    } else if limit_fixes > 0 {
        let n = names(&fixes[..limit_fixes]);
        if n.len() == 1 {
            format!("infeasible because of {}", n[0])
        } else {
            format!(
                "infeasible because of {} (lifting any one of them is enough)",
                n.join(", ")
            )
        }
    } else if pair_fixes > 0 {
        format!(
            "infeasible unless two limits are lifted together: {}",
            names(&fixes[..pair_fixes]).join(" or ")
        )
    } else if fixes.len() > limit_fixes + pair_fixes {
        format!(
            "no purchase within the limits can carry {}, even with one or two limits lifted",
            names(&fixes[pair_fixes..]).join(" or ")
        )
    } else {
        "no single constraint makes it infeasible; several must be lifted together".into()
    };
    Ok(Infeasibility { reason, fixes })
}

fn describe(p: &Problem, s: &Solution) -> String {
    let parts: Vec<String> = purchase_map(p, s)
        .iter()
        .map(|(c, n)| format!("{n} {c}"))
        .collect();
    if parts.is_empty() {
        format!("buy nothing (cost {:.0})", s.cost)
    } else {
        format!("buy {} for {:.0}", parts.join(" + "), s.cost)
    }
}

fn purchase_map(p: &Problem, s: &Solution) -> BTreeMap<String, u64> {
    p.types
        .iter()
        .zip(&s.nodes)
        .filter(|(_, n)| **n > 0)
        .map(|(t, n)| (t.chip.clone(), n * t.node_size))
        .collect()
}

/// The per-type reports and the mixed options a problem was built from.
type Built<'a> = (&'a [TypeReport], &'a [Vec<MixedTrainOption>]);

fn outcome(
    label: &str,
    inp: &Inputs,
    (types, mixed): Built<'_>,
    p: &Problem,
    s: &Solution,
) -> Outcome {
    let sc = inp.scenario;
    let nt = types.len();
    let power_kw = p.power_kw(&s.nodes);
    let train: Vec<TrainAssignment> = s
        .train_on
        .iter()
        .enumerate()
        .map(|(j, &t)| {
            if t >= nt {
                let o = &mixed[j][t - nt];
                return TrainAssignment {
                    model: sc.train[j].model.clone(),
                    chip: o
                        .parts
                        .iter()
                        .map(|p| p.1.as_str())
                        .collect::<Vec<_>>()
                        .join(" + "),
                    chips: o.parts.iter().map(|p| p.2).sum(),
                    days: o.days,
                    deadline_days: sc.train[j].days,
                    parts: o.parts.iter().map(|p| (p.1.clone(), p.2)).collect(),
                    mixed_form: Some(o.form),
                };
            }
            let o = types[t].train[j].as_ref();
            TrainAssignment {
                model: sc.train[j].model.clone(),
                chip: types[t].chip.clone(),
                chips: o.map_or(0, |o| o.chips),
                days: o.map_or(f64::NAN, |o| o.days),
                deadline_days: sc.train[j].days,
                parts: Vec::new(),
                mixed_form: None,
            }
        })
        .collect();
    let serve: Vec<ServeAssignment> = s
        .replicas
        .iter()
        .enumerate()
        .map(|(k, row)| {
            let mut replicas = BTreeMap::new();
            let mut cap = 0.0;
            for (t, per_opt) in row.iter().enumerate() {
                let (mut n, mut chips) = (0, 0);
                for (&r, o) in per_opt.iter().zip(&types[t].serve[k]) {
                    n += r;
                    chips += r * o.chips_per_replica;
                    cap += r as f64 * o.rps_per_replica;
                }
                if n > 0 {
                    replicas.insert(types[t].chip.clone(), (n, chips));
                }
            }
            ServeAssignment {
                model: sc.serve[k].model.clone(),
                replicas,
                capacity_rps: cap,
                target_rps: sc.serve[k].rate,
            }
        })
        .collect();
    Outcome {
        label: label.into(),
        purchase: purchase_map(p, s),
        nodes: p
            .types
            .iter()
            .zip(&s.nodes)
            .filter(|(_, n)| **n > 0)
            .map(|(t, n)| (t.chip.clone(), *n))
            .collect(),
        capital_cost: s.cost,
        power_kw,
        yearly_energy_cost: power_kw * HOURS_PER_YEAR * sc.pue * sc.energy_price_per_kwh,
        train_days: train.iter().map(|t| t.days).reduce(f64::max),
        serve_capacity_rps: serve.iter().map(|s| s.capacity_rps).sum(),
        train,
        serve,
    }
}

fn reference(
    inp: &Inputs,
    (types, mixed): Built<'_>,
    base: &Problem,
    r: &tessera_core::procure::Reference,
    run: &mut impl FnMut(&Problem) -> Result<Option<Solution>, SolverError>,
) -> Result<ReferenceReport, ProcureError> {
    let sc = inp.scenario;
    // Fix the purchase: the solver may then only assign work.
    let mut p = base.clone();
    p.budget = None;
    p.power_cap_kw = None;
    let mut fixed = vec![0u64; p.types.len()];
    let mut notes = Vec::new();
    for (chip, count) in &r.purchase {
        let i = p
            .types
            .iter()
            .position(|t| &t.chip == chip)
            .ok_or_else(|| ProcureError::UnknownChip(chip.clone()))?;
        let ns = p.types[i].node_size;
        fixed[i] = count.div_ceil(ns);
        if count % ns != 0 {
            notes.push(format!("{count} {chip} rounded up to {} servers", fixed[i]));
        }
    }
    // Treat the bought chips as owned, so nothing else can be added.
    for (t, &n) in p.types.iter_mut().zip(&fixed) {
        t.owned += n * t.node_size;
        t.max_nodes = 0;
    }
    let cost = r.cost.unwrap_or_else(|| base.cost(&fixed));
    let power = base.power_kw(&fixed);
    let mut reasons = Vec::new();
    if let Some(b) = sc.budget
        && cost > b * (1.0 + 1e-9)
    {
        reasons.push(format!("costs {cost:.0}, over the budget of {b:.0}"));
    }
    if let Some(c) = sc.power_cap_kw
        && power > c
    {
        reasons.push(format!("draws {power:.0} kW, over the cap of {c:.0} kW"));
    }
    for (chip, _) in &r.purchase {
        if let Some(t) = types.iter().find(|t| &t.chip == chip)
            && t.candidate
            && !t.buyable
        {
            reasons.push(format!("{chip} may not be bought here"));
        }
    }
    let s = run(&p)?;
    let mut days_all = vec![None; sc.train.len()];
    let outcome_v = s.as_ref().map(|s| {
        let mut o = outcome(
            &r.name,
            inp,
            (types, mixed),
            base,
            &Solution {
                nodes: fixed.clone(),
                ..s.clone()
            },
        );
        o.capital_cost = cost;
        o
    });
    match &s {
        None => {
            reasons.push(
                "its chips cannot meet the training deadlines and serving targets together".into(),
            );
            // What the chips would do for each training job alone, on its best type.
            for (j, d) in days_all.iter_mut().enumerate() {
                *d = (0..p.types.len())
                    .filter_map(|t| train_days_at_most(inp, types, t, j, p.types[t].owned))
                    .reduce(f64::min);
            }
        }
        Some(s) => {
            // Training on everything serving leaves free on the chosen type (a mixed
            // choice keeps its own days).
            for (j, &t) in s.train_on.iter().enumerate() {
                if t >= types.len() {
                    days_all[j] = Some(mixed[j][t - types.len()].days);
                    continue;
                }
                let serving: u64 = (0..sc.serve.len())
                    .map(|k| {
                        s.replicas[k][t]
                            .iter()
                            .zip(&types[t].serve[k])
                            .map(|(r, o)| r * o.chips_per_replica)
                            .sum::<u64>()
                    })
                    .sum();
                let other_train: u64 = s
                    .train_on
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| i != j)
                    .filter_map(|(i, &c)| p.train_uses(i, c))
                    .flatten()
                    .filter(|&(u, _)| u == t)
                    .map(|(_, n)| n)
                    .sum();
                let free = p.types[t].owned.saturating_sub(serving + other_train);
                days_all[j] = train_days_at_most(inp, types, t, j, free);
            }
        }
    }
    // Notes (such as rounding to whole servers) explain; they do not make it fail.
    let feasible = s.is_some() && reasons.is_empty();
    reasons.extend(notes);
    Ok(ReferenceReport {
        name: r.name.clone(),
        feasible,
        outcome: outcome_v,
        train_days_all_chips: days_all,
        reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
    })
}

// ---------------------------------------------------------------------------------
// Stage one: per-type coefficients from the performance model.

fn type_reports(inp: &Inputs) -> Result<Vec<TypeReport>, ProcureError> {
    let sc = inp.scenario;
    let china = is_china_destination(&sc.country);
    let mut out = Vec::new();
    for id in sc.chip_ids() {
        let chip = inp
            .chips
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| ProcureError::UnknownChip(id.to_string()))?;
        let owned: u64 = sc
            .owned
            .iter()
            .filter(|o| o.chip == id)
            .map(|o| o.count)
            .sum();
        let cand = sc.candidates.iter().find(|c| c.chip == id);
        let mut notes = Vec::new();
        let (price, price_source) = match cand {
            Some(c) if c.price.is_some() => (c.price, Some("scenario".to_string())),
            Some(_) => match &chip.price {
                Some(p) => {
                    let usd = tessera_core::money::to_usd(p.mid(), &p.currency);
                    let per = tessera_core::money::usd_per_unit(&sc.currency).map(|x| x.0);
                    match (usd, per) {
                        (Some(u), Some(r)) => (
                            Some(u / r),
                            Some(format!(
                                "catalog mid price {:.0} {} ({})",
                                p.mid(),
                                p.currency,
                                p.date
                            )),
                        ),
                        _ => (None, None),
                    }
                }
                None => {
                    notes.push("no price in the scenario or the catalog: not bought".into());
                    (None, None)
                }
            },
            None => (None, None),
        };
        let export_status = cand.map(|_| {
            if china {
                china_may_buy(chip, sc.date, inp.events)
            } else {
                (true, "the China rules do not bind this buyer".into())
            }
        });
        let kw_per_chip = chip
            .tdp_w
            .as_ref()
            .map(|f| f.value * SERVER_POWER_FACTOR / 1000.0);
        if kw_per_chip.is_none() {
            notes.push(
                "no TDP in the catalog: its power cannot be counted, so it is not bought".into(),
            );
        }
        let node_size = cand.map_or(8, |c| c.node_size);
        let train: Vec<Option<TrainOption>> = sc
            .train
            .iter()
            .zip(inp.train_models)
            .map(|(need, m)| {
                // Sized without the availability limit: the MILP applies it, and the
                // relaxation then shows what the limit costs.
                let (opt, why) = min_train_chips(chip, m, need, node_size, MAX_TRAIN_CHIPS);
                if let Some(w) = why {
                    notes.push(format!("train {}: {w}", need.model));
                }
                opt
            })
            .collect();
        let serve: Vec<Vec<ServeOption>> = sc
            .serve
            .iter()
            .zip(inp.serve_models)
            .map(|(need, m)| {
                let (opt, why) = best_replica(chip, m, need);
                if let Some(w) = why {
                    notes.push(format!("serve {}: {w}", need.model));
                }
                opt
            })
            .collect();
        let perf_ok = train.iter().any(Option::is_some) || serve.iter().any(|o| !o.is_empty());
        let (export_ok, status) = match export_status {
            Some((ok, s)) => (ok, Some(s)),
            None => (false, None),
        };
        let released = chip.exists_on(sc.date);
        let said = status
            .as_deref()
            .is_some_and(|s| s.starts_with("not yet released"));
        if cand.is_some() && !released && !said {
            notes.push(format!(
                "not yet released on {}: may not be bought (available from {})",
                sc.date,
                chip.available_from()
                    .map_or_else(String::new, |d| d.to_string())
            ));
        } else if cand.is_some() && !export_ok {
            notes.push("export rules: may not be bought".into());
        }
        let mut why_not = Vec::new();
        if cand.is_some() {
            if !released {
                why_not.push("not yet released");
            } else if !export_ok {
                why_not.push("export rules");
            }
            if price.is_none() {
                why_not.push("no price");
            }
            if kw_per_chip.is_none() {
                why_not.push("no TDP");
            }
            if !perf_ok {
                why_not.push("too few figures to model it");
            }
        }
        out.push(TypeReport {
            chip: id.to_string(),
            owned,
            candidate: cand.is_some(),
            buyable: cand.is_some() && why_not.is_empty(),
            not_buyable_because: (!why_not.is_empty()).then(|| why_not.join(", ")),
            released,
            export_status: status,
            price,
            price_source,
            max_chips: cand.and_then(|c| c.max),
            node_size,
            kw_per_chip,
            train,
            serve,
            notes,
        });
    }
    Ok(out)
}

fn train_setup(
    chip: &Chip,
    need: &tessera_core::procure::TrainNeed,
) -> Result<(Hardware, Efficiency, TrainJob, SearchOptions), String> {
    let hw = Hardware::from_chip(chip)
        .map_err(|m| format!("the catalog lacks {} for {}", m.join(", "), chip.id))?;
    let eff = Efficiency::for_family(
        Family::of(chip),
        Stack::default_for(chip),
        TrainPrecision::Bf16,
    );
    let gb = ((4.0 * 1024.0 * 1024.0 / need.seq_len.max(1) as f64).round() as u32).max(1);
    let job = TrainJob {
        seq_len: need.seq_len,
        global_batch: gb,
        precision: TrainPrecision::Bf16,
        dropout: false,
        flash_attention: true,
        grad_reduce: Default::default(),
    };
    // What the vendor's framework runs, at a batch within the planner's tolerance.
    let opts = SearchOptions {
        batch_tolerance_pct: 25,
        ..SearchOptions::for_framework(crate::launch::TrainFramework::default_for(&chip.vendor))
    };
    Ok((hw, eff, job, opts))
}

/// The fewest chips (whole servers) that train `m` on the need's tokens within its days,
/// searching layouts with every technique tessera models.
fn min_train_chips(
    chip: &Chip,
    m: &ModelArch,
    need: &tessera_core::procure::TrainNeed,
    node: u64,
    limit: u64,
) -> (Option<TrainOption>, Option<String>) {
    let (hw, eff, job, opts) = match train_setup(chip, need) {
        Ok(x) => x,
        Err(w) => return (None, Some(w)),
    };
    let secs = need.days * 86_400.0;
    let required_tps = need.tokens / secs;
    let best_at = |n: u64| {
        search(m, &hw, &eff, &job, n, 1, &opts)
            .plans
            .first()
            .copied()
    };
    // Probe powers of two for a size where the model fits, to estimate per-chip speed.
    let mut probe = None;
    let mut n = node.next_power_of_two().max(8);
    while n <= limit.max(8) * 2 && n <= MAX_TRAIN_CHIPS {
        if let Some(p) = best_at(n) {
            probe = Some((n, p));
            break;
        }
        n *= 2;
    }
    let Some((n0, p0)) = probe else {
        return (
            None,
            Some(format!("no layout fits in memory on up to {limit} chips")),
        );
    };
    let per_chip = p0.estimate.tokens_per_s / n0 as f64;
    let mut est = (required_tps / per_chip).ceil() as u64;
    // Refine the per-chip speed at the estimated size (scaling is sub-linear).
    if est > n0 {
        let n1 = est.next_power_of_two().min(MAX_TRAIN_CHIPS);
        if let Some(p1) = best_at(n1) {
            est = (required_tps / (p1.estimate.tokens_per_s / n1 as f64)).ceil() as u64;
        }
    }
    let step = node.max(1);
    let start = ((est as f64 * 0.8) as u64 / step * step).max(step);
    let stop = (est.saturating_mul(2)).max(n0).min(limit);
    let mut k = start;
    while k <= stop {
        if let Some(p) = best_at(k)
            && p.estimate.tokens_per_s >= required_tps
        {
            let l = p.layout;
            return (
                Some(TrainOption {
                    chips: k,
                    days: need.tokens / p.estimate.tokens_per_s / 86_400.0,
                    tp: l.tp,
                    pp: l.pp,
                    dp: l.dp,
                    cp: l.cp,
                    ep: l.ep,
                    mfu: p.estimate.mfu,
                }),
                None,
            );
        }
        k += step;
    }
    (
        None,
        Some(format!(
            "cannot finish within {} days on up to {limit} chips (about {est} needed)",
            need.days
        )),
    )
}

/// Days to train on at most `n` chips of type `t`: the fastest size from n/2 to n in
/// whole servers (a job need not use every chip; with a fixed global batch some sizes
/// have no layout or a poor one).
fn train_days_at_most(
    inp: &Inputs,
    types: &[TypeReport],
    t: usize,
    j: usize,
    n: u64,
) -> Option<f64> {
    let need = &inp.scenario.train[j];
    let chip = inp.chips.iter().find(|c| c.id == types[t].chip)?;
    let m = inp.train_models.get(j)?;
    let (hw, eff, job, opts) = train_setup(chip, need).ok()?;
    let step = types[t].node_size.max(1);
    let mut sizes: Vec<u64> = (n / 2..=n).filter(|k| *k > 0 && k % step == 0).collect();
    sizes.extend((0..40).map(|i| 1u64 << i).filter(|&p| p <= n && p > n / 2));
    sizes.sort_unstable();
    sizes.dedup();
    sizes
        .iter()
        .filter_map(|&k| {
            search(m, &hw, &eff, &job, k, 1, &opts)
                .plans
                .first()
                .map(|p| p.estimate.tokens_per_s)
        })
        .reduce(f64::max)
        .map(|tps| need.tokens / tps / 86_400.0)
}

/// Replica options within the need's SLOs: the one with the most requests/s per chip,
/// then, for each smaller replica size, the best of that size if it beats every smaller
/// one (a Pareto front of size against efficiency), at most four.
fn best_replica(
    chip: &Chip,
    m: &ModelArch,
    need: &tessera_core::procure::ServeNeed,
) -> (Vec<ServeOption>, Option<String>) {
    let hw = match Hardware::from_chip_within_domain(chip) {
        Ok(h) => h,
        Err(miss) => {
            return (
                Vec::new(),
                Some(format!(
                    "the catalog lacks {} for {}",
                    miss.join(", "),
                    chip.id
                )),
            );
        }
    };
    let eff = serve_efficiency(Family::of(chip), ServeStack::default_for(chip));
    let job = ServeJob {
        input_len: need.input_len,
        output_len: need.output_len,
        precision: ServePrecision::Bf16,
        kv_bytes: 2.0,
        load: Load::Offline,
        ttft_slo_s: need.ttft_slo_s,
        tpot_slo_s: need.tpot_slo_s,
        disaggregated: false,
        lengths: None,
    };
    let int8 = chip.peak(Precision::Int8).map(|f| f.value * 1e12);
    let target = ServeTarget {
        rate: need.rate,
        max_chips: u64::MAX / 4,
        chip_hour_usd: None,
    };
    let mut all: Vec<ServeOption> = plan_serve(m, &hw, int8, &eff, &job, &target)
        .into_iter()
        .map(|p| ServeOption {
            tp: p.layout.tp,
            ep: p.layout.ep,
            chips_per_replica: p.layout.chips_per_replica(),
            rps_per_replica: p.per_replica.requests_per_s,
            ttft_s: p.per_replica.ttft_s,
            tpot_s: p.per_replica.tpot_s,
        })
        .filter(|o| o.rps_per_replica > 0.0)
        .collect();
    if all.is_empty() {
        return (
            Vec::new(),
            Some("no replica layout fits or meets the SLOs".into()),
        );
    }
    let per_chip = |o: &ServeOption| o.rps_per_replica / o.chips_per_replica as f64;
    // Smallest replicas first; keep each that is more efficient than all smaller ones.
    all.sort_by(|a, b| {
        a.chips_per_replica
            .cmp(&b.chips_per_replica)
            .then(per_chip(b).total_cmp(&per_chip(a)))
    });
    let mut front: Vec<ServeOption> = Vec::new();
    for o in all {
        if front
            .last()
            .is_none_or(|l| per_chip(&o) > per_chip(l) * 1.001)
        {
            front.push(o);
        }
    }
    // Most efficient first; keep it and the three next smaller sizes.
    front.reverse();
    front.truncate(4);
    (front, None)
}
