//! Checks on the built-in catalog data: it loads, it matches the research notes, and
//! tessera's derived figures match published ones.

#![allow(clippy::unwrap_used)]

use tessera_catalog::Catalog;
use tessera_core::export::tpp;

fn catalog() -> Catalog {
    Catalog::builtin().expect("built-in catalog must load")
}

#[test]
fn builtin_catalog_has_every_research_chip() {
    let c = catalog();
    let csv = include_str!("../data/accelerators.source.csv");
    let ids: Vec<&str> = csv
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(ids.len(), 36, "the research notes list 36 chips");
    for id in &ids {
        assert!(c.chip(id).is_ok(), "chip {id} missing from the catalog");
    }
    // tessera adds the GB200 (data/chips-added.toml) to the research notes' 36.
    assert_eq!(c.chips.len(), 37);
    assert!(c.chip("nvidia-gb200").is_ok());
    assert_eq!(c.vendors().len(), 10, "vendors: {:?}", c.vendors());
}

#[test]
fn tessera_tpp_matches_the_research_notes() {
    let c = catalog();
    let mut checked = 0;
    for chip in &c.chips {
        let (Some(reference), Some(ours)) = (chip.reference_tpp, tpp(chip).value) else {
            assert!(
                chip.reference_tpp.is_none() || tpp(chip).value.is_some(),
                "{}: notes have TPP but tessera cannot compute it",
                chip.id
            );
            continue;
        };
        assert!(
            (ours - reference).abs() <= 1.0,
            "{}: tessera TPP {ours} vs notes {reference}",
            chip.id
        );
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} chips checked");
}

#[test]
fn unknown_figures_stay_unknown() {
    let c = catalog();
    let mlu590 = c.chip("cambricon-mlu590").unwrap();
    assert!(mlu590.bf16_tflops.is_none() && mlu590.memory_gb.is_none() && mlu590.tdp_w.is_none());
    let p800 = c.chip("kunlunxin-p800").unwrap();
    assert!(
        p800.memory_bw_tb_s.is_none(),
        "P800 bandwidth is unpublished and must stay unknown"
    );
    assert_eq!(p800.fp16_tflops.as_ref().map(|f| f.value), Some(345.0));
    for chip in &c.chips {
        for (key, _) in tessera_core::chip::FIGURE_KEYS {
            if let Some(f) = chip.figure(key) {
                assert!(
                    f.value > 0.0,
                    "{}.{key} is zero: unknown must be absent, not 0",
                    chip.id
                );
                assert!(
                    !f.source.trim().is_empty(),
                    "{}.{key} has no source",
                    chip.id
                );
            }
        }
    }
}

/// (model id, published total B, tolerance) checks: tessera's parameter count within 1%.
#[test]
fn parameter_counts_match_published_figures() {
    let c = catalog();
    let mut checked = 0;
    for m in &c.models {
        let Some(p) = &m.published else { continue };
        let ours = m.total_params() as f64 / 1e9;
        let err = (ours - p.total_b).abs() / p.total_b;
        eprintln!(
            "{:<22} tessera {ours:>9.3}B  published {:>8}B  {:+.2}%",
            m.id,
            p.total_b,
            (ours / p.total_b - 1.0) * 100.0
        );
        // A rounded label ("21B") only bounds the count to within rounding.
        let tol = if p.rounded { 0.05 } else { 0.01 };
        assert!(
            err <= tol,
            "{}: tessera {ours:.3}B vs published {}B ({:.2}% off)",
            m.id,
            p.total_b,
            err * 100.0
        );
        if let Some(a) = p.active_b {
            let act = m.active_param_count() as f64 / 1e9;
            // Active counts are published rounded to whole billions.
            let aerr = (act - a).abs() / a;
            assert!(
                aerr <= 0.06 || (act - a).abs() <= 0.5,
                "{}: active {act:.2}B vs published {a}B",
                m.id
            );
        }
        if !p.rounded {
            checked += 1;
        }
    }
    assert!(
        checked >= 10,
        "only {checked} models have exact published counts"
    );
}
