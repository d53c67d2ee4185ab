//! Serving plans: how many chips of which type, the layout per replica, and the cost per
//! million output tokens, to carry a request rate within latency limits.

use serde::Serialize;
use tessera_core::model::ModelArch;
use tessera_perf::Hardware;
use tessera_perf::serve::{
    Load, ServeEfficiency, ServeEstimate, ServeJob, ServeLayout, estimate_serve,
};

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
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
        let replicas = (rate / e.requests_per_s).ceil().max(1.0) as u64;
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
