//! An E2TTS model directory's `config.json`, read as taoverse 2.0.2 reads it
//! (`E2TTS.from_pretrained` → `MelSpec(**mel_spectrogram)`, `UNetT(**backbone)`,
//! `odeint(**odeint)`, `config["sampling"][…]`), with the reference's defaults and failures.

use std::path::Path;

use anyhow::Result;
use serde_json::{Map, Value};

use super::audio::{MelConfig, MelType};
use crate::error::user;

/// How the skip connections of the flat U-Net join (`skip_connect_type`). Any string other than
/// `"concat"` and `"add"` behaves as `"none"` in the reference (its `Literal` is not enforced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipConnect {
    Concat,
    Add,
    None,
}

/// `UNetT(**backbone, mel_dim = n_mel_channels, text_num_embeds = vocab size)`.
#[derive(Debug, Clone, PartialEq)]
pub struct BackboneConfig {
    /// `D`.
    pub dim: usize,
    /// `L` (even).
    pub depth: usize,
    pub heads: usize,
    pub dim_head: usize,
    /// `int(D · ff_mult)` is the feed-forward width.
    pub ff_mult: f64,
    /// `M`, injected from `mel_spectrogram.n_mel_channels`.
    pub mel_dim: usize,
    /// `Td` (`text_dim`, default `mel_dim`).
    pub text_dim: usize,
    /// ConvNeXtV2 blocks of the text embedding.
    pub conv_layers: usize,
    pub skip: SkipConnect,
    /// `V`: distinct entries of vocab.txt (the embedding has `V + 1` rows).
    pub text_num_embeds: usize,
}

impl BackboneConfig {
    /// The feed-forward width `int(D · ff_mult)`.
    pub fn ff_inner(&self) -> usize {
        (self.dim as f64 * self.ff_mult) as usize
    }

    /// Every parameter (and the persistent `inv_freq` buffer) of `CFM.state_dict()`, with shape,
    /// in the module's registration order.
    pub fn state_dict_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let (d, m, td, inner) = (
            self.dim,
            self.mel_dim,
            self.text_dim,
            self.heads * self.dim_head,
        );
        let fi = self.ff_inner();
        let mut v: Vec<(String, Vec<usize>)> = Vec::new();
        let mut p =
            |name: String, shape: Vec<usize>| v.push((format!("transformer.{name}"), shape));
        p("time_embed.time_mlp.0.weight".into(), vec![d, 256]);
        p("time_embed.time_mlp.0.bias".into(), vec![d]);
        p("time_embed.time_mlp.2.weight".into(), vec![d, d]);
        p("time_embed.time_mlp.2.bias".into(), vec![d]);
        p(
            "text_embed.text_embed.weight".into(),
            vec![self.text_num_embeds + 1, td],
        );
        for c in 0..self.conv_layers {
            let b = format!("text_embed.text_blocks.{c}");
            p(format!("{b}.dwconv.weight"), vec![td, 1, 7]);
            p(format!("{b}.dwconv.bias"), vec![td]);
            p(format!("{b}.norm.weight"), vec![td]);
            p(format!("{b}.norm.bias"), vec![td]);
            p(format!("{b}.pwconv1.weight"), vec![2 * td, td]);
            p(format!("{b}.pwconv1.bias"), vec![2 * td]);
            p(format!("{b}.grn.gamma"), vec![1, 1, 2 * td]);
            p(format!("{b}.grn.beta"), vec![1, 1, 2 * td]);
            p(format!("{b}.pwconv2.weight"), vec![td, 2 * td]);
            p(format!("{b}.pwconv2.bias"), vec![td]);
        }
        p("input_embed.proj.weight".into(), vec![d, 2 * m + td]);
        p("input_embed.proj.bias".into(), vec![d]);
        for i in [0, 2] {
            p(
                format!("input_embed.conv_pos_embed.conv1d.{i}.weight"),
                vec![d, d / 16, 31],
            );
            p(
                format!("input_embed.conv_pos_embed.conv1d.{i}.bias"),
                vec![d],
            );
        }
        p("rotary_embed.inv_freq".into(), vec![self.dim_head / 2]);
        for l in 0..self.depth {
            let b = format!("layers.{l}");
            if self.skip == SkipConnect::Concat && l >= self.depth / 2 {
                p(format!("{b}.0.weight"), vec![d, 2 * d]);
            }
            p(format!("{b}.1.g"), vec![d]);
            for q in ["to_q", "to_k", "to_v"] {
                p(format!("{b}.2.{q}.weight"), vec![inner, d]);
                p(format!("{b}.2.{q}.bias"), vec![inner]);
            }
            p(format!("{b}.2.to_out.0.weight"), vec![d, inner]);
            p(format!("{b}.2.to_out.0.bias"), vec![d]);
            p(format!("{b}.3.g"), vec![d]);
            p(format!("{b}.4.ff.0.0.weight"), vec![fi, d]);
            p(format!("{b}.4.ff.0.0.bias"), vec![fi]);
            p(format!("{b}.4.ff.2.weight"), vec![d, fi]);
            p(format!("{b}.4.ff.2.bias"), vec![d]);
        }
        p("norm_out.g".into(), vec![d]);
        p("proj_out.weight".into(), vec![m, d]);
        p("proj_out.bias".into(), vec![m]);
        v
    }

    /// The competition's count: `sum(p.numel() for p in E2TTS.parameters())`, i.e. every UNetT
    /// parameter (buffers such as `inv_freq` excluded).
    pub fn parameter_count(&self) -> u64 {
        self.state_dict_shapes()
            .iter()
            .filter(|(n, _)| !n.ends_with("inv_freq"))
            .map(|(_, s)| s.iter().product::<usize>() as u64)
            .sum()
    }
}

/// The fixed-grid ODE solvers of torchdiffeq the sampler supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OdeMethod {
    Euler,
    Midpoint,
    /// torchdiffeq's `rk4`: the 3/8 rule.
    Rk4,
}

/// `config["sampling"]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingConfig {
    pub nfe_step: usize,
    pub cfg_strength: f64,
    pub sway_sampling_coef: Option<f64>,
    /// `sampling.get("target_rms", 0.1)`: the validator's RMS rule.
    pub target_rms: f64,
}

/// A whole E2TTS `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct E2ttsConfig {
    pub mel: MelConfig,
    pub backbone: BackboneConfig,
    pub method: OdeMethod,
    pub sampling: SamplingConfig,
    /// The file as parsed (written back unchanged by `model init`).
    pub raw: Value,
}

fn section<'a>(
    cfg: &'a Map<String, Value>,
    key: &str,
    path: &Path,
) -> Result<&'a Map<String, Value>> {
    cfg.get(key).and_then(Value::as_object).ok_or_else(|| {
        user(format!(
            "{}: config.json has no \"{key}\" section (an object); the reference fails to load such a model (KeyError)",
            path.display()
        ))
    })
}

fn int_of(v: &Value) -> Option<usize> {
    v.as_u64().map(|x| x as usize)
}

/// True when `config.json` names the E2TTS architecture (`architectures[0].lower() == "e2tts"`).
pub fn is_e2tts(cfg: &Value) -> bool {
    cfg.get("architectures")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .is_some_and(|s| s.to_lowercase() == "e2tts")
}

impl E2ttsConfig {
    /// Reads `DIR/config.json` and checks it against the vocabulary size.
    pub fn from_file(path: &Path, vocab_size: usize) -> Result<Self> {
        let text = crate::output::read_text(path, crate::output::Limit::ModelJson)?;
        let raw: Value = serde_json::from_str(&text)
            .map_err(|e| user(format!("{}: not valid JSON ({e})", path.display())))?;
        Self::from_value(raw, vocab_size, path)
    }

    /// A model directory's `vocab.txt` and `config.json`, as the loader reads them.
    pub fn from_dir(dir: &Path) -> Result<(Self, super::text::Vocab)> {
        let vp = dir.join("vocab.txt");
        if !vp.is_file() {
            return Err(user(format!(
                "{}: no vocab.txt; an E2TTS model directory holds config.json, vocab.txt and model.safetensors",
                dir.display()
            )));
        }
        let vocab = super::text::Vocab::from_file(&vp)?;
        Ok((
            Self::from_file(&dir.join("config.json"), vocab.size())?,
            vocab,
        ))
    }

    /// Parses a config value (`path` names it in errors).
    pub fn from_value(raw: Value, vocab_size: usize, path: &Path) -> Result<Self> {
        let bad = |msg: String| user(format!("{}: {msg}", path.display()));
        let cfg = raw
            .as_object()
            .ok_or_else(|| bad("config.json is not an object".into()))?;
        if !is_e2tts(&raw) {
            return Err(bad(
                "architectures[0] is not \"E2TTS\"; the TTS competition loads only E2TTS models"
                    .into(),
            ));
        }

        // mel_spectrogram → MelSpec(**kwargs): unknown keys raise TypeError.
        let ms = section(cfg, "mel_spectrogram", path)?;
        let mut mel = MelConfig::default();
        for (k, v) in ms {
            let need_int = || {
                int_of(v).filter(|&x| x > 0).ok_or_else(|| {
                    bad(format!(
                        "mel_spectrogram.{k} = {v} is not a positive integer"
                    ))
                })
            };
            match k.as_str() {
                "n_fft" => mel.n_fft = need_int()?,
                "hop_length" => mel.hop_length = need_int()?,
                "win_length" => mel.win_length = need_int()?,
                "n_mel_channels" => mel.n_mel_channels = need_int()?,
                "target_sample_rate" => mel.target_sample_rate = need_int()? as u32,
                "mel_spec_type" => {
                    mel.mel_type = match v.as_str() {
                        Some("vocos") => MelType::Vocos,
                        Some("bigvgan") => MelType::Bigvgan,
                        _ => {
                            return Err(bad(format!(
                                "mel_spectrogram.mel_spec_type = {v}: the reference supports \"vocos\" or \"bigvgan\""
                            )));
                        }
                    }
                }
                other => {
                    return Err(bad(format!(
                        "mel_spectrogram has an unknown key \"{other}\" (MelSpec() would raise TypeError); allowed: n_fft, hop_length, win_length, n_mel_channels, target_sample_rate, mel_spec_type"
                    )));
                }
            }
        }
        if !ms.contains_key("n_mel_channels") {
            // `E2TTS.from_pretrained` reads `mel_spectrogram["n_mel_channels"]` itself.
            return Err(bad(
                "mel_spectrogram has no \"n_mel_channels\" (the reference's loader reads it: KeyError); add \"n_mel_channels\": 100".into(),
            ));
        }
        if mel.win_length > mel.n_fft {
            return Err(bad(format!(
                "mel_spectrogram.win_length {} exceeds n_fft {}",
                mel.win_length, mel.n_fft
            )));
        }

        // backbone → UNetT(**kwargs, text_num_embeds=V).
        let bb = section(cfg, "backbone", path)?;
        let mut dim = None;
        let (mut depth, mut heads, mut dim_head, mut ff_mult) = (10usize, 8usize, 64usize, 4.0f64);
        let (mut text_dim, mut conv_layers, mut skip) = (None, 0usize, SkipConnect::Concat);
        for (k, v) in bb {
            let need_int = || {
                int_of(v)
                    .ok_or_else(|| bad(format!("backbone.{k} = {v} is not a non-negative integer")))
            };
            match k.as_str() {
                "dim" => dim = Some(need_int()?),
                "depth" => depth = need_int()?,
                "heads" => heads = need_int()?,
                "dim_head" => dim_head = need_int()?,
                "dropout" => {
                    v.as_f64()
                        .ok_or_else(|| bad(format!("backbone.dropout = {v} is not a number")))?;
                }
                "ff_mult" => {
                    ff_mult = v
                        .as_f64()
                        .filter(|x| x.is_finite() && *x > 0.0)
                        .ok_or_else(|| {
                            bad(format!("backbone.ff_mult = {v} is not a positive number"))
                        })?
                }
                "mel_dim" => {} // overwritten by the loader with n_mel_channels
                "text_dim" => text_dim = if v.is_null() { None } else { Some(need_int()?) },
                "conv_layers" => conv_layers = need_int()?,
                "skip_connect_type" => {
                    skip = match v.as_str() {
                        Some("concat") => SkipConnect::Concat,
                        Some("add") => SkipConnect::Add,
                        Some(_) => SkipConnect::None,
                        None => {
                            return Err(bad(format!(
                                "backbone.skip_connect_type = {v} is not a string"
                            )));
                        }
                    }
                }
                "text_num_embeds" => {
                    return Err(bad(
                        "backbone.text_num_embeds must not be set: the loader passes the vocabulary size itself (UNetT() would raise TypeError: multiple values)".into(),
                    ));
                }
                other => {
                    return Err(bad(format!(
                        "backbone has an unknown key \"{other}\" (UNetT() would raise TypeError)"
                    )));
                }
            }
        }
        let dim = dim.ok_or_else(|| bad("backbone.dim is required".into()))?;
        if dim == 0 || dim % 16 != 0 {
            return Err(bad(format!(
                "backbone.dim {dim} must be a positive multiple of 16 (the conv position embedding has 16 groups)"
            )));
        }
        if depth % 2 != 0 {
            return Err(bad(format!(
                "backbone.depth {depth} must be even (UNetT asserts it)"
            )));
        }
        if heads == 0 || dim_head == 0 || dim_head % 2 != 0 {
            return Err(bad(format!(
                "backbone.heads {heads} / dim_head {dim_head}: heads must be positive and dim_head a positive even number"
            )));
        }
        let text_dim = text_dim.unwrap_or(mel.n_mel_channels);
        if conv_layers > 0 && text_dim % 2 != 0 {
            return Err(bad(format!(
                "backbone.text_dim {text_dim} must be even with conv_layers"
            )));
        }
        let backbone = BackboneConfig {
            dim,
            depth,
            heads,
            dim_head,
            ff_mult,
            mel_dim: mel.n_mel_channels,
            text_dim,
            conv_layers,
            skip,
            text_num_embeds: vocab_size,
        };
        if backbone.ff_inner() == 0 {
            return Err(bad(format!(
                "backbone: int(dim · ff_mult) = 0 (ff_mult {ff_mult})"
            )));
        }

        // odeint → torchdiffeq.odeint(fn, y0, t, **odeint).
        let od = section(cfg, "odeint", path)?;
        let method = match od.get("method").map(|m| m.as_str()) {
            Some(Some("euler")) => OdeMethod::Euler,
            Some(Some("midpoint")) => OdeMethod::Midpoint,
            Some(Some("rk4")) => OdeMethod::Rk4,
            None => {
                return Err(bad(
                    "odeint has no \"method\": torchdiffeq then runs the adaptive dopri5 solver, which sn9 does not run; set \"method\": \"euler\", \"midpoint\" or \"rk4\"".into(),
                ));
            }
            Some(_) => {
                return Err(bad(format!(
                    "odeint.method {}: sn9 runs the fixed-grid solvers euler, midpoint and rk4",
                    od["method"]
                )));
            }
        };
        if od
            .get("options")
            .and_then(|o| o.get("step_size"))
            .is_some_and(|s| !s.is_null())
        {
            return Err(bad(
                "odeint.options.step_size: a solver grid other than the sampling grid is not supported; remove it".into(),
            ));
        }

        let sp = section(cfg, "sampling", path)?;
        let nfe_step = sp
            .get("nfe_step")
            .and_then(int_of)
            .filter(|&n| n > 0)
            .ok_or_else(|| bad("sampling.nfe_step must be a positive integer (required)".into()))?;
        let cfg_strength = sp
            .get("cfg_strength")
            .and_then(Value::as_f64)
            .ok_or_else(|| bad("sampling.cfg_strength must be a number (required)".into()))?;
        let sway_sampling_coef = match sp.get("sway_sampling_coef") {
            Some(Value::Null) => None,
            Some(v) => Some(v.as_f64().ok_or_else(|| {
                bad(format!(
                    "sampling.sway_sampling_coef = {v} is not a number or null"
                ))
            })?),
            None => {
                return Err(bad(
                    "sampling.sway_sampling_coef is required (a number or null)".into(),
                ));
            }
        };
        let target_rms = match sp.get("target_rms") {
            None => 0.1,
            Some(v) => v
                .as_f64()
                .ok_or_else(|| bad(format!("sampling.target_rms = {v} is not a number")))?,
        };
        Ok(E2ttsConfig {
            mel,
            backbone,
            method,
            sampling: SamplingConfig {
                nfe_step,
                cfg_strength,
                sway_sampling_coef,
                target_rms,
            },
            raw,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(backbone: Value) -> Value {
        serde_json::json!({
            "architectures": ["E2TTS"],
            "mel_spectrogram": {"mel_spec_type": "vocos", "n_mel_channels": 100},
            "backbone": backbone,
            "odeint": {"method": "euler"},
            "sampling": {"nfe_step": 32, "cfg_strength": 2.0, "sway_sampling_coef": -1.0}
        })
    }

    #[test]
    fn closed_form_counts() {
        // The reference's own counts (ttsref synth_provenance.json, V = 2545, M = 100).
        for (depth, want) in [(24, 333_470_444u64), (26, 360_755_948), (28, 388_041_452)] {
            let c = E2ttsConfig::from_value(
                cfg(serde_json::json!({"dim": 1024, "depth": depth, "heads": 16, "dim_head": 64, "ff_mult": 4})),
                2545,
                Path::new("config.json"),
            )
            .unwrap();
            assert_eq!(c.backbone.parameter_count(), want, "depth {depth}");
        }
    }

    #[test]
    fn refuses_what_the_reference_refuses() {
        let p = Path::new("config.json");
        for bb in [
            serde_json::json!({"depth": 4}),
            serde_json::json!({"dim": 64, "depth": 3}),
            serde_json::json!({"dim": 64, "text_num_embeds": 10}),
            serde_json::json!({"dim": 64, "bogus": 1}),
        ] {
            assert!(E2ttsConfig::from_value(cfg(bb), 10, p).is_err());
        }
        let mut c = cfg(serde_json::json!({"dim": 64}));
        c["odeint"] = serde_json::json!({});
        assert!(format!("{:#}", E2ttsConfig::from_value(c, 10, p).unwrap_err()).contains("dopri5"));
        let mut c = cfg(serde_json::json!({"dim": 64}));
        c.as_object_mut().unwrap().remove("sampling");
        assert!(E2ttsConfig::from_value(c, 10, p).is_err());
        let mut c = cfg(serde_json::json!({"dim": 64}));
        c["mel_spectrogram"]
            .as_object_mut()
            .unwrap()
            .remove("n_mel_channels");
        assert!(
            format!("{:#}", E2ttsConfig::from_value(c, 10, p).unwrap_err())
                .contains("n_mel_channels")
        );
        let mut c = cfg(serde_json::json!({"dim": 64, "skip_connect_type": "weird"}));
        c["sampling"]["target_rms"] = serde_json::json!(0.001);
        let ok = E2ttsConfig::from_value(c, 10, p).unwrap();
        assert_eq!(ok.backbone.skip, SkipConnect::None);
        assert_eq!(ok.sampling.target_rms, 0.001);
    }
}
