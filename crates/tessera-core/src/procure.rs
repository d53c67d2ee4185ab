//! Purchase scenarios: what a buyer needs, may buy, already owns, and can spend.

use crate::date::Date;

#[derive(Debug, Clone, PartialEq)]
pub struct TrainNeed {
    pub model: String,
    pub tokens: f64,
    pub days: f64,
    pub seq_len: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServeNeed {
    pub model: String,
    /// Requests per second.
    pub rate: f64,
    pub input_len: u32,
    pub output_len: u32,
    pub ttft_slo_s: Option<f64>,
    pub tpot_slo_s: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Owned {
    pub chip: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub chip: String,
    /// Price per chip in the scenario's currency (server share included if the buyer says
    /// so); `None` takes the catalog's mid price, converted.
    pub price: Option<f64>,
    /// Most chips obtainable.
    pub max: Option<u64>,
    /// Chips per server; purchases come in whole servers.
    pub node_size: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// ISO country code of the buyer (and of its ultimate parent).
    pub country: String,
    pub date: Date,
    /// Currency of prices and budget (ISO 4217).
    pub currency: String,
    pub budget: Option<f64>,
    pub power_cap_kw: Option<f64>,
    /// Electricity price, in the scenario's currency per kWh.
    pub energy_price_per_kwh: f64,
    /// Power usage effectiveness: facility power over IT power (1.0 counts IT power only).
    pub pue: f64,
    pub train: Vec<TrainNeed>,
    pub serve: Vec<ServeNeed>,
    pub owned: Vec<Owned>,
    pub candidates: Vec<Candidate>,
    /// A purchase to compare with the optimum (for example the one actually made).
    pub reference: Option<Reference>,
    /// Links between chip types (`a` and `b` are chip ids): a training job may then run
    /// across the owned chips of one and bought chips of the other as one mixed job.
    pub links: Vec<crate::fleet::PoolLink>,
}

/// A fixed purchase to evaluate beside the planner's choice.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub name: String,
    /// Chip id and count.
    pub purchase: Vec<(String, u64)>,
    /// What it cost, if known; otherwise priced at the candidates' prices.
    pub cost: Option<f64>,
}

impl Scenario {
    /// Every chip the scenario names, owned first then candidates, each once.
    pub fn chip_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for id in self
            .owned
            .iter()
            .map(|o| o.chip.as_str())
            .chain(self.candidates.iter().map(|c| c.chip.as_str()))
        {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        ids
    }
}
