//! `tessera procure --format json` and `POST /api/v1/procure`: the cheapest purchase's
//! fields at top level, then the analysis (docs/json-output.md).

use serde::Serialize;
use std::collections::BTreeMap;
use tessera_core::procure::Scenario;
use tessera_plan::procure::{
    Binding, Infeasibility, Outcome, ProcureReport, ReferenceReport, Sensitivity, ServeAssignment,
    TrainAssignment, TypeReport,
};

#[derive(Debug, Clone, Serialize)]
pub struct ProcureV1 {
    pub schema_version: u32,
    pub scenario: String,
    pub name: String,
    pub currency: String,
    pub country: String,
    pub date: String,
    pub feasible: bool,
    pub purchase: BTreeMap<String, u64>,
    pub nodes: BTreeMap<String, u64>,
    pub capital_cost: Option<f64>,
    pub power_kw: Option<f64>,
    pub yearly_energy_cost: Option<f64>,
    pub train_days: Option<f64>,
    pub serve_capacity_rps: Option<f64>,
    pub train: Vec<TrainAssignment>,
    pub serve: Vec<ServeAssignment>,
    pub binding_constraints: Vec<Binding>,
    pub runners_up: Vec<Outcome>,
    pub sensitivity: Vec<Sensitivity>,
    pub infeasibility: Option<Infeasibility>,
    pub reference: Option<ReferenceReport>,
    pub chips: Vec<TypeReport>,
    pub solves: u32,
}

impl ProcureV1 {
    pub fn new(sc: &Scenario, r: &ProcureReport) -> ProcureV1 {
        let best = r.best.as_ref();
        ProcureV1 {
            schema_version: crate::SCHEMA_VERSION,
            scenario: sc.id.clone(),
            name: sc.name.clone(),
            currency: sc.currency.clone(),
            country: sc.country.clone(),
            date: sc.date.to_string(),
            feasible: r.feasible,
            purchase: best.map(|b| b.purchase.clone()).unwrap_or_default(),
            nodes: best.map(|b| b.nodes.clone()).unwrap_or_default(),
            capital_cost: best.map(|b| b.capital_cost),
            power_kw: best.map(|b| b.power_kw),
            yearly_energy_cost: best.map(|b| b.yearly_energy_cost),
            train_days: best.and_then(|b| b.train_days),
            serve_capacity_rps: best.map(|b| b.serve_capacity_rps),
            train: best.map_or_else(Vec::new, |b| b.train.clone()),
            serve: best.map_or_else(Vec::new, |b| b.serve.clone()),
            binding_constraints: r.binding_constraints.clone(),
            runners_up: r.runners_up.clone(),
            sensitivity: r.sensitivity.clone(),
            infeasibility: r.infeasibility.clone(),
            reference: r.reference.clone(),
            chips: r.types.clone(),
            solves: r.solves,
        }
    }
}
