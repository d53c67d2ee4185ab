//! `tessera models ...`

use crate::cli::{Format, ModelsCmd};
use crate::exit::Result;
use crate::out::{self, billions, bytes, num};
use tessera_catalog::Catalog;
use tessera_core::model::DType;
use tessera_output::catalog::{
    ModelListV1, ModelRowV1, ModelShowV1, ModelV1, ParamsV1, PerDTypeV1,
};

pub fn run(cat: &Catalog, fmt: Format, cmd: ModelsCmd) -> Result<()> {
    match cmd {
        ModelsCmd::List => list(cat, fmt),
        ModelsCmd::Show { model, seq_len } => show(cat, fmt, &model, seq_len),
    }
}

fn list(cat: &Catalog, fmt: Format) -> Result<()> {
    let rows: Vec<ModelRowV1> = cat.models.iter().map(ModelRowV1::from).collect();
    if fmt == Format::Json {
        return out::print_json(&ModelListV1 { models: rows });
    }
    let mut t = out::table(&[
        "id",
        "name",
        "kind",
        "attention",
        "params",
        "active",
        "layers",
        "hidden",
    ]);
    for r in &rows {
        t.add_row(vec![
            r.id.to_string(),
            r.name.to_string(),
            r.kind.to_string(),
            r.attention.to_string(),
            billions(r.params_total),
            billions(r.params_active),
            r.layers.to_string(),
            r.hidden.to_string(),
        ]);
    }
    crate::outln!("{t}");
    crate::outln!(
        "{} models. `tessera models show ID` (or a path to a Hugging Face config.json) gives the derived figures.",
        rows.len()
    );
    Ok(())
}

fn show(cat: &Catalog, fmt: Format, model: &str, seq_len: u64) -> Result<()> {
    let m = cat.model(model)?;
    let total = m.total_params();
    let active = m.active_param_count();
    let s = ModelShowV1 {
        model: ModelV1::from(&m),
        kind: m.kind(),
        attention: m.attention_kind(),
        params_total: total,
        params_active: active,
        params: ParamsV1::from(&m.params()),
        active_params: ParamsV1::from(&m.active_params()),
        moe_layers: m.moe_layers(),
        seq_len,
        train_flops_per_token: m.train_flops_per_token(seq_len),
        train_attention_flops_per_token: 3.0 * m.attention_flops_per_token_fwd(seq_len),
        six_n_flops_per_token: 6.0 * active as f64,
        kv_cache_elems_per_token: m.kv_cache_elems_per_token(),
        per_dtype: DType::ALL
            .iter()
            .map(|d| PerDTypeV1 {
                dtype: d.as_str(),
                weight_bytes: m.weight_bytes(*d),
                kv_cache_bytes_per_token: m.kv_cache_bytes_per_token(*d),
            })
            .collect(),
        published_error_pct: m
            .published
            .as_ref()
            .map(|p| (total as f64 / 1e9 / p.total_b - 1.0) * 100.0),
    };
    if fmt == Format::Json {
        return out::print_json(&s);
    }
    crate::outln!(
        "{} — {} ({}, {} attention)",
        m.id,
        m.name,
        s.kind,
        s.attention
    );
    if let Some(src) = &m.source {
        crate::outln!("shape from: {src}");
    }
    let mut t = out::table(&["shape", "value"]);
    t.add_row(vec!["layers".to_string(), m.layers.to_string()]);
    t.add_row(vec!["hidden".to_string(), m.hidden.to_string()]);
    t.add_row(vec![
        "heads / kv heads / head dim".to_string(),
        format!("{} / {} / {}", m.heads, m.kv_heads, m.head_dim),
    ]);
    t.add_row(vec!["ffn hidden".to_string(), m.ffn_hidden.to_string()]);
    t.add_row(vec!["vocab".to_string(), m.vocab.to_string()]);
    t.add_row(vec![
        "embeddings tied".to_string(),
        m.tied_embeddings.to_string(),
    ]);
    if let Some(moe) = &m.moe {
        t.add_row(vec![
            "experts".to_string(),
            format!(
                "{} routed (top-{}), {} shared, expert ffn {}, {} MoE layers of {}",
                moe.experts,
                moe.top_k,
                moe.shared_experts,
                moe.expert_ffn_hidden,
                s.moe_layers,
                m.layers
            ),
        ]);
    }
    if let Some(mla) = &m.mla {
        t.add_row(vec![
            "MLA".to_string(),
            format!(
                "q rank {}, kv rank {}, qk nope/rope {}/{}, v {}",
                mla.q_lora_rank.map_or("none".into(), |r| r.to_string()),
                mla.kv_lora_rank,
                mla.qk_nope_head_dim,
                mla.qk_rope_head_dim,
                mla.v_head_dim
            ),
        ]);
    }
    crate::outln!("{t}");
    let mut p = out::table(&["parameters", "total", "active per token"]);
    let (a, b) = (s.params, s.active_params);
    for (k, x, y) in [
        ("embedding", a.embedding, b.embedding),
        ("lm head", a.lm_head, b.lm_head),
        ("attention", a.attention, b.attention),
        ("dense mlp", a.dense_mlp, b.dense_mlp),
        ("routed experts", a.routed_experts, b.routed_experts),
        ("shared experts", a.shared_experts, b.shared_experts),
        ("routers", a.routers, b.routers),
        ("norms", a.norms, b.norms),
        ("total", total, active),
    ] {
        if x > 0 || k == "total" {
            p.add_row(vec![k.to_string(), billions(x), billions(y)]);
        }
    }
    crate::outln!("{p}");
    if let Some(pb) = &m.published {
        let err = s.published_error_pct.unwrap_or(0.0);
        crate::outln!(
            "published: {}B total{} ({}): tessera's count is {:+.2}% off{}",
            num(pb.total_b),
            pb.active_b
                .map_or(String::new(), |a| format!(", {}B active", num(a))),
            pb.source,
            err,
            if pb.rounded {
                " (the published figure is a rounded label)"
            } else {
                ""
            }
        );
    }
    let mut f = out::table(&["derived", "value"]);
    f.add_row(vec![
        format!("training FLOPs per token at seq {seq_len}"),
        format!("{:.4e}", s.train_flops_per_token),
    ]);
    f.add_row(vec![
        "  of which attention".to_string(),
        format!("{:.4e}", s.train_attention_flops_per_token),
    ]);
    f.add_row(vec![
        "  6 x active params, for comparison".to_string(),
        format!("{:.4e}", s.six_n_flops_per_token),
    ]);
    for d in &s.per_dtype {
        f.add_row(vec![format!("weights, {}", d.dtype), bytes(d.weight_bytes)]);
    }
    for d in &s.per_dtype {
        f.add_row(vec![
            format!("KV cache per token, {}", d.dtype),
            bytes(d.kv_cache_bytes_per_token),
        ]);
    }
    crate::outln!("{f}");
    crate::outln!(
        "note: FLOPs follow Megatron-LM's convention (2 per multiply-add, backward = 2x forward, attention over the full sequence, LM head included, recompute excluded)."
    );
    if m.mla.is_some() {
        crate::outln!(
            "note: MLA caches the compressed KV latent plus the shared rotary key per layer."
        );
    }
    Ok(())
}
