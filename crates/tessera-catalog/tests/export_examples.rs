//! Every worked example of the research notes' export-control chapter (docs/export-control.md,
//! sections 8.1-8.3), reproduced from the built-in catalog. One `check` helper, many cases.

#![allow(clippy::unwrap_used)]

use tessera_catalog::Catalog;
use tessera_core::date::Date;
use tessera_core::export::{
    Class2022, Class2023, china_band_2026, classify_2022, classify_2023, tpp,
};

struct Case {
    id: &'static str,
    tpp: f64,
    /// Expected PD (2 decimals), where the notes give one.
    pd: Option<f64>,
    oct2022: Class2022,
    oct2023: Class2023,
    /// Expected area cut-offs (prong, mm2 rounded), where the notes give them.
    cutoffs: &'static [(&'static str, f64)],
}

fn check(cat: &Catalog, c: &Case) {
    let chip = cat.chip(c.id).unwrap_or_else(|e| panic!("{e}"));
    let t = tpp(chip)
        .value
        .unwrap_or_else(|| panic!("{}: no TPP", c.id));
    assert!((t - c.tpp).abs() <= 1.0, "{}: TPP {t} vs {}", c.id, c.tpp);
    let v23 = classify_2023(chip);
    if let Some(pd) = c.pd {
        let got = v23.pd.unwrap_or_else(|| panic!("{}: PD unknown", c.id));
        assert!((got - pd).abs() <= 0.01, "{}: PD {got:.3} vs {pd}", c.id);
    }
    assert_eq!(
        classify_2022(chip).class,
        c.oct2022,
        "{}: Oct 2022 verdict: {}",
        c.id,
        classify_2022(chip).summary
    );
    assert_eq!(
        v23.class, c.oct2023,
        "{}: Oct 2023 verdict: {}",
        c.id, v23.summary
    );
    for (prong, area) in c.cutoffs {
        let got = v23
            .cutoffs
            .iter()
            .find(|x| x.prong == *prong)
            .unwrap_or_else(|| panic!("{}: no {prong} cut-off", c.id));
        assert!(
            (got.max_area_mm2 - area).abs() <= 1.0,
            "{}: {prong} cut-off {:.1} vs {area}",
            c.id,
            got.max_area_mm2
        );
    }
}

use Class2022 as R22;
use Class2023 as R23;

#[rustfmt::skip]
#[allow(clippy::approx_constant)] // L20: PD 1912 / 608.5 = 3.142, not pi
const CASES: &[Case] = &[
    // 8.1 / 8.2
    Case { id: "nvidia-v100-sxm2", tpp: 2000.0, pd: Some(2.45), oct2022: R22::NotControlled, oct2023: R23::NotControlled, cutoffs: &[] },
    Case { id: "nvidia-a100-sxm4-40gb", tpp: 4992.0, pd: Some(6.04), oct2022: R22::Controlled, oct2023: R23::A, cutoffs: &[] },
    Case { id: "nvidia-a100-sxm4-80gb", tpp: 4992.0, pd: Some(6.04), oct2022: R22::Controlled, oct2023: R23::A, cutoffs: &[] },
    Case { id: "nvidia-a800-sxm4-80gb", tpp: 4992.0, pd: Some(6.04), oct2022: R22::NotControlled, oct2023: R23::A, cutoffs: &[] },
    Case { id: "nvidia-h100-sxm5-80gb", tpp: 15831.0, pd: Some(19.45), oct2022: R22::Controlled, oct2023: R23::A, cutoffs: &[] },
    Case { id: "nvidia-h800-sxm5-80gb", tpp: 15831.0, pd: Some(19.45), oct2022: R22::NotControlled, oct2023: R23::A, cutoffs: &[] },
    Case { id: "nvidia-h20", tpp: 2368.0, pd: Some(2.91), oct2022: R22::NotControlled, oct2023: R23::NotControlled, cutoffs: &[] },
    Case { id: "nvidia-h200-sxm", tpp: 15831.0, pd: Some(19.45), oct2022: R22::Controlled, oct2023: R23::A, cutoffs: &[] },
    Case { id: "nvidia-b200", tpp: 36000.0, pd: None, oct2022: R22::Controlled, oct2023: R23::A, cutoffs: &[] },
    Case { id: "nvidia-l20", tpp: 1912.0, pd: Some(3.142), oct2022: R22::NotControlled, oct2023: R23::NotControlled, cutoffs: &[] },
    Case { id: "nvidia-l40s", tpp: 5864.0, pd: Some(9.64), oct2022: R22::NotControlled, oct2023: R23::A, cutoffs: &[] },
    Case { id: "nvidia-rtx-4090", tpp: 5285.0, pd: Some(8.69), oct2022: R22::NotControlled, oct2023: R23::A, cutoffs: &[] },
    Case { id: "nvidia-rtx-4090d", tpp: 4707.0, pd: Some(7.74), oct2022: R22::NotControlled, oct2023: R23::NotControlled, cutoffs: &[] },
    Case { id: "huawei-ascend-910", tpp: 4096.0, pd: Some(8.98), oct2022: R22::NotControlled, oct2023: R23::A, cutoffs: &[("a.2", 692.0)] },
    Case { id: "huawei-ascend-910b1", tpp: 6400.0, pd: Some(9.62), oct2022: R22::NotControlled, oct2023: R23::A, cutoffs: &[] },
    Case { id: "huawei-ascend-910b2", tpp: 6016.0, pd: Some(9.04), oct2022: R22::NotControlled, oct2023: R23::A, cutoffs: &[] },
    Case { id: "huawei-ascend-910b3", tpp: 5008.0, pd: Some(7.52), oct2022: R22::NotControlled, oct2023: R23::A, cutoffs: &[] },
    Case { id: "huawei-ascend-910b4", tpp: 4480.0, pd: Some(6.73), oct2022: R22::NotControlled, oct2023: R23::A, cutoffs: &[("a.2", 757.0)] },
    Case { id: "huawei-ascend-910c", tpp: 12800.0, pd: None, oct2022: R22::Indeterminate, oct2023: R23::A, cutoffs: &[] },
    Case { id: "amd-mi250x", tpp: 6128.0, pd: Some(4.23), oct2022: R22::Controlled, oct2023: R23::A, cutoffs: &[] },
    Case { id: "amd-mi300x", tpp: 20919.0, pd: None, oct2022: R22::Controlled, oct2023: R23::A, cutoffs: &[] },
    // 8.3: parametric, mostly indeterminate for want of die areas
    Case { id: "kunlunxin-k200", tpp: 2048.0, pd: None, oct2022: R22::NotControlled, oct2023: R23::Indeterminate, cutoffs: &[("a.2", 346.0), ("b.2", 640.0)] },
    Case { id: "kunlunxin-r200", tpp: 2048.0, pd: None, oct2022: R22::NotControlled, oct2023: R23::Indeterminate, cutoffs: &[("a.2", 346.0), ("b.2", 640.0)] },
    Case { id: "iluvatar-bi-v100", tpp: 2048.0, pd: None, oct2022: R22::NotControlled, oct2023: R23::Indeterminate, cutoffs: &[("a.2", 346.0), ("b.2", 640.0)] },
    Case { id: "moorethreads-mtt-s4000", tpp: 1600.0, pd: None, oct2022: R22::NotControlled, oct2023: R23::Indeterminate, cutoffs: &[("a.2", 270.0), ("b.2", 500.0)] },
    Case { id: "iluvatar-mr-v100", tpp: 3072.0, pd: None, oct2022: R22::NotControlled, oct2023: R23::Indeterminate, cutoffs: &[("a.2", 519.0), ("b.1", 1920.0)] },
    Case { id: "kunlunxin-p800", tpp: 5520.0, pd: None, oct2022: R22::Indeterminate, oct2023: R23::A, cutoffs: &[] },
    Case { id: "biren-br100", tpp: 16384.0, pd: Some(15.26), oct2022: R22::Indeterminate, oct2023: R23::A, cutoffs: &[] },
    Case { id: "biren-br104", tpp: 8192.0, pd: None, oct2022: R22::Indeterminate, oct2023: R23::A, cutoffs: &[] },
    Case { id: "cambricon-mlu370-x8", tpp: 2048.0, pd: None, oct2022: R22::NotControlled, oct2023: R23::Indeterminate, cutoffs: &[("b.2", 640.0)] },
    Case { id: "huawei-ascend-310p", tpp: 1120.0, pd: None, oct2022: R22::NotControlled, oct2023: R23::NotControlled, cutoffs: &[] },
    Case { id: "google-tpu-v5e", tpp: 3152.0, pd: Some(9.70), oct2022: R22::NotControlled, oct2023: R23::A, cutoffs: &[("a.2", 532.0)] },
    Case { id: "google-tpu-v5p", tpp: 7344.0, pd: None, oct2022: R22::Controlled, oct2023: R23::A, cutoffs: &[] },
];

#[test]
fn worked_examples() {
    let cat = Catalog::builtin().unwrap();
    for c in CASES {
        check(&cat, c);
    }
}

/// K200: the notes give two reported die areas (504 and 348 mm2); both are 3A090.b.2.
#[test]
fn k200_is_b2_under_either_reported_area() {
    let cat = Catalog::builtin().unwrap();
    for area in [504.0, 348.0] {
        let mut chip = cat.chip("kunlunxin-k200").unwrap().clone();
        chip.die_area_mm2 = Some(tessera_core::Figure::new(
            area,
            tessera_core::Status::Reported,
            "test",
        ));
        let v = classify_2023(&chip);
        assert_eq!(v.class, Class2023::B, "area {area}: {}", v.summary);
        assert!(v.summary.contains("b.2"), "area {area}: {}", v.summary);
    }
}

/// The January 2026 China band: H200 and MI300X in (case by case), B200 out.
#[test]
fn china_band_2026_h200_in_b200_out() {
    let cat = Catalog::builtin().unwrap();
    for (id, inside) in [
        ("nvidia-h200-sxm", true),
        ("amd-mi300x", true),
        ("nvidia-b200", false),
    ] {
        let chip = cat.chip(id).unwrap();
        let b = china_band_2026(chip, &classify_2023(chip));
        assert_eq!(b.in_band, Some(inside), "{id}: {}", b.summary);
    }
    // Not 3A090 at all: the band does not apply.
    let h20 = cat.chip("nvidia-h20").unwrap();
    assert_eq!(china_band_2026(h20, &classify_2023(h20)).in_band, None);
}

/// Dated events: the H20 needs a licence from April 2025, not before.
#[test]
fn h20_licence_event_is_dated() {
    let cat = Catalog::builtin().unwrap();
    let h20 = cat.chip("nvidia-h20").unwrap();
    let before = tessera_core::export::china_status(h20, Date::new(2025, 4, 1), &cat.events);
    let after = tessera_core::export::china_status(h20, Date::new(2025, 4, 20), &cat.events);
    assert!(before.starts_with("no US licence needed"), "{before}");
    assert!(
        after.contains("licence required") && after.contains("2025-04-09"),
        "{after}"
    );
    let a800 = cat.chip("nvidia-a800-sxm4-80gb").unwrap();
    let s22 = tessera_core::export::china_status(a800, Date::new(2023, 11, 16), &cat.events);
    let s23 = tessera_core::export::china_status(a800, Date::new(2023, 11, 17), &cat.events);
    assert!(s22.starts_with("no US licence needed"), "{s22}");
    assert!(s23.starts_with("US licence required"), "{s23}");
}

/// The purchase planner's yes/no: a Chinese buyer in November 2023 (Baidu's order).
#[test]
fn china_may_buy_in_november_2023() {
    use tessera_core::export::china_may_buy;
    let cat = Catalog::builtin().unwrap();
    let d = Date::new(2023, 11, 20);
    let check = |id: &str, want: bool| {
        let (ok, why) = china_may_buy(cat.chip(id).unwrap(), d, &cat.events);
        assert_eq!(ok, want, "{id}: {why}");
    };
    check("nvidia-a800-sxm4-80gb", false);
    check("nvidia-h800-sxm5-80gb", false);
    // The H20 was announced in November 2023; the P800 was released in 2024 (catalog
    // release year), so it is not for sale yet.
    check("nvidia-h20", true);
    check("huawei-ascend-910b2", true);
    check("kunlunxin-p800", false);
    let h20 = cat.chip("nvidia-h20").unwrap();
    assert!(!china_may_buy(h20, Date::new(2023, 10, 31), &cat.events).0);
    // Before the October 2023 rule the A800 was allowed; after April 2025 the H20 is not.
    let a800 = cat.chip("nvidia-a800-sxm4-80gb").unwrap();
    assert!(china_may_buy(a800, Date::new(2023, 11, 16), &cat.events).0);
    let h20 = cat.chip("nvidia-h20").unwrap();
    assert!(!china_may_buy(h20, Date::new(2025, 4, 20), &cat.events).0);
    assert!(tessera_core::export::is_china_destination("cn"));
    assert!(!tessera_core::export::is_china_destination("US"));
}
