//! The miners' E2TTS model as taoverse 2.0.2 loads and samples it: `vocab.txt` + `config.json` +
//! `model.safetensors` (strict state dict), and `CFM.sample` — the conditional flow-matching
//! sampler with the reference mel as prompt, the duration rule, torch's CPU noise, the sway
//! time grid, classifier-free guidance and torchdiffeq's fixed-grid solvers.

use std::path::{Path, PathBuf};

use anyhow::Result;
use burn::prelude::*;

use super::audio::MelSpec;
use super::config::{E2ttsConfig, OdeMethod};
use super::randn::randn;
use super::text::{Vocab, convert_char_to_pinyin, list_str_to_idx};
use super::unett::{Drop, HostWeights, UNetT};
use crate::error::user;
use crate::model::safetensors::{Dtype, SafeFile};

/// `max_duration` of `CFM.sample`: at most 4096 frames.
pub const MAX_DURATION: usize = 4096;

/// A loaded E2TTS model.
pub struct E2tts<B: Backend> {
    pub dir: PathBuf,
    pub config: E2ttsConfig,
    pub vocab: Vocab,
    pub mel: MelSpec,
    pub backbone: UNetT<B>,
}

/// Reads a model directory's weights as `load_state_dict(load_file(...), strict=True)` accepts
/// them: exactly the expected keys, each with its shape, any float dtype (upcast to float32).
pub fn load_weights(path: &Path, expected: &[(String, Vec<usize>)]) -> Result<HostWeights> {
    let file = SafeFile::open(path)?;
    let mut missing = Vec::new();
    let mut w = HostWeights::new();
    for (name, shape) in expected {
        let Some(info) = file.tensors.get(name) else {
            missing.push(name.clone());
            continue;
        };
        if &info.shape != shape {
            return Err(user(format!(
                "{}: tensor {name} has shape {:?}, config.json and vocab.txt imply {shape:?} (the reference's strict load fails)",
                path.display(),
                info.shape
            )));
        }
        let values = match info.dtype {
            Dtype::F32 | Dtype::BF16 | Dtype::F16 | Dtype::F64 => file.read_f32(name)?,
            // `load_state_dict` copies integer and bool tensors into the float32 parameters
            // by value, so the reference loads them too.
            int => int_values(file.bytes(info), int),
        };
        w.insert(name.clone(), (shape.clone(), values));
    }
    let unexpected: Vec<&String> = file
        .tensors
        .keys()
        .filter(|k| !expected.iter().any(|(n, _)| n == *k))
        .collect();
    if !missing.is_empty() || !unexpected.is_empty() {
        let show = |v: Vec<&String>| {
            let n = v.len();
            let mut s: Vec<String> = v.into_iter().take(5).cloned().collect();
            if n > 5 {
                s.push(format!("… ({n} in all)"));
            }
            s.join(", ")
        };
        return Err(user(format!(
            "{}: the state dict does not match config.json (the reference's strict load fails): missing [{}], unexpected [{}]",
            path.display(),
            show(missing.iter().collect()),
            show(unexpected)
        )));
    }
    Ok(w)
}

/// Integer or bool little-endian elements as float32 values (`Tensor.copy_` semantics).
fn int_values(b: &[u8], dtype: Dtype) -> Vec<f32> {
    match dtype {
        Dtype::I64 => b
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
            .collect(),
        Dtype::I32 => b
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")) as f32)
            .collect(),
        Dtype::I16 => b
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]) as f32)
            .collect(),
        Dtype::I8 => b.iter().map(|&x| x as i8 as f32).collect(),
        Dtype::U8 => b.iter().map(|&x| x as f32).collect(),
        Dtype::Bool => b.iter().map(|&x| if x != 0 { 1.0 } else { 0.0 }).collect(),
        _ => unreachable!("floats are read by SafeFile::read_f32"),
    }
}

/// `seed % 2³²` of a non-negative decimal integer of any size (the validator's 256-bit seeds).
pub fn seed_mod_2_32(decimal: &str) -> Result<u32> {
    let s = decimal.trim();
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return Err(user(format!(
            "seed {decimal:?} is not a non-negative decimal integer"
        )));
    }
    let mut r: u64 = 0;
    for c in s.bytes() {
        r = (r * 10 + (c - b'0') as u64) % (1u64 << 32);
    }
    Ok(r as u32)
}

/// torch's float32 `linspace(0, 1, steps + 1)` (scalar CPU path), then sway:
/// `t + s·(cos(π/2·t) − 1 + t)`.
pub fn time_grid(steps: usize, sway: Option<f64>) -> Vec<f32> {
    let n = steps + 1;
    let step = 1.0f32 / steps as f32;
    let half = n / 2;
    let mut t: Vec<f32> = (0..n)
        .map(|i| {
            if i < half {
                step * i as f32
            } else {
                1.0f32 - step * (steps - i) as f32
            }
        })
        .collect();
    if let Some(s) = sway {
        let s = s as f32;
        let hp = (std::f64::consts::PI / 2.0) as f32;
        for v in &mut t {
            *v += s * ((hp * *v).cos() - 1.0 + *v);
        }
    }
    t
}

/// The duration rule of `CFM.sample`:
/// `max(max(text tokens, cond frames) + 1, requested)`, clamped to 4096.
pub fn duration_rule(text_tokens: usize, cond_frames: usize, requested: usize) -> usize {
    (text_tokens.max(cond_frames) + 1)
        .max(requested)
        .min(MAX_DURATION)
}

/// Inputs of one sampling call (one or more rows).
pub struct SampleRequest<'a> {
    /// Reference waves at 24 kHz, one per row (equal lengths, as one `[b, N]` tensor).
    pub ref_audio: &'a [Vec<f32>],
    /// Token ids per row (−1 padded to equal length).
    pub text: Vec<Vec<i64>>,
    /// Requested durations per row (frames).
    pub duration: Vec<usize>,
    /// The validator's seed, already `% 2³²`; None continues an unseeded generator (not used).
    pub seed: u32,
    /// Test hooks: the initial noise `[b, D*, M]` and the time grid, instead of computing them.
    pub y0: Option<Vec<f32>>,
    pub t: Option<Vec<f32>>,
    /// The reference mel `[b, F, M]` instead of computing it from `ref_audio`.
    pub cond_mel: Option<(Vec<f32>, usize)>,
}

/// What sampling produced.
pub struct Sampled {
    /// `[b, D*, M]`: the generated mel with the first `F` frames equal to the reference mel.
    pub out: Vec<f32>,
    pub frames: usize,
    /// The reference mel's frame count `F`.
    pub cond_frames: usize,
    /// Durations after the rule, per row.
    pub duration: Vec<usize>,
    /// Every ODE state `[steps+1][b·D*·M]` (the last before the cond frames are restored).
    pub trajectory: Vec<Vec<f32>>,
    /// `(time, drop)` of each backbone call in order.
    pub calls: Vec<(f32, bool)>,
}

impl<B: Backend> E2tts<B> {
    /// `E2TTS.from_pretrained(dir)`: vocab.txt, config.json, model.safetensors (strict).
    pub fn load(dir: &Path, device: &B::Device) -> Result<Self> {
        let (config, vocab) = E2ttsConfig::from_dir(dir)?;
        let weights_path = dir.join("model.safetensors");
        if !weights_path.is_file() {
            return Err(user(format!(
                "{}: no model.safetensors (the reference reads exactly that file: no shards, no .bin)",
                dir.display()
            )));
        }
        let w = load_weights(&weights_path, &config.backbone.state_dict_shapes())?;
        Self::from_weights(dir, config, vocab, &w, device)
    }

    /// A model from host weights already checked against the config.
    pub fn from_weights(
        dir: &Path,
        config: E2ttsConfig,
        vocab: Vocab,
        w: &HostWeights,
        device: &B::Device,
    ) -> Result<Self> {
        let mel = MelSpec::new(&config.mel)?;
        let backbone = UNetT::build(&config.backbone, w, device);
        Ok(E2tts {
            dir: dir.to_path_buf(),
            config,
            vocab,
            mel,
            backbone,
        })
    }

    /// The validator's text: `list_str_to_idx(convert_char_to_pinyin([text]))`, one row.
    pub fn text_ids(&self, text: &str) -> Vec<i64> {
        let tokens = convert_char_to_pinyin(text);
        list_str_to_idx(&[tokens], &self.vocab).remove(0)
    }

    /// The reference mel `[F, M]` (frames-major) of a wave, and `F`.
    pub fn mel_of(&self, wave: &[f32]) -> Result<(Vec<f32>, usize)> {
        let (m, frames) = self.mel.compute(wave)?; // [M, F]
        let c = self.config.mel.n_mel_channels;
        let mut t = vec![0f32; m.len()];
        for ch in 0..c {
            for f in 0..frames {
                t[f * c + ch] = m[ch * frames + f];
            }
        }
        Ok((t, frames))
    }

    /// `CFM.sample(cond=ref_audio, text, duration, steps, cfg_strength, sway, seed)`.
    pub fn sample(&self, req: SampleRequest<'_>, device: &B::Device) -> Result<Sampled> {
        let m = self.config.mel.n_mel_channels;
        let b = req.text.len();
        if b == 0 || req.duration.len() != b {
            return Err(user("sampling needs one text and one duration per row"));
        }
        let (cond, f) = match req.cond_mel {
            Some(c) => c,
            None => {
                if req.ref_audio.len() != b {
                    return Err(user("sampling needs one reference wave per row"));
                }
                let mut all = Vec::new();
                let mut frames = 0;
                for w in req.ref_audio {
                    let (c, fr) = self.mel_of(w)?;
                    frames = fr;
                    all.extend(c);
                }
                (all, frames)
            }
        };
        let s = &self.config.sampling;
        let duration: Vec<usize> = req
            .text
            .iter()
            .zip(&req.duration)
            .map(|(row, &d)| duration_rule(row.iter().filter(|&&x| x != -1).count(), f, d))
            .collect();
        let dmax = *duration.iter().max().expect("b ≥ 1");
        // cond padded (or cut, past 4096 frames) to D*.
        let keep = f.min(dmax);
        let mut step_cond = vec![0f32; b * dmax * m];
        for r in 0..b {
            for fr in 0..keep {
                let src = &cond[(r * f + fr) * m..(r * f + fr + 1) * m];
                step_cond[(r * dmax + fr) * m..(r * dmax + fr + 1) * m].copy_from_slice(src);
            }
        }
        let mask: Option<Vec<Vec<bool>>> = (b > 1).then(|| {
            duration
                .iter()
                .map(|&d| (0..dmax).map(|p| p < d).collect())
                .collect()
        });
        let y0 = match req.y0 {
            Some(y) => {
                if y.len() != b * dmax * m {
                    return Err(user(format!(
                        "y0 has {} values, sampling needs {}",
                        y.len(),
                        b * dmax * m
                    )));
                }
                y
            }
            None => {
                let mut y = vec![0f32; b * dmax * m];
                for (r, &d) in duration.iter().enumerate() {
                    let noise = randn(req.seed as u64, d * m)?;
                    y[r * dmax * m..r * dmax * m + d * m].copy_from_slice(&noise);
                }
                y
            }
        };
        let t = req
            .t
            .unwrap_or_else(|| time_grid(s.nfe_step, s.sway_sampling_coef));
        let cond_t =
            Tensor::<B, 3>::from_data(TensorData::new(step_cond.clone(), [b, dmax, m]), device);
        let mut calls = Vec::new();
        let cfg = s.cfg_strength;
        // With CFG the conditional and the null branch run as one batch of 2b rows.
        let (cond2, text2, mask2) = if cfg >= 1e-5 {
            let mut text2 = req.text.clone();
            text2.extend(req.text.iter().cloned());
            let mask2 = mask.as_ref().map(|m| {
                let mut v = m.clone();
                v.extend(m.iter().cloned());
                v
            });
            (
                Tensor::cat(vec![cond_t.clone(), cond_t.clone()], 0),
                text2,
                mask2,
            )
        } else {
            (cond_t.clone(), req.text.clone(), mask.clone())
        };
        let drops: Vec<Drop> = (0..b)
            .map(|_| Drop::default())
            .chain((0..b).filter(|_| cfg >= 1e-5).map(|_| Drop {
                audio_cond: true,
                text: true,
            }))
            .collect();
        let mut eval = |time: f32, x: Tensor<B, 3>| -> Tensor<B, 3> {
            calls.push((time, false));
            if cfg < 1e-5 {
                return self.backbone.forward_rows(
                    x,
                    cond2.clone(),
                    &text2,
                    &vec![time; b],
                    &drops,
                    mask2.as_deref(),
                );
            }
            calls.push((time, true));
            let both = self.backbone.forward_rows(
                Tensor::cat(vec![x.clone(), x], 0),
                cond2.clone(),
                &text2,
                &vec![time; 2 * b],
                &drops,
                mask2.as_deref(),
            );
            let pred = both.clone().narrow(0, 0, b);
            let null = both.narrow(0, b, b);
            pred.clone() + (pred - null).mul_scalar(cfg as f32)
        };
        let mut y = Tensor::<B, 3>::from_data(TensorData::new(y0.clone(), [b, dmax, m]), device);
        let mut trajectory = vec![y0];
        for k in 0..t.len().saturating_sub(1) {
            let (t0, t1) = (t[k], t[k + 1]);
            let h = t1 - t0;
            let dy = match self.config.method {
                OdeMethod::Euler => eval(t0, y.clone()).mul_scalar(h),
                OdeMethod::Midpoint => {
                    let half = 0.5f32 * h;
                    let f0 = eval(t0, y.clone());
                    let mid = y.clone() + f0.mul_scalar(half);
                    eval(t0 + half, mid).mul_scalar(h)
                }
                OdeMethod::Rk4 => {
                    // torchdiffeq's rk4_alt_step_func (the 3/8 rule), in its operation order.
                    let (one_third, two_thirds) = (1.0f32 / 3.0, 2.0f32 / 3.0);
                    let k1 = eval(t0, y.clone());
                    let k2 = eval(
                        t0 + h * one_third,
                        y.clone() + k1.clone().mul_scalar(h).mul_scalar(one_third),
                    );
                    let k3 = eval(
                        t0 + h * two_thirds,
                        y.clone() + (k2.clone() - k1.clone().mul_scalar(one_third)).mul_scalar(h),
                    );
                    let k4 = eval(
                        t0 + h,
                        y.clone() + (k1.clone() - k2.clone() + k3.clone()).mul_scalar(h),
                    );
                    (k1 + (k2 + k3).mul_scalar(3.0) + k4)
                        .mul_scalar(h)
                        .mul_scalar(0.125)
                }
            };
            y = y + dy;
            trajectory.push(
                y.clone()
                    .into_data()
                    .to_vec::<f32>()
                    .map_err(|e| anyhow::anyhow!("reading the ODE state back: {e:?}"))?,
            );
        }
        let mut out = trajectory.last().expect("y0 at least").clone();
        for r in 0..b {
            let base = r * dmax * m;
            out[base..base + keep * m].copy_from_slice(&step_cond[base..base + keep * m]);
        }
        Ok(Sampled {
            out,
            frames: dmax,
            cond_frames: f,
            duration,
            trajectory,
            calls,
        })
    }
}

/// The vocabulary `sn9 model init` writes when none is given: the space first (unknown tokens
/// map to id 0, as in F5-TTS vocabularies), then what People's Speech transcripts use (lowercase
/// letters, digits, apostrophe) and common punctuation.
pub fn default_vocab_txt() -> String {
    let mut s = String::from(" \n");
    for c in ('a'..='z').chain('0'..='9').chain("'.,?!-:;\"".chars()) {
        s.push(c);
        s.push('\n');
    }
    s
}

/// A randomly initialised backbone as PyTorch initialises one (Linear and Conv1d weights and
/// biases uniform in ±1/√fan_in, the embedding N(0, 1), norms 1 and 0, GRN 0, rotary
/// `1/10000^(2i/dh)`), deterministic for a seed.
pub fn init_weights(config: &super::config::BackboneConfig, seed: u64) -> HostWeights {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let shapes = config.state_dict_shapes();
    let mut w = HostWeights::new();
    // fan_in of each weight (PyTorch: in_features, or in_channels/groups · kernel).
    let fan_in = |shape: &[usize]| -> usize {
        let f = if shape.len() == 3 {
            shape[1] * shape[2]
        } else {
            shape.get(1).copied().unwrap_or(1)
        };
        f.max(1)
    };
    let mut weight_fan: std::collections::HashMap<String, usize> = Default::default();
    for (name, shape) in &shapes {
        if let Some(stem) = name.strip_suffix(".weight") {
            weight_fan.insert(stem.to_string(), fan_in(shape));
        }
    }
    for (name, shape) in &shapes {
        let n: usize = shape.iter().product();
        let uniform = |rng: &mut rand::rngs::StdRng, fan: usize| -> Vec<f32> {
            let b = 1.0 / (fan as f32).sqrt();
            (0..n).map(|_| rng.random_range(-b..b)).collect()
        };
        let v: Vec<f32> = if name.ends_with("inv_freq") {
            let dh = config.dim_head;
            (0..dh / 2)
                .map(|i| 1.0f32 / 10000f32.powf((2 * i) as f32 / dh as f32))
                .collect()
        } else if name.ends_with(".g") || name.ends_with("norm.weight") {
            vec![1.0; n]
        } else if name.ends_with("norm.bias") || name.contains(".grn.") {
            vec![0.0; n]
        } else if name.ends_with("text_embed.text_embed.weight") {
            use rand_distr::{Distribution, StandardNormal};
            (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()
        } else if let Some(stem) = name.strip_suffix(".bias") {
            uniform(&mut rng, weight_fan.get(stem).copied().unwrap_or(1))
        } else {
            uniform(&mut rng, fan_in(shape))
        };
        w.insert(name.clone(), (shape.clone(), v));
    }
    w
}

/// Writes an E2TTS directory as miners upload it: `config.json` (as given), `vocab.txt`,
/// `model.safetensors` (float32, `format=pt`). Returns the file names.
pub fn save_dir(
    dir: &Path,
    config_json: &serde_json::Value,
    vocab_txt: &str,
    config: &super::config::BackboneConfig,
    w: &HostWeights,
) -> Result<Vec<String>> {
    use crate::model::safetensors::{OutTensor, write_one};
    std::fs::create_dir_all(dir)
        .map_err(|e| user(format!("cannot create {}: {e}", dir.display())))?;
    let tensors: Vec<OutTensor> = config
        .state_dict_shapes()
        .into_iter()
        .map(|(name, shape)| {
            let data = w[&name].1.clone();
            OutTensor { name, shape, data }
        })
        .collect();
    let refs: Vec<&OutTensor> = tensors.iter().collect();
    write_one(&dir.join("model.safetensors"), &refs, Dtype::F32)?;
    crate::output::write_atomic(&dir.join("vocab.txt"), vocab_txt.as_bytes())?;
    crate::output::write_atomic(
        &dir.join("config.json"),
        (serde_json::to_string_pretty(config_json)? + "\n").as_bytes(),
    )?;
    Ok(vec![
        "config.json".into(),
        "vocab.txt".into(),
        "model.safetensors".into(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_and_sway() {
        assert_eq!(time_grid(3, None), vec![0.0, 0.33333334, 0.6666666, 1.0]);
        let t = time_grid(4, Some(-1.0));
        assert_eq!(t[0], 0.0);
        assert_eq!(t[4], 1.0);
    }

    #[test]
    fn seed_modulo() {
        assert_eq!(
            seed_mod_2_32(
                "12888843227996646235440983878069981794483757507309357992109807282668848906406"
            )
            .unwrap(),
            2_762_309_798
        );
        assert!(seed_mod_2_32("-1").is_err());
    }

    #[test]
    fn integer_tensors_load_by_value() {
        let b: Vec<u8> = [-3i64, 7].iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(int_values(&b, Dtype::I64), vec![-3.0, 7.0]);
        assert_eq!(int_values(&[0, 2, 255], Dtype::Bool), vec![0.0, 1.0, 1.0]);
        assert_eq!(int_values(&[255], Dtype::I8), vec![-1.0]);
    }

    #[test]
    fn durations() {
        assert_eq!(duration_rule(52, 32, 90), 90);
        assert_eq!(duration_rule(52, 32, 40), 53);
        assert_eq!(duration_rule(9000, 32, 40), 4096);
    }
}
