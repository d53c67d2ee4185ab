//! Calibration and validation of the training model against published measurements.
//!
//! The measurements (`data/measurements.csv`) are the team's research notes, copied with
//! their sources. `data/train-rows.toml` says how tessera predicts each row, or why it
//! cannot. Calibration rows fit the efficiency parameters; validation rows are never used
//! in fitting, and the errors of both are reported apart.

pub mod csv;
pub mod fit;
pub mod serve;

use serde::Deserialize;
use tessera_catalog::Catalog;
use tessera_core::model::ModelArch;
use tessera_perf::Hardware;
use tessera_perf::calib::{Efficiency, Family, Stack};
use tessera_perf::train::{
    Estimate, GradReduce, Layout, Recompute, TrainJob, TrainPrecision, estimate_train,
};

pub const MEASUREMENTS: &str = include_str!("../data/measurements.csv");
pub const TRAIN_ROWS: &str = include_str!("../data/train-rows.toml");

/// One published figure.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub id: String,
    pub category: String,
    pub model: String,
    pub hardware: String,
    pub metric: String,
    /// `None` when the published value is not a plain number (e.g. "1.46M", ">50").
    pub value: Option<f64>,
    pub value_text: String,
    pub unit: String,
    pub exactness: String,
    pub source: String,
}

/// Reads the measurements CSV. Errors name the line and column.
pub fn read_measurements(name: &str, text: &str) -> Result<Vec<Measurement>, String> {
    let rows = csv::parse(text).map_err(|l| format!("{name}:{l}: unterminated quoted field"))?;
    let Some(header) = rows.first() else {
        return Err(format!("{name}: empty file"));
    };
    let col = |n: &str| {
        header
            .iter()
            .position(|h| h == n)
            .ok_or_else(|| format!("{name}:1: missing column `{n}`"))
    };
    let (id, cat, model, hw, metric, value, unit, exact, source) = (
        col("id")?,
        col("category")?,
        col("model")?,
        col("hardware")?,
        col("metric")?,
        col("value")?,
        col("unit")?,
        col("exactness")?,
        col("source")?,
    );
    let mut out = Vec::new();
    for (i, r) in rows.iter().enumerate().skip(1) {
        if r.len() != header.len() {
            return Err(format!(
                "{name}: row {} has {} fields, the header {}",
                i + 1,
                r.len(),
                header.len()
            ));
        }
        let v: Option<f64> = r[value].trim().parse().ok();
        out.push(Measurement {
            id: r[id].clone(),
            category: r[cat].clone(),
            model: r[model].clone(),
            hardware: r[hw].clone(),
            metric: r[metric].clone(),
            value: v,
            value_text: r[value].clone(),
            unit: r[unit].clone(),
            exactness: r[exact].clone(),
            source: r[source].clone(),
        });
    }
    Ok(out)
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LayoutSpec {
    #[serde(default = "one")]
    pub tp: u32,
    #[serde(default = "one")]
    pub pp: u32,
    #[serde(default = "one")]
    pub dp: u32,
    #[serde(default = "one")]
    pub cp: u32,
    #[serde(default = "one")]
    pub ep: u32,
    pub etp: Option<u32>,
    #[serde(default = "one")]
    pub vpp: u32,
    #[serde(default = "one")]
    pub micro_batch: u32,
    #[serde(default)]
    pub sequence_parallel: bool,
    #[serde(default)]
    pub zero: u8,
    pub recompute: Option<String>,
    #[serde(default)]
    pub uneven_pp: bool,
}

fn one() -> u32 {
    1
}

/// How tessera predicts one row.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RowSpec {
    pub id: String,
    pub skip: Option<String>,
    pub model: Option<String>,
    pub chip: Option<String>,
    pub stack: Option<String>,
    pub precision: Option<String>,
    pub layout: Option<LayoutSpec>,
    #[serde(default)]
    pub search: bool,
    pub global_batch: Option<u32>,
    pub seq: Option<u32>,
    #[serde(default)]
    pub dropout: bool,
    pub flash: Option<bool>,
    /// The gradient buffers' element type, `fp32` (default) or `bf16`.
    #[serde(rename = "grad-reduce")]
    pub grad_reduce: Option<String>,
    pub metric: Option<String>,
    pub split: Option<String>,
    pub assume: Option<String>,
    /// The measured value, for rows not in the measurements file.
    pub measured: Option<f64>,
    /// Where a `measured` value comes from (the built-in rows give one for each).
    pub source: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RowsFile<T> {
    row: Vec<T>,
}

/// The `[[row]]` tables of a TOML rows file; an error names the file and line.
pub(crate) fn read_toml_rows<T: serde::de::DeserializeOwned>(
    name: &str,
    text: &str,
) -> Result<Vec<T>, String> {
    let f: RowsFile<T> = toml::from_str(text).map_err(|e| {
        let pos = e.span().map(|s| {
            let before = &text[..s.start.min(text.len())];
            format!(":{}", before.matches('\n').count() + 1)
        });
        format!("{name}{}: {}", pos.unwrap_or_default(), e.message())
    })?;
    Ok(f.row)
}

pub fn read_rows(name: &str, text: &str) -> Result<Vec<RowSpec>, String> {
    read_toml_rows(name, text)
}

/// The comparison group a row's error counts in.
pub fn group(m: &ModelArch, chip_vendor: &str) -> &'static str {
    if chip_vendor.to_ascii_lowercase().starts_with("huawei") {
        "Ascend"
    } else if m.moe.is_some() {
        "MoE"
    } else {
        "Nvidia dense"
    }
}

/// A predicted row.
#[derive(Debug, Clone)]
pub struct RowResult {
    pub id: String,
    pub group: &'static str,
    pub split: String,
    pub model: String,
    pub chip: String,
    pub stack: String,
    pub metric: String,
    pub measured: f64,
    pub predicted: f64,
    pub error_pct: f64,
    pub layout: String,
    pub layout_searched: bool,
    pub assume: Option<String>,
    pub calibrated: bool,
    /// "bf16" or "fp8".
    pub precision: &'static str,
    /// Whether tessera predicts the run fits in memory, and its memory per chip (GiB).
    pub fits: bool,
    pub memory_gib_per_chip: f64,
}

#[derive(Debug, Clone)]
pub struct Skipped {
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Mape {
    pub split: String,
    pub group: String,
    pub rows: usize,
    pub mape_pct: f64,
    pub max_abs_error_pct: f64,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub rows: Vec<RowResult>,
    pub skipped: Vec<Skipped>,
    pub mape: Vec<Mape>,
}

/// The efficiency parameters for a row: the built-in ones unless overridden.
pub type EffFn<'a> = &'a dyn Fn(Family, Stack, TrainPrecision) -> Efficiency;

fn layout_from(spec: &LayoutSpec) -> Result<Layout, String> {
    let recompute = match &spec.recompute {
        None => Recompute::None,
        Some(r) => Recompute::parse(r).ok_or_else(|| format!("unknown recompute `{r}`"))?,
    };
    Ok(Layout {
        tp: spec.tp,
        pp: spec.pp,
        dp: spec.dp,
        cp: spec.cp,
        ep: spec.ep,
        etp: spec.etp.unwrap_or(if spec.ep > 1 { 1 } else { spec.tp }),
        vpp: spec.vpp,
        micro_batch: spec.micro_batch,
        sequence_parallel: spec.sequence_parallel,
        zero: spec.zero,
        recompute,
        uneven_pp: spec.uneven_pp,
    })
}

pub fn describe(l: &Layout) -> String {
    let mut s = format!("tp{} pp{} dp{}", l.tp, l.pp, l.dp);
    if l.cp > 1 {
        s.push_str(&format!(" cp{}", l.cp));
    }
    if l.ep > 1 {
        s.push_str(&format!(" ep{}", l.ep));
    }
    if l.vpp > 1 {
        s.push_str(&format!(" vpp{}", l.vpp));
    }
    s.push_str(&format!(" mb{}", l.micro_batch));
    s.push_str(match l.recompute {
        Recompute::None => "",
        Recompute::Selective => " rc=selective",
        Recompute::MlaUpProj => " rc=mla-up-proj",
        Recompute::Full => " rc=full",
    });
    if l.sequence_parallel && l.tp > 1 {
        s.push_str(" sp");
    }
    if l.zero > 0 {
        s.push_str(&format!(" zero{}", l.zero));
    }
    s
}

fn divisors(n: u64) -> impl Iterator<Item = u32> {
    (1..=n.min(1 << 16))
        .filter(move |d| n.is_multiple_of(*d))
        .map(|d| d as u32)
}

/// The best layout (highest throughput that fits) for a job: a small exhaustive search
/// over TP, PP, DP, EP, micro-batch and recompute, with sequence parallelism and the
/// distributed optimizer on. The planner's full search supersedes this.
pub fn best_layout(
    m: &ModelArch,
    hw: &Hardware,
    eff: &Efficiency,
    job: &TrainJob,
    chips: u64,
) -> Option<(Layout, Estimate)> {
    let mut best: Option<(Layout, Estimate)> = None;
    for tp in divisors(chips).filter(|t| *t <= hw.domain) {
        for pp in divisors(chips / tp as u64) {
            let dp = (chips / tp as u64 / pp as u64) as u32;
            let eps: Vec<u32> = match &m.moe {
                Some(moe) => divisors(moe.experts)
                    .filter(|e| (dp as u64 * tp as u64).is_multiple_of(*e as u64))
                    .collect(),
                None => vec![1],
            };
            for ep in eps {
                for mb in [1u32, 2, 4] {
                    for rc in [Recompute::None, Recompute::Selective, Recompute::Full] {
                        let l = Layout {
                            tp,
                            pp,
                            dp,
                            cp: 1,
                            ep,
                            etp: 1,
                            vpp: 1,
                            micro_batch: mb,
                            sequence_parallel: tp > 1,
                            zero: 1,
                            recompute: rc,
                            uneven_pp: true,
                        };
                        let e = estimate_train(m, hw, eff, job, &l, chips);
                        if e.feasible()
                            && best
                                .as_ref()
                                .is_none_or(|(_, b)| e.tokens_per_s > b.tokens_per_s)
                        {
                            best = Some((l, e));
                        }
                    }
                }
            }
        }
    }
    best
}

fn chip_count(l: &LayoutSpec) -> u64 {
    l.tp as u64 * l.pp as u64 * l.dp as u64 * l.cp as u64
}

/// Chip counts of the rows whose layout is searched, from the measurements' `chip_count`.
fn search_chips(id: &str) -> Option<u64> {
    let rows = csv::parse(MEASUREMENTS).ok()?;
    let header = rows.first()?;
    let idc = header.iter().position(|h| h == "id")?;
    let cc = header.iter().position(|h| h == "chip_count")?;
    rows.iter()
        .find(|r| r.get(idc).is_some_and(|x| x == id))
        .and_then(|r| r.get(cc)?.parse().ok())
}

/// Predicts every row. `eff` gives the efficiency parameters per family and stack.
pub fn run(
    cat: &Catalog,
    specs: &[RowSpec],
    measurements: &[Measurement],
    eff: EffFn<'_>,
) -> Result<Report, String> {
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for spec in specs {
        if let Some(reason) = &spec.skip {
            skipped.push(Skipped {
                id: spec.id.clone(),
                reason: reason.clone(),
            });
            continue;
        }
        let need = |f: &Option<String>, name: &str| {
            f.clone().ok_or_else(|| {
                format!(
                    "row {}: `{name}` is required unless `skip` is given",
                    spec.id
                )
            })
        };
        let model_id = need(&spec.model, "model")?;
        let chip_id = need(&spec.chip, "chip")?;
        let metric = need(&spec.metric, "metric")?;
        let split = need(&spec.split, "split")?;
        let model = cat
            .model(&model_id)
            .map_err(|e| format!("row {}: {e}", spec.id))?;
        let chip = cat
            .chip(&chip_id)
            .map_err(|e| format!("row {}: {e}", spec.id))?;
        let stack = match &spec.stack {
            Some(s) => {
                Stack::parse(s).ok_or_else(|| format!("row {}: unknown stack `{s}`", spec.id))?
            }
            None => Stack::default_for(chip),
        };
        let hw = Hardware::from_chip(chip)
            .map_err(|m| format!("row {}: chip {chip_id} lacks {}", spec.id, m.join(", ")))?;
        let job = TrainJob {
            seq_len: spec
                .seq
                .ok_or_else(|| format!("row {}: `seq` is required", spec.id))?,
            global_batch: spec
                .global_batch
                .ok_or_else(|| format!("row {}: `global-batch` is required", spec.id))?,
            precision: match spec.precision.as_deref() {
                None | Some("bf16") => TrainPrecision::Bf16,
                Some("fp8") => TrainPrecision::Fp8,
                Some(p) => return Err(format!("row {}: unknown precision `{p}`", spec.id)),
            },
            dropout: spec.dropout,
            flash_attention: spec.flash.unwrap_or(true),
            grad_reduce: match spec.grad_reduce.as_deref() {
                None => GradReduce::Fp32,
                Some(g) => GradReduce::parse(g).ok_or_else(|| {
                    format!("row {}: unknown grad-reduce `{g}` (fp32 or bf16)", spec.id)
                })?,
            },
        };
        let e = eff(Family::of(chip), stack, job.precision);
        let measured = match spec.measured {
            Some(v) => v,
            None => {
                let m = measurements
                    .iter()
                    .find(|m| m.id == spec.id)
                    .ok_or_else(|| {
                        format!(
                            "row {}: not in the measurements and no `measured` value",
                            spec.id
                        )
                    })?;
                m.value.ok_or_else(|| {
                    format!(
                        "row {}: published value `{}` is not a plain number; give `measured`",
                        spec.id, m.value_text
                    )
                })?
            }
        };
        let (layout, est, searched) = if spec.search {
            let chips = search_chips(&spec.id).ok_or_else(|| {
                format!(
                    "row {}: searched rows need a chip count in the measurements",
                    spec.id
                )
            })?;
            match best_layout(&model, &hw, &e, &job, chips) {
                Some((l, est)) => (l, est, true),
                None => {
                    skipped.push(Skipped {
                        id: spec.id.clone(),
                        reason: "no layout fits".into(),
                    });
                    continue;
                }
            }
        } else {
            let ls = spec.layout.as_ref().ok_or_else(|| {
                format!("row {}: `layout` or `search = true` is required", spec.id)
            })?;
            let l = layout_from(ls).map_err(|m| format!("row {}: {m}", spec.id))?;
            let est = estimate_train(&model, &hw, &e, &job, &l, chip_count(ls));
            if let Some(why) = est.infeasible
                && !matches!(why, tessera_perf::train::Infeasible::OutOfMemory { .. })
            {
                skipped.push(Skipped {
                    id: spec.id.clone(),
                    reason: format!("published layout rejected by tessera: {why}"),
                });
                continue;
            }
            (l, est, false)
        };
        let predicted = match metric.as_str() {
            "hardware-tflops" => est.hardware_tflops_per_chip,
            "model-tflops" => est.model_tflops_per_chip,
            "step-time-s" => est.step_time_s,
            "tokens-per-s-per-chip" => est.tokens_per_s_per_chip,
            other => return Err(format!("row {}: unknown metric `{other}`", spec.id)),
        };
        rows.push(RowResult {
            id: spec.id.clone(),
            group: group(&model, &chip.vendor),
            split,
            model: model_id,
            chip: chip_id,
            stack: stack.as_str().to_string(),
            metric,
            measured,
            predicted,
            error_pct: (predicted / measured - 1.0) * 100.0,
            layout: describe(&layout),
            layout_searched: searched,
            assume: spec.assume.clone(),
            calibrated: est.calibrated,
            precision: match job.precision {
                TrainPrecision::Bf16 => "bf16",
                TrainPrecision::Fp8 => "fp8",
            },
            fits: est.fits,
            memory_gib_per_chip: est.memory_gib_per_chip,
        });
    }
    let mut mape = mape_by_group(
        &rows
            .iter()
            .map(|r| (r.split.as_str(), r.group, r.error_pct))
            .collect::<Vec<_>>(),
    );
    // The same rows by training precision: each precision is calibrated on its own rows.
    mape.extend(mape_by(
        &rows
            .iter()
            .map(|r| (r.split.as_str(), r.precision, r.error_pct))
            .collect::<Vec<_>>(),
        &["bf16", "fp8"],
    ));
    Ok(Report {
        rows,
        skipped,
        mape,
    })
}

/// Mean and largest absolute percentage error by split and group, from (split, group,
/// signed error %) rows; groups with no rows are left out.
pub(crate) fn mape_by_group(rows: &[(&str, &str, f64)]) -> Vec<Mape> {
    mape_by(rows, &["Nvidia dense", "MoE", "Ascend", "all"])
}

/// The same over any list of group names ("all" counts every row).
pub(crate) fn mape_by(rows: &[(&str, &str, f64)], groups: &[&str]) -> Vec<Mape> {
    let mut mape = Vec::new();
    for split in ["calibration", "validation"] {
        for &g in groups {
            let errs: Vec<f64> = rows
                .iter()
                .filter(|r| r.0 == split && (g == "all" || r.1 == g))
                .map(|r| r.2.abs())
                .collect();
            if !errs.is_empty() {
                mape.push(Mape {
                    split: split.into(),
                    group: g.into(),
                    rows: errs.len(),
                    mape_pct: errs.iter().sum::<f64>() / errs.len() as f64,
                    max_abs_error_pct: errs.iter().cloned().fold(0.0, f64::max),
                });
            }
        }
    }
    mape
}

/// The built-in rows and measurements, predicted with the built-in parameters.
pub fn builtin_train_report(cat: &Catalog) -> Result<Report, String> {
    let specs = read_rows("train-rows.toml", TRAIN_ROWS)?;
    let meas = read_measurements("measurements.csv", MEASUREMENTS)?;
    run(cat, &specs, &meas, &Efficiency::for_family)
}
