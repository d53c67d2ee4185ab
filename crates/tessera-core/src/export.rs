//! US export-control classification of accelerators (ECCN 3A090), as pure arithmetic.
//!
//! Thresholds and definitions follow the research notes (`docs/export-control.md`):
//! - TPP = max over the chip's MAC formats of (dense TOPS x bit length).
//! - PD  = TPP / applicable die area (mm², non-planar logic dies).
//! - October 2022 rule (effective 2022-10-21): controlled when TPP >= 4800 AND aggregate
//!   bidirectional I/O >= 600 GB/s.
//! - October 2023 rule (effective 2023-11-17): 3A090.a.1 TPP >= 4800; a.2 TPP >= 1600 and
//!   PD >= 5.92; b.1 2400 <= TPP < 4800 and 1.6 <= PD < 5.92; b.2 TPP >= 1600 and
//!   3.2 <= PD < 5.92. Note 2: parts not designed or marketed for datacenters are caught
//!   only at TPP >= 4800.
//!
//! This is not legal advice; it reproduces the parametric tests.

use crate::chip::{Chip, Precision};
use crate::date::Date;

pub const TPP_A1: f64 = 4800.0;
pub const TPP_FLOOR: f64 = 1600.0;
pub const TPP_B1: f64 = 2400.0;
pub const PD_A2: f64 = 5.92;
pub const PD_B2: f64 = 3.2;
pub const PD_B1: f64 = 1.6;
pub const IO_2022: f64 = 600.0;
/// January 2026 China case-by-case band (91 FR 1684, as quoted in the research notes).
pub const TPP_2026_BAND: f64 = 21_000.0;
pub const DRAM_BW_2026_BAND_GB_S: f64 = 6_500.0;

pub const RULE_2022_EFFECTIVE: Date = Date::new(2022, 10, 21);
pub const RULE_2023_EFFECTIVE: Date = Date::new(2023, 11, 17);
pub const HBM_RULE_EFFECTIVE: Date = Date::new(2024, 12, 2);
pub const CHINA_BAND_EFFECTIVE: Date = Date::new(2026, 1, 15);

/// One format's contribution to TPP.
#[derive(Debug, Clone, PartialEq)]
pub struct TppTerm {
    pub precision: Precision,
    pub dense_peak: f64,
    pub bits: u32,
    pub product: f64,
}

/// TPP and the arithmetic behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tpp {
    pub terms: Vec<TppTerm>,
    /// `None` when the chip has no known compute figure.
    pub value: Option<f64>,
    pub from: Option<Precision>,
}

pub fn tpp(chip: &Chip) -> Tpp {
    let mut terms = Vec::new();
    let mut best: Option<(f64, Precision)> = None;
    for p in Precision::ALL {
        if let Some(f) = chip.peak(p) {
            let product = f.value * p.bits() as f64;
            terms.push(TppTerm {
                precision: p,
                dense_peak: f.value,
                bits: p.bits(),
                product,
            });
            if best.is_none_or(|(b, _)| product > b + 1e-9) {
                best = Some((product, p));
            }
        }
    }
    Tpp {
        terms,
        value: best.map(|b| b.0),
        from: best.map(|b| b.1),
    }
}

/// Performance density, when TPP and the die area are known.
pub fn performance_density(tpp: Option<f64>, area_mm2: Option<f64>) -> Option<f64> {
    match (tpp, area_mm2) {
        (Some(t), Some(a)) if a > 0.0 => Some(t / a),
        _ => None,
    }
}

/// The outcome of one prong of a rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Prong {
    Met,
    NotMet,
    /// Met exactly when the applicable die area is at most `max_area_mm2`
    /// (and, for the `.b` prongs, above `min_area_mm2` when given).
    DependsOnArea {
        max_area_mm2: f64,
        min_area_mm2: Option<f64>,
    },
}

/// Verdict under the October 2023 rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class2023 {
    /// 3A090.a (a.1 and/or a.2).
    A,
    /// 3A090.b (b.1 and/or b.2).
    B,
    /// Not 3A090.
    NotControlled,
    /// Depends on the unpublished die area; see the cut-offs.
    Indeterminate,
    /// No compute figure is known, so TPP cannot be computed.
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict2023 {
    pub class: Class2023,
    /// A one-line reading, e.g. "3A090.a.1" or "3A090.a.2 if die area <= 757 mm2, else 3A090.b.2".
    pub summary: String,
    pub tpp: Option<f64>,
    pub pd: Option<f64>,
    pub datacenter: bool,
    pub a1: Prong,
    pub a2: Prong,
    pub b1: Prong,
    pub b2: Prong,
    /// Die-area cut-offs that decide the verdict when the area is unknown.
    pub cutoffs: Vec<Cutoff>,
    /// License Exception NAC eligibility, per the rule's NAC text.
    pub nac_eligible: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cutoff {
    pub prong: &'static str,
    /// PD threshold the prong needs.
    pub pd_threshold: f64,
    /// Die area at or below which PD reaches the threshold.
    pub max_area_mm2: f64,
}

fn pd_prong(tpp: f64, pd: Option<f64>, lo: f64, hi: Option<f64>) -> Prong {
    match pd {
        Some(pd) => {
            if pd >= lo && hi.is_none_or(|h| pd < h) {
                Prong::Met
            } else {
                Prong::NotMet
            }
        }
        None => Prong::DependsOnArea {
            max_area_mm2: tpp / lo,
            min_area_mm2: hi.map(|h| tpp / h),
        },
    }
}

/// Classifies under the October 2023 rule.
pub fn classify_2023(chip: &Chip) -> Verdict2023 {
    let t = tpp(chip);
    let area = chip.die_area_mm2.as_ref().map(|f| f.value);
    let pd = performance_density(t.value, area);
    let Some(tv) = t.value else {
        return Verdict2023 {
            class: Class2023::Unknown,
            summary: "cannot classify: no compute figure is known, so TPP is unknown".into(),
            tpp: None,
            pd: None,
            datacenter: chip.datacenter,
            a1: Prong::NotMet,
            a2: Prong::NotMet,
            b1: Prong::NotMet,
            b2: Prong::NotMet,
            cutoffs: vec![],
            nac_eligible: false,
        };
    };
    let a1 = if tv >= TPP_A1 {
        Prong::Met
    } else {
        Prong::NotMet
    };
    let a2 = if tv >= TPP_FLOOR {
        pd_prong(tv, pd, PD_A2, None)
    } else {
        Prong::NotMet
    };
    let b1 = if (TPP_B1..TPP_A1).contains(&tv) {
        pd_prong(tv, pd, PD_B1, Some(PD_A2))
    } else {
        Prong::NotMet
    };
    let b2 = if tv >= TPP_FLOOR {
        pd_prong(tv, pd, PD_B2, Some(PD_A2))
    } else {
        Prong::NotMet
    };

    if !chip.datacenter {
        // Note 2: only TPP >= 4800 catches a part not designed or marketed for datacenters.
        let (class, summary, nac) = if tv >= TPP_A1 {
            (
                Class2023::A,
                format!(
                    "3A090.a (not a datacenter part, but TPP {tv:.0} >= 4800 so Note 2 does not apply; NAC-eligible)"
                ),
                true,
            )
        } else {
            (
                Class2023::NotControlled,
                format!(
                    "not 3A090 (Note 2: not designed or marketed for datacenters, and TPP {tv:.0} < 4800)"
                ),
                false,
            )
        };
        return Verdict2023 {
            class,
            summary,
            tpp: Some(tv),
            pd,
            datacenter: false,
            a1,
            a2: Prong::NotMet,
            b1: Prong::NotMet,
            b2: Prong::NotMet,
            cutoffs: vec![],
            nac_eligible: nac,
        };
    }

    // Below the a.1 line the verdict turns on the die area, so give the cut-offs even
    // when an area is catalogued: published areas are often one die of several.
    let mut cutoffs = Vec::new();
    if (TPP_FLOOR..TPP_A1).contains(&tv) {
        cutoffs.push(Cutoff {
            prong: "a.2",
            pd_threshold: PD_A2,
            max_area_mm2: tv / PD_A2,
        });
        if tv >= TPP_B1 {
            cutoffs.push(Cutoff {
                prong: "b.1",
                pd_threshold: PD_B1,
                max_area_mm2: tv / PD_B1,
            });
        }
        cutoffs.push(Cutoff {
            prong: "b.2",
            pd_threshold: PD_B2,
            max_area_mm2: tv / PD_B2,
        });
    }

    let met = |p: Prong| p == Prong::Met;
    let depends = |p: Prong| matches!(p, Prong::DependsOnArea { .. });
    let list = |names: &[(&str, Prong)]| {
        names
            .iter()
            .filter(|(_, p)| met(*p))
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (class, summary) = if met(a1) || met(a2) {
        (
            Class2023::A,
            format!("3A090.a ({})", list(&[("a.1", a1), ("a.2", a2)])),
        )
    } else if depends(a2) {
        // TPP in [1600, 4800) and the area is unknown.
        let a2_max = tv / PD_A2;
        let mut s = format!("3A090.a.2 if die area <= {a2_max:.0} mm2");
        let b_max = if (TPP_B1..TPP_A1).contains(&tv) {
            tv / PD_B1
        } else {
            tv / PD_B2
        };
        let b_name = if (TPP_B1..TPP_A1).contains(&tv) {
            "b.1"
        } else {
            "b.2"
        };
        s.push_str(&format!(
            "; 3A090.{b_name} if {a2_max:.0} < area <= {b_max:.0} mm2; not 3A090 above"
        ));
        (Class2023::Indeterminate, s)
    } else if met(b1) || met(b2) {
        (
            Class2023::B,
            format!("3A090.b ({})", list(&[("b.1", b1), ("b.2", b2)])),
        )
    } else {
        let why = if tv < TPP_FLOOR {
            format!("TPP {tv:.0} < 1600")
        } else {
            let pdv = pd.unwrap_or(0.0);
            if tv < TPP_B1 {
                format!("TPP {tv:.0} < 2400 rules out b.1, and PD {pdv:.2} < 3.2 rules out b.2")
            } else {
                format!("PD {pdv:.2} < 1.6")
            }
        };
        (Class2023::NotControlled, format!("not 3A090 ({why})"))
    };
    let nac_eligible = class == Class2023::B;
    Verdict2023 {
        class,
        summary,
        tpp: Some(tv),
        pd,
        datacenter: true,
        a1,
        a2,
        b1,
        b2,
        cutoffs,
        nac_eligible,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class2022 {
    Controlled,
    NotControlled,
    Indeterminate,
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict2022 {
    pub class: Class2022,
    pub summary: String,
    pub tpp: Option<f64>,
    /// Aggregate bidirectional I/O: scale-up link plus host link, where known.
    pub io_gb_s: Option<f64>,
    /// True when `io_gb_s` is only a lower bound (the host link is unknown).
    pub io_lower_bound: bool,
}

/// Classifies under the October 2022 rule (TPP >= 4800 AND aggregate I/O >= 600 GB/s).
pub fn classify_2022(chip: &Chip) -> Verdict2022 {
    let t = tpp(chip).value;
    let up = chip.scale_up_gb_s.as_ref().map(|f| f.value);
    let host = chip.host_io_gb_s.as_ref().map(|f| f.value);
    let (io, lower) = match (up, host) {
        (Some(u), _) if chip.scale_up_is_host_link => (Some(u), false),
        (Some(u), Some(h)) => (Some(u + h), false),
        (Some(u), None) => (Some(u), true),
        (None, Some(h)) => (Some(h), true),
        (None, None) => (None, true),
    };
    let Some(tv) = t else {
        return Verdict2022 {
            class: Class2022::Unknown,
            summary: "cannot classify: TPP unknown".into(),
            tpp: None,
            io_gb_s: io,
            io_lower_bound: lower,
        };
    };
    let io_txt = |v: f64| {
        if lower {
            format!("at least {v:.0} GB/s")
        } else {
            format!("{v:.0} GB/s")
        }
    };
    let (class, summary) = if tv < TPP_A1 {
        (
            Class2022::NotControlled,
            format!("not controlled (TPP {tv:.0} < 4800)"),
        )
    } else {
        match io {
            Some(v) if v >= IO_2022 => (
                Class2022::Controlled,
                format!(
                    "controlled (TPP {tv:.0} >= 4800 and aggregate I/O {} >= 600 GB/s)",
                    io_txt(v)
                ),
            ),
            Some(v) if !lower => (
                Class2022::NotControlled,
                format!(
                    "not controlled (TPP {tv:.0} >= 4800 but aggregate I/O {v:.0} GB/s < 600 GB/s)"
                ),
            ),
            Some(v) => (
                Class2022::Indeterminate,
                format!(
                    "controlled only if aggregate I/O >= 600 GB/s: known links give {v:.0} GB/s; the host link is unknown"
                ),
            ),
            None => (
                Class2022::Indeterminate,
                "controlled only if aggregate I/O >= 600 GB/s, which is unknown".into(),
            ),
        }
    };
    Verdict2022 {
        class,
        summary,
        tpp: Some(tv),
        io_gb_s: io,
        io_lower_bound: lower,
    }
}

/// The January 2026 China licensing band: 3A090 chips with TPP < 21,000 and DRAM
/// bandwidth < 6,500 GB/s are reviewed case by case rather than presumed denied.
#[derive(Debug, Clone, PartialEq)]
pub struct ChinaBand2026 {
    pub in_band: Option<bool>,
    pub summary: String,
}

pub fn china_band_2026(chip: &Chip, v2023: &Verdict2023) -> ChinaBand2026 {
    if !matches!(v2023.class, Class2023::A | Class2023::B) {
        return ChinaBand2026 {
            in_band: None,
            summary: "not 3A090 under the 2023 parameters, so the band does not apply".into(),
        };
    }
    let bw = chip.memory_bw_tb_s.as_ref().map(|f| f.value * 1000.0);
    match (v2023.tpp, bw) {
        (Some(t), Some(b)) => {
            let inb = t < TPP_2026_BAND && b < DRAM_BW_2026_BAND_GB_S;
            ChinaBand2026 {
                in_band: Some(inb),
                summary: if inb {
                    format!(
                        "case-by-case review for China/Macau (TPP {t:.0} < 21000, DRAM bandwidth {b:.0} GB/s < 6500), with conditions"
                    )
                } else {
                    format!(
                        "presumption of denial for China/Macau (TPP {t:.0}, DRAM bandwidth {b:.0} GB/s: outside TPP < 21000 and < 6500 GB/s)"
                    )
                },
            }
        }
        _ => ChinaBand2026 {
            in_band: None,
            summary: "memory bandwidth unknown: cannot place in the 2026 band".into(),
        },
    }
}

/// What kind of dated export event this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A licence now required beyond the ECCN text (an "is-informed" letter).
    LicenceRequired,
    /// Licences promised or granted.
    LicenceGranted,
    /// Sales allowed to approved customers.
    SalesAllowed,
    /// Agency guidance affecting the chip.
    Guidance,
    /// The vendor was added to the Entity List.
    EntityList,
    /// A measure on the importing side.
    ImportMeasure,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        EventKind::LicenceRequired,
        EventKind::LicenceGranted,
        EventKind::SalesAllowed,
        EventKind::Guidance,
        EventKind::EntityList,
        EventKind::ImportMeasure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::LicenceRequired => "licence-required",
            EventKind::LicenceGranted => "licence-granted",
            EventKind::SalesAllowed => "sales-allowed",
            EventKind::Guidance => "guidance",
            EventKind::EntityList => "entity-list",
            EventKind::ImportMeasure => "import-measure",
        }
    }

    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A dated fact about named chips or vendors, outside the ECCN thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportEvent {
    pub date: Date,
    pub kind: EventKind,
    /// Chip ids this applies to.
    pub chips: Vec<String>,
    /// Vendors (as the catalog spells them) this applies to.
    pub vendors: Vec<String>,
    /// Destinations concerned, e.g. "China", "Macau", "D:5".
    pub destinations: Vec<String>,
    pub summary: String,
    pub source: String,
    /// Evidence label from the research notes: P-q, S or D.
    pub label: String,
}

impl ExportEvent {
    pub fn applies_to(&self, chip: &Chip) -> bool {
        self.chips.iter().any(|c| c == &chip.id) || self.vendors.iter().any(|v| v == &chip.vendor)
    }
}

/// Which rule a question is asked under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Oct2022,
    Oct2023,
}

impl Rule {
    /// The 3A090 rule in force on a date, if any.
    pub fn in_force(date: Date) -> Option<Rule> {
        if date >= RULE_2023_EFFECTIVE {
            Some(Rule::Oct2023)
        } else if date >= RULE_2022_EFFECTIVE {
            Some(Rule::Oct2022)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Oct2022 => "2022-10",
            Rule::Oct2023 => "2023-10",
        }
    }
}

/// The whole export picture for a chip on a date.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportReport {
    pub chip: String,
    pub date: Date,
    /// The rule whose verdict heads the report.
    pub rule: Option<Rule>,
    /// The headline: the chosen rule's verdict.
    pub verdict: String,
    pub tpp: Tpp,
    pub die_area_mm2: Option<f64>,
    pub pd: Option<f64>,
    pub rule_2022: Verdict2022,
    pub rule_2023: Verdict2023,
    /// The December 2024 HBM rule's flag, once in force on the date.
    pub hbm_flag: Option<String>,
    /// The January 2026 China band, once in force on the date.
    pub china_band_2026: Option<ChinaBand2026>,
    /// Dated events on or before the date that concern this chip or its vendor.
    pub events: Vec<ExportEvent>,
}

/// Builds the report. `rule = None` means the rule in force on `date`.
pub fn report(chip: &Chip, date: Date, rule: Option<Rule>, events: &[ExportEvent]) -> ExportReport {
    let t = tpp(chip);
    let area = chip.die_area_mm2.as_ref().map(|f| f.value);
    let v22 = classify_2022(chip);
    let v23 = classify_2023(chip);
    let rule = rule.or_else(|| Rule::in_force(date));
    let verdict = match rule {
        Some(Rule::Oct2022) => format!("Oct 2022 rule: {}", v22.summary),
        Some(Rule::Oct2023) => format!("Oct 2023 rule: {}", v23.summary),
        None => "no 3A090 rule in force on this date (the first took effect 2022-10-21)".into(),
    };
    let hbm_flag = (date >= HBM_RULE_EFFECTIVE && chip.has_hbm()).then(|| {
        let base = "carries HBM: since 2024-12-02 HBM stacks are themselves controlled (3A090.c, bandwidth \
                    density > 2 GB/s/mm2); HBM co-packaged with logic is excluded from 3A090.c, so this chip's \
                    class is unchanged";
        if vendor_country(&chip.vendor) == Some("CN") {
            format!("{base}, but new HBM supply to PRC chip makers is restricted: a supply risk for this part")
        } else {
            base.to_string()
        }
    });
    let china = (date >= CHINA_BAND_EFFECTIVE).then(|| china_band_2026(chip, &v23));
    let mut evs: Vec<ExportEvent> = events
        .iter()
        .filter(|e| e.date <= date && e.applies_to(chip))
        .cloned()
        .collect();
    evs.sort_by_key(|e| e.date);
    ExportReport {
        chip: chip.id.clone(),
        date,
        rule,
        verdict,
        pd: performance_density(t.value, area),
        tpp: t,
        die_area_mm2: area,
        rule_2022: v22,
        rule_2023: v23,
        hbm_flag,
        china_band_2026: china,
        events: evs,
    }
}

/// Headquarters country of a vendor as the catalog spells it, where known.
pub fn vendor_country(vendor: &str) -> Option<&'static str> {
    let v = vendor.to_ascii_lowercase();
    const TABLE: [(&str, &str); 11] = [
        ("nvidia", "US"),
        ("amd", "US"),
        ("google", "US"),
        ("intel", "US"),
        ("huawei", "CN"),
        ("kunlunxin", "CN"),
        ("cambricon", "CN"),
        ("hygon", "CN"),
        ("biren", "CN"),
        ("moore threads", "CN"),
        ("iluvatar", "CN"),
    ];
    TABLE
        .iter()
        .find(|(k, _)| v.starts_with(k))
        .map(|(_, c)| *c)
}

/// A one-line answer to "may a buyer in China obtain this chip from its US-regulated
/// vendor on this date?", combining the rule in force with the dated events.
pub fn china_status(chip: &Chip, date: Date, events: &[ExportEvent]) -> String {
    if !chip.exists_on(date) {
        let when = match (chip.announced, chip.release_year) {
            (Some(a), _) => format!("announced {}-{:02}", a.year, a.month),
            (None, Some(y)) => format!("released {y}"),
            (None, None) => String::new(),
        };
        return format!("not yet released on {date} ({when}): nothing to buy");
    }
    let v23 = classify_2023(chip);
    if vendor_country(&chip.vendor) == Some("CN") {
        let parametric = match v23.class {
            Class2023::A => "would be 3A090.a",
            Class2023::B => "would be 3A090.b",
            Class2023::NotControlled => "would not be 3A090",
            Class2023::Indeterminate => "class depends on die area",
            Class2023::Unknown => "class unknown",
        };
        let mut s =
            format!("domestic (PRC vendor): US rules apply only parametrically ({parametric})");
        let mut evs: Vec<&ExportEvent> = events
            .iter()
            .filter(|e| e.date <= date && e.applies_to(chip))
            .collect();
        evs.sort_by_key(|e| e.date);
        for e in evs {
            match e.kind {
                EventKind::EntityList => {
                    s.push_str(&format!("; vendor on the US Entity List since {}", e.date))
                }
                EventKind::Guidance => {
                    s.push_str(&format!("; US guidance {}: use abroad risks GP10", e.date))
                }
                _ => {}
            }
        }
        return s;
    }
    let mut status = match Rule::in_force(date) {
        None => "no US licence needed (before the October 2022 rule)".to_string(),
        Some(Rule::Oct2022) => match classify_2022(chip).class {
            Class2022::Controlled => "US licence required (3A090 under the Oct 2022 rule)".into(),
            Class2022::NotControlled => "no US licence needed (outside the Oct 2022 rule)".into(),
            Class2022::Indeterminate => "depends on aggregate I/O under the Oct 2022 rule".into(),
            Class2022::Unknown => "unknown (TPP unknown)".into(),
        },
        Some(Rule::Oct2023) => match v23.class {
            Class2023::A | Class2023::B => {
                let cls = if v23.class == Class2023::A {
                    "3A090.a"
                } else {
                    "3A090.b"
                };
                let band = if date >= CHINA_BAND_EFFECTIVE {
                    china_band_2026(chip, &v23).in_band
                } else {
                    None
                };
                match band {
                    Some(true) => {
                        format!("US licence required ({cls}); case-by-case review since 2026-01-15")
                    }
                    _ => format!("US licence required ({cls}, presumption of denial)"),
                }
            }
            Class2023::NotControlled => {
                "no US licence needed (not 3A090 under the Oct 2023 rule)".into()
            }
            Class2023::Indeterminate => "depends on the unpublished die area".into(),
            Class2023::Unknown => "unknown (TPP unknown)".into(),
        },
    };
    let mut evs: Vec<&ExportEvent> = events
        .iter()
        .filter(|e| e.date <= date && e.applies_to(chip))
        .collect();
    evs.sort_by_key(|e| e.date);
    for e in evs {
        match e.kind {
            EventKind::LicenceRequired => {
                status = format!("US licence required (is-informed letter, {})", e.date)
            }
            EventKind::LicenceGranted => {
                status = format!("US licences granted with conditions ({})", e.date)
            }
            EventKind::SalesAllowed => {
                status = format!(
                    "sales to approved customers allowed ({}), licence still required",
                    e.date
                )
            }
            EventKind::ImportMeasure => {
                status.push_str(&format!("; China-side restriction reported {}", e.date))
            }
            EventKind::EntityList | EventKind::Guidance => {}
        }
    }
    status
}

/// May a buyer in China obtain this chip on this date, under the rules tessera models?
/// Returns the verdict and the one-line status it rests on ([`china_status`]).
///
/// Allowed: chips from PRC vendors (US rules bind their foundries, not the buyer), chips
/// outside 3A090 under the rule in force, and chips whose latest dated event granted
/// licences or allowed sales. Denied: chips needing a licence (presumption of denial or
/// an is-informed letter) and chips whose class cannot be determined from the catalog.
pub fn china_may_buy(chip: &Chip, date: Date, events: &[ExportEvent]) -> (bool, String) {
    let status = china_status(chip, date, events);
    let allowed = status.starts_with("domestic")
        || status.starts_with("no US licence needed")
        || status.starts_with("US licences granted")
        || status.starts_with("sales to approved customers allowed");
    (allowed, status)
}

/// Destinations whose buyers the China rules bind (the buyer's headquarters country, as
/// an ISO code). tessera models the China-destination rules only.
pub fn is_china_destination(country: &str) -> bool {
    matches!(
        country.to_ascii_uppercase().as_str(),
        "CN" | "HK" | "MO" | "CHINA"
    )
}
