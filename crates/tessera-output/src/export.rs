//! `tessera export-check ID --format json`: a chip under the US export rules on a date.

use serde::Serialize;
use tessera_core::export::{
    ChinaBand2026, Class2022, Class2023, Cutoff, ExportEvent, ExportReport, Prong, Rule, Tpp,
    Verdict2022, Verdict2023,
};

/// One format's contribution to TPP: dense peak (TFLOP/s or TOP/s) x bit length.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TppTermV1 {
    pub precision: &'static str,
    pub dense_peak: f64,
    pub bits: u32,
    pub product: f64,
}

/// TPP and its arithmetic; `value` is `null` when no compute figure is known.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TppV1 {
    pub terms: Vec<TppTermV1>,
    pub value: Option<f64>,
    pub from: Option<&'static str>,
}

impl From<&Tpp> for TppV1 {
    fn from(t: &Tpp) -> Self {
        TppV1 {
            terms: t
                .terms
                .iter()
                .map(|x| TppTermV1 {
                    precision: x.precision.as_str(),
                    dense_peak: x.dense_peak,
                    bits: x.bits,
                    product: x.product,
                })
                .collect(),
            value: t.value,
            from: t.from.map(|p| p.as_str()),
        }
    }
}

/// One prong of a rule: `{"outcome": "met"}`, `{"outcome": "not-met"}`, or
/// `{"outcome": "depends-on-area", "max_area_mm2": .., "min_area_mm2": ..}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum ProngV1 {
    Met,
    NotMet,
    DependsOnArea {
        max_area_mm2: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        min_area_mm2: Option<f64>,
    },
}

impl From<Prong> for ProngV1 {
    fn from(p: Prong) -> Self {
        match p {
            Prong::Met => ProngV1::Met,
            Prong::NotMet => ProngV1::NotMet,
            Prong::DependsOnArea {
                max_area_mm2,
                min_area_mm2,
            } => ProngV1::DependsOnArea {
                max_area_mm2,
                min_area_mm2,
            },
        }
    }
}

/// The October 2022 rule (TPP >= 4800 and aggregate I/O >= 600 GB/s).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict2022V1 {
    /// `controlled`, `not-controlled`, `indeterminate` or `unknown`.
    pub class: &'static str,
    pub summary: String,
    pub tpp: Option<f64>,
    pub io_gb_s: Option<f64>,
    pub io_lower_bound: bool,
}

impl From<&Verdict2022> for Verdict2022V1 {
    fn from(v: &Verdict2022) -> Self {
        Verdict2022V1 {
            class: match v.class {
                Class2022::Controlled => "controlled",
                Class2022::NotControlled => "not-controlled",
                Class2022::Indeterminate => "indeterminate",
                Class2022::Unknown => "unknown",
            },
            summary: v.summary.clone(),
            tpp: v.tpp,
            io_gb_s: v.io_gb_s,
            io_lower_bound: v.io_lower_bound,
        }
    }
}

/// A die-area cut-off that decides a prong when the area is unpublished.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CutoffV1 {
    pub prong: &'static str,
    pub pd_threshold: f64,
    pub max_area_mm2: f64,
}

impl From<&Cutoff> for CutoffV1 {
    fn from(c: &Cutoff) -> Self {
        CutoffV1 {
            prong: c.prong,
            pd_threshold: c.pd_threshold,
            max_area_mm2: c.max_area_mm2,
        }
    }
}

/// The October 2023 rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict2023V1 {
    /// `a`, `b`, `not-controlled`, `indeterminate` or `unknown`.
    pub class: &'static str,
    pub summary: String,
    pub tpp: Option<f64>,
    pub pd: Option<f64>,
    pub datacenter: bool,
    pub a1: ProngV1,
    pub a2: ProngV1,
    pub b1: ProngV1,
    pub b2: ProngV1,
    pub cutoffs: Vec<CutoffV1>,
    pub nac_eligible: bool,
}

impl From<&Verdict2023> for Verdict2023V1 {
    fn from(v: &Verdict2023) -> Self {
        Verdict2023V1 {
            class: match v.class {
                Class2023::A => "a",
                Class2023::B => "b",
                Class2023::NotControlled => "not-controlled",
                Class2023::Indeterminate => "indeterminate",
                Class2023::Unknown => "unknown",
            },
            summary: v.summary.clone(),
            tpp: v.tpp,
            pd: v.pd,
            datacenter: v.datacenter,
            a1: v.a1.into(),
            a2: v.a2.into(),
            b1: v.b1.into(),
            b2: v.b2.into(),
            cutoffs: v.cutoffs.iter().map(CutoffV1::from).collect(),
            nac_eligible: v.nac_eligible,
        }
    }
}

/// The January 2026 China licensing band.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChinaBand2026V1 {
    pub in_band: Option<bool>,
    pub summary: String,
}

impl From<&ChinaBand2026> for ChinaBand2026V1 {
    fn from(b: &ChinaBand2026) -> Self {
        ChinaBand2026V1 {
            in_band: b.in_band,
            summary: b.summary.clone(),
        }
    }
}

/// A dated export event concerning the chip or its vendor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportEventV1 {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// `licence-required`, `licence-granted`, `sales-allowed`, `guidance`,
    /// `entity-list` or `import-measure`.
    pub kind: &'static str,
    pub chips: Vec<String>,
    pub vendors: Vec<String>,
    pub destinations: Vec<String>,
    pub summary: String,
    pub source: String,
    pub label: String,
}

impl From<&ExportEvent> for ExportEventV1 {
    fn from(e: &ExportEvent) -> Self {
        ExportEventV1 {
            date: e.date.to_string(),
            kind: e.kind.as_str(),
            chips: e.chips.clone(),
            vendors: e.vendors.clone(),
            destinations: e.destinations.clone(),
            summary: e.summary.clone(),
            source: e.source.clone(),
            label: e.label.clone(),
        }
    }
}

/// `tessera export-check ID --format json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportCheckV1 {
    pub chip: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// `2022-10`, `2023-10`, or `null` when no rule was in force on the date.
    pub rule: Option<&'static str>,
    pub verdict: String,
    pub tpp: TppV1,
    pub die_area_mm2: Option<f64>,
    pub pd: Option<f64>,
    pub rule_2022: Verdict2022V1,
    pub rule_2023: Verdict2023V1,
    pub hbm_flag: Option<String>,
    pub china_band_2026: Option<ChinaBand2026V1>,
    pub events: Vec<ExportEventV1>,
    /// The status for a buyer in China on the date, in words.
    pub china_buyer_status: String,
}

impl ExportCheckV1 {
    pub fn new(r: &ExportReport, china_buyer_status: String) -> Self {
        ExportCheckV1 {
            chip: r.chip.clone(),
            date: r.date.to_string(),
            rule: r.rule.map(|r| match r {
                Rule::Oct2022 => "2022-10",
                Rule::Oct2023 => "2023-10",
            }),
            verdict: r.verdict.clone(),
            tpp: (&r.tpp).into(),
            die_area_mm2: r.die_area_mm2,
            pd: r.pd,
            rule_2022: (&r.rule_2022).into(),
            rule_2023: (&r.rule_2023).into(),
            hbm_flag: r.hbm_flag.clone(),
            china_band_2026: r.china_band_2026.as_ref().map(ChinaBand2026V1::from),
            events: r.events.iter().map(ExportEventV1::from).collect(),
            china_buyer_status,
        }
    }
}
