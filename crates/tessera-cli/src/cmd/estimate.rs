//! `tessera estimate train`

use crate::cli::{Format, PrecisionArg, RecomputeArg, TrainArgs};
use crate::exit::{CliError, Result};
use crate::out::{self, num};
use tessera_catalog::Catalog;
use tessera_output::estimate::{
    EstimateLayoutV1, EstimateTrainV1, TrainingCostV1, recompute, train_precision,
};
use tessera_perf::Hardware;
use tessera_perf::calib::{Efficiency, Family, Stack};
use tessera_perf::train::{Layout, Recompute, TrainJob, TrainPrecision, estimate_train};

pub fn train(cat: &Catalog, fmt: Format, a: &TrainArgs) -> Result<()> {
    let model = cat.model(&a.model)?;
    crate::cmd::check_seq_len(&model, a.seq_len)?;
    let chip = cat.chip(&a.chip)?;
    let stack = match &a.stack {
        Some(s) => Stack::parse(s).ok_or_else(|| {
            CliError::Usage(format!(
                "--stack: unknown stack `{s}`; use one of: {}",
                Stack::ALL.map(|x| x.as_str()).join(", ")
            ))
        })?,
        None => Stack::default_for(chip),
    };
    let family = Family::of(chip);
    let precision = match a.precision {
        PrecisionArg::Bf16 => TrainPrecision::Bf16,
        PrecisionArg::Fp8 => TrainPrecision::Fp8,
    };
    let eff = Efficiency::for_family(family, stack, precision);
    let dp = match a.dp {
        Some(d) => d,
        None => {
            // Without --dp, DP fills the chips; if tp x pp x cp does not divide them, the
            // estimate reports the mismatch as the reason the layout cannot run.
            let per = (a.tp as u64 * a.pp as u64 * a.cp as u64).max(1);
            (a.chips / per).clamp(1, u32::MAX as u64) as u32
        }
    };
    let unit = dp.max(1) * a.micro_batch.max(1);
    let global_batch = a.global_batch.unwrap_or_else(|| {
        let target = (4.0 * 1024.0 * 1024.0 / a.seq_len.max(1) as f64).round() as u32;
        (target.div_ceil(unit)).max(1) * unit
    });
    let layout = Layout {
        tp: a.tp,
        pp: a.pp,
        dp,
        cp: a.cp,
        ep: a.ep,
        etp: a.etp.unwrap_or(if a.ep > 1 { 1 } else { a.tp }),
        vpp: a.vpp,
        micro_batch: a.micro_batch,
        sequence_parallel: !a.no_sequence_parallel && a.tp > 1,
        zero: a.zero,
        recompute: match a.recompute {
            RecomputeArg::None => Recompute::None,
            RecomputeArg::Selective => Recompute::Selective,
            RecomputeArg::MlaUpProj => Recompute::MlaUpProj,
            RecomputeArg::Full => Recompute::Full,
        },
        uneven_pp: a.uneven_pp,
    };
    let job = TrainJob {
        seq_len: a.seq_len,
        global_batch,
        precision,
        dropout: a.dropout,
        flash_attention: !a.no_flash_attention,
        grad_reduce: match a.grad_reduce {
            crate::cli::GradReduceArg::Fp32 => tessera_perf::train::GradReduce::Fp32,
            crate::cli::GradReduceArg::Bf16 => tessera_perf::train::GradReduce::Bf16,
        },
    };
    let unverified_inputs =
        tessera_perf::hw::unverified_inputs(chip, precision == TrainPrecision::Fp8);
    let calibration_note = crate::cmd::with_unverified(
        tessera_perf::calib::calibration_note(family, stack, precision),
        &unverified_inputs,
    );
    let mut out = EstimateTrainV1 {
        schema_version: tessera_output::SCHEMA_VERSION,
        model: model.id.clone(),
        chip: chip.id.clone(),
        chips: a.chips,
        stack: stack.as_str(),
        precision: train_precision(precision),
        grad_reduce: job.grad_reduce.as_str(),
        layout: EstimateLayoutV1 {
            tp: layout.tp,
            pp: layout.pp,
            dp: layout.dp,
            cp: layout.cp,
            ep: layout.ep,
            etp: layout.etp,
            vpp: layout.vpp,
            micro_batch: layout.micro_batch,
            global_batch,
            seq_len: a.seq_len,
            microbatches_per_step: None,
            sequence_parallel: layout.sequence_parallel,
            zero: layout.zero,
            recompute: recompute(layout.recompute),
            uneven_pp: layout.uneven_pp,
        },
        feasible: false,
        fits: false,
        reason: None,
        step_time_s: None,
        tokens_per_s: None,
        tokens_per_s_per_chip: None,
        model_tflops_per_chip: None,
        hardware_tflops_per_chip: None,
        mfu: None,
        hfu: None,
        memory_gib_per_chip: None,
        memory: None,
        breakdown: None,
        calibrated: eff.calibrated,
        calibration_note,
        unverified_inputs,
        training: None,
    };
    match Hardware::from_chip(chip) {
        Err(missing) => {
            out.reason = Some(format!(
                "cannot estimate: the catalog lacks {} for {}; add them with --catalog FILE (docs/catalog-format.md)",
                missing.join(", "),
                chip.id
            ));
        }
        Ok(hw) => {
            let e = estimate_train(&model, &hw, &eff, &job, &layout, a.chips);
            out.reason = e.infeasible.map(|r| r.to_string());
            out.feasible = e.infeasible.is_none();
            let numbers = e.microbatches > 0;
            if numbers {
                out.fits = e.fits;
                out.layout.microbatches_per_step = Some(e.microbatches);
                out.step_time_s = Some(e.step_time_s);
                out.tokens_per_s = Some(e.tokens_per_s);
                out.tokens_per_s_per_chip = Some(e.tokens_per_s_per_chip);
                out.model_tflops_per_chip = Some(e.model_tflops_per_chip);
                out.hardware_tflops_per_chip = Some(e.hardware_tflops_per_chip);
                out.mfu = Some(e.mfu);
                out.hfu = Some(e.hfu);
                out.memory_gib_per_chip = Some(e.memory_gib_per_chip);
                out.memory = Some((&e.memory).into());
                out.breakdown = Some((&e.breakdown).into());
                if let Some(tokens) = a.tokens {
                    let secs = tokens / e.tokens_per_s;
                    let chip_hours = secs / 3600.0 * a.chips as f64;
                    let energy_mwh = hw.tdp_w.map(|w| chip_hours * w / 1e6);
                    let energy_cost = energy_mwh.map(|m| m * 1000.0 * a.usd_per_kwh);
                    let capital = hw
                        .price_usd
                        .map(|p| chip_hours * p / (a.amortization_years * 365.0 * 24.0));
                    out.training = Some(TrainingCostV1 {
                        tokens,
                        days: secs / 86_400.0,
                        chip_hours,
                        energy_mwh,
                        energy_cost_usd: energy_cost,
                        capital_cost_usd: capital,
                        total_cost_usd: match (energy_cost, capital) {
                            (Some(x), Some(y)) => Some(x + y),
                            _ => None,
                        },
                    });
                }
            }
        }
    }
    if fmt == Format::Json {
        return out::print_json(&out);
    }
    print_table(&out);
    Ok(())
}

fn opt_num(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(
        || "unknown".into(),
        |x| format!("{} {unit}", num(x)).trim_end().to_string(),
    )
}

fn print_table(o: &EstimateTrainV1) {
    let l = &o.layout;
    crate::outln!(
        "{} on {} x {} ({}, {}, {} gradients): tp{} pp{} dp{} cp{} ep{} vpp{} mb{} gb{} seq{} recompute={} zero{}{}",
        o.model,
        o.chips,
        o.chip,
        o.stack,
        o.precision,
        o.grad_reduce,
        l.tp,
        l.pp,
        l.dp,
        l.cp,
        l.ep,
        l.vpp,
        l.micro_batch,
        l.global_batch,
        l.seq_len,
        l.recompute,
        l.zero,
        if l.sequence_parallel { " sp" } else { "" }
    );
    if let Some(r) = &o.reason {
        crate::outln!("{}: {r}", if o.feasible { "note" } else { "NOT RUNNABLE" });
    }
    if o.step_time_s.is_none() {
        crate::outln!("{}", o.calibration_note);
        return;
    }
    let mut t = out::table(&["metric", "value"]);
    let pct = |v: Option<f64>| v.map_or("unknown".into(), |x| format!("{:.1}%", x * 100.0));
    t.add_row(vec!["step time".to_string(), opt_num(o.step_time_s, "s")]);
    t.add_row(vec!["tokens/s".to_string(), opt_num(o.tokens_per_s, "")]);
    t.add_row(vec![
        "tokens/s per chip".to_string(),
        opt_num(o.tokens_per_s_per_chip, ""),
    ]);
    t.add_row(vec![
        "model TFLOP/s per chip".to_string(),
        opt_num(o.model_tflops_per_chip, ""),
    ]);
    t.add_row(vec!["MFU".to_string(), pct(o.mfu)]);
    t.add_row(vec!["HFU (recompute counted)".to_string(), pct(o.hfu)]);
    t.add_row(vec![
        "memory per chip".to_string(),
        format!(
            "{} ({})",
            opt_num(o.memory_gib_per_chip, "GiB"),
            if o.fits { "fits" } else { "does NOT fit" }
        ),
    ]);
    crate::outln!("{t}");
    if let Some(b) = &o.breakdown {
        let mut bt = out::table(&["step time on the critical path", "s", "share"]);
        let total = o.step_time_s.unwrap_or(1.0).max(1e-12);
        for (k, v) in [
            ("forward", b.forward_s),
            ("backward", b.backward_s),
            ("recompute", b.recompute_s),
            ("TP communication (exposed)", b.tp_comm_s),
            ("CP communication (exposed)", b.cp_comm_s),
            ("EP all-to-all (exposed)", b.ep_comm_s),
            ("PP send/recv (exposed)", b.pp_comm_s),
            ("DP gradient sync (exposed)", b.dp_comm_s),
            ("pipeline bubble", b.bubble_s),
            ("optimizer step", b.optimizer_s),
            ("communication beyond overlap", b.comm_bound_s),
        ] {
            bt.add_row(vec![
                k.to_string(),
                format!("{v:.4}"),
                format!("{:.1}%", v / total * 100.0),
            ]);
        }
        crate::outln!("{bt}");
    }
    if let Some(m) = &o.memory {
        let mut mt = out::table(&["memory per chip (busiest stage)", "GiB"]);
        for (k, v) in [
            ("weights", m.weights_gib),
            ("gradients", m.gradients_gib),
            ("optimizer states", m.optimizer_gib),
            ("activations", m.activations_gib),
            ("communication buffers", m.comm_buffers_gib),
            ("runtime reserve", m.reserved_gib),
            ("total", m.total_gib),
            ("capacity", m.capacity_gib),
        ] {
            mt.add_row(vec![k.to_string(), format!("{v:.2}")]);
        }
        crate::outln!("{mt}");
    }
    if let Some(tr) = &o.training {
        crate::outln!(
            "to train {:.3e} tokens: {:.1} days, {} chip-hours, energy {} (chip TDP only), cost {} (energy {} + amortised chips {})",
            tr.tokens,
            tr.days,
            num(tr.chip_hours),
            tr.energy_mwh
                .map_or("unknown (no TDP)".into(), |x| format!("{} MWh", num(x))),
            tr.total_cost_usd
                .map_or("unknown".into(), |x| format!("USD {}", num(x))),
            tr.energy_cost_usd
                .map_or("unknown".into(), |x| format!("USD {}", num(x))),
            tr.capital_cost_usd
                .map_or("unknown (no price)".into(), |x| format!("USD {}", num(x))),
        );
    }
    crate::outln!("{}", o.calibration_note);
}
