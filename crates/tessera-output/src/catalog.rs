//! The catalog: `chips list|show|compare` and `models list|show`.

use serde::Serialize;
use tessera_core::chip::{Chip, Price};
use tessera_core::figure::Figure;
use tessera_core::model::{Mla, Mlp, ModelArch, Moe, Norm, ParamBreakdown, Position, Published};

/// A figure with its provenance: `status` is one of `exact`, `vendor-claimed`,
/// `reported`, `approximate`, `unverified`, `user`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FigureV1 {
    pub value: f64,
    pub status: &'static str,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl From<&Figure<f64>> for FigureV1 {
    fn from(f: &Figure<f64>) -> Self {
        FigureV1 {
            value: f.value,
            status: f.status.as_str(),
            source: f.source.clone(),
            note: f.note.clone(),
        }
    }
}

fn fig(f: &Option<Figure<f64>>) -> Option<FigureV1> {
    f.as_ref().map(FigureV1::from)
}

/// A reported price range, in `currency` per chip.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceV1 {
    pub low: f64,
    pub high: f64,
    pub currency: String,
    pub date: String,
    pub status: &'static str,
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
}

impl From<&Price> for PriceV1 {
    fn from(p: &Price) -> Self {
        PriceV1 {
            low: p.low,
            high: p.high,
            currency: p.currency.clone(),
            date: p.date.clone(),
            status: p.status.as_str(),
            source: p.source.clone(),
            basis: p.basis.clone(),
        }
    }
}

/// One accelerator as the catalog holds it. Peaks are dense: TFLOP/s (TOP/s for int8);
/// memory GB as the vendor states it; bandwidths TB/s (memory) and GB/s (links, both
/// directions together); power W; die area mm². An unknown figure is `null`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChipV1 {
    pub id: String,
    pub name: String,
    pub vendor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_year: Option<u16>,
    /// `YYYY-MM-DD` (day 1 when only the month is known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub announced: Option<String>,
    pub segment: String,
    pub datacenter: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_up_kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub die_area_basis: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collective_lib: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visible_devices_env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k8s_resource: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_stack: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub fp32_tflops: Option<FigureV1>,
    pub bf16_tflops: Option<FigureV1>,
    pub fp16_tflops: Option<FigureV1>,
    pub fp8_tflops: Option<FigureV1>,
    pub int8_tops: Option<FigureV1>,
    pub fp4_tflops: Option<FigureV1>,
    pub memory_gb: Option<FigureV1>,
    pub memory_bw_tb_s: Option<FigureV1>,
    pub scale_up_gb_s: Option<FigureV1>,
    pub scale_up_domain: Option<FigureV1>,
    pub scale_out_gb_s: Option<FigureV1>,
    pub host_io_gb_s: Option<FigureV1>,
    pub scale_up_is_host_link: bool,
    pub tdp_w: Option<FigureV1>,
    pub die_area_mm2: Option<FigureV1>,
    pub price: Option<PriceV1>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_tpp: Option<f64>,
}

impl From<&Chip> for ChipV1 {
    fn from(c: &Chip) -> Self {
        ChipV1 {
            id: c.id.clone(),
            name: c.name.clone(),
            vendor: c.vendor.clone(),
            variant: c.variant.clone(),
            release_year: c.release_year,
            announced: c.announced.map(|d| d.to_string()),
            segment: c.segment.clone(),
            datacenter: c.datacenter,
            memory_type: c.memory_type.clone(),
            scale_up_kind: c.scale_up_kind.clone(),
            process: c.process.clone(),
            die_area_basis: c.die_area_basis.clone(),
            collective_lib: c.collective_lib.clone(),
            visible_devices_env: c.visible_devices_env.clone(),
            k8s_resource: c.k8s_resource.clone(),
            software_stack: c.software_stack.clone(),
            export_notes: c.export_notes.clone(),
            confidence: c.confidence.clone(),
            notes: c.notes.clone(),
            fp32_tflops: fig(&c.fp32_tflops),
            bf16_tflops: fig(&c.bf16_tflops),
            fp16_tflops: fig(&c.fp16_tflops),
            fp8_tflops: fig(&c.fp8_tflops),
            int8_tops: fig(&c.int8_tops),
            fp4_tflops: fig(&c.fp4_tflops),
            memory_gb: fig(&c.memory_gb),
            memory_bw_tb_s: fig(&c.memory_bw_tb_s),
            scale_up_gb_s: fig(&c.scale_up_gb_s),
            scale_up_domain: fig(&c.scale_up_domain),
            scale_out_gb_s: fig(&c.scale_out_gb_s),
            host_io_gb_s: fig(&c.host_io_gb_s),
            scale_up_is_host_link: c.scale_up_is_host_link,
            tdp_w: fig(&c.tdp_w),
            die_area_mm2: fig(&c.die_area_mm2),
            price: c.price.as_ref().map(PriceV1::from),
            reference_tpp: c.reference_tpp,
        }
    }
}

/// Figures tessera derives for a chip under the export rules.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChipDerivedV1 {
    /// Total processing performance (dense peak x bit length, the best format).
    pub tpp: Option<f64>,
    /// The format TPP comes from.
    pub tpp_from: Option<&'static str>,
    /// TPP per mm² of applicable die area.
    pub performance_density: Option<f64>,
    pub eccn_oct2022: String,
    pub eccn_oct2023: String,
}

/// `tessera chips show ID --format json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChipShowV1 {
    pub chip: ChipV1,
    pub derived: ChipDerivedV1,
}

/// One row of `tessera chips list --format json` (the figures' values only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChipRowV1 {
    pub id: String,
    pub name: String,
    pub vendor: String,
    pub variant: Option<String>,
    pub bf16_tflops: Option<f64>,
    pub fp16_tflops: Option<f64>,
    pub fp8_tflops: Option<f64>,
    pub int8_tops: Option<f64>,
    pub memory_gb: Option<f64>,
    pub memory_bw_tb_s: Option<f64>,
    pub scale_up_gb_s: Option<f64>,
    pub tdp_w: Option<f64>,
    pub price_low: Option<f64>,
    pub price_high: Option<f64>,
    pub price_currency: Option<String>,
}

fn val(f: &Option<Figure<f64>>) -> Option<f64> {
    f.as_ref().map(|f| f.value)
}

impl From<&Chip> for ChipRowV1 {
    fn from(c: &Chip) -> Self {
        ChipRowV1 {
            id: c.id.clone(),
            name: c.name.clone(),
            vendor: c.vendor.clone(),
            variant: c.variant.clone(),
            bf16_tflops: val(&c.bf16_tflops),
            fp16_tflops: val(&c.fp16_tflops),
            fp8_tflops: val(&c.fp8_tflops),
            int8_tops: val(&c.int8_tops),
            memory_gb: val(&c.memory_gb),
            memory_bw_tb_s: val(&c.memory_bw_tb_s),
            scale_up_gb_s: val(&c.scale_up_gb_s),
            tdp_w: val(&c.tdp_w),
            price_low: c.price.as_ref().map(|p| p.low),
            price_high: c.price.as_ref().map(|p| p.high),
            price_currency: c.price.as_ref().map(|p| p.currency.clone()),
        }
    }
}

/// `tessera chips list --format json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChipListV1 {
    pub chips: Vec<ChipRowV1>,
}

/// One numeric row of `tessera chips compare`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareRowV1 {
    pub metric: String,
    pub unit: String,
    /// One value per chip, `null` where unknown.
    pub values: Vec<Option<f64>>,
    /// Ratio to the first chip, `null` where either is unknown.
    pub ratios: Vec<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One text row of `tessera chips compare` (export status).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareTextV1 {
    pub metric: String,
    pub values: Vec<String>,
}

/// `tessera chips compare --format json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChipCompareV1 {
    pub chips: Vec<String>,
    pub baseline: String,
    /// `YYYY-MM-DD`: the date the export rows are read on.
    pub date: String,
    pub rows: Vec<CompareRowV1>,
    pub export: Vec<CompareTextV1>,
    pub notes: Vec<String>,
}

/// One row of `tessera models list --format json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelRowV1 {
    pub id: String,
    pub name: String,
    pub family: String,
    /// `dense` or `moe`.
    pub kind: &'static str,
    pub attention: &'static str,
    pub params_total: u64,
    pub params_active: u64,
    pub layers: u64,
    pub hidden: u64,
}

impl From<&ModelArch> for ModelRowV1 {
    fn from(m: &ModelArch) -> Self {
        ModelRowV1 {
            id: m.id.clone(),
            name: m.name.clone(),
            family: m.family.clone(),
            kind: m.kind(),
            attention: m.attention_kind(),
            params_total: m.total_params(),
            params_active: m.active_param_count(),
            layers: m.layers,
            hidden: m.hidden,
        }
    }
}

/// `tessera models list --format json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelListV1 {
    pub models: Vec<ModelRowV1>,
}

/// Mixture-of-experts layers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MoeV1 {
    pub experts: u64,
    pub top_k: u64,
    pub shared_experts: u64,
    pub expert_ffn_hidden: u64,
    pub shared_ffn_hidden: u64,
    pub dense_layers: u64,
    pub interval: u64,
}

impl From<&Moe> for MoeV1 {
    fn from(m: &Moe) -> Self {
        MoeV1 {
            experts: m.experts,
            top_k: m.top_k,
            shared_experts: m.shared_experts,
            expert_ffn_hidden: m.expert_ffn_hidden,
            shared_ffn_hidden: m.shared_ffn_hidden,
            dense_layers: m.dense_layers,
            interval: m.interval,
        }
    }
}

/// Multi-head latent attention.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MlaV1 {
    pub q_lora_rank: Option<u64>,
    pub kv_lora_rank: u64,
    pub qk_nope_head_dim: u64,
    pub qk_rope_head_dim: u64,
    pub v_head_dim: u64,
}

impl From<&Mla> for MlaV1 {
    fn from(m: &Mla) -> Self {
        MlaV1 {
            q_lora_rank: m.q_lora_rank,
            kv_lora_rank: m.kv_lora_rank,
            qk_nope_head_dim: m.qk_nope_head_dim,
            qk_rope_head_dim: m.qk_rope_head_dim,
            v_head_dim: m.v_head_dim,
        }
    }
}

/// A published parameter count, in billions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishedV1 {
    pub total_b: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_b: Option<f64>,
    pub source: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rounded: bool,
}

impl From<&Published> for PublishedV1 {
    fn from(p: &Published) -> Self {
        PublishedV1 {
            total_b: p.total_b,
            active_b: p.active_b,
            source: p.source.clone(),
            rounded: p.rounded,
        }
    }
}

/// A model's shape as the catalog (or an imported `config.json`) gives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelV1 {
    pub id: String,
    pub name: String,
    pub family: String,
    pub hidden: u64,
    pub layers: u64,
    pub heads: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    pub ffn_hidden: u64,
    pub vocab: u64,
    pub max_seq: u64,
    pub tied_embeddings: bool,
    /// `gated` or `plain`.
    pub mlp: &'static str,
    /// `rope`, `learned` or `alibi`.
    pub position: &'static str,
    /// `rms` or `layer`.
    pub norm: &'static str,
    pub qkv_bias: bool,
    pub linear_bias: bool,
    pub qk_norm: bool,
    pub embedding_norm: bool,
    pub moe: Option<MoeV1>,
    pub mla: Option<MlaV1>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<PublishedV1>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl From<&ModelArch> for ModelV1 {
    fn from(m: &ModelArch) -> Self {
        ModelV1 {
            id: m.id.clone(),
            name: m.name.clone(),
            family: m.family.clone(),
            hidden: m.hidden,
            layers: m.layers,
            heads: m.heads,
            kv_heads: m.kv_heads,
            head_dim: m.head_dim,
            ffn_hidden: m.ffn_hidden,
            vocab: m.vocab,
            max_seq: m.max_seq,
            tied_embeddings: m.tied_embeddings,
            mlp: match m.mlp {
                Mlp::Gated => "gated",
                Mlp::Plain => "plain",
            },
            position: match m.position {
                Position::Rope => "rope",
                Position::Learned => "learned",
                Position::Alibi => "alibi",
            },
            norm: match m.norm {
                Norm::Rms => "rms",
                Norm::Layer => "layer",
            },
            qkv_bias: m.qkv_bias,
            linear_bias: m.linear_bias,
            qk_norm: m.qk_norm,
            embedding_norm: m.embedding_norm,
            moe: m.moe.as_ref().map(MoeV1::from),
            mla: m.mla.as_ref().map(MlaV1::from),
            published: m.published.as_ref().map(PublishedV1::from),
            source: m.source.clone(),
        }
    }
}

/// Parameter counts by part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamsV1 {
    pub embedding: u64,
    pub lm_head: u64,
    pub attention: u64,
    pub dense_mlp: u64,
    pub routed_experts: u64,
    pub shared_experts: u64,
    pub routers: u64,
    pub norms: u64,
}

impl From<&ParamBreakdown> for ParamsV1 {
    fn from(p: &ParamBreakdown) -> Self {
        ParamsV1 {
            embedding: p.embedding,
            lm_head: p.lm_head,
            attention: p.attention,
            dense_mlp: p.dense_mlp,
            routed_experts: p.routed_experts,
            shared_experts: p.shared_experts,
            routers: p.routers,
            norms: p.norms,
        }
    }
}

/// Bytes for one precision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PerDTypeV1 {
    pub dtype: &'static str,
    pub weight_bytes: f64,
    pub kv_cache_bytes_per_token: f64,
}

/// `tessera models show ID --format json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelShowV1 {
    pub model: ModelV1,
    pub kind: &'static str,
    pub attention: &'static str,
    pub params_total: u64,
    pub params_active: u64,
    pub params: ParamsV1,
    pub active_params: ParamsV1,
    pub moe_layers: u64,
    pub seq_len: u64,
    /// Forward + backward FLOPs per token, attention over the full sequence, no recompute.
    pub train_flops_per_token: f64,
    /// The attention share of those FLOPs.
    pub train_attention_flops_per_token: f64,
    /// 6 x active parameters, the common approximation, for comparison.
    pub six_n_flops_per_token: f64,
    pub kv_cache_elems_per_token: u64,
    pub per_dtype: Vec<PerDTypeV1>,
    /// tessera's total parameter count against the published one, percent.
    pub published_error_pct: Option<f64>,
}
