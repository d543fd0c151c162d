//! The Llama-family decoder (Llama, Mistral, Qwen2) in burn: one implementation with options.
//! Fields are named as Hugging Face names the weights, so `model.layers.3.mlp.up_proj.weight`
//! is `model.layers[3].mlp.up_proj.weight`. Shapes: `b` batch, `t` tokens, `d` hidden size,
//! `h`/`kv` query/key-value heads, `hd` head dim, `i` intermediate size, `V` vocabulary.

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::{silu, softmax};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{DType, FloatDType};

use super::config::ModelConfig;

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

/// RMSNorm: `x / sqrt(mean(x²) + eps) · weight`.
#[derive(Module, Debug)]
pub struct RmsNorm<B: Backend> {
    /// `[d]`.
    pub weight: Param<Tensor<B, 1>>,
    pub eps: f64,
}

impl<B: Backend> RmsNorm<B> {
    /// `[b, t, d] → [b, t, d]`.
    /// Computed in float32 and cast back, as transformers does for bf16/f16 activations.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let dt = x.dtype();
        let x = to_f32(x);
        let var = x.clone().powi_scalar(2).mean_dim(2);
        let x = cast_to(x * (var + self.eps).sqrt().recip(), dt);
        x * cast_to(self.weight.val(), dt)
            .unsqueeze_dim::<2>(0)
            .unsqueeze_dim::<3>(0)
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
        let q = q.clone() * cos.clone() + rotate_half(q) * sin.clone();
        let k = k.clone() * cos + rotate_half(k) * sin;
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
        let scale = 1.0 / (hd as f64).sqrt();
        let out = match self.sliding_window {
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
                let scores = q
                    .matmul(k.swap_dims(2, 3))
                    .mul_scalar(scale)
                    .mask_fill(mask, f32::NEG_INFINITY);
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
                    softcap: None,
                    is_causal: true,
                },
            ),
        };
        self.o_proj
            .forward(out.swap_dims(1, 2).reshape([b, t, h * hd]))
    }
}

/// SwiGLU feed-forward: `down(silu(gate(x)) · up(x))`.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    pub gate_proj: Linear<B>,
    pub up_proj: Linear<B>,
    pub down_proj: Linear<B>,
}

impl<B: Backend> Mlp<B> {
    /// `[b, t, d] → [b, t, d]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.down_proj
            .forward(silu(self.gate_proj.forward(x.clone())) * self.up_proj.forward(x))
    }
}

/// One pre-norm decoder block.
#[derive(Module, Debug)]
pub struct DecoderLayer<B: Backend> {
    pub self_attn: Attention<B>,
    pub mlp: Mlp<B>,
    pub input_layernorm: RmsNorm<B>,
    pub post_attention_layernorm: RmsNorm<B>,
}

impl<B: Backend> DecoderLayer<B> {
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        rope: &Rope<B>,
        cache: Option<&mut Option<LayerCache<B>>>,
    ) -> Tensor<B, 3> {
        let h = x.clone()
            + self
                .self_attn
                .forward(self.input_layernorm.forward(x), rope, cache);
        h.clone() + self.mlp.forward(self.post_attention_layernorm.forward(h))
    }
}

/// The decoder stack (HF `model.*`).
#[derive(Module, Debug)]
pub struct Decoder<B: Backend> {
    /// `[V, d]`.
    pub embed_tokens: Param<Tensor<B, 2>>,
    pub layers: Vec<DecoderLayer<B>>,
    pub norm: RmsNorm<B>,
}

/// A causal language model (HF `*ForCausalLM`).
#[derive(Module, Debug)]
pub struct CausalLm<B: Backend> {
    pub model: Decoder<B>,
    /// `[V, d]`; `None` when tied to the embedding.
    pub lm_head: Option<Param<Tensor<B, 2>>>,
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
        let mut x = cast_to(
            emb.select(0, ids.reshape([b * t])).reshape([b, t, d]),
            rope.cos.dtype(),
        );
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
        let w = cast_to(self.head_weight(), hidden.dtype());
        let v = w.dims()[0];
        // transformers returns `logits.float()`.
        to_f32(
            hidden
                .reshape([b * t, d])
                .matmul(w.transpose())
                .reshape([b, t, v]),
        )
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
    let mut g = Builder { f: param };
    let (d, hd, i, v) = (
        config.hidden_size,
        config.head_dim,
        config.intermediate_size,
        config.vocab_size,
    );
    let (h, kv) = (config.num_attention_heads, config.num_key_value_heads);
    let eps = config.rms_norm_eps;
    let embed_tokens = g.p2("model.embed_tokens.weight", [v, d])?;
    let mut layers = Vec::with_capacity(config.num_hidden_layers);
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
            o_proj: g.linear(&format!("{pre}.self_attn.o_proj"), d, h * hd, config.o_bias)?,
            num_heads: h,
            num_kv_heads: kv,
            head_dim: hd,
            sliding_window: config.sliding_window,
        };
        let mlp = Mlp {
            gate_proj: g.linear(&format!("{pre}.mlp.gate_proj"), i, d, config.mlp_bias)?,
            up_proj: g.linear(&format!("{pre}.mlp.up_proj"), i, d, config.mlp_bias)?,
            down_proj: g.linear(&format!("{pre}.mlp.down_proj"), d, i, config.mlp_bias)?,
        };
        layers.push(DecoderLayer {
            self_attn,
            mlp,
            input_layernorm: RmsNorm {
                weight: g.p1(&format!("{pre}.input_layernorm.weight"), d)?,
                eps,
            },
            post_attention_layernorm: RmsNorm {
                weight: g.p1(&format!("{pre}.post_attention_layernorm.weight"), d)?,
                eps,
            },
        });
    }
    let norm = RmsNorm {
        weight: g.p1("model.norm.weight", d)?,
        eps,
    };
    let lm_head = if config.tie_word_embeddings {
        None
    } else {
        Some(g.p2("lm_head.weight", [v, d])?)
    };
    Ok(CausalLm {
        model: Decoder {
            embed_tokens,
            layers,
            norm,
        },
        lm_head,
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
            let a = &mut l.self_attn;
            a.q_proj.visit_named(&format!("{p}.self_attn.q_proj"), v)?;
            a.k_proj.visit_named(&format!("{p}.self_attn.k_proj"), v)?;
            a.v_proj.visit_named(&format!("{p}.self_attn.v_proj"), v)?;
            a.o_proj.visit_named(&format!("{p}.self_attn.o_proj"), v)?;
            l.mlp
                .gate_proj
                .visit_named(&format!("{p}.mlp.gate_proj"), v)?;
            l.mlp.up_proj.visit_named(&format!("{p}.mlp.up_proj"), v)?;
            l.mlp
                .down_proj
                .visit_named(&format!("{p}.mlp.down_proj"), v)?;
            v.visit(
                &format!("{p}.input_layernorm.weight"),
                &mut l.input_layernorm.weight,
            )?;
            v.visit(
                &format!("{p}.post_attention_layernorm.weight"),
                &mut l.post_attention_layernorm.weight,
            )?;
        }
        v.visit("model.norm.weight", &mut self.model.norm.weight)?;
        if let Some(h) = &mut self.lm_head {
            v.visit("lm_head.weight", h)?;
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
