//! Whisper (`WhisperForConditionalGeneration`, transformers 4.44.1) in burn, with the Hub's
//! parameter names (`model.encoder.layers.3.self_attn.q_proj.weight`, …): a convolutional front
//! end and pre-LayerNorm transformer encoder over 3000 log-mel frames, and a decoder with
//! self-attention (cached keys/values), cross-attention on the encoder output and the output
//! projection tied to the token embedding. Evaluation only (no autodiff), float32.
//!
//! Shapes: `M` mel bins, `D` d_model, `H` heads, `dh = D / H`, `S` encoder positions (1500),
//! `t` decoder tokens, `V` vocabulary.

use std::path::{Path, PathBuf};

use anyhow::Result;
use burn::prelude::*;
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::module::conv1d;
use burn::tensor::ops::ConvOptions;
use serde_json::Value;

use crate::error::user;
use crate::model::llama::Linear;
use crate::model::safetensors::{Dtype, SafeFile};
use crate::tts::unett::{HostWeights, LayerNorm, linear, to_device};

/// Encoder input frames of one segment (`2 · max_source_positions`).
pub const SEGMENT_FRAMES: usize = 3000;

/// The `config.json` keys the network needs.
#[derive(Debug, Clone, PartialEq)]
pub struct WhisperConfig {
    pub d_model: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    pub encoder_attention_heads: usize,
    pub decoder_attention_heads: usize,
    pub encoder_ffn_dim: usize,
    pub decoder_ffn_dim: usize,
    pub vocab_size: usize,
    pub num_mel_bins: usize,
    pub max_source_positions: usize,
    pub max_target_positions: usize,
    /// Token embeddings × √D (`scale_embedding`; false for every OpenAI checkpoint).
    pub scale_embedding: bool,
}

impl WhisperConfig {
    /// Parses a Whisper `config.json`.
    pub fn from_json(v: &Value, what: &str) -> Result<Self> {
        let num = |k: &str| -> Result<usize> {
            v.get(k)
                .and_then(|x| x.as_u64())
                .filter(|&n| n > 0 && n < (1 << 24))
                .map(|n| n as usize)
                .ok_or_else(|| {
                    user(format!(
                        "{what}: `{k}` is missing or not a positive integer (is this a Whisper config.json?)"
                    ))
                })
        };
        match v.get("model_type").and_then(|m| m.as_str()) {
            Some("whisper") => {}
            other => {
                return Err(user(format!(
                    "{what}: model_type is {other:?}, not \"whisper\"; give a Whisper checkpoint (`sn9 hub pull openai/whisper-large-v2`)"
                )));
            }
        }
        if let Some(act) = v.get("activation_function").and_then(|a| a.as_str())
            && act != "gelu"
        {
            return Err(user(format!(
                "{what}: activation_function {act:?} is not supported (Whisper uses \"gelu\")"
            )));
        }
        let c = WhisperConfig {
            d_model: num("d_model")?,
            encoder_layers: num("encoder_layers")?,
            decoder_layers: num("decoder_layers")?,
            encoder_attention_heads: num("encoder_attention_heads")?,
            decoder_attention_heads: num("decoder_attention_heads")?,
            encoder_ffn_dim: num("encoder_ffn_dim")?,
            decoder_ffn_dim: num("decoder_ffn_dim")?,
            vocab_size: num("vocab_size")?,
            num_mel_bins: num("num_mel_bins")?,
            max_source_positions: num("max_source_positions")?,
            max_target_positions: num("max_target_positions")?,
            scale_embedding: v
                .get("scale_embedding")
                .and_then(|s| s.as_bool())
                .unwrap_or(false),
        };
        for (h, k) in [
            (c.encoder_attention_heads, "encoder_attention_heads"),
            (c.decoder_attention_heads, "decoder_attention_heads"),
        ] {
            if !c.d_model.is_multiple_of(h) {
                return Err(user(format!(
                    "{what}: d_model {} is not divisible by {k} {h}",
                    c.d_model
                )));
            }
        }
        if c.max_source_positions * 2 != SEGMENT_FRAMES {
            return Err(user(format!(
                "{what}: max_source_positions is {}; the feature extractor makes 30 s segments of {SEGMENT_FRAMES} frames, which need 1500",
                c.max_source_positions
            )));
        }
        Ok(c)
    }

    pub fn from_file(path: &Path) -> Result<Self> {
        let text = crate::output::read_text(path, crate::output::Limit::ModelJson)?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| user(format!("{}: not valid JSON ({e})", path.display())))?;
        Self::from_json(&v, &path.display().to_string())
    }

    /// Every parameter the checkpoint must hold, with its shape (without the `model.` prefix;
    /// `proj_out.weight` is tied to the token embedding and not listed).
    pub fn state_dict_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let d = self.d_model;
        let mut v: Vec<(String, Vec<usize>)> = vec![
            ("encoder.conv1.weight".into(), vec![d, self.num_mel_bins, 3]),
            ("encoder.conv1.bias".into(), vec![d]),
            ("encoder.conv2.weight".into(), vec![d, d, 3]),
            ("encoder.conv2.bias".into(), vec![d]),
            (
                "encoder.embed_positions.weight".into(),
                vec![self.max_source_positions, d],
            ),
            ("encoder.layer_norm.weight".into(), vec![d]),
            ("encoder.layer_norm.bias".into(), vec![d]),
            (
                "decoder.embed_tokens.weight".into(),
                vec![self.vocab_size, d],
            ),
            (
                "decoder.embed_positions.weight".into(),
                vec![self.max_target_positions, d],
            ),
            ("decoder.layer_norm.weight".into(), vec![d]),
            ("decoder.layer_norm.bias".into(), vec![d]),
        ];
        let attn = |v: &mut Vec<(String, Vec<usize>)>, p: &str| {
            for m in ["q_proj", "k_proj", "v_proj", "out_proj"] {
                v.push((format!("{p}.{m}.weight"), vec![d, d]));
                if m != "k_proj" {
                    v.push((format!("{p}.{m}.bias"), vec![d]));
                }
            }
        };
        let norm = |v: &mut Vec<(String, Vec<usize>)>, p: &str| {
            v.push((format!("{p}.weight"), vec![d]));
            v.push((format!("{p}.bias"), vec![d]));
        };
        for (side, n, ffn) in [
            ("encoder", self.encoder_layers, self.encoder_ffn_dim),
            ("decoder", self.decoder_layers, self.decoder_ffn_dim),
        ] {
            for i in 0..n {
                let p = format!("{side}.layers.{i}");
                attn(&mut v, &format!("{p}.self_attn"));
                norm(&mut v, &format!("{p}.self_attn_layer_norm"));
                if side == "decoder" {
                    attn(&mut v, &format!("{p}.encoder_attn"));
                    norm(&mut v, &format!("{p}.encoder_attn_layer_norm"));
                }
                v.push((format!("{p}.fc1.weight"), vec![ffn, d]));
                v.push((format!("{p}.fc1.bias"), vec![ffn]));
                v.push((format!("{p}.fc2.weight"), vec![d, ffn]));
                v.push((format!("{p}.fc2.bias"), vec![d]));
                norm(&mut v, &format!("{p}.final_layer_norm"));
            }
        }
        v
    }
}

/// Reads `model.safetensors` of a Whisper directory: every expected tensor (stored with or
/// without the `model.` prefix, any float dtype), an optional `proj_out.weight` that must equal
/// the tied embedding's shape, nothing else.
fn load_weights(dir: &Path, cfg: &WhisperConfig) -> Result<HostWeights> {
    let path = dir.join("model.safetensors");
    if !path.is_file() {
        return Err(user(format!(
            "{}: no model.safetensors; fetch the ASR model with `sn9 hub pull openai/whisper-large-v2`",
            dir.display()
        )));
    }
    let file = SafeFile::open(&path)?;
    let expected = cfg.state_dict_shapes();
    let mut w = HostWeights::new();
    let mut missing = Vec::new();
    for (name, shape) in &expected {
        let stored = [format!("model.{name}"), name.clone()]
            .into_iter()
            .find(|k| file.tensors.contains_key(k));
        let Some(key) = stored else {
            missing.push(name.clone());
            continue;
        };
        let info = &file.tensors[&key];
        if &info.shape != shape {
            return Err(user(format!(
                "{}: tensor {key} has shape {:?}, config.json implies {shape:?}",
                path.display(),
                info.shape
            )));
        }
        if !matches!(
            info.dtype,
            Dtype::F32 | Dtype::F16 | Dtype::BF16 | Dtype::F64
        ) {
            return Err(user(format!(
                "{}: tensor {key} is {}, not a float",
                path.display(),
                info.dtype.name()
            )));
        }
        w.insert(name.clone(), (shape.clone(), file.read_f32(&key)?));
    }
    let unexpected: Vec<&String> = file
        .tensors
        .keys()
        .filter(|k| {
            let bare = k.strip_prefix("model.").unwrap_or(k);
            *k != "proj_out.weight" && !expected.iter().any(|(n, _)| n == bare)
        })
        .collect();
    if !missing.is_empty() || !unexpected.is_empty() {
        return Err(user(format!(
            "{}: the weights do not match config.json: missing {:?}, unexpected {:?}",
            path.display(),
            &missing[..missing.len().min(5)],
            &unexpected[..unexpected.len().min(5)]
        )));
    }
    // transformers ties proj_out to the embedding (`tie_word_embeddings`), whatever is stored;
    // a stored copy must at least have its shape.
    if let Some(info) = file.tensors.get("proj_out.weight")
        && info.shape != [cfg.vocab_size, cfg.d_model]
    {
        return Err(user(format!(
            "{}: proj_out.weight has shape {:?}, expected [{}, {}]",
            path.display(),
            info.shape,
            cfg.vocab_size,
            cfg.d_model
        )));
    }
    Ok(w)
}

/// `WhisperAttention`: q/v/out projections with bias, k without; scores scaled by `dh^-½`.
pub struct Attention<B: Backend> {
    pub q: Linear<B>,
    pub k: Linear<B>,
    pub v: Linear<B>,
    pub out: Linear<B>,
    pub heads: usize,
}

impl<B: Backend> Attention<B> {
    fn load(w: &HostWeights, p: &str, heads: usize, device: &B::Device) -> Self {
        Attention {
            q: linear(w, &format!("{p}.q_proj"), true, device),
            k: linear(w, &format!("{p}.k_proj"), false, device),
            v: linear(w, &format!("{p}.v_proj"), true, device),
            out: linear(w, &format!("{p}.out_proj"), true, device),
            heads,
        }
    }

    /// `[1, n, D] → [1, H, n, dh]`.
    fn split(&self, x: Tensor<B, 3>) -> Tensor<B, 4> {
        let [b, n, d] = x.dims();
        x.reshape([b, n, self.heads, d / self.heads])
            .swap_dims(1, 2)
    }

    /// Keys and values of `x` (`[1, n, D]`), each `[1, H, n, dh]`.
    fn kv(&self, x: Tensor<B, 3>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        (
            self.split(self.k.forward(x.clone())),
            self.split(self.v.forward(x)),
        )
    }

    /// Attention of queries from `x` (`[1, t, D]`) over `k`, `v` (`[1, H, s, dh]`), with an
    /// additive mask `[t, s]`; `[1, t, D]`.
    fn attend(
        &self,
        x: Tensor<B, 3>,
        k: Tensor<B, 4>,
        v: Tensor<B, 4>,
        mask: Option<Tensor<B, 2>>,
    ) -> Tensor<B, 3> {
        let [b, t, d] = x.dims();
        let dh = d / self.heads;
        let q = self.split(self.q.forward(x));
        let mut s = q
            .matmul(k.swap_dims(2, 3))
            .mul_scalar(1.0 / (dh as f64).sqrt());
        if let Some(m) = mask {
            s = s + m.unsqueeze_dim::<3>(0).unsqueeze_dim::<4>(0);
        }
        let o = softmax(s, 3).matmul(v);
        self.out.forward(o.swap_dims(1, 2).reshape([b, t, d]))
    }
}

/// A pre-LayerNorm layer: self-attention, (decoder) cross-attention, GELU feed-forward.
pub struct Layer<B: Backend> {
    pub self_attn: Attention<B>,
    pub self_attn_norm: LayerNorm<B>,
    pub cross: Option<(Attention<B>, LayerNorm<B>)>,
    pub fc1: Linear<B>,
    pub fc2: Linear<B>,
    pub final_norm: LayerNorm<B>,
}

impl<B: Backend> Layer<B> {
    fn load(w: &HostWeights, p: &str, heads: usize, cross: bool, device: &B::Device) -> Self {
        Layer {
            self_attn: Attention::load(w, &format!("{p}.self_attn"), heads, device),
            self_attn_norm: LayerNorm::load(w, &format!("{p}.self_attn_layer_norm"), 1e-5, device),
            cross: cross.then(|| {
                (
                    Attention::load(w, &format!("{p}.encoder_attn"), heads, device),
                    LayerNorm::load(w, &format!("{p}.encoder_attn_layer_norm"), 1e-5, device),
                )
            }),
            fc1: linear(w, &format!("{p}.fc1"), true, device),
            fc2: linear(w, &format!("{p}.fc2"), true, device),
            final_norm: LayerNorm::load(w, &format!("{p}.final_layer_norm"), 1e-5, device),
        }
    }

    fn feed_forward(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
        let y = self
            .fc2
            .forward(gelu(self.fc1.forward(self.final_norm.forward(h.clone()))));
        h + y
    }
}

/// Keys/values a decoder keeps while generating one segment.
pub struct DecoderCache<B: Backend> {
    /// Per layer: cross-attention keys and values of the encoder output, `[1, H, S, dh]`.
    cross: Vec<(Tensor<B, 4>, Tensor<B, 4>)>,
    /// Per layer: self-attention keys and values of the tokens fed so far, `[1, H, t, dh]`.
    past: Vec<(Tensor<B, 4>, Tensor<B, 4>)>,
    /// The tokens fed so far.
    pub tokens: Vec<u32>,
}

/// The network with its weights on a device.
pub struct Whisper<B: Backend> {
    pub dir: PathBuf,
    pub config: WhisperConfig,
    conv1: (Tensor<B, 3>, Tensor<B, 1>),
    conv2: (Tensor<B, 3>, Tensor<B, 1>),
    /// `[S, D]`.
    enc_pos: Tensor<B, 2>,
    enc_layers: Vec<Layer<B>>,
    enc_norm: LayerNorm<B>,
    /// `[V, D]`, also the output projection.
    embed_tokens: Tensor<B, 2>,
    /// `[448, D]`.
    dec_pos: Tensor<B, 2>,
    dec_layers: Vec<Layer<B>>,
    dec_norm: LayerNorm<B>,
    device: B::Device,
}

impl<B: Backend> Whisper<B> {
    /// `WhisperForConditionalGeneration.from_pretrained(dir)` in float32: `config.json` and
    /// `model.safetensors`.
    pub fn load(dir: &Path, device: &B::Device) -> Result<Self> {
        let config = WhisperConfig::from_file(&dir.join("config.json"))?;
        let w = load_weights(dir, &config)?;
        let layers = |side: &str, n: usize, heads: usize, cross: bool| -> Vec<Layer<B>> {
            (0..n)
                .map(|i| Layer::load(&w, &format!("{side}.layers.{i}"), heads, cross, device))
                .collect()
        };
        let conv = |name: &str| {
            (
                to_device::<B, 3>(&w, &format!("{name}.weight"), device),
                to_device::<B, 1>(&w, &format!("{name}.bias"), device),
            )
        };
        Ok(Whisper {
            dir: dir.to_path_buf(),
            conv1: conv("encoder.conv1"),
            conv2: conv("encoder.conv2"),
            enc_pos: to_device(&w, "encoder.embed_positions.weight", device),
            enc_layers: layers(
                "encoder",
                config.encoder_layers,
                config.encoder_attention_heads,
                false,
            ),
            enc_norm: LayerNorm::load(&w, "encoder.layer_norm", 1e-5, device),
            embed_tokens: to_device(&w, "decoder.embed_tokens.weight", device),
            dec_pos: to_device(&w, "decoder.embed_positions.weight", device),
            dec_layers: layers(
                "decoder",
                config.decoder_layers,
                config.decoder_attention_heads,
                true,
            ),
            dec_norm: LayerNorm::load(&w, "decoder.layer_norm", 1e-5, device),
            config,
            device: device.clone(),
        })
    }

    /// The encoder on one segment of log-mel features `[M, 3000]` (row-major host values):
    /// `[1, S, D]`.
    pub fn encode(&self, features: &[f32]) -> Result<Tensor<B, 3>> {
        let m = self.config.num_mel_bins;
        if features.len() != m * SEGMENT_FRAMES {
            anyhow::bail!(
                "Whisper expects {m}×{SEGMENT_FRAMES} input features, got {} values",
                features.len()
            );
        }
        let x = Tensor::<B, 1>::from_data(
            TensorData::new(features.to_vec(), [features.len()]),
            &self.device,
        )
        .reshape([1, m, SEGMENT_FRAMES]);
        let x = gelu(conv1d(
            x,
            self.conv1.0.clone(),
            Some(self.conv1.1.clone()),
            ConvOptions::new([1], [1], [1], 1),
        ));
        let x = gelu(conv1d(
            x,
            self.conv2.0.clone(),
            Some(self.conv2.1.clone()),
            ConvOptions::new([2], [1], [1], 1),
        ));
        let mut h = x.swap_dims(1, 2) + self.enc_pos.clone().unsqueeze_dim::<3>(0);
        for l in &self.enc_layers {
            let a = l.self_attn_norm.forward(h.clone());
            let (k, v) = l.self_attn.kv(a.clone());
            h = h + l.self_attn.attend(a, k, v, None);
            h = l.feed_forward(h);
        }
        Ok(self.enc_norm.forward(h))
    }

    /// A fresh decoder cache for an encoder output `[1, S, D]`.
    pub fn cache(&self, encoded: Tensor<B, 3>) -> DecoderCache<B> {
        DecoderCache {
            cross: self
                .dec_layers
                .iter()
                .map(|l| {
                    l.cross
                        .as_ref()
                        .expect("decoder layer")
                        .0
                        .kv(encoded.clone())
                })
                .collect(),
            past: Vec::new(),
            tokens: Vec::new(),
        }
    }

    /// Feeds `tokens` after those already in `cache` and returns the logits of the last
    /// position, `[V]` on the host.
    pub fn step(&self, cache: &mut DecoderCache<B>, tokens: &[u32]) -> Result<Vec<f32>> {
        let past = cache.tokens.len();
        let t = tokens.len();
        if t == 0 {
            anyhow::bail!("no tokens to feed the decoder");
        }
        if past + t > self.config.max_target_positions {
            anyhow::bail!(
                "the decoder holds at most {} positions",
                self.config.max_target_positions
            );
        }
        let v = self.config.vocab_size as u32;
        if let Some(bad) = tokens.iter().find(|&&x| x >= v) {
            anyhow::bail!("token id {bad} is outside the vocabulary of {v}");
        }
        let d = self.config.d_model;
        let ids = Tensor::<B, 1, Int>::from_data(
            TensorData::new(tokens.iter().map(|&x| x as i32).collect::<Vec<_>>(), [t]),
            &self.device,
        );
        let mut h = self.embed_tokens.clone().select(0, ids);
        if self.config.scale_embedding {
            h = h.mul_scalar((d as f64).sqrt());
        }
        let h = h + self.dec_pos.clone().slice([past..past + t, 0..d]);
        let mut h: Tensor<B, 3> = h.unsqueeze_dim(0);
        // Causal mask of the new tokens over past + new positions.
        let mask = (t > 1).then(|| {
            let mut m = vec![0f32; t * (past + t)];
            for i in 0..t {
                for j in past + i + 1..past + t {
                    m[i * (past + t) + j] = f32::NEG_INFINITY;
                }
            }
            Tensor::<B, 1>::from_data(TensorData::new(m, [t * (past + t)]), &self.device)
                .reshape([t, past + t])
        });
        for (i, l) in self.dec_layers.iter().enumerate() {
            let a = l.self_attn_norm.forward(h.clone());
            let (k, vv) = l.self_attn.kv(a.clone());
            let (k, vv) = match cache.past.get(i) {
                Some((pk, pv)) => (
                    Tensor::cat(vec![pk.clone(), k], 2),
                    Tensor::cat(vec![pv.clone(), vv], 2),
                ),
                None => (k, vv),
            };
            h = h + l.self_attn.attend(a, k.clone(), vv.clone(), mask.clone());
            if i < cache.past.len() {
                cache.past[i] = (k, vv);
            } else {
                cache.past.push((k, vv));
            }
            let (cross, norm) = l.cross.as_ref().expect("decoder layer");
            let (ck, cv) = cache.cross[i].clone();
            let c = cross.attend(norm.forward(h.clone()), ck, cv, None);
            h = h + c;
            h = l.feed_forward(h);
        }
        cache.tokens.extend_from_slice(tokens);
        let last = self
            .dec_norm
            .forward(h.slice([0..1, t - 1..t, 0..d]))
            .reshape([1, d]);
        let logits = last.matmul(self.embed_tokens.clone().transpose());
        logits
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("{e:?}"))
    }
}

/// A [`Whisper`] with its current segment's cache: feeds only the tokens a call adds to the
/// previous call's sequence (recomputing from scratch when the prefix changes).
pub struct Session<'a, B: Backend> {
    pub model: &'a Whisper<B>,
    encoded: Option<Tensor<B, 3>>,
    cache: Option<DecoderCache<B>>,
}

impl<'a, B: Backend> Session<'a, B> {
    pub fn new(model: &'a Whisper<B>) -> Self {
        Session {
            model,
            encoded: None,
            cache: None,
        }
    }

    /// Encodes one `[M, 3000]` segment; later [`Session::logits`] calls attend to it.
    pub fn encode(&mut self, segment: &[f32]) -> Result<()> {
        self.encoded = Some(self.model.encode(segment)?);
        self.cache = None;
        Ok(())
    }

    /// The encoder output of the current segment, `[1, S, D]`.
    pub fn encoded(&self) -> Option<&Tensor<B, 3>> {
        self.encoded.as_ref()
    }

    /// Raw logits `[V]` of the last position of `tokens`.
    pub fn logits(&mut self, tokens: &[u32]) -> Result<Vec<f32>> {
        let enc = self
            .encoded
            .clone()
            .ok_or_else(|| anyhow::anyhow!("no segment encoded yet"))?;
        let reuse = self
            .cache
            .as_ref()
            .is_some_and(|c| c.tokens.len() < tokens.len() && tokens.starts_with(&c.tokens));
        if !reuse {
            self.cache = Some(self.model.cache(enc));
        }
        let cache = self.cache.as_mut().expect("set above");
        let new = tokens[cache.tokens.len()..].to_vec();
        self.model.step(cache, &new)
    }
}
