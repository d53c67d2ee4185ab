//! Transformer model architectures and the figures derived from them.
//!
//! Parameter counts follow the layer-by-layer shapes of the reference implementations
//! (Hugging Face `transformers`, Megatron-LM): every weight matrix, bias and norm is
//! counted. FLOPs follow the Megatron-LM convention (Narayanan et al. 2021, eq. 3):
//! a multiply-add is 2 FLOPs, the backward pass costs twice the forward pass, and
//! attention scores are counted over the full sequence (no causal halving), which is
//! the convention the published MFU figures use.

/// The feed-forward block's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mlp {
    /// Gated (SwiGLU / GeGLU): gate, up and down projections.
    Gated,
    /// Plain two-matrix MLP (GELU, squared ReLU).
    Plain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Rotary embeddings: no parameters.
    Rope,
    /// Learned absolute positions: `max_seq x hidden` parameters.
    Learned,
    /// ALiBi biases: no parameters.
    Alibi,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Norm {
    /// RMSNorm: a weight vector.
    Rms,
    /// LayerNorm: weight and bias vectors.
    Layer,
}

/// Mixture-of-experts feed-forward layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moe {
    /// Routed experts per MoE layer.
    pub experts: u64,
    /// Routed experts each token uses.
    pub top_k: u64,
    /// Shared experts every token uses.
    pub shared_experts: u64,
    /// Intermediate size of one routed expert.
    pub expert_ffn_hidden: u64,
    /// Intermediate size of one shared expert.
    pub shared_ffn_hidden: u64,
    /// The first `dense_layers` layers use a dense MLP of `ffn_hidden` instead.
    pub dense_layers: u64,
    /// Every `interval`-th layer after the dense ones is an MoE layer (1 = all).
    pub interval: u64,
}

/// Multi-head latent attention (DeepSeek-V2/V3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mla {
    /// Low-rank query compression; `None` projects queries directly.
    pub q_lora_rank: Option<u64>,
    pub kv_lora_rank: u64,
    pub qk_nope_head_dim: u64,
    pub qk_rope_head_dim: u64,
    pub v_head_dim: u64,
}

/// A published parameter count, to check tessera's arithmetic against.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub total_b: f64,
    pub active_b: Option<f64>,
    pub source: String,
    /// The authors' figure is a rounded label (e.g. "21B"), not a count.
    pub rounded: bool,
}

/// A decoder-only transformer.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelArch {
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
    pub mlp: Mlp,
    pub position: Position,
    pub norm: Norm,
    /// Biases on the q, k, v projections (Qwen2).
    pub qkv_bias: bool,
    /// Biases on every linear layer (GPT-2/3, BLOOM).
    pub linear_bias: bool,
    /// Per-head RMSNorm on queries and keys (Qwen3).
    pub qk_norm: bool,
    /// LayerNorm right after the embedding (BLOOM).
    pub embedding_norm: bool,
    pub moe: Option<Moe>,
    pub mla: Option<Mla>,
    pub published: Option<Published>,
    pub source: Option<String>,
}

/// Bytes per element for weights or cache in a precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    Fp32,
    Bf16,
    Fp16,
    Fp8,
    Int8,
    Int4,
}

impl DType {
    pub const ALL: [DType; 6] = [
        DType::Fp32,
        DType::Bf16,
        DType::Fp16,
        DType::Fp8,
        DType::Int8,
        DType::Int4,
    ];

    pub fn bytes(self) -> f64 {
        match self {
            DType::Fp32 => 4.0,
            DType::Bf16 | DType::Fp16 => 2.0,
            DType::Fp8 | DType::Int8 => 1.0,
            DType::Int4 => 0.5,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DType::Fp32 => "fp32",
            DType::Bf16 => "bf16",
            DType::Fp16 => "fp16",
            DType::Fp8 => "fp8",
            DType::Int8 => "int8",
            DType::Int4 => "int4",
        }
    }

    pub fn parse(s: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// Parameter counts split the way the performance model needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParamBreakdown {
    /// Token embedding (and learned positions).
    pub embedding: u64,
    /// Output projection to the vocabulary (0 when tied to the embedding).
    pub lm_head: u64,
    /// Attention projections (and their biases and norms) over all layers.
    pub attention: u64,
    /// Dense MLPs over all layers that have one.
    pub dense_mlp: u64,
    /// Routed experts over all MoE layers.
    pub routed_experts: u64,
    /// Shared experts over all MoE layers.
    pub shared_experts: u64,
    /// Routers over all MoE layers.
    pub routers: u64,
    /// Layer norms (per layer and final).
    pub norms: u64,
}

impl ParamBreakdown {
    pub fn total(&self) -> u64 {
        self.embedding
            + self.lm_head
            + self.attention
            + self.dense_mlp
            + self.routed_experts
            + self.shared_experts
            + self.routers
            + self.norms
    }
}

impl ModelArch {
    fn norm_params(&self, width: u64) -> u64 {
        match self.norm {
            Norm::Rms => width,
            Norm::Layer => 2 * width,
        }
    }

    /// Number of layers whose feed-forward block is an MoE layer.
    pub fn moe_layers(&self) -> u64 {
        match &self.moe {
            None => 0,
            Some(m) => {
                let after = self.layers.saturating_sub(m.dense_layers);
                let interval = m.interval.max(1);
                after / interval
            }
        }
    }

    /// Number of layers with a dense MLP.
    pub fn dense_mlp_layers(&self) -> u64 {
        self.layers - self.moe_layers()
    }

    /// Query/key width per head (MLA: nope + rope parts).
    pub fn qk_head_dim(&self) -> u64 {
        match &self.mla {
            Some(m) => m.qk_nope_head_dim + m.qk_rope_head_dim,
            None => self.head_dim,
        }
    }

    /// Value width per head.
    pub fn v_head_dim(&self) -> u64 {
        match &self.mla {
            Some(m) => m.v_head_dim,
            None => self.head_dim,
        }
    }

    /// Weight-matrix parameters of one layer's attention (no biases or norms).
    pub fn attention_matmul_params_per_layer(&self) -> u64 {
        let h = self.hidden;
        match &self.mla {
            Some(m) => {
                let qk = m.qk_nope_head_dim + m.qk_rope_head_dim;
                let q = match m.q_lora_rank {
                    Some(r) => h * r + r * self.heads * qk,
                    None => h * self.heads * qk,
                };
                let kv_down = h * (m.kv_lora_rank + m.qk_rope_head_dim);
                let kv_up = m.kv_lora_rank * self.heads * (m.qk_nope_head_dim + m.v_head_dim);
                let o = self.heads * m.v_head_dim * h;
                q + kv_down + kv_up + o
            }
            None => {
                let q = h * self.heads * self.head_dim;
                let kv = 2 * h * self.kv_heads * self.head_dim;
                let o = self.heads * self.head_dim * h;
                q + kv + o
            }
        }
    }

    fn attention_extra_params_per_layer(&self) -> u64 {
        let mut p = 0;
        match &self.mla {
            Some(m) => {
                // norms on the compressed q and kv latents
                if let Some(r) = m.q_lora_rank {
                    p += self.norm_params(r);
                }
                p += self.norm_params(m.kv_lora_rank);
            }
            None => {
                if self.qkv_bias || self.linear_bias {
                    p += (self.heads + 2 * self.kv_heads) * self.head_dim;
                }
                if self.linear_bias {
                    p += self.hidden;
                }
                if self.qk_norm {
                    p += 2 * self.head_dim;
                }
            }
        }
        p
    }

    /// Parameters of one MLP of intermediate size `f` (weights and biases).
    fn mlp_params(&self, f: u64) -> u64 {
        let h = self.hidden;
        let (mats, bias) = match self.mlp {
            Mlp::Gated => (3 * h * f, 2 * f + h),
            Mlp::Plain => (2 * h * f, f + h),
        };
        mats + if self.linear_bias { bias } else { 0 }
    }

    /// Parameters by component, with `routed_used` routed experts per MoE layer
    /// (all of them for the total count, top-k for the active count).
    fn breakdown_with(&self, routed_used: u64) -> ParamBreakdown {
        let h = self.hidden;
        let l = self.layers;
        let mut b = ParamBreakdown {
            embedding: self.vocab * h,
            ..Default::default()
        };
        if self.position == Position::Learned {
            b.embedding += self.max_seq * h;
        }
        if !self.tied_embeddings {
            b.lm_head = self.vocab * h;
        }
        b.attention = l
            * (self.attention_matmul_params_per_layer() + self.attention_extra_params_per_layer());
        b.dense_mlp = self.dense_mlp_layers() * self.mlp_params(self.ffn_hidden);
        if let Some(m) = &self.moe {
            let ml = self.moe_layers();
            b.routed_experts = ml * routed_used * self.mlp_params(m.expert_ffn_hidden);
            b.shared_experts = ml * m.shared_experts * self.mlp_params(m.shared_ffn_hidden);
            b.routers = ml * h * m.experts;
        }
        // two norms per layer, a final norm, and BLOOM's embedding norm
        b.norms = l * 2 * self.norm_params(h) + self.norm_params(h);
        if self.embedding_norm {
            b.norms += self.norm_params(h);
        }
        b
    }

    /// Every parameter, all experts included.
    pub fn params(&self) -> ParamBreakdown {
        let routed = self.moe.as_ref().map_or(0, |m| m.experts);
        self.breakdown_with(routed)
    }

    /// Parameters one token passes through (top-k routed experts).
    pub fn active_params(&self) -> ParamBreakdown {
        let routed = self.moe.as_ref().map_or(0, |m| m.top_k);
        self.breakdown_with(routed)
    }

    pub fn total_params(&self) -> u64 {
        self.params().total()
    }

    pub fn active_param_count(&self) -> u64 {
        self.active_params().total()
    }

    /// Weight-matrix parameters a token multiplies through in one forward pass: every
    /// active linear layer plus the LM head (which is used even when tied). Embedding
    /// lookups, norms and biases are not matmuls.
    pub fn matmul_params_per_token(&self) -> u64 {
        let h = self.hidden;
        let mut p = self.layers * self.attention_matmul_params_per_layer();
        let mlp_mats = |f: u64| match self.mlp {
            Mlp::Gated => 3 * h * f,
            Mlp::Plain => 2 * h * f,
        };
        p += self.dense_mlp_layers() * mlp_mats(self.ffn_hidden);
        if let Some(m) = &self.moe {
            let ml = self.moe_layers();
            p += ml * m.top_k * mlp_mats(m.expert_ffn_hidden);
            p += ml * m.shared_experts * mlp_mats(m.shared_ffn_hidden);
            p += ml * h * m.experts;
        }
        p + self.vocab * h
    }

    /// Forward FLOPs per token spent in attention scores and the weighted sum of values,
    /// for a sequence of `seq` tokens, counted over the full sequence.
    pub fn attention_flops_per_token_fwd(&self, seq: u64) -> f64 {
        let per_layer =
            2.0 * (self.heads * (self.qk_head_dim() + self.v_head_dim())) as f64 * seq as f64;
        per_layer * self.layers as f64
    }

    /// Forward FLOPs per token: matmuls plus attention.
    pub fn forward_flops_per_token(&self, seq: u64) -> f64 {
        2.0 * self.matmul_params_per_token() as f64 + self.attention_flops_per_token_fwd(seq)
    }

    /// Training FLOPs per token (forward + backward = 3x forward), attention included,
    /// recompute excluded: the "model FLOPs" of MFU.
    pub fn train_flops_per_token(&self, seq: u64) -> f64 {
        3.0 * self.forward_flops_per_token(seq)
    }

    /// Weight bytes in a precision.
    pub fn weight_bytes(&self, dtype: DType) -> f64 {
        self.total_params() as f64 * dtype.bytes()
    }

    /// KV-cache elements per token over all layers. MLA caches the compressed latent
    /// and the shared rotary key instead of per-head keys and values.
    pub fn kv_cache_elems_per_token(&self) -> u64 {
        match &self.mla {
            Some(m) => self.layers * (m.kv_lora_rank + m.qk_rope_head_dim),
            None => self.layers * 2 * self.kv_heads * self.head_dim,
        }
    }

    /// KV-cache bytes per token in a precision.
    pub fn kv_cache_bytes_per_token(&self, dtype: DType) -> f64 {
        self.kv_cache_elems_per_token() as f64 * dtype.bytes()
    }

    /// The architecture's kind, for listings.
    pub fn kind(&self) -> &'static str {
        match (&self.moe, &self.mla) {
            (Some(_), Some(_)) => "moe+mla",
            (Some(_), None) => "moe",
            (None, Some(_)) => "dense+mla",
            (None, None) => "dense",
        }
    }

    /// Attention kind: MHA, GQA, MQA or MLA.
    pub fn attention_kind(&self) -> &'static str {
        if self.mla.is_some() {
            "mla"
        } else if self.kv_heads == self.heads {
            "mha"
        } else if self.kv_heads == 1 {
            "mqa"
        } else {
            "gqa"
        }
    }

    /// Checks the shape is self-consistent. Returns the field at fault and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        // Upper bounds far above any real model, chosen so that every parameter and FLOP
        // product fits in 64 bits: no input can make the arithmetic overflow.
        let mut limits: Vec<(&'static str, u64, u64)> = vec![
            ("hidden", self.hidden, 1 << 17),
            ("layers", self.layers, 1 << 12),
            ("heads", self.heads, 1 << 12),
            ("kv-heads", self.kv_heads, 1 << 12),
            ("head-dim", self.head_dim, 1 << 12),
            ("ffn-hidden", self.ffn_hidden, 1 << 19),
            ("vocab", self.vocab, 1 << 22),
            ("max-seq", self.max_seq, 1 << 24),
        ];
        if let Some(m) = &self.moe {
            limits.extend([
                ("experts", m.experts, 1 << 12),
                ("shared-experts", m.shared_experts, 1 << 6),
                ("expert-ffn-hidden", m.expert_ffn_hidden, 1 << 19),
                ("shared-ffn-hidden", m.shared_ffn_hidden, 1 << 19),
            ]);
        }
        if let Some(m) = &self.mla {
            limits.extend([
                ("q-lora-rank", m.q_lora_rank.unwrap_or(0), 1 << 16),
                ("kv-lora-rank", m.kv_lora_rank, 1 << 16),
                ("qk-nope-head-dim", m.qk_nope_head_dim, 1 << 12),
                ("qk-rope-head-dim", m.qk_rope_head_dim, 1 << 12),
                ("v-head-dim", m.v_head_dim, 1 << 12),
            ]);
        }
        for (f, v, max) in limits {
            if v > max {
                return Err((
                    f,
                    format!("{v} is larger than tessera supports (at most {max})"),
                ));
            }
        }
        let nonzero = [
            ("hidden", self.hidden),
            ("layers", self.layers),
            ("heads", self.heads),
            ("kv-heads", self.kv_heads),
            ("head-dim", self.head_dim),
            ("vocab", self.vocab),
        ];
        for (f, v) in nonzero {
            if v == 0 {
                return Err((f, "must be greater than zero".into()));
            }
        }
        if self.ffn_hidden == 0 && self.dense_mlp_layers() > 0 {
            return Err((
                "ffn-hidden",
                "must be greater than zero when any layer has a dense MLP".into(),
            ));
        }
        if self.mla.is_none() && !self.heads.is_multiple_of(self.kv_heads) {
            return Err((
                "kv-heads",
                format!(
                    "{} query heads cannot be grouped evenly over {} kv heads",
                    self.heads, self.kv_heads
                ),
            ));
        }
        if let Some(m) = &self.moe {
            if m.experts == 0 {
                return Err((
                    "experts",
                    "an MoE model needs at least one routed expert".into(),
                ));
            }
            if m.top_k == 0 || m.top_k > m.experts {
                return Err((
                    "top-k",
                    format!("must be in 1..={} (the number of experts)", m.experts),
                ));
            }
            if m.expert_ffn_hidden == 0 {
                return Err(("expert-ffn-hidden", "must be greater than zero".into()));
            }
            if m.dense_layers > self.layers {
                return Err((
                    "dense-layers",
                    format!("is more than the {} layers", self.layers),
                ));
            }
            if m.interval == 0 {
                return Err(("interval", "must be at least 1".into()));
            }
        }
        if let Some(m) = &self.mla
            && (m.kv_lora_rank == 0
                || m.v_head_dim == 0
                || m.qk_nope_head_dim + m.qk_rope_head_dim == 0)
        {
            return Err((
                "mla",
                "kv-lora-rank, v-head-dim and the qk head dims must be positive".into(),
            ));
        }
        if self.position == Position::Learned && self.max_seq == 0 {
            return Err(("max-seq", "learned positions need max-seq > 0".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny dense GQA model whose figures are worked out by hand in the comments.
    fn tiny() -> ModelArch {
        ModelArch {
            id: "tiny".into(),
            name: "tiny".into(),
            family: "test".into(),
            hidden: 8,
            layers: 2,
            heads: 2,
            kv_heads: 1,
            head_dim: 4,
            ffn_hidden: 16,
            vocab: 10,
            max_seq: 32,
            tied_embeddings: false,
            mlp: Mlp::Gated,
            position: Position::Rope,
            norm: Norm::Rms,
            qkv_bias: false,
            linear_bias: false,
            qk_norm: false,
            embedding_norm: false,
            moe: None,
            mla: None,
            published: None,
            source: None,
        }
    }

    struct Expect {
        total: u64,
        active: u64,
        matmul_per_token: u64,
        train_flops_seq16: f64,
        kv_elems: u64,
    }

    fn check(m: &ModelArch, e: Expect) {
        assert_eq!(m.validate(), Ok(()));
        assert_eq!(m.total_params(), e.total, "total");
        assert_eq!(m.active_param_count(), e.active, "active");
        assert_eq!(
            m.matmul_params_per_token(),
            e.matmul_per_token,
            "matmul params per token"
        );
        assert_eq!(
            m.train_flops_per_token(16),
            e.train_flops_seq16,
            "train FLOPs/token at seq 16"
        );
        assert_eq!(
            m.kv_cache_elems_per_token(),
            e.kv_elems,
            "KV elements per token"
        );
    }

    #[test]
    fn dense_gqa() {
        // attention/layer: q 8x2x4=64, k+v 2x8x1x4=64, o 2x4x8=64 -> 192
        // gated MLP/layer: 3x8x16=384; norms/layer 2x8=16; final norm 8
        // embedding 10x8=80, untied head 80
        // total = 160 + 2x(192+384+16) + 8 = 1352
        // matmuls/token = 2x(192+384) + 80 = 1232
        // attention fwd/token at s=16: layers 2 x 2 x heads 2 x (4+4) x 16 = 1024
        // train = 3 x (2x1232 + 1024) = 10464
        // KV: 2 layers x 2 x 1 kv head x 4 = 16 elements
        check(
            &tiny(),
            Expect {
                total: 1352,
                active: 1352,
                matmul_per_token: 1232,
                train_flops_seq16: 10464.0,
                kv_elems: 16,
            },
        );
        assert_eq!(tiny().kv_cache_bytes_per_token(DType::Bf16), 32.0);
        assert_eq!(tiny().kv_cache_bytes_per_token(DType::Fp8), 16.0);
        assert_eq!(tiny().weight_bytes(DType::Int4), 676.0);
        assert_eq!(tiny().attention_kind(), "mqa");
    }

    #[test]
    fn tied_plain_learned_layernorm_with_biases() {
        let mut m = tiny();
        m.kv_heads = 2; // MHA
        m.tied_embeddings = true;
        m.mlp = Mlp::Plain;
        m.position = Position::Learned;
        m.norm = Norm::Layer;
        m.linear_bias = true;
        // attention/layer: 4 x 8 x 8 = 256 weights + qkv bias 24 + o bias 8 = 288
        // plain MLP/layer: 2 x 8 x 16 = 256 + biases 16 + 8 = 280
        // LayerNorm/layer: 2 x 16 = 32; final 16
        // embedding 80 + positions 32 x 8 = 256 -> 336; head tied
        // total = 336 + 2 x (288 + 280 + 32) + 16 = 1552
        // matmuls/token = 2 x (256 + 256) + 80 = 1104; attention at 16 = 2x2x2x8x16 = 1024
        check(
            &m,
            Expect {
                total: 1552,
                active: 1552,
                matmul_per_token: 1104,
                train_flops_seq16: 3.0 * (2.0 * 1104.0 + 1024.0),
                kv_elems: 32,
            },
        );
        // With a 4h MLP this is Narayanan et al.'s 12h^2 L + 13h L + (V + s) h (+ the final norm).
        m.ffn_hidden = 32;
        assert_eq!(
            m.total_params(),
            12 * 64 * 2 + 13 * 8 * 2 + (10 + 32) * 8 + 2 * 8
        );
        assert_eq!(m.attention_kind(), "mha");
    }

    #[test]
    fn moe_with_shared_expert_and_dense_first_layer() {
        let mut m = tiny();
        m.moe = Some(Moe {
            experts: 4,
            top_k: 2,
            shared_experts: 1,
            expert_ffn_hidden: 8,
            shared_ffn_hidden: 8,
            dense_layers: 1,
            interval: 1,
        });
        // layer 0 dense MLP 384; layer 1: routed 4 x 3x8x8 = 768 (top-2: 384), shared 192, router 8x4 = 32
        // total = 160 + 2x192 + 2x16 + 8 + 384 + 768 + 192 + 32 = 1960; active = 1960 - 384 = 1576
        // matmuls/token = 2x192 + 384 + 384 + 192 + 32 + 80 = 1456
        check(
            &m,
            Expect {
                total: 1960,
                active: 1576,
                matmul_per_token: 1456,
                train_flops_seq16: 3.0 * (2.0 * 1456.0 + 1024.0),
                kv_elems: 16,
            },
        );
        assert_eq!(m.moe_layers(), 1);
        assert_eq!(m.kind(), "moe");
    }

    #[test]
    fn mla_compressed_cache() {
        let mut m = tiny();
        m.kv_heads = 2;
        m.mla = Some(Mla {
            q_lora_rank: Some(4),
            kv_lora_rank: 4,
            qk_nope_head_dim: 2,
            qk_rope_head_dim: 2,
            v_head_dim: 2,
        });
        // attention/layer: q 8x4 + 4x2x4 = 64; kv down 8x(4+2) = 48; kv up 4x2x(2+2) = 32; o 2x2x8 = 32 -> 176
        //   + latent norms 4 + 4 = 8
        // total = 160 + 2 x (176 + 8 + 384 + 16) + 8 = 1336
        // matmuls/token = 2 x (176 + 384) + 80 = 1200; attention at 16 = 2 layers x 2 x 2 heads x (4 + 2) x 16 = 768
        // KV: 2 layers x (4 + 2) = 12 elements, independent of the head count
        check(
            &m,
            Expect {
                total: 1336,
                active: 1336,
                matmul_per_token: 1200,
                train_flops_seq16: 3.0 * (2.0 * 1200.0 + 768.0),
                kv_elems: 12,
            },
        );
        assert_eq!(m.attention_kind(), "mla");
    }

    #[test]
    fn validation_names_the_field() {
        let mut m = tiny();
        m.kv_heads = 3;
        assert_eq!(m.validate().map_err(|e| e.0), Err("kv-heads"));
        let mut m = tiny();
        m.hidden = 1 << 30;
        assert_eq!(m.validate().map_err(|e| e.0), Err("hidden"));
        let mut m = tiny();
        m.moe = Some(Moe {
            experts: 4,
            top_k: 5,
            shared_experts: 0,
            expert_ffn_hidden: 8,
            shared_ffn_hidden: 8,
            dense_layers: 0,
            interval: 1,
        });
        assert_eq!(m.validate().map_err(|e| e.0), Err("top-k"));
    }
}
