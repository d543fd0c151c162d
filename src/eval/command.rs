//! `sn9 eval MODEL_DIR... --batches DIR`: the validator's per-task loss of each model on the
//! batches of `sn9 data sample` (or `sn9 data pack`), as JSON Lines for `sn9 score`.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use burn::prelude::*;
use serde_json::{Value, json};

use super::{LanguageModel, mean, text_loss};
use crate::competition::Schedule;
use crate::data::shards::Shards;
use crate::data::speech_batches::{SpeechBatches, SpeechEntry, is_speech_dir};
use crate::device::{BackendTask, DeviceSpec, dispatch};
use crate::error::user;
use crate::model::command::{ComputeDtype, describe_dir, fit};
use crate::model::{LoadedModel, size_on_disk};
use crate::output::{Printer, Table, stdout};

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Model directories (config.json + safetensors).
    #[arg(required = true)]
    pub models: Vec<PathBuf>,
    /// Batches from `sn9 data sample`: token shards (text competitions) or speech batches (TTS).
    #[arg(long, env = "SN9_BATCHES")]
    pub batches: PathBuf,
    /// TTS: the Vocos vocoder directory (`sn9 hub pull charactr/vocos-mel-24khz`).
    #[arg(long, env = "SN9_VOCODER", value_name = "DIR")]
    pub vocoder: Option<PathBuf>,
    /// TTS: the Whisper directory that transcribes the synthesised speech
    /// (`sn9 hub pull openai/whisper-large-v2`).
    #[arg(long, env = "SN9_ASR", value_name = "DIR")]
    pub asr: Option<PathBuf>,
    /// Competition [default: the one the batches were sampled for].
    #[arg(long)]
    pub competition: Option<u16>,
    /// Uid of each model, in order [default: 0, 1, ...].
    #[arg(long = "uid", value_delimiter = ',')]
    pub uids: Vec<u16>,
    /// Hotkey of each model, in order.
    #[arg(long = "hotkey", value_delimiter = ',')]
    pub hotkeys: Vec<String>,
    /// Upload (commit) block of each model, in order.
    #[arg(long = "model-block", value_delimiter = ',')]
    pub model_blocks: Vec<u64>,
    /// Append rows to this file too, and skip models it already holds (resume).
    #[arg(long, value_name = "FILE")]
    pub results: Option<PathBuf>,
    /// Evaluate even models that fail the competition's checks (one-off research evals).
    #[arg(long)]
    pub skip_checks: bool,
    /// Device: cpu, cuda:N or wgpu:N.
    #[arg(long, env = "SN9_DEVICE", default_value = "cpu")]
    pub device: DeviceSpec,
    /// Compute dtype.
    #[arg(long, value_enum, env = "SN9_DTYPE", default_value = "f32")]
    pub dtype: ComputeDtype,
    /// Sequences per forward pass.
    #[arg(long, default_value_t = 1)]
    pub batch_size: usize,
    /// Competition schedule (JSON) [default: built-in].
    #[arg(long, env = "SN9_SCHEDULE", value_name = "FILE")]
    pub schedule: Option<PathBuf>,
    /// The competition's tokenizer (tokenizer.json or its directory): the batches must have been
    /// tokenized with exactly this file (sha256 compared with the batches' manifest).
    #[arg(long, env = "SN9_TOKENIZER")]
    pub tokenizer: Option<PathBuf>,
    /// What-if: rows of the current top models on the same batches (a results file, e.g. from a
    /// validator or an earlier `sn9 eval`); prints each evaluated model's predicted competitive
    /// status, win rate and rank against them, with epsilon applied, as if uploaded at its
    /// `--model-block` (default: the batches' block).
    #[arg(long, value_name = "RESULTS")]
    pub against: Option<PathBuf>,
    /// Evaluate each model in its own process, killed after this many seconds (the reference
    /// allows 550): a hanging, crashing or out-of-memory model gets a row with the reason and
    /// the others are still scored.
    #[arg(long, env = "SN9_EVAL_TIME_LIMIT")]
    pub time_limit_s: Option<u64>,
    /// With --time-limit-s: cap each model's process at this much memory (MiB of address space,
    /// CPU only); a model that needs more fails with the reason instead of exhausting the
    /// machine.
    #[arg(long, env = "SN9_EVAL_MEMORY_LIMIT_MB", requires = "time_limit_s")]
    pub memory_limit_mb: Option<u64>,
}

/// Predicted outcome of each evaluated model against the models of a results file.
fn what_if(
    path: &Path,
    ours: &[(u16, Option<u64>, f64)],
    comp: &crate::competition::Competition,
    eval_block: Option<u64>,
    p: &Printer,
) -> Result<()> {
    use crate::score::wins::{Entry, competitive_filter, compute_wins};
    let rows = crate::score::input::read_rows(
        crate::output::read_bytes(path, crate::output::Limit::Table)?.as_slice(),
        &path.display().to_string(),
    )?;
    let models = crate::score::input::group(&rows)?;
    let current = eval_block.ok_or_else(|| {
        user("--against needs the batches' block (sample them with `sn9 data sample`)")
    })? as f64;
    let mut table = Table::new([
        "model uid",
        "score",
        "competitive",
        "win rate",
        "rank",
        "beaten by",
    ]);
    for &(uid, block, score) in ours {
        let mut entries: Vec<Entry> = Vec::new();
        for m in models
            .iter()
            .filter(|m| m.competition == comp.id && m.uid != uid)
        {
            let s = match m.total {
                Some(s) => s,
                None => crate::score::round::combine_tasks(comp, &m.tasks)?,
            };
            entries.push(Entry {
                uid: m.uid,
                score: s,
                block: m.block.map_or(f64::INFINITY, |b| b as f64),
            });
        }
        if entries.is_empty() {
            return Err(user(format!(
                "{} holds no other model of competition {}",
                path.display(),
                comp.id
            )));
        }
        entries.push(Entry {
            uid,
            score,
            block: block.map_or(current, |b| b as f64),
        });
        let filter = competitive_filter(&entries, &comp.constraints.epsilon_func);
        let competitive: Vec<Entry> = entries
            .iter()
            .zip(&filter)
            .filter(|(_, f)| f.is_none())
            .map(|(e, _)| *e)
            .collect();
        let wins = compute_wins(&competitive, &comp.constraints.epsilon_func, current);
        let mine = wins.iter().find(|w| w.uid == uid);
        let rank = mine.map(|m| 1 + wins.iter().filter(|w| w.win_rate > m.win_rate).count());
        let beaten = filter.last().and_then(|f| *f);
        table.row([
            uid.to_string(),
            if score.is_finite() {
                format!("{score:.6}")
            } else {
                "inf".into()
            },
            beaten.is_none().to_string(),
            mine.map_or("0".into(), |m| format!("{:.4}", m.win_rate)),
            rank.map_or("-".into(), |r| format!("{r} of {}", wins.len())),
            beaten.map_or(String::new(), |b| {
                format!("uid {} (decayed score {:.6})", b.uid, b.decayed_score)
            }),
        ]);
    }
    p.info(format!(
        "what-if against {} (competition {}, epsilon {}):",
        path.display(),
        comp.id,
        comp.constraints.epsilon_func
    ));
    if p.verbosity >= crate::output::Verbosity::Normal {
        table.write(&mut std::io::stderr())?;
    }
    Ok(())
}

/// `sn9 eval-worker`: evaluates one model and prints its task outcomes as one JSON line (the
/// isolated process behind `sn9 eval --time-limit-s`).
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long)]
    pub batches: PathBuf,
    #[arg(long, default_value = "cpu")]
    pub device: DeviceSpec,
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: ComputeDtype,
    #[arg(long, default_value_t = 1)]
    pub batch_size: usize,
    /// Address-space limit of this process in MiB (CPU only).
    #[arg(long)]
    pub memory_limit_mb: Option<u64>,
    #[arg(long)]
    pub vocoder: Option<PathBuf>,
    #[arg(long)]
    pub asr: Option<PathBuf>,
}

/// Caps this process's address space (`RLIMIT_AS`), so an oversized model fails to allocate
/// instead of taking the machine down. Not on GPU devices: their drivers reserve huge virtual
/// ranges.
fn limit_memory(mb: u64) -> Result<()> {
    #[cfg(unix)]
    {
        let bytes = mb.saturating_mul(1 << 20) as libc::rlim_t;
        let lim = libc::rlimit {
            rlim_cur: bytes,
            rlim_max: bytes,
        };
        // SAFETY: setrlimit reads a valid struct; it only affects this process.
        if unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) } != 0 {
            anyhow::bail!("setrlimit(RLIMIT_AS, {mb} MiB) failed");
        }
    }
    Ok(())
}

/// What a model is evaluated on: token sequences (text competitions) or speech entries (TTS).
#[derive(Clone)]
enum Batches {
    Tokens(Vec<(String, Vec<Vec<u32>>)>),
    Speech {
        tasks: Vec<(String, Vec<SpeechEntry>)>,
        /// The validator's seed (decimal), for the sampler's noise.
        seed: String,
    },
}

impl Batches {
    fn task_names(&self) -> Vec<String> {
        match self {
            Batches::Tokens(t) => t.iter().map(|(n, _)| n.clone()).collect(),
            Batches::Speech { tasks, .. } => tasks.iter().map(|(n, _)| n.clone()).collect(),
        }
    }
}

/// The batches of a directory and its origin (block, seed, pages), with the token shards'
/// manifest for the tokenizer and sequence-length checks.
fn load_batches(dir: &Path) -> Result<(Batches, Value, Option<Shards>)> {
    if is_speech_dir(dir) {
        let b = SpeechBatches::open(dir)?;
        let mut tasks = Vec::new();
        for (i, t) in b.manifest.tasks.iter().enumerate() {
            tasks.push((t.name.clone(), b.entries(i)?));
        }
        let seed = b
            .manifest
            .origin
            .get("seed")
            .and_then(|s| s.as_str())
            .unwrap_or("0")
            .to_string();
        return Ok((Batches::Speech { tasks, seed }, b.manifest.origin, None));
    }
    let shards = Shards::open(dir)?;
    let tasks = (0..shards.manifest.shards.len())
        .map(|i| {
            (
                shards.manifest.shards[i].name.clone(),
                shards.sequences(i).collect(),
            )
        })
        .collect();
    Ok((
        Batches::Tokens(tasks),
        shards.manifest.origin.clone(),
        Some(shards),
    ))
}

pub fn run_worker(a: WorkerArgs) -> Result<()> {
    if let Some(mb) = a.memory_limit_mb
        && a.device == DeviceSpec::Cpu
    {
        limit_memory(mb)?;
    }
    let (batches, _, _) = load_batches(&a.batches)?;
    let out = dispatch(
        a.device,
        Job {
            dir: a.model,
            batches,
            dtype: a.dtype,
            batch_size: a.batch_size,
            vocoder: a.vocoder,
            asr: a.asr,
        },
    )?;
    let doc: Vec<Value> = out
        .into_iter()
        .map(|(t, r)| match r {
            Ok(l) => json!({"task": t, "loss": l}),
            Err(e) => json!({"task": t, "error": e}),
        })
        .collect();
    let mut w = stdout();
    writeln!(w, "{}", Value::Array(doc))?;
    w.flush()?;
    Ok(())
}

/// Runs one model's evaluation in a child `sn9 eval-worker`, killed after `limit` seconds.
fn run_isolated(a: &EvalArgs, dir: &Path, limit: u64) -> Result<TaskOutcome> {
    let exe = std::env::current_exe()?;
    let mut child = std::process::Command::new(exe)
        .arg("eval-worker")
        .arg("--model")
        .arg(dir)
        .arg("--batches")
        .arg(&a.batches)
        .args([
            "--device",
            &a.device.to_string(),
            "--batch-size",
            &a.batch_size.to_string(),
        ])
        .args([
            "--dtype",
            if a.dtype == ComputeDtype::Bf16 {
                "bf16"
            } else {
                "f32"
            },
        ])
        .args(
            a.memory_limit_mb
                .map(|m| vec!["--memory-limit-mb".to_string(), m.to_string()])
                .unwrap_or_default(),
        )
        .args(
            a.vocoder
                .iter()
                .flat_map(|v| [OsStr::new("--vocoder"), v.as_os_str()]),
        )
        .args(
            a.asr
                .iter()
                .flat_map(|v| [OsStr::new("--asr"), v.as_os_str()]),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if start.elapsed().as_secs() >= limit {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("timed out after {limit} s (--time-limit-s)");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut out = String::new();
    let mut err = String::new();
    use std::io::Read;
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    if !status.success() {
        #[cfg(unix)]
        if let Some(sig) = std::os::unix::process::ExitStatusExt::signal(&status) {
            anyhow::bail!(
                "the evaluation process was killed by signal {sig}{}",
                if sig == 9 { " (out of memory?)" } else { "" }
            );
        }
        let last = err
            .lines()
            .last()
            .unwrap_or("")
            .trim_start_matches("sn9: error: ");
        anyhow::bail!("evaluation failed: {last}");
    }
    let v: Vec<Value> = serde_json::from_str(out.trim())
        .map_err(|e| anyhow::anyhow!("unreadable worker output: {e}"))?;
    Ok(v.into_iter()
        .map(|x| {
            let t = x["task"].as_str().unwrap_or("").to_string();
            match x.get("loss").and_then(|l| l.as_f64()) {
                Some(l) => (t, Ok(l)),
                None => (
                    t,
                    Err(x["error"].as_str().unwrap_or("unknown error").to_string()),
                ),
            }
        })
        .collect())
}

/// The burn model core as a [`LanguageModel`].
pub struct BurnLm<B: Backend> {
    pub model: LoadedModel<B>,
    pub device: B::Device,
    pub batch_size: usize,
    /// Sequences evaluated so far (a progress bar on a terminal, hidden otherwise).
    pub progress: indicatif::ProgressBar,
}

impl<B: Backend> LanguageModel for BurnLm<B> {
    fn mean_losses(&self, seqs: &[Vec<u32>], mask: Option<&[Vec<bool>]>) -> Result<Vec<f64>> {
        let v = self.model.config.vocab_size as u32;
        let bs = self.batch_size.max(1);
        // Per-row loss sums stay on the device until the task is done: one read-back per task,
        // not one host sync per batch.
        let mut sums: Vec<Tensor<B, 1>> = Vec::new();
        let mut counts: Vec<f64> = Vec::with_capacity(seqs.len());
        for (ci, chunk) in seqs.chunks(bs).enumerate() {
            let t = chunk[0].len();
            if chunk.iter().any(|s| s.len() != t) {
                anyhow::bail!("sequences of different lengths in one batch");
            }
            if let Some(bad) = chunk.iter().flatten().find(|&&x| x >= v) {
                return Err(user(format!(
                    "token id {bad} is outside the model's vocabulary of {v}"
                )));
            }
            let flat: Vec<i32> = chunk.iter().flatten().map(|&x| x as i32).collect();
            let ids = Tensor::<B, 2, Int>::from_data(
                TensorData::new(flat, [chunk.len(), t]),
                &self.device,
            );
            let rope = self.model.rope_covering(t);
            let h = self.model.lm.hidden(ids.clone(), &rope, None);
            let m = match mask {
                None => {
                    counts.extend(std::iter::repeat_n((t - 1) as f64, chunk.len()));
                    None
                }
                Some(m) => {
                    let rows = &m[ci * bs..ci * bs + chunk.len()];
                    counts.extend(rows.iter().map(|r| r.iter().filter(|&&k| k).count() as f64));
                    let mflat: Vec<f32> = rows
                        .iter()
                        .flatten()
                        .map(|&k| if k { 1.0 } else { 0.0 })
                        .collect();
                    Some(Tensor::<B, 2>::from_data(
                        TensorData::new(mflat, [chunk.len(), t - 1]),
                        &self.device,
                    ))
                }
            };
            sums.push(self.model.lm.masked_ce_sum(h, ids, m, 512));
            self.progress.inc(chunk.len() as u64);
        }
        if sums.is_empty() {
            return Ok(Vec::new());
        }
        let sums: Vec<f32> = Tensor::cat(sums, 0)
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        // Mean over the labels in float32, as the reference's `.item()` of a float32 loss.
        Ok(sums
            .iter()
            .zip(&counts)
            .map(|(s, c)| (*s / *c as f32) as f64)
            .collect())
    }

    fn generate(&self, prompt: &[u32], n: usize) -> Result<Vec<u32>> {
        self.model.generate_greedy(prompt, n, &self.device)
    }
}

/// What to evaluate one model on.
struct Job {
    dir: PathBuf,
    batches: Batches,
    dtype: ComputeDtype,
    batch_size: usize,
    vocoder: Option<PathBuf>,
    asr: Option<PathBuf>,
}

/// Per task: the raw score, or why it failed.
pub(super) type TaskOutcome = Vec<(String, Result<f64, String>)>;

impl BackendTask for Job {
    type Output = TaskOutcome;
    fn run<B: Backend>(self, device: B::Device) -> Result<TaskOutcome> {
        let tasks = match self.batches {
            Batches::Tokens(t) => t,
            Batches::Speech { tasks, seed } => {
                return super::tts::evaluate::<B>(
                    &self.dir,
                    self.vocoder.as_deref(),
                    self.asr.as_deref(),
                    &tasks,
                    &seed,
                    &device,
                );
            }
        };
        // Falcon, GPT-NeoX, Bart load in the reference, then its forward raises on every batch.
        let (config, files) = crate::model::check_weights(&self.dir)?;
        if let Some(why) = config.validator_forward_error() {
            return Ok(tasks
                .iter()
                .map(|(name, _)| (name.clone(), Err(why.clone())))
                .collect());
        }
        let model = LoadedModel::<B>::from_checked(config, &files, self.dtype.into(), &device)?;
        let total: usize = tasks.iter().map(|(_, s)| s.len()).sum();
        let progress = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            let b = indicatif::ProgressBar::new(total as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} {bar:30} {pos}/{len} sequences {per_sec} eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            b.set_message(self.dir.display().to_string());
            b
        } else {
            indicatif::ProgressBar::hidden()
        };
        let lm = BurnLm {
            model,
            device,
            batch_size: self.batch_size,
            progress,
        };
        let mut out = Vec::new();
        for (name, seqs) in &tasks {
            let r = match text_loss(&lm, seqs, None) {
                Ok(Ok(losses)) if losses.iter().any(|l| !l.is_finite()) => {
                    Err("a batch loss is not finite (NaN or inf logits)".to_string())
                }
                Ok(Ok(losses)) => Ok(mean(&losses)),
                Ok(Err(why)) => Err(why),
                Err(e) => Err(format!("{e:#}")),
            };
            out.push((name.clone(), r));
        }
        lm.progress.finish_and_clear();
        Ok(out)
    }
}

/// The models a results file already holds. A row of this competition evaluated on other
/// batches (its `batches` differs from `batches_id`) is refused: resuming it would mix two
/// rounds' data. (A validator's round keeps every competition's rows in one file.)
fn done_models(path: &Path, batches_id: &str, competition: u16) -> Result<BTreeSet<String>> {
    let mut set = BTreeSet::new();
    let Some(text) = crate::output::read_text_if_exists(path, crate::output::Limit::Table)? else {
        return Ok(set);
    };
    for line in text.lines() {
        if let Ok(v) = serde_json::from_str::<Value>(line)
            && let Some(m) = v.get("model").and_then(|m| m.as_str())
        {
            if let Some(b) = v.get("batches").and_then(|b| b.as_str())
                && b != batches_id
                && v.get("competition").and_then(|c| c.as_u64()) == Some(competition as u64)
            {
                return Err(user(format!(
                    "{} holds {m} evaluated on other batches ({b}, these are {batches_id}); give another --results file",
                    path.display()
                )));
            }
            set.insert(m.to_string());
        }
    }
    Ok(set)
}

/// A short fingerprint of a batch directory (its manifest's sha256), written in every row.
fn batches_id(dir: &Path) -> Result<String> {
    let bytes = crate::output::read_bytes(&dir.join("manifest.json"), crate::output::Limit::State)
        .map_err(|e| {
            user(format!(
                "cannot read {}: {e}",
                dir.join("manifest.json").display()
            ))
        })?;
    let d = <sha2::Sha256 as sha2::Digest>::digest(&bytes);
    Ok(d.iter().take(8).map(|b| format!("{b:02x}")).collect())
}

pub fn run(a: EvalArgs, p: &Printer) -> Result<()> {
    // What the operator typed is checked before any model is evaluated.
    for dir in &a.models {
        if !dir.is_dir() {
            return Err(user(format!(
                "model directory {} does not exist (or is not a directory)",
                dir.display()
            )));
        }
    }
    if let Some(p) = &a.against {
        let rows = crate::score::input::read_rows(
            crate::output::read_bytes(p, crate::output::Limit::Table)?.as_slice(),
            &p.display().to_string(),
        )?;
        crate::score::input::group(&rows)?;
    }
    let (batches, origin, shards) = load_batches(&a.batches)?;
    let origin = &origin;
    let competition = a
        .competition
        .or(origin
            .get("competition")
            .and_then(|c| c.as_u64())
            .map(|c| c as u16))
        .ok_or_else(|| user("the batches do not say their competition; pass --competition"))?;
    let eval_block = origin.get("block").and_then(|b| b.as_u64());
    let schedule = Schedule::load(a.schedule.as_deref())?;
    let at = eval_block.unwrap_or_else(|| schedule.entries.last().map_or(0, |e| e.from_block));
    let comp = schedule
        .competition(competition, at)
        .ok_or_else(|| {
            user(format!(
                "competition {competition} is not in the schedule at block {at}"
            ))
        })?
        .clone();
    for (what, n) in [
        ("--uid", a.uids.len()),
        ("--hotkey", a.hotkeys.len()),
        ("--model-block", a.model_blocks.len()),
    ] {
        if n != 0 && n != a.models.len() {
            return Err(user(format!(
                "{what} was given {n} times for {} models; give one per model, in order",
                a.models.len()
            )));
        }
    }
    if let (Some(t), Some(shards)) = (&a.tokenizer, &shards) {
        let file = if t.is_dir() {
            t.join("tokenizer.json")
        } else {
            t.clone()
        };
        let bytes = crate::output::read_bytes(&file, crate::output::Limit::Tokenizer)
            .map_err(|e| user(format!("tokenizer: {e:#}")))?;
        let sha: String =
            sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&bytes))
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
        let theirs = shards
            .manifest
            .tokenizer
            .get("sha256")
            .and_then(|s| s.as_str());
        if theirs != Some(sha.as_str()) {
            return Err(user(format!(
                "the batches in {} were tokenized with {}, not with {} (sha256 {sha}); resample them with the competition's tokenizer",
                a.batches.display(),
                theirs.map_or("an unrecorded tokenizer".to_string(), |s| format!(
                    "tokenizer sha256 {s}"
                )),
                file.display()
            )));
        }
    }
    let speech_comp = comp
        .eval_tasks
        .iter()
        .any(|t| t.dataset_id == crate::data::speech::DATASET_ID);
    let speech_batches = matches!(batches, Batches::Speech { .. });
    if speech_comp != speech_batches {
        return Err(user(format!(
            "competition {competition} evaluates {}, but {} holds {}; sample its batches with `sn9 data sample --competition {competition}`",
            if speech_comp { "speech (TTS)" } else { "text" },
            a.batches.display(),
            if speech_batches {
                "speech batches"
            } else {
                "token shards"
            }
        )));
    }
    let tasks = batches.task_names();
    if let Batches::Speech { .. } = &batches {
        match (&a.vocoder, &a.asr) {
            (Some(v), Some(asr)) => super::tts::check_tools(v, asr)?,
            (v, _) => {
                let flag = if v.is_none() { "--vocoder" } else { "--asr" };
                return Err(user(format!(
                    "{} holds speech batches (TTS): pass {flag} DIR (or set SN9_{})",
                    a.batches.display(),
                    if flag == "--asr" { "ASR" } else { "VOCODER" }
                )));
            }
        }
    }
    if let (Some(seq), Some(shards)) = (comp.constraints.sequence_length, &shards)
        && seq as usize != shards.manifest.seq_len
    {
        p.warn(format!(
            "the batches have {}-token sequences, competition {competition} evaluates {seq}: these losses are not comparable with validators'",
            shards.manifest.seq_len
        ));
    }
    let bid = batches_id(&a.batches)?;
    let done = match &a.results {
        Some(r) => done_models(r, &bid, competition)?,
        None => BTreeSet::new(),
    };
    let mut results_file = match &a.results {
        Some(r) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(r)
                .map_err(|e| user(format!("cannot open {} for appending: {e}", r.display())))?,
        ),
        None => None,
    };
    let mut w = stdout();
    let mut summary = Table::new(["uid", "model", "score", "note"]);
    let mut ours: Vec<(u16, Option<u64>, f64)> = Vec::new();
    for (i, dir) in a.models.iter().enumerate() {
        let key = dir.display().to_string();
        let uid = a.uids.get(i).copied().unwrap_or(i as u16);
        if done.contains(&key) {
            p.info(format!("{key}: already in the results file, skipped"));
            continue;
        }
        let start = Instant::now();
        let mut no_task_failure: Option<String> = None;
        // The competition's checks, before spending compute.
        let why_not: Vec<String> = match describe_dir(dir) {
            Ok(d) => {
                if a.skip_checks {
                    Vec::new()
                } else {
                    let bytes = size_on_disk(dir)?;
                    fit(&d.architecture, d.vocab_size, d.parameters, bytes, &comp)
                }
            }
            Err(e) => vec![format!("{e:#}")],
        };
        let outcome: TaskOutcome = if !why_not.is_empty() {
            tasks
                .iter()
                .map(|n| {
                    (
                        n.clone(),
                        Err(format!(
                            "fails competition {competition}: {}",
                            why_not.join("; ")
                        )),
                    )
                })
                .collect()
        } else {
            p.info(format!(
                "{key}: evaluating {} tasks on {}",
                tasks.len(),
                a.device
            ));
            let result = match a.time_limit_s {
                Some(limit) => run_isolated(&a, dir, limit),
                None => dispatch(
                    a.device,
                    Job {
                        dir: dir.clone(),
                        batches: batches.clone(),
                        dtype: a.dtype,
                        batch_size: a.batch_size,
                        vocoder: a.vocoder.clone(),
                        asr: a.asr.clone(),
                    },
                ),
            };
            match result {
                Ok(o) => o,
                Err(e) => {
                    no_task_failure = Some(format!("{e:#}"));
                    tasks
                        .iter()
                        .map(|n| (n.clone(), Err(format!("{e:#}"))))
                        .collect()
                }
            }
        };
        if tasks.is_empty() {
            // No task has data (every loader failed): the reference's score_model sums over no
            // task, so a model that loads and passes the checks scores 0, any other inf.
            let failure = if !why_not.is_empty() {
                Some(format!(
                    "fails competition {competition}: {}",
                    why_not.join("; ")
                ))
            } else {
                no_task_failure.take()
            };
            let row = json!({
                "uid": uid, "hotkey": a.hotkeys.get(i), "competition": competition,
                "block": a.model_blocks.get(i), "score": if failure.is_some() { Value::from("inf") } else { Value::from(0.0) },
                "eval_block": eval_block, "model": key, "error": failure, "batches": bid,
                "note": "no task of the competition has data this round (its loaders failed); the reference scores every loadable model 0",
            });
            let line = row.to_string();
            writeln!(w, "{line}")?;
            if let Some(f) = results_file.as_mut() {
                writeln!(f, "{line}")?;
                f.sync_data()?;
            }
            w.flush()?;
            ours.push((
                uid,
                a.model_blocks.get(i).copied().or(eval_block),
                if failure.is_some() {
                    f64::INFINITY
                } else {
                    0.0
                },
            ));
            continue;
        }
        let mut task_scores = std::collections::BTreeMap::new();
        for (task, r) in &outcome {
            let (loss, err) = match r {
                Ok(l) => (crate::jsonf64::to_value(*l), Value::Null),
                Err(e) => (Value::from("inf"), Value::from(e.clone())),
            };
            task_scores.insert(task.clone(), r.as_ref().copied().unwrap_or(f64::INFINITY));
            let row = json!({
                "uid": uid, "hotkey": a.hotkeys.get(i), "competition": competition,
                "block": a.model_blocks.get(i), "task": task, "loss": loss,
                "eval_block": eval_block, "model": key, "error": err, "batches": bid,
            });
            let line = row.to_string();
            writeln!(w, "{line}")?;
            if let Some(f) = results_file.as_mut() {
                writeln!(f, "{line}")?;
            }
        }
        w.flush()?;
        if let Some(f) = results_file.as_mut() {
            f.sync_data()?;
        }
        let score =
            crate::score::round::combine_tasks(&comp, &task_scores).unwrap_or(f64::INFINITY);
        let note = outcome
            .iter()
            .find_map(|(_, r)| r.as_ref().err().cloned())
            .unwrap_or_default();
        summary.row([
            uid.to_string(),
            key.clone(),
            if score.is_finite() {
                format!("{score:.6}")
            } else {
                "inf".into()
            },
            note,
        ]);
        p.debug(format!("{key}: {:.1}s", start.elapsed().as_secs_f64()));
        ours.push((uid, a.model_blocks.get(i).copied().or(eval_block), score));
    }
    if let Some(against) = &a.against {
        what_if(against, &ours, &comp, eval_block, p)?;
    }
    if p.verbosity >= crate::output::Verbosity::Normal && !summary.is_empty() {
        let mut e = std::io::stderr();
        summary.write(&mut e)?;
    }
    Ok(())
}
