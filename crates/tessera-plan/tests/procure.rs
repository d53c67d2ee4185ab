//! Purchase planner checks on real chips and models: the MILP's optimum equals brute
//! force on small scenarios, and the built-in Baidu scenario obeys every constraint.

#![allow(clippy::unwrap_used)]

use tessera_catalog::Catalog;
use tessera_catalog::scenarios::{builtin_scenario, parse_scenario};
use tessera_core::Chip;
use tessera_core::model::ModelArch;
use tessera_core::procure::Scenario;
use tessera_plan::procure::milp::{brute_force, solve};
use tessera_plan::procure::{Inputs, ProcureReport, build_problem, procure};

struct Resolved {
    chips: Vec<Chip>,
    train: Vec<ModelArch>,
    serve: Vec<ModelArch>,
    cat: Catalog,
}

fn resolve(sc: &Scenario) -> Resolved {
    let cat = Catalog::builtin().unwrap();
    let mut chips: Vec<Chip> = Vec::new();
    for id in sc.chip_ids() {
        chips.push(cat.chip(id).unwrap().clone());
    }
    let train = sc
        .train
        .iter()
        .map(|t| cat.model(&t.model).unwrap())
        .collect();
    let serve = sc
        .serve
        .iter()
        .map(|t| cat.model(&t.model).unwrap())
        .collect();
    Resolved {
        chips,
        train,
        serve,
        cat,
    }
}

fn run(sc: &Scenario) -> ProcureReport {
    let r = resolve(sc);
    procure(&Inputs {
        scenario: sc,
        chips: &r.chips,
        train_models: &r.train,
        serve_models: &r.serve,
        events: &r.cat.events,
    })
    .unwrap()
}

fn scenario(text: &str) -> Scenario {
    parse_scenario("test.toml", text).unwrap()
}

/// A small US scenario with tight availability, so brute force can enumerate it.
const SMALL: &str = r#"
date = "2024-06-01"
country = "US"
currency = "USD"
budget = 3_000_000
[[train]]
model = "llama2-7b"
tokens = 2e10
days = 10
[[serve]]
model = "llama3-8b"
rate = 20
input-len = 512
output-len = 256
tpot-slo = 0.05
[[owned]]
chip = "nvidia-a100-sxm4-80gb"
count = 8
[[candidate]]
chip = "nvidia-h100-sxm5-80gb"
price = 30_000
max = 48
[[candidate]]
chip = "amd-mi300x"
price = 20_000
max = 40
[[candidate]]
chip = "nvidia-a100-sxm4-80gb"
price = 12_000
max = 32
"#;

#[test]
fn milp_equals_brute_force_on_real_small_scenarios() {
    // The base scenario and variants that move the optimum around.
    let variants = [
        SMALL.to_string(),
        SMALL.replace("price = 20_000", "price = 9_000"),
        SMALL.replace("rate = 20", "rate = 60"),
        SMALL.replace("days = 10", "days = 3"),
        SMALL.replace("budget = 3_000_000", "budget = 300_000"),
    ];
    let mut feasible = 0;
    for (i, text) in variants.iter().enumerate() {
        let sc = scenario(text);
        let r = resolve(&sc);
        let inp = Inputs {
            scenario: &sc,
            chips: &r.chips,
            train_models: &r.train,
            serve_models: &r.serve,
            events: &r.cat.events,
        };
        let (_, p) = build_problem(&inp).unwrap();
        let m = solve(&p).unwrap();
        let b = brute_force(&p);
        match (&m, &b) {
            (Some(m), Some(b)) => {
                assert!(
                    (m.cost - b.cost).abs() < 1e-6,
                    "variant {i}: {} vs {}",
                    m.cost,
                    b.cost
                );
                p.check(m).unwrap();
                feasible += 1;
            }
            (None, None) => {}
            _ => panic!("variant {i}: milp {m:?} brute {b:?}"),
        }
    }
    assert!(feasible >= 3, "only {feasible} variants feasible");
}

#[test]
fn baidu_scenario_obeys_every_constraint() {
    let sc = builtin_scenario("baidu-2023").unwrap().unwrap();
    let r = run(&sc);
    assert!(r.feasible);
    let best = r.best.as_ref().unwrap();
    // Export rules: nothing controlled on 2023-11-20 is bought.
    for chip in best.purchase.keys() {
        assert!(
            !chip.contains("a800") && !chip.contains("h800"),
            "bought an export-controlled chip: {chip}"
        );
    }
    assert!(best.capital_cost <= sc.budget.unwrap());
    assert!(best.power_kw <= sc.power_cap_kw.unwrap());
    for t in &best.train {
        assert!(t.days <= t.deadline_days, "{t:?}");
    }
    for s in &best.serve {
        assert!(s.capacity_rps >= s.target_rps, "{s:?}");
    }
    // Purchases come in whole servers.
    for (chip, n) in &best.purchase {
        assert_eq!(n % 8, 0, "{chip}: {n}");
    }
    // The export rules shape the answer: without them, the A800/H800 would be cheaper.
    let export = r
        .binding_constraints
        .iter()
        .find(|b| b.constraint == "export-rules")
        .expect("export rules should bind");
    assert!(export.cost_without.unwrap() < best.capital_cost);
    // Baidu's actual order is evaluated and costs what it cost.
    let rf = r.reference.as_ref().unwrap();
    assert_eq!(rf.outcome.as_ref().unwrap().capital_cost, 450e6);
    assert!(rf.outcome.as_ref().unwrap().capital_cost >= best.capital_cost);
    // Sensitivity covers a price move both ways for every buyable chip.
    for chip in r.types.iter().filter(|t| t.buyable) {
        for dir in ["-20%", "+20%"] {
            let want = format!("{} price {dir}", chip.chip);
            assert!(r.sensitivity.iter().any(|s| s.change == want), "{want}");
        }
    }
}

#[test]
fn licence_revocation_changes_the_answer() {
    // After April 2025 the H20 needs a licence; a Chinese buyer then cannot pick it.
    let text = r#"
date = "DATE"
country = "CN"
currency = "CNY"
[[serve]]
model = "llama3-8b"
rate = 50
tpot-slo = 0.05
[[candidate]]
chip = "nvidia-h20"
price = 100_000
[[candidate]]
chip = "huawei-ascend-910b2"
price = 400_000
"#;
    let before = run(&scenario(&text.replace("DATE", "2025-03-01")));
    let after = run(&scenario(&text.replace("DATE", "2025-05-01")));
    let b = before.best.unwrap();
    let a = after.best.unwrap();
    assert!(b.purchase.contains_key("nvidia-h20"), "{:?}", b.purchase);
    assert!(!a.purchase.contains_key("nvidia-h20"), "{:?}", a.purchase);
    assert!(a.capital_cost > b.capital_cost);
    // The before case reports what losing the H20 would cost.
    let s = before
        .sensitivity
        .iter()
        .find(|s| s.change == "nvidia-h20 unavailable")
        .unwrap();
    assert!(s.feasible && s.capital_cost.unwrap() > b.capital_cost);
}

#[test]
fn infeasible_scenario_names_the_constraint() {
    let text = SMALL.replace("budget = 3_000_000", "budget = 10_000");
    let r = run(&scenario(&text));
    assert!(!r.feasible);
    let inf = r.infeasibility.unwrap();
    assert!(inf.reason.contains("budget"), "{}", inf.reason);
    assert!(inf.fixes.iter().any(|f| f.constraint == "budget"));
    // A power cap below what the owned fleet draws cannot be fixed by buying.
    let text = SMALL.replace("budget = 3_000_000", "power-cap-kw = 1");
    let r = run(&scenario(&text));
    assert!(!r.feasible);
    let inf = r.infeasibility.unwrap();
    assert!(
        inf.fixes.iter().any(|f| f.constraint == "power-cap"),
        "{inf:?}"
    );
}

/// With a link between the owned A800 and the Ascend 910B, the job may run across both:
/// the 512 owned A800 beside fewer 910B than the 910B alone would need, when that is
/// cheaper. Without the link the same scenario buys the 910B alone. The mixed option's
/// days meet the deadline and its sizing is the smallest that does (one server fewer
/// misses it).
#[test]
fn a_mixed_job_beside_owned_chips_can_be_the_cheapest_purchase() {
    let base = "id = \"mixed\"\ncountry = \"CN\"\ndate = \"2023-11-20\"\ncurrency = \"CNY\"\n\
        [[train]]\nmodel = \"llama3-70b\"\ntokens = 1e12\ndays = 60\nseq-len = 4096\n\
        [[owned]]\nchip = \"nvidia-a800-sxm4-80gb\"\ncount = 256\n\
        [[candidate]]\nchip = \"huawei-ascend-910b2\"\nprice = 281000\nnode-size = 8\n";
    let linked = format!(
        "{base}[[link]]\nchips = [\"nvidia-a800-sxm4-80gb\", \"huawei-ascend-910b2\"]\ngb-s = 12.5\nkind = \"host-staged\"\n"
    );
    let alone = run(&scenario(base));
    let mixed = run(&scenario(&linked));
    assert!(alone.mixed_train[0].is_empty());
    let opt = &mixed.mixed_train[0][0];
    assert_eq!(opt.parts[0].1, "nvidia-a800-sxm4-80gb");
    assert_eq!(opt.parts[0].2, 256);
    assert!(opt.days <= 60.0, "{}", opt.days);
    assert!(opt.efficiency > 0.0 && opt.efficiency <= 1.05);
    let a = alone.best.as_ref().unwrap();
    let m = mixed.best.as_ref().unwrap();
    // Alone: the A800 cannot meet the deadline by themselves, so 910B are bought.
    assert_eq!(a.train[0].chip, "huawei-ascend-910b2", "{:?}", a.train);
    assert!(
        m.capital_cost < a.capital_cost,
        "{} vs {}",
        m.capital_cost,
        a.capital_cost
    );
    assert_eq!(m.train[0].mixed_form, Some(opt.form));
    assert_eq!(m.train[0].parts.len(), 2);
    assert_eq!(
        m.purchase.get("huawei-ascend-910b2").copied(),
        Some(opt.parts[1].2)
    );
    // The smallest sizing that meets it: one server of 910B fewer misses the deadline
    // (the same mixed planner over the same two pools).
    let fewer = opt.parts[1].2 - 8;
    let fleet = tessera_core::fleet::Fleet {
        id: "f".into(),
        name: "f".into(),
        description: None,
        pools: vec![
            pool("nvidia-a800-sxm4-80gb", 256),
            pool("huawei-ascend-910b2", fewer),
        ],
        links: vec![tessera_core::fleet::PoolLink::new(
            "nvidia-a800-sxm4-80gb",
            "huawei-ascend-910b2",
            12.5,
            tessera_core::fleet::LinkKind::HostStaged,
        )],
    };
    let cat = Catalog::builtin().unwrap();
    let pools: Vec<tessera_plan::fleet::PoolChip> = fleet
        .pools
        .iter()
        .map(|p| tessera_plan::fleet::PoolChip {
            pool: p,
            chip: cat.chip(&p.chip).unwrap(),
        })
        .collect();
    let req = tessera_plan::fleet::TrainRequest {
        seq_len: 4096,
        global_batch: None,
        precision: tessera_perf::train::TrainPrecision::Bf16,
        tokens: None,
        top: 1,
        objective: tessera_plan::fleet::Objective::Time,
        stack: None,
        framework: None,
    };
    let fp =
        tessera_plan::fleet::plan_train(&cat.model("llama3-70b").unwrap(), &fleet, &pools, &req);
    let best_fewer = fp
        .mixed
        .iter()
        .filter(|x| x.feasible && x.pools.len() == 2)
        .map(|x| x.tokens_per_s)
        .fold(0.0, f64::max);
    assert!(
        1e12 / best_fewer / 86_400.0 > 60.0,
        "{fewer} 910B would do: {best_fewer} tokens/s"
    );
    // The problem the report was solved from carries the option, and brute force agrees.
    let r = resolve(&scenario(&linked));
    let sc = scenario(&linked);
    let (_, p) = build_problem(&Inputs {
        scenario: &sc,
        chips: &r.chips,
        train_models: &r.train,
        serve_models: &r.serve,
        events: &r.cat.events,
    })
    .unwrap();
    assert_eq!(p.mixed[0].len(), 1);
    let s = solve(&p).unwrap().unwrap();
    p.check(&s).unwrap();
    let mut small = p.clone();
    for t in &mut small.types {
        t.max_nodes = t.max_nodes.min(120);
    }
    assert_eq!(
        brute_force(&small).map(|b| b.cost),
        solve(&small).unwrap().map(|s| s.cost)
    );
}

fn pool(chip: &str, chips: u64) -> tessera_core::fleet::Pool {
    tessera_core::fleet::Pool {
        name: chip.into(),
        chip: chip.into(),
        nodes: (chips / 8) as u32,
        chips_per_node: 8,
        scale_up_domain: None,
        scale_out_gb_s: None,
    }
}

/// A scenario link must join two chips the scenario names.
#[test]
fn scenario_links_name_their_chips() {
    let base = "id = \"x\"\ncountry = \"CN\"\ndate = \"2023-11-20\"\n\
        [[owned]]\nchip = \"nvidia-a800-sxm4-80gb\"\ncount = 8\n\
        [[candidate]]\nchip = \"huawei-ascend-910b2\"\nprice = 1\n";
    for (link, says) in [
        (
            "chips = [\"nvidia-a800-sxm4-80gb\"]\ngb-s = 1",
            "exactly two different",
        ),
        (
            "chips = [\"nvidia-a800-sxm4-80gb\", \"nvidia-h20\"]\ngb-s = 1",
            "`nvidia-h20` is neither",
        ),
        (
            "chips = [\"nvidia-a800-sxm4-80gb\", \"huawei-ascend-910b2\"]\ngb-s = 0",
            "valid range",
        ),
        (
            "chips = [\"nvidia-a800-sxm4-80gb\", \"huawei-ascend-910b2\"]\ngb-s = 1\nkind = \"x\"",
            "unknown link kind",
        ),
    ] {
        let e = parse_scenario("s.toml", &format!("{base}[[link]]\n{link}\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("s.toml") && e.contains(says), "{link}: {e}");
    }
}

/// The example scenario of docs/procure.md parses and states its link.
#[test]
fn the_mixed_example_scenario_parses() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/procure/baidu-2023-mixed.toml"
    );
    let sc = parse_scenario(path, &std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(sc.links.len(), 1);
    assert_eq!(sc.links[0].kind, tessera_core::fleet::LinkKind::HostStaged);
}
