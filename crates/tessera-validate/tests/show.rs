#![allow(clippy::unwrap_used)]

#[test]
#[ignore]
fn print_report() {
    let cat = tessera_catalog::Catalog::builtin().unwrap();
    let r = tessera_validate::builtin_train_report(&cat).unwrap();
    for x in &r.rows {
        println!(
            "{:4} {:12} {:11} {:>10.3} {:>10.3} {:+7.1}%  {}",
            x.id, x.group, x.split, x.measured, x.predicted, x.error_pct, x.layout
        );
    }
    for m in &r.mape {
        println!(
            "{:12} {:13} n={} MAPE {:.1}% max {:.1}%",
            m.split, m.group, m.rows, m.mape_pct, m.max_abs_error_pct
        );
    }
    for s in &r.skipped {
        println!("skip {} {}", s.id, s.reason);
    }
}

#[test]
#[ignore]
fn print_fit() {
    let cat = tessera_catalog::Catalog::builtin().unwrap();
    let specs = tessera_validate::read_rows("t", tessera_validate::TRAIN_ROWS).unwrap();
    let meas = tessera_validate::read_measurements("m", tessera_validate::MEASUREMENTS).unwrap();
    let (table, summary) = tessera_validate::fit::fit(&cat, &specs, &meas);
    for (f, s, p, b, a) in &summary {
        println!("{f:?} {s:?} {p:?}: calibration MAPE {b:.2}% -> {a:.2}%");
    }
    for (f, s, p, e) in &table.entries {
        println!("{f:?} {s:?} {p:?}: {e:?}");
    }
    let r = tessera_validate::run(&cat, &specs, &meas, &|f, s, p| table.get(f, s, p)).unwrap();
    for x in &r.rows {
        println!(
            "{:4} {:12} {:11} {:>10.3} {:>10.3} {:+7.1}%  {}",
            x.id, x.group, x.split, x.measured, x.predicted, x.error_pct, x.layout
        );
    }
    for m in &r.mape {
        println!(
            "{:12} {:13} n={} MAPE {:.1}% max {:.1}%",
            m.split, m.group, m.rows, m.mape_pct, m.max_abs_error_pct
        );
    }
}

#[test]
#[ignore]
fn print_serve() {
    let cat = tessera_catalog::Catalog::builtin().unwrap();
    let r = tessera_validate::serve::builtin_serve_report(&cat).unwrap();
    for x in &r.rows {
        println!(
            "{:28} {:12} {:11} {:>10.1} {:>10.1} {:+7.1}%  {}",
            x.id, x.group, x.split, x.measured, x.predicted, x.error_pct, x.layout
        );
    }
    for m in &r.mape {
        println!(
            "{:12} {:13} n={} MAPE {:.1}% max {:.1}%",
            m.split, m.group, m.rows, m.mape_pct, m.max_abs_error_pct
        );
    }
    for s in &r.skipped {
        println!("skip {} {}", s.id, s.reason);
    }
}

#[test]
#[ignore]
fn print_serve_fit() {
    let cat = tessera_catalog::Catalog::builtin().unwrap();
    let specs =
        tessera_validate::serve::read_serve_rows("s", tessera_validate::serve::SERVE_ROWS).unwrap();
    let meas = tessera_validate::read_measurements("m", tessera_validate::MEASUREMENTS).unwrap();
    let fits = tessera_validate::serve::fit_serve(&cat, &specs, &meas);
    for (f, s, e, b, a) in &fits {
        println!("{f:?} {s:?}: calibration MAPE {b:.2}% -> {a:.2}%\n{e:?}");
    }
    let lookup = |fam: tessera_perf::calib::Family, st: tessera_perf::calib::ServeStack| {
        fits.iter()
            .find(|x| x.0 == fam && x.1 == st)
            .map_or_else(|| tessera_perf::calib::serve_efficiency(fam, st), |x| x.2)
    };
    let r = tessera_validate::serve::run_serve(&cat, &specs, &meas, &lookup).unwrap();
    for x in &r.rows {
        println!(
            "{:34} {:12} {:11} {:>10.1} {:>10.1} {:+7.1}%  {}",
            x.id, x.group, x.split, x.measured, x.predicted, x.error_pct, x.layout
        );
    }
    for m in &r.mape {
        println!(
            "{:12} {:13} n={} MAPE {:.1}% max {:.1}%",
            m.split, m.group, m.rows, m.mape_pct, m.max_abs_error_pct
        );
    }
}
