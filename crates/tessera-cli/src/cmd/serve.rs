//! `tessera estimate serve`

use crate::cli::{Format, KvPrecisionArg, ServeArgs, ServePrecisionArg};
use crate::exit::{CliError, Result};
use crate::out::{self, num};
use tessera_catalog::Catalog;
use tessera_core::chip::Precision;
use tessera_output::estimate::{
    EstimateServeV1, LengthStatsV1, ServeMemoryGibV1, bottleneck, serve_precision,
};
use tessera_output::plan::{ServeLayoutV1, StepCostV1};
use tessera_perf::Hardware;
use tessera_perf::calib::{Family, ServeStack, serve_efficiency};
use tessera_perf::serve::{
    LengthStats, Load, ServeEstimate, ServeJob, ServeLayout, ServePrecision,
    estimate_disaggregated, estimate_serve,
};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

pub fn serve(cat: &Catalog, fmt: Format, a: &ServeArgs) -> Result<()> {
    let model = cat.model(&a.model)?;
    let chip = cat.chip(&a.chip)?;
    let stack = match &a.stack {
        Some(s) => ServeStack::parse(s).ok_or_else(|| {
            CliError::Usage(format!(
                "--stack: unknown serving stack `{s}`; use one of: {}",
                ServeStack::ALL.map(|x| x.as_str()).join(", ")
            ))
        })?,
        None => ServeStack::default_for(chip),
    };
    let family = Family::of(chip);
    let eff = serve_efficiency(family, stack);
    let precision = match a.precision {
        ServePrecisionArg::Bf16 => ServePrecision::Bf16,
        ServePrecisionArg::Fp8 => ServePrecision::Fp8,
        ServePrecisionArg::Int8 => ServePrecision::Int8,
        ServePrecisionArg::Int4 => ServePrecision::Int4,
        ServePrecisionArg::Fp4 => ServePrecision::Fp4,
    };
    let kv_bytes = match a.kv_precision {
        Some(KvPrecisionArg::Bf16) => 2.0,
        Some(KvPrecisionArg::Fp8 | KvPrecisionArg::Int8) => 1.0,
        None if matches!(precision, ServePrecision::Fp8 | ServePrecision::Fp4) => 1.0,
        None => 2.0,
    };
    let per_replica = a.tp as u64 * a.pp as u64 * a.attn_dp as u64;
    let prefill_chips = a.prefill_chips.unwrap_or(0);
    if prefill_chips >= a.chips {
        return Err(CliError::Usage(format!(
            "--prefill-chips {prefill_chips} leaves no chips of the {} for decoding",
            a.chips
        )));
    }
    let decode_chips = a.chips - prefill_chips;
    let replicas = match a.replicas {
        Some(r) => r,
        None => {
            if per_replica == 0 || !decode_chips.is_multiple_of(per_replica) {
                return Err(CliError::Usage(format!(
                    "{decode_chips} decode chips are not a multiple of tp x pp x attn-dp = {per_replica}; give --replicas"
                )));
            }
            (decode_chips / per_replica) as u32
        }
    };
    let layout = ServeLayout {
        tp: a.tp,
        pp: a.pp,
        ep: a.ep,
        attn_dp: a.attn_dp,
        replicas,
    };
    let prefill_layout = if prefill_chips > 0 {
        if a.prefill_tp == 0 || !prefill_chips.is_multiple_of(a.prefill_tp as u64) {
            return Err(CliError::Usage(format!(
                "--prefill-chips {prefill_chips} is not a multiple of --prefill-tp {}",
                a.prefill_tp
            )));
        }
        Some(ServeLayout {
            tp: a.prefill_tp,
            pp: 1,
            ep: 1,
            attn_dp: 1,
            replicas: (prefill_chips / a.prefill_tp as u64) as u32,
        })
    } else {
        None
    };
    let load = match (a.concurrency, a.rate) {
        (Some(c), _) => Load::Concurrency { sequences: c },
        (None, Some(r)) => Load::Rate { per_s: r },
        (None, None) => Load::Offline,
    };
    let mode = match (load, a.ttft_slo.is_some() || a.tpot_slo.is_some()) {
        (Load::Offline, false) => "offline",
        (Load::Offline, true) => "slo",
        (Load::Concurrency { .. }, _) => "concurrency",
        (Load::Rate { .. }, _) => "rate",
    };
    let job = ServeJob {
        input_len: a.input_len,
        output_len: a.output_len,
        precision,
        kv_bytes,
        load,
        ttft_slo_s: a.ttft_slo,
        tpot_slo_s: a.tpot_slo,
        disaggregated: prefill_layout.is_some(),
        lengths: match &a.lengths {
            Some(p) => Some(read_lengths(p)?),
            None => None,
        },
    };
    let calibration_note = tessera_perf::calib::serve_calibration_note(family, stack);
    let unverified_inputs =
        tessera_perf::hw::unverified_inputs(chip, matches!(precision, ServePrecision::Fp8));
    let calibration_note = crate::cmd::with_unverified(calibration_note, &unverified_inputs);
    let mut out = EstimateServeV1 {
        model: model.id.clone(),
        chip: chip.id.clone(),
        chips: a.chips,
        stack: stack.as_str(),
        precision: serve_precision(precision),
        kv_bytes_per_element: kv_bytes,
        layout: ServeLayoutV1::from(&layout),
        prefill_layout: prefill_layout.as_ref().map(ServeLayoutV1::from),
        mode,
        input_len: a.input_len,
        output_len: a.output_len,
        fits: false,
        reason: None,
        lengths: job.lengths.as_ref().map(LengthStatsV1::from),
        ttft_s: None,
        ttft_p90_s: None,
        ttft_p50_s: None,
        ttft_p99_s: None,
        tpot_p50_s: None,
        tpot_p99_s: None,
        utilization: None,
        e2e_p90_s: None,
        tpot_s: None,
        e2e_latency_s: None,
        output_tokens_per_s: None,
        output_tokens_per_s_per_chip: None,
        total_tokens_per_s: None,
        requests_per_s: None,
        batch_per_replica: None,
        max_concurrency: None,
        kv_bytes_per_token: None,
        bottleneck: None,
        memory_gib_per_chip: None,
        decode_step: None,
        prefill_tokens_per_s_per_chip: None,
        calibrated: eff.calibrated,
        calibration_note,
        unverified_inputs,
    };
    match Hardware::from_chip_within_domain(chip) {
        Err(missing) => {
            out.reason = Some(format!(
                "cannot estimate: the catalog lacks {} for {}; add them with --catalog FILE",
                missing.join(", "),
                chip.id
            ));
        }
        Ok(hw) => {
            let int8 = chip.peak(Precision::Int8).map(|f| f.value * 1e12);
            let e: ServeEstimate = match &prefill_layout {
                Some(p) => estimate_disaggregated(&model, &hw, int8, &eff, &job, p, &layout),
                None => estimate_serve(&model, &hw, int8, &eff, &job, &layout),
            };
            out.reason = e.infeasible.map(|r| r.to_string());
            let numbers = e.output_tokens_per_s > 0.0;
            out.fits = e.fits && e.infeasible.is_none();
            if numbers {
                out.ttft_s = Some(e.ttft_s);
                out.ttft_p90_s = Some(e.ttft_p90_s);
                out.ttft_p50_s = Some(e.ttft_p50_s);
                out.ttft_p99_s = Some(e.ttft_p99_s);
                out.tpot_p50_s = Some(e.tpot_p50_s);
                out.tpot_p99_s = Some(e.tpot_p99_s);
                out.utilization = Some(e.utilization);
                out.e2e_p90_s = Some(e.e2e_p90_s);
                out.tpot_s = Some(e.tpot_s);
                out.e2e_latency_s = Some(e.e2e_latency_s);
                out.output_tokens_per_s = Some(e.output_tokens_per_s);
                out.output_tokens_per_s_per_chip = Some(e.output_tokens_per_s / a.chips as f64);
                out.total_tokens_per_s = Some(e.total_tokens_per_s);
                out.requests_per_s = Some(e.requests_per_s);
                out.batch_per_replica = Some(e.batch_per_replica);
                out.max_concurrency = Some(e.max_concurrency);
                out.kv_bytes_per_token = Some(e.kv_bytes_per_token);
                out.bottleneck = Some(bottleneck(e.bottleneck));
                out.memory_gib_per_chip = Some(ServeMemoryGibV1 {
                    weights: e.memory.weights / GIB,
                    kv_cache: e.memory.kv_cache / GIB,
                    reserved: e.memory.reserved / GIB,
                    total: e.memory.total / GIB,
                    capacity: e.memory.capacity / GIB,
                });
                out.decode_step = Some(StepCostV1::from(&e.decode_step));
                out.prefill_tokens_per_s_per_chip = Some(e.prefill_tokens_per_s_per_chip);
            }
        }
    }
    if fmt == Format::Json {
        return out::print_json(&out);
    }
    let l = &out.layout;
    crate::outln!(
        "{} on {} x {} ({}, {} weights, {} KV), {} mode: {} replicas of tp{} pp{} ep{} attn-dp{}, input {} / output {} tokens",
        out.model,
        out.chips,
        out.chip,
        out.stack,
        out.precision,
        if kv_bytes == 1.0 { "8-bit" } else { "16-bit" },
        out.mode,
        l.replicas,
        l.tp,
        l.pp,
        l.ep,
        l.attn_dp,
        out.input_len,
        out.output_len
    );
    if let Some(ls) = &out.lengths {
        crate::outln!(
            "request lengths from {}: mean input {:.0} / output {:.0}, p90 input {:.0} / output {:.0} (the fixed --input-len / --output-len are ignored)",
            a.lengths
                .as_ref()
                .map_or(String::new(), |p| p.display().to_string()),
            ls.mean_input,
            ls.mean_output,
            ls.p90_input,
            ls.p90_output
        );
    }
    if let Some(p) = &out.prefill_layout {
        crate::outln!(
            "disaggregated: prefill pool of {} replicas of tp{}",
            p.replicas,
            p.tp
        );
    }
    if let Some(r) = &out.reason {
        crate::outln!(
            "{}: {r}",
            if out.output_tokens_per_s.is_some() {
                "note"
            } else {
                "NOT RUNNABLE"
            }
        );
    }
    if out.output_tokens_per_s.is_none() {
        crate::outln!("{}", out.calibration_note);
        return Ok(());
    }
    let mut t = out::table(&["metric", "value"]);
    let ms = |v: Option<f64>| v.map_or("unknown".into(), |x| format!("{} ms", num(x * 1000.0)));
    let n = |v: Option<f64>| v.map_or("unknown".into(), num);
    t.add_row(vec!["time to first token".to_string(), ms(out.ttft_s)]);
    if out.lengths.is_some() {
        t.add_row(vec![
            "time to first token, p90 prompt".to_string(),
            ms(out.ttft_p90_s),
        ]);
        t.add_row(vec![
            "end-to-end latency, p90 request".to_string(),
            ms(out.e2e_p90_s),
        ]);
    }
    t.add_row(vec!["time per output token".to_string(), ms(out.tpot_s)]);
    if a.rate.is_some() {
        t.add_row(vec![
            "TTFT p50 / p99 at the rate".to_string(),
            format!("{} / {}", ms(out.ttft_p50_s), ms(out.ttft_p99_s)),
        ]);
        t.add_row(vec![
            "TPOT p50 / p99 at the rate".to_string(),
            format!("{} / {}", ms(out.tpot_p50_s), ms(out.tpot_p99_s)),
        ]);
        t.add_row(vec![
            "replica utilisation".to_string(),
            out.utilization
                .map_or("unknown".into(), |u| format!("{:.1}%", u * 100.0)),
        ]);
    }
    t.add_row(vec![
        "end-to-end latency".to_string(),
        ms(out.e2e_latency_s),
    ]);
    t.add_row(vec![
        "output tokens/s (system)".to_string(),
        n(out.output_tokens_per_s),
    ]);
    t.add_row(vec![
        "output tokens/s per chip".to_string(),
        n(out.output_tokens_per_s_per_chip),
    ]);
    t.add_row(vec![
        "total tokens/s (system)".to_string(),
        n(out.total_tokens_per_s),
    ]);
    t.add_row(vec!["requests/s".to_string(), n(out.requests_per_s)]);
    t.add_row(vec![
        "sequences in flight per replica".to_string(),
        n(out.batch_per_replica),
    ]);
    t.add_row(vec![
        "max concurrent sequences (KV capacity)".to_string(),
        n(out.max_concurrency),
    ]);
    t.add_row(vec![
        "KV cache per token".to_string(),
        out.kv_bytes_per_token.map_or("unknown".into(), out::bytes),
    ]);
    t.add_row(vec![
        "decode bottleneck".to_string(),
        out.bottleneck.unwrap_or("unknown").to_string(),
    ]);
    crate::outln!("{t}");
    if let (Some(m), Some(s)) = (&out.memory_gib_per_chip, &out.decode_step) {
        let mut mt = out::table(&["per chip", "value"]);
        mt.add_row(vec!["weights".to_string(), format!("{:.2} GiB", m.weights)]);
        mt.add_row(vec![
            "KV cache in use".to_string(),
            format!("{:.2} GiB", m.kv_cache),
        ]);
        mt.add_row(vec![
            "runtime reserve".to_string(),
            format!("{:.2} GiB", m.reserved),
        ]);
        mt.add_row(vec![
            "total / capacity".to_string(),
            format!("{:.2} / {:.2} GiB", m.total, m.capacity),
        ]);
        mt.add_row(vec![
            "decode step: compute".to_string(),
            format!("{:.3} ms", s.compute_s * 1000.0),
        ]);
        mt.add_row(vec![
            "decode step: memory".to_string(),
            format!("{:.3} ms", s.memory_s * 1000.0),
        ]);
        mt.add_row(vec![
            "decode step: communication".to_string(),
            format!("{:.3} ms", s.comm_s * 1000.0),
        ]);
        mt.add_row(vec![
            "decode step: fixed overhead".to_string(),
            format!("{:.3} ms", s.overhead_s * 1000.0),
        ]);
        mt.add_row(vec![
            "weights read per step".to_string(),
            out::bytes(s.weight_bytes_read),
        ]);
        mt.add_row(vec![
            "KV read per step".to_string(),
            out::bytes(s.kv_bytes_read),
        ]);
        if s.experts_touched > 0.0 {
            mt.add_row(vec![
                "experts touched per MoE layer per step".to_string(),
                format!("{:.1}", s.experts_touched),
            ]);
        }
        crate::outln!("{mt}");
    }
    crate::outln!("{}", out.calibration_note);
    Ok(())
}

/// Reads a CSV of request lengths (see `tessera_catalog::lengths`).
fn read_lengths(path: &std::path::Path) -> Result<LengthStats> {
    use tessera_catalog::CatalogError;
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::Catalog(CatalogError::Io {
            path: shown.clone(),
            source: e,
        })
    })?;
    let samples = tessera_catalog::lengths::parse(&shown, &text)?;
    LengthStats::from_samples(&samples).ok_or_else(|| {
        CliError::Catalog(tessera_catalog::Source::new(&shown, &text).error_at(
            Some(0),
            Some("weight".into()),
            "the weights sum to zero",
            None,
        ))
    })
}
