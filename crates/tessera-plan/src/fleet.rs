//! Planning over a fleet: the use case behind `tessera plan train` and `plan serve`, and
//! behind the server's planning endpoints. Each pool is searched with its own chip,
//! stack and framework; the plans are ranked by the objective; mixed-vendor plans are
//! tried where the fleet states a link; and a recommendation is written.
//!
//! The caller resolves each pool's chip from its catalog (this crate does no IO) and
//! renders the result; a pool that cannot be planned is a note with its reason, not an
//! error.

use crate::launch::{Launch, TrainFramework, serve_args, train_args};
use crate::mixed::{MixedJob, MixedPlan, MixedPool, data_parallel, pipeline};
use crate::serve::{ServePlan, ServeTarget, chip_hour_usd, plan_serve, why_no_plan};
use crate::train::{Plan, Rejected, SearchOptions, search_pool};
use tessera_core::chip::{Chip, Precision};
use tessera_core::fleet::{Fleet, Pool};
use tessera_core::model::ModelArch;
use tessera_core::num::num;
use tessera_perf::Hardware;
use tessera_perf::calib::{
    Efficiency, Family, ServeStack, Stack, calibration_note, serve_efficiency,
};
use tessera_perf::hw::{unverified_inputs, with_unverified};
use tessera_perf::serve::{Load, ServeJob, ServePrecision};
use tessera_perf::train::{TrainJob, TrainPrecision};

/// A pool with its chip, as the caller's catalog resolved it.
#[derive(Debug, Clone, Copy)]
pub struct PoolChip<'a> {
    pub pool: &'a Pool,
    pub chip: &'a Chip,
}

/// What the ranking of training plans optimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// Most tokens per second.
    Time,
    /// Least USD per million tokens (plans of unknown cost last).
    Cost,
}

impl Objective {
    pub fn as_str(self) -> &'static str {
        match self {
            Objective::Time => "time",
            Objective::Cost => "cost",
        }
    }
}

/// How far (percent) a plan's global batch may be from the default of about 4M tokens
/// when the request gives no global batch (docs/planner.md).
pub const BATCH_TOLERANCE_PCT: u8 = 25;

/// A training job to plan over a fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainRequest {
    pub seq_len: u32,
    /// Sequences per step; `None`: about 4M tokens, within [`BATCH_TOLERANCE_PCT`].
    pub global_batch: Option<u32>,
    pub precision: TrainPrecision,
    /// Tokens to train on, for days and cost to train.
    pub tokens: Option<f64>,
    /// Plans to keep (at least 1).
    pub top: usize,
    pub objective: Objective,
    /// The software stack for every pool; `None`: each chip's default.
    pub stack: Option<Stack>,
    /// The framework for every pool; `None`: each vendor's default.
    pub framework: Option<TrainFramework>,
}

impl TrainRequest {
    /// The global batch in sequences: the request's, or about 4M tokens.
    pub fn batch(&self) -> u32 {
        self.global_batch.unwrap_or_else(|| {
            ((4.0 * 1024.0 * 1024.0 / self.seq_len.max(1) as f64).round() as u32).max(1)
        })
    }
}

/// One ranked training plan.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedTrainPlan {
    /// 1 for the best.
    pub rank: usize,
    pub pool: String,
    pub chip: String,
    /// Chips the plan uses; `pool_chips` the pool holds (the rest stay idle).
    pub chips: u64,
    pub pool_chips: u64,
    pub stack: Stack,
    pub plan: Plan,
    pub seq_len: u32,
    pub usd_per_million_tokens: Option<f64>,
    pub days_to_train: Option<f64>,
    pub cost_to_train_usd: Option<f64>,
    pub calibrated: bool,
    pub launch: Launch,
}

/// What became of one pool: its best throughput, or why it has no plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolNote {
    pub pool: String,
    pub chip: String,
    pub chips: u64,
    pub best_tokens_per_s: Option<f64>,
    pub note: String,
}

/// A layout that lost, in the pool where it lost.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolRejected {
    pub pool: String,
    pub rejected: Rejected,
}

/// The plan of a training job over a fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetTrainPlan {
    pub model: String,
    pub fleet: String,
    pub objective: Objective,
    /// Best first, at most the request's `top`.
    pub plans: Vec<RankedTrainPlan>,
    pub evaluated: u64,
    pub pruned: u64,
    /// The best layouts that lost, none of them among `plans`.
    pub rejected: Vec<PoolRejected>,
    pub pools: Vec<PoolNote>,
    pub mixed: Vec<MixedPlan>,
    pub recommendation: String,
}

/// USD per chip-hour of a training chip: price over 4 years plus energy at 0.10 USD/kWh.
pub fn train_chip_hour_usd(hw: &Hardware) -> Option<f64> {
    chip_hour_usd(hw, 4.0, 0.10)
}

/// A pool's hardware: catalog figures with the pool's own scale-up domain and scale-out
/// bandwidth; the error names the figures the catalog lacks.
pub fn pool_hardware(chip: &Chip, pool: &Pool) -> Result<Hardware, String> {
    let mut c = chip.clone();
    if let Some(g) = pool.scale_out_gb_s {
        c.scale_out_gb_s = Some(tessera_core::Figure::new(
            g,
            tessera_core::Status::User,
            format!("fleet pool {}", pool.name),
        ));
    }
    let mut hw = Hardware::from_chip(&c).map_err(|m| {
        format!(
            "the catalog lacks {} for {}; add them with --catalog FILE",
            m.join(", "),
            chip.id
        )
    })?;
    if let Some(d) = pool.scale_up_domain {
        hw.domain = d;
    }
    Ok(hw)
}

/// Why a pool has no plan: the state that must exist (bf16 weights, fp32 gradients, Adam
/// states: 18 bytes per parameter) against the pool's memory, else the layouts' memory.
pub fn no_train_plan_reason(model: &ModelArch, hw: &Hardware, chips: u64) -> String {
    let gib = 1024.0 * 1024.0 * 1024.0;
    let state = 18.0 * model.total_params() as f64;
    let have = hw.mem_bytes * chips as f64;
    if state > have {
        format!(
            "no layout fits in memory: the weights, gradients and Adam states alone are {:.0} GiB, \
             more than the {:.0} GiB of all {chips} chips together",
            state / gib,
            have / gib
        )
    } else {
        "no layout fits in memory (state plus activations exceed each chip's memory in every layout searched)".into()
    }
}

/// Plans a training job over the fleet's pools (`pools`: those to search, with their
/// chips), ranks the plans, tries mixed-vendor plans and recommends one.
pub fn plan_train(
    model: &ModelArch,
    fleet: &Fleet,
    pools: &[PoolChip<'_>],
    r: &TrainRequest,
) -> FleetTrainPlan {
    let precision = r.precision;
    let (mut evaluated, mut pruned) = (0u64, 0u64);
    let mut all: Vec<RankedTrainPlan> = Vec::new();
    let mut notes = Vec::new();
    let mut bests: Vec<Searched> = Vec::new();
    let mut rejected = Vec::new();
    for &PoolChip { pool, chip } in pools {
        let n = pool.chips();
        let note = |text: String| PoolNote {
            pool: pool.name.clone(),
            chip: chip.id.clone(),
            chips: n,
            best_tokens_per_s: None,
            note: text,
        };
        let stack = r.stack.unwrap_or_else(|| Stack::default_for(chip));
        let eff = Efficiency::for_family(Family::of(chip), stack, precision);
        let hw = match pool_hardware(chip, pool) {
            Ok(h) => h,
            Err(why) => {
                notes.push(note(format!("not planned: {why}")));
                continue;
            }
        };
        let job = TrainJob {
            seq_len: r.seq_len,
            global_batch: r.batch(),
            precision,
            dropout: false,
            flash_attention: true,
            grad_reduce: Default::default(),
        };
        if precision == TrainPrecision::Fp8 && hw.peak_fp8.is_none() {
            notes.push(note(format!(
                "not planned: the catalog has no fp8 peak for {}, so fp8 training cannot be estimated",
                chip.id
            )));
            continue;
        }
        let fw = r
            .framework
            .unwrap_or_else(|| TrainFramework::default_for(&chip.vendor));
        if precision == TrainPrecision::Fp8 && !fw.capabilities().fp8 {
            notes.push(note(format!(
                "not planned: {} has no fp8 training recipe",
                fw.as_str()
            )));
            continue;
        }
        // Only what the framework can run; the batch exact when given, else the nearest
        // within BATCH_TOLERANCE_PCT of about 4M tokens.
        let opts = SearchOptions {
            batch_tolerance_pct: if r.global_batch.is_some() {
                0
            } else {
                BATCH_TOLERANCE_PCT
            },
            ..SearchOptions::for_framework(fw)
        };
        let ps = search_pool(model, &hw, &eff, &job, n, r.top.max(1), &opts);
        let res = ps.result;
        evaluated += res.evaluated;
        pruned += res.pruned;
        let chip_hour = train_chip_hour_usd(&hw);
        match res.plans.first() {
            None => notes.push(note(no_train_plan_reason(model, &hw, n))),
            Some(b) => {
                bests.push(Searched {
                    name: pool.name.clone(),
                    chip: chip.id.clone(),
                    hw,
                    eff,
                    chips: n,
                    opts: SearchOptions {
                        batch_tolerance_pct: 0,
                        ..opts
                    },
                    tokens_per_s: b.estimate.tokens_per_s,
                });
                let cal = with_unverified(
                    calibration_note(Family::of(chip), stack, precision),
                    &unverified_inputs(chip, precision == TrainPrecision::Fp8),
                )
                .replace('\n', "; ");
                let text = match ps.idle {
                    Some(i) => format!(
                        "uses {} of {} chips (a count the layout's degrees divide better); \
                         the {} left idle {}; {cal}",
                        num(b.layout.chips() as f64),
                        num(n as f64),
                        num(i.chips as f64),
                        match i.same_job_tokens_per_s {
                            Some(t) => format!(
                                "could run the same job alone at {} tokens/s, or other work",
                                num(t)
                            ),
                            None => "are too few for this job; free for other work".into(),
                        }
                    ),
                    None => cal,
                };
                notes.push(PoolNote {
                    best_tokens_per_s: Some(b.estimate.tokens_per_s),
                    ..note(text)
                });
            }
        }
        rejected.extend(res.rejected.iter().map(|x| PoolRejected {
            pool: pool.name.clone(),
            rejected: x.clone(),
        }));
        for p in res.plans {
            let used = p.layout.chips();
            let usd_per_m =
                chip_hour.map(|c| c * used as f64 / (p.estimate.tokens_per_s * 3600.0) * 1e6);
            all.push(RankedTrainPlan {
                rank: 0,
                pool: pool.name.clone(),
                chip: chip.id.clone(),
                chips: used,
                pool_chips: n,
                stack,
                seq_len: r.seq_len,
                usd_per_million_tokens: usd_per_m,
                days_to_train: r.tokens.map(|t| t / p.estimate.tokens_per_s / 86_400.0),
                cost_to_train_usd: r.tokens.and_then(|t| usd_per_m.map(|u| u * t / 1e6)),
                calibrated: eff.calibrated,
                launch: train_args(fw, model, &p.layout, r.seq_len, p.global_batch, precision),
                plan: p,
            });
        }
    }
    rank_train(&mut all, r.objective);
    all.truncate(r.top.max(1));
    for (i, p) in all.iter_mut().enumerate() {
        p.rank = i + 1;
    }
    // A layout shown among the plans did not lose: explain only the others.
    rejected.retain(|x| {
        !all.iter()
            .any(|p| p.pool == x.pool && p.plan.layout == x.rejected.layout)
    });
    let (mixed, recommendation) = mixed_plans(model, fleet, &bests, r);
    let recommendation = recommendation.unwrap_or_else(|| match all.first() {
        Some(p) => format!("run on {} with the top plan", p.pool),
        None => "no pool can run this job".into(),
    });
    FleetTrainPlan {
        model: model.id.clone(),
        fleet: fleet.id.clone(),
        objective: r.objective,
        plans: all,
        evaluated,
        pruned,
        rejected,
        pools: notes,
        mixed,
        recommendation,
    }
}

/// Sorts training plans by the objective, best first.
fn rank_train(all: &mut [RankedTrainPlan], objective: Objective) {
    let tps = |p: &RankedTrainPlan| p.plan.estimate.tokens_per_s;
    match objective {
        Objective::Time => all.sort_by(|x, y| tps(y).total_cmp(&tps(x))),
        Objective::Cost => {
            all.sort_by(
                |x, y| match (x.usd_per_million_tokens, y.usd_per_million_tokens) {
                    (Some(p), Some(q)) => p.total_cmp(&q),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => tps(y).total_cmp(&tps(x)),
                },
            )
        }
    }
}

/// A pool that has a plan, with what the mixed planner needs of it.
struct Searched {
    name: String,
    chip: String,
    hw: Hardware,
    eff: Efficiency,
    chips: u64,
    opts: SearchOptions,
    tokens_per_s: f64,
}

/// Mixed-vendor plans over the pools that have a plan and a stated link, and the
/// recommendation they lead to (`None`: fewer than two pools have a plan).
fn mixed_plans(
    model: &ModelArch,
    fleet: &Fleet,
    bests: &[Searched],
    r: &TrainRequest,
) -> (Vec<MixedPlan>, Option<String>) {
    if bests.len() < 2 {
        return (Vec::new(), None);
    }
    let linked = bests.iter().enumerate().any(|(i, a)| {
        bests[i + 1..]
            .iter()
            .any(|b| fleet.link(&a.name, &b.name).is_some())
    });
    if !linked {
        return (
            Vec::new(),
            Some("the fleet states no link between these pools, so no mixed plan was made".into()),
        );
    }
    let pools: Vec<MixedPool<'_>> = bests
        .iter()
        .map(|b| MixedPool {
            name: &b.name,
            chip: &b.chip,
            hw: &b.hw,
            eff: &b.eff,
            chips: b.chips,
            opts: b.opts,
            alone_tokens_per_s: b.tokens_per_s,
        })
        .collect();
    let job = MixedJob {
        seq_len: r.seq_len,
        global_batch: r.batch(),
        tolerance_pct: if r.global_batch.is_some() {
            0
        } else {
            BATCH_TOLERANCE_PCT
        },
        precision: r.precision,
    };
    let mixed = vec![
        data_parallel(model, &pools, &fleet.links, &job),
        pipeline(model, &pools, &fleet.links, &job),
    ];
    let best_single = bests.iter().map(|b| b.tokens_per_s).fold(0.0, f64::max);
    let better = |m: &&MixedPlan| m.feasible && m.tokens_per_s > best_single;
    let fastest = |a: &&MixedPlan, b: &&MixedPlan| a.tokens_per_s.total_cmp(&b.tokens_per_s);
    // What can be launched first: a mixed plan FlagScale runs, else the single pool,
    // naming a faster mixed plan no framework here launches.
    let launchable = mixed
        .iter()
        .filter(better)
        .filter(|m| m.launch.is_some())
        .max_by(fastest);
    let unlaunchable = mixed
        .iter()
        .filter(better)
        .filter(|m| m.launch.is_none())
        .max_by(fastest);
    let gain = |t: f64| (t / best_single - 1.0) * 100.0;
    let rec = match (launchable, unlaunchable) {
        (Some(l), other) => format!(
            "run one job across the pools: the {} plan gives {} tokens/s against {} for the best single pool ({:.0}% more), and FlagScale's heterogeneous config launches it{}",
            l.form,
            num(l.tokens_per_s),
            num(best_single),
            gain(l.tokens_per_s),
            other
                .filter(|o| o.tokens_per_s > l.tokens_per_s)
                .map_or(String::new(), |o| format!(
                    "; the {} plan would give {} tokens/s with a framework that runs uneven data-parallel batches",
                    o.form,
                    num(o.tokens_per_s)
                ))
        ),
        (None, Some(o)) => format!(
            "run the job on the best single pool ({} tokens/s): no mixed plan FlagScale can launch beats it; the {} plan across the pools would give {} tokens/s ({:.0}% more) with a framework that runs uneven data-parallel batches",
            num(best_single),
            o.form,
            num(o.tokens_per_s),
            gain(o.tokens_per_s)
        ),
        (None, None) => format!(
            "run the job on the best single pool ({} tokens/s); no mixed plan beats it",
            num(best_single)
        ),
    };
    (mixed, Some(rec))
}

/// A serving job to size over a fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeRequest {
    /// Requests per second to carry.
    pub rate: f64,
    pub input_len: u32,
    pub output_len: u32,
    pub precision: ServePrecision,
    pub ttft_slo_s: Option<f64>,
    pub tpot_slo_s: Option<f64>,
    /// Plans to keep (at least 1).
    pub top: usize,
    /// The serving stack for every pool; `None`: each chip's default.
    pub stack: Option<ServeStack>,
}

/// One ranked serving plan.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedServePlan {
    pub rank: usize,
    pub pool: String,
    pub chip: String,
    pub stack: ServeStack,
    pub plan: ServePlan,
    pub launch: Launch,
}

/// The plan of a serving job over a fleet: cheapest per output token first.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetServePlan {
    pub model: String,
    pub fleet: String,
    pub plans: Vec<RankedServePlan>,
    pub pools: Vec<PoolNote>,
}

/// Sizes a serving job on each pool and ranks the plans by USD per million output tokens
/// (plans of unknown cost last, fewer chips first).
pub fn plan_serve_fleet(
    model: &ModelArch,
    fleet: &Fleet,
    pools: &[PoolChip<'_>],
    r: &ServeRequest,
) -> FleetServePlan {
    let precision = r.precision;
    let kv = if matches!(precision, ServePrecision::Fp8 | ServePrecision::Fp4) {
        1.0
    } else {
        2.0
    };
    let job = ServeJob {
        input_len: r.input_len,
        output_len: r.output_len,
        precision,
        kv_bytes: kv,
        load: Load::Offline,
        ttft_slo_s: r.ttft_slo_s,
        tpot_slo_s: r.tpot_slo_s,
        disaggregated: false,
        lengths: None,
    };
    let mut plans = Vec::new();
    let mut notes = Vec::new();
    for &PoolChip { pool, chip } in pools {
        let note = |text: String| PoolNote {
            pool: pool.name.clone(),
            chip: chip.id.clone(),
            chips: pool.chips(),
            best_tokens_per_s: None,
            note: text,
        };
        let stack = r.stack.unwrap_or_else(|| ServeStack::default_for(chip));
        let eff = serve_efficiency(Family::of(chip), stack);
        let hw = match Hardware::from_chip_within_domain(chip) {
            Ok(h) => h,
            Err(m) => {
                notes.push(note(format!(
                    "not planned: the catalog lacks {}",
                    m.join(", ")
                )));
                continue;
            }
        };
        let int8 = chip.peak(Precision::Int8).map(|f| f.value * 1e12);
        let target = ServeTarget {
            rate: r.rate,
            max_chips: pool.chips(),
            chip_hour_usd: chip_hour_usd(&hw, 4.0, 0.10),
        };
        let ps = plan_serve(model, &hw, int8, &eff, &job, &target);
        if ps.is_empty() {
            notes.push(note(why_no_plan(model, &hw, int8, &eff, &job, &target)));
        }
        let ascend = chip.vendor.to_ascii_lowercase().starts_with("huawei");
        for p in ps {
            // vLLM's --max-num-seqs is per engine: one engine per attention-DP rank.
            let max_seqs =
                ((p.per_replica.batch_per_replica / p.layout.attn_dp as f64).ceil() as u32).max(1);
            plans.push(RankedServePlan {
                rank: 0,
                pool: pool.name.clone(),
                chip: chip.id.clone(),
                stack,
                launch: serve_args(
                    ascend,
                    &p.layout,
                    hw.domain,
                    model.layers,
                    precision,
                    kv,
                    max_seqs,
                    r.input_len + r.output_len,
                ),
                plan: p,
            });
        }
    }
    plans.sort_by(|x, y| {
        match (
            x.plan.usd_per_million_output_tokens,
            y.plan.usd_per_million_output_tokens,
        ) {
            (Some(p), Some(q)) => p.total_cmp(&q),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => x.plan.chips.cmp(&y.plan.chips),
        }
    });
    plans.truncate(r.top.max(1));
    for (i, p) in plans.iter_mut().enumerate() {
        p.rank = i + 1;
    }
    FleetServePlan {
        model: model.id.clone(),
        fleet: fleet.id.clone(),
        plans,
        pools: notes,
    }
}

/// What the live scheduler plans a training job on one chip type with: the chip's model
/// inputs, the vendor's framework and a search at the job's batch exactly (bf16).
struct ExactInputs {
    hw: Hardware,
    eff: Efficiency,
    fw: TrainFramework,
    opts: SearchOptions,
}

impl ExactInputs {
    fn of(chip: &Chip) -> Result<ExactInputs, String> {
        let hw = Hardware::from_chip(chip)
            .map_err(|m| format!("the catalog lacks {} for {}", m.join(", "), chip.id))?;
        let eff = Efficiency::for_family(Family::of(chip), Stack::default_for(chip), BF16);
        let fw = TrainFramework::default_for(&chip.vendor);
        let opts = SearchOptions {
            batch_tolerance_pct: 0,
            ..SearchOptions::for_framework(fw)
        };
        Ok(ExactInputs { hw, eff, fw, opts })
    }

    /// The best plan on `chips` chips, if any fits.
    fn best(&self, model: &ModelArch, job: &TrainJob, chips: u64) -> Option<Plan> {
        crate::train::search(model, &self.hw, &self.eff, job, chips, 1, &self.opts)
            .plans
            .into_iter()
            .next()
    }
}

const BF16: TrainPrecision = TrainPrecision::Bf16;

fn bf16_job(seq_len: u32, global_batch: u32) -> TrainJob {
    TrainJob {
        seq_len,
        global_batch,
        precision: BF16,
        dropout: false,
        flash_attention: true,
        grad_reduce: Default::default(),
    }
}

/// One job across two pools as the live scheduler runs it: the launchable mixed plan
/// ([`crate::speed::plan_gang`]) of `model` on `chips.0` chips of `a` and `chips.1` of
/// `b` over `link`, bf16, with the job's sequence length and global batch exactly. The
/// error says why there is none (no chip figures, or no feasible launchable plan).
pub fn gang_on_chips(
    model: &ModelArch,
    (a, b): (&Chip, &Chip),
    chips: (u32, u32),
    link: &tessera_core::fleet::PoolLink,
    seq_len: u32,
    global_batch: u32,
) -> Result<crate::speed::GangPlan, String> {
    let job = bf16_job(seq_len, global_batch);
    let (ia, ib) = (ExactInputs::of(a)?, ExactInputs::of(b)?);
    // Each side's own best plan on its chips: the baseline of the plan's efficiency.
    fn side<'a>(
        i: &'a ExactInputs,
        model: &ModelArch,
        job: &TrainJob,
        n: u32,
    ) -> crate::speed::GangSide<'a> {
        crate::speed::GangSide {
            hw: &i.hw,
            eff: &i.eff,
            opts: i.opts,
            chips: n,
            alone_tokens_per_s: i
                .best(model, job, n as u64)
                .map_or(0.0, |p| p.estimate.tokens_per_s),
        }
    }
    let sides = [
        side(&ia, model, &job, chips.0),
        side(&ib, model, &job, chips.1),
    ];
    crate::speed::plan_gang(model, sides, link, &job).ok_or_else(|| {
        format!(
            "no launchable plan of {} across {} {} and {} {}",
            model.id, chips.0, a.id, chips.1, b.id
        )
    })
}

/// The best bf16 layout of `model` on `chips` chips of one type, with the launch line
/// of the vendor's framework: what the live scheduler runs a training job with on a
/// pool. `global_batch`: the job's, exactly; the error says why nothing fits.
pub fn best_on_chips(
    model: &ModelArch,
    chip: &Chip,
    chips: u64,
    seq_len: u32,
    global_batch: u32,
) -> Result<(Plan, Launch), String> {
    let i = ExactInputs::of(chip)?;
    let p = i
        .best(model, &bf16_job(seq_len, global_batch), chips)
        .ok_or_else(|| no_train_plan_reason(model, &i.hw, chips))?;
    let launch = train_args(i.fw, model, &p.layout, seq_len, p.global_batch, BF16);
    Ok((p, launch))
}
