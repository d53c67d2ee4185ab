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
    // tessera adds the GB200 and the MI308X (data/chips-added.toml) to the notes' 36.
    assert_eq!(c.chips.len(), 38);
    assert!(c.chip("nvidia-gb200").is_ok());
    assert!(c.chip("amd-mi308x").is_ok());
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
    // Kunlunxin publishes no bandwidth: the third-party figure is marked unverified.
    assert_eq!(
        p800.memory_bw_tb_s.as_ref().map(|f| f.status),
        Some(tessera_core::figure::Status::Unverified)
    );
    assert_eq!(
        p800.memory_gb.as_ref().map(|f| f.status),
        Some(tessera_core::figure::Status::Exact)
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

/// KV-cache bytes per token in bf16, against the figures derived by hand from each
/// model's published shape: dense MHA, GQA, MoE (GQA) and MLA.
#[test]
fn kv_cache_bytes_per_token_hand_worked() {
    use tessera_core::model::DType;
    let c = catalog();
    for (id, want) in [
        ("llama2-7b", 32.0 * 2.0 * 32.0 * 128.0 * 2.0), // MHA: 524,288
        ("llama3-70b", 80.0 * 2.0 * 8.0 * 128.0 * 2.0), // GQA: 327,680
        ("mixtral-8x7b", 32.0 * 2.0 * 8.0 * 128.0 * 2.0), // MoE with GQA: 131,072
        ("deepseek-v3", 61.0 * (512.0 + 64.0) * 2.0),   // MLA latent + rotary key: 70,272
    ] {
        let m = c.model(id).unwrap();
        assert_eq!(m.kv_cache_bytes_per_token(DType::Bf16), want, "{id}");
        assert_eq!(m.kv_cache_bytes_per_token(DType::Fp8), want / 2.0, "{id}");
    }
    // Weights: Llama 2 7B is 6,738,415,616 parameters, so 13.48 GB in bf16 and 3.37 GB in int4.
    let m = c.model("llama2-7b").unwrap();
    assert_eq!(m.total_params(), 6_738_415_616);
    assert_eq!(m.weight_bytes(DType::Int4), 6_738_415_616.0 * 0.5);
    // Training FLOPs per token of Llama 2 7B at 4096: 6 x 6.607B matmul weights
    // (no embedding lookup) + 12 x 32 layers x 4096 hidden x 4096 tokens.
    let matmul = 6_738_415_616.0 - 32000.0 * 4096.0 - (32.0 * 2.0 + 1.0) * 4096.0;
    let want = 6.0 * matmul + 12.0 * 32.0 * 4096.0 * 4096.0;
    assert!((m.train_flops_per_token(4096) / want - 1.0).abs() < 1e-12);
}

/// The April 2025 licence requirement and the August 2025 licences name the MI308X, the
/// chip they concern; the MI300X keeps its parametric status.
#[test]
fn mi308_events_attach_to_the_mi308x() {
    let c = catalog();
    let d = tessera_core::date::Date::parse("2025-06-01").unwrap();
    let mi308 = tessera_core::export::china_status(c.chip("amd-mi308x").unwrap(), d, &c.events);
    assert!(mi308.contains("is-informed letter, 2025-04-09"), "{mi308}");
    let mi300 = tessera_core::export::china_status(c.chip("amd-mi300x").unwrap(), d, &c.events);
    assert!(!mi300.contains("is-informed"), "{mi300}");
    assert!(
        c.events
            .iter()
            .all(|e| !e.chips.iter().any(|x| x == "amd-mi300x"))
    );
}

/// A chip cannot be bought before it exists.
#[test]
fn chips_before_their_release_are_not_for_sale() {
    let c = catalog();
    let h20 = c.chip("nvidia-h20").unwrap();
    let before = tessera_core::date::Date::parse("2023-10-31").unwrap();
    let (ok, why) = tessera_core::export::china_may_buy(h20, before, &c.events);
    assert!(!ok && why.contains("not yet released"), "{why}");
    let after = tessera_core::date::Date::parse("2023-11-01").unwrap();
    let (ok, why) = tessera_core::export::china_may_buy(h20, after, &c.events);
    assert!(ok, "{why}");
}

/// Short names resolve only when they fit one chip.
#[test]
fn short_chip_names_resolve_when_unambiguous() {
    let c = catalog();
    for (short, id) in [
        ("h100", "nvidia-h100-sxm5-80gb"),
        ("h20", "nvidia-h20"),
        ("a800", "nvidia-a800-sxm4-80gb"),
        ("910c", "huawei-ascend-910c"),
        ("910b2", "huawei-ascend-910b2"),
        ("p800", "kunlunxin-p800"),
        ("H100", "nvidia-h100-sxm5-80gb"),
    ] {
        assert_eq!(c.chip(short).unwrap().id, id, "{short}");
    }
    for short in ["910b", "a100"] {
        let e = c.chip(short).unwrap_err().to_string();
        assert!(e.contains("could mean any of"), "{short}: {e}");
    }
    assert!(c.chip("h9000").is_err());
}

/// An event naming a chip the catalog lacks is an error with the nearest ids, not an
/// event that silently applies to nothing.
#[test]
fn events_naming_unknown_chips_are_errors() {
    let mut c = catalog();
    let e = c
        .merge_str(
            "ev.toml",
            "[[event]]\ndate = \"2025-01-01\"\nkind = \"licence-required\"\nchips = [\"nvidia-h2O\"]\nsummary = \"x\"\nsource = \"y\"\n",
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ev.toml:4") && e.contains("unknown chip id `nvidia-h2O`"),
        "{e}"
    );
    assert!(e.contains("nvidia-h20"), "{e}");
}
