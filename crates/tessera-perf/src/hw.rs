//! The figures of a chip the performance model needs, taken from the catalog.

use tessera_core::chip::{Chip, Precision};
use tessera_core::money::to_usd;

/// Hardware figures in the units the model computes with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hardware {
    /// Dense 16-bit peak, FLOP/s (bf16, else fp16).
    pub peak_16: f64,
    /// Dense fp8 peak, FLOP/s, where the chip has one.
    pub peak_fp8: Option<f64>,
    /// Dense fp4 peak, FLOP/s, where the chip has one.
    pub peak_fp4: Option<f64>,
    /// Memory capacity in bytes. Vendors' "80 GB" of HBM is 80 GiB.
    pub mem_bytes: f64,
    /// Memory bandwidth, bytes/s.
    pub mem_bw: f64,
    /// Scale-up bandwidth per chip per direction, bytes/s (half the vendors' bidirectional figure).
    pub scale_up_bw: f64,
    /// Chips per scale-up domain.
    pub domain: u32,
    /// Scale-out bandwidth per chip per direction, bytes/s.
    pub scale_out_bw: f64,
    /// Board power, W, if known.
    pub tdp_w: Option<f64>,
    /// Mid-point price in USD, if known.
    pub price_usd: Option<f64>,
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

impl Hardware {
    /// The model's view of a chip. Lists every figure the training model needs and the
    /// chip lacks, so the caller can say so plainly.
    pub fn from_chip(chip: &Chip) -> Result<Hardware, Vec<&'static str>> {
        let mut missing = Vec::new();
        let peak_16 = chip
            .peak(Precision::Bf16)
            .or(chip.peak(Precision::Fp16))
            .map(|f| f.value * 1e12);
        if peak_16.is_none() {
            missing.push("bf16-tflops (or fp16-tflops)");
        }
        let mem = chip.memory_gb.as_ref().map(|f| f.value * GIB);
        if mem.is_none() {
            missing.push("memory-gb");
        }
        let bw = chip.memory_bw_tb_s.as_ref().map(|f| f.value * 1e12);
        if bw.is_none() {
            missing.push("memory-bw-tb-s");
        }
        let up = chip.scale_up_gb_s.as_ref().map(|f| f.value * 1e9 / 2.0);
        if up.is_none() {
            missing.push("scale-up-gb-s");
        }
        let domain = chip.scale_up_domain.as_ref().map(|f| f.value as u32);
        if domain.is_none() {
            missing.push("scale-up-domain");
        }
        let out = chip.scale_out_gb_s.as_ref().map(|f| f.value * 1e9);
        if out.is_none() {
            missing.push("scale-out-gb-s");
        }
        match (peak_16, mem, bw, up, domain, out) {
            (
                Some(peak_16),
                Some(mem_bytes),
                Some(mem_bw),
                Some(scale_up_bw),
                Some(domain),
                Some(scale_out_bw),
            ) => Ok(Hardware {
                peak_16,
                peak_fp8: chip.peak(Precision::Fp8).map(|f| f.value * 1e12),
                peak_fp4: chip.peak(Precision::Fp4).map(|f| f.value * 1e12),
                mem_bytes,
                mem_bw,
                scale_up_bw,
                domain: domain.max(1),
                scale_out_bw,
                tdp_w: chip.tdp_w.as_ref().map(|f| f.value),
                price_usd: chip
                    .price
                    .as_ref()
                    .and_then(|p| to_usd(p.mid(), &p.currency)),
            }),
            _ => Err(missing),
        }
    }

    /// Like [`Hardware::from_chip`], but a missing scale-out figure is allowed (set to 0):
    /// serving within one scale-up domain does not need it, and the serving model refuses
    /// layouts that would.
    pub fn from_chip_within_domain(chip: &Chip) -> Result<Hardware, Vec<&'static str>> {
        match Hardware::from_chip(chip) {
            Ok(h) => Ok(h),
            Err(missing) if missing == ["scale-out-gb-s"] => {
                let mut c = chip.clone();
                c.scale_out_gb_s = Some(tessera_core::Figure::new(
                    0.0,
                    tessera_core::Status::Approximate,
                    "unknown: single-domain serving only",
                ));
                Hardware::from_chip(&c)
            }
            Err(m) => Err(m),
        }
    }
}

/// A calibration note followed by the catalog inputs that are not verified, if any.
pub fn with_unverified(note: String, unverified: &[String]) -> String {
    if unverified.is_empty() {
        note
    } else {
        format!(
            "{note}\ninputs not verified (exact or vendor-claimed figures would replace them): {}",
            unverified.join(", ")
        )
    }
}

/// The catalog figures an estimate on `chip` rests on that are neither exact nor the
/// vendor's own, as `key (status)`: the peak used (bf16, else fp16; fp8 when `fp8`),
/// memory, memory bandwidth, scale-up bandwidth and domain, scale-out bandwidth.
pub fn unverified_inputs(chip: &Chip, fp8: bool) -> Vec<String> {
    let peak_key = if chip.figure("bf16-tflops").is_some() {
        "bf16-tflops"
    } else {
        "fp16-tflops"
    };
    let mut keys = vec![peak_key];
    if fp8 {
        keys.push("fp8-tflops");
    }
    keys.extend([
        "memory-gb",
        "memory-bw-tb-s",
        "scale-up-gb-s",
        "scale-up-domain",
        "scale-out-gb-s",
    ]);
    keys.into_iter()
        .filter_map(|k| {
            chip.figure(k)
                .filter(|f| !f.status.is_verified())
                .map(|f| format!("{k} ({})", f.status))
        })
        .collect()
}
