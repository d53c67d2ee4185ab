//! Validation of the serving model: `data/serve-rows.toml` says how each serving
//! measurement is predicted, or why it cannot be.

use crate::{Mape, Measurement, Skipped, mape_by_group};
use serde::Deserialize;
use tessera_catalog::Catalog;
use tessera_core::chip::Precision;
use tessera_perf::Hardware;
use tessera_perf::calib::{Family, ServeStack, serve_efficiency};
use tessera_perf::serve::{
    Load, ServeEfficiency, ServeJob, ServeLayout, ServePrecision, estimate_serve,
};

pub const SERVE_ROWS: &str = include_str!("../data/serve-rows.toml");

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ServeLayoutSpec {
    pub tp: Option<u32>,
    pub pp: Option<u32>,
    pub ep: Option<u32>,
    pub attn_dp: Option<u32>,
    pub replicas: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ServeRowSpec {
    pub id: String,
    pub skip: Option<String>,
    pub model: Option<String>,
    pub chip: Option<String>,
    pub stack: Option<String>,
    pub precision: Option<String>,
    pub kv: Option<String>,
    pub layout: Option<ServeLayoutSpec>,
    pub input: Option<u32>,
    pub output: Option<u32>,
    pub concurrency: Option<u32>,
    pub rate: Option<f64>,
    pub ttft_slo: Option<f64>,
    pub tpot_slo: Option<f64>,
    pub metric: Option<String>,
    pub measured: Option<f64>,
    pub split: Option<String>,
    pub source: Option<String>,
    pub assume: Option<String>,
    /// Search TP x replicas over this many chips instead of a given layout.
    pub search_chips: Option<u32>,
}

pub fn read_serve_rows(name: &str, text: &str) -> Result<Vec<ServeRowSpec>, String> {
    crate::read_toml_rows(name, text)
}

#[derive(Debug, Clone)]
pub struct ServeRowResult {
    pub id: String,
    pub group: &'static str,
    pub split: String,
    pub model: String,
    pub chip: String,
    pub stack: String,
    pub metric: String,
    pub input: u32,
    pub output: u32,
    pub measured: f64,
    pub predicted: f64,
    pub error_pct: f64,
    pub layout: String,
    pub assume: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ServeReport {
    pub rows: Vec<ServeRowResult>,
    pub skipped: Vec<Skipped>,
    pub mape: Vec<Mape>,
}

pub type ServeEffFn<'a> = &'a dyn Fn(Family, ServeStack) -> ServeEfficiency;

pub fn kv_bytes(s: &str) -> Option<f64> {
    match s {
        "bf16" | "fp16" => Some(2.0),
        "fp8" | "int8" => Some(1.0),
        _ => None,
    }
}

/// Predicts every serving row.
pub fn run_serve(
    cat: &Catalog,
    specs: &[ServeRowSpec],
    meas: &[Measurement],
    eff: ServeEffFn<'_>,
) -> Result<ServeReport, String> {
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    for spec in specs {
        if let Some(r) = &spec.skip {
            skipped.push(Skipped {
                id: spec.id.clone(),
                reason: r.clone(),
            });
            continue;
        }
        let need = |v: &Option<String>, n: &str| {
            v.clone()
                .ok_or_else(|| format!("row {}: `{n}` is required unless `skip` is given", spec.id))
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
        let hw = Hardware::from_chip(chip)
            .map_err(|m| format!("row {}: chip {chip_id} lacks {}", spec.id, m.join(", ")))?;
        let stack = match &spec.stack {
            Some(s) => ServeStack::parse(s)
                .ok_or_else(|| format!("row {}: unknown serving stack `{s}`", spec.id))?,
            None => ServeStack::default_for(chip),
        };
        let precision = match spec.precision.as_deref() {
            None => ServePrecision::Bf16,
            Some(p) => ServePrecision::parse(p)
                .ok_or_else(|| format!("row {}: unknown precision `{p}`", spec.id))?,
        };
        let kv = match spec.kv.as_deref() {
            None => 2.0,
            Some(k) => {
                kv_bytes(k).ok_or_else(|| format!("row {}: unknown kv precision `{k}`", spec.id))?
            }
        };
        let ls = spec.layout.clone().unwrap_or_default();
        let layout = ServeLayout {
            tp: ls.tp.unwrap_or(1),
            pp: ls.pp.unwrap_or(1),
            ep: ls.ep.unwrap_or(1),
            attn_dp: ls.attn_dp.unwrap_or(1),
            replicas: ls.replicas.unwrap_or(1),
        };
        let load = match (spec.concurrency, spec.rate) {
            (Some(c), _) => Load::Concurrency { sequences: c },
            (None, Some(r)) => Load::Rate { per_s: r },
            (None, None) => Load::Offline,
        };
        let input = spec
            .input
            .ok_or_else(|| format!("row {}: `input` is required", spec.id))?;
        let output = spec
            .output
            .ok_or_else(|| format!("row {}: `output` is required", spec.id))?;
        let job = ServeJob {
            input_len: input,
            output_len: output,
            precision,
            kv_bytes: kv,
            load,
            ttft_slo_s: spec.ttft_slo,
            tpot_slo_s: spec.tpot_slo,
            disaggregated: false,
            lengths: None,
        };
        let e = eff(Family::of(chip), stack);
        let int8 = chip.peak(Precision::Int8).map(|f| f.value * 1e12);
        let (layout, est) = match spec.search_chips {
            None => (layout, estimate_serve(&model, &hw, int8, &e, &job, &layout)),
            Some(n) => {
                let mut best: Option<(ServeLayout, tessera_perf::serve::ServeEstimate)> = None;
                for tp in (0..=6)
                    .map(|k| 1u32 << k)
                    .filter(|t| *t <= n && n % *t == 0 && *t <= hw.domain)
                {
                    let l = ServeLayout {
                        tp,
                        pp: 1,
                        ep: 1,
                        attn_dp: 1,
                        replicas: n / tp,
                    };
                    let est = estimate_serve(&model, &hw, int8, &e, &job, &l);
                    if est.infeasible.is_none()
                        && best
                            .as_ref()
                            .is_none_or(|(_, b)| est.output_tokens_per_s > b.output_tokens_per_s)
                    {
                        best = Some((l, est));
                    }
                }
                match best {
                    Some(b) => b,
                    None => (layout, estimate_serve(&model, &hw, int8, &e, &job, &layout)),
                }
            }
        };
        if let Some(why) = est.infeasible {
            skipped.push(Skipped {
                id: spec.id.clone(),
                reason: format!("tessera finds the published setup infeasible: {why}"),
            });
            continue;
        }
        let predicted = match metric.as_str() {
            "output-tokens-per-s" => est.output_tokens_per_s,
            "output-tokens-per-s-per-chip" => est.output_tokens_per_s_per_chip,
            "prefill-tokens-per-s-per-chip" => est.prefill_tokens_per_s_per_chip,
            other => return Err(format!("row {}: unknown metric `{other}`", spec.id)),
        };
        let measured = match spec.measured {
            Some(v) => v,
            None => {
                let m = meas.iter().find(|m| m.id == spec.id).ok_or_else(|| {
                    format!(
                        "row {}: not in the measurements and no `measured` value",
                        spec.id
                    )
                })?;
                m.value.ok_or_else(|| {
                    format!(
                        "row {}: published value `{}` is not a plain number",
                        spec.id, m.value_text
                    )
                })?
            }
        };
        let group = match Family::of(chip) {
            Family::Ascend => "Ascend",
            Family::Kunlun => "Kunlun",
            Family::Other => "Other",
            _ if model.moe.is_some() => "MoE",
            _ => "Nvidia dense",
        };
        rows.push(ServeRowResult {
            id: spec.id.clone(),
            group,
            split,
            model: model_id,
            chip: chip_id,
            stack: stack.as_str().into(),
            metric,
            input,
            output,
            measured,
            predicted,
            error_pct: (predicted / measured - 1.0) * 100.0,
            layout: format!(
                "tp{} pp{} ep{} attn-dp{} x{}",
                layout.tp, layout.pp, layout.ep, layout.attn_dp, layout.replicas
            ),
            assume: spec.assume.clone(),
        });
    }
    let mape = mape_by_group(
        &rows
            .iter()
            .map(|r| (r.split.as_str(), r.group, r.error_pct))
            .collect::<Vec<_>>(),
    );
    Ok(ServeReport {
        rows,
        skipped,
        mape,
    })
}

pub fn builtin_serve_report(cat: &Catalog) -> Result<ServeReport, String> {
    let specs = read_serve_rows("serve-rows.toml", SERVE_ROWS)?;
    let meas = crate::read_measurements("measurements.csv", crate::MEASUREMENTS)?;
    run_serve(cat, &specs, &meas, &serve_efficiency)
}

/// One tunable serving parameter.
#[derive(Debug, Clone, Copy)]
pub struct ServeKnob {
    pub name: &'static str,
    pub get: fn(&ServeEfficiency) -> f64,
    pub set: fn(&mut ServeEfficiency, f64),
    pub lo: f64,
    pub hi: f64,
}

macro_rules! sknob {
    ($f:ident, $lo:expr, $hi:expr) => {
        ServeKnob {
            name: stringify!($f),
            get: |e| e.$f,
            set: |e, v| e.$f = v,
            lo: $lo,
            hi: $hi,
        }
    };
}

/// Fits one (family, engine) serving group on its calibration rows, by the same
/// coordinate descent as the training fit (docs/accuracy.md).
pub fn fit_serve_group(
    cat: &Catalog,
    specs: &[ServeRowSpec],
    meas: &[Measurement],
    family: Family,
    stack: ServeStack,
) -> (ServeEfficiency, f64, f64) {
    let knobs = [
        sknob!(mem_eff, 0.4, 0.95),
        sknob!(kv_eff, 0.2, 0.95),
        sknob!(decode_gemm_eff, 0.1, 0.9),
        sknob!(prefill_eff, 0.1, 0.9),
        sknob!(step_overhead_s, 1e-4, 3e-2),
        sknob!(max_batch, 64.0, 8192.0),
        sknob!(layer_overhead_s, 1e-6, 2e-4),
        sknob!(moe_knee_tokens, 1.0, 2048.0),
        sknob!(moe_rel, 0.02, 1.0),
        sknob!(coll_latency_s, 2e-6, 2e-4),
    ];
    let cal: Vec<ServeRowSpec> = specs
        .iter()
        .filter(|s| {
            s.skip.is_none()
                && s.split.as_deref() == Some("calibration")
                && s.chip
                    .as_deref()
                    .and_then(|c| cat.chip(c).ok())
                    .is_some_and(|c| Family::of(c) == family)
                && s.stack.as_deref().and_then(ServeStack::parse) == Some(stack)
        })
        .cloned()
        .collect();
    let objective = |e: &ServeEfficiency| -> f64 {
        let f = |fam: Family, st: ServeStack| {
            if fam == family && st == stack {
                *e
            } else {
                serve_efficiency(fam, st)
            }
        };
        match run_serve(cat, &cal, meas, &f) {
            Ok(r) if !r.rows.is_empty() => {
                r.rows.iter().map(|x| x.error_pct.abs()).sum::<f64>() / r.rows.len() as f64
            }
            _ => f64::INFINITY,
        }
    };
    let mut cur = serve_efficiency(family, stack);
    let mut best = objective(&cur);
    let before = best;
    let mut step = 0.3;
    while step > 0.005 {
        let mut improved = false;
        for k in &knobs {
            for dir in [1.0 + step, 1.0 / (1.0 + step)] {
                let mut e = cur;
                let v = ((k.get)(&e) * dir).clamp(k.lo, k.hi);
                if v == (k.get)(&e) {
                    continue;
                }
                (k.set)(&mut e, v);
                let o = objective(&e);
                if o + 1e-9 < best {
                    best = o;
                    cur = e;
                    improved = true;
                }
            }
        }
        if !improved {
            step /= 2.0;
        }
    }
    (cur, before, best)
}

/// The serving groups with calibration rows.
pub const SERVE_GROUPS: [(Family, ServeStack); 2] = [
    (Family::NvidiaHopper, ServeStack::TensorrtLlm),
    (Family::NvidiaBlackwell, ServeStack::TensorrtLlm),
];

/// Fits every serving group; returns (family, stack, parameters, MAPE before, after).
pub fn fit_serve(
    cat: &Catalog,
    specs: &[ServeRowSpec],
    meas: &[Measurement],
) -> Vec<(Family, ServeStack, ServeEfficiency, f64, f64)> {
    SERVE_GROUPS
        .iter()
        .map(|&(f, s)| {
            let (e, b, a) = fit_serve_group(cat, specs, meas, f, s);
            (f, s, e, b, a)
        })
        .collect()
}
