//! Reading `[[model]]` entries.

use crate::error::Source;
use crate::tomlread::{Result, Tbl};
use tessera_core::model::{Mla, Mlp, ModelArch, Moe, Norm, Position, Published};
use toml::de::DeTable;

pub const MODEL_KEYS: [&str; 23] = [
    "id",
    "name",
    "family",
    "hidden",
    "layers",
    "heads",
    "kv-heads",
    "head-dim",
    "ffn-hidden",
    "vocab",
    "max-seq",
    "tied-embeddings",
    "mlp",
    "position",
    "norm",
    "qkv-bias",
    "linear-bias",
    "qk-norm",
    "embedding-norm",
    "moe",
    "mla",
    "published",
    "source",
];

fn choice<T: Copy>(t: &Tbl<'_, '_>, key: &str, options: &[(&str, T)], default: T) -> Result<T> {
    match t.opt_str(key)? {
        None => Ok(default),
        Some(s) => options
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let pos = t.get(key).map_or(t.at, |(_, v)| v.span().start);
                t.err(
                    key,
                    pos,
                    format!("unknown value `{s}`"),
                    Some(format!(
                        "use one of: {}",
                        options
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                )
            }),
    }
}

pub fn read_model(
    src: Source<'_>,
    table: &DeTable<'_>,
    at: usize,
    index: usize,
) -> Result<ModelArch> {
    let ctx = format!("model[{index}]");
    let t = Tbl {
        src,
        table,
        at,
        ctx: &ctx,
    };
    t.deny_unknown(&MODEL_KEYS)?;
    let id = t.req_str("id")?;
    let hidden = t.req_u64("hidden")?;
    let heads = t.req_u64("heads")?;
    let head_dim_default = hidden.checked_div(heads).unwrap_or(0);
    let moe = match t.opt_table("moe")? {
        None => None,
        Some((mt, mat)) => {
            let c = format!("{ctx}.moe");
            let m = Tbl {
                src,
                table: mt,
                at: mat,
                ctx: &c,
            };
            m.deny_unknown(&[
                "experts",
                "top-k",
                "shared-experts",
                "expert-ffn-hidden",
                "shared-ffn-hidden",
                "dense-layers",
                "interval",
            ])?;
            let expert_ffn_hidden = m.req_u64("expert-ffn-hidden")?;
            Some(Moe {
                experts: m.req_u64("experts")?,
                top_k: m.req_u64("top-k")?,
                shared_experts: m.opt_u64("shared-experts")?.unwrap_or(0),
                expert_ffn_hidden,
                shared_ffn_hidden: m.opt_u64("shared-ffn-hidden")?.unwrap_or(expert_ffn_hidden),
                dense_layers: m.opt_u64("dense-layers")?.unwrap_or(0),
                interval: m.opt_u64("interval")?.unwrap_or(1),
            })
        }
    };
    let mla = match t.opt_table("mla")? {
        None => None,
        Some((mt, mat)) => {
            let c = format!("{ctx}.mla");
            let m = Tbl {
                src,
                table: mt,
                at: mat,
                ctx: &c,
            };
            m.deny_unknown(&[
                "q-lora-rank",
                "kv-lora-rank",
                "qk-nope-head-dim",
                "qk-rope-head-dim",
                "v-head-dim",
            ])?;
            Some(Mla {
                q_lora_rank: m.opt_u64("q-lora-rank")?,
                kv_lora_rank: m.req_u64("kv-lora-rank")?,
                qk_nope_head_dim: m.req_u64("qk-nope-head-dim")?,
                qk_rope_head_dim: m.req_u64("qk-rope-head-dim")?,
                v_head_dim: m.req_u64("v-head-dim")?,
            })
        }
    };
    let published = match t.opt_table("published")? {
        None => None,
        Some((pt, pat)) => {
            let c = format!("{ctx}.published");
            let p = Tbl {
                src,
                table: pt,
                at: pat,
                ctx: &c,
            };
            p.deny_unknown(&["total-b", "active-b", "source", "rounded"])?;
            Some(Published {
                total_b: p
                    .opt_f64("total-b")?
                    .ok_or_else(|| p.missing("total-b", None))?,
                active_b: p.opt_f64("active-b")?,
                source: p.req_str("source")?,
                rounded: p.opt_bool("rounded")?.unwrap_or(false),
            })
        }
    };
    let m = ModelArch {
        name: t.opt_str("name")?.unwrap_or_else(|| id.clone()),
        family: t.opt_str("family")?.unwrap_or_else(|| "custom".into()),
        id,
        hidden,
        layers: t.req_u64("layers")?,
        heads,
        kv_heads: t.opt_u64("kv-heads")?.unwrap_or(heads),
        head_dim: t.opt_u64("head-dim")?.unwrap_or(head_dim_default),
        ffn_hidden: t.opt_u64("ffn-hidden")?.unwrap_or(0),
        vocab: t.req_u64("vocab")?,
        max_seq: t.opt_u64("max-seq")?.unwrap_or(0),
        tied_embeddings: t.opt_bool("tied-embeddings")?.unwrap_or(false),
        mlp: choice(
            &t,
            "mlp",
            &[("gated", Mlp::Gated), ("plain", Mlp::Plain)],
            Mlp::Gated,
        )?,
        position: choice(
            &t,
            "position",
            &[
                ("rope", Position::Rope),
                ("learned", Position::Learned),
                ("alibi", Position::Alibi),
            ],
            Position::Rope,
        )?,
        norm: choice(
            &t,
            "norm",
            &[("rms", Norm::Rms), ("layer", Norm::Layer)],
            Norm::Rms,
        )?,
        qkv_bias: t.opt_bool("qkv-bias")?.unwrap_or(false),
        linear_bias: t.opt_bool("linear-bias")?.unwrap_or(false),
        qk_norm: t.opt_bool("qk-norm")?.unwrap_or(false),
        embedding_norm: t.opt_bool("embedding-norm")?.unwrap_or(false),
        moe,
        mla,
        published,
        source: t.opt_str("source")?,
    };
    m.validate().map_err(|(field, msg)| {
        let key = field;
        let pos = t.get(key).map_or(at, |(_, v)| v.span().start);
        t.err(key, pos, msg, None)
    })?;
    Ok(m)
}
