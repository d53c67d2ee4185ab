//! Mixed-vendor plans (docs/planner.md, "Mixed-vendor plans"): one job across pools,
//! checked against the homogeneous plan of the same chips, physical bounds, the link,
//! and FlagScale's rules.

#![allow(clippy::unwrap_used)]

use tessera_catalog::Catalog;
use tessera_core::fleet::{Fleet, LinkKind, Pool, PoolLink};
use tessera_plan::fleet::{FleetTrainPlan, Objective, PoolChip, TrainRequest, plan_train};
use tessera_plan::mixed::MixedPlan;

fn request(global_batch: Option<u32>) -> TrainRequest {
    TrainRequest {
        seq_len: 4096,
        global_batch,
        precision: tessera_perf::train::TrainPrecision::Bf16,
        tokens: None,
        top: 1,
        objective: Objective::Time,
        stack: None,
        framework: None,
    }
}

fn plan(cat: &Catalog, model: &str, fleet: &Fleet, batch: Option<u32>) -> FleetTrainPlan {
    plan_with(cat, model, fleet, &request(batch))
}

fn plan_with(cat: &Catalog, model: &str, fleet: &Fleet, r: &TrainRequest) -> FleetTrainPlan {
    let m = cat.model(model).unwrap();
    let pools: Vec<PoolChip> = fleet
        .pools
        .iter()
        .map(|p| PoolChip {
            pool: p,
            chip: cat.chip(&p.chip).unwrap(),
        })
        .collect();
    plan_train(&m, fleet, &pools, r)
}

fn pool(name: &str, chip: &str, nodes: u32) -> Pool {
    Pool {
        name: name.into(),
        chip: chip.into(),
        nodes,
        chips_per_node: 8,
        scale_up_domain: None,
        scale_out_gb_s: None,
    }
}

fn best(p: &FleetTrainPlan) -> &MixedPlan {
    p.mixed
        .iter()
        .filter(|m| m.feasible)
        .max_by(|a, b| a.tokens_per_s.total_cmp(&b.tokens_per_s))
        .unwrap()
}

/// The terms of a mixed plan add up to its step, and its numbers are finite.
fn check_terms(m: &MixedPlan) {
    let sum: f64 = m.terms.iter().map(|t| t.seconds).sum();
    assert!(
        (sum - m.step_time_s).abs() <= 1e-9 * m.step_time_s,
        "{} terms add to {sum}, step {}",
        m.form,
        m.step_time_s
    );
    for t in &m.terms {
        assert!(t.seconds.is_finite(), "{}: {}", m.form, t.name);
    }
    assert!(m.tokens_per_s.is_finite() && m.tokens_per_s > 0.0);
    let tokens = m.global_batch as f64 * 4096.0;
    assert!((tokens / m.step_time_s - m.tokens_per_s).abs() <= 1e-6 * m.tokens_per_s);
}

/// Two halves of one H100 cluster on the same fabric (each chip's own 400 Gb/s NIC),
/// planned as one job across both "pools", reach at least 97% of the homogeneous plan on
/// all the chips at the same batch: dense and MoE models, small and large.
#[test]
fn two_halves_reach_the_homogeneous_plan() {
    let cat = Catalog::builtin().unwrap();
    let h100 = "nvidia-h100-sxm5-80gb";
    let whole = Fleet {
        id: "whole".into(),
        name: "whole".into(),
        description: None,
        pools: vec![pool("all", h100, 128)],
        links: vec![],
    };
    let halves = Fleet {
        id: "halves".into(),
        name: "halves".into(),
        description: None,
        pools: vec![pool("a", h100, 64), pool("b", h100, 64)],
        links: vec![PoolLink::new("a", "b", 50.0, LinkKind::Rdma)],
    };
    for model in ["llama3-8b", "llama3.1-70b", "ernie-4.5-300b-a47b"] {
        for batch in [None, Some(2048)] {
            let w = plan(&cat, model, &whole, batch);
            let homogeneous = w.plans[0].plan.estimate.tokens_per_s;
            let h = plan(&cat, model, &halves, batch);
            for m in &h.mixed {
                if m.feasible {
                    check_terms(m);
                }
            }
            let b = best(&h);
            assert!(
                b.tokens_per_s >= 0.97 * homogeneous,
                "{model} {batch:?}: {} {} tokens/s against {homogeneous} on all chips",
                b.form,
                b.tokens_per_s
            );
            // The same chips cannot beat the homogeneous plan by more than the search's
            // batch granularity allows.
            assert!(
                b.tokens_per_s <= 1.05 * homogeneous,
                "{model}: {}",
                b.tokens_per_s
            );
        }
    }
}

/// On the built-in baidu-2023 fleet, ERNIE 4.5 300B: the mixed plans' terms explain
/// their efficiency; where it is under 90% of the parts, the largest loss is named, and
/// the recommendation says what FlagScale can launch.
#[test]
fn ernie_on_baidu_explains_its_efficiency() {
    let cat = Catalog::builtin().unwrap();
    let fleet = tessera_catalog::fleets::builtin_fleet("baidu-2023")
        .unwrap()
        .unwrap();
    let p = plan(&cat, "ernie-4.5-300b-a47b", &fleet, None);
    assert_eq!(p.mixed.len(), 2);
    let single = p.plans[0].plan.estimate.tokens_per_s;
    for m in &p.mixed {
        assert!(m.feasible, "{}: {}", m.form, m.note);
        check_terms(m);
        assert!(m.efficiency > 0.0 && m.efficiency < 1.0);
        assert_eq!(m.worthwhile, m.tokens_per_s > single);
        if m.efficiency < 0.9 {
            // Against the pools' own speed, which losses are there, and the largest
            // one is not the link: the batch of ~4M tokens is thin over 2,880 chips.
            let ideal = m.terms[0].seconds;
            let losses: Vec<_> = m.terms.iter().skip(1).collect();
            assert!(!losses.is_empty());
            let largest = losses
                .iter()
                .max_by(|a, b| a.seconds.total_cmp(&b.seconds))
                .unwrap();
            assert!(largest.seconds > 0.0);
            assert_ne!(largest.name, "cross-pool gradient exchange");
            assert!(ideal > 0.0 || m.form == "pipeline");
        }
    }
    let pipe = p.mixed.iter().find(|m| m.form == "pipeline").unwrap();
    let launch = pipe.launch.as_ref().unwrap();
    tessera_plan::flagscale::check_hetero(&launch.args).unwrap();
    assert!(
        launch
            .args
            .contains(&"--hetero-use-cpu-communication".to_string())
    );
    assert!(
        p.recommendation.contains("FlagScale"),
        "{}",
        p.recommendation
    );
}

/// A larger global batch gives the fleet's chips more work each: the mixed plans get
/// closer to the parts.
#[test]
fn a_larger_batch_lifts_the_mixed_efficiency() {
    let cat = Catalog::builtin().unwrap();
    let fleet = tessera_catalog::fleets::builtin_fleet("baidu-2023")
        .unwrap()
        .unwrap();
    let small = plan(&cat, "ernie-4.5-300b-a47b", &fleet, Some(1024));
    let large = plan(&cat, "ernie-4.5-300b-a47b", &fleet, Some(8192));
    for form in ["data-parallel", "pipeline"] {
        let s = small.mixed.iter().find(|m| m.form == form).unwrap();
        let l = large.mixed.iter().find(|m| m.form == form).unwrap();
        assert!(
            l.efficiency > s.efficiency,
            "{form}: {} vs {}",
            l.efficiency,
            s.efficiency
        );
        assert_eq!(l.global_batch, 8192);
        assert_eq!(s.global_batch, 1024);
    }
}

/// No mixed plan runs its chips past their dense peak, and a slower link never makes a
/// plan faster; over a link of 0.01 GB/s per chip the data-parallel form is worthless
/// and says so.
#[test]
fn mixed_plans_obey_bounds_and_the_link() {
    let cat = Catalog::builtin().unwrap();
    let base = tessera_catalog::fleets::builtin_fleet("baidu-2023")
        .unwrap()
        .unwrap();
    let model = cat.model("llama3.1-70b").unwrap();
    let flops_per_token = 6.0 * model.matmul_params_per_token() as f64
        + 3.0 * model.attention_flops_per_token_fwd(4096);
    let mut last: Option<(f64, f64)> = None;
    for gb in [100.0, 12.5, 1.0, 0.01] {
        let mut f = base.clone();
        for l in &mut f.links {
            l.gb_s_per_chip = gb;
        }
        let p = plan(&cat, "llama3.1-70b", &f, Some(1024));
        let dp = p.mixed.iter().find(|m| m.form == "data-parallel").unwrap();
        let pp = p.mixed.iter().find(|m| m.form == "pipeline").unwrap();
        for m in [dp, pp] {
            if !m.feasible {
                continue;
            }
            check_terms(m);
            let peak: f64 = m
                .parts
                .iter()
                .map(|x| {
                    let chip = cat.chip(&x.chip).unwrap();
                    let hw = tessera_perf::Hardware::from_chip(chip).unwrap();
                    x.chips as f64 * hw.peak_16
                })
                .sum();
            assert!(
                m.tokens_per_s * flops_per_token < peak,
                "{} at {gb} GB/s: {} tokens/s over the peak",
                m.form,
                m.tokens_per_s
            );
        }
        if let Some((d, q)) = last {
            assert!(
                dp.tokens_per_s <= d * (1.0 + 1e-9),
                "data-parallel faster at {gb} GB/s"
            );
            assert!(
                pp.tokens_per_s <= q * (1.0 + 1e-9),
                "pipeline faster at {gb} GB/s"
            );
        }
        last = Some((dp.tokens_per_s, pp.tokens_per_s));
        if gb == 0.01 {
            assert!(!dp.worthwhile);
            assert!(dp.note.starts_with("worthless"), "{}", dp.note);
            let x = dp
                .terms
                .iter()
                .find(|t| t.name == "cross-pool gradient exchange")
                .unwrap();
            assert!(x.seconds > dp.step_time_s / 2.0, "{}", x.seconds);
        }
    }
}

/// A fleet whose pools are not linked gets no mixed plan, and says so.
#[test]
fn unlinked_pools_get_no_mixed_plan() {
    let cat = Catalog::builtin().unwrap();
    let mut f = tessera_catalog::fleets::builtin_fleet("baidu-2023")
        .unwrap()
        .unwrap();
    f.links.clear();
    let p = plan(&cat, "llama3-8b", &f, None);
    assert!(p.mixed.is_empty());
    assert!(p.recommendation.contains("no link"), "{}", p.recommendation);
}

/// Over random two-pool fleets (chips, sizes, link kind and bandwidth) and models, every
/// feasible mixed plan keeps to the physics: each part fits its chips' memory, uses no
/// more chips than its pool holds, and together they run under the dense peak of the
/// chips used; its terms add up to its step.
#[test]
fn random_mixed_plans_keep_to_the_bounds() {
    let cat = Catalog::builtin().unwrap();
    let chips = [
        "nvidia-h100-sxm5-80gb",
        "nvidia-a800-sxm4-80gb",
        "huawei-ascend-910b2",
        "kunlunxin-p800",
        "nvidia-h20",
    ];
    let models = [
        "llama3-8b",
        "llama3.1-70b",
        "mixtral-8x7b",
        "qwen3-235b-a22b",
    ];
    // A small deterministic generator: the cases are the same on every run.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    for case in 0..10 {
        let (a, b) = (next(5) as usize, next(5) as usize);
        let model = models[next(4) as usize];
        let kind = [LinkKind::Rdma, LinkKind::HostStaged, LinkKind::FlagCx][next(3) as usize];
        let gb = [0.5, 3.0, 12.5, 50.0][next(4) as usize];
        let f = Fleet {
            id: "r".into(),
            name: "r".into(),
            description: None,
            pools: vec![
                pool("p", chips[a], 4 + next(60) as u32),
                pool("q", chips[b], 4 + next(60) as u32),
            ],
            links: vec![PoolLink::new("p", "q", gb, kind)],
        };
        let m = cat.model(model).unwrap();
        let flops_per_token =
            6.0 * m.matmul_params_per_token() as f64 + 3.0 * m.attention_flops_per_token_fwd(4096);
        let p = plan(&cat, model, &f, None);
        for x in p.mixed.iter().filter(|x| x.feasible) {
            check_terms(x);
            let mut peak = 0.0;
            for part in &x.parts {
                let pool = f.pools.iter().find(|q| q.name == part.pool).unwrap();
                assert!(
                    part.chips <= pool.chips(),
                    "case {case}: {} chips",
                    part.chips
                );
                assert!(
                    part.memory_gib_per_chip <= part.capacity_gib + 1e-9,
                    "case {case} {model} {}: {} GiB of {}",
                    x.form,
                    part.memory_gib_per_chip,
                    part.capacity_gib
                );
                let hw = tessera_perf::Hardware::from_chip(cat.chip(&part.chip).unwrap()).unwrap();
                peak += part.chips as f64 * hw.peak_16;
            }
            assert!(
                x.tokens_per_s * flops_per_token < peak,
                "case {case} {model} {} over {:?}: above the peak",
                x.form,
                x.pools
            );
            assert!(x.efficiency.is_finite() && x.efficiency > 0.0);
        }
    }
}

/// A model with tied embeddings (GPT-3 175B): the pipeline form keeps to FlagScale's
/// rule 7 (the same TP on the first and last meshes, one DP dividing the other), so its
/// launch passes FlagScale's checks.
#[test]
fn tied_embeddings_keep_flagscale_rule_7() {
    let cat = Catalog::builtin().unwrap();
    let fleet = tessera_catalog::fleets::builtin_fleet("baidu-2023")
        .unwrap()
        .unwrap();
    assert!(cat.model("gpt3-175b").unwrap().tied_embeddings);
    let r = TrainRequest {
        seq_len: 2048,
        ..request(None)
    };
    let p = plan_with(&cat, "gpt3-175b", &fleet, &r);
    let pipe = p.mixed.iter().find(|x| x.form == "pipeline").unwrap();
    assert!(pipe.feasible, "{}", pipe.note);
    let (f, l) = (
        pipe.parts[0].layout,
        pipe.parts[pipe.parts.len() - 1].layout,
    );
    assert_eq!(f.tp, l.tp);
    assert!(f.dp % l.dp == 0 || l.dp % f.dp == 0);
    tessera_plan::flagscale::check_hetero(&pipe.launch.as_ref().unwrap().args).unwrap();
}

/// A batch too small to pipeline is a reason, not a false one about memory.
#[test]
fn a_batch_too_small_to_pipeline_says_so() {
    let cat = Catalog::builtin().unwrap();
    let fleet = tessera_catalog::fleets::builtin_fleet("baidu-2023")
        .unwrap()
        .unwrap();
    let p = plan(&cat, "llama3-8b", &fleet, Some(3));
    let pipe = p.mixed.iter().find(|x| x.form == "pipeline").unwrap();
    assert!(!pipe.feasible && pipe.parts.is_empty());
    assert!(
        pipe.note.contains("4 or more micro-batches"),
        "{}",
        pipe.note
    );
    assert_eq!(pipe.tokens_per_s, 0.0);
}
