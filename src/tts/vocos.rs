//! The Vocos vocoder (`charactr/vocos-mel-24khz`, vocos 0.1.0) in burn: `config.yaml` +
//! `pytorch_model.bin` (read without executing pickled code) or `model.safetensors`, strict
//! state dict; ConvNeXt backbone and ISTFT head (`padding: center`), `decode(mel) → wave`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use burn::prelude::*;
use burn::tensor::activation::gelu;
use serde_yaml::Value as Yaml;

use super::audio::istft_head;
use super::unett::{Conv1d, HostWeights, LayerNorm, to_device};
use crate::error::user;
use crate::model::llama::Linear;

/// What `config.yaml` says (`class_path` + `init_args` of the three parts).
#[derive(Debug, Clone, PartialEq)]
pub struct VocosConfig {
    pub sample_rate: u32,
    pub n_mels: usize,
    pub input_channels: usize,
    pub dim: usize,
    pub intermediate_dim: usize,
    pub num_layers: usize,
    pub n_fft: usize,
    pub hop_length: usize,
    /// The feature extractor's n_fft (its window and filterbank buffers are in the state dict).
    pub fe_n_fft: usize,
}

fn arg_usize(
    args: &Yaml,
    part: &str,
    key: &str,
    default: Option<usize>,
    path: &Path,
) -> Result<usize> {
    match args.get(key) {
        Some(v) => v
            .as_u64()
            .map(|x| x as usize)
            .filter(|&x| x > 0)
            .ok_or_else(|| {
                user(format!(
                    "{}: {part}.init_args.{key} is not a positive integer",
                    path.display()
                ))
            }),
        None => default.ok_or_else(|| {
            user(format!(
                "{}: {part}.init_args.{key} is required",
                path.display()
            ))
        }),
    }
}

impl VocosConfig {
    /// Parses `config.yaml`; refuses the parts sn9 does not implement (other feature extractors,
    /// `padding: same`, AdaLayerNorm) with what to use instead.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = crate::output::read_text(path, crate::output::Limit::ModelJson)?;
        let y: Yaml = serde_yaml::from_str(&text)
            .map_err(|e| user(format!("{}: not valid YAML ({e})", path.display())))?;
        let part = |name: &str, class: &str| -> Result<Yaml> {
            let p = y
                .get(name)
                .ok_or_else(|| user(format!("{}: no \"{name}\" section", path.display())))?;
            let cp = p.get("class_path").and_then(Yaml::as_str).unwrap_or("");
            if cp != class {
                return Err(user(format!(
                    "{}: {name}.class_path is {cp:?}; sn9 runs the mel Vocos ({class}), as charactr/vocos-mel-24khz",
                    path.display()
                )));
            }
            Ok(p.get("init_args").cloned().unwrap_or(Yaml::Null))
        };
        let fe = part(
            "feature_extractor",
            "vocos.feature_extractors.MelSpectrogramFeatures",
        )?;
        let bb = part("backbone", "vocos.models.VocosBackbone")?;
        let hd = part("head", "vocos.heads.ISTFTHead")?;
        for (name, args) in [("feature_extractor", &fe), ("head", &hd)] {
            let pad = args
                .get("padding")
                .and_then(Yaml::as_str)
                .unwrap_or("center");
            if pad != "center" {
                return Err(user(format!(
                    "{}: {name}.init_args.padding is {pad:?}; sn9 implements \"center\" (what charactr/vocos-mel-24khz uses)",
                    path.display()
                )));
            }
        }
        if bb
            .get("adanorm_num_embeddings")
            .is_some_and(|v| !v.is_null())
        {
            return Err(user(format!(
                "{}: backbone.init_args.adanorm_num_embeddings: AdaLayerNorm is not implemented (the mel Vocos does not use it)",
                path.display()
            )));
        }
        let c = VocosConfig {
            sample_rate: arg_usize(&fe, "feature_extractor", "sample_rate", Some(24000), path)?
                as u32,
            n_mels: arg_usize(&fe, "feature_extractor", "n_mels", Some(100), path)?,
            input_channels: arg_usize(&bb, "backbone", "input_channels", None, path)?,
            dim: arg_usize(&bb, "backbone", "dim", None, path)?,
            intermediate_dim: arg_usize(&bb, "backbone", "intermediate_dim", None, path)?,
            num_layers: arg_usize(&bb, "backbone", "num_layers", None, path)?,
            n_fft: arg_usize(&hd, "head", "n_fft", None, path)?,
            hop_length: arg_usize(&hd, "head", "hop_length", None, path)?,
            fe_n_fft: arg_usize(&fe, "feature_extractor", "n_fft", Some(1024), path)?,
        };
        let hd_dim = arg_usize(&hd, "head", "dim", None, path)?;
        if hd_dim != c.dim {
            return Err(user(format!(
                "{}: head.init_args.dim {hd_dim} differs from backbone dim {}",
                path.display(),
                c.dim
            )));
        }
        if !c.n_fft.is_multiple_of(2) || c.hop_length > c.n_fft {
            return Err(user(format!(
                "{}: head n_fft {} / hop {} are not usable",
                path.display(),
                c.n_fft,
                c.hop_length
            )));
        }
        Ok(c)
    }

    /// The strict state dict (parameters and buffers) with shapes.
    pub fn state_dict_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let fe_n_fft = self.fe_n_fft;
        let (d, i) = (self.dim, self.intermediate_dim);
        let mut v = vec![
            (
                "feature_extractor.mel_spec.spectrogram.window".to_string(),
                vec![fe_n_fft],
            ),
            (
                "feature_extractor.mel_spec.mel_scale.fb".to_string(),
                vec![fe_n_fft / 2 + 1, self.n_mels],
            ),
            (
                "backbone.embed.weight".into(),
                vec![d, self.input_channels, 7],
            ),
            ("backbone.embed.bias".into(), vec![d]),
            ("backbone.norm.weight".into(), vec![d]),
            ("backbone.norm.bias".into(), vec![d]),
        ];
        for l in 0..self.num_layers {
            let b = format!("backbone.convnext.{l}");
            v.push((format!("{b}.gamma"), vec![d]));
            v.push((format!("{b}.dwconv.weight"), vec![d, 1, 7]));
            v.push((format!("{b}.dwconv.bias"), vec![d]));
            v.push((format!("{b}.norm.weight"), vec![d]));
            v.push((format!("{b}.norm.bias"), vec![d]));
            v.push((format!("{b}.pwconv1.weight"), vec![i, d]));
            v.push((format!("{b}.pwconv1.bias"), vec![i]));
            v.push((format!("{b}.pwconv2.weight"), vec![d, i]));
            v.push((format!("{b}.pwconv2.bias"), vec![d]));
        }
        v.push(("backbone.final_layer_norm.weight".into(), vec![d]));
        v.push(("backbone.final_layer_norm.bias".into(), vec![d]));
        v.push(("head.out.weight".into(), vec![self.n_fft + 2, d]));
        v.push(("head.out.bias".into(), vec![self.n_fft + 2]));
        v.push(("head.istft.window".into(), vec![self.n_fft]));
        v
    }

    /// Parameters only (the three buffers excluded), as `sum(p.numel())` counts.
    pub fn parameter_count(&self) -> u64 {
        self.state_dict_shapes()
            .iter()
            .filter(|(n, _)| !n.ends_with("window") && !n.ends_with("mel_scale.fb"))
            .map(|(_, s)| s.iter().product::<usize>() as u64)
            .sum()
    }
}

/// One ConvNeXt block of the backbone.
pub struct Block<B: Backend> {
    pub dwconv: Conv1d<B>,
    pub norm: LayerNorm<B>,
    pub pwconv1: Linear<B>,
    pub pwconv2: Linear<B>,
    /// `[D]`.
    pub gamma: Tensor<B, 1>,
}

/// The vocoder on a device.
pub struct Vocos<B: Backend> {
    pub dir: PathBuf,
    pub config: VocosConfig,
    pub embed: Conv1d<B>,
    pub norm: LayerNorm<B>,
    pub blocks: Vec<Block<B>>,
    pub final_norm: LayerNorm<B>,
    pub out: Linear<B>,
    /// The ISTFT window as stored (`head.istft.window`).
    pub window: Vec<f32>,
}

fn linear<B: Backend>(w: &HostWeights, name: &str, device: &B::Device) -> Linear<B> {
    Linear {
        weight: burn::module::Param::from_tensor(to_device(w, &format!("{name}.weight"), device)),
        bias: Some(burn::module::Param::from_tensor(to_device(
            w,
            &format!("{name}.bias"),
            device,
        ))),
    }
}

/// Reads the weights file: `pytorch_model.bin` (what `Vocos.from_pretrained` loads) or else
/// `model.safetensors`; checked strictly against the expected keys and shapes.
pub fn load_weights(dir: &Path, expected: &[(String, Vec<usize>)]) -> Result<HostWeights> {
    let bin = dir.join("pytorch_model.bin");
    let st = dir.join("model.safetensors");
    type Named = Vec<(String, Vec<usize>, Vec<f32>)>;
    let (path, tensors): (PathBuf, Named) = if bin.is_file() {
        let sd = crate::model::torchbin::read_state_dict(&bin)?;
        let mut v = Vec::new();
        for (name, t) in sd {
            v.push((name, t.shape.clone(), t.to_f32()));
        }
        (bin, v)
    } else if st.is_file() {
        let f = crate::model::safetensors::SafeFile::open(&st)?;
        let mut v = Vec::new();
        for (name, info) in &f.tensors {
            v.push((name.clone(), info.shape.clone(), f.read_f32(name)?));
        }
        (st, v)
    } else {
        return Err(user(format!(
            "{}: no pytorch_model.bin or model.safetensors; fetch the vocoder with `sn9 hub pull charactr/vocos-mel-24khz`",
            dir.display()
        )));
    };
    let mut w = HostWeights::new();
    let mut unexpected = Vec::new();
    for (name, shape, values) in tensors {
        match expected.iter().find(|(n, _)| *n == name) {
            Some((_, want)) if *want == shape => {
                w.insert(name, (shape, values));
            }
            Some((_, want)) => {
                return Err(user(format!(
                    "{}: tensor {name} has shape {shape:?}, config.yaml implies {want:?}",
                    path.display()
                )));
            }
            None => unexpected.push(name),
        }
    }
    let missing: Vec<&str> = expected
        .iter()
        .filter(|(n, _)| !w.contains_key(n))
        .map(|(n, _)| n.as_str())
        .collect();
    if !missing.is_empty() || !unexpected.is_empty() {
        return Err(user(format!(
            "{}: the state dict does not match config.yaml (strict load fails): missing {:?}, unexpected {:?}",
            path.display(),
            &missing[..missing.len().min(5)],
            &unexpected[..unexpected.len().min(5)]
        )));
    }
    Ok(w)
}

impl<B: Backend> Vocos<B> {
    /// `Vocos.from_pretrained(dir)`.
    pub fn load(dir: &Path, device: &B::Device) -> Result<Self> {
        let cfg_path = dir.join("config.yaml");
        if !cfg_path.is_file() {
            return Err(user(format!(
                "{}: no config.yaml; a Vocos directory holds config.yaml and pytorch_model.bin (`sn9 hub pull charactr/vocos-mel-24khz`)",
                dir.display()
            )));
        }
        let config = VocosConfig::from_file(&cfg_path)?;
        let w = load_weights(dir, &config.state_dict_shapes())?;
        Ok(Self::from_weights(dir, config, &w, device))
    }

    pub fn from_weights(
        dir: &Path,
        config: VocosConfig,
        w: &HostWeights,
        device: &B::Device,
    ) -> Self {
        let blocks = (0..config.num_layers)
            .map(|l| {
                let b = format!("backbone.convnext.{l}");
                Block {
                    dwconv: Conv1d::load(w, &format!("{b}.dwconv"), 3, config.dim, device),
                    norm: LayerNorm::load(w, &format!("{b}.norm"), 1e-6, device),
                    pwconv1: linear(w, &format!("{b}.pwconv1"), device),
                    pwconv2: linear(w, &format!("{b}.pwconv2"), device),
                    gamma: to_device(w, &format!("{b}.gamma"), device),
                }
            })
            .collect();
        Vocos {
            dir: dir.to_path_buf(),
            embed: Conv1d::load(w, "backbone.embed", 3, 1, device),
            norm: LayerNorm::load(w, "backbone.norm", 1e-6, device),
            blocks,
            final_norm: LayerNorm::load(w, "backbone.final_layer_norm", 1e-6, device),
            out: linear(w, "head.out", device),
            window: w["head.istft.window"].1.clone(),
            config,
        }
    }

    /// The backbone: mel `[b, C, T]` → `[b, T, D]`.
    pub fn backbone(&self, mel: Tensor<B, 3>) -> Tensor<B, 3> {
        let x = self.embed.forward(mel);
        let mut x = self.norm.forward(x.swap_dims(1, 2)).swap_dims(1, 2);
        for blk in &self.blocks {
            let y = blk.dwconv.forward(x.clone()).swap_dims(1, 2);
            let y = blk
                .pwconv2
                .forward(gelu(blk.pwconv1.forward(blk.norm.forward(y))));
            let y = y * blk
                .gamma
                .clone()
                .unsqueeze_dim::<2>(0)
                .unsqueeze_dim::<3>(0);
            x = x + y.swap_dims(1, 2);
        }
        self.final_norm.forward(x.swap_dims(1, 2))
    }

    /// The head's linear layer: `[b, T, D]` → `[b, T, n_fft + 2]` (log-magnitudes, then phases).
    pub fn head_linear(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.out.forward(x)
    }

    /// `decode(mel)` for one mel `[C, T]` (channels-major): the wave, `hop·(T−1)` samples.
    pub fn decode(&self, mel: &[f32], frames: usize, device: &B::Device) -> Result<Vec<f32>> {
        let c = self.config.input_channels;
        if mel.len() != c * frames || frames < 2 {
            return Err(user(format!(
                "the vocoder needs a [{c}, T ≥ 2] mel, got {} values for {frames} frames",
                mel.len()
            )));
        }
        let x = Tensor::<B, 3>::from_data(TensorData::new(mel.to_vec(), [1, c, frames]), device);
        let z = self
            .head_linear(self.backbone(x))
            .into_data()
            .to_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("reading the vocoder output back: {e:?}"))?;
        self.istft(&z, frames)
    }

    /// The ISTFT head after its linear layer: `z` `[T, n_fft + 2]` → wave.
    pub fn istft(&self, z: &[f32], frames: usize) -> Result<Vec<f32>> {
        istft_head(
            z,
            frames,
            self.config.n_fft,
            self.config.hop_length,
            &self.window,
        )
    }
}
