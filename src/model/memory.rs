//! Peak-memory estimates of evaluation and training (`sn9 model info --memory`), from the
//! config alone, so a user knows before downloading 28 GB whether a model fits a device.
//!
//! The estimate counts what sn9's own implementation holds at its peak, term by term:
//! evaluation keeps the weights in the compute dtype, one layer's transients at a time (the
//! attention scores of one chunk of queries, `llama::ATTENTION_SCORE_BUDGET`) and one 512-row
//! chunk of logits for the loss; training keeps f32 master weights, AdamW's two moments, the
//! gradients and their accumulator, and every layer's saved activations for the backward pass,
//! with the full `[b, t, V]` logits. The coefficients count the tensors sn9 keeps per op in
//! `llama.rs`, calibrated against measured peaks (RSS on the CPU backend, `tests/memory.rs` and
//! docs/architecture.md, "Memory").

use super::ModelConfig;
use super::llama::ATTENTION_SCORE_BUDGET;

/// What the estimate is for.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// Sequences per (micro-)batch.
    pub batch: usize,
    /// Tokens per sequence.
    pub seq_len: usize,
    /// Bytes per element of the compute dtype (4: float32, 2: bfloat16).
    pub dtype_bytes: u64,
    /// Whether attention scores are materialised (GPU backends: burn 0.21's fallback kernel);
    /// the CPU backend's attention tiles over keys and holds no score matrix.
    pub gpu: bool,
    /// Micro-batches per optimiser step: above 1, the gradient accumulator is a second copy.
    pub grad_accum: usize,
    /// Bytes of the safetensors files memory-mapped while loading, when they count against the
    /// device's memory (the CPU: mapped pages are resident, though the kernel can reclaim them).
    pub mapped_bytes: u64,
}

/// One line of an estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub what: &'static str,
    pub bytes: u64,
}

/// An estimate: its parts and their sum (the peak).
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub parts: Vec<Part>,
}

impl Estimate {
    pub fn total(&self) -> u64 {
        self.parts
            .iter()
            .fold(0u64, |s, p| s.saturating_add(p.bytes))
    }
}

/// Saturating product of sizes.
fn prod(xs: &[u64]) -> u64 {
    xs.iter().fold(1u64, |a, &x| a.saturating_mul(x))
}

/// The backend's own memory, beyond tensors: the CUDA/Vulkan context and allocator pools on a
/// GPU; the binary, its libraries and thread stacks on the host.
pub fn runtime_overhead(gpu: bool) -> u64 {
    if gpu { 1 << 30 } else { 32 << 20 }
}

/// Elements of the largest single weight tensor (what loading holds twice for a moment).
fn largest_tensor(c: &ModelConfig) -> u64 {
    let (d, i, v) = (
        c.hidden_size as u64,
        c.intermediate_size as u64,
        c.vocab_size as u64,
    );
    let q = (c.num_attention_heads * c.head_dim) as u64;
    [v * d, d * i, d * q].into_iter().max().unwrap_or(0)
}

/// Peak memory of `sn9 eval` (no gradients) on one device.
pub fn eval(c: &ModelConfig, w: Workload) -> Estimate {
    let p = w.dtype_bytes;
    let (b, t) = (w.batch as u64, w.seq_len as u64);
    let (d, i, v) = (
        c.hidden_size as u64,
        c.intermediate_size as u64,
        c.vocab_size as u64,
    );
    let (h, kv, hd) = (
        c.num_attention_heads as u64,
        c.num_key_value_heads as u64,
        c.head_dim as u64,
    );
    let n = c.parameter_count();
    let weights = n.saturating_mul(p);
    // Loading casts each tensor from float32 on the device: one tensor in both dtypes.
    let load = prod(&[largest_tensor(c), 4 + if p == 4 { 0 } else { p }]);
    // The residual stream and the normed copy (norms compute in float32).
    let stream = prod(&[b, t, d, 2 * p + 8]);
    // One attention block: q, k, v (and k, v repeated to every head), the output and its
    // contiguous copy, and, on GPU backends, three copies of one chunk's scores.
    let qkv = prod(&[
        b,
        t,
        hd,
        (h + 2 * kv + if kv < h { 2 * h } else { 0 } + 2 * h) * p,
    ]);
    let chunk = (ATTENTION_SCORE_BUDGET as u64 / prod(&[b, h, t]).max(1)).clamp(1, t);
    let scores = if w.gpu {
        prod(&[3, b, h, chunk, t, p.max(4)])
    } else {
        0
    };
    // The MLP's gate, up and their product (or fc1 and its activation).
    let mlp = prod(&[3, b, t, i, p]);
    let layer = (qkv + scores).max(mlp);
    // The loss: 512 positions of logits at a time, in the compute dtype, cast to float32 when
    // they are not, and their log-softmax.
    let cast = if p == 4 { 0 } else { 4 };
    let loss = prod(&[b, t.min(512), v, p + cast + 4]);
    let rope = prod(&[2, c.max_position_embeddings.clamp(1, 8192) as u64, hd, 4]);
    let run = stream + layer.max(loss);
    let mut parts = vec![
        Part {
            what: "weights",
            bytes: weights,
        },
        Part {
            what: "rotary tables",
            bytes: rope,
        },
    ];
    if w.mapped_bytes > 0 {
        parts.push(Part {
            what: "memory-mapped weight files (page cache the kernel can reclaim)",
            bytes: w.mapped_bytes,
        });
    }
    if load > run {
        parts.push(Part {
            what: "loading (largest tensor in float32 and the compute dtype)",
            bytes: load,
        });
    } else {
        parts.push(Part {
            what: "activations (one layer, or one 512-position chunk of the loss)",
            bytes: run,
        });
    }
    parts.push(Part {
        what: "runtime",
        bytes: runtime_overhead(w.gpu),
    });
    Estimate { parts }
}

/// Peak memory of `sn9 train` on one device, per replica (data parallelism replicates
/// everything): float32 master weights, gradients, their accumulator and AdamW's moments, the
/// compute-dtype copy of the weights, and the activations autodiff keeps for the backward pass.
pub fn train(c: &ModelConfig, w: Workload) -> Estimate {
    let p = w.dtype_bytes;
    let (b, t) = (w.batch as u64, w.seq_len as u64);
    let (d, i, v, l) = (
        c.hidden_size as u64,
        c.intermediate_size as u64,
        c.vocab_size as u64,
        c.num_hidden_layers as u64,
    );
    let (h, kv, hd) = (
        c.num_attention_heads as u64,
        c.num_key_value_heads as u64,
        c.head_dim as u64,
    );
    let n = c.parameter_count();
    // Per layer, the tensors backward needs: each norm's input, float32 copies and output;
    // q, k (before and after the rotation and the rotated half), v, the repeated k and v, the
    // attention output and its contiguous copy; the scores (product, soft-max numerator and
    // output: burn's autodiff attention materialises them on every backend); the MLP's gate,
    // up, activation and product.
    let norms = prod(&[2, b, t, d, 12 + p]);
    let qkv = prod(&[
        b,
        t,
        hd,
        (3 * h + 4 * kv + if kv < h { 2 * h } else { 0 } + 2 * h) * p,
    ]);
    let scores = prod(&[5, b, h, t, t, p]) / 2;
    let mlp = prod(&[if c.mlp_gated { 4 } else { 3 }, b, t, i, p]);
    let layer = norms + qkv + scores + mlp;
    // The loss over the whole batch: logits in the compute dtype (cast to float32 when they
    // are not), their log-softmax, and in backward their gradient.
    let cast = if p == 4 { 0 } else { 4 };
    let loss = prod(&[b, t, v, p + cast + 8]);
    let mut parts = vec![
        Part {
            what: "master weights (float32)",
            bytes: n.saturating_mul(4),
        },
        Part {
            what: "AdamW moments (float32)",
            bytes: n.saturating_mul(8),
        },
        Part {
            what: if w.grad_accum > 1 {
                "gradients and their accumulator (float32)"
            } else {
                "gradients (float32)"
            },
            bytes: n.saturating_mul(if w.grad_accum > 1 { 8 } else { 4 }),
        },
    ];
    if p != 4 {
        parts.push(Part {
            what: "weights in the compute dtype",
            bytes: n.saturating_mul(p),
        });
    }
    parts.push(Part {
        what: "activations kept for backward",
        bytes: layer
            .saturating_mul(l)
            .saturating_add(prod(&[2, b, t, d, p])),
    });
    parts.push(Part {
        what: "logits and loss",
        bytes: loss,
    });
    parts.push(Part {
        what: "runtime",
        bytes: runtime_overhead(w.gpu),
    });
    Estimate { parts }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: &str) -> ModelConfig {
        ModelConfig::from_json(&serde_json::from_str(json).unwrap()).unwrap()
    }

    /// The 14B competition's shape: a 13.8B Llama in bf16 evaluates at seq 4096 within 80 GB.
    #[test]
    fn b14_eval_fits_80_gb() {
        let c = cfg(
            r#"{"architectures": ["LlamaForCausalLM"], "model_type": "llama",
            "vocab_size": 100277, "hidden_size": 5120, "intermediate_size": 13824,
            "num_hidden_layers": 40, "num_attention_heads": 40, "num_key_value_heads": 40,
            "max_position_embeddings": 4096, "tie_word_embeddings": false}"#,
        );
        let w = Workload {
            batch: 1,
            seq_len: 4096,
            dtype_bytes: 2,
            gpu: true,
            grad_accum: 1,
            mapped_bytes: 0,
        };
        let e = eval(&c, w);
        assert!(e.total() < 80 << 30, "{e:?}");
        assert!(e.total() > c.parameter_count() * 2);
        // Training the same model needs ~16 bytes per parameter before activations.
        assert!(train(&c, w).total() > 200 << 30);
    }
}
