//! Speed of mixed-vendor planning: `cargo bench -p tessera-plan --bench mixed`.
//! Target (issue 16): the mixed search over three pools of up to 10,000 chips each under
//! 1 s.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tessera_catalog::Catalog;
use tessera_core::fleet::{Fleet, LinkKind, Pool, PoolLink};
use tessera_plan::fleet::{Objective, PoolChip, TrainRequest, plan_train};
use tessera_plan::mixed::{MixedJob, MixedPool, data_parallel, pipeline};

fn pool(name: &str, chip: &str) -> Pool {
    Pool {
        name: name.into(),
        chip: chip.into(),
        nodes: 1250,
        chips_per_node: 8,
        scale_up_domain: None,
        scale_out_gb_s: None,
    }
}

fn bench(c: &mut Criterion) {
    let cat = Catalog::builtin().expect("catalog");
    let fleet = Fleet {
        id: "three-by-10k".into(),
        name: "10,000 Ascend 910B, 10,000 A800, 10,000 Kunlun P800".into(),
        description: None,
        pools: vec![
            pool("ascend", "huawei-ascend-910b2"),
            pool("a800", "nvidia-a800-sxm4-80gb"),
            pool("p800", "kunlunxin-p800"),
        ],
        links: vec![
            PoolLink::new("ascend", "a800", 12.5, LinkKind::HostStaged),
            PoolLink::new("ascend", "p800", 12.5, LinkKind::HostStaged),
            PoolLink::new("a800", "p800", 25.0, LinkKind::Rdma),
        ],
    };
    let pools: Vec<PoolChip> = fleet
        .pools
        .iter()
        .map(|p| PoolChip {
            pool: p,
            chip: cat.chip(&p.chip).expect("chip"),
        })
        .collect();
    let r = TrainRequest {
        seq_len: 4096,
        global_batch: None,
        precision: tessera_perf::train::TrainPrecision::Bf16,
        tokens: None,
        top: 5,
        objective: Objective::Time,
        stack: None,
        framework: None,
    };
    let mut g = c.benchmark_group("plan_train_mixed");
    g.sample_size(10);
    for model in ["ernie-4.5-300b-a47b", "llama3.1-405b"] {
        let m = cat.model(model).expect("model");
        let p = plan_train(&m, &fleet, &pools, &r);
        eprintln!(
            "{model}: {}",
            p.mixed
                .iter()
                .map(|x| format!(
                    "{} {:.0} tokens/s ({:.1}%)",
                    x.form,
                    x.tokens_per_s,
                    x.efficiency * 100.0
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        g.bench_function(format!("{model}/3x10000/whole-plan"), |b| {
            b.iter(|| plan_train(black_box(&m), black_box(&fleet), &pools, &r))
        });
    }
    let baidu = tessera_catalog::fleets::builtin_fleet("baidu-2023")
        .expect("built in")
        .expect("parses");
    let bpools: Vec<PoolChip> = baidu
        .pools
        .iter()
        .map(|p| PoolChip {
            pool: p,
            chip: cat.chip(&p.chip).expect("chip"),
        })
        .collect();
    let m = cat.model("ernie-4.5-300b-a47b").expect("model");
    g.bench_function("ernie-4.5-300b-a47b/baidu-2023/whole-plan", |b| {
        b.iter(|| plan_train(black_box(&m), black_box(&baidu), &bpools, &r))
    });
    // The two mixed forms alone, on the pools' own best rates from the whole plan.
    let whole = plan_train(&m, &baidu, &bpools, &r);
    let setup: Vec<_> = bpools
        .iter()
        .map(|pc| {
            let chip = pc.chip;
            let hw = tessera_plan::fleet::pool_hardware(chip, pc.pool).expect("hw");
            let stack = tessera_perf::calib::Stack::default_for(chip);
            let eff = tessera_perf::calib::Efficiency::for_family(
                tessera_perf::calib::Family::of(chip),
                stack,
                tessera_perf::train::TrainPrecision::Bf16,
            );
            let fw = tessera_plan::launch::TrainFramework::default_for(&chip.vendor);
            let alone = whole
                .pools
                .iter()
                .find(|n| n.pool == pc.pool.name)
                .and_then(|n| n.best_tokens_per_s)
                .expect("a plan");
            (
                pc.pool.name.clone(),
                chip.id.clone(),
                hw,
                eff,
                pc.pool.chips(),
                fw,
                alone,
            )
        })
        .collect();
    let mpools: Vec<MixedPool> = setup
        .iter()
        .map(|(name, chip, hw, eff, chips, fw, alone)| MixedPool {
            name,
            chip,
            hw,
            eff,
            chips: *chips,
            opts: tessera_plan::train::SearchOptions::for_framework(*fw),
            alone_tokens_per_s: *alone,
        })
        .collect();
    let job = MixedJob {
        seq_len: 4096,
        global_batch: r.batch(),
        tolerance_pct: 25,
        precision: tessera_perf::train::TrainPrecision::Bf16,
    };
    g.bench_function("ernie-4.5-300b-a47b/baidu-2023/data-parallel", |b| {
        b.iter(|| data_parallel(black_box(&m), &mpools, &baidu.links, &job))
    });
    g.bench_function("ernie-4.5-300b-a47b/baidu-2023/pipeline", |b| {
        b.iter(|| pipeline(black_box(&m), &mpools, &baidu.links, &job))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
