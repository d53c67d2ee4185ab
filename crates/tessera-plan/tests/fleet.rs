//! The fleet-level use cases: planning over every pool of a fleet, and the per-chip-type
//! speed table the scheduler uses.

#![allow(clippy::unwrap_used)]

use tessera_catalog::Catalog;
use tessera_plan::fleet::{
    Objective, PoolChip, ServeRequest, TrainRequest, plan_serve_fleet, plan_train,
};
use tessera_plan::speed::{SPEED_JOB, SpeedTable};
use tessera_plan::train::{SearchOptions, search};

fn request(objective: Objective) -> TrainRequest {
    TrainRequest {
        seq_len: 4096,
        global_batch: None,
        precision: tessera_perf::train::TrainPrecision::Bf16,
        tokens: Some(1e12),
        top: 4,
        objective,
        stack: None,
        framework: None,
    }
}

/// Over the built-in Baidu fleet: plans are ranked by the objective, numbered from 1,
/// none of them is also listed as rejected, every pool has a note, and the mixed plans
/// and recommendation are there.
#[test]
fn fleet_train_plan_ranks_and_explains() {
    let cat = Catalog::builtin().unwrap();
    let fleet = tessera_catalog::fleets::builtin_fleet("baidu-2023")
        .unwrap()
        .unwrap();
    let model = cat.model("llama3-70b").unwrap();
    let pools: Vec<PoolChip> = fleet
        .pools
        .iter()
        .map(|p| PoolChip {
            pool: p,
            chip: cat.chip(&p.chip).unwrap(),
        })
        .collect();
    for objective in [Objective::Time, Objective::Cost] {
        let p = plan_train(&model, &fleet, &pools, &request(objective));
        assert!(!p.plans.is_empty() && p.plans.len() <= 4);
        for (i, x) in p.plans.iter().enumerate() {
            assert_eq!(x.rank, i + 1);
            assert!(x.plan.estimate.fits);
            assert!(x.chips <= x.pool_chips);
            let days = x.days_to_train.unwrap();
            assert!((days - 1e12 / x.plan.estimate.tokens_per_s / 86_400.0).abs() < 1e-9);
        }
        for w in p.plans.windows(2) {
            match objective {
                Objective::Time => {
                    assert!(w[0].plan.estimate.tokens_per_s >= w[1].plan.estimate.tokens_per_s)
                }
                Objective::Cost => {
                    if let (Some(a), Some(b)) =
                        (w[0].usd_per_million_tokens, w[1].usd_per_million_tokens)
                    {
                        assert!(a <= b)
                    }
                }
            }
        }
        for r in &p.rejected {
            assert!(
                !p.plans
                    .iter()
                    .any(|x| x.pool == r.pool && x.plan.layout == r.rejected.layout)
            );
        }
        assert_eq!(p.pools.len(), fleet.pools.len());
        assert_eq!(p.mixed.len(), 2, "{}", p.recommendation);
        assert!(p.recommendation.starts_with("run "), "{}", p.recommendation);
    }
}

/// A serving plan over the fleet is sorted by cost per output token and meets the
/// request's latency limits at p99.
#[test]
fn fleet_serve_plan_meets_its_limits() {
    let cat = Catalog::builtin().unwrap();
    let fleet = tessera_catalog::fleets::builtin_fleet("baidu-2023")
        .unwrap()
        .unwrap();
    let model = cat.model("llama3-70b").unwrap();
    let pools: Vec<PoolChip> = fleet
        .pools
        .iter()
        .map(|p| PoolChip {
            pool: p,
            chip: cat.chip(&p.chip).unwrap(),
        })
        .collect();
    let r = ServeRequest {
        rate: 20.0,
        input_len: 1000,
        output_len: 200,
        precision: tessera_perf::serve::ServePrecision::Bf16,
        ttft_slo_s: Some(2.0),
        tpot_slo_s: Some(0.2),
        top: 5,
        stack: None,
    };
    let p = plan_serve_fleet(&model, &fleet, &pools, &r);
    assert!(!p.plans.is_empty());
    for x in &p.plans {
        assert!(x.plan.per_replica.ttft_p99_s <= 2.0 + 1e-9);
        assert!(x.plan.per_replica.tpot_p99_s <= 0.2 + 1e-9);
        assert!(x.plan.chips <= fleet.pool(&x.pool).unwrap().chips());
    }
    for w in p.plans.windows(2) {
        if let (Some(a), Some(b)) = (
            w[0].plan.usd_per_million_output_tokens,
            w[1].plan.usd_per_million_output_tokens,
        ) {
            assert!(a <= b);
        }
    }
}

/// The speed table gives what the planner's search gives, per type and in the
/// cluster's order, and searches each (model, chips) pair once.
#[test]
fn speed_table_matches_the_search_and_caches() {
    let cat = Catalog::builtin().unwrap();
    let chips = [
        cat.chip("huawei-ascend-910b2").unwrap(),
        cat.chip("nvidia-a800-sxm4-80gb").unwrap(),
    ];
    let mut t = SpeedTable::new(&chips).unwrap();
    let m = cat.model("llama3-8b").unwrap();
    let got = t.speeds(&m, 16).to_vec();
    assert_eq!(got.len(), 2);
    for (c, &v) in chips.iter().zip(&got) {
        let hw = tessera_perf::Hardware::from_chip(c).unwrap();
        let eff = tessera_perf::calib::Efficiency::for_family(
            tessera_perf::calib::Family::of(c),
            tessera_perf::calib::Stack::default_for(c),
            SPEED_JOB.precision,
        );
        let o = SearchOptions::for_framework(tessera_plan::launch::TrainFramework::default_for(
            &c.vendor,
        ));
        let want = search(&m, &hw, &eff, &SPEED_JOB, 16, 1, &o).plans[0]
            .estimate
            .tokens_per_s;
        assert_eq!(v, want);
        assert!(v > 0.0);
    }
    t.speeds(&m, 16);
    assert_eq!(t.cached(), 1);
    t.speeds(&m, 8);
    assert_eq!(t.cached(), 2);
    // Prices only when every type has one.
    let priced = chips.iter().all(|c| {
        tessera_perf::Hardware::from_chip(c)
            .unwrap()
            .price_usd
            .is_some()
    });
    assert_eq!(t.prices().is_some(), priced);
    let h = cat.chip("nvidia-h100-sxm5-80gb").unwrap();
    let t = SpeedTable::new(&[h, h]).unwrap();
    assert_eq!(t.prices().map(|p| p.len()), Some(2));
}

fn link(kind: tessera_core::fleet::LinkKind, gb_s: f64) -> tessera_core::fleet::PoolLink {
    tessera_core::fleet::PoolLink {
        a: String::new(),
        b: String::new(),
        gb_s_per_chip: gb_s,
        kind,
        latency_s: kind.default_latency_s(),
        copy_gb_s: tessera_core::fleet::DEFAULT_COPY_GB_S,
    }
}

/// The scheduler's gangs across types: split in whole nodes, over both types, launchable
/// (FlagScale's pipeline), on two halves of one H100 fabric no faster than the whole job
/// on one type and not far below it, within the chips' peak FLOP/s; none without a link.
#[test]
fn speed_table_gangs_across_types() {
    use tessera_core::fleet::LinkKind;
    use tessera_plan::speed::gang_splits;
    assert_eq!(gang_splits(64), vec![(16, 48), (32, 32), (48, 16)]);
    assert_eq!(gang_splits(20), vec![(5, 15), (10, 10), (15, 5)]);
    assert_eq!(gang_splits(2), vec![(1, 1)]);
    assert!(gang_splits(1).is_empty());

    let cat = Catalog::builtin().unwrap();
    let h = cat.chip("nvidia-h100-sxm5-80gb").unwrap();
    let mut t = SpeedTable::new(&[h, h]).unwrap();
    let m = cat.model("llama3-8b").unwrap();
    assert!(t.gangs(&m, 64, |_, _| None).is_empty());
    let mut t = SpeedTable::new(&[h, h]).unwrap();
    let whole = t.speeds(&m, 64)[0];
    let gangs = t
        .gangs(&m, 64, |_, _| Some(link(LinkKind::Rdma, 50.0)))
        .to_vec();
    assert_eq!(gangs.len(), 3, "{gangs:?}");
    for g in &gangs {
        assert_eq!(g.uses.len(), 2);
        assert_eq!((g.uses[0].0, g.uses[1].0), (0, 1));
        let used: u32 = g.uses.iter().map(|u| u.1).sum();
        assert!(used <= 64 && g.uses.iter().all(|u| u.1 > 0), "{g:?}");
        // Two halves of one fabric: at most the whole job on one type.
        assert!(g.tokens_per_s <= whole * 1.0001, "{g:?} vs {whole}");
        assert_eq!(g.form, "pipeline", "only FlagScale's pipeline is launched");
    }
    // The pipeline over the two halves pays its fill and drain and the boundary
    // transfers against the whole job's pure data parallelism: 89.3% at the even split
    // when this test was written.
    let even = gangs
        .iter()
        .find(|g| g.uses == vec![(0, 32), (1, 32)])
        .unwrap();
    assert!(
        even.tokens_per_s >= 0.85 * whole,
        "{} vs {whole}",
        even.tokens_per_s
    );

    // Ascend beside A800 over host-staged 12.5 GB/s links: a gang exists, within the
    // two parts' peak FLOP/s.
    let chips = [
        cat.chip("huawei-ascend-910b2").unwrap(),
        cat.chip("nvidia-a800-sxm4-80gb").unwrap(),
    ];
    let mut t = SpeedTable::new(&chips).unwrap();
    let m = cat.model("llama2-13b").unwrap();
    let gangs = t
        .gangs(&m, 32, |_, _| Some(link(LinkKind::HostStaged, 12.5)))
        .to_vec();
    assert!(!gangs.is_empty());
    let peak: Vec<f64> = chips
        .iter()
        .map(|c| tessera_perf::Hardware::from_chip(c).unwrap().peak_16)
        .collect();
    for g in &gangs {
        assert!(g.uses.iter().all(|u| u.1 > 0), "{g:?}");
        // No more model FLOP/s than the two parts' peaks together.
        let flops = g.tokens_per_s * m.train_flops_per_token(SPEED_JOB.seq_len as u64);
        let bound: f64 = g.uses.iter().map(|&(t, c)| c as f64 * peak[t]).sum();
        assert!(flops < bound, "{g:?}: {flops} > {bound}");
    }
}

/// Elastic shapes: half and twice the job's chips on each type where a layout fits, at
/// the speed table's speed for that size.
#[test]
fn speed_table_shapes_are_other_sizes_on_one_type() {
    let cat = Catalog::builtin().unwrap();
    let chips = [
        cat.chip("huawei-ascend-910b2").unwrap(),
        cat.chip("nvidia-a800-sxm4-80gb").unwrap(),
    ];
    let mut t = SpeedTable::new(&chips).unwrap();
    let m = cat.model("llama2-13b").unwrap();
    let shapes = t.shapes(&m, 16);
    assert_eq!(shapes.len(), 4, "{shapes:?}");
    for g in &shapes {
        assert_eq!(g.form, "elastic");
        assert_eq!(g.uses.len(), 1);
        let (ty, w) = g.uses[0];
        assert!(w == 8 || w == 32, "{g:?}");
        assert_eq!(g.tokens_per_s, t.speeds(&m, w)[ty]);
    }
    assert!(t.shapes(&m, 1).iter().all(|g| g.uses[0].1 == 2));
}

/// A job split over nodes: for each smallest share p = 1, 2, 4, ... below its chips,
/// its speed is positive where it runs whole (every type here has a scale-out network),
/// never above its speed on whole domains, and never lower for a larger share; at a
/// share of the type's whole domain it is the whole speed.
#[test]
fn speed_table_piece_speeds_are_bounded_by_whole_domains() {
    let cat = Catalog::builtin().unwrap();
    let chips = [
        cat.chip("huawei-ascend-910b2").unwrap(),
        cat.chip("nvidia-a800-sxm4-80gb").unwrap(),
        cat.chip("kunlunxin-p800").unwrap(),
    ];
    let mut t = SpeedTable::new(&chips).unwrap();
    for (model, n) in [("llama2-7b", 8u32), ("llama2-70b", 16), ("llama3-70b", 32)] {
        let m = cat.model(model).unwrap();
        let whole = t.speeds(&m, n).to_vec();
        let pieces = t.piece_speeds(&m, n).to_vec();
        let ps: Vec<u32> = pieces.iter().map(|(p, _)| *p).collect();
        let want: Vec<u32> = (0..).map(|k| 1u32 << k).take_while(|&p| p < n).collect();
        assert_eq!(ps, want, "{model}");
        for ty in 0..chips.len() {
            if whole[ty] <= 0.0 {
                continue;
            }
            let mut last = 0.0;
            for (p, v) in &pieces {
                assert!(v[ty] > 0.0, "{model} on {}: share {p}: {v:?}", chips[ty].id);
                assert!(v[ty] <= whole[ty] * (1.0 + 1e-12), "{model}: share {p}");
                assert!(
                    v[ty] >= last,
                    "{model}: share {p} slower than a smaller one"
                );
                last = v[ty];
                if *p >= 8 {
                    assert_eq!(v[ty], whole[ty], "{model}: a share of a whole domain");
                }
            }
        }
        // Splitting costs something somewhere: one chip per node (every collective on
        // the network) is slower than whole domains on some type.
        assert!(
            (0..chips.len()).any(|ty| pieces[0].1[ty] < whole[ty]),
            "{model}: {pieces:?} vs {whole:?}"
        );
    }
}

/// With node boundaries, a job's other sizes (`elastic`) carry their own split speeds on
/// their type, each at most that size's speed on whole domains; without nodes, none.
#[test]
fn elastic_sizes_carry_their_split_speeds() {
    let cat = Catalog::builtin().unwrap();
    let chips = [
        cat.chip("huawei-ascend-910b2").unwrap(),
        cat.chip("kunlunxin-p800").unwrap(),
    ];
    let mut t = SpeedTable::new(&chips).unwrap();
    let m = cat.model("llama2-70b").unwrap();
    let models: std::collections::BTreeMap<String, _> = [("llama2-70b".to_string(), m.clone())]
        .into_iter()
        .collect();
    let list = [tessera_core::sched::LlmJob {
        model: "llama2-70b".into(),
        chips: 16,
        tokens: 1e9,
        arrival_s: 0.0,
        weight: 1.0,
        priority: 0,
        line: 1,
    }];
    let with = tessera_plan::whatif::llm_sim_jobs(&mut t, &list, &models, None, true, true);
    let shapes = &with.jobs[0].mixed;
    assert!(!shapes.is_empty());
    for s in shapes {
        let [(ty, w)] = s.uses[..] else {
            panic!("{s:?}")
        };
        let want = t.piece_speeds(&m, w).to_vec();
        let [pieces] = &s.pieces[..] else {
            panic!("one part: {s:?}")
        };
        assert_eq!(pieces.len(), want.len(), "{s:?}");
        for ((p, r), (wp, wv)) in pieces.iter().zip(&want) {
            assert_eq!((p, *r), (wp, wv[ty]));
            assert!(*r <= s.throughput * (1.0 + 1e-12), "{s:?}");
        }
    }
    let without = tessera_plan::whatif::llm_sim_jobs(&mut t, &list, &models, None, true, false);
    assert!(without.jobs[0].mixed.iter().all(|s| s.pieces.is_empty()));
    assert_eq!(without.jobs[0].mixed.len(), shapes.len());
}

/// A gang across types split over nodes: each part has its own split speeds (shares 1,
/// 2, 4, ... below its chips), each positive, at most the gang's speed on whole domains
/// and never lower for a larger share, the whole speed from a share of a whole domain;
/// splitting one part costs something for some gang. Without node boundaries, none.
#[test]
fn gangs_split_over_nodes_are_bounded_by_whole_domains() {
    use tessera_core::fleet::LinkKind;
    let cat = Catalog::builtin().unwrap();
    let chips = [
        cat.chip("huawei-ascend-910b2").unwrap(),
        cat.chip("nvidia-a800-sxm4-80gb").unwrap(),
    ];
    let mut t = SpeedTable::new(&chips).unwrap();
    let l = link(LinkKind::Rdma, 25.0);
    let mut slower = false;
    for (model, n) in [("llama2-7b", 8u32), ("llama2-13b", 16)] {
        let m = cat.model(model).unwrap();
        let plain = t.gangs(&m, n, |_, _| Some(l.clone())).to_vec();
        let split = t.gangs_on_nodes(&m, n, |_, _| Some(l.clone())).to_vec();
        assert!(!split.is_empty(), "{model}");
        assert_eq!(plain.len(), split.len(), "{model}");
        for (g, s) in plain.iter().zip(&split) {
            assert!(g.pieces.is_empty());
            assert_eq!((&g.uses, g.tokens_per_s), (&s.uses, s.tokens_per_s));
            assert_eq!(s.pieces.len(), s.uses.len(), "{s:?}");
            for (&(ty, w), pieces) in s.uses.iter().zip(&s.pieces) {
                let ps: Vec<u32> = pieces.iter().map(|(p, _)| *p).collect();
                let want: Vec<u32> = (0..).map(|k| 1u32 << k).take_while(|&p| p < w).collect();
                assert_eq!(ps, want, "{model}: {s:?}");
                let mut last = 0.0;
                for &(p, r) in pieces {
                    assert!(r > 0.0, "{model} on {}: share {p}: {s:?}", chips[ty].id);
                    assert!(r <= s.tokens_per_s * (1.0 + 1e-12), "{model}: {s:?}");
                    assert!(r >= last, "{model}: share {p} slower than a smaller one");
                    last = r;
                    if p >= 8 {
                        assert_eq!(r, s.tokens_per_s, "{model}: a whole domain");
                    }
                    slower |= r < s.tokens_per_s * 0.999;
                }
            }
        }
    }
    assert!(slower, "splitting a part never cost anything");
}
