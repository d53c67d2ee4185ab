//! Checks of the serving model: hand-worked KV and weight arithmetic, and properties
//! that hold for every operating point.

#![allow(clippy::unwrap_used)]

use tessera_core::model::{Mla, Mlp, ModelArch, Moe, Norm, Position};
use tessera_perf::Hardware;
use tessera_perf::serve::{
    Bottleneck, Load, ServeEfficiency, ServeJob, ServeLayout, ServePrecision,
    estimate_disaggregated, estimate_serve,
};

fn llama(layers: u64, h: u64, heads: u64, kv: u64, ffn: u64) -> ModelArch {
    ModelArch {
        id: "m".into(),
        name: "m".into(),
        family: "llama".into(),
        hidden: h,
        layers,
        heads,
        kv_heads: kv,
        head_dim: h / heads,
        ffn_hidden: ffn,
        vocab: 32000,
        max_seq: 4096,
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

fn h100() -> Hardware {
    Hardware {
        peak_16: 989.4e12,
        peak_fp8: Some(1978.9e12),
        peak_fp4: None,
        mem_bytes: 80.0 * 1073741824.0,
        mem_bw: 3.35e12,
        scale_up_bw: 450e9,
        domain: 8,
        scale_out_bw: 50e9,
        tdp_w: Some(700.0),
        price_usd: None,
    }
}

fn job(i: u32, o: u32, load: Load) -> ServeJob {
    ServeJob {
        input_len: i,
        output_len: o,
        precision: ServePrecision::Bf16,
        kv_bytes: 2.0,
        load,
        ttft_slo_s: None,
        tpot_slo_s: None,
        disaggregated: false,
        lengths: None,
    }
}

fn one(tp: u32) -> ServeLayout {
    ServeLayout {
        tp,
        pp: 1,
        ep: 1,
        attn_dp: 1,
        replicas: 1,
    }
}

/// Llama 2 7B (MHA): KV per token = 32 layers x 2 x 32 heads x 128 x 2 bytes = 512 KiB;
/// weights 6.74B x 2 bytes. With 80 GiB, 4 GiB reserved and 90% of the rest for KV, the
/// number of 1,024 + 512-token sequences that fit is hand-computable.
#[test]
fn dense_mha_kv_and_capacity() {
    let m = llama(32, 4096, 32, 32, 11008);
    let eff = ServeEfficiency::DEFAULT;
    let e = estimate_serve(
        &m,
        &h100(),
        None,
        &eff,
        &job(1024, 512, Load::Offline),
        &one(1),
    );
    assert_eq!(e.kv_bytes_per_token, 524_288.0);
    let weights = m.total_params() as f64 * 2.0;
    assert!((e.memory.weights - weights).abs() < 1.0);
    let free = 80.0 * 1073741824.0 - weights - eff.reserved_bytes;
    let seqs = (free * eff.kv_fraction / (524_288.0 * 1536.0))
        .floor()
        .min(eff.max_batch);
    assert_eq!(e.max_concurrency, seqs);
    // TP 2 halves the weights and the per-chip KV, so about twice the sequences per replica.
    let e2 = estimate_serve(
        &m,
        &h100(),
        None,
        &eff,
        &job(1024, 512, Load::Offline),
        &one(2),
    );
    assert!((e2.memory.weights - weights / 2.0).abs() < 1.0);
}

/// Llama 3 70B (GQA, 8 KV heads): 80 x 2 x 8 x 128 x 2 = 320 KiB per token; with TP 8
/// each chip holds one KV head, 40 KiB per token.
#[test]
fn gqa_kv_shards_over_tp() {
    let m = llama(80, 8192, 64, 8, 28672);
    let e = estimate_serve(
        &m,
        &h100(),
        None,
        &ServeEfficiency::DEFAULT,
        &job(2048, 256, Load::Concurrency { sequences: 16 }),
        &one(8),
    );
    assert_eq!(e.kv_bytes_per_token, 327_680.0);
    let per_chip_kv = e.memory.kv_cache / 16.0 / (2048.0 + 256.0);
    assert!((per_chip_kv - 40_960.0).abs() < 1e-6, "{per_chip_kv}");
}

/// Mixtral-like MoE: the experts a decode batch touches follow 8 x (1 - (3/4)^b); a single
/// sequence touches its top-2, a large batch all 8.
#[test]
fn moe_experts_touched() {
    let mut m = llama(32, 4096, 32, 8, 14336);
    m.moe = Some(Moe {
        experts: 8,
        top_k: 2,
        shared_experts: 0,
        expert_ffn_hidden: 14336,
        shared_ffn_hidden: 14336,
        dense_layers: 0,
        interval: 1,
    });
    let eff = ServeEfficiency::DEFAULT;
    for (b, want) in [
        (1u32, 2.0),
        (2, 8.0 * (1.0 - 0.75f64.powi(2))),
        (64, 8.0 * (1.0 - 0.75f64.powi(64))),
    ] {
        let e = estimate_serve(
            &m,
            &h100(),
            None,
            &eff,
            &job(512, 128, Load::Concurrency { sequences: b }),
            &one(2),
        );
        assert!(
            (e.decode_step.experts_touched - want).abs() < 1e-9,
            "b={b}: {}",
            e.decode_step.experts_touched
        );
    }
    // One sequence reads only the touched experts' weights, far less than all of them.
    let e1 = estimate_serve(
        &m,
        &h100(),
        None,
        &eff,
        &job(512, 128, Load::Concurrency { sequences: 1 }),
        &one(2),
    );
    assert!(e1.decode_step.weight_bytes_read < 0.5 * e1.memory.weights);
}

/// DeepSeek-V3-like MLA: the cache holds the 512-wide latent and the 64-wide rotary key per
/// layer, 61 x 576 x 2 bytes = 70,272 bytes per token, and TP does not shard it.
#[test]
fn mla_compressed_cache() {
    let mut m = llama(61, 7168, 128, 128, 18432);
    m.head_dim = 192;
    m.mla = Some(Mla {
        q_lora_rank: Some(1536),
        kv_lora_rank: 512,
        qk_nope_head_dim: 128,
        qk_rope_head_dim: 64,
        v_head_dim: 128,
    });
    m.moe = Some(Moe {
        experts: 256,
        top_k: 8,
        shared_experts: 1,
        expert_ffn_hidden: 2048,
        shared_ffn_hidden: 2048,
        dense_layers: 3,
        interval: 1,
    });
    let l = ServeLayout {
        tp: 1,
        pp: 1,
        ep: 16,
        attn_dp: 16,
        replicas: 1,
    };
    let mut j = job(1024, 256, Load::Concurrency { sequences: 64 });
    j.precision = ServePrecision::Fp8;
    let e = estimate_serve(&m, &h100(), None, &ServeEfficiency::DEFAULT, &j, &l);
    assert_eq!(e.kv_bytes_per_token, 70_272.0);
    assert!(e.infeasible.is_none(), "{:?}", e.infeasible);
}

/// More sequences in flight never lowers the time per token or the throughput.
#[test]
fn batch_trades_latency_for_throughput() {
    let m = llama(32, 4096, 32, 8, 14336);
    let eff = ServeEfficiency::DEFAULT;
    let mut last_tpot = 0.0;
    let mut last_tps = 0.0;
    for b in [1u32, 2, 4, 8, 16, 32, 64, 128, 256] {
        let e = estimate_serve(
            &m,
            &h100(),
            None,
            &eff,
            &job(1024, 256, Load::Concurrency { sequences: b }),
            &one(1),
        );
        assert!(
            e.tpot_s >= last_tpot && e.output_tokens_per_s >= last_tps,
            "b={b}"
        );
        last_tpot = e.tpot_s;
        last_tps = e.output_tokens_per_s;
    }
    // Small batches are memory-bound, the largest compute-bound or close to it.
    let small = estimate_serve(
        &m,
        &h100(),
        None,
        &eff,
        &job(1024, 256, Load::Concurrency { sequences: 1 }),
        &one(1),
    );
    assert_eq!(small.bottleneck, Bottleneck::MemoryBandwidth);
}

/// The SLO mode meets its limits when it reports a point.
#[test]
fn slo_mode_meets_limits() {
    let m = llama(80, 8192, 64, 8, 28672);
    let mut j = job(1024, 512, Load::Offline);
    j.tpot_slo_s = Some(0.05);
    j.ttft_slo_s = Some(2.0);
    let e = estimate_serve(
        &m,
        &h100(),
        Some(1978.9e12),
        &ServeEfficiency::DEFAULT,
        &j,
        &one(8),
    );
    assert!(e.infeasible.is_none());
    assert!(
        e.tpot_s <= 0.05 + 1e-9 && e.ttft_s <= 2.0,
        "{} {}",
        e.tpot_s,
        e.ttft_s
    );
    j.tpot_slo_s = Some(0.001);
    let e = estimate_serve(&m, &h100(), None, &ServeEfficiency::DEFAULT, &j, &one(8));
    assert!(e.infeasible.unwrap().to_string().contains("misses the SLO"));
}

/// Disaggregation removes prefill work from decode steps.
#[test]
fn disaggregated_decode_has_no_prefill_interference() {
    let m = llama(32, 4096, 32, 8, 14336);
    let eff = ServeEfficiency::DEFAULT;
    let j = job(4096, 256, Load::Concurrency { sequences: 64 });
    let mixed = estimate_serve(
        &m,
        &h100(),
        None,
        &eff,
        &j,
        &ServeLayout {
            tp: 1,
            pp: 1,
            ep: 1,
            attn_dp: 1,
            replicas: 2,
        },
    );
    let dis = estimate_disaggregated(
        &m,
        &h100(),
        None,
        &eff,
        &j,
        &ServeLayout {
            tp: 1,
            pp: 1,
            ep: 1,
            attn_dp: 1,
            replicas: 1,
        },
        &ServeLayout {
            tp: 1,
            pp: 1,
            ep: 1,
            attn_dp: 1,
            replicas: 2,
        },
    );
    assert!(dis.tpot_s < mixed.tpot_s);
    assert_eq!(dis.chips, 3);
}

/// Impossible layouts give reasons.
#[test]
fn serve_infeasible_reasons() {
    let m = llama(80, 8192, 64, 8, 28672);
    let e = estimate_serve(
        &m,
        &h100(),
        None,
        &ServeEfficiency::DEFAULT,
        &job(1024, 512, Load::Offline),
        &one(1),
    );
    assert!(e.infeasible.unwrap().to_string().contains("weights need"));
    let e = estimate_serve(
        &m,
        &h100(),
        None,
        &ServeEfficiency::DEFAULT,
        &job(1024, 512, Load::Offline),
        &one(3),
    );
    assert!(
        e.infeasible
            .unwrap()
            .to_string()
            .contains("do not divide over TP 3")
    );
    let mut j = job(1024, 512, Load::Offline);
    j.precision = ServePrecision::Int8;
    let e = estimate_serve(&m, &h100(), None, &ServeEfficiency::DEFAULT, &j, &one(8));
    assert!(
        e.infeasible
            .unwrap()
            .to_string()
            .contains("no catalog peak")
    );
}
