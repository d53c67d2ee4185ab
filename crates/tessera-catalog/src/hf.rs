//! Import of a Hugging Face `config.json` into a [`ModelArch`].

use crate::error::{CatalogError, Source};
use serde_json::{Map, Value};
use tessera_core::model::{Mla, Mlp, ModelArch, Moe, Norm, Position};

/// The `model_type` values tessera reads.
pub const SUPPORTED_TYPES: [&str; 10] = [
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen3",
    "qwen3_moe",
    "deepseek_v3",
    "ernie4_5",
    "ernie4_5_moe",
    "gpt2",
];

type Result<T> = std::result::Result<T, CatalogError>;

struct Cfg<'a> {
    src: Source<'a>,
    obj: &'a Map<String, Value>,
}

/// Byte offset of `"key":` in the text, for pointing at a field.
fn key_offset(text: &str, key: &str) -> Option<usize> {
    let pat = format!("\"{key}\"");
    let mut from = 0;
    while let Some(i) = text[from..].find(&pat) {
        let at = from + i;
        let rest = text[at + pat.len()..].trim_start();
        if rest.starts_with(':') {
            return Some(at);
        }
        from = at + pat.len();
    }
    None
}

impl<'a> Cfg<'a> {
    fn err(&self, key: &str, msg: impl Into<String>, hint: Option<String>) -> CatalogError {
        self.src.error_at(
            key_offset(self.src.text, key).or(Some(0)),
            Some(key.to_string()),
            msg,
            hint,
        )
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        match self.obj.get(key) {
            Some(Value::Null) | None => None,
            Some(v) => Some(v),
        }
    }

    /// A non-negative integer; lists (ERNIE's per-modality fields) give their first entry.
    fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        let v = match v {
            Value::Array(a) if !a.is_empty() => &a[0],
            other => other,
        };
        match v {
            Value::Number(n) => match n.as_u64() {
                Some(x) => Ok(Some(x)),
                None => Err(self.err(
                    key,
                    format!("expected a non-negative whole number, found {n}"),
                    None,
                )),
            },
            other => Err(self.err(
                key,
                format!("expected a whole number, found {}", kind(other)),
                None,
            )),
        }
    }

    fn req_u64(&self, key: &str) -> Result<u64> {
        self.opt_u64(key)?
            .ok_or_else(|| self.err(key, "required field is missing", None))
    }

    fn first_u64(&self, keys: &[&str]) -> Result<Option<u64>> {
        for k in keys {
            if let Some(v) = self.opt_u64(k)? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    fn req_first(&self, keys: &[&str]) -> Result<u64> {
        self.first_u64(keys)?.ok_or_else(|| {
            self.src.error_at(
                Some(0),
                Some(keys[0].to_string()),
                format!(
                    "required field is missing (also looked for {})",
                    keys[1..].join(", ")
                ),
                None,
            )
        })
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.err(
                key,
                format!("expected true or false, found {}", kind(other)),
                None,
            )),
        }
    }

    fn opt_u64_list_len(&self, key: &str) -> Result<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a.len() as u64)),
            Some(other) => {
                Err(self.err(key, format!("expected a list, found {}", kind(other)), None))
            }
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Reads a `config.json`. `path` names the file in errors; `id` becomes the model id.
pub fn from_hf_config(path: &str, text: &str, id: &str) -> Result<ModelArch> {
    let src = Source::new(path, text);
    let root: Value = serde_json::from_str(text).map_err(|e| {
        let diag = crate::error::Diagnostic {
            path: path.to_string(),
            line: e.line(),
            col: e.column(),
            field: None,
            message: format!("invalid JSON: {e}"),
            hint: None,
            snippet: crate::error::line_text(text, e.line()),
        };
        CatalogError::Invalid(Box::new(diag))
    })?;
    let Value::Object(obj) = &root else {
        return Err(src.error_at(
            Some(0),
            None,
            format!("expected a JSON object, found {}", kind(&root)),
            None,
        ));
    };
    let c = Cfg { src, obj };
    let supported = SUPPORTED_TYPES.join(", ");
    let model_type = match c.get("model_type") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => {
            return Err(c.err(
                "model_type",
                format!("expected a string, found {}", kind(other)),
                None,
            ));
        }
        None if c.get("n_embd").is_some() => "gpt2".to_string(),
        None => {
            return Err(src.error_at(
                Some(0),
                Some("model_type".into()),
                "required field is missing",
                Some(format!("supported model types: {supported} (a config with n_embd/n_layer/n_head is read as gpt2)")),
            ));
        }
    };
    if !SUPPORTED_TYPES.contains(&model_type.as_str()) {
        return Err(c.err(
            "model_type",
            format!("unsupported model type `{model_type}`"),
            Some(format!("supported model types: {supported}")),
        ));
    }

    let name = match c.get("_name_or_path") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => id.to_string(),
    };
    let m = if model_type == "gpt2" {
        let hidden = c.req_u64("n_embd")?;
        ModelArch {
            id: id.to_string(),
            name,
            family: "gpt2".into(),
            hidden,
            layers: c.req_u64("n_layer")?,
            heads: c.req_u64("n_head")?,
            kv_heads: c.req_u64("n_head")?,
            head_dim: hidden / c.req_u64("n_head")?.max(1),
            ffn_hidden: c.opt_u64("n_inner")?.unwrap_or(4 * hidden),
            vocab: c.req_u64("vocab_size")?,
            max_seq: c.first_u64(&["n_positions", "n_ctx"])?.unwrap_or(1024),
            tied_embeddings: c.opt_bool("tie_word_embeddings")?.unwrap_or(true),
            mlp: Mlp::Plain,
            position: Position::Learned,
            norm: Norm::Layer,
            qkv_bias: true,
            linear_bias: true,
            qk_norm: false,
            embedding_norm: false,
            moe: None,
            mla: None,
            published: None,
            source: Some(format!("Hugging Face config.json: {path}")),
        }
    } else {
        let hidden = c.req_u64("hidden_size")?;
        let layers = c.req_u64("num_hidden_layers")?;
        let heads = c.req_u64("num_attention_heads")?;
        if heads == 0 {
            return Err(c.err("num_attention_heads", "must be greater than zero", None));
        }
        let kv_heads = c.opt_u64("num_key_value_heads")?.unwrap_or(heads);
        let head_dim = c.opt_u64("head_dim")?.unwrap_or(hidden / heads);
        let ffn = c.opt_u64("intermediate_size")?.unwrap_or(0);
        let ernie = model_type.starts_with("ernie");
        let tied_default = ernie;
        let mut moe = None;
        let mut mla = None;
        match model_type.as_str() {
            "mixtral" => {
                moe = Some(Moe {
                    experts: c.req_u64("num_local_experts")?,
                    top_k: c.req_u64("num_experts_per_tok")?,
                    shared_experts: 0,
                    expert_ffn_hidden: c.req_u64("intermediate_size")?,
                    shared_ffn_hidden: 0,
                    dense_layers: 0,
                    interval: 1,
                });
            }
            "qwen3_moe" => {
                let step = c.opt_u64("decoder_sparse_step")?.unwrap_or(1).max(1);
                let dense_listed = c.opt_u64_list_len("mlp_only_layers")?.unwrap_or(0);
                let moe_layers = (0..layers).filter(|i| (i + 1) % step == 0).count() as u64;
                let moe_layers = moe_layers.saturating_sub(dense_listed);
                let e = c.req_u64("moe_intermediate_size")?;
                moe = Some(Moe {
                    experts: c.req_u64("num_experts")?,
                    top_k: c.req_u64("num_experts_per_tok")?,
                    shared_experts: 0,
                    expert_ffn_hidden: e,
                    shared_ffn_hidden: e,
                    dense_layers: layers - moe_layers,
                    interval: 1,
                });
            }
            "deepseek_v3" => {
                let first = c.opt_u64("first_k_dense_replace")?.unwrap_or(0);
                let freq = c.opt_u64("moe_layer_freq")?.unwrap_or(1).max(1);
                let moe_layers = (first..layers).filter(|i| i % freq == 0).count() as u64;
                let e = c.req_u64("moe_intermediate_size")?;
                moe = Some(Moe {
                    experts: c.req_u64("n_routed_experts")?,
                    top_k: c.req_u64("num_experts_per_tok")?,
                    shared_experts: c.opt_u64("n_shared_experts")?.unwrap_or(0),
                    expert_ffn_hidden: e,
                    shared_ffn_hidden: e,
                    dense_layers: layers - moe_layers,
                    interval: 1,
                });
                mla = Some(Mla {
                    q_lora_rank: c.opt_u64("q_lora_rank")?,
                    kv_lora_rank: c.req_u64("kv_lora_rank")?,
                    qk_nope_head_dim: c.req_u64("qk_nope_head_dim")?,
                    qk_rope_head_dim: c.req_u64("qk_rope_head_dim")?,
                    v_head_dim: c.req_u64("v_head_dim")?,
                });
            }
            "ernie4_5_moe" => {
                let experts = c.req_first(&["moe_num_experts"])?;
                let start = c.opt_u64("moe_layer_start_index")?.unwrap_or(0);
                let end = match c.get("moe_layer_end_index") {
                    Some(Value::Array(a)) => a
                        .iter()
                        .filter_map(|v| v.as_u64())
                        .max()
                        .unwrap_or(layers.saturating_sub(1)),
                    _ => c
                        .opt_u64("moe_layer_end_index")?
                        .unwrap_or(layers.saturating_sub(1)),
                };
                let interval = c.opt_u64("moe_layer_interval")?.unwrap_or(1).max(1);
                let moe_layers = (0..layers)
                    .filter(|i| (i + 1) % interval == 0 && *i >= start && *i <= end)
                    .count() as u64;
                let e = c.req_u64("moe_intermediate_size")?;
                moe = Some(Moe {
                    experts,
                    top_k: c.req_first(&["moe_k", "num_experts_per_tok"])?,
                    shared_experts: c.opt_u64("moe_num_shared_experts")?.unwrap_or(0),
                    expert_ffn_hidden: e,
                    shared_ffn_hidden: e,
                    dense_layers: layers - moe_layers,
                    interval: 1,
                });
            }
            _ => {}
        }
        let head_dim = match &mla {
            Some(m) => m.qk_nope_head_dim + m.qk_rope_head_dim,
            None => head_dim,
        };
        let bias = c.opt_bool("use_bias")?.unwrap_or(false)
            || c.opt_bool("attention_bias")?.unwrap_or(false);
        ModelArch {
            id: id.to_string(),
            name,
            family: model_type.clone(),
            hidden,
            layers,
            heads,
            kv_heads,
            head_dim,
            ffn_hidden: ffn,
            vocab: c.req_u64("vocab_size")?,
            max_seq: c.opt_u64("max_position_embeddings")?.unwrap_or(0),
            tied_embeddings: c.opt_bool("tie_word_embeddings")?.unwrap_or(tied_default),
            mlp: Mlp::Gated,
            position: Position::Rope,
            norm: Norm::Rms,
            qkv_bias: model_type == "qwen2" || bias,
            linear_bias: false,
            qk_norm: model_type == "qwen3" || model_type == "qwen3_moe",
            embedding_norm: false,
            moe,
            mla,
            published: None,
            source: Some(format!("Hugging Face config.json: {path}")),
        }
    };
    m.validate()
        .map_err(|(field, msg)| c.err(hf_key(field, &model_type), msg, None))?;
    Ok(m)
}

/// The config.json key behind one of tessera's model fields, for error messages.
fn hf_key(field: &str, model_type: &str) -> &'static str {
    let gpt2 = model_type == "gpt2";
    match field {
        "hidden" if gpt2 => "n_embd",
        "layers" if gpt2 => "n_layer",
        "heads" | "kv-heads" if gpt2 => "n_head",
        "ffn-hidden" if gpt2 => "n_inner",
        "hidden" => "hidden_size",
        "layers" => "num_hidden_layers",
        "heads" => "num_attention_heads",
        "kv-heads" => "num_key_value_heads",
        "head-dim" => "head_dim",
        "vocab" => "vocab_size",
        "ffn-hidden" => "intermediate_size",
        "max-seq" => "max_position_embeddings",
        "experts" => match model_type {
            "mixtral" => "num_local_experts",
            "deepseek_v3" => "n_routed_experts",
            "ernie4_5_moe" => "moe_num_experts",
            _ => "num_experts",
        },
        "top-k" if model_type == "ernie4_5_moe" => "moe_k",
        "top-k" => "num_experts_per_tok",
        "expert-ffn-hidden" if model_type == "mixtral" => "intermediate_size",
        "expert-ffn-hidden" => "moe_intermediate_size",
        "dense-layers" if model_type == "deepseek_v3" => "first_k_dense_replace",
        "dense-layers" => "moe_layer_start_index",
        "mla" => "kv_lora_rank",
        _ => "model_type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys() {
        let t = "{\n  \"a\": 1,\n  \"hidden_size\" : 2\n}";
        assert_eq!(key_offset(t, "hidden_size"), Some(14));
        assert_eq!(key_offset(t, "nope"), None);
    }
}
