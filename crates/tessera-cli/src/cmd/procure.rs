//! `tessera procure`: the purchase planner.

use crate::cli::{Format, ProcureArgs};
use crate::exit::{CliError, Result};
use crate::out::{self, num};
use std::collections::BTreeMap;
use tessera_catalog::{Catalog, CatalogError};
use tessera_core::procure::Scenario;
use tessera_plan::procure::{Inputs, Outcome, ProcureError, procure};

/// The scenario, and its file's path and text when it came from a file.
fn load_scenario(arg: Option<&str>) -> Result<(Scenario, Option<(String, String)>)> {
    let name = arg.unwrap_or("baidu-2023");
    if let Some(r) = tessera_catalog::scenarios::builtin_scenario(name) {
        return Ok((r?, None));
    }
    let text = std::fs::read_to_string(name).map_err(|e| {
        CliError::Catalog(CatalogError::Io {
            path: name.to_string(),
            source: e,
        })
    })?;
    let sc = tessera_catalog::scenarios::parse_scenario(name, &text)?;
    Ok((sc, Some((name.to_string(), text))))
}

pub fn run(cat: &Catalog, fmt: Format, a: &ProcureArgs) -> Result<()> {
    let (sc, file) = load_scenario(a.scenario.as_deref())?;
    // Unknown ids point at the line of the scenario file that names them.
    let place = |e: CatalogError, id: &str| -> CliError {
        match &file {
            Some((path, text)) => CliError::Catalog(e).at(path, text, id),
            None => CliError::Catalog(e),
        }
    };
    let (chips, train_models, serve_models) =
        cat.procure_inputs(&sc).map_err(|(e, id)| place(e, &id))?;
    let inp = Inputs {
        scenario: &sc,
        chips: &chips,
        train_models: &train_models,
        serve_models: &serve_models,
        events: &cat.events,
    };
    let r = procure(&inp).map_err(|e| match e {
        ProcureError::UnknownChip(c) => CliError::Usage(format!("scenario: unknown chip {c}")),
        ProcureError::Solver(s) => CliError::Internal(s.to_string()),
    })?;
    let best = r.best.as_ref();
    let doc = tessera_output::procure::ProcureV1::new(&sc, &r);
    if fmt == Format::Json {
        return out::print_json(&doc);
    }
    let cur = sc.currency.as_str();
    crate::outln!("Scenario {}: {}", sc.id, sc.name);
    crate::outln!(
        "buyer in {} on {}; budget {}; power cap {}",
        sc.country,
        sc.date,
        sc.budget
            .map_or("none".into(), |b| format!("{} {cur}", num(b))),
        sc.power_cap_kw
            .map_or("none".into(), |p| format!("{} kW", num(p)))
    );
    for t in &sc.train {
        crate::outln!(
            "  train {} on {:.2e} tokens within {} days",
            t.model,
            t.tokens,
            t.days
        );
    }
    for s in &sc.serve {
        crate::outln!(
            "  serve {} at {} requests/s ({} in / {} out){}{}",
            s.model,
            s.rate,
            s.input_len,
            s.output_len,
            s.ttft_slo_s
                .map_or(String::new(), |v| format!(", TTFT <= {v} s")),
            s.tpot_slo_s
                .map_or(String::new(), |v| format!(", TPOT <= {} ms", v * 1000.0))
        );
    }
    crate::outln!();
    crate::outln!("What each chip can do:");
    let mut header = vec!["chip", "owned", "may buy", "price/chip"];
    let train_h: Vec<String> = sc
        .train
        .iter()
        .map(|t| format!("train {}: chips (days)", t.model))
        .collect();
    let serve_h: Vec<String> = sc
        .serve
        .iter()
        .map(|s| format!("serve {}: rps/chip", s.model))
        .collect();
    header.extend(train_h.iter().map(String::as_str));
    header.extend(serve_h.iter().map(String::as_str));
    let mut t = out::wide_table(&header);
    for ty in &r.types {
        let mut row = vec![
            ty.chip.clone(),
            ty.owned.to_string(),
            if !ty.candidate {
                "not a candidate".into()
            } else if ty.buyable {
                "yes".into()
            } else {
                format!("no: {}", ty.not_buyable_because.as_deref().unwrap_or("?"))
            },
            ty.price.map_or("-".into(), num),
        ];
        for o in &ty.train {
            row.push(o.as_ref().map_or("cannot".into(), |o| {
                format!("{} ({:.0} d)", num(o.chips as f64), o.days)
            }));
        }
        for opts in &ty.serve {
            row.push(opts.first().map_or("cannot".into(), |o| {
                format!(
                    "{:.2} (replica of {})",
                    o.rps_per_replica / o.chips_per_replica as f64,
                    o.chips_per_replica
                )
            }));
        }
        t.add_row(row);
    }
    crate::outln!("{t}");
    for ty in &r.types {
        if let Some(s) = &ty.export_status {
            crate::outln!("  {}: {s}", ty.chip);
        }
        for n in &ty.notes {
            crate::outln!("  {}: {n}", ty.chip);
        }
    }
    for opts in &r.mixed_train {
        for o in opts {
            crate::outln!(
                "  train {} across {}: {} tokens/s ({:.0} d), {:.1}% of the parts' own plans, {} form{}",
                o.model,
                o.parts
                    .iter()
                    .map(|p| format!("{} x {}", num(p.2 as f64), p.1))
                    .collect::<Vec<_>>()
                    .join(" + "),
                num(o.tokens_per_s),
                o.days,
                o.efficiency * 100.0,
                o.form,
                if o.flagscale {
                    " (FlagScale can launch it)"
                } else {
                    " (needs a framework with uneven data-parallel batches)"
                }
            );
        }
    }
    crate::outln!();
    match best {
        Some(b) => {
            crate::outln!("Cheapest feasible purchase:");
            print_outcome(b, cur);
            crate::outln!();
            if r.binding_constraints.is_empty() {
                crate::outln!("Binding constraints: none besides the workloads themselves");
            } else {
                crate::outln!("Binding constraints:");
                for c in &r.binding_constraints {
                    crate::outln!("  - {}: {}", c.constraint, c.detail);
                }
            }
        }
        None => {
            crate::outln!("No feasible purchase.");
            if let Some(i) = &r.infeasibility {
                crate::outln!("  {}", i.reason);
                for f in &i.fixes {
                    crate::outln!("  - {}", f.detail);
                }
            }
        }
    }
    if !r.runners_up.is_empty() {
        crate::outln!();
        crate::outln!("Runners-up:");
        let mut t = out::wide_table(&[
            "option",
            "purchase",
            &format!("cost {cur}"),
            "fleet kW",
            "train days",
            "serve rps",
        ]);
        for o in &r.runners_up {
            t.add_row(vec![
                o.label.clone(),
                purchase_text(&o.purchase),
                num(o.capital_cost),
                num(o.power_kw),
                o.train_days.map_or("-".into(), |d| format!("{d:.1}")),
                num(o.serve_capacity_rps),
            ]);
        }
        crate::outln!("{t}");
    }
    if let Some(rf) = &r.reference {
        crate::outln!();
        crate::outln!(
            "Compared with {}: {}",
            rf.name,
            if rf.feasible {
                "meets the scenario"
            } else {
                "does not meet the scenario"
            }
        );
        if let Some(o) = &rf.outcome {
            print_outcome(o, cur);
        }
        for (t, d) in sc.train.iter().zip(&rf.train_days_all_chips) {
            if let Some(d) = d {
                crate::outln!(
                    "  on every chip serving leaves free, training {} takes {d:.1} days",
                    t.model
                );
            }
        }
        if let Some(why) = &rf.reason {
            crate::outln!("  {why}");
        }
    }
    if !r.sensitivity.is_empty() {
        crate::outln!();
        crate::outln!("Sensitivity:");
        let mut t = out::wide_table(&[
            "change",
            &format!("cost {cur}"),
            "purchase",
            "changes the purchase",
        ]);
        for s in &r.sensitivity {
            t.add_row(vec![
                s.change.clone(),
                s.capital_cost.map_or("infeasible".into(), num),
                if s.feasible {
                    purchase_text(&s.purchase)
                } else {
                    s.note.clone()
                },
                if s.purchase_changes { "yes" } else { "no" }.into(),
            ]);
        }
        crate::outln!("{t}");
    }
    crate::outln!(
        "({} MILPs solved; power counts each chip's TDP x {:.2} for its server share)",
        r.solves,
        tessera_plan::procure::SERVER_POWER_FACTOR
    );
    Ok(())
}

fn purchase_text(p: &BTreeMap<String, u64>) -> String {
    if p.is_empty() {
        return "nothing".into();
    }
    p.iter()
        .map(|(c, n)| format!("{} x {c}", num(*n as f64)))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn print_outcome(o: &Outcome, cur: &str) {
    crate::outln!(
        "  buy {} ({} servers) for {} {cur}",
        purchase_text(&o.purchase),
        num(o.nodes.values().sum::<u64>() as f64),
        num(o.capital_cost)
    );
    crate::outln!(
        "  fleet power {} kW; energy {} {cur} a year at full power",
        num(o.power_kw),
        num(o.yearly_energy_cost)
    );
    for t in &o.train {
        match t.mixed_form {
            Some(form) => crate::outln!(
                "  train {} as one mixed job ({form}) on {}: {:.1} days (deadline {})",
                t.model,
                t.parts
                    .iter()
                    .map(|(c, n)| format!("{} x {c}", num(*n as f64)))
                    .collect::<Vec<_>>()
                    .join(" + "),
                t.days,
                t.deadline_days
            ),
            None => crate::outln!(
                "  train {} on {} x {}: {:.1} days (deadline {})",
                t.model,
                num(t.chips as f64),
                t.chip,
                t.days,
                t.deadline_days
            ),
        }
    }
    for s in &o.serve {
        let on: Vec<String> = s
            .replicas
            .iter()
            .map(|(c, (r, n))| format!("{r} replicas on {n} x {c}"))
            .collect();
        crate::outln!(
            "  serve {}: {} of {} requests/s on {}",
            s.model,
            num(s.capacity_rps),
            num(s.target_rps),
            on.join(" + ")
        );
    }
}
