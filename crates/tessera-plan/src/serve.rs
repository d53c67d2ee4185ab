//! Serving plans: how many chips of which type, the layout per replica, and the cost per
//! million output tokens, to carry a request rate within latency limits.

use tessera_core::model::ModelArch;
use tessera_perf::Hardware;
use tessera_perf::serve::{
    Load, ServeEfficiency, ServeEstimate, ServeJob, ServeLayout, estimate_serve,
};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServePlan {
    pub layout: ServeLayout,
    /// Replicas needed for the rate (the layout's `replicas` is 1).
    pub replicas: u64,
    pub chips: u64,
    /// One replica at its best throughput within the SLO.
    pub per_replica: ServeEstimate,
    /// Cost of the chips per hour (amortised price plus energy), USD, if known.
    pub usd_per_hour: Option<f64>,
    pub usd_per_million_output_tokens: Option<f64>,
}

/// USD per chip-hour: price amortised over `years`, plus TDP at `usd_per_kwh`.
pub fn chip_hour_usd(hw: &Hardware, years: f64, usd_per_kwh: f64) -> Option<f64> {
    let capital = hw.price_usd? / (years * 365.0 * 24.0);
    let energy = hw.tdp_w.map_or(0.0, |w| w / 1000.0 * usd_per_kwh);
    Some(capital + energy)
}

/// Replica layouts to try: TP within the domain (dividing the heads); for MoE models also
/// attention-DP x EP replicas.
pub fn candidates(m: &ModelArch, domain: u32) -> Vec<ServeLayout> {
    let mut v = Vec::new();
    let mut tp = 1u32;
    while tp <= domain.min(64) {
        if m.heads.is_multiple_of(tp as u64) {
            v.push(ServeLayout {
                tp,
                pp: 1,
                ep: 1,
                attn_dp: 1,
                replicas: 1,
            });
        }
        tp *= 2;
    }
    if m.moe.is_some() {
        let mut n = 2u32;
        while n <= 64 {
            v.push(ServeLayout {
                tp: 1,
                pp: 1,
                ep: n,
                attn_dp: n,
                replicas: 1,
            });
            n *= 2;
        }
    }
    v
}

/// What a serving plan must deliver, and with what.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServeTarget {
    /// Requests per second.
    pub rate: f64,
    /// Chips available of this type.
    pub max_chips: u64,
    /// USD per chip-hour, if the chip has a price.
    pub chip_hour_usd: Option<f64>,
}

/// The cheapest (or, without prices, the fewest-chip) plans for the target rate within
/// the job's SLOs, over replica layouts that fit in the chips available. Best first.
pub fn plan_serve(
    m: &ModelArch,
    hw: &Hardware,
    int8: Option<f64>,
    eff: &ServeEfficiency,
    job: &ServeJob,
    target: &ServeTarget,
) -> Vec<ServePlan> {
    let (rate, max_chips, chip_hour) = (target.rate, target.max_chips, target.chip_hour_usd);
    let mut out = Vec::new();
    let per_job = ServeJob {
        load: Load::Offline,
        ..*job
    };
    for l in candidates(m, hw.domain) {
        let e = estimate_serve(m, hw, int8, eff, &per_job, &l);
        if e.infeasible.is_some() || e.requests_per_s <= 0.0 {
            continue;
        }
        let mut replicas = (rate / e.requests_per_s).ceil().max(1.0) as u64;
        // The limits hold at the 99th percentile under Poisson arrivals at the rate (as
        // MLPerf's server scenario measures them): add replicas until they do.
        let mut e = e;
        if job.ttft_slo_s.is_some() || job.tpot_slo_s.is_some() {
            let at_rate = ServeJob {
                load: Load::Rate { per_s: rate },
                ..*job
            };
            let mut ok = false;
            for _ in 0..64 {
                if replicas * l.chips_per_replica() > max_chips {
                    break;
                }
                let lr = ServeLayout {
                    replicas: replicas.min(u32::MAX as u64) as u32,
                    ..l
                };
                let q = estimate_serve(m, hw, int8, eff, &at_rate, &lr);
                if q.infeasible.is_none()
                    && job.ttft_slo_s.is_none_or(|s| q.ttft_p99_s <= s)
                    && job.tpot_slo_s.is_none_or(|s| q.tpot_p99_s <= s)
                {
                    e.ttft_p50_s = q.ttft_p50_s;
                    e.ttft_p99_s = q.ttft_p99_s;
                    e.tpot_p50_s = q.tpot_p50_s;
                    e.tpot_p99_s = q.tpot_p99_s;
                    e.utilization = q.utilization;
                    ok = true;
                    break;
                }
                replicas += (replicas / 8).max(1);
            }
            if !ok {
                continue;
            }
        }
        let chips = replicas * l.chips_per_replica();
        if chips > max_chips {
            continue;
        }
        let usd_per_hour = chip_hour.map(|c| c * chips as f64);
        let per_m = usd_per_hour.map(|u| u / (rate * job.output_len as f64 * 3600.0) * 1e6);
        out.push(ServePlan {
            layout: l,
            replicas,
            chips,
            per_replica: e,
            usd_per_hour,
            usd_per_million_output_tokens: per_m,
        });
    }
    out.sort_by(|a, b| {
        match (
            a.usd_per_million_output_tokens,
            b.usd_per_million_output_tokens,
        ) {
            (Some(x), Some(y)) => x.total_cmp(&y).then(a.chips.cmp(&b.chips)),
            _ => a.chips.cmp(&b.chips),
        }
    });
    out
}

/// Why `plan_serve` found nothing, in the order a user would fix it: the precision has no
/// peak on this chip; no layout fits the model in memory; no layout meets the latency
/// limits at all (with the best each limit could get); or the pool is too small for the
/// rate (with the chips the cheapest plan needs).
pub fn why_no_plan(
    m: &ModelArch,
    hw: &Hardware,
    int8: Option<f64>,
    eff: &ServeEfficiency,
    job: &ServeJob,
    target: &ServeTarget,
) -> String {
    use tessera_perf::serve::ServePrecision;
    let peak = match job.precision {
        ServePrecision::Bf16 | ServePrecision::Int4 => Some(hw.peak_16),
        ServePrecision::Fp8 => hw.peak_fp8,
        ServePrecision::Int8 => int8,
        ServePrecision::Fp4 => hw.peak_fp4,
    };
    if peak.is_none() {
        return format!(
            "the catalog has no {} peak for this chip, so {} serving cannot be estimated",
            job.precision.as_str(),
            job.precision.as_str()
        );
    }
    // The fastest any layout gets, one request at a time.
    let single = ServeJob {
        load: Load::Concurrency { sequences: 1 },
        ttft_slo_s: None,
        tpot_slo_s: None,
        ..*job
    };
    let (mut best_ttft, mut best_tpot, mut any) = (f64::INFINITY, f64::INFINITY, false);
    for l in candidates(m, hw.domain) {
        let e = estimate_serve(m, hw, int8, eff, &single, &l);
        if e.infeasible.is_none() && e.requests_per_s > 0.0 {
            any = true;
            best_ttft = best_ttft.min(e.ttft_s);
            best_tpot = best_tpot.min(e.tpot_s);
        }
    }
    if !any {
        return "no replica layout fits the model in memory on this chip".into();
    }
    let mut below = Vec::new();
    if let Some(t) = job.ttft_slo_s
        && t < best_ttft
    {
        below.push(format!(
            "TTFT {:.0} ms is below the {:.0} ms the fastest layout reaches",
            t * 1e3,
            best_ttft * 1e3
        ));
    }
    if let Some(t) = job.tpot_slo_s
        && t < best_tpot
    {
        below.push(format!(
            "TPOT {:.1} ms is below the {:.1} ms the fastest layout reaches",
            t * 1e3,
            best_tpot * 1e3
        ));
    }
    if !below.is_empty() {
        return format!("no layout meets the limits: {}", below.join("; "));
    }
    let unbounded = ServeTarget {
        max_chips: u64::MAX / 4,
        ..*target
    };
    match plan_serve(m, hw, int8, eff, job, &unbounded).first() {
        Some(p) => format!(
            "the pool's {} chips are too few for {} requests/s within the limits: the cheapest plan needs {} ({} x {} chips)",
            target.max_chips,
            target.rate,
            p.chips,
            p.replicas,
            p.layout.chips_per_replica()
        ),
        None => "no layout meets the limits at this rate on any number of chips".into(),
    }
}
