//! `tessera export-check ID`

use crate::cli::{ExportCheckArgs, Format, RuleArg};
use crate::cmd::date_arg;
use crate::exit::Result;
use crate::out::{self, num};
use tessera_catalog::Catalog;
use tessera_core::export::{self, Prong, Rule, china_status};
use tessera_output::export::ExportCheckV1;

fn prong(p: Prong) -> String {
    match p {
        Prong::Met => "met".into(),
        Prong::NotMet => "not met".into(),
        Prong::DependsOnArea {
            max_area_mm2,
            min_area_mm2,
        } => match min_area_mm2 {
            Some(min) => format!("met if {min:.0} < area <= {max_area_mm2:.0} mm2"),
            None => format!("met if area <= {max_area_mm2:.0} mm2"),
        },
    }
}

pub fn run(cat: &Catalog, fmt: Format, a: ExportCheckArgs) -> Result<()> {
    let chip = cat.chip(&a.id)?;
    let date = date_arg(a.date.as_deref())?;
    let rule = match a.rule {
        RuleArg::Oct2022 => Some(Rule::Oct2022),
        RuleArg::Oct2023 => Some(Rule::Oct2023),
        RuleArg::Latest => None,
    };
    let r = export::report(chip, date, rule, &cat.events);
    let status = china_status(chip, date, &cat.events);
    if fmt == Format::Json {
        return out::print_json(&ExportCheckV1::new(&r, status));
    }
    crate::outln!("{} on {} — {}", chip.id, date, r.verdict);
    crate::outln!();
    let mut t = out::table(&["format", "dense peak", "x bits", "= bit-ops"]);
    for term in &r.tpp.terms {
        let mark = if Some(term.precision) == r.tpp.from {
            "  <- TPP"
        } else {
            ""
        };
        t.add_row(vec![
            term.precision.to_string(),
            format!("{} {}", num(term.dense_peak), term.precision.unit()),
            term.bits.to_string(),
            format!("{}{mark}", num(term.product)),
        ]);
    }
    crate::outln!("TPP = max over formats of dense peak x bit length");
    crate::outln!("{t}");
    match (r.tpp.value, r.die_area_mm2, r.pd) {
        (Some(t), Some(a), Some(pd)) => crate::outln!(
            "PD = TPP / die area = {} / {} mm2 = {pd:.2}",
            num(t),
            num(a)
        ),
        (Some(t), None, _) => crate::outln!("PD unknown: die area not published (TPP {})", num(t)),
        _ => crate::outln!("TPP unknown: no compute figure in the catalog"),
    }
    if let Some(basis) = &chip.die_area_basis {
        crate::outln!("die area basis: {basis}");
    }
    crate::outln!();
    let v22 = &r.rule_2022;
    crate::outln!(
        "October 2022 rule (TPP >= 4800 AND aggregate I/O >= 600 GB/s): {}",
        v22.summary
    );
    if let Some(io) = v22.io_gb_s {
        let basis = if v22.io_lower_bound {
            " (lower bound: host link unknown)"
        } else if chip.scale_up_is_host_link {
            " (PCIe is the only link)"
        } else {
            " (scale-up + host link)"
        };
        crate::outln!("  aggregate I/O: {} GB/s{basis}", num(io));
    }
    let v23 = &r.rule_2023;
    crate::outln!("October 2023 rule: {}", v23.summary);
    if v23.datacenter {
        let mut p = out::table(&["prong", "test", "outcome"]);
        p.add_row(vec!["a.1".to_string(), "TPP >= 4800".into(), prong(v23.a1)]);
        p.add_row(vec![
            "a.2".to_string(),
            "TPP >= 1600 and PD >= 5.92".into(),
            prong(v23.a2),
        ]);
        p.add_row(vec![
            "b.1".to_string(),
            "2400 <= TPP < 4800 and 1.6 <= PD < 5.92".into(),
            prong(v23.b1),
        ]);
        p.add_row(vec![
            "b.2".to_string(),
            "TPP >= 1600 and 3.2 <= PD < 5.92".into(),
            prong(v23.b2),
        ]);
        crate::outln!("{p}");
    } else {
        crate::outln!(
            "  not designed or marketed for datacenters: Note 2 applies (only TPP >= 4800 controls)"
        );
    }
    for c in &v23.cutoffs {
        crate::outln!(
            "  area cut-off for {}: PD >= {} when die area <= {:.0} mm2",
            c.prong,
            c.pd_threshold,
            c.max_area_mm2
        );
    }
    if let Some(h) = &r.hbm_flag {
        crate::outln!("December 2024 HBM rule: {h}");
    }
    if let Some(b) = &r.china_band_2026 {
        crate::outln!("January 2026 China band: {}", b.summary);
    }
    if !r.events.is_empty() {
        crate::outln!();
        let mut e = out::table(&["date", "event", "what", "source [label]"]);
        for ev in &r.events {
            e.add_row(vec![
                ev.date.to_string(),
                ev.kind.as_str().to_string(),
                ev.summary.clone(),
                format!("{} [{}]", ev.source, ev.label),
            ]);
        }
        crate::outln!("dated events up to {date}:");
        crate::outln!("{e}");
    }
    crate::outln!();
    crate::outln!("buyer in China on {date}: {status}");
    crate::outln!(
        "note: parametric reading of the rules from the research notes (docs/export-control.md); not legal advice."
    );
    Ok(())
}
