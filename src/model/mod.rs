//! The model core: the decoders of the text competitions in burn (Llama, Mistral, Qwen2,
//! Gemma, Gemma2, Phi), loaded from and saved to Hugging Face files (`config.json` +
//! safetensors), numerically equal to transformers.

pub mod command;
pub mod config;
pub mod llama;
pub mod memory;
pub mod safetensors;
pub mod torchbin;

use std::path::Path;

use anyhow::Result;
use burn::prelude::*;
pub use burn::tensor::FloatDType;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

pub use config::ModelConfig;
pub use llama::{CausalLm, KvCache, Rope};
use safetensors::{Dtype, OutTensor, WeightFiles};

use crate::error::user;

/// The CPU backend (burn-flex), without autodiff: what evaluation runs on by default.
pub type Cpu = burn::backend::Flex;

/// A model with its configuration and rotary tables.
pub struct LoadedModel<B: Backend> {
    pub config: ModelConfig,
    pub lm: CausalLm<B>,
    pub rope: Rope<B>,
    /// Storage dtype of the weights that were loaded.
    pub source_dtype: Option<Dtype>,
    /// Compute dtype (float32 or bfloat16); norms, softmax and the loss run in float32.
    pub dtype: FloatDType,
}

fn param_tensor<B: Backend>(v: Vec<f32>, dtype: FloatDType, device: &B::Device) -> Tensor<B, 1> {
    let n = v.len();
    let t = Tensor::<B, 1>::from_data(TensorData::new(v, [n]), device);
    if dtype == FloatDType::F32 {
        t
    } else {
        t.cast(dtype)
    }
}

/// Positions the rotary tables are built for up front. transformers computes the rotations for
/// the positions a forward uses, whatever `max_position_embeddings` says (a config may claim 2⁶²
/// positions, or fewer than the evaluation uses), so the tables cover
/// `min(max_position_embeddings, ROPE_PREBUILT)` and [`LoadedModel::rope_covering`] extends
/// them when a sequence is longer.
pub const ROPE_PREBUILT: usize = 8192;

pub fn rope_len(config: &ModelConfig) -> usize {
    config.max_position_embeddings.clamp(1, ROPE_PREBUILT)
}

/// Refuses, before anything is allocated, a model whose weights alone (`bytes_per_param` each)
/// need more memory than the host has available, when `device` is the host (the CPU backend).
fn check_fits<B: Backend>(
    config: &ModelConfig,
    bytes_per_param: u64,
    device: &B::Device,
) -> Result<()> {
    if !B::name(device).contains("flex") {
        return Ok(());
    }
    crate::device::check_host_memory(
        config.parameter_count().saturating_mul(bytes_per_param),
        &format!("{} parameters", config.parameter_count()),
    )
}

/// Refuses a compute dtype the device cannot run (WGSL, and so a wgpu adapter such as lavapipe,
/// has no bfloat16), before anything is loaded.
pub fn check_dtype<B: Backend>(dtype: FloatDType, device: &B::Device) -> Result<()> {
    let dt: burn::tensor::DType = dtype.into();
    if B::supports_dtype(device, dt) {
        return Ok(());
    }
    let name = match dtype {
        FloatDType::BF16 => "bf16",
        FloatDType::F16 => "f16",
        FloatDType::F64 => "f64",
        _ => "f32",
    };
    Err(user(format!(
        "the device ({}) cannot compute in {name}; use --dtype f32 (a CUDA GPU computes in bf16)",
        B::name(device)
    )))
}

impl<B: Backend> LoadedModel<B> {
    /// Loads `DIR/config.json` and its safetensors weights (single or sharded) onto `device`.
    /// Every tensor is checked (present, shape, floating dtype) before it is materialised.
    pub fn load(dir: &Path, device: &B::Device) -> Result<Self> {
        Self::load_as(dir, FloatDType::F32, device)
    }

    /// [`LoadedModel::load`] computing in `dtype`.
    pub fn load_as(dir: &Path, dtype: FloatDType, device: &B::Device) -> Result<Self> {
        let (config, files) = check_weights(dir)?;
        Self::from_checked(config, &files, dtype, device)
    }

    /// Builds the model from what [`check_weights`] accepted.
    pub fn from_checked(
        config: ModelConfig,
        files: &WeightFiles,
        dtype: FloatDType,
        device: &B::Device,
    ) -> Result<Self> {
        if let Some(why) = config.validator_forward_error() {
            return Err(user(why));
        }
        check_dtype::<B>(dtype, device)?;
        let per_param = if dtype == FloatDType::F32 { 4 } else { 2 };
        check_fits::<B>(&config, per_param, device)?;
        let lm = llama::build::<B>(&config, |name, _shape| {
            let (f, _) = files.info(name).expect("checked above");
            Ok(param_tensor(f.read_f32(name)?, dtype, device))
        })?;
        let rope = Rope::new(&config.rope_inv_freq(), rope_len(&config), dtype, device);
        Ok(LoadedModel {
            source_dtype: files.main_dtype(),
            config,
            lm,
            rope,
            dtype,
        })
    }
}

/// Reads `DIR/config.json` and checks the weights as transformers loads them: every tensor the
/// class has is present with its shape and a floating dtype (nothing is materialised). Every
/// accepted class passes through here, those the validator cannot score too (Falcon, GPT-NeoX,
/// Bart: they load in the reference, then fail its forward).
pub fn check_weights(dir: &Path) -> Result<(ModelConfig, WeightFiles)> {
    {
        let config = ModelConfig::from_file(&dir.join("config.json"))?;
        let files = WeightFiles::open(dir)?;
        // Bound the tensor list by what the files hold before building it: every layer has
        // several tensors, so a config claiming more layers than the files hold tensors cannot
        // load (and is not enumerated).
        let stored = files.index.len();
        if config.num_hidden_layers > stored {
            return Err(user(format!(
                "{}: config.json says {} layers, the weights hold {stored} tensors in all",
                dir.display(),
                config.num_hidden_layers
            )));
        }
        let expected = config.parameter_shapes();
        for (name, shape) in &expected {
            let (f, info) = files.info(name).ok_or_else(|| {
                let hint = if name == "lm_head.weight" {
                    " (config.json says tie_word_embeddings is false; a tied model must say true)"
                } else {
                    ""
                };
                user(format!(
                    "{}: tensor {name} is missing from the weights{hint}",
                    dir.display()
                ))
            })?;
            if &info.shape != shape {
                return Err(user(format!(
                    "{}: tensor {name} has shape {:?}, config.json implies {shape:?}",
                    f.path.display(),
                    info.shape
                )));
            }
            if !matches!(
                info.dtype,
                Dtype::F32 | Dtype::BF16 | Dtype::F16 | Dtype::F64
            ) {
                return Err(user(format!(
                    "{}: tensor {name} has dtype {}, not a float",
                    f.path.display(),
                    info.dtype.name()
                )));
            }
        }
        Ok((config, files))
    }
}

impl<B: Backend> LoadedModel<B> {
    /// A freshly initialised model, as transformers initialises one: weights ~ N(0,
    /// initializer_range), biases 0, norm weights 1. Deterministic for a seed on any device.
    pub fn init(config: ModelConfig, seed: u64, device: &B::Device) -> Result<Self> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let std = config.initializer_range;
        let normal = Normal::new(0.0f32, std as f32).map_err(|e| {
            user(format!(
                "initializer_range {std} is not a valid standard deviation: {e}"
            ))
        })?;
        check_fits::<B>(&config, 4, device)?;
        // Gemma's norms hold `w` of `(1 + w)`: they start at 0.
        let norm_init = if config.norm == config::NormKind::RmsOnePlus {
            0.0
        } else {
            1.0
        };
        let pad = config.padding_idx;
        let lm = llama::build::<B>(&config, |name, shape| {
            let n: usize = shape.iter().product();
            let v: Vec<f32> = if name.ends_with("norm.weight") {
                vec![norm_init; n]
            } else if name.ends_with(".bias") {
                vec![0.0; n]
            } else {
                let mut v: Vec<f32> = (0..n).map(|_| normal.sample(&mut rng)).collect();
                // `_init_weights` zeroes the embedding's padding row.
                if name == "model.embed_tokens.weight"
                    && let Some(p) = pad
                {
                    let d = shape[1];
                    v[p * d..(p + 1) * d].fill(0.0);
                }
                v
            };
            Ok(param_tensor(v, FloatDType::F32, device))
        })?;
        let rope = Rope::new(
            &config.rope_inv_freq(),
            rope_len(&config),
            FloatDType::F32,
            device,
        );
        Ok(LoadedModel {
            config,
            lm,
            rope,
            source_dtype: None,
            dtype: FloatDType::F32,
        })
    }

    /// Saves as transformers does: `config.json` (with `torch_dtype`) and safetensors weights
    /// in `dtype`, sharded above `max_shard_bytes`.
    pub fn save(&self, dir: &Path, dtype: Dtype, max_shard_bytes: u64) -> Result<Vec<String>> {
        std::fs::create_dir_all(dir)
            .map_err(|e| user(format!("cannot create {}: {e}", dir.display())))?;
        let tensors: Vec<OutTensor> = llama::export(&self.lm)?
            .into_iter()
            .map(|(name, shape, data)| OutTensor { name, shape, data })
            .collect();
        let mut files = safetensors::write_weights(dir, &tensors, dtype, max_shard_bytes)?;
        let cfg = self.config.to_json(dtype.torch_name());
        crate::output::write_atomic(
            &dir.join("config.json"),
            (serde_json::to_string_pretty(&cfg)? + "\n").as_bytes(),
        )?;
        files.push("config.json".into());
        Ok(files)
    }

    /// Rotary tables covering positions `0..n`: the prebuilt ones, or longer ones computed for
    /// this call.
    pub fn rope_covering(&self, n: usize) -> std::borrow::Cow<'_, Rope<B>> {
        if n <= self.rope.len() {
            std::borrow::Cow::Borrowed(&self.rope)
        } else {
            let device = self.rope.cos.device();
            std::borrow::Cow::Owned(Rope::new(
                &self.config.rope_inv_freq(),
                n,
                self.dtype,
                &device,
            ))
        }
    }

    /// Logits `[b, t, V]` for token ids `[b, t]` (no cache).
    pub fn logits(&self, ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let rope = self.rope_covering(ids.dims()[1]);
        self.lm.logits(self.lm.hidden(ids, &rope, None))
    }

    /// Times the evaluation computation (forward and the validator's loss, read back to the
    /// host as `sn9 eval` does) on `batch` rows of `seq_len` deterministic tokens
    /// (`(i · 7919 + 13) mod V`, as bench/model.py): `iters` timed runs after one warm-up.
    /// Returns the sorted run times in seconds and the mean loss.
    pub fn time_eval(
        &self,
        batch: usize,
        seq_len: usize,
        iters: usize,
        device: &B::Device,
    ) -> Result<(Vec<f64>, f32)> {
        let v = self.config.vocab_size.max(1);
        let ids: Vec<i32> = (0..batch * seq_len)
            .map(|i| ((i % seq_len * 7919 + 13) % v) as i32)
            .collect();
        let input = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [batch, seq_len]), device);
        let rope = self.rope_covering(seq_len);
        let (mut times, mut loss) = (Vec::with_capacity(iters), 0.0);
        for i in 0..=iters {
            let start = std::time::Instant::now();
            let h = self.lm.hidden(input.clone(), &rope, None);
            let l = self
                .lm
                .masked_ce_sum(h, input.clone(), None, 512)
                .div_scalar((seq_len.max(2) - 1) as f64)
                .mean();
            loss = l
                .into_data()
                .convert::<f32>()
                .to_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?[0];
            if i > 0 {
                times.push(start.elapsed().as_secs_f64());
            }
        }
        times.sort_by(f64::total_cmp);
        Ok((times, loss))
    }

    /// Greedy generation of `new_tokens` tokens after `prompt` (one row), with a KV cache.
    pub fn generate_greedy(
        &self,
        prompt: &[u32],
        new_tokens: usize,
        device: &B::Device,
    ) -> Result<Vec<u32>> {
        if prompt.is_empty() {
            return Err(user("the prompt is empty"));
        }
        let v = self.config.vocab_size as u32;
        if let Some(bad) = prompt.iter().find(|&&t| t >= v) {
            return Err(user(format!(
                "prompt token {bad} is outside the vocabulary of {v}"
            )));
        }
        // Like transformers, positions past max_position_embeddings are rotated as any other.
        let rope = self.rope_covering(prompt.len() + new_tokens);
        // burn 0.21's wgpu backend decodes wrongly from a KV cache for models with attention
        // biases (Qwen2, Phi: every token after the first differs, while a full forward of the
        // same tokens is right; tests/wgpu.rs, docs/architecture.md "GPU backends"). There,
        // each token recomputes the whole sequence: slower, and right.
        let use_cache = !(B::name(device).contains("wgpu") && self.config.qkv_bias);
        let mut cache = KvCache::new(self.config.num_hidden_layers);
        let mut out = Vec::with_capacity(new_tokens);
        let mut ids: Vec<i32> = prompt.iter().map(|&t| t as i32).collect();
        let mut input =
            Tensor::<B, 2, Int>::from_data(TensorData::new(ids.clone(), [1, prompt.len()]), device);
        for _ in 0..new_tokens {
            let h = if use_cache {
                self.lm.hidden(input, &rope, Some(&mut cache))
            } else {
                self.lm.hidden(input, &rope, None)
            };
            let t = h.dims()[1];
            let last = h.narrow(1, t - 1, 1);
            let logits = self.lm.logits(last);
            let next = logits
                .argmax(2)
                .into_data()
                .convert::<i64>()
                .to_vec::<i64>()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?[0];
            out.push(next as u32);
            input = if use_cache {
                Tensor::<B, 2, Int>::from_data(TensorData::new(vec![next as i32], [1, 1]), device)
            } else {
                ids.push(next as i32);
                let n = ids.len();
                Tensor::<B, 2, Int>::from_data(TensorData::new(ids.clone(), [1, n]), device)
            };
        }
        Ok(out)
    }
}

/// Total bytes of the files in a model directory (what the competitions' `max_bytes` bounds).
pub fn size_on_disk(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for e in
        std::fs::read_dir(dir).map_err(|e| user(format!("cannot read {}: {e}", dir.display())))?
    {
        let e = e?;
        let m = std::fs::metadata(e.path())?;
        if m.is_file() {
            total += m.len();
        } else if m.is_dir() {
            total += size_on_disk(&e.path())?;
        }
    }
    Ok(total)
}
