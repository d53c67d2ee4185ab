//! The accuracy targets of the training model, checked on the built-in rows with the
//! built-in (fitted) parameters. These tests fail if a model change breaks the targets.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use tessera_catalog::Catalog;
use tessera_validate::{
    MEASUREMENTS, TRAIN_ROWS, builtin_train_report, read_measurements, read_rows,
};

#[test]
fn every_training_measurement_is_predicted_or_explained() {
    let meas = read_measurements("m", MEASUREMENTS).unwrap();
    let rows = read_rows("r", TRAIN_ROWS).unwrap();
    let ids: HashSet<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), rows.len(), "a row id appears twice");
    for m in &meas {
        let training = !matches!(
            m.category.as_str(),
            "mlperf_inference" | "inference_serving" | "ascend_inference"
        );
        if training {
            assert!(
                ids.contains(m.id.as_str()),
                "training measurement {} is neither predicted nor skipped with a reason",
                m.id
            );
        }
    }
    for r in &rows {
        assert!(
            r.skip.is_some() || (r.split.is_some() && r.metric.is_some()),
            "row {}: needs split and metric, or skip",
            r.id
        );
        if let Some(s) = &r.split {
            assert!(
                ["calibration", "validation", "sanity"].contains(&s.as_str()),
                "row {}: split {s}",
                r.id
            );
        }
    }
}

#[test]
fn validation_targets_hold() {
    let cat = Catalog::builtin().unwrap();
    let r = builtin_train_report(&cat).unwrap();
    let val: Vec<_> = r.rows.iter().filter(|x| x.split == "validation").collect();
    assert!(val.len() >= 15, "only {} validation rows", val.len());
    let mape = val.iter().map(|x| x.error_pct.abs()).sum::<f64>() / val.len() as f64;
    assert!(mape <= 10.0, "validation MAPE {mape:.2}% > 10%");
    for x in &val {
        assert!(
            x.error_pct.abs() <= 25.0,
            "{}: {:+.1}% is worse than 25%",
            x.id,
            x.error_pct
        );
    }
    // Each category has validation rows.
    for g in ["Nvidia dense", "MoE", "Ascend"] {
        assert!(val.iter().any(|x| x.group == g), "no validation row in {g}");
    }
}

#[test]
fn korthikanti_rows_within_five_percent() {
    let cat = Catalog::builtin().unwrap();
    let r = builtin_train_report(&cat).unwrap();
    let b: Vec<_> = r.rows.iter().filter(|x| x.id.starts_with('B')).collect();
    assert_eq!(b.len(), 6);
    let mape = b.iter().map(|x| x.error_pct.abs()).sum::<f64>() / b.len() as f64;
    assert!(mape <= 5.0, "Korthikanti rows MAPE {mape:.2}% > 5%");
}

#[test]
fn calibration_and_validation_rows_are_apart() {
    let rows = read_rows("r", TRAIN_ROWS).unwrap();
    let cal: HashSet<&str> = rows
        .iter()
        .filter(|r| r.split.as_deref() == Some("calibration"))
        .map(|r| r.id.as_str())
        .collect();
    let val: HashSet<&str> = rows
        .iter()
        .filter(|r| r.split.as_deref() == Some("validation"))
        .map(|r| r.id.as_str())
        .collect();
    assert!(cal.is_disjoint(&val));
    assert!(cal.len() >= 10 && val.len() >= 15);
}

#[test]
fn serving_validation_target_holds() {
    let cat = Catalog::builtin().unwrap();
    let r = tessera_validate::serve::builtin_serve_report(&cat).unwrap();
    let val: Vec<_> = r.rows.iter().filter(|x| x.split == "validation").collect();
    assert!(
        val.len() >= 30,
        "only {} serving validation rows",
        val.len()
    );
    let mape = val.iter().map(|x| x.error_pct.abs()).sum::<f64>() / val.len() as f64;
    assert!(mape <= 15.0, "serving validation MAPE {mape:.2}% > 15%");
    // The research notes' serving rows are each predicted or explained.
    let specs =
        tessera_validate::serve::read_serve_rows("s", tessera_validate::serve::SERVE_ROWS).unwrap();
    let meas = read_measurements("m", MEASUREMENTS).unwrap();
    for m in meas.iter().filter(|m| {
        matches!(
            m.category.as_str(),
            "mlperf_inference" | "inference_serving" | "ascend_inference"
        )
    }) {
        assert!(
            specs.iter().any(|s| s.id == m.id),
            "serving measurement {} is neither predicted nor skipped",
            m.id
        );
    }
}
