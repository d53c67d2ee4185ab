//! Speed of the purchase planner: `cargo bench -p tessera-plan --bench procure`.
//! One MILP on the built-in Baidu scenario, and the whole report (per-type sizing with
//! the layout planners, then every re-solve for binding constraints, runners-up and
//! sensitivity).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tessera_catalog::Catalog;
use tessera_core::Chip;
use tessera_plan::procure::{Inputs, build_problem, milp, procure};

fn bench(c: &mut Criterion) {
    let cat = Catalog::builtin().expect("catalog");
    let sc = tessera_catalog::scenarios::builtin_scenario("baidu-2023")
        .expect("scenario")
        .expect("parses");
    let mut chips: Vec<Chip> = Vec::new();
    for id in sc.chip_ids() {
        chips.push(cat.chip(id).expect("chip").clone());
    }
    let train: Vec<_> = sc
        .train
        .iter()
        .map(|t| cat.model(&t.model).expect("model"))
        .collect();
    let serve: Vec<_> = sc
        .serve
        .iter()
        .map(|t| cat.model(&t.model).expect("model"))
        .collect();
    let inp = Inputs {
        scenario: &sc,
        chips: &chips,
        train_models: &train,
        serve_models: &serve,
        events: &cat.events,
    };
    let (_, p) = build_problem(&inp).expect("problem");
    c.bench_function("procure/milp-baidu-2023", |b| {
        b.iter(|| milp::solve(black_box(&p)).expect("solve"))
    });
    c.bench_function("procure/report-baidu-2023", |b| {
        b.iter(|| procure(black_box(&inp)).expect("report"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
