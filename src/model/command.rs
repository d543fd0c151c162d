//! `sn9 model ...`: init, info, generate, convert.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use burn::prelude::Backend;
use serde_json::json;

use super::safetensors::{Dtype, WeightFiles};
use super::{LoadedModel, ModelConfig, size_on_disk};
use crate::competition::{Competition, Schedule};
use crate::device::{BackendTask, DeviceSpec, dispatch};
use crate::error::user;
use crate::output::{Format, Printer, Table, stdout};

/// Storage dtype of saved weights.
#[derive(Debug, Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum SaveDtype {
    F32,
    Bf16,
    F16,
}

impl From<SaveDtype> for Dtype {
    fn from(d: SaveDtype) -> Dtype {
        match d {
            SaveDtype::F32 => Dtype::F32,
            SaveDtype::Bf16 => Dtype::BF16,
            SaveDtype::F16 => Dtype::F16,
        }
    }
}

/// Compute dtype: float32, or bfloat16 (norms, softmax and losses stay in float32).
#[derive(
    Debug,
    Clone,
    Copy,
    clap::ValueEnum,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ComputeDtype {
    #[default]
    F32,
    Bf16,
}

impl From<ComputeDtype> for super::FloatDType {
    fn from(d: ComputeDtype) -> Self {
        match d {
            ComputeDtype::F32 => super::FloatDType::F32,
            ComputeDtype::Bf16 => super::FloatDType::BF16,
        }
    }
}

/// Parses sizes like `5GB`, `200KB`, `1048576`.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim().to_ascii_uppercase();
    let (num, mult) = [
        ("GIB", 1u64 << 30),
        ("MIB", 1 << 20),
        ("KIB", 1 << 10),
        ("GB", 1_000_000_000),
        ("MB", 1_000_000),
        ("KB", 1000),
        ("B", 1),
    ]
    .iter()
    .find_map(|(suf, m)| t.strip_suffix(suf).map(|n| (n.trim().to_string(), *m)))
    .unwrap_or((t.clone(), 1));
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size (e.g. 5GB, 200KB)"))?;
    if n <= 0.0 {
        return Err(format!("`{s}` must be positive"));
    }
    Ok((n * mult as f64) as u64)
}

#[derive(Debug, clap::Subcommand)]
pub enum ModelCommand {
    /// Create a randomly initialised model from a config.json, as transformers initialises one
    /// (normal(0, initializer_range) weights, zero biases, unit norms).
    Init {
        /// HF config.json (LlamaForCausalLM, MistralForCausalLM or Qwen2ForCausalLM). (sn9's own
        /// settings file goes before the command: `sn9 --config sn9.toml model init ...`.)
        #[arg(long = "config", id = "model_config", value_name = "CONFIG_JSON")]
        config: PathBuf,
        /// Random seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Storage dtype of the weights.
        #[arg(long, value_enum, default_value = "f32")]
        dtype: SaveDtype,
        /// Largest safetensors shard (e.g. 5GB); bigger models are sharded with an index.
        #[arg(long, default_value = "5GB", value_parser = parse_size)]
        max_shard_size: u64,
        /// Output directory.
        out: PathBuf,
    },
    /// Describe a model directory: architecture, parameter count as the subnet counts it, size
    /// on disk, dtype, and which competitions it fits (and why not).
    Info {
        /// Model directory (config.json + safetensors).
        dir: PathBuf,
        /// Check the competitions in force at this block [default: the latest schedule entry].
        #[arg(long, env = "SN9_BLOCK")]
        block: Option<u64>,
        /// Competition schedule (JSON) [default: built-in].
        #[arg(long, env = "SN9_SCHEDULE", value_name = "FILE")]
        schedule: Option<PathBuf>,
    },
    /// Greedy generation with a KV cache (what the validator's sanity check runs).
    Generate {
        /// Model directory.
        dir: PathBuf,
        /// Prompt token ids, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        prompt_ids: Vec<u32>,
        /// Number of new tokens.
        #[arg(long, default_value_t = 20)]
        max_new_tokens: usize,
        /// Device: cpu, cuda:N or wgpu:N.
        #[arg(long, env = "SN9_DEVICE", default_value = "cpu")]
        device: DeviceSpec,
        /// Compute dtype.
        #[arg(long, value_enum, env = "SN9_DTYPE", default_value = "f32")]
        dtype: ComputeDtype,
    },
    /// Load a model and save it again (another dtype or shard size): the round trip through
    /// sn9's loader and writer.
    Convert {
        /// Model directory to read.
        dir: PathBuf,
        /// Output directory.
        out: PathBuf,
        #[arg(long, value_enum, default_value = "bf16")]
        dtype: SaveDtype,
        #[arg(long, default_value = "5GB", value_parser = parse_size)]
        max_shard_size: u64,
    },
}

struct InitTask {
    config: ModelConfig,
    seed: u64,
    dtype: Dtype,
    shard: u64,
    out: PathBuf,
}

impl BackendTask for InitTask {
    type Output = Vec<String>;
    fn run<B: Backend>(self, device: B::Device) -> Result<Vec<String>> {
        LoadedModel::<B>::init(self.config, self.seed, &device)?
            .save(&self.out, self.dtype, self.shard)
    }
}

struct ConvertTask {
    dir: PathBuf,
    out: PathBuf,
    dtype: Dtype,
    shard: u64,
}

impl BackendTask for ConvertTask {
    type Output = Vec<String>;
    fn run<B: Backend>(self, device: B::Device) -> Result<Vec<String>> {
        LoadedModel::<B>::load(&self.dir, &device)?.save(&self.out, self.dtype, self.shard)
    }
}

struct GenerateTask {
    dir: PathBuf,
    prompt: Vec<u32>,
    n: usize,
    dtype: ComputeDtype,
}

impl BackendTask for GenerateTask {
    type Output = Vec<u32>;
    fn run<B: Backend>(self, device: B::Device) -> Result<Vec<u32>> {
        LoadedModel::<B>::load_as(&self.dir, self.dtype.into(), &device)?.generate_greedy(
            &self.prompt,
            self.n,
            &device,
        )
    }
}

/// Why a model does or does not fit a competition.
pub fn fit(config: &ModelConfig, params: u64, bytes: u64, c: &Competition) -> Vec<String> {
    let k = &c.constraints;
    let mut why = Vec::new();
    if !k
        .allowed_architectures
        .iter()
        .any(|a| a == &config.architecture)
    {
        why.push(format!(
            "architecture {} is not allowed ({})",
            config.architecture,
            k.allowed_architectures.join(", ")
        ));
    }
    if params < k.min_model_parameter_size || params > k.max_model_parameter_size {
        why.push(format!(
            "{params} parameters, outside {}..={}",
            k.min_model_parameter_size, k.max_model_parameter_size
        ));
    }
    if bytes > k.max_bytes {
        why.push(format!(
            "{bytes} bytes on disk, over the {} limit",
            k.max_bytes
        ));
    }
    if k.tokenizer.as_deref() == Some("Xenova/gpt-4") && config.vocab_size < 100_277 {
        why.push(format!(
            "vocab_size {} cannot embed the cl100k tokenizer's ids (needs ≥ 100277)",
            config.vocab_size
        ));
    }
    why
}

pub fn run(cmd: ModelCommand, p: &Printer) -> Result<()> {
    let mut w = stdout();
    match cmd {
        ModelCommand::Init {
            config,
            seed,
            dtype,
            max_shard_size,
            out,
        } => {
            let cfg = ModelConfig::from_file(&config)?;
            let params = cfg.parameter_count();
            p.info(format!(
                "initialising {} with {params} parameters (seed {seed})",
                cfg.architecture
            ));
            let files = dispatch(
                DeviceSpec::Cpu,
                InitTask {
                    config: cfg,
                    seed,
                    dtype: dtype.into(),
                    shard: max_shard_size,
                    out: out.clone(),
                },
            )?;
            if p.format == Format::Json {
                writeln!(
                    w,
                    "{}",
                    json!({"dir": out, "parameters": params, "files": files})
                )?;
            } else {
                writeln!(w, "{}", out.display())?;
            }
        }
        ModelCommand::Convert {
            dir,
            out,
            dtype,
            max_shard_size,
        } => {
            if dir == out {
                return Err(user(
                    "convert writes a new directory; give an output different from the input",
                ));
            }
            let files = dispatch(
                DeviceSpec::Cpu,
                ConvertTask {
                    dir,
                    out: out.clone(),
                    dtype: dtype.into(),
                    shard: max_shard_size,
                },
            )?;
            if p.format == Format::Json {
                writeln!(w, "{}", json!({"dir": out, "files": files}))?;
            } else {
                writeln!(w, "{}", out.display())?;
            }
        }
        ModelCommand::Generate {
            dir,
            prompt_ids,
            max_new_tokens,
            device,
            dtype,
        } => {
            let toks = dispatch(
                device,
                GenerateTask {
                    dir,
                    prompt: prompt_ids.clone(),
                    n: max_new_tokens,
                    dtype,
                },
            )?;
            if p.format == Format::Json {
                writeln!(w, "{}", json!({"prompt": prompt_ids, "new_tokens": toks}))?;
            } else {
                writeln!(
                    w,
                    "{}",
                    toks.iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                )?;
            }
        }
        ModelCommand::Info {
            dir,
            block,
            schedule,
        } => {
            let cfg = ModelConfig::from_file(&dir.join("config.json"))?;
            // A directory with only a config.json is fine: it answers "would this fit?" before
            // any training. Weights, when present, must open cleanly.
            let has_weights = dir.join("model.safetensors").exists()
                || dir.join("model.safetensors.index.json").exists();
            let dtype = if has_weights {
                WeightFiles::open(&dir)?
                    .main_dtype()
                    .map(|d| d.torch_name())
                    .unwrap_or("unknown")
            } else {
                "none (config only)"
            };
            let params = cfg.parameter_count();
            let bytes = size_on_disk(&dir)?;
            let schedule = Schedule::load(schedule.as_deref())?;
            let comps = match block {
                Some(b) => schedule.at_block(b).to_vec(),
                None => schedule
                    .entries
                    .last()
                    .map(|e| e.competitions.clone())
                    .unwrap_or_default(),
            };
            let fits: Vec<(u16, String, Vec<String>)> = comps
                .iter()
                .map(|c| (c.id, c.name.clone(), fit(&cfg, params, bytes, c)))
                .collect();
            if p.format == Format::Json {
                let doc = json!({
                    "architecture": cfg.architecture,
                    "parameters": params,
                    "bytes_on_disk": bytes,
                    "dtype": dtype,
                    "layers": cfg.num_hidden_layers,
                    "hidden_size": cfg.hidden_size,
                    "heads": cfg.num_attention_heads,
                    "kv_heads": cfg.num_key_value_heads,
                    "vocab_size": cfg.vocab_size,
                    "tied_embeddings": cfg.tie_word_embeddings,
                    "competitions": fits.iter().map(|(id, name, why)| json!({"id": id, "name": name, "fits": why.is_empty(), "why_not": why})).collect::<Vec<_>>(),
                });
                writeln!(w, "{doc}")?;
            } else {
                writeln!(w, "architecture  {}", cfg.architecture)?;
                writeln!(w, "parameters    {params}")?;
                writeln!(w, "size on disk  {bytes} bytes")?;
                writeln!(w, "dtype         {dtype}")?;
                writeln!(
                    w,
                    "shape         {} layers, d {}, {} heads / {} kv, vocab {}{}",
                    cfg.num_hidden_layers,
                    cfg.hidden_size,
                    cfg.num_attention_heads,
                    cfg.num_key_value_heads,
                    cfg.vocab_size,
                    if cfg.tie_word_embeddings {
                        ", tied embeddings"
                    } else {
                        ""
                    }
                )?;
                writeln!(w)?;
                let mut t = Table::new(["competition", "fits", "why not"]);
                for (id, name, why) in &fits {
                    t.row([
                        format!("{id} {name}"),
                        if why.is_empty() {
                            "yes".into()
                        } else {
                            "no".into()
                        },
                        why.join("; "),
                    ]);
                }
                t.write(&mut w)?;
            }
        }
    }
    w.flush()?;
    Ok(())
}
