//! The E2TTS backbone: taoverse's flat U-Net Transformer (`UNetT`) in burn, with the reference's
//! parameter names (`transformer.layers.3.2.to_q.weight`, …) and its quirks: the time embedding
//! enters as a token prepended at position 0; rotary positions from the checkpoint's own
//! `inv_freq`, interleaved pairs, on the first head only; RMSNorm as `F.normalize · √D · g`;
//! GRN's norm over time; tanh GELU in the feed-forward, erf GELU in ConvNeXtV2.
//!
//! Shapes: `b` batch, `n` mel frames, `M` mel channels, `D` dim, `H` heads, `dh` dim_head,
//! `Td` text dim, `nt` text tokens.

use std::collections::HashMap;

use burn::prelude::*;
use burn::tensor::activation::{gelu, silu, softmax};
use burn::tensor::module::conv1d;
use burn::tensor::ops::ConvOptions;

use super::config::{BackboneConfig, SkipConnect};
use crate::model::llama::Linear;

/// Host tensors by state-dict name: shape and float32 values.
pub type HostWeights = HashMap<String, (Vec<usize>, Vec<f32>)>;

/// Moves a host tensor to the device with its rank.
pub fn to_device<B: Backend, const D: usize>(
    w: &HostWeights,
    name: &str,
    device: &B::Device,
) -> Tensor<B, D> {
    let (shape, v) = w
        .get(name)
        .unwrap_or_else(|| panic!("weights checked before build: {name}"));
    Tensor::<B, 1>::from_data(TensorData::new(v.clone(), [v.len()]), device).reshape(
        <[usize; D]>::try_from(shape.as_slice()).unwrap_or_else(|_| panic!("rank of {name}")),
    )
}

/// A linear layer from `{name}.weight` (`[out, in]`) and, with `bias`, `{name}.bias`.
pub fn linear<B: Backend>(
    w: &HostWeights,
    name: &str,
    bias: bool,
    device: &B::Device,
) -> Linear<B> {
    Linear {
        weight: burn::module::Param::from_tensor(to_device(w, &format!("{name}.weight"), device)),
        bias: bias.then(|| {
            burn::module::Param::from_tensor(to_device(w, &format!("{name}.bias"), device))
        }),
    }
}

/// x_transformers' RMSNorm: `x / max(‖x‖₂, 1e-12) · √D · g` over the last dim.
pub struct RmsNorm<B: Backend> {
    /// `[D]`.
    pub g: Tensor<B, 1>,
    pub scale: f64,
}

impl<B: Backend> RmsNorm<B> {
    /// `[b, n, D] → [b, n, D]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let norm = x.clone().powi_scalar(2).sum_dim(2).sqrt().clamp_min(1e-12);
        (x / norm).mul_scalar(self.scale)
            * self.g.clone().unsqueeze_dim::<2>(0).unsqueeze_dim::<3>(0)
    }
}

/// LayerNorm over the last dim with affine weights.
pub struct LayerNorm<B: Backend> {
    pub weight: Tensor<B, 1>,
    pub bias: Tensor<B, 1>,
    pub eps: f64,
}

impl<B: Backend> LayerNorm<B> {
    /// `[b, n, C] → [b, n, C]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let mean = x.clone().mean_dim(2);
        let xc = x - mean;
        let var = xc.clone().powi_scalar(2).mean_dim(2);
        xc / (var + self.eps).sqrt()
            * self
                .weight
                .clone()
                .unsqueeze_dim::<2>(0)
                .unsqueeze_dim::<3>(0)
            + self
                .bias
                .clone()
                .unsqueeze_dim::<2>(0)
                .unsqueeze_dim::<3>(0)
    }

    pub fn load(w: &HostWeights, name: &str, eps: f64, device: &B::Device) -> Self {
        LayerNorm {
            weight: to_device(w, &format!("{name}.weight"), device),
            bias: to_device(w, &format!("{name}.bias"), device),
            eps,
        }
    }
}

/// A 1-D convolution along time with PyTorch's weight layout `[out, in/groups, k]`.
pub struct Conv1d<B: Backend> {
    pub weight: Tensor<B, 3>,
    pub bias: Tensor<B, 1>,
    pub padding: usize,
    pub groups: usize,
}

impl<B: Backend> Conv1d<B> {
    /// `[b, C, n] → [b, C', n]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        conv1d(
            x,
            self.weight.clone(),
            Some(self.bias.clone()),
            ConvOptions::new([1], [self.padding], [1], self.groups),
        )
    }

    pub fn load(
        w: &HostWeights,
        name: &str,
        padding: usize,
        groups: usize,
        device: &B::Device,
    ) -> Self {
        Conv1d {
            weight: to_device(w, &format!("{name}.weight"), device),
            bias: to_device(w, &format!("{name}.bias"), device),
            padding,
            groups,
        }
    }
}

/// ConvNeXtV2 block (text embedding): depthwise conv k7, LayerNorm, Linear ×2, erf GELU, GRN.
pub struct ConvNextV2<B: Backend> {
    pub dwconv: Conv1d<B>,
    pub norm: LayerNorm<B>,
    pub pwconv1: Linear<B>,
    /// `[1, 1, 2Td]` each.
    pub gamma: Tensor<B, 3>,
    pub beta: Tensor<B, 3>,
    pub pwconv2: Linear<B>,
}

impl<B: Backend> ConvNextV2<B> {
    /// `[b, n, Td] → [b, n, Td]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let y = self
            .dwconv
            .forward(x.clone().swap_dims(1, 2))
            .swap_dims(1, 2);
        let y = gelu(self.pwconv1.forward(self.norm.forward(y)));
        // GRN: ‖y‖₂ over time, normalised by its mean over channels.
        let g = y.clone().powi_scalar(2).sum_dim(1).sqrt(); // [b, 1, C]
        let nx = g.clone() / (g.mean_dim(2) + 1e-6);
        let y = self.gamma.clone() * (y.clone() * nx) + self.beta.clone() + y;
        x + self.pwconv2.forward(y)
    }
}

/// One transformer layer: optional skip projection, pre-norm attention and feed-forward.
pub struct Layer<B: Backend> {
    pub skip_proj: Option<Linear<B>>,
    pub attn_norm: RmsNorm<B>,
    pub to_q: Linear<B>,
    pub to_k: Linear<B>,
    pub to_v: Linear<B>,
    pub to_out: Linear<B>,
    pub ff_norm: RmsNorm<B>,
    pub ff_in: Linear<B>,
    pub ff_out: Linear<B>,
}

/// The backbone with its weights on a device.
pub struct UNetT<B: Backend> {
    pub config: BackboneConfig,
    pub time_mlp0: Linear<B>,
    pub time_mlp2: Linear<B>,
    /// `[V+1, Td]`.
    pub text_embed: Tensor<B, 2>,
    pub text_blocks: Vec<ConvNextV2<B>>,
    pub input_proj: Linear<B>,
    pub conv_pos: [Conv1d<B>; 2],
    /// `[dh/2]`, from the checkpoint.
    pub inv_freq: Vec<f32>,
    pub layers: Vec<Layer<B>>,
    pub norm_out: RmsNorm<B>,
    pub proj_out: Linear<B>,
}

/// Per-call options of the backbone (the CFG branches).
#[derive(Debug, Clone, Copy, Default)]
pub struct Drop {
    pub audio_cond: bool,
    pub text: bool,
}

/// `SinusPositionEmbedding(256)` at `1000·t`, `[b, 256]` (host, float32 as torch computes it).
pub fn sinus_time_embedding(time: &[f32]) -> Vec<f32> {
    let half = 128usize;
    let c = ((10000f64).ln() / (half as f64 - 1.0)) as f32;
    let f: Vec<f32> = (0..half).map(|k| (k as f32 * -c).exp()).collect();
    let mut out = Vec::with_capacity(time.len() * 2 * half);
    for &t in time {
        let a: Vec<f32> = f.iter().map(|&fk| (1000.0f32 * t) * fk).collect();
        out.extend(a.iter().map(|x| x.sin()));
        out.extend(a.iter().map(|x| x.cos()));
    }
    out
}

/// `precompute_freqs_cis(Td, ·)` rows `0..n` (clamped at 4095): `[cos(p·g) | sin(p·g)]`.
pub fn text_freqs_cis(td: usize, n: usize) -> Vec<f32> {
    let half = td / 2;
    let g: Vec<f32> = (0..half)
        .map(|i| 1.0f32 / 10000f32.powf((2 * i) as f32 / td as f32))
        .collect();
    let mut out = Vec::with_capacity(n * td);
    for p in 0..n {
        let p = p.min(4095) as f32;
        out.extend(g.iter().map(|&gi| (p * gi).cos()));
        out.extend(g.iter().map(|&gi| (p * gi).sin()));
    }
    out
}

/// The tanh GELU, `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, written as
/// `x·σ(2·√(2/π)·(x + 0.044715·x³))` = `x − x / (e^{2z} + 1)`: the same function, one `exp`
/// instead of burn's `tanh` + `powf` (4× faster on the CPU backend; equal to ~1 ulp).
pub fn gelu_tanh<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let z2 = (x.clone() + x.clone() * x.clone() * x.clone() * 0.044_715)
        * (2.0 * (2.0 / std::f64::consts::PI).sqrt());
    x.clone() - x / (z2.exp() + 1.0)
}

/// Mish, `x·tanh(softplus(x))`, as `x·n/(n + 2)` with `n = eˣ(eˣ + 2)` (one `exp`; `x` above
/// 20 gives `x`, as torch's softplus threshold does).
pub fn mish<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let e = x.clone().clamp_max(20.0).exp();
    let n = e.clone() * (e + 2.0);
    x * (n.clone() / (n + 2.0))
}

impl<B: Backend> UNetT<B> {
    /// Builds the backbone from host weights whose names and shapes were checked against
    /// [`BackboneConfig::state_dict_shapes`].
    pub fn build(config: &BackboneConfig, w: &HostWeights, device: &B::Device) -> Self {
        let t = |n: &str| format!("transformer.{n}");
        let d = config.dim;
        let text_blocks = (0..config.conv_layers)
            .map(|c| {
                let b = t(&format!("text_embed.text_blocks.{c}"));
                ConvNextV2 {
                    dwconv: Conv1d::load(w, &format!("{b}.dwconv"), 3, config.text_dim, device),
                    norm: LayerNorm::load(w, &format!("{b}.norm"), 1e-6, device),
                    pwconv1: linear(w, &format!("{b}.pwconv1"), true, device),
                    gamma: to_device(w, &format!("{b}.grn.gamma"), device),
                    beta: to_device(w, &format!("{b}.grn.beta"), device),
                    pwconv2: linear(w, &format!("{b}.pwconv2"), true, device),
                }
            })
            .collect();
        let rms = |name: String| RmsNorm {
            g: to_device(w, &name, device),
            scale: (d as f64).sqrt(),
        };
        let layers = (0..config.depth)
            .map(|l| {
                let b = t(&format!("layers.{l}"));
                Layer {
                    skip_proj: (config.skip == SkipConnect::Concat && l >= config.depth / 2)
                        .then(|| linear(w, &format!("{b}.0"), false, device)),
                    attn_norm: rms(format!("{b}.1.g")),
                    to_q: linear(w, &format!("{b}.2.to_q"), true, device),
                    to_k: linear(w, &format!("{b}.2.to_k"), true, device),
                    to_v: linear(w, &format!("{b}.2.to_v"), true, device),
                    to_out: linear(w, &format!("{b}.2.to_out.0"), true, device),
                    ff_norm: rms(format!("{b}.3.g")),
                    ff_in: linear(w, &format!("{b}.4.ff.0.0"), true, device),
                    ff_out: linear(w, &format!("{b}.4.ff.2"), true, device),
                }
            })
            .collect();
        UNetT {
            config: config.clone(),
            time_mlp0: linear(w, &t("time_embed.time_mlp.0"), true, device),
            time_mlp2: linear(w, &t("time_embed.time_mlp.2"), true, device),
            text_embed: to_device(w, &t("text_embed.text_embed.weight"), device),
            text_blocks,
            input_proj: linear(w, &t("input_embed.proj"), true, device),
            conv_pos: [0, 2].map(|i| {
                Conv1d::load(
                    w,
                    &t(&format!("input_embed.conv_pos_embed.conv1d.{i}")),
                    15,
                    16,
                    device,
                )
            }),
            inv_freq: w[&t("rotary_embed.inv_freq")].1.clone(),
            layers,
            norm_out: rms(t("norm_out.g")),
            proj_out: linear(w, &t("proj_out"), true, device),
        }
    }

    /// `TimestepEmbedding(time)`: `[b] → [b, 1, D]`.
    pub fn time_embed(&self, time: &[f32], device: &B::Device) -> Tensor<B, 3> {
        let b = time.len();
        let e = Tensor::<B, 3>::from_data(
            TensorData::new(sinus_time_embedding(time), [b, 1, 256]),
            device,
        );
        self.time_mlp2.forward(silu(self.time_mlp0.forward(e)))
    }

    /// `TextEmbedding(text, n, drop_text)` with `drop_text` per row: `[b, nt]` ids (−1 padded)
    /// → `[b, n, Td]`.
    pub fn text_embed(
        &self,
        text: &[Vec<i64>],
        n: usize,
        drop_text: &[bool],
        device: &B::Device,
    ) -> Tensor<B, 3> {
        let b = text.len();
        let mut ids = vec![0i64; b * n];
        for (r, row) in text.iter().enumerate() {
            if drop_text[r] {
                continue;
            }
            for (p, &id) in row.iter().take(n).enumerate() {
                ids[r * n + p] = id + 1;
            }
        }
        let td = self.config.text_dim;
        let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(ids, [b * n]), device);
        let mut e = self.text_embed.clone().select(0, idx).reshape([b, n, td]);
        if !self.text_blocks.is_empty() {
            let f = Tensor::<B, 3>::from_data(
                TensorData::new(text_freqs_cis(td, n), [1, n, td]),
                device,
            );
            e = e + f;
            for blk in &self.text_blocks {
                e = blk.forward(e);
            }
        }
        e
    }

    /// Rotary tables for positions `0..len`: cos and sin `[1, len, dh]`, each angle duplicated
    /// into its interleaved pair.
    fn rotary(&self, len: usize, device: &B::Device) -> (Tensor<B, 3>, Tensor<B, 3>) {
        let dh = self.inv_freq.len() * 2;
        let mut cos = Vec::with_capacity(len * dh);
        let mut sin = Vec::with_capacity(len * dh);
        for p in 0..len {
            for &f in &self.inv_freq {
                let a = p as f32 * f;
                cos.extend([a.cos(); 2]);
                sin.extend([a.sin(); 2]);
            }
        }
        (
            Tensor::from_data(TensorData::new(cos, [1, len, dh]), device),
            Tensor::from_data(TensorData::new(sin, [1, len, dh]), device),
        )
    }

    /// Self-attention of one layer, `[b, n+1, D] → [b, n+1, D]`; `key_bias` is `[b, 1, 1, n+1]`
    /// (0 or −∞) and `row_keep` `[b, n+1, 1]` (1 or 0) when a mask is given.
    fn attention(
        &self,
        layer: &Layer<B>,
        x: Tensor<B, 3>,
        rope: &(Tensor<B, 3>, Tensor<B, 3>),
        mask: Option<&(Tensor<B, 4>, Tensor<B, 3>)>,
    ) -> Tensor<B, 3> {
        let [b, n, _] = x.dims();
        let (h, dh) = (self.config.heads, self.config.dim_head);
        let rot = |t: Tensor<B, 3>| -> Tensor<B, 3> {
            // Only the first `dh` channels (head 0) are rotated, pairs interleaved.
            let rd = rope.0.dims()[2];
            let total = t.dims()[2];
            let head = t.clone().narrow(2, 0, rd);
            let pairs = head.clone().reshape([b, n, rd / 2, 2]);
            let x1 = pairs.clone().narrow(3, 0, 1);
            let x2 = pairs.narrow(3, 1, 1);
            let rotated = Tensor::cat(vec![x2.neg(), x1], 3).reshape([b, n, rd]);
            let head = head * rope.0.clone() + rotated * rope.1.clone();
            if total > rd {
                Tensor::cat(vec![head, t.narrow(2, rd, total - rd)], 2)
            } else {
                head
            }
        };
        let q = rot(layer.to_q.forward(x.clone()));
        let k = rot(layer.to_k.forward(x.clone()));
        let v = layer.to_v.forward(x);
        let split = |t: Tensor<B, 3>| t.reshape([b, n, h, dh]).swap_dims(1, 2);
        let (q, k, v) = (split(q), split(k), split(v));
        let scale = 1.0 / (dh as f64).sqrt();
        // Explicit scores: on the CPU backend this beats burn's fused (flash) attention for
        // these shapes (measured in bench/tts.sh: 8 s vs 11.5 s per text).
        let mut scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale);
        if let Some((bias, _)) = mask {
            scores = scores + bias.clone();
        }
        let o = softmax(scores, 3).matmul(v);
        let o = o.swap_dims(1, 2).reshape([b, n, h * dh]);
        let o = layer.to_out.forward(o);
        match mask {
            Some((_, keep)) => o * keep.clone(),
            None => o,
        }
    }

    /// `UNetT(x, cond, text, time, drop_audio_cond, drop_text, mask)`:
    /// `x`, `cond` `[b, n, M]`; `text` rows of ids (−1 padded); `time` one value per row;
    /// `mask` `[b][n]` or None → `[b, n, M]`.
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        cond: Tensor<B, 3>,
        text: &[Vec<i64>],
        time: &[f32],
        drop: Drop,
        mask: Option<&[Vec<bool>]>,
    ) -> Tensor<B, 3> {
        let b = x.dims()[0];
        self.forward_rows(x, cond, text, time, &vec![drop; b], mask)
    }

    /// [`UNetT::forward`] with the CFG flags per row, so that the conditional and the null
    /// branch run as one batch (every operation is row-independent: no row sees another).
    pub fn forward_rows(
        &self,
        x: Tensor<B, 3>,
        cond: Tensor<B, 3>,
        text: &[Vec<i64>],
        time: &[f32],
        drops: &[Drop],
        mask: Option<&[Vec<bool>]>,
    ) -> Tensor<B, 3> {
        let device = x.device();
        let [b, n, _] = x.dims();
        let t = self.time_embed(time, &device);
        let drop_text: Vec<bool> = drops.iter().map(|d| d.text).collect();
        let e = self.text_embed(text, n, &drop_text, &device);
        let cond = if drops.iter().all(|d| !d.audio_cond) {
            cond
        } else {
            let keep: Vec<f32> = drops
                .iter()
                .map(|d| if d.audio_cond { 0.0 } else { 1.0 })
                .collect();
            cond * Tensor::<B, 3>::from_data(TensorData::new(keep, [b, 1, 1]), &device)
        };
        let h = self.input_proj.forward(Tensor::cat(vec![x, cond, e], 2));
        let mut p = h.clone().swap_dims(1, 2);
        for c in &self.conv_pos {
            p = mish(c.forward(p));
        }
        let h = p.swap_dims(1, 2) + h;
        let mut h = Tensor::cat(vec![t, h], 1);
        let mask = mask.map(|m| {
            let mut bias = Vec::with_capacity(b * (n + 1));
            let mut keep = Vec::with_capacity(b * (n + 1));
            for row in m {
                for p in 0..=n {
                    let on = p == 0 || row.get(p - 1).copied().unwrap_or(false);
                    bias.push(if on { 0.0f32 } else { f32::NEG_INFINITY });
                    keep.push(if on { 1.0f32 } else { 0.0 });
                }
            }
            (
                Tensor::<B, 4>::from_data(TensorData::new(bias, [b, 1, 1, n + 1]), &device),
                Tensor::<B, 3>::from_data(TensorData::new(keep, [b, n + 1, 1]), &device),
            )
        });
        let rope = self.rotary(n + 1, &device);
        let mut skips = Vec::new();
        let half = self.config.depth / 2;
        for (i, layer) in self.layers.iter().enumerate() {
            if i < half {
                skips.push(h.clone());
            } else {
                let s = skips.pop().expect("one skip per first-half layer");
                h = match (&self.config.skip, &layer.skip_proj) {
                    (SkipConnect::Concat, Some(proj)) => proj.forward(Tensor::cat(vec![h, s], 2)),
                    (SkipConnect::Add, _) => h + s,
                    _ => h,
                };
            }
            h = self.attention(
                layer,
                layer.attn_norm.forward(h.clone()),
                &rope,
                mask.as_ref(),
            ) + h;
            h = layer.ff_out.forward(gelu_tanh(
                layer.ff_in.forward(layer.ff_norm.forward(h.clone())),
            )) + h;
        }
        let h = self.norm_out.forward(h);
        let d = h.dims()[2];
        self.proj_out.forward(h.narrow(1, 1, n).reshape([b, n, d]))
    }
}
