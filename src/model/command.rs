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
        /// HF config.json (Llama, Mistral, Qwen2, Gemma, Gemma2 or Phi ...ForCausalLM), or an
        /// E2TTS config.json (mel_spectrogram, backbone, odeint, sampling sections).
        #[arg(long = "model-config", id = "model_config", value_name = "CONFIG_JSON")]
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
        /// E2TTS only: the vocab.txt to use [default: space, a–z, 0–9, apostrophe and common
        /// punctuation, one per line].
        #[arg(long, value_name = "VOCAB_TXT")]
        vocab: Option<PathBuf>,
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

/// What the competition checks read of a model directory.
#[derive(Debug, Clone)]
pub struct Described {
    pub architecture: String,
    /// A text model's vocabulary size (None for E2TTS).
    pub vocab_size: Option<usize>,
    /// Parameters as the subnet counts them.
    pub parameters: u64,
}

/// Reads a model directory's config.json (and, for E2TTS, vocab.txt) for the competition checks.
pub fn describe_dir(dir: &std::path::Path) -> Result<Described> {
    let path = dir.join("config.json");
    let text = crate::output::read_text(&path, crate::output::Limit::ModelJson)?;
    let raw: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| user(format!("{}: not valid JSON ({e})", path.display())))?;
    if crate::tts::is_e2tts(&raw) {
        let (cfg, _) = crate::tts::E2ttsConfig::from_dir(dir)?;
        Ok(Described {
            architecture: "E2TTS".into(),
            vocab_size: None,
            parameters: cfg.backbone.parameter_count(),
        })
    } else {
        let cfg = ModelConfig::from_file(&path)?;
        Ok(Described {
            architecture: cfg.architecture.clone(),
            vocab_size: Some(cfg.vocab_size),
            parameters: cfg.parameter_count(),
        })
    }
}

/// Why a model does or does not fit a competition.
/// `vocab_size` is a text model's (None for E2TTS, whose tokenizer is the `e2tts` sentinel).
/// [`fit`], plus what a miner must know before training or uploading: a class the competition
/// accepts but the reference validator cannot score (Falcon, GPT-NeoX, Bart) scores `inf` on
/// every batch. (Evaluation uses [`fit`] alone: such a model loads, and where no task has data
/// the reference scores it 0 like any loadable model.)
pub fn fit_to_compete(
    architecture: &str,
    vocab_size: Option<usize>,
    params: u64,
    bytes: u64,
    c: &Competition,
) -> Vec<String> {
    let mut why = fit(architecture, vocab_size, params, bytes, c);
    if c.constraints.tokenizer.as_deref() != Some("e2tts")
        && let Some(reason) = crate::model::config::unscorable_reason(architecture)
    {
        why.push(reason);
    }
    why
}

pub fn fit(
    architecture: &str,
    vocab_size: Option<usize>,
    params: u64,
    bytes: u64,
    c: &Competition,
) -> Vec<String> {
    let k = &c.constraints;
    let mut why = Vec::new();
    if !k.allowed_architectures.iter().any(|a| a == architecture) {
        why.push(format!(
            "architecture {architecture} is not allowed ({})",
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
    if let Some(v) = vocab_size
        && k.tokenizer.as_deref() == Some("Xenova/gpt-4")
        && v < 100_277
    {
        why.push(format!(
            "vocab_size {v} cannot embed the cl100k tokenizer's ids (needs ≥ 100277)"
        ));
    }
    why
}

/// A JSON file's value, or None when it is not JSON (the text loader then says why).
fn read_json(path: &std::path::Path) -> Result<Option<serde_json::Value>> {
    let text = crate::output::read_text(path, crate::output::Limit::ModelJson)?;
    Ok(serde_json::from_str(&text).ok())
}

/// The competitions in force at `block` (or the latest entry).
fn competitions_at(
    block: Option<u64>,
    schedule: Option<&std::path::Path>,
) -> Result<Vec<Competition>> {
    let schedule = Schedule::load(schedule)?;
    Ok(match block {
        Some(b) => schedule.at_block(b).to_vec(),
        None => schedule
            .entries
            .last()
            .map(|e| e.competitions.clone())
            .unwrap_or_default(),
    })
}

fn fit_table(w: &mut impl Write, fits: &[(u16, String, Vec<String>)]) -> Result<()> {
    let mut t = Table::new(["competition", "fits", "why not"]);
    for (id, name, why) in fits {
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
    t.write(w)?;
    Ok(())
}

/// `sn9 model init` for an E2TTS config: PyTorch-style random weights, the config as given,
/// a vocab.txt.
fn init_e2tts(
    raw: serde_json::Value,
    config: &std::path::Path,
    vocab: Option<PathBuf>,
    seed: u64,
    out: &std::path::Path,
    p: &Printer,
) -> Result<()> {
    let vocab_txt = match &vocab {
        Some(v) => crate::output::read_text(v, crate::output::Limit::ModelJson)?,
        None => crate::tts::e2tts::default_vocab_txt(),
    };
    let parsed = crate::tts::text::Vocab::parse(vocab_txt.as_bytes())?;
    let cfg = crate::tts::E2ttsConfig::from_value(raw.clone(), parsed.size(), config)?;
    let params = cfg.backbone.parameter_count();
    p.info(format!(
        "initialising E2TTS with {params} parameters, {} vocabulary entries (seed {seed})",
        parsed.size()
    ));
    let w = crate::tts::e2tts::init_weights(&cfg.backbone, seed);
    let files = crate::tts::e2tts::save_dir(out, &raw, &vocab_txt, &cfg.backbone, &w)?;
    print_written(out, Some(params), &files, p)
}

/// What `init` and `convert` print: the directory (with `--json`: its files and parameters).
fn print_written(
    out: &std::path::Path,
    params: Option<u64>,
    files: &[String],
    p: &Printer,
) -> Result<()> {
    let mut o = stdout();
    if p.format == Format::Json {
        let mut doc = json!({"dir": out, "files": files});
        if let Some(n) = params {
            doc["parameters"] = json!(n);
        }
        writeln!(o, "{doc}")?;
    } else {
        writeln!(o, "{}", out.display())?;
    }
    o.flush()?;
    Ok(())
}

/// `sn9 model info` for an E2TTS directory (or a bare config.json + vocab.txt).
fn info_e2tts(
    dir: &std::path::Path,
    block: Option<u64>,
    schedule: Option<&std::path::Path>,
    p: &Printer,
) -> Result<()> {
    let (cfg, vocab) = crate::tts::E2ttsConfig::from_dir(dir)?;
    let st = dir.join("model.safetensors");
    let dtype = if st.exists() {
        super::safetensors::SafeFile::open(&st)?
            .tensors
            .values()
            .next()
            .map(|i| i.dtype.torch_name())
            .unwrap_or("unknown")
    } else {
        "none (config only)"
    };
    let params = cfg.backbone.parameter_count();
    let bytes = size_on_disk(dir)?;
    let fits: Vec<(u16, String, Vec<String>)> = competitions_at(block, schedule)?
        .iter()
        .map(|c| (c.id, c.name.clone(), fit("E2TTS", None, params, bytes, c)))
        .collect();
    let b = &cfg.backbone;
    let mut w = stdout();
    if p.format == Format::Json {
        let doc = json!({
            "architecture": "E2TTS",
            "parameters": params,
            "bytes_on_disk": bytes,
            "dtype": dtype,
            "dim": b.dim,
            "depth": b.depth,
            "heads": b.heads,
            "dim_head": b.dim_head,
            "text_dim": b.text_dim,
            "conv_layers": b.conv_layers,
            "vocab_size": vocab.size(),
            "mel_channels": cfg.mel.n_mel_channels,
            "nfe_step": cfg.sampling.nfe_step,
            "cfg_strength": cfg.sampling.cfg_strength,
            "competitions": fits.iter().map(|(id, name, why)| json!({"id": id, "name": name, "fits": why.is_empty(), "why_not": why})).collect::<Vec<_>>(),
        });
        writeln!(w, "{doc}")?;
    } else {
        writeln!(w, "architecture  E2TTS")?;
        writeln!(w, "parameters    {params}")?;
        writeln!(w, "size on disk  {bytes} bytes")?;
        writeln!(w, "dtype         {dtype}")?;
        writeln!(
            w,
            "shape         UNetT {} layers, dim {}, {} heads × {}, text dim {}, {} conv layers, vocab {}",
            b.depth,
            b.dim,
            b.heads,
            b.dim_head,
            b.text_dim,
            b.conv_layers,
            vocab.size()
        )?;
        writeln!(
            w,
            "sampling      {} steps, cfg {}, sway {}, target_rms {}",
            cfg.sampling.nfe_step,
            cfg.sampling.cfg_strength,
            cfg.sampling
                .sway_sampling_coef
                .map_or("none".to_string(), |s| s.to_string()),
            cfg.sampling.target_rms
        )?;
        writeln!(w)?;
        fit_table(&mut w, &fits)?;
    }
    w.flush()?;
    Ok(())
}

pub fn run(cmd: ModelCommand, p: &Printer) -> Result<()> {
    let mut w = stdout();
    match cmd {
        ModelCommand::Init {
            config,
            seed,
            dtype,
            max_shard_size,
            vocab,
            out,
        } => {
            if let Some(raw) = read_json(&config)?
                && crate::tts::is_e2tts(&raw)
            {
                return init_e2tts(raw, &config, vocab, seed, &out, p);
            }
            if vocab.is_some() {
                return Err(user(
                    "--vocab is for E2TTS configs; a text model's vocabulary is its tokenizer",
                ));
            }
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
            print_written(&out, Some(params), &files, p)?;
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
            print_written(&out, None, &files, p)?;
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
            if let Some(raw) = read_json(&dir.join("config.json"))?
                && crate::tts::is_e2tts(&raw)
            {
                return info_e2tts(&dir, block, schedule.as_deref(), p);
            }
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
            let comps = competitions_at(block, schedule.as_deref())?;
            let fits: Vec<(u16, String, Vec<String>)> = comps
                .iter()
                .map(|c| {
                    (
                        c.id,
                        c.name.clone(),
                        fit_to_compete(&cfg.architecture, Some(cfg.vocab_size), params, bytes, c),
                    )
                })
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
                fit_table(&mut w, &fits)?;
            }
        }
    }
    w.flush()?;
    Ok(())
}
