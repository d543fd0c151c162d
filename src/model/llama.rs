//! The decoder of Llama, Mistral, Qwen2, Gemma, Gemma2 and Phi in burn: one implementation with
//! options (norm kind, activation, gated or plain MLP, sequential, sandwich or parallel
//! residual, embedding scale, soft-capping, partial rotary, an `lm_head` bias).
//! Fields are named as Hugging Face names the weights, so `model.layers.3.mlp.up_proj.weight`
//! is `model.layers[3].mlp.up_proj.weight`. Shapes: `b` batch, `t` tokens, `d` hidden size,
//! `h`/`kv` query/key-value heads, `hd` head dim, `i` intermediate size, `V` vocabulary.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::{gelu, gelu_approximate, relu, silu, softmax};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{DType, FloatDType};

use super::config::{Activation, ModelConfig, NormKind, Residual};

impl std::fmt::Display for NormKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

// Options stored in the module tree as constants (no parameters, nothing saved).
use burn::empty;
empty!(NormKind);
empty!(Activation);

impl Activation {
    /// `ACT2FN[name](x)`.
    pub fn apply<B: Backend, const D: usize>(self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Activation::Silu => silu(x),
            Activation::GeluErf => gelu(x),
            Activation::GeluTanh => gelu_approximate(x),
            Activation::Relu => relu(x),
        }
    }
}

/// A linear layer with the PyTorch weight layout.
#[derive(Module, Debug)]
pub struct Linear<B: Backend> {
    /// `[out, in]`.
    pub weight: Param<Tensor<B, 2>>,
    /// `[out]`.
    pub bias: Option<Param<Tensor<B, 1>>>,
}

impl<B: Backend> Linear<B> {
    /// `[b, t, in] → [b, t, out]`, in the dtype of `x` (float32 master weights are cast to a
    /// bfloat16 activation's dtype, so gradients flow back to them in float32).
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, t, din] = x.dims();
        let dt = x.dtype();
        let w = cast_to(self.weight.val(), dt);
        let dout = w.dims()[0];
        let y = x.reshape([b * t, din]).matmul(w.transpose());
        let y = match &self.bias {
            Some(bias) => y + cast_to(bias.val(), dt).unsqueeze_dim::<2>(0),
            None => y,
        };
        y.reshape([b, t, dout])
    }
}

/// The float dtype of a tensor's [`DType`] (float32 for anything else).
pub fn float_dtype(dt: DType) -> FloatDType {
    match dt {
        DType::BF16 => FloatDType::BF16,
        DType::F16 => FloatDType::F16,
        DType::F64 => FloatDType::F64,
        _ => FloatDType::F32,
    }
}

/// Casts to float32 unless already there.
pub fn to_f32<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    if x.dtype() == DType::F32 {
        x
    } else {
        x.cast(FloatDType::F32)
    }
}

/// Casts to `dt` unless already there.
pub fn cast_to<B: Backend, const D: usize>(x: Tensor<B, D>, dt: DType) -> Tensor<B, D> {
    if x.dtype() == dt {
        x
    } else {
        x.cast(float_dtype(dt))
    }
}

/// A normalisation layer: Llama's RMSNorm `x / sqrt(mean(x²) + eps) · w`, Gemma's
/// `x / sqrt(mean(x²) + eps) · (1 + w)`, or LayerNorm `(x − μ) / sqrt(var + eps) · w + b`.
#[derive(Module, Debug)]
pub struct Norm<B: Backend> {
    /// `[d]`.
    pub weight: Param<Tensor<B, 1>>,
    /// `[d]` (LayerNorm).
    pub bias: Option<Param<Tensor<B, 1>>>,
    pub eps: f64,
    pub kind: NormKind,
}

/// The former name of [`Norm`].
pub type RmsNorm<B> = Norm<B>;

impl<B: Backend> Norm<B> {
    /// `[b, t, d] → [b, t, d]`, computed in float32 and cast back as transformers does for
    /// bf16/f16 activations: Llama casts before the weight, Gemma and LayerNorm after it.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let dt = x.dtype();
        let x = to_f32(x);
        let row = |t: Tensor<B, 1>| t.unsqueeze_dim::<2>(0).unsqueeze_dim::<3>(0);
        match self.kind {
            NormKind::Rms => {
                let var = x.clone().powi_scalar(2).mean_dim(2);
                let x = cast_to(x * (var + self.eps).sqrt().recip(), dt);
                x * row(cast_to(self.weight.val(), dt))
            }
            NormKind::RmsOnePlus => {
                let var = x.clone().powi_scalar(2).mean_dim(2);
                let w = to_f32(self.weight.val()).add_scalar(1.0);
                cast_to(x * (var + self.eps).sqrt().recip() * row(w), dt)
            }
            NormKind::LayerNorm => {
                let xc = x.clone() - x.mean_dim(2);
                let var = xc.clone().powi_scalar(2).mean_dim(2);
                let y = xc * (var + self.eps).sqrt().recip() * row(to_f32(self.weight.val()));
                let y = match &self.bias {
                    Some(b) => y + row(to_f32(b.val())),
                    None => y,
                };
                cast_to(y, dt)
            }
        }
    }
}

/// Self-attention with grouped key/value heads and rotary positions.
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    pub q_proj: Linear<B>,
    pub k_proj: Linear<B>,
    pub v_proj: Linear<B>,
    pub o_proj: Linear<B>,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
    pub sliding_window: Option<usize>,
    /// Score scale (`head_dim^-½`; Gemma2 `query_pre_attn_scalar^-½`).
    pub scale: f64,
    /// Gemma2: `cap · tanh(s / cap)` on the scores before the mask.
    pub softcap: Option<f64>,
    /// Leading dimensions of each head that rotate (Phi: a fraction of `head_dim`).
    pub rotary_dim: usize,
}

/// Cached keys and values of one layer: `[b, kv, t_past, hd]` each.
#[derive(Debug, Clone)]
pub struct LayerCache<B: Backend> {
    pub k: Tensor<B, 4>,
    pub v: Tensor<B, 4>,
}

/// `[.., hd] → [-x₂, x₁]` (HF's rotate_half).
fn rotate_half<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    let hd = x.dims()[3];
    let x1 = x.clone().narrow(3, 0, hd / 2);
    let x2 = x.narrow(3, hd / 2, hd / 2);
    Tensor::cat(vec![x2.neg(), x1], 3)
}

/// RoPE on the first `rot` dimensions of each head (`x·cos + rotate_half(x)·sin`), the rest
/// passed through (Phi's partial rotary); `[b, h, t, hd]`.
fn apply_rope<B: Backend>(
    x: Tensor<B, 4>,
    cos: Tensor<B, 4>,
    sin: Tensor<B, 4>,
    rot: usize,
) -> Tensor<B, 4> {
    let hd = x.dims()[3];
    if rot == hd {
        return x.clone() * cos + rotate_half(x) * sin;
    }
    if rot == 0 {
        return x;
    }
    let r = x.clone().narrow(3, 0, rot);
    let pass = x.narrow(3, rot, hd - rot);
    Tensor::cat(vec![r.clone() * cos + rotate_half(r) * sin, pass], 3)
}

/// Rotary tables for positions `[offset, offset + t)`: cos and sin `[1, 1, t, hd]`.
#[derive(Clone)]
pub struct Rope<B: Backend> {
    pub cos: Tensor<B, 2>,
    pub sin: Tensor<B, 2>,
}

impl<B: Backend> Rope<B> {
    /// Tables for `len` positions from the inverse frequencies (`[hd/2]`), in float32 as
    /// transformers computes them (`pos · inv_freq`, duplicated, then cos/sin), then cast to the
    /// compute dtype.
    pub fn new(inv_freq: &[f32], len: usize, dtype: FloatDType, device: &B::Device) -> Self {
        let half = inv_freq.len();
        let hd = half * 2;
        let mut cos = Vec::with_capacity(len * hd);
        let mut sin = Vec::with_capacity(len * hd);
        for p in 0..len {
            let row: Vec<f32> = inv_freq.iter().map(|f| p as f32 * f).collect();
            for _ in 0..2 {
                cos.extend(row.iter().map(|a| a.cos()));
                sin.extend(row.iter().map(|a| a.sin()));
            }
        }
        let cos = Tensor::<B, 2>::from_data(TensorData::new(cos, [len, hd]), device);
        let sin = Tensor::<B, 2>::from_data(TensorData::new(sin, [len, hd]), device);
        if dtype == FloatDType::F32 {
            Rope { cos, sin }
        } else {
            Rope {
                cos: cos.cast(dtype),
                sin: sin.cast(dtype),
            }
        }
    }

    /// Positions the tables cover.
    pub fn len(&self) -> usize {
        self.cos.dims()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn at(&self, offset: usize, t: usize) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let c = self
            .cos
            .clone()
            .narrow(0, offset, t)
            .unsqueeze_dim::<3>(0)
            .unsqueeze_dim::<4>(0);
        let s = self
            .sin
            .clone()
            .narrow(0, offset, t)
            .unsqueeze_dim::<3>(0)
            .unsqueeze_dim::<4>(0);
        (c, s)
    }
}

impl<B: Backend> Attention<B> {
    /// `[b, t, d] → [b, t, d]`; positions start at the cache length.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        rope: &Rope<B>,
        cache: Option<&mut Option<LayerCache<B>>>,
    ) -> Tensor<B, 3> {
        let [b, t, _] = x.dims();
        let (h, kv, hd) = (self.num_heads, self.num_kv_heads, self.head_dim);
        let q = self
            .q_proj
            .forward(x.clone())
            .reshape([b, t, h, hd])
            .swap_dims(1, 2);
        let k = self
            .k_proj
            .forward(x.clone())
            .reshape([b, t, kv, hd])
            .swap_dims(1, 2);
        let v = self
            .v_proj
            .forward(x)
            .reshape([b, t, kv, hd])
            .swap_dims(1, 2);
        let past = cache
            .as_ref()
            .and_then(|c| c.as_ref())
            .map_or(0, |c| c.k.dims()[2]);
        let (cos, sin) = rope.at(past, t);
        let q = apply_rope(q, cos.clone(), sin.clone(), self.rotary_dim);
        let k = apply_rope(k, cos, sin, self.rotary_dim);
        let (k, v) = match cache {
            Some(slot) => {
                let (k, v) = match slot.take() {
                    Some(c) => (Tensor::cat(vec![c.k, k], 2), Tensor::cat(vec![c.v, v], 2)),
                    None => (k, v),
                };
                *slot = Some(LayerCache {
                    k: k.clone(),
                    v: v.clone(),
                });
                (k, v)
            }
            None => (k, v),
        };
        let tk = k.dims()[2];
        let rep = h / kv;
        let (k, v) = if rep > 1 {
            (
                k.unsqueeze_dim::<5>(2)
                    .repeat_dim(2, rep)
                    .reshape([b, h, tk, hd]),
                v.unsqueeze_dim::<5>(2)
                    .repeat_dim(2, rep)
                    .reshape([b, h, tk, hd]),
            )
        } else {
            (k, v)
        };
        let out = self.attend(q, k, v, past);
        self.o_proj
            .forward(out.swap_dims(1, 2).reshape([b, t, h * hd]))
    }
}

/// Without gradients, attention runs over chunks of queries small enough that one chunk's
/// scores `[b, heads, chunk, keys]` hold at most this many elements (256 MiB in f32): on GPU
/// backends burn 0.21 materialises the scores (its flash kernel takes no custom scale or
/// soft-cap), and a 4096-token row of a 40-head model would otherwise need 2.7 GB per copy.
/// Each chunk sees only the keys up to its last query (the causal mask hides the rest), which
/// also halves the work of long sequences. Under autodiff the whole sequence runs at once: the
/// backward pass keeps every chunk's scores anyway.
pub const ATTENTION_SCORE_BUDGET: usize = 1 << 26;

impl<B: Backend> Attention<B> {
    /// Queries per chunk for `b` rows and `keys` keys ([`ATTENTION_SCORE_BUDGET`]); `t` when
    /// gradients are taken or everything fits.
    pub fn query_chunk(&self, b: usize, t: usize, keys: usize, autodiff: bool) -> usize {
        if autodiff {
            return t;
        }
        let per_query = (b * self.num_heads * keys).max(1);
        let c = ATTENTION_SCORE_BUDGET / per_query;
        if c >= t {
            t
        } else if c >= 64 {
            c / 64 * 64 // whole tiles for the kernels
        } else {
            c.max(1)
        }
    }

    /// `softmax(q·kᵀ·scale [soft-capped, masked]) · v` for `q [b, h, t, hd]` at absolute
    /// positions `past..past + t` and `k`, `v` `[b, h, past + t, hd]`.
    fn attend(
        &self,
        q: Tensor<B, 4>,
        k: Tensor<B, 4>,
        v: Tensor<B, 4>,
        past: usize,
    ) -> Tensor<B, 4> {
        let [b, _, t, _] = q.dims();
        let tk = k.dims()[2];
        let chunk = self.query_chunk(b, t, tk, B::ad_enabled(&q.device()));
        self.attend_chunked(q, k, v, past, chunk)
    }

    /// [`Attention::attend`] with `chunk` queries at a time.
    pub fn attend_chunked(
        &self,
        q: Tensor<B, 4>,
        k: Tensor<B, 4>,
        v: Tensor<B, 4>,
        past: usize,
        chunk: usize,
    ) -> Tensor<B, 4> {
        let t = q.dims()[2];
        if chunk >= t {
            return self.attend_block(q, k, v, past);
        }
        let mut outs = Vec::with_capacity(t.div_ceil(chunk));
        for s in (0..t).step_by(chunk) {
            let n = chunk.min(t - s);
            // Keys visible to this chunk: up to its last query, from the first query's window.
            let end = past + s + n;
            let lo = self
                .sliding_window
                .map_or(0, |w| (past + s + 1).saturating_sub(w));
            outs.push(self.attend_block(
                q.clone().narrow(2, s, n),
                k.clone().narrow(2, lo, end - lo),
                v.clone().narrow(2, lo, end - lo),
                past + s - lo,
            ));
        }
        Tensor::cat(outs, 2)
    }

    /// [`Attention::attend`] in one piece: query `i` is at position `past + i` of the keys.
    fn attend_block(
        &self,
        q: Tensor<B, 4>,
        k: Tensor<B, 4>,
        v: Tensor<B, 4>,
        past: usize,
    ) -> Tensor<B, 4> {
        let [b, h, t, _] = q.dims();
        let tk = k.dims()[2];
        let scale = self.scale;
        match self.sliding_window {
            Some(w) if tk > w => {
                // Explicit mask: key j is visible from query i (absolute p = past + i) iff
                // p − w < j ≤ p.
                let dev = q.device();
                let qpos = Tensor::<B, 1, Int>::arange(past as i64..(past + t) as i64, &dev)
                    .reshape([t, 1]);
                let kpos = Tensor::<B, 1, Int>::arange(0..tk as i64, &dev).reshape([1, tk]);
                let future = kpos.clone().greater(qpos.clone());
                let old = kpos.add_scalar(w as i64).lower_equal(qpos);
                let mask = future
                    .bool_or(old)
                    .unsqueeze_dim::<3>(0)
                    .unsqueeze_dim::<4>(0)
                    .expand([b, h, t, tk]);
                let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale);
                let scores = match self.softcap {
                    Some(c) => scores.div_scalar(c).tanh().mul_scalar(c),
                    None => scores,
                };
                let scores = scores.mask_fill(mask, f32::NEG_INFINITY);
                softmax(scores, 3).matmul(v)
            }
            _ => attention(
                q,
                k,
                v,
                None,
                None,
                AttentionModuleOptions {
                    scale: Some(scale),
                    softcap: self.softcap,
                    is_causal: true,
                },
            ),
        }
    }
}

/// Feed-forward: gated `down(act(gate(x)) · up(x))` (Llama's SwiGLU, Gemma's GeGLU), or plain
/// `fc2(act(fc1(x)))` (Phi; `up_proj` holds fc1, `down_proj` fc2).
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    pub gate_proj: Option<Linear<B>>,
    pub up_proj: Linear<B>,
    pub down_proj: Linear<B>,
    pub act: Activation,
}

impl<B: Backend> Mlp<B> {
    /// `[b, t, d] → [b, t, d]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        match &self.gate_proj {
            Some(g) => self
                .down_proj
                .forward(self.act.apply(g.forward(x.clone())) * self.up_proj.forward(x)),
            None => self
                .down_proj
                .forward(self.act.apply(self.up_proj.forward(x))),
        }
    }
}

/// One decoder block. Sequential (`post_attention_layernorm` before the MLP), Gemma2's sandwich
/// (`post_attention_layernorm` on the attention output, `pre_`/`post_feedforward_layernorm`
/// around the MLP) or Phi's parallel layout (no second norm: one norm feeds both).
#[derive(Module, Debug)]
pub struct DecoderLayer<B: Backend> {
    pub self_attn: Attention<B>,
    pub mlp: Mlp<B>,
    pub input_layernorm: Norm<B>,
    pub post_attention_layernorm: Option<Norm<B>>,
    pub pre_feedforward_layernorm: Option<Norm<B>>,
    pub post_feedforward_layernorm: Option<Norm<B>>,
}

impl<B: Backend> DecoderLayer<B> {
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        rope: &Rope<B>,
        cache: Option<&mut Option<LayerCache<B>>>,
    ) -> Tensor<B, 3> {
        let n = self.input_layernorm.forward(x.clone());
        let a = self.self_attn.forward(n.clone(), rope, cache);
        match (
            &self.post_attention_layernorm,
            &self.pre_feedforward_layernorm,
            &self.post_feedforward_layernorm,
        ) {
            (None, _, _) => (a + self.mlp.forward(n)) + x,
            (Some(post_attn), Some(pre_ff), Some(post_ff)) => {
                let h = x + post_attn.forward(a);
                h.clone() + post_ff.forward(self.mlp.forward(pre_ff.forward(h)))
            }
            (Some(post_attn), _, _) => {
                let h = x + a;
                h.clone() + self.mlp.forward(post_attn.forward(h))
            }
        }
    }
}

/// The decoder stack (HF `model.*`).
#[derive(Module, Debug)]
pub struct Decoder<B: Backend> {
    /// `[V, d]`.
    pub embed_tokens: Param<Tensor<B, 2>>,
    pub layers: Vec<DecoderLayer<B>>,
    /// `model.norm` (`model.final_layernorm` for Phi's LayerNorm).
    pub norm: Norm<B>,
}

/// A causal language model (HF `*ForCausalLM`).
#[derive(Module, Debug)]
pub struct CausalLm<B: Backend> {
    pub model: Decoder<B>,
    /// `[V, d]`; `None` when tied to the embedding.
    pub lm_head: Option<Param<Tensor<B, 2>>>,
    /// `[V]` (Phi).
    pub lm_head_bias: Option<Param<Tensor<B, 1>>>,
    /// Gemma: the embeddings are multiplied by `sqrt(hidden_size)` rounded to the compute dtype.
    pub embed_scale: Option<f64>,
    /// Gemma2: `cap · tanh(logits / cap)`.
    pub final_softcap: Option<f64>,
    /// `nn.Embedding(padding_idx)`: lookups of this id send no gradient to its row.
    pub padding_idx: Option<usize>,
}

/// Per-layer key/value caches for generation.
pub struct KvCache<B: Backend> {
    pub layers: Vec<Option<LayerCache<B>>>,
}

impl<B: Backend> KvCache<B> {
    pub fn new(layers: usize) -> Self {
        KvCache {
            layers: (0..layers).map(|_| None).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.layers
            .first()
            .and_then(|l| l.as_ref())
            .map_or(0, |c| c.k.dims()[2])
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<B: Backend> CausalLm<B> {
    /// Token ids `[b, t]` → final hidden states `[b, t, d]` (after the last norm), computed in
    /// the dtype of the rotary tables (the compute dtype, whatever the weights' dtype).
    pub fn hidden(
        &self,
        ids: Tensor<B, 2, Int>,
        rope: &Rope<B>,
        mut cache: Option<&mut KvCache<B>>,
    ) -> Tensor<B, 3> {
        let [b, t] = ids.dims();
        let emb = self.model.embed_tokens.val();
        let d = emb.dims()[1];
        let dt = rope.cos.dtype();
        let flat = ids.reshape([b * t]);
        let rows = emb.clone().select(0, flat.clone());
        // torch's embedding backward skips the padding row: the same values, with the pad
        // lookups taken from a detached copy (only where gradients are taken: evaluation does
        // not pay for it).
        let rows = match self.padding_idx {
            Some(p) if B::ad_enabled(&emb.device()) => {
                let keep = flat
                    .clone()
                    .not_equal_elem(p as i64)
                    .float()
                    .reshape([b * t, 1]);
                let keep = cast_to(keep, rows.dtype());
                rows * keep.clone() + emb.detach().select(0, flat) * keep.neg().add_scalar(1.0)
            }
            _ => rows,
        };
        let mut x = cast_to(rows.reshape([b, t, d]), dt);
        if let Some(s) = self.embed_scale {
            // `torch.tensor(hidden_size**0.5, dtype=x.dtype)`: the factor is rounded first.
            let s = match dt {
                DType::BF16 => half::bf16::from_f64(s).to_f64(),
                DType::F16 => half::f16::from_f64(s).to_f64(),
                DType::F64 => s,
                _ => s as f32 as f64,
            };
            x = x.mul_scalar(s);
        }
        for (i, layer) in self.model.layers.iter().enumerate() {
            let slot = cache.as_mut().map(|c| &mut c.layers[i]);
            x = layer.forward(x, rope, slot);
        }
        self.model.norm.forward(x)
    }

    /// The output projection `[V, d]` (the embedding when tied).
    pub fn head_weight(&self) -> Tensor<B, 2> {
        match &self.lm_head {
            Some(w) => w.val(),
            None => self.model.embed_tokens.val(),
        }
    }

    /// Hidden states `[b, t, d]` → logits `[b, t, V]`.
    pub fn logits(&self, hidden: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, t, d] = hidden.dims();
        let dt = hidden.dtype();
        let w = cast_to(self.head_weight(), dt);
        let v = w.dims()[0];
        let mut y = hidden.reshape([b * t, d]).matmul(w.transpose());
        if let Some(bias) = &self.lm_head_bias {
            y = y + cast_to(bias.val(), dt).unsqueeze_dim::<2>(0);
        }
        if let Some(c) = self.final_softcap {
            y = y.div_scalar(c).tanh().mul_scalar(c);
        }
        // transformers returns `logits.float()`.
        to_f32(y.reshape([b, t, v]))
    }

    /// Summed next-token cross-entropy per row, `[b]`: positions `0..t−1` of `hidden` predict
    /// `targets[:, 1..]`. Computed `chunk` positions at a time, so the `[t, V]` logits never
    /// exist at once (V is 100K for the subnet's tokenizer).
    pub fn shifted_ce_sum(
        &self,
        hidden: Tensor<B, 3>,
        ids: Tensor<B, 2, Int>,
        chunk: usize,
    ) -> Tensor<B, 1> {
        self.masked_ce_sum(hidden, ids, None, chunk)
    }

    /// [`CausalLm::shifted_ce_sum`] with an optional label mask `[b, t − 1]` (1 keeps a label,
    /// 0 drops it).
    pub fn masked_ce_sum(
        &self,
        hidden: Tensor<B, 3>,
        ids: Tensor<B, 2, Int>,
        mask: Option<Tensor<B, 2>>,
        chunk: usize,
    ) -> Tensor<B, 1> {
        let [b, t, _] = hidden.dims();
        let n = t.saturating_sub(1);
        let dev = hidden.device();
        let mut total = Tensor::<B, 1>::zeros([b], &dev);
        let mut start = 0;
        while start < n {
            let c = chunk.min(n - start);
            let logits = self.logits(hidden.clone().narrow(1, start, c));
            let tgt = ids.clone().narrow(1, start + 1, c).reshape([b, c, 1]);
            let max = logits.clone().detach().max_dim(2);
            let lse = (logits.clone() - max.clone()).exp().sum_dim(2).log() + max;
            let ce = lse - logits.gather(2, tgt);
            let ce = match &mask {
                Some(m) => ce * m.clone().narrow(1, start, c).reshape([b, c, 1]),
                None => ce,
            };
            total = total + ce.sum_dim(1).reshape([b]);
            start += c;
        }
        total
    }

    /// The validator's text loss per row: mean cross-entropy over the `t − 1` next-token labels.
    pub fn row_losses(&self, ids: Tensor<B, 2, Int>, rope: &Rope<B>, chunk: usize) -> Tensor<B, 1> {
        let t = ids.dims()[1];
        let h = self.hidden(ids.clone(), rope, None);
        self.shifted_ce_sum(h, ids, chunk)
            .div_scalar((t.max(2) - 1) as f64)
    }
}

/// Yields parameters by HF name while the module tree is built.
struct Builder<F> {
    f: F,
}

impl<F> Builder<F> {
    fn p1<B: Backend>(&mut self, name: &str, n: usize) -> anyhow::Result<Param<Tensor<B, 1>>>
    where
        F: FnMut(&str, &[usize]) -> anyhow::Result<Tensor<B, 1>>,
    {
        Ok(Param::from_tensor((self.f)(name, &[n])?))
    }

    fn p2<B: Backend>(
        &mut self,
        name: &str,
        shape: [usize; 2],
    ) -> anyhow::Result<Param<Tensor<B, 2>>>
    where
        F: FnMut(&str, &[usize]) -> anyhow::Result<Tensor<B, 1>>,
    {
        Ok(Param::from_tensor((self.f)(name, &shape)?.reshape(shape)))
    }

    fn linear<B: Backend>(
        &mut self,
        name: &str,
        out: usize,
        inp: usize,
        bias: bool,
    ) -> anyhow::Result<Linear<B>>
    where
        F: FnMut(&str, &[usize]) -> anyhow::Result<Tensor<B, 1>>,
    {
        Ok(Linear {
            weight: self.p2(&format!("{name}.weight"), [out, inp])?,
            bias: if bias {
                Some(self.p1(&format!("{name}.bias"), out)?)
            } else {
                None
            },
        })
    }
}

/// Builds the module tree for `config`; `param(name, shape)` yields each parameter (flat) by
/// its HF name, in `named_parameters()` order.
pub fn build<B: Backend>(
    config: &ModelConfig,
    param: impl FnMut(&str, &[usize]) -> anyhow::Result<Tensor<B, 1>>,
) -> anyhow::Result<CausalLm<B>> {
    if let Some(why) = config.validator_forward_error() {
        anyhow::bail!("{why}; sn9 does not build this class");
    }
    let mut g = Builder { f: param };
    let (d, hd, i, v) = (
        config.hidden_size,
        config.head_dim,
        config.intermediate_size,
        config.vocab_size,
    );
    let (h, kv) = (config.num_attention_heads, config.num_key_value_heads);
    let eps = config.rms_norm_eps;
    let layer_norm = config.norm == NormKind::LayerNorm;
    let norm = |g: &mut Builder<_>, name: &str| -> anyhow::Result<Norm<B>> {
        Ok(Norm {
            weight: g.p1(&format!("{name}.weight"), d)?,
            bias: if layer_norm {
                Some(g.p1(&format!("{name}.bias"), d)?)
            } else {
                None
            },
            eps,
            kind: config.norm,
        })
    };
    let embed_tokens = g.p2("model.embed_tokens.weight", [v, d])?;
    let mut layers = Vec::with_capacity(config.num_hidden_layers);
    let parallel = config.residual == Residual::Parallel;
    for l in 0..config.num_hidden_layers {
        let pre = format!("model.layers.{l}");
        let self_attn = Attention {
            q_proj: g.linear(
                &format!("{pre}.self_attn.q_proj"),
                h * hd,
                d,
                config.qkv_bias,
            )?,
            k_proj: g.linear(
                &format!("{pre}.self_attn.k_proj"),
                kv * hd,
                d,
                config.qkv_bias,
            )?,
            v_proj: g.linear(
                &format!("{pre}.self_attn.v_proj"),
                kv * hd,
                d,
                config.qkv_bias,
            )?,
            o_proj: g.linear(
                &format!(
                    "{pre}.self_attn.{}",
                    if parallel { "dense" } else { "o_proj" }
                ),
                d,
                h * hd,
                config.o_bias,
            )?,
            num_heads: h,
            num_kv_heads: kv,
            head_dim: hd,
            sliding_window: config.window_of(l),
            scale: config.attn_scale,
            softcap: config.attn_softcap,
            rotary_dim: config.rotary_dim,
        };
        let mlp = if config.mlp_gated {
            Mlp {
                gate_proj: Some(g.linear(
                    &format!("{pre}.mlp.gate_proj"),
                    i,
                    d,
                    config.mlp_bias,
                )?),
                up_proj: g.linear(&format!("{pre}.mlp.up_proj"), i, d, config.mlp_bias)?,
                down_proj: g.linear(&format!("{pre}.mlp.down_proj"), d, i, config.mlp_bias)?,
                act: config.activation,
            }
        } else {
            Mlp {
                gate_proj: None,
                up_proj: g.linear(&format!("{pre}.mlp.fc1"), i, d, config.mlp_bias)?,
                down_proj: g.linear(&format!("{pre}.mlp.fc2"), d, i, config.mlp_bias)?,
                act: config.activation,
            }
        };
        let mut norms = Vec::new();
        for nm in config.layer_norm_names() {
            norms.push(norm(&mut g, &format!("{pre}.{nm}"))?);
        }
        let mut norms = norms.into_iter();
        layers.push(DecoderLayer {
            self_attn,
            mlp,
            input_layernorm: norms.next().expect("every layout has an input norm"),
            post_attention_layernorm: norms.next(),
            pre_feedforward_layernorm: norms.next(),
            post_feedforward_layernorm: norms.next(),
        });
    }
    let final_norm = norm(
        &mut g,
        if layer_norm {
            "model.final_layernorm"
        } else {
            "model.norm"
        },
    )?;
    let lm_head = if config.tie_word_embeddings {
        None
    } else {
        Some(g.p2("lm_head.weight", [v, d])?)
    };
    let lm_head_bias = if config.lm_head_bias {
        Some(g.p1("lm_head.bias", v)?)
    } else {
        None
    };
    Ok(CausalLm {
        model: Decoder {
            embed_tokens,
            layers,
            norm: final_norm,
        },
        lm_head,
        lm_head_bias,
        embed_scale: config
            .embed_scale
            .then(|| (config.hidden_size as f64).sqrt()),
        final_softcap: config.final_softcap,
        padding_idx: config.padding_idx,
    })
}

/// Visits each parameter by HF name, in `named_parameters()` order (a tied head is visited
/// once, as the embedding).
pub trait ParamVisitor<B: Backend> {
    fn visit<const D: usize>(
        &mut self,
        name: &str,
        p: &mut Param<Tensor<B, D>>,
    ) -> anyhow::Result<()>;
}

impl<B: Backend> Linear<B> {
    fn visit_named<V: ParamVisitor<B>>(&mut self, name: &str, v: &mut V) -> anyhow::Result<()> {
        v.visit(&format!("{name}.weight"), &mut self.weight)?;
        if let Some(b) = &mut self.bias {
            v.visit(&format!("{name}.bias"), b)?;
        }
        Ok(())
    }
}

impl<B: Backend> CausalLm<B> {
    /// Calls `v` on every parameter (see [`ParamVisitor`]); `v` may replace them.
    pub fn visit_params<V: ParamVisitor<B>>(&mut self, v: &mut V) -> anyhow::Result<()> {
        v.visit("model.embed_tokens.weight", &mut self.model.embed_tokens)?;
        for (i, l) in self.model.layers.iter_mut().enumerate() {
            let p = format!("model.layers.{i}");
            // Phi (the parallel layout, no second norm) names the output projection `dense`
            // and its MLP `fc1`/`fc2`.
            let parallel = l.post_attention_layernorm.is_none();
            let a = &mut l.self_attn;
            a.q_proj.visit_named(&format!("{p}.self_attn.q_proj"), v)?;
            a.k_proj.visit_named(&format!("{p}.self_attn.k_proj"), v)?;
            a.v_proj.visit_named(&format!("{p}.self_attn.v_proj"), v)?;
            let o = if parallel { "dense" } else { "o_proj" };
            a.o_proj.visit_named(&format!("{p}.self_attn.{o}"), v)?;
            match &mut l.mlp.gate_proj {
                Some(g) => {
                    g.visit_named(&format!("{p}.mlp.gate_proj"), v)?;
                    l.mlp.up_proj.visit_named(&format!("{p}.mlp.up_proj"), v)?;
                    l.mlp
                        .down_proj
                        .visit_named(&format!("{p}.mlp.down_proj"), v)?;
                }
                None => {
                    l.mlp.up_proj.visit_named(&format!("{p}.mlp.fc1"), v)?;
                    l.mlp.down_proj.visit_named(&format!("{p}.mlp.fc2"), v)?;
                }
            }
            l.input_layernorm
                .visit_named(&format!("{p}.input_layernorm"), v)?;
            for (name, n) in [
                ("post_attention_layernorm", &mut l.post_attention_layernorm),
                (
                    "pre_feedforward_layernorm",
                    &mut l.pre_feedforward_layernorm,
                ),
                (
                    "post_feedforward_layernorm",
                    &mut l.post_feedforward_layernorm,
                ),
            ] {
                if let Some(n) = n {
                    n.visit_named(&format!("{p}.{name}"), v)?;
                }
            }
        }
        let final_name = if self.model.norm.bias.is_some() {
            "model.final_layernorm"
        } else {
            "model.norm"
        };
        self.model.norm.visit_named(final_name, v)?;
        if let Some(h) = &mut self.lm_head {
            v.visit("lm_head.weight", h)?;
        }
        if let Some(b) = &mut self.lm_head_bias {
            v.visit("lm_head.bias", b)?;
        }
        Ok(())
    }
}

impl<B: Backend> Norm<B> {
    fn visit_named<V: ParamVisitor<B>>(&mut self, name: &str, v: &mut V) -> anyhow::Result<()> {
        v.visit(&format!("{name}.weight"), &mut self.weight)?;
        if let Some(b) = &mut self.bias {
            v.visit(&format!("{name}.bias"), b)?;
        }
        Ok(())
    }
}

/// A named parameter: HF name, shape, values (f32).
pub type NamedValues = (String, Vec<usize>, Vec<f32>);

/// Every parameter as (HF name, shape, values), in `named_parameters()` order.
pub fn export<B: Backend>(m: &CausalLm<B>) -> anyhow::Result<Vec<NamedValues>> {
    struct Collect(Vec<NamedValues>);
    impl<B: Backend> ParamVisitor<B> for Collect {
        fn visit<const D: usize>(
            &mut self,
            name: &str,
            p: &mut Param<Tensor<B, D>>,
        ) -> anyhow::Result<()> {
            let t = p.val();
            let shape = t.dims().to_vec();
            let data = t
                .into_data()
                .convert::<f32>()
                .to_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("{name}: {e:?}"))?;
            self.0.push((name.to_string(), shape, data));
            Ok(())
        }
    }
    let mut c = Collect(Vec::new());
    m.clone().visit_params(&mut c)?;
    Ok(c.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;
    use burn::tensor::Distribution;

    fn attn(window: Option<usize>, softcap: Option<f64>) -> Attention<Flex> {
        let dev = Default::default();
        let lin = |i: usize, o: usize| Linear {
            weight: Param::from_tensor(Tensor::<Flex, 2>::random(
                [o, i],
                Distribution::Normal(0.0, 0.1),
                &dev,
            )),
            bias: None,
        };
        Attention {
            q_proj: lin(16, 16),
            k_proj: lin(16, 16),
            v_proj: lin(16, 16),
            o_proj: lin(16, 16),
            num_heads: 2,
            num_kv_heads: 2,
            head_dim: 8,
            sliding_window: window,
            scale: 8f64.powf(-0.5),
            softcap,
            rotary_dim: 8,
        }
    }

    /// Chunked attention (any chunk, with a KV-cache offset, a window, soft-capping) equals the
    /// one-piece computation.
    #[test]
    fn chunked_attention_equals_whole() {
        let dev = Default::default();
        for (window, cap, past) in [
            (None, None, 0),
            (Some(5), None, 0),
            (Some(4), Some(20.0), 3),
        ] {
            let a = attn(window, cap);
            let t = 13;
            let q = Tensor::<Flex, 4>::random([2, 2, t, 8], Distribution::Normal(0.0, 1.0), &dev);
            let k = Tensor::<Flex, 4>::random(
                [2, 2, past + t, 8],
                Distribution::Normal(0.0, 1.0),
                &dev,
            );
            let v = Tensor::<Flex, 4>::random(
                [2, 2, past + t, 8],
                Distribution::Normal(0.0, 1.0),
                &dev,
            );
            let whole = a.attend_chunked(q.clone(), k.clone(), v.clone(), past, t);
            for chunk in [1, 3, 4, 12] {
                let got = a.attend_chunked(q.clone(), k.clone(), v.clone(), past, chunk);
                let err = (got - whole.clone()).abs().max().into_scalar();
                assert!(err < 1e-5, "window {window:?} chunk {chunk}: max err {err}");
            }
        }
    }

    #[test]
    fn query_chunk_keeps_scores_in_budget() {
        let a = attn(None, None);
        assert_eq!(a.query_chunk(1, 4096, 4096, true), 4096);
        assert_eq!(a.query_chunk(1, 1024, 1024, false), 1024);
        let c = a.query_chunk(64, 4096, 4096, false);
        assert!(
            c * 64 * 2 * 4096 <= ATTENTION_SCORE_BUDGET && c.is_multiple_of(64),
            "{c}"
        );
        assert_eq!(a.query_chunk(1 << 20, 4096, 4096, false), 1);
    }
}
