//! `sn9 model ...`: init, info, generate, forward, convert.

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
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
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
        /// Model directory (config.json + safetensors), or a bare config.json.
        dir: PathBuf,
        /// Check the competitions in force at this block [default: the latest schedule entry].
        #[arg(long, env = "SN9_BLOCK")]
        block: Option<u64>,
        /// Competition schedule (JSON) [default: built-in].
        #[arg(long, env = "SN9_SCHEDULE", value_name = "FILE")]
        schedule: Option<PathBuf>,
        #[command(flatten)]
        memory: MemoryArgs,
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
    /// One forward pass over token ids: per row the validator's loss (mean next-token
    /// cross-entropy) and per position the logits' argmax, max and sum (JSON Lines with --json);
    /// the full logits as a NumPy file with --logits. For checking a device or a conversion
    /// against another implementation.
    Forward {
        /// Model directory.
        dir: PathBuf,
        /// Token ids: a JSON file (`{"input_ids": [[...], ...]}` as tokenizers write it, or
        /// `[[...], ...]`), or JSON Lines of arrays; `-` reads stdin. Rows of equal length.
        #[arg(long, value_name = "FILE")]
        ids: PathBuf,
        /// Also write the logits, float32 `[rows, tokens, vocab]`, as a .npy file.
        #[arg(long, value_name = "NPY")]
        logits: Option<PathBuf>,
        /// Device: cpu, cuda:N or wgpu:N.
        #[arg(long, env = "SN9_DEVICE", default_value = "cpu")]
        device: DeviceSpec,
        /// Compute dtype.
        #[arg(long, value_enum, env = "SN9_DTYPE", default_value = "f32")]
        dtype: ComputeDtype,
    },
    /// Time the evaluation computation (forward and the validator's loss) on a device: tokens/s
    /// (median of --iters runs after a warm-up) and, with --peak-tflops, the model FLOPs
    /// utilisation. One JSON line on stdout.
    Bench {
        /// Model directory.
        dir: PathBuf,
        /// Tokens per sequence.
        #[arg(long, default_value_t = 4096)]
        seq_len: usize,
        /// Sequences per batch.
        #[arg(long, default_value_t = 1)]
        batch_size: usize,
        /// Timed runs (after one untimed warm-up).
        #[arg(long, default_value_t = 5)]
        iters: usize,
        /// Device: cpu, cuda:N or wgpu:N.
        #[arg(long, env = "SN9_DEVICE", default_value = "cpu")]
        device: DeviceSpec,
        /// Compute dtype.
        #[arg(long, value_enum, env = "SN9_DTYPE", default_value = "f32")]
        dtype: ComputeDtype,
        /// Peak FLOP/s of the device in TFLOP/s, for the MFU (e.g. 989 for an H100's dense bf16).
        #[arg(long)]
        peak_tflops: Option<f64>,
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

/// `model info --memory`: the peak memory of evaluation and training.
#[derive(Debug, Clone, clap::Args)]
pub struct MemoryArgs {
    /// Also estimate the peak memory of `sn9 eval` and `sn9 train` on one device (weights,
    /// optimiser state, activations, loss), from the config alone.
    #[arg(long)]
    pub memory: bool,
    /// Tokens per sequence for the estimate.
    #[arg(long, default_value_t = 4096, requires = "memory")]
    pub seq_len: usize,
    /// Sequences per (micro-)batch for the estimate.
    #[arg(long, default_value_t = 1, requires = "memory")]
    pub batch_size: usize,
    /// Micro-batches per optimiser step for the training estimate.
    #[arg(long, default_value_t = 1, requires = "memory")]
    pub grad_accum: usize,
    /// Compute dtype for the estimate (training keeps float32 master weights either way).
    #[arg(long, value_enum, default_value = "bf16", requires = "memory")]
    pub dtype: ComputeDtype,
    /// The device it would run on (cpu, cuda:N, wgpu:N): GPU backends hold attention scores and
    /// a runtime context.
    #[arg(long, env = "SN9_DEVICE", default_value = "cpu", requires = "memory")]
    pub device: DeviceSpec,
    /// Memory of that device in GiB, to say whether it fits [default: the host's available
    /// memory for cpu; none for a GPU].
    #[arg(long, value_name = "GIB", requires = "memory")]
    pub device_memory_gib: Option<f64>,
}

/// `mapped` is the size of the weight files the estimate assumes are loaded (memory-mapped).
fn memory_doc(cfg: &ModelConfig, m: &MemoryArgs, mapped: u64) -> Result<serde_json::Value> {
    use super::memory::{Workload, eval, train};
    if m.seq_len == 0 || m.batch_size == 0 {
        return Err(user("--seq-len and --batch-size must be at least 1"));
    }
    let w = Workload {
        batch: m.batch_size,
        seq_len: m.seq_len,
        dtype_bytes: if m.dtype == ComputeDtype::Bf16 { 2 } else { 4 },
        gpu: m.device != DeviceSpec::Cpu,
        grad_accum: m.grad_accum.max(1),
        mapped_bytes: if m.device == DeviceSpec::Cpu {
            mapped
        } else {
            0
        },
    };
    let limit = match (m.device_memory_gib, m.device) {
        (Some(g), _) if g.is_finite() && g > 0.0 => Some((g * (1u64 << 30) as f64) as u64),
        (Some(g), _) => {
            return Err(user(format!(
                "--device-memory-gib {g}: give a positive size in GiB (e.g. 80)"
            )));
        }
        (None, DeviceSpec::Cpu) => crate::device::host_memory_available(),
        (None, _) => None,
    };
    let part = |e: super::memory::Estimate| {
        json!({
            "bytes": e.total(),
            "fits": limit.map(|l| e.total() <= l),
            "parts": e.parts.iter().map(|p| json!({"what": p.what, "bytes": p.bytes})).collect::<Vec<_>>(),
        })
    };
    Ok(json!({
        "seq_len": m.seq_len,
        "batch_size": m.batch_size,
        "dtype": if m.dtype == ComputeDtype::Bf16 { "bf16" } else { "f32" },
        "device": m.device.to_string(),
        "device_bytes": limit,
        "eval": part(eval(cfg, w)),
        "train": part(train(cfg, w)),
    }))
}

fn memory_text(w: &mut impl Write, doc: &serde_json::Value) -> Result<()> {
    use crate::output::human_bytes;
    let limit = doc["device_bytes"].as_u64();
    writeln!(
        w,
        "memory        {} tokens × {} per batch, {}, on {}{}",
        doc["seq_len"],
        doc["batch_size"],
        doc["dtype"].as_str().unwrap_or(""),
        doc["device"].as_str().unwrap_or(""),
        limit.map_or(String::new(), |l| format!(" ({})", human_bytes(l)))
    )?;
    for (key, name) in [("eval", "evaluation"), ("train", "training")] {
        let e = &doc[key];
        let fits = match e["fits"].as_bool() {
            Some(true) => "  fits",
            Some(false) => "  DOES NOT FIT",
            None => "",
        };
        writeln!(
            w,
            "  {name:<11} {}{fits}",
            human_bytes(e["bytes"].as_u64().unwrap_or(0))
        )?;
        for p in e["parts"].as_array().into_iter().flatten() {
            writeln!(
                w,
                "    {:>10}  {}",
                human_bytes(p["bytes"].as_u64().unwrap_or(0)),
                p["what"].as_str().unwrap_or("")
            )?;
        }
    }
    Ok(())
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

/// Token-id rows from a JSON document or JSON Lines (see `model forward --ids`).
fn read_id_rows(path: &std::path::Path) -> Result<Vec<Vec<u32>>> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(
            &mut std::io::Read::take(std::io::stdin(), crate::output::Limit::Document.bytes()),
            &mut s,
        )?;
        s
    } else {
        crate::output::read_text(path, crate::output::Limit::Document)?
    };
    let bad = |why: String| {
        user(format!(
            "{}: {why}; give {{\"input_ids\": [[...], ...]}}, [[...], ...] or one [...] per line",
            path.display()
        ))
    };
    let rows: Vec<Vec<u32>> = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(mut o)) => {
            let v = o
                .remove("input_ids")
                .ok_or_else(|| bad("no `input_ids`".into()))?;
            serde_json::from_value(v).map_err(|e| bad(e.to_string()))?
        }
        Ok(v @ serde_json::Value::Array(_)) => {
            serde_json::from_value(v).map_err(|e| bad(e.to_string()))?
        }
        _ => text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str::<Vec<u32>>(l).map_err(|e| bad(format!("line {}: {e}", i + 1)))
            })
            .collect::<Result<_>>()?,
    };
    let t = rows.first().map_or(0, |r| r.len());
    if rows.is_empty() || t == 0 {
        return Err(bad("no token ids".into()));
    }
    if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != t) {
        return Err(bad(format!(
            "row {i} has {} ids, row 0 has {t}; rows must be of equal length",
            r.len()
        )));
    }
    Ok(rows)
}

/// What `model forward` computes for one row.
pub struct ForwardRow {
    pub loss: f64,
    pub argmax: Vec<u32>,
    pub max: Vec<f32>,
    pub sum: Vec<f64>,
}

struct ForwardTask {
    dir: PathBuf,
    rows: Vec<Vec<u32>>,
    dtype: ComputeDtype,
    logits: Option<PathBuf>,
}

impl BackendTask for ForwardTask {
    type Output = Vec<ForwardRow>;
    fn run<B: Backend>(self, device: B::Device) -> Result<Vec<ForwardRow>> {
        use burn::prelude::*;
        let model = LoadedModel::<B>::load_as(&self.dir, self.dtype.into(), &device)?;
        let (b, t) = (self.rows.len(), self.rows[0].len());
        let vocab = model.config.vocab_size;
        if let Some(bad) = self.rows.iter().flatten().find(|&&x| x as usize >= vocab) {
            return Err(user(format!(
                "token id {bad} is outside the model's vocabulary of {vocab}"
            )));
        }
        let flat: Vec<i32> = self.rows.iter().flatten().map(|&x| x as i32).collect();
        let ids = Tensor::<B, 2, Int>::from_data(TensorData::new(flat, [b, t]), &device);
        let rope = model.rope_covering(t);
        let h = model.lm.hidden(ids.clone(), &rope, None);
        let losses: Vec<f32> = model
            .lm
            .masked_ce_sum(h.clone(), ids, None, 512)
            .div_scalar((t.max(2) - 1) as f64)
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let logits: Vec<f32> = super::llama::to_f32(model.lm.logits(h))
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let v = logits.len() / (b * t);
        if let Some(path) = &self.logits {
            crate::output::write_atomic(path, &npy_f32(&logits, &[b, t, v]))?;
        }
        Ok((0..b)
            .map(|r| {
                let mut row = ForwardRow {
                    loss: losses[r] as f64,
                    argmax: Vec::with_capacity(t),
                    max: Vec::with_capacity(t),
                    sum: Vec::with_capacity(t),
                };
                for p in 0..t {
                    let x = &logits[(r * t + p) * v..(r * t + p + 1) * v];
                    let (i, m) = x
                        .iter()
                        .enumerate()
                        .fold(
                            (0, f32::NEG_INFINITY),
                            |a, (i, &y)| {
                                if y > a.1 { (i, y) } else { a }
                            },
                        );
                    row.argmax.push(i as u32);
                    row.max.push(m);
                    row.sum.push(x.iter().map(|&y| y as f64).sum());
                }
                row
            })
            .collect())
    }
}

/// A NumPy `.npy` (format 1.0, little-endian float32, C order) of `data` with `shape`.
pub fn npy_f32(data: &[f32], shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + header length (2) + header + '\n', padded to 64 bytes.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for x in data {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

struct BenchTask {
    dir: PathBuf,
    batch: usize,
    seq_len: usize,
    iters: usize,
    dtype: ComputeDtype,
}

impl BackendTask for BenchTask {
    type Output = (Vec<f64>, f32, ModelConfig);
    fn run<B: Backend>(self, device: B::Device) -> Result<Self::Output> {
        let model = LoadedModel::<B>::load_as(&self.dir, self.dtype.into(), &device)?;
        let (times, loss) = model.time_eval(self.batch, self.seq_len, self.iters, &device)?;
        Ok((times, loss, model.config))
    }
}

/// Forward FLOPs of `tokens` tokens in sequences of `seq_len`: 2·N per token for the matrices
/// (N without the embedding table) plus 2·L·T·d for the attention scores and their use.
pub fn forward_flops(cfg: &ModelConfig, tokens: usize, seq_len: usize) -> f64 {
    let n = cfg
        .parameter_count()
        .saturating_sub((cfg.vocab_size * cfg.hidden_size) as u64);
    2.0 * n as f64 * tokens as f64
        + 2.0 * (cfg.num_hidden_layers * seq_len * cfg.hidden_size) as f64 * tokens as f64
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
        ModelCommand::Bench {
            dir,
            seq_len,
            batch_size,
            iters,
            device,
            dtype,
            peak_tflops,
        } => {
            if seq_len < 2 || batch_size == 0 || iters == 0 {
                return Err(user(
                    "--seq-len must be at least 2, --batch-size and --iters at least 1",
                ));
            }
            let (times, loss, cfg) = dispatch(
                device,
                BenchTask {
                    dir,
                    batch: batch_size,
                    seq_len,
                    iters,
                    dtype,
                },
            )?;
            let median = times[times.len() / 2];
            let tokens = batch_size * seq_len;
            let mfu = peak_tflops
                .map(|peak| forward_flops(&cfg, tokens, seq_len) / median / (peak * 1e12));
            writeln!(
                w,
                "{}",
                json!({"impl": format!("sn9-{device}"), "dtype": format!("{dtype:?}").to_lowercase(),
                       "seq_len": seq_len, "batch_size": batch_size, "median_s": median,
                       "tokens_per_s": tokens as f64 / median, "loss": loss, "mfu": mfu,
                       "peak_host_bytes": crate::device::peak_host_memory()})
            )?;
        }
        ModelCommand::Forward {
            dir,
            ids,
            logits,
            device,
            dtype,
        } => {
            let rows = read_id_rows(&ids)?;
            let out = dispatch(
                device,
                ForwardTask {
                    dir,
                    rows,
                    dtype,
                    logits,
                },
            )?;
            for (i, r) in out.iter().enumerate() {
                if p.format == Format::Json {
                    writeln!(
                        w,
                        "{}",
                        json!({"row": i, "tokens": r.argmax.len(), "loss": r.loss,
                               "argmax": r.argmax, "max": r.max, "sum": r.sum})
                    )?;
                } else {
                    writeln!(
                        w,
                        "row {i}: loss {:.6}, argmax {}",
                        r.loss,
                        r.argmax
                            .iter()
                            .map(|t| t.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    )?;
                }
            }
        }
        ModelCommand::Info {
            dir,
            block,
            schedule,
            memory,
        } => {
            // A bare config.json answers "would this fit?" like a directory without weights.
            let (dir, config_path) = if dir.is_file() {
                let parent = dir.parent().map(PathBuf::from).unwrap_or_default();
                (parent, dir)
            } else {
                (dir.clone(), dir.join("config.json"))
            };
            let bare = config_path.file_name() != Some(std::ffi::OsStr::new("config.json"))
                || !config_path.starts_with(&dir);
            if let Some(raw) = read_json(&config_path)?
                && crate::tts::is_e2tts(&raw)
            {
                if memory.memory {
                    return Err(user(
                        "--memory estimates the text models; an E2TTS model has no estimate yet",
                    ));
                }
                return info_e2tts(&dir, block, schedule.as_deref(), p);
            }
            let cfg = ModelConfig::from_file(&config_path)?;
            // A directory with only a config.json is fine: it answers "would this fit?" before
            // any training. Weights, when present, must open cleanly.
            let has_weights = !bare
                && (dir.join("model.safetensors").exists()
                    || dir.join("model.safetensors.index.json").exists());
            let mem = if memory.memory {
                // The files a load maps: these, or bf16 ones as models are published.
                let mapped = if has_weights {
                    WeightFiles::open(&dir)?
                        .files
                        .iter()
                        .map(|f| std::fs::metadata(&f.path).map_or(0, |m| m.len()))
                        .sum()
                } else {
                    cfg.parameter_count().saturating_mul(2)
                };
                Some(memory_doc(&cfg, &memory, mapped)?)
            } else {
                None
            };
            let dtype = if has_weights {
                WeightFiles::open(&dir)?
                    .main_dtype()
                    .map(|d| d.torch_name())
                    .unwrap_or("unknown")
            } else {
                "none (config only)"
            };
            let params = cfg.parameter_count();
            let bytes = if bare { 0 } else { size_on_disk(&dir)? };
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
                    "memory": mem,
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
                if let Some(m) = &mem {
                    memory_text(&mut w, m)?;
                }
                writeln!(w)?;
                fit_table(&mut w, &fits)?;
            }
        }
    }
    w.flush()?;
    Ok(())
}
