//! `sn9 train --data SHARDS --model CONFIG.json|MODEL_DIR --out RUN_DIR`.
//!
//! Run directory:
//! * `run.json`: the resolved settings (a resumed run keeps them; changing one that shapes the
//!   trajectory is refused);
//! * `metrics.jsonl`: one JSON object per step (`kind` `train`) and per validation (`val`);
//! * `checkpoints/step-NNNNNNNN/` + `checkpoints/latest` (see [`super::checkpoint`]);
//! * `model/`: the final model in Hugging Face format (`--save-dtype`, bf16 by default).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Result;
use burn::backend::Autodiff;
use burn::module::AutodiffModule;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::checkpoint::{self, TrainerState};
use super::data::{Split, Stream};
use super::optim::{AdamW, AdamWState};
use super::schedule::{Decay, Schedule};
use crate::competition::Schedule as CompetitionSchedule;
use crate::data::shards::Shards;
use crate::device::{MultiDeviceTask, dispatch_many, parse_list};
use crate::error::{Interrupted, user};
use crate::model::command::ComputeDtype;
use crate::model::safetensors::Dtype;
use crate::model::{LoadedModel, ModelConfig, Rope};
use crate::output::{Format, Printer, stdout};
use crate::settings::ConfigFile;

#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// Token-shard directory from `sn9 data pack`.
    #[arg(long, env = "SN9_TRAIN_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// A Hugging Face config.json (fresh model) or a model directory (continue training it).
    #[arg(long, env = "SN9_TRAIN_MODEL", value_name = "CONFIG_OR_DIR")]
    pub model: Option<PathBuf>,
    /// Run directory: metrics, checkpoints and the final model.
    #[arg(long, env = "SN9_TRAIN_OUT", value_name = "RUN_DIR")]
    pub out: Option<PathBuf>,
    /// Continue the run in --out from its latest checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Optimiser steps in total [default: 1000].
    #[arg(long, env = "SN9_TRAIN_STEPS")]
    pub steps: Option<u64>,
    /// Sequences per micro-batch [default: 8].
    #[arg(long, env = "SN9_TRAIN_BATCH_SIZE")]
    pub batch_size: Option<usize>,
    /// Micro-batches per optimiser step; their gradients are averaged [default: 1].
    #[arg(long, env = "SN9_TRAIN_GRAD_ACCUM")]
    pub grad_accum: Option<usize>,
    /// Peak learning rate [default: 3e-4].
    #[arg(long, env = "SN9_TRAIN_LR")]
    pub lr: Option<f64>,
    /// Learning rate at the end of the decay [default: lr / 10].
    #[arg(long, env = "SN9_TRAIN_MIN_LR")]
    pub min_lr: Option<f64>,
    /// Linear warmup steps [default: 100, at most steps / 10].
    #[arg(long, env = "SN9_TRAIN_WARMUP_STEPS")]
    pub warmup_steps: Option<u64>,
    /// Decay after warmup [default: cosine].
    #[arg(long, value_enum, env = "SN9_TRAIN_DECAY")]
    pub decay: Option<Decay>,
    /// AdamW β₁ [default: 0.9].
    #[arg(long, env = "SN9_TRAIN_BETA1")]
    pub beta1: Option<f64>,
    /// AdamW β₂ [default: 0.95].
    #[arg(long, env = "SN9_TRAIN_BETA2")]
    pub beta2: Option<f64>,
    /// AdamW ε [default: 1e-8].
    #[arg(long, env = "SN9_TRAIN_EPS")]
    pub eps: Option<f64>,
    /// Decoupled weight decay [default: 0.1].
    #[arg(long, env = "SN9_TRAIN_WEIGHT_DECAY")]
    pub weight_decay: Option<f64>,
    /// Decay norm weights and biases too (by default only matrices decay).
    #[arg(long, env = "SN9_TRAIN_DECAY_ALL")]
    pub decay_all: Option<bool>,
    /// Clip gradients to this global L2 norm; 0 disables [default: 1.0].
    #[arg(long, env = "SN9_TRAIN_CLIP")]
    pub clip: Option<f64>,
    /// Seed of the initial weights, the validation split and the data order [default: 0].
    #[arg(long, env = "SN9_TRAIN_SEED")]
    pub seed: Option<u64>,
    /// Sequences held out for validation; 0 disables [default: 5% of the shards, at most 64].
    #[arg(long, env = "SN9_TRAIN_VAL_SEQUENCES")]
    pub val_sequences: Option<u64>,
    /// Validate every N steps (and at the end); 0 only at the end [default: 100].
    #[arg(long, env = "SN9_TRAIN_EVAL_EVERY")]
    pub eval_every: Option<u64>,
    /// Checkpoint every N steps (and at the end and on SIGINT/SIGTERM) [default: 500].
    #[arg(long, env = "SN9_TRAIN_SAVE_EVERY")]
    pub save_every: Option<u64>,
    /// Checkpoints to keep [default: 3].
    #[arg(long, env = "SN9_TRAIN_KEEP")]
    pub keep: Option<usize>,
    /// Without a terminal, print a progress line every N steps [default: 10].
    #[arg(long, env = "SN9_TRAIN_LOG_EVERY")]
    pub log_every: Option<u64>,
    /// Dtype of the final model in RUN_DIR/model [default: bf16]; checkpoints are always f32.
    #[arg(long, env = "SN9_TRAIN_SAVE_DTYPE")]
    pub save_dtype: Option<String>,
    /// Refuse to start unless the model would be accepted in this competition.
    #[arg(long, env = "SN9_COMPETITION")]
    pub competition: Option<u16>,
    /// Competition schedule (JSON) [default: built-in].
    #[arg(long, env = "SN9_SCHEDULE", value_name = "FILE")]
    pub schedule: Option<PathBuf>,
    /// Peak FLOP/s of the device in TFLOP/s, for the MFU column (e.g. 989 for an H100's bf16
    /// dense peak); without it MFU is not reported.
    #[arg(long, env = "SN9_PEAK_TFLOPS")]
    pub peak_tflops: Option<f64>,
    /// Device: cpu, cuda:N or wgpu:N; several (`cuda:0,cuda:1,...`) train data-parallel, one
    /// replica per device, each taking --batch-size sequences per micro-batch [default: cpu].
    #[arg(long, env = "SN9_DEVICE", value_name = "DEVICES")]
    pub device: Option<String>,
    /// Compute dtype: f32, or bf16 activations and matmuls with float32 master weights,
    /// gradients and optimiser state (explicit casts; for GPUs) [default: f32; bf16 with --engine
    /// torchtitan].
    #[arg(long, value_enum, env = "SN9_DTYPE")]
    pub dtype: Option<ComputeDtype>,
    /// Stream the per-step metrics as CSV on stdout.
    #[arg(long)]
    pub csv: bool,
    /// Who trains: sn9 (this process, on --device), or torchtitan (write a multi-GPU,
    /// multi-node job directory to --out instead; see `sn9 train import-job`) [default: sn9].
    #[arg(long, value_enum, env = "SN9_TRAIN_ENGINE")]
    pub engine: Option<Engine>,
    /// torchtitan: nodes of the job [default: 1].
    #[arg(long, env = "SN9_TRAIN_NODES")]
    pub nodes: Option<usize>,
    /// torchtitan: GPUs per node [default: 8].
    #[arg(long, env = "SN9_TRAIN_GPUS_PER_NODE")]
    pub gpus_per_node: Option<usize>,
    /// torchtitan: sequences per optimiser step; a multiple of nodes × GPUs × --batch-size
    /// (it sets the accumulation) [default: nodes × GPUs × --batch-size × --grad-accum].
    #[arg(long, env = "SN9_TRAIN_GLOBAL_BATCH_SIZE")]
    pub global_batch_size: Option<usize>,
    #[command(subcommand)]
    pub command: Option<TrainCommand>,
}

/// Who runs the training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Sn9,
    Torchtitan,
}

#[derive(Debug, clap::Subcommand)]
pub enum TrainCommand {
    /// Bring a torchtitan job's checkpoint back as a Hugging Face model directory (bf16), for
    /// `sn9 eval`, `sn9 model info` and `sn9 hub push`.
    ImportJob(super::titan::ImportArgs),
}

/// Settings that shape the loss curve: a resumed run must keep them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    pub data: PathBuf,
    pub manifest_sha256: String,
    pub model: PathBuf,
    pub batch_size: usize,
    pub grad_accum: usize,
    pub schedule: Schedule,
    pub adamw: AdamW,
    pub clip: f64,
    pub seed: u64,
    pub val_sequences: u64,
    pub dtype: ComputeDtype,
    /// Data-parallel replicas (devices); the step's batch is replicas × grad_accum × batch_size.
    pub replicas: usize,
}

/// Everything `run.json` records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub schema: String,
    pub trajectory: Trajectory,
    pub eval_every: u64,
    pub save_every: u64,
    pub keep: usize,
    pub log_every: u64,
    pub save_dtype: String,
    pub competition: Option<u16>,
    pub peak_tflops: Option<f64>,
    pub device: String,
}

pub(crate) fn sha256_file(p: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut f =
        std::fs::File::open(p).map_err(|e| user(format!("cannot read {}: {e}", p.display())))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| user(format!("cannot read {}: {e}", p.display())))?;
    Ok(format!("{:x}", h.finalize()))
}

/// Resolves the settings: flag > env > config file > `saved` (the run's `run.json` on
/// `--resume`) > default.
fn resolve(
    a: &TrainArgs,
    top: &ConfigFile,
    total_seqs: u64,
    saved: Option<&Settings>,
) -> Result<(Settings, PathBuf)> {
    let cfg = top;
    let s = "train";
    let req = |v: Option<PathBuf>, key: &str| -> Result<PathBuf> {
        v.ok_or_else(|| {
            user(format!(
                "--{key} is required (or SN9_TRAIN_{} / `{key}` in the [train] section of the config file)",
                key.to_uppercase()
            ))
        })
    };
    let out = req(cfg.resolve_path(a.out.clone(), s, "out")?, "out")?;
    let t0 = saved.map(|s| &s.trajectory);
    let data = req(
        cfg.resolve_path(a.data.clone(), s, "data")?
            .or(t0.map(|t| t.data.clone())),
        "data",
    )?;
    let model = req(
        cfg.resolve_path(a.model.clone(), s, "model")?
            .or(t0.map(|t| t.model.clone())),
        "model",
    )?;
    let steps: u64 = cfg.resolve(
        a.steps,
        s,
        "steps",
        t0.map_or(1000, |t| t.schedule.total_steps),
    )?;
    let lr: f64 = cfg.resolve(a.lr, s, "lr", t0.map_or(3e-4, |t| t.schedule.lr))?;
    let warmup: u64 = cfg.resolve(
        a.warmup_steps,
        s,
        "warmup-steps",
        t0.map_or(100.min(steps / 10), |t| t.schedule.warmup_steps),
    )?;
    let default_val = t0.map_or(
        (total_seqs / 20)
            .clamp(1, 64)
            .min(total_seqs.saturating_sub(1)),
        |t| t.val_sequences,
    );
    let d = t0.cloned().unwrap_or(Trajectory {
        data: PathBuf::new(),
        manifest_sha256: String::new(),
        model: PathBuf::new(),
        batch_size: 8,
        grad_accum: 1,
        schedule: Schedule {
            lr,
            min_lr: lr / 10.0,
            warmup_steps: warmup,
            total_steps: steps,
            decay: Decay::Cosine,
        },
        adamw: AdamW::default(),
        clip: 1.0,
        seed: 0,
        val_sequences: default_val,
        dtype: ComputeDtype::F32,
        replicas: 1,
    });
    let o = saved;
    let save_dtype: String = cfg.resolve(
        a.save_dtype.clone(),
        s,
        "save-dtype",
        o.map_or("bf16".into(), |o| o.save_dtype.clone()),
    )?;
    if !matches!(save_dtype.as_str(), "bf16" | "f32" | "f16") {
        return Err(user(format!(
            "--save-dtype {save_dtype}: use bf16, f16 or f32"
        )));
    }
    let device: String = cfg.resolve(
        a.device.clone(),
        s,
        "device",
        o.map_or("cpu".into(), |o| o.device.clone()),
    )?;
    let replicas = parse_list(&device)?.len();
    let t = Trajectory {
        manifest_sha256: sha256_file(&data.join("manifest.json"))?,
        data,
        model,
        batch_size: cfg.resolve(a.batch_size, s, "batch-size", d.batch_size)?,
        grad_accum: cfg.resolve(a.grad_accum, s, "grad-accum", d.grad_accum)?,
        schedule: Schedule {
            lr,
            min_lr: cfg.resolve(
                a.min_lr,
                s,
                "min-lr",
                if a.lr.is_some() && o.is_none() {
                    lr / 10.0
                } else {
                    d.schedule.min_lr
                },
            )?,
            warmup_steps: warmup,
            total_steps: steps,
            decay: cfg.resolve(a.decay, s, "decay", d.schedule.decay)?,
        },
        adamw: AdamW {
            beta1: cfg.resolve(a.beta1, s, "beta1", d.adamw.beta1)?,
            beta2: cfg.resolve(a.beta2, s, "beta2", d.adamw.beta2)?,
            eps: cfg.resolve(a.eps, s, "eps", d.adamw.eps)?,
            weight_decay: cfg.resolve(a.weight_decay, s, "weight-decay", d.adamw.weight_decay)?,
            decay_all: cfg.resolve(a.decay_all, s, "decay-all", d.adamw.decay_all)?,
        },
        clip: cfg.resolve(a.clip, s, "clip", d.clip)?,
        seed: cfg.resolve(a.seed, s, "seed", d.seed)?,
        val_sequences: cfg.resolve(a.val_sequences, s, "val-sequences", default_val)?,
        dtype: cfg.resolve(a.dtype, s, "dtype", d.dtype)?,
        replicas,
    };
    if t.batch_size == 0 || t.grad_accum == 0 {
        return Err(user("--batch-size and --grad-accum must be at least 1"));
    }
    if !(t.schedule.lr > 0.0 && t.schedule.lr.is_finite()) || t.schedule.min_lr < 0.0 {
        return Err(user("--lr must be positive and --min-lr not negative"));
    }
    let st = Settings {
        schema: "sn9.train-run".into(),
        trajectory: t,
        eval_every: cfg.resolve(
            a.eval_every,
            s,
            "eval-every",
            o.map_or(100, |o| o.eval_every),
        )?,
        save_every: cfg.resolve(
            a.save_every,
            s,
            "save-every",
            o.map_or(500, |o| o.save_every),
        )?,
        keep: cfg.resolve(a.keep, s, "keep", o.map_or(3, |o| o.keep))?,
        log_every: cfg
            .resolve(a.log_every, s, "log-every", o.map_or(10, |o| o.log_every))?
            .max(1),
        save_dtype,
        competition: cfg
            .resolve_opt(a.competition, s, "competition")?
            .or(o.and_then(|o| o.competition)),
        peak_tflops: cfg
            .resolve_opt(a.peak_tflops, s, "peak-tflops")?
            .or(o.and_then(|o| o.peak_tflops)),
        device,
    };
    Ok((st, out))
}

/// FLOPs per trained token, PaLM's estimate (Chowdhery et al. 2022, appendix B):
/// `6·N + 12·L·d·T`, with N the parameters used in matrix multiplies (all but an untied input
/// embedding), L layers, d hidden size, T sequence length.
pub fn flops_per_token(c: &ModelConfig, seq_len: usize) -> f64 {
    let mut n = c.parameter_count() as f64;
    if !c.tie_word_embeddings {
        n -= (c.vocab_size * c.hidden_size) as f64;
    }
    6.0 * n + 12.0 * (c.num_hidden_layers * c.hidden_size * seq_len) as f64
}

/// The config.json of `--model` (the file itself, or a model directory's).
pub(crate) fn config_path(model: &Path) -> PathBuf {
    if model.is_dir() {
        model.join("config.json")
    } else {
        model.to_path_buf()
    }
}

/// The config of `--model` (a config.json, or a model directory's).
fn model_config(model: &Path) -> Result<ModelConfig> {
    ModelConfig::from_file(&config_path(model))
}

/// Refuses a model that competition `id` would not accept (saved as `dtype`).
pub(crate) fn check_competition(
    config: &ModelConfig,
    id: u16,
    dtype: Dtype,
    schedule_file: Option<&Path>,
    p: &Printer,
) -> Result<()> {
    let comp = CompetitionSchedule::current_competition(schedule_file, id)?;
    let params = config.parameter_count();
    let bytes = params * dtype.size() as u64;
    let why = crate::model::command::fit_to_compete(
        &config.architecture,
        Some(config.vocab_size),
        params,
        bytes,
        &comp,
    );
    if !why.is_empty() {
        return Err(user(format!(
            "this model would not be accepted in competition {id}: {}; change the config \
             before training",
            why.join("; ")
        )));
    }
    p.info(format!("competition {id}: {params} parameters, accepted"));
    Ok(())
}

/// Checks the data against the model before any work: vocabulary, sequence length, emptiness.
pub(crate) fn check_data(shards: &Shards, c: &ModelConfig) -> Result<()> {
    let m = &shards.manifest;
    let dir = shards.dir.display();
    if shards.is_empty() {
        return Err(user(format!(
            "{dir} holds no sequences; pack a corpus first (`sn9 data pack`)"
        )));
    }
    if m.seq_len < 2 {
        return Err(user(format!(
            "{dir}: seq_len {} is too short to train on",
            m.seq_len
        )));
    }
    if m.seq_len > c.max_position_embeddings {
        return Err(user(format!(
            "{dir}: sequences of {} tokens exceed the model's max_position_embeddings {}; \
             repack with `sn9 data pack --seq-len {}` or raise max_position_embeddings",
            m.seq_len, c.max_position_embeddings, c.max_position_embeddings
        )));
    }
    let max = shards.max_token().unwrap_or(0);
    if max as usize >= c.vocab_size {
        return Err(user(format!(
            "{dir}: token id {max} is outside the model's vocabulary of {} — these shards come \
             from another tokenizer ({}); repack with the model's tokenizer or raise vocab_size",
            c.vocab_size,
            m.tokenizer
                .get("path")
                .and_then(|p| p.as_str())
                .unwrap_or("unknown")
        )));
    }
    Ok(())
}

/// The safetensors dtype of `--save-dtype` (`bf16`, `f16`, `f32`: checked when the settings
/// resolve).
fn save_dtype_of(name: &str) -> Dtype {
    Dtype::parse(&name.to_ascii_uppercase()).unwrap_or(Dtype::BF16)
}

pub fn run(a: TrainArgs, cfg: &ConfigFile, p: &Printer) -> Result<()> {
    if let Some(TrainCommand::ImportJob(i)) = a.command {
        return super::titan::import(i, p);
    }
    if cfg.resolve(a.engine, "train", "engine", Engine::Sn9)? == Engine::Torchtitan {
        let total = match cfg.resolve_path(a.data.clone(), "train", "data")? {
            Some(d) => Shards::open(&d)?.len(),
            None => 0,
        };
        let (st, out) = resolve(&a, cfg, total, None)?;
        return super::titan::export(&a, cfg, &st, &out, p);
    }
    let out = cfg.resolve_path(a.out.clone(), "train", "out")?.ok_or_else(|| {
        user("--out is required (or SN9_TRAIN_OUT / `out` in the [train] section of the config file)")
    })?;
    let run_json = out.join("run.json");
    let latest = checkpoint::latest(&out)?;
    let saved: Option<Settings> = if a.resume {
        let text =
            crate::output::read_text(&run_json, crate::output::Limit::State).map_err(|e| {
                user(format!(
                    "--resume: {e:#}; is {} a run directory of `sn9 train`?",
                    out.display()
                ))
            })?;
        Some(
            serde_json::from_str(&text)
                .map_err(|e| user(format!("{}: {e}", run_json.display())))?,
        )
    } else {
        if latest.is_some() || run_json.exists() {
            return Err(user(format!(
                "{} already holds a training run; pass --resume to continue it, or choose another --out",
                out.display()
            )));
        }
        None
    };
    // The data directory sizes the default validation split.
    let total = match cfg
        .resolve_path(a.data.clone(), "train", "data")?
        .or(saved.as_ref().map(|s| s.trajectory.data.clone()))
    {
        Some(d) => Shards::open(&d)?.len(),
        None => 0,
    };
    let (st, out) = resolve(&a, cfg, total, saved.as_ref())?;
    if let Some(saved) = &saved {
        let mut want = saved.trajectory.clone();
        // The total may grow on resume (the decay is then stretched from here on).
        want.schedule.total_steps = st.trajectory.schedule.total_steps;
        if want != st.trajectory {
            let a = serde_json::to_value(&saved.trajectory)?;
            let b = serde_json::to_value(&st.trajectory)?;
            let diff: Vec<String> = a
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, v)| b.get(k.as_str()) != Some(v))
                .map(|(k, v)| format!("{k} was {v}, now {}", b[k.as_str()]))
                .collect();
            return Err(user(format!(
                "--resume: the run in {} was started with other settings ({}); resume with the \
                 same ones (they are in {}), or start a new run directory",
                out.display(),
                diff.join("; "),
                run_json.display()
            )));
        }
        if saved.trajectory.schedule.total_steps != st.trajectory.schedule.total_steps {
            p.warn(format!(
                "--steps changed from {} to {}: the decay is stretched from here on",
                saved.trajectory.schedule.total_steps, st.trajectory.schedule.total_steps
            ));
        }
    }
    let devices = parse_list(&st.device)?;
    std::fs::create_dir_all(&out)
        .map_err(|e| user(format!("cannot create {}: {e}", out.display())))?;
    crate::output::write_atomic(
        &run_json,
        (serde_json::to_string_pretty(&st)? + "\n").as_bytes(),
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while the checkpoint is written ends the process at once.
        signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone())?;
        signal_hook::flag::register(sig, stop.clone())?;
    }
    dispatch_many(
        &devices,
        Job {
            st,
            out,
            resume: a.resume.then_some(latest).flatten(),
            resume_asked: a.resume,
            csv: a.csv,
            schedule_file: a.schedule,
            printer: *p,
            stop,
        },
    )
}

struct Job {
    st: Settings,
    out: PathBuf,
    resume: Option<PathBuf>,
    resume_asked: bool,
    csv: bool,
    schedule_file: Option<PathBuf>,
    printer: Printer,
    stop: Arc<AtomicBool>,
}

/// Mean per-sequence loss (the eval stage's text loss) over the validation sequences.
fn validate<B: Backend>(
    lm: &crate::model::CausalLm<B>,
    rope: &Rope<B>,
    shards: &Shards,
    idx: &[u64],
    batch: usize,
    device: &B::Device,
) -> f64 {
    let seq = shards.manifest.seq_len;
    let mut sum = 0f64;
    for chunk in idx.chunks(batch.max(1)) {
        let ids: Vec<i32> = chunk
            .iter()
            .flat_map(|&k| shards.sequence(k).expect("validation index").into_iter())
            .map(|t| t as i32)
            .collect();
        let t = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [chunk.len(), seq]), device);
        sum += lm
            .row_losses(t, rope, seq)
            .sum()
            .into_scalar()
            .elem::<f64>();
    }
    sum / idx.len().max(1) as f64
}

impl MultiDeviceTask for Job {
    type Output = ();
    fn run<B: Backend>(self, devices: Vec<B::Device>) -> Result<()> {
        let device = devices[0].clone();
        let Job {
            st,
            out,
            resume,
            resume_asked,
            csv,
            schedule_file,
            printer: p,
            stop,
        } = self;
        let t = &st.trajectory;
        let shards = Shards::open(&t.data)?;
        let config = model_config(&t.model)?;
        check_data(&shards, &config)?;
        let seq = shards.manifest.seq_len;
        if let Some(id) = st.competition {
            check_competition(
                &config,
                id,
                save_dtype_of(&st.save_dtype),
                schedule_file.as_deref(),
                &p,
            )?;
        }
        let split = Split::new(shards.len(), t.val_sequences, t.seed)?;
        let (mut model, mut opt, mut ts) = match &resume {
            Some(dir) => {
                let (m, o, s) = checkpoint::load::<B>(dir, &device)?;
                if m.config != config {
                    return Err(user(format!(
                        "checkpoint {} holds another model than {}",
                        dir.display(),
                        t.model.display()
                    )));
                }
                p.info(format!("resuming from {} (step {})", dir.display(), s.step));
                (m, o, s)
            }
            None => {
                if resume_asked {
                    p.warn("--resume: no checkpoint yet, starting from step 0");
                }
                let m = if t.model.is_dir() {
                    LoadedModel::<Autodiff<B>>::load(&t.model, &device)?
                } else {
                    LoadedModel::<Autodiff<B>>::init(config.clone(), t.seed, &device)?
                };
                let s = TrainerState {
                    schema: checkpoint::SCHEMA.into(),
                    version: checkpoint::VERSION,
                    step: 0,
                    cursor: 0,
                    tokens: 0,
                    elapsed_s: 0.0,
                    rng: Value::Null,
                    settings: Value::Null,
                };
                (m, AdamWState::default(), s)
            }
        };
        ts.settings = serde_json::to_value(&st)?;
        // Mixed precision: the rotary tables set the activations' dtype; the weights stay f32.
        let compute: burn::tensor::FloatDType = t.dtype.into();
        crate::model::check_dtype::<B>(compute, &device)?;
        model.rope = Rope::new(
            &config.rope_inv_freq(),
            crate::model::rope_len(&config).max(shards.manifest.seq_len),
            compute,
            &device,
        );
        model.dtype = compute;
        // Data-parallel replicas: copies of the model on the other devices.
        let mut replicas = Vec::with_capacity(devices.len());
        let weights = super::optim::params_of(&mut model.lm)?;
        for d in &devices[1..] {
            let mut lm = model.lm.clone();
            super::optim::set_params(&mut lm, &weights, d)?;
            replicas.push(LoadedModel {
                config: model.config.clone(),
                lm,
                rope: Rope::new(
                    &config.rope_inv_freq(),
                    crate::model::rope_len(&config).max(shards.manifest.seq_len),
                    compute,
                    d,
                ),
                source_dtype: model.source_dtype,
                dtype: compute,
            });
        }
        replicas.insert(0, model);
        drop(weights);
        let inner_rope = Rope::<B>::new(
            &config.rope_inv_freq(),
            crate::model::rope_len(&config).max(shards.manifest.seq_len),
            burn::tensor::FloatDType::F32,
            &device,
        );
        // Metrics: keep the rows up to the checkpoint, so a resumed file reads as one run.
        let metrics_path = out.join("metrics.jsonl");
        let kept: String =
            crate::output::read_text_if_exists(&metrics_path, crate::output::Limit::Table)?
                .unwrap_or_default()
                .lines()
                .filter(|l| {
                    serde_json::from_str::<Value>(l)
                        .ok()
                        .and_then(|v| v["step"].as_u64())
                        .is_some_and(|s| s <= ts.step)
                })
                .map(|l| format!("{l}\n"))
                .collect();
        crate::output::write_atomic(&metrics_path, kept.as_bytes())?;
        let mut metrics = std::fs::OpenOptions::new()
            .append(true)
            .open(&metrics_path)?;
        let mut w = stdout();
        if csv {
            writeln!(
                w,
                "step,loss,lr,grad_norm,tokens,tokens_per_s,mfu,elapsed_s"
            )?;
        }
        let fpt = flops_per_token(&config, seq);
        let total = t.schedule.total_steps;
        let tty =
            std::io::stderr().is_terminal() && p.verbosity >= crate::output::Verbosity::Normal;
        let bar = if tty {
            let b = indicatif::ProgressBar::new(total);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} steps {msg} [{elapsed_precise} < {eta_precise}]",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b.set_position(ts.step);
            b
        } else {
            indicatif::ProgressBar::hidden()
        };
        p.info(format!(
            "training {} ({} parameters) on {} training + {} validation sequences of {seq} tokens, \
             {} steps × {} sequences",
            config.architecture,
            config.parameter_count(),
            split.train.len(),
            split.val.len(),
            total,
            t.batch_size * t.grad_accum * t.replicas
        ));
        let mut stream = Stream::new(&shards, &split, ts.cursor);
        let started = Instant::now();
        let elapsed0 = ts.elapsed_s;
        let mut last_val = None;
        let save = |model: &LoadedModel<Autodiff<B>>,
                    opt: &AdamWState<B>,
                    ts: &mut TrainerState,
                    cursor: u64|
         -> Result<PathBuf> {
            ts.cursor = cursor;
            ts.rng = json!({
                "kind": "python-mt19937-shuffle",
                "split_seed": t.seed,
                "epoch": cursor / split.train.len() as u64,
                "epoch_seed": t.seed + 1 + cursor / split.train.len() as u64,
                "position_in_epoch": cursor % split.train.len() as u64,
            });
            checkpoint::save(&out, model, opt, ts, st.keep)
        };
        while ts.step < total {
            if stop.load(Ordering::SeqCst) {
                bar.finish_and_clear();
                ts.elapsed_s = elapsed0 + started.elapsed().as_secs_f64();
                let dir = save(&replicas[0], &opt, &mut ts, stream.cursor)?;
                return Err(anyhow::Error::new(Interrupted(format!(
                    "interrupted at step {}: checkpoint {} written; continue with `sn9 train --resume --out {}`",
                    ts.step,
                    dir.display(),
                    out.display()
                ))));
            }
            let t0 = Instant::now();
            let lr = t.schedule.lr_at(ts.step);
            // Micro-batch a·W + k of the stream goes to replica k.
            let mut micro: Vec<Vec<Tensor<Autodiff<B>, 2, Int>>> = vec![Vec::new(); devices.len()];
            for _ in 0..t.grad_accum {
                for (k, d) in devices.iter().enumerate() {
                    let ids: Vec<i32> = stream
                        .next_batch(t.batch_size)
                        .into_iter()
                        .map(|x| x as i32)
                        .collect();
                    micro[k].push(Tensor::from_data(
                        TensorData::new(ids, [t.batch_size, seq]),
                        d,
                    ));
                }
            }
            let s = super::train_step_replicas(
                &mut replicas,
                &devices,
                micro,
                lr,
                t.clip,
                &t.adamw,
                &mut opt,
            )?;
            if !s.loss.is_finite() {
                return Err(user(format!(
                    "the loss became {} at step {}; lower --lr or raise --warmup-steps, and \
                     resume from the last checkpoint",
                    s.loss, ts.step
                )));
            }
            ts.step += 1;
            let n_tok = (t.batch_size * t.grad_accum * t.replicas * seq) as u64;
            ts.tokens += n_tok;
            let dt = t0.elapsed().as_secs_f64();
            let tps = n_tok as f64 / dt.max(1e-9);
            let mfu = st.peak_tflops.map(|peak| fpt * tps / (peak * 1e12));
            let elapsed = elapsed0 + started.elapsed().as_secs_f64();
            let row = json!({
                "kind": "train", "step": ts.step, "loss": s.loss, "lr": lr,
                "grad_norm": s.grad_norm, "tokens": ts.tokens, "tokens_per_s": tps,
                "mfu": mfu, "elapsed_s": elapsed,
            });
            writeln!(metrics, "{row}")?;
            if p.format == Format::Json {
                writeln!(w, "{row}")?;
                w.flush()?;
            } else if csv {
                writeln!(
                    w,
                    "{},{},{},{},{},{},{},{}",
                    ts.step,
                    s.loss,
                    lr,
                    s.grad_norm,
                    ts.tokens,
                    tps,
                    mfu.map(|m| m.to_string()).unwrap_or_default(),
                    elapsed
                )?;
                w.flush()?;
            }
            bar.set_position(ts.step);
            bar.set_message(format!("loss {:.4}  {:.0} tok/s", s.loss, tps));
            if !tty && (ts.step % st.log_every == 0 || ts.step == total) {
                p.info(format!(
                    "step {}/{total}  loss {:.4}  lr {lr:.3e}  grad norm {:.3}  {tps:.0} tok/s{}",
                    ts.step,
                    s.loss,
                    s.grad_norm,
                    mfu.map(|m| format!("  MFU {:.1}%", m * 100.0))
                        .unwrap_or_default()
                ));
            }
            let last = ts.step == total;
            if !split.val.is_empty()
                && ((st.eval_every > 0 && ts.step % st.eval_every == 0) || last)
            {
                let inner = replicas[0].lm.valid();
                let v = validate(
                    &inner,
                    &inner_rope,
                    &shards,
                    &split.val,
                    t.batch_size,
                    &device,
                );
                last_val = Some(v);
                let row = json!({"kind": "val", "step": ts.step, "val_loss": v, "sequences": split.val.len()});
                writeln!(metrics, "{row}")?;
                if p.format == Format::Json {
                    writeln!(w, "{row}")?;
                    w.flush()?;
                }
                bar.suspend(|| p.info(format!("step {}  validation loss {v:.4}", ts.step)));
            }
            if (st.save_every > 0 && ts.step % st.save_every == 0) || last {
                ts.elapsed_s = elapsed0 + started.elapsed().as_secs_f64();
                let dir = save(&replicas[0], &opt, &mut ts, stream.cursor)?;
                bar.suspend(|| p.debug(format!("checkpoint {}", dir.display())));
            }
        }
        bar.finish_and_clear();
        let final_dir = out.join("model");
        let dtype = save_dtype_of(&st.save_dtype);
        let tmp = out.join(".model.tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        replicas[0].save(&tmp, dtype, 5_000_000_000)?;
        let _ = std::fs::remove_dir_all(&final_dir);
        std::fs::rename(&tmp, &final_dir)?;
        let summary = json!({
            "kind": "done", "model": final_dir, "steps": ts.step, "tokens": ts.tokens,
            "val_loss": last_val, "checkpoint": checkpoint::latest(&out)?,
        });
        if p.format == Format::Json {
            writeln!(w, "{summary}")?;
        } else if !csv {
            writeln!(w, "{}", final_dir.display())?;
        }
        p.info(format!(
            "done: {} steps, {} tokens{}; model in {}",
            ts.step,
            ts.tokens,
            last_val
                .map(|v| format!(", validation loss {v:.4}"))
                .unwrap_or_default(),
            final_dir.display()
        ));
        Ok(())
    }
}
