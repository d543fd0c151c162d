//! `sn9 validate --once`: one idempotent validator round for cron or a systemd timer, built from
//! sn9's own stages, each run as a child process whose output is kept in the round's directory:
//!
//! ```text
//! STATE_DIR/state.json               scoring state (EMA, histories, retention); replaced only when a round ends
//! STATE_DIR/validate.lock            held while a round runs (a second run exits at once)
//! STATE_DIR/current-round            the block of an unfinished round (a rerun resumes it)
//! STATE_DIR/rounds/<block>/          metagraph.json, commitments.jsonl, plan.json, pulls.jsonl,
//!                                    batches-<competition>/ (sampled at the sync block, or a
//!                                    link to --eval-data), results.jsonl, state.json, weights.json,
//!                                    score.txt, events.jsonl, done.json
//! STATE_DIR/hf/                      the model cache (HF layout), pruned to the models still planned
//! ```
//!
//! Steps: sync (metagraph + commitments at the head block) → plan (which uids to evaluate, the
//! reference's rules) → pull (each model at its commit, secure hash checked) → data (the
//! evaluation batches) → eval (per-model process, time limit) → score → weights (set once, or
//! `--dry-run`) → finish. A step whose output exists is not run again, so a crash resumes.

pub mod plan;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::chain::command::NetArgs;
use crate::error::user;
use crate::output::{Format, Printer, write_atomic};
use crate::wallet::command::WalletArgs;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Run one round and exit (the only mode: schedule it with cron or a systemd timer).
    #[arg(long)]
    pub once: bool,
    /// Validator state directory.
    #[arg(long, env = "SN9_STATE_DIR", value_name = "DIR")]
    pub state_dir: PathBuf,
    #[command(flatten)]
    pub net: NetArgs,
    #[command(flatten)]
    pub wallet: WalletArgs,
    /// Model hub (https://huggingface.co, a mirror, or file://DIR) [default: $HF_ENDPOINT, else
    /// the Hub].
    #[arg(long, env = "SN9_HUB", value_name = "URL")]
    pub hub: Option<String>,
    /// Evaluation data used instead of sampling the datasets at the sync block (offline rounds,
    /// tests): `COMPETITION=DIR` for one competition, or a bare `DIR` for every competition not
    /// named; token shards (`sn9 data pack --task NAME`) or speech batches
    /// (`sn9 data pack-speech`). Repeat or separate with commas.
    #[arg(
        long,
        env = "SN9_EVAL_DATA",
        value_name = "[COMP=]DIR",
        value_delimiter = ','
    )]
    pub eval_data: Vec<String>,
    /// The competition's tokenizer (tokenizer.json or its directory), to sample the evaluation
    /// data at the sync block.
    #[arg(long, env = "SN9_TOKENIZER")]
    pub tokenizer: Option<PathBuf>,
    /// TTS: the Vocos vocoder (`sn9 hub pull charactr/vocos-mel-24khz`), passed to `sn9 eval`.
    #[arg(long, env = "SN9_VOCODER", value_name = "DIR")]
    pub vocoder: Option<PathBuf>,
    /// TTS: the Whisper model that transcribes (`sn9 hub pull openai/whisper-large-v2`).
    #[arg(long, env = "SN9_ASR", value_name = "DIR")]
    pub asr: Option<PathBuf>,
    /// Competition schedule (JSON) [default: built-in].
    #[arg(long, env = "SN9_SCHEDULE", value_name = "FILE")]
    pub schedule: Option<PathBuf>,
    /// Seconds one model may take to evaluate (its own process is killed after).
    #[arg(long, env = "SN9_EVAL_TIME_LIMIT", default_value_t = 550)]
    pub time_limit_s: u64,
    /// Device: cpu, cuda:N or wgpu:N.
    #[arg(long, env = "SN9_DEVICE", default_value = "cpu")]
    pub device: String,
    /// Memory cap of each model's evaluation process, MiB of address space (CPU only).
    #[arg(long, env = "SN9_EVAL_MEMORY_LIMIT_MB")]
    pub memory_limit_mb: Option<u64>,
    /// Stop before submitting weights (and keep state.json as it was).
    #[arg(long)]
    pub dry_run: bool,
    /// Finished round directories to keep.
    #[arg(long, default_value_t = 20)]
    pub keep_rounds: usize,
}

/// One round's context.
pub struct Round<'a> {
    pub a: &'a ValidateArgs,
    pub dir: PathBuf,
    pub block: u64,
    p: &'a Printer,
}

impl Round<'_> {
    /// Logs one event: a line on stderr (JSON with --json) and in events.jsonl.
    pub fn event(&self, event: &str, fields: Value) {
        let mut doc = json!({"event": event, "block": self.block});
        if let (Some(d), Some(f)) = (doc.as_object_mut(), fields.as_object()) {
            for (k, v) in f {
                d.insert(k.clone(), v.clone());
            }
        }
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("events.jsonl"))
        {
            let _ = writeln!(f, "{doc}");
        }
        if self.p.verbosity >= crate::output::Verbosity::Normal {
            if self.p.format == Format::Json {
                eprintln!("{doc}");
            } else {
                let rest: Vec<String> = fields
                    .as_object()
                    .map(|o| o.iter().map(|(k, v)| format!("{k}={v}")).collect())
                    .unwrap_or_default();
                eprintln!("validate: block {} {event} {}", self.block, rest.join(" "));
            }
        }
    }

    /// Crash injection for the fault tests: `SN9_VALIDATE_FAIL_AFTER=<step>` stops the process
    /// right after that step's output is saved.
    fn checkpoint(&self, step: &str) -> Result<()> {
        self.event("step_done", json!({"step": step}));
        if std::env::var("SN9_VALIDATE_FAIL_AFTER").is_ok_and(|s| s == step) {
            eprintln!("sn9: injected fault after step {step}");
            std::process::exit(3);
        }
        Ok(())
    }
}

/// The sn9 binary itself, with the network and hub settings of this round.
pub fn sn9(a: &ValidateArgs) -> Result<Command> {
    let exe = std::env::current_exe().context("locating the sn9 binary")?;
    let mut c = Command::new(exe);
    c.env("SN9_NETWORK", &a.net.network)
        .env("SN9_NETUID", a.net.netuid.to_string());
    if let Some(g) = &a.net.genesis {
        c.env("SN9_GENESIS", g);
    }
    if let Some(h) = &a.hub {
        c.env("SN9_HUB", h);
    }
    if let Some(s) = &a.schedule {
        c.env("SN9_SCHEDULE", s);
    }
    Ok(c)
}

/// Runs a child sn9; its stdout is returned, its stderr passed through (and returned on error).
pub fn run_child(what: &str, mut c: Command) -> Result<Vec<u8>> {
    let out = c
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("starting {what}"))?;
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    if !out.status.success() {
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim_start_matches("sn9: error: ")
            .to_string();
        return Err(anyhow::Error::new(ChildFailed {
            what: what.into(),
            code: out.status.code(),
            message: last,
        }));
    }
    Ok(out.stdout)
}

/// A child step that failed: its exit code and last message.
#[derive(Debug)]
pub struct ChildFailed {
    pub what: String,
    pub code: Option<i32>,
    pub message: String,
}

impl std::fmt::Display for ChildFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} failed ({}): {}",
            self.what,
            self.code.map_or("killed".into(), |c| format!("exit {c}")),
            self.message
        )
    }
}

impl std::error::Error for ChildFailed {}

fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

pub fn run(a: ValidateArgs, p: &Printer) -> Result<()> {
    if !a.once {
        return Err(user(
            "sn9 validate runs one round per invocation: pass --once and schedule it (cron, a \
             systemd timer); see the README",
        ));
    }
    std::fs::create_dir_all(a.state_dir.join("rounds"))
        .map_err(|e| user(format!("cannot create {}: {e}", a.state_dir.display())))?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(a.state_dir.join("validate.lock"))?;
    if lock.try_lock().is_err() {
        return Err(user(format!(
            "another `sn9 validate` round is running ({} is locked); this run does nothing",
            a.state_dir.join("validate.lock").display()
        )));
    }
    // Resume the unfinished round, or start one at the head block.
    let cur = a.state_dir.join("current-round");
    let block: u64 = match crate::output::read_text_if_exists(&cur, crate::output::Limit::State)? {
        Some(s) => s
            .trim()
            .parse()
            .map_err(|_| user(format!("{} is damaged", cur.display())))?,
        None => {
            let mut c = sn9(&a)?;
            c.args(["--json", "chain", "block"]);
            let v: Value = serde_json::from_slice(&run_child("chain block", c)?)?;
            let b = v["block"].as_u64().context("chain block: no block")?;
            write_atomic(&cur, format!("{b}\n").as_bytes())?;
            b
        }
    };
    let dir = a.state_dir.join("rounds").join(block.to_string());
    std::fs::create_dir_all(&dir)?;
    let r = Round {
        a: &a,
        dir,
        block,
        p,
    };
    if r.dir.join("done.json").exists() {
        r.event("round_already_done", json!({}));
        let _ = std::fs::remove_file(&cur);
        return print_result(&r);
    }
    r.event("round_start", json!({"state_dir": a.state_dir}));
    plan::sync(&r)?;
    r.checkpoint("sync")?;
    let plan = plan::plan(&r)?;
    r.checkpoint("plan")?;
    plan::pull(&r, &plan)?;
    r.checkpoint("pull")?;
    plan::data(&r, &plan)?;
    r.checkpoint("data")?;
    plan::eval(&r, &plan)?;
    r.checkpoint("eval")?;
    let scored = plan::score(&r, &plan)?;
    r.checkpoint("score")?;
    if scored && !a.dry_run {
        plan::set_weights(&r)?;
    }
    r.checkpoint("weights")?;
    plan::finish(&r, &plan, scored)?;
    let _ = std::fs::remove_file(&cur);
    r.event("round_done", json!({"dry_run": a.dry_run}));
    print_result(&r)
}

fn print_result(r: &Round) -> Result<()> {
    let mut w = crate::output::stdout();
    if r.p.format == Format::Json {
        let done = crate::output::read_text(&r.dir.join("done.json"), crate::output::Limit::State)
            .unwrap_or_else(|_| "{}".into());
        writeln!(w, "{}", done.trim())?;
    } else if let Ok(t) =
        crate::output::read_text(&r.dir.join("score.txt"), crate::output::Limit::Table)
    {
        write!(w, "{t}")?;
    } else {
        writeln!(w, "round {}: no model to score", r.block)?;
    }
    Ok(())
}

/// Where a round keeps a file.
pub fn path(r: &Round, name: &str) -> PathBuf {
    r.dir.join(name)
}

pub fn read_json(p: &Path) -> Result<Value> {
    serde_json::from_str(&crate::output::read_text(p, crate::output::Limit::State)?)
        .with_context(|| format!("{} is damaged", p.display()))
}

pub(crate) fn lines_of(p: &Path) -> Vec<Value> {
    crate::output::read_bytes(p, crate::output::Limit::Table)
        .map(|b| json_lines(&b))
        .unwrap_or_default()
}
