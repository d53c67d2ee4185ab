//! Accelerators and their figures.

use crate::figure::{Figure, Status};
use std::fmt;

/// A number format a chip computes in. Peaks are dense (no sparsity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Precision {
    Fp32,
    Bf16,
    Fp16,
    Fp8,
    Int8,
    Fp4,
}

impl Precision {
    pub const ALL: [Precision; 6] = [
        Precision::Fp32,
        Precision::Bf16,
        Precision::Fp16,
        Precision::Fp8,
        Precision::Int8,
        Precision::Fp4,
    ];

    /// Bit length of the operation, as the export rules use it.
    pub fn bits(self) -> u32 {
        match self {
            Precision::Fp32 => 32,
            Precision::Bf16 | Precision::Fp16 => 16,
            Precision::Fp8 | Precision::Int8 => 8,
            Precision::Fp4 => 4,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
            Precision::Fp8 => "fp8",
            Precision::Int8 => "int8",
            Precision::Fp4 => "fp4",
        }
    }

    /// The unit of its peak: TFLOP/s for floating point, TOP/s for integers.
    pub fn unit(self) -> &'static str {
        match self {
            Precision::Int8 => "TOP/s",
            _ => "TFLOP/s",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A reported price range.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    pub low: f64,
    pub high: f64,
    pub currency: String,
    /// When the price was reported, as the source gives it (a year, a range, a date).
    pub date: String,
    pub status: Status,
    pub source: String,
    pub basis: Option<String>,
}

impl Price {
    pub fn mid(&self) -> f64 {
        (self.low + self.high) / 2.0
    }
}

/// One accelerator model. Figures that are not known are `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Chip {
    pub id: String,
    pub name: String,
    pub vendor: String,
    pub variant: Option<String>,
    pub release_year: Option<u16>,
    /// When the chip was announced and could be ordered, where known (a month: day 1).
    pub announced: Option<crate::date::Date>,
    pub segment: String,
    /// Designed or marketed for datacenters (the export rules' Note 2 turns on this).
    pub datacenter: bool,
    pub memory_type: Option<String>,
    pub scale_up_kind: Option<String>,
    pub process: Option<String>,
    pub die_area_basis: Option<String>,
    pub collective_lib: Option<String>,
    pub visible_devices_env: Option<String>,
    pub k8s_resource: Option<String>,
    pub software_stack: Option<String>,
    pub export_notes: Option<String>,
    pub confidence: Option<String>,
    pub notes: Option<String>,

    /// Dense peak, TFLOP/s.
    pub fp32_tflops: Option<Figure<f64>>,
    pub bf16_tflops: Option<Figure<f64>>,
    pub fp16_tflops: Option<Figure<f64>>,
    pub fp8_tflops: Option<Figure<f64>>,
    /// Dense peak, TOP/s.
    pub int8_tops: Option<Figure<f64>>,
    /// Dense fp4 peak, TFLOP/s (Blackwell and later).
    pub fp4_tflops: Option<Figure<f64>>,
    /// Memory capacity, GB as the vendor states it.
    pub memory_gb: Option<Figure<f64>>,
    /// Memory bandwidth, TB/s.
    pub memory_bw_tb_s: Option<Figure<f64>>,
    /// Scale-up link, GB/s per chip, both directions together (the vendors' convention).
    pub scale_up_gb_s: Option<Figure<f64>>,
    /// Chips in one scale-up domain (a node, or a supernode).
    pub scale_up_domain: Option<Figure<f64>>,
    /// Scale-out network, GB/s per chip (NIC line rate / 8).
    pub scale_out_gb_s: Option<Figure<f64>>,
    /// Host (PCIe) link, GB/s both directions, where separate from the scale-up link.
    pub host_io_gb_s: Option<Figure<f64>>,
    /// The scale-up link is the host (PCIe) link itself: no separate chip-to-chip link,
    /// so `scale_up_gb_s` is the chip's whole I/O.
    pub scale_up_is_host_link: bool,
    pub tdp_w: Option<Figure<f64>>,
    /// Applicable logic die area in mm² (for performance density).
    pub die_area_mm2: Option<Figure<f64>>,
    pub price: Option<Price>,
    /// TPP as the research notes computed it, kept to cross-check tessera's own arithmetic.
    pub reference_tpp: Option<f64>,
}

impl Chip {
    /// A chip with only its identity filled in; every figure unknown.
    pub fn new(id: impl Into<String>, name: impl Into<String>, vendor: impl Into<String>) -> Chip {
        Chip {
            id: id.into(),
            name: name.into(),
            vendor: vendor.into(),
            variant: None,
            release_year: None,
            announced: None,
            segment: "datacenter".into(),
            datacenter: true,
            memory_type: None,
            scale_up_kind: None,
            process: None,
            die_area_basis: None,
            collective_lib: None,
            visible_devices_env: None,
            k8s_resource: None,
            software_stack: None,
            export_notes: None,
            confidence: None,
            notes: None,
            fp32_tflops: None,
            bf16_tflops: None,
            fp16_tflops: None,
            fp8_tflops: None,
            int8_tops: None,
            fp4_tflops: None,
            memory_gb: None,
            memory_bw_tb_s: None,
            scale_up_gb_s: None,
            scale_up_domain: None,
            scale_out_gb_s: None,
            host_io_gb_s: None,
            scale_up_is_host_link: false,
            tdp_w: None,
            die_area_mm2: None,
            price: None,
            reference_tpp: None,
        }
    }

    /// Dense peak in a precision, if known.
    pub fn peak(&self, p: Precision) -> Option<&Figure<f64>> {
        match p {
            Precision::Fp32 => self.fp32_tflops.as_ref(),
            Precision::Bf16 => self.bf16_tflops.as_ref(),
            Precision::Fp16 => self.fp16_tflops.as_ref(),
            Precision::Fp8 => self.fp8_tflops.as_ref(),
            Precision::Int8 => self.int8_tops.as_ref(),
            Precision::Fp4 => self.fp4_tflops.as_ref(),
        }
    }

    pub fn peak_mut(&mut self, p: Precision) -> &mut Option<Figure<f64>> {
        match p {
            Precision::Fp32 => &mut self.fp32_tflops,
            Precision::Bf16 => &mut self.bf16_tflops,
            Precision::Fp16 => &mut self.fp16_tflops,
            Precision::Fp8 => &mut self.fp8_tflops,
            Precision::Int8 => &mut self.int8_tops,
            Precision::Fp4 => &mut self.fp4_tflops,
        }
    }

    /// Whether the chip's memory is HBM (the December 2024 rule concerns it).
    pub fn has_hbm(&self) -> bool {
        self.memory_type
            .as_deref()
            .is_some_and(|m| m.to_ascii_uppercase().contains("HBM"))
    }

    /// A short label: name plus variant.
    pub fn label(&self) -> String {
        match &self.variant {
            Some(v) => format!("{} ({v})", self.name),
            None => self.name.clone(),
        }
    }
}

/// Names of every numeric figure a chip can carry, in catalog-file spelling, with the
/// unit. Shared by the catalog reader, the CLI and the docs so they cannot drift.
pub const FIGURE_KEYS: [(&str, &str); 15] = [
    ("fp32-tflops", "TFLOP/s"),
    ("bf16-tflops", "TFLOP/s"),
    ("fp16-tflops", "TFLOP/s"),
    ("fp8-tflops", "TFLOP/s"),
    ("int8-tops", "TOP/s"),
    ("fp4-tflops", "TFLOP/s"),
    ("memory-gb", "GB"),
    ("memory-bw-tb-s", "TB/s"),
    ("scale-up-gb-s", "GB/s"),
    ("scale-up-domain", "chips"),
    ("scale-out-gb-s", "GB/s"),
    ("host-io-gb-s", "GB/s"),
    ("tdp-w", "W"),
    ("die-area-mm2", "mm²"),
    ("price", ""),
];

/// The range a catalog figure must lie in to be physically plausible, far wider than any
/// chip made or announced (the fastest dense fp4 peak is about 10,000 TFLOP/s, the largest
/// HBM about 300 GB at 8 TB/s): a figure outside it is a typo or a unit mistake, and
/// would make estimates meaningless. `None` for keys without a figure.
pub fn plausible_range(key: &str) -> Option<(f64, f64)> {
    Some(match key {
        "fp32-tflops" | "bf16-tflops" | "fp16-tflops" | "fp8-tflops" | "int8-tops"
        | "fp4-tflops" => (1e-3, 1e5),
        "memory-gb" => (1e-3, 1e5),
        "memory-bw-tb-s" => (1e-3, 1e3),
        "scale-up-gb-s" | "scale-out-gb-s" | "host-io-gb-s" => (1e-3, 1e6),
        "scale-up-domain" => (1.0, 1e6),
        "tdp-w" => (1.0, 1e5),
        "die-area-mm2" => (1.0, 1e5),
        _ => return None,
    })
}

impl Chip {
    /// The first day the chip could be ordered: its announcement if known, else the first
    /// day of its release year; `None` when neither is known.
    pub fn available_from(&self) -> Option<crate::date::Date> {
        self.announced
            .or(self.release_year.map(|y| crate::date::Date::new(y, 1, 1)))
    }

    /// Whether the chip could be ordered on `date` (unknown dates count as yes).
    pub fn exists_on(&self, date: crate::date::Date) -> bool {
        self.available_from().is_none_or(|d| date >= d)
    }

    /// The figure stored under a catalog key (see [`FIGURE_KEYS`]); `price` is not a figure.
    pub fn figure(&self, key: &str) -> Option<&Figure<f64>> {
        self.figure_slot(key).and_then(|f| f.as_ref())
    }

    fn figure_slot(&self, key: &str) -> Option<&Option<Figure<f64>>> {
        Some(match key {
            "fp32-tflops" => &self.fp32_tflops,
            "bf16-tflops" => &self.bf16_tflops,
            "fp16-tflops" => &self.fp16_tflops,
            "fp8-tflops" => &self.fp8_tflops,
            "int8-tops" => &self.int8_tops,
            "fp4-tflops" => &self.fp4_tflops,
            "memory-gb" => &self.memory_gb,
            "memory-bw-tb-s" => &self.memory_bw_tb_s,
            "scale-up-gb-s" => &self.scale_up_gb_s,
            "scale-up-domain" => &self.scale_up_domain,
            "scale-out-gb-s" => &self.scale_out_gb_s,
            "host-io-gb-s" => &self.host_io_gb_s,
            "tdp-w" => &self.tdp_w,
            "die-area-mm2" => &self.die_area_mm2,
            _ => return None,
        })
    }

    /// Mutable access to the figure stored under a catalog key.
    pub fn figure_mut(&mut self, key: &str) -> Option<&mut Option<Figure<f64>>> {
        Some(match key {
            "fp32-tflops" => &mut self.fp32_tflops,
            "bf16-tflops" => &mut self.bf16_tflops,
            "fp16-tflops" => &mut self.fp16_tflops,
            "fp8-tflops" => &mut self.fp8_tflops,
            "int8-tops" => &mut self.int8_tops,
            "fp4-tflops" => &mut self.fp4_tflops,
            "memory-gb" => &mut self.memory_gb,
            "memory-bw-tb-s" => &mut self.memory_bw_tb_s,
            "scale-up-gb-s" => &mut self.scale_up_gb_s,
            "scale-up-domain" => &mut self.scale_up_domain,
            "scale-out-gb-s" => &mut self.scale_out_gb_s,
            "host-io-gb-s" => &mut self.host_io_gb_s,
            "tdp-w" => &mut self.tdp_w,
            "die-area-mm2" => &mut self.die_area_mm2,
            _ => return None,
        })
    }
}
