//! `tessera procure --format json` and `POST /api/v1/procure`: the cheapest purchase's
//! fields at top level, then the analysis (docs/json-output.md).

use serde::Serialize;
use std::collections::BTreeMap;
use tessera_core::procure::Scenario;
use tessera_plan::procure as pp;
use tessera_plan::procure::ProcureReport;

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
    pub train: Vec<TrainAssignmentV1>,
    pub serve: Vec<ServeAssignmentV1>,
    pub binding_constraints: Vec<BindingV1>,
    pub runners_up: Vec<OutcomeV1>,
    pub sensitivity: Vec<SensitivityV1>,
    pub infeasibility: Option<InfeasibilityV1>,
    pub reference: Option<ReferenceV1>,
    pub chips: Vec<ChipReportV1>,
    /// Per training job, the mixed options considered (scenario links only).
    pub mixed_train: Vec<Vec<MixedTrainOptionV1>>,
    pub solves: u32,
}

/// A training job across two chip types, as the purchase planner sized it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixedTrainOptionV1 {
    pub model: String,
    /// Chip id to chips.
    pub parts: Vec<(String, u64)>,
    /// "data-parallel" or "pipeline".
    pub form: &'static str,
    pub tokens_per_s: f64,
    pub days: f64,
    pub efficiency: f64,
    /// Whether FlagScale's heterogeneous mode can launch it.
    pub flagscale: bool,
}

/// A purchase and what it achieves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeV1 {
    pub label: String,
    pub purchase: BTreeMap<String, u64>,
    pub nodes: BTreeMap<String, u64>,
    pub capital_cost: f64,
    pub power_kw: f64,
    pub yearly_energy_cost: f64,
    pub train: Vec<TrainAssignmentV1>,
    pub train_days: Option<f64>,
    pub serve: Vec<ServeAssignmentV1>,
    pub serve_capacity_rps: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainAssignmentV1 {
    pub model: String,
    /// The chip id, or for a mixed job the ids joined by " + ".
    pub chip: String,
    pub chips: u64,
    pub days: f64,
    pub deadline_days: f64,
    /// A mixed job's chips per type (empty otherwise).
    pub parts: Vec<(String, u64)>,
    /// A mixed job's form ("data-parallel" or "pipeline"), else null.
    pub mixed_form: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServeAssignmentV1 {
    pub model: String,
    /// Chip id to (replicas, chips).
    pub replicas: BTreeMap<String, (u64, u64)>,
    pub capacity_rps: f64,
    pub target_rps: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BindingV1 {
    pub constraint: String,
    pub detail: String,
    pub cost_without: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SensitivityV1 {
    pub change: String,
    pub feasible: bool,
    pub capital_cost: Option<f64>,
    pub purchase: BTreeMap<String, u64>,
    pub purchase_changes: bool,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InfeasibilityV1 {
    pub reason: String,
    pub fixes: Vec<BindingV1>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReferenceV1 {
    pub name: String,
    pub feasible: bool,
    pub outcome: Option<OutcomeV1>,
    pub train_days_all_chips: Vec<Option<f64>>,
    pub reason: Option<String>,
}

/// What one chip type can do, before any purchase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChipReportV1 {
    pub chip: String,
    pub owned: u64,
    pub candidate: bool,
    pub buyable: bool,
    pub not_buyable_because: Option<String>,
    pub released: bool,
    pub export_status: Option<String>,
    pub price: Option<f64>,
    pub price_source: Option<String>,
    pub max_chips: Option<u64>,
    pub node_size: u64,
    pub kw_per_chip: Option<f64>,
    pub train: Vec<Option<TrainOptionV1>>,
    pub serve: Vec<Vec<ServeOptionV1>>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainOptionV1 {
    pub chips: u64,
    pub days: f64,
    pub tp: u32,
    pub pp: u32,
    pub dp: u32,
    pub cp: u32,
    pub ep: u32,
    pub mfu: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServeOptionV1 {
    pub tp: u32,
    pub ep: u32,
    pub chips_per_replica: u64,
    pub rps_per_replica: f64,
    pub ttft_s: f64,
    pub tpot_s: f64,
}

fn train_assignment(t: &pp::TrainAssignment) -> TrainAssignmentV1 {
    TrainAssignmentV1 {
        model: t.model.clone(),
        chip: t.chip.clone(),
        chips: t.chips,
        days: t.days,
        deadline_days: t.deadline_days,
        parts: t.parts.clone(),
        mixed_form: t.mixed_form,
    }
}

fn serve_assignment(s: &pp::ServeAssignment) -> ServeAssignmentV1 {
    ServeAssignmentV1 {
        model: s.model.clone(),
        replicas: s.replicas.clone(),
        capacity_rps: s.capacity_rps,
        target_rps: s.target_rps,
    }
}

fn binding(b: &pp::Binding) -> BindingV1 {
    BindingV1 {
        constraint: b.constraint.clone(),
        detail: b.detail.clone(),
        cost_without: b.cost_without,
    }
}

fn outcome(o: &pp::Outcome) -> OutcomeV1 {
    OutcomeV1 {
        label: o.label.clone(),
        purchase: o.purchase.clone(),
        nodes: o.nodes.clone(),
        capital_cost: o.capital_cost,
        power_kw: o.power_kw,
        yearly_energy_cost: o.yearly_energy_cost,
        train: o.train.iter().map(train_assignment).collect(),
        train_days: o.train_days,
        serve: o.serve.iter().map(serve_assignment).collect(),
        serve_capacity_rps: o.serve_capacity_rps,
    }
}

fn chip_report(t: &pp::TypeReport) -> ChipReportV1 {
    ChipReportV1 {
        chip: t.chip.clone(),
        owned: t.owned,
        candidate: t.candidate,
        buyable: t.buyable,
        not_buyable_because: t.not_buyable_because.clone(),
        released: t.released,
        export_status: t.export_status.clone(),
        price: t.price,
        price_source: t.price_source.clone(),
        max_chips: t.max_chips,
        node_size: t.node_size,
        kw_per_chip: t.kw_per_chip,
        train: t
            .train
            .iter()
            .map(|o| {
                o.as_ref().map(|o| TrainOptionV1 {
                    chips: o.chips,
                    days: o.days,
                    tp: o.tp,
                    pp: o.pp,
                    dp: o.dp,
                    cp: o.cp,
                    ep: o.ep,
                    mfu: o.mfu,
                })
            })
            .collect(),
        serve: t
            .serve
            .iter()
            .map(|v| {
                v.iter()
                    .map(|o| ServeOptionV1 {
                        tp: o.tp,
                        ep: o.ep,
                        chips_per_replica: o.chips_per_replica,
                        rps_per_replica: o.rps_per_replica,
                        ttft_s: o.ttft_s,
                        tpot_s: o.tpot_s,
                    })
                    .collect()
            })
            .collect(),
        notes: t.notes.clone(),
    }
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
            train: best.map_or_else(Vec::new, |b| b.train.iter().map(train_assignment).collect()),
            serve: best.map_or_else(Vec::new, |b| b.serve.iter().map(serve_assignment).collect()),
            binding_constraints: r.binding_constraints.iter().map(binding).collect(),
            runners_up: r.runners_up.iter().map(outcome).collect(),
            sensitivity: r
                .sensitivity
                .iter()
                .map(|x| SensitivityV1 {
                    change: x.change.clone(),
                    feasible: x.feasible,
                    capital_cost: x.capital_cost,
                    purchase: x.purchase.clone(),
                    purchase_changes: x.purchase_changes,
                    note: x.note.clone(),
                })
                .collect(),
            infeasibility: r.infeasibility.as_ref().map(|i| InfeasibilityV1 {
                reason: i.reason.clone(),
                fixes: i.fixes.iter().map(binding).collect(),
            }),
            reference: r.reference.as_ref().map(|x| ReferenceV1 {
                name: x.name.clone(),
                feasible: x.feasible,
                outcome: x.outcome.as_ref().map(outcome),
                train_days_all_chips: x.train_days_all_chips.clone(),
                reason: x.reason.clone(),
            }),
            chips: r.types.iter().map(chip_report).collect(),
            mixed_train: r
                .mixed_train
                .iter()
                .map(|opts| {
                    opts.iter()
                        .map(|o| MixedTrainOptionV1 {
                            model: o.model.clone(),
                            parts: o.parts.iter().map(|p| (p.1.clone(), p.2)).collect(),
                            form: o.form,
                            tokens_per_s: o.tokens_per_s,
                            days: o.days,
                            efficiency: o.efficiency,
                            flagscale: o.flagscale,
                        })
                        .collect()
                })
                .collect(),
            solves: r.solves,
        }
    }
}
