//! `tessera validate train`

use crate::cli::Format;
use crate::exit::{CliError, Result};
use crate::out;
use std::path::Path;
use tessera_catalog::{Catalog, CatalogError};
use tessera_output::validate::{
    EfficiencyV1, ServeEfficiencyV1, ServeFitV1, TrainFitV1, ValidateServeV1, ValidateTrainV1,
};
use tessera_perf::calib::Efficiency;
use tessera_perf::calib::serve_efficiency;
use tessera_validate::serve::{fit_serve, read_serve_rows, run_serve};
use tessera_validate::{fit, read_measurements, read_rows, run};

pub fn train(cat: &Catalog, fmt: Format, data: Option<&Path>, do_fit: bool) -> Result<()> {
    let invalid = |m: String| {
        CliError::Catalog(CatalogError::Invalid(Box::new(
            tessera_catalog::Diagnostic {
                path: data.map_or_else(
                    || "<built-in train-rows.toml>".to_string(),
                    |p| p.display().to_string(),
                ),
                line: 0,
                col: 0,
                field: None,
                message: m,
                hint: None,
                snippet: None,
            },
        )))
    };
    let (name, text) = match data {
        Some(p) => {
            let shown = p.display().to_string();
            let t = std::fs::read_to_string(p).map_err(|e| {
                CliError::Catalog(CatalogError::Io {
                    path: shown.clone(),
                    source: e,
                })
            })?;
            (shown, t)
        }
        None => (
            "<built-in train-rows.toml>".to_string(),
            tessera_validate::TRAIN_ROWS.to_string(),
        ),
    };
    let specs = read_rows(&name, &text).map_err(invalid)?;
    let meas = read_measurements(
        "<built-in measurements.csv>",
        tessera_validate::MEASUREMENTS,
    )
    .map_err(invalid)?;
    let report = run(cat, &specs, &meas, &Efficiency::for_family).map_err(invalid)?;
    let fitted = do_fit.then(|| {
        let (table, summary) = fit::fit(cat, &specs, &meas);
        summary
            .into_iter()
            .map(|(f, s, p, b, a)| TrainFitV1 {
                family: format!("{f:?}"),
                stack: s.as_str(),
                precisions: p.iter().map(|x| format!("{x:?}").to_lowercase()).collect(),
                calibration_mape_before_pct: b,
                calibration_mape_after_pct: a,
                parameters: EfficiencyV1::from(&table.get(f, s, p[0])),
            })
            .collect::<Vec<_>>()
    });
    if fmt == Format::Json {
        return out::print_json(&ValidateTrainV1::new(&report, fitted));
    }
    let mut t = out::wide_table(&[
        "row",
        "group",
        "split",
        "model",
        "chip",
        "metric",
        "measured",
        "predicted",
        "error",
        "layout",
    ]);
    for r in &report.rows {
        t.add_row(vec![
            r.id.clone(),
            r.group.to_string(),
            r.split.clone(),
            r.model.clone(),
            r.chip.clone(),
            r.metric.clone(),
            out::num(r.measured),
            out::num(r.predicted),
            format!("{:+.1}%", r.error_pct),
            r.layout.clone(),
        ]);
    }
    crate::outln!("{t}");
    print_mape_and_skipped(&report.mape, &report.skipped);
    crate::outln!(
        "Sanity rows (approximate published figures) are shown but not counted in the MAPE."
    );
    if let Some(f) = fitted {
        crate::outln!();
        for x in f {
            crate::outln!(
                "fit {} / {}: calibration MAPE {:.2}% -> {:.2}%\n  {:?}",
                x.family,
                x.stack,
                x.calibration_mape_before_pct,
                x.calibration_mape_after_pct,
                x.parameters
            );
        }
    }
    Ok(())
}

pub fn serve(cat: &Catalog, fmt: Format, data: Option<&Path>, do_fit: bool) -> Result<()> {
    let shown = data.map_or_else(
        || "<built-in serve-rows.toml>".to_string(),
        |p| p.display().to_string(),
    );
    let invalid = |m: String| {
        CliError::Catalog(CatalogError::Invalid(Box::new(
            tessera_catalog::Diagnostic {
                path: shown.clone(),
                line: 0,
                col: 0,
                field: None,
                message: m,
                hint: None,
                snippet: None,
            },
        )))
    };
    let text = match data {
        Some(p) => std::fs::read_to_string(p).map_err(|e| {
            CliError::Catalog(CatalogError::Io {
                path: shown.clone(),
                source: e,
            })
        })?,
        None => tessera_validate::serve::SERVE_ROWS.to_string(),
    };
    let specs = read_serve_rows(&shown, &text).map_err(invalid)?;
    let meas = read_measurements(
        "<built-in measurements.csv>",
        tessera_validate::MEASUREMENTS,
    )
    .map_err(invalid)?;
    let report = run_serve(cat, &specs, &meas, &serve_efficiency).map_err(invalid)?;
    let fitted = do_fit.then(|| {
        fit_serve(cat, &specs, &meas)
            .into_iter()
            .map(|(f, st, e, b, a)| ServeFitV1 {
                family: format!("{f:?}"),
                stack: st.as_str(),
                calibration_mape_before_pct: b,
                calibration_mape_after_pct: a,
                parameters: ServeEfficiencyV1::from(&e),
            })
            .collect::<Vec<_>>()
    });
    if fmt == Format::Json {
        return out::print_json(&ValidateServeV1::new(&report, fitted));
    }
    let mut t = out::wide_table(&[
        "row",
        "group",
        "split",
        "model",
        "chip",
        "in/out",
        "metric",
        "measured",
        "predicted",
        "error",
        "layout",
    ]);
    for r in &report.rows {
        t.add_row(vec![
            r.id.clone(),
            r.group.to_string(),
            r.split.clone(),
            r.model.clone(),
            r.chip.clone(),
            format!("{}/{}", r.input, r.output),
            r.metric.clone(),
            out::num(r.measured),
            out::num(r.predicted),
            format!("{:+.1}%", r.error_pct),
            r.layout.clone(),
        ]);
    }
    crate::outln!("{t}");
    print_mape_and_skipped(&report.mape, &report.skipped);
    for f in fitted.unwrap_or_default() {
        crate::outln!(
            "fit {} / {}: calibration MAPE {:.2}% -> {:.2}%\n  {:?}",
            f.family,
            f.stack,
            f.calibration_mape_before_pct,
            f.calibration_mape_after_pct,
            f.parameters
        );
    }
    Ok(())
}

/// The MAPE table by split and group, then the rows tessera cannot predict.
fn print_mape_and_skipped(mape: &[tessera_validate::Mape], skipped: &[tessera_validate::Skipped]) {
    let mut m = out::table(&["split", "group", "rows", "MAPE", "worst row"]);
    for x in mape {
        m.add_row(vec![
            x.split.clone(),
            x.group.clone(),
            x.rows.to_string(),
            format!("{:.1}%", x.mape_pct),
            format!("{:.1}%", x.max_abs_error_pct),
        ]);
    }
    crate::outln!("{m}");
    crate::outln!("Rows tessera cannot predict:");
    for s in skipped {
        crate::outln!("  {}: {}", s.id, s.reason);
    }
}
