//! The command-line interface: clap types only, and dispatch to the stage modules.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};

use crate::chain::command::ChainCommand;
use crate::competition::command::CompetitionsArgs;
use crate::device::DeviceSpec;
use crate::hub::command::HubCommand;
use crate::output::{Format, Printer, Verbosity, stdout};
use crate::score::command::{ScoreArgs, ScoreSettings};
use crate::settings::ConfigFile;

const AFTER_HELP: &str = "\
Settings resolve as: flag > SN9_* environment variable > config file (--config) > default.
Data goes to stdout, messages to stderr; `-` means stdin/stdout.
Exit codes: 0 ok, 1 user or input error, 2 internal error, 130 interrupted (work saved).";

/// sn9: Bittensor Subnet 9 (pre-training) end to end — data, train, hub, eval, score, chain.
#[derive(Debug, Parser)]
#[command(name = "sn9", version, about, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    /// Machine-readable output on stdout (JSON; JSON Lines for streams).
    #[arg(long, global = true)]
    pub json: bool,
    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail on stderr.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// sn9's settings file (TOML, one [section] per command: `[score]`, `[train]`, ...). Every
    /// command takes it; `--config` means nothing else anywhere.
    #[arg(long, env = "SN9_CONFIG", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the competition schedule: ids, reward shares, model constraints, epsilon, tasks.
    Competitions(CompetitionsArgs),
    /// Score a round: evaluation results + previous state → new state and weights, exactly as
    /// the reference validator computes them.
    Score(ScoreArgs),
    /// Hugging Face side: directory and secure hashes, push and pull of models at pinned commits
    /// (the Hub, a local hub or a fake).
    #[command(subcommand)]
    Hub(HubCommand),
    /// Chain side: metadata commitments, metagraph, blocks, weights; a subtensor node or a local
    /// chain (`--network file://DIR`).
    #[command(subcommand)]
    Chain(ChainCommand),
    /// Data: the validator's evaluation data for a block (text and speech), and the miner's side:
    /// fetch, mix, pack.
    #[command(subcommand)]
    Data(crate::data::command::DataCommand),
    /// Evaluate models on sampled batches: the validator's per-task loss with its sanity gate, or
    /// the TTS competition's word error rate, as JSON Lines for `sn9 score`.
    Eval(crate::eval::command::EvalArgs),
    /// Evaluate one model in an isolated process (used by `sn9 eval --time-limit-s`).
    #[command(hide = true)]
    EvalWorker(crate::eval::command::WorkerArgs),
    /// Pretrain a Llama-family model on token shards: AdamW, schedules, validation, resumable
    /// checkpoints; writes a Hugging Face model directory.
    #[command(args_conflicts_with_subcommands = true)]
    Train(Box<crate::train::command::TrainArgs>),
    /// Text to speech: synthesise with a miner's E2TTS model as the validator does.
    #[command(subcommand)]
    Tts(crate::tts::command::TtsCommand),
    /// Models: init, info (parameter count, competition fit), generate, forward, convert.
    #[command(subcommand)]
    Model(crate::model::command::ModelCommand),
    /// One validator round for cron: sync, choose models, download, evaluate, score, set weights;
    /// resumable, locked, pruned.
    Validate(Box<crate::validate::ValidateArgs>),
    /// Wallets in bittensor's format: show addresses, create keys.
    #[command(subcommand)]
    Wallet(crate::wallet::command::WalletCommand),
    /// Show the compute backends compiled in and check that a device works.
    Device {
        /// Device to check: cpu, cuda:N or wgpu:N.
        #[arg(long, env = "SN9_DEVICE", default_value = "cpu")]
        device: DeviceSpec,
    },
    /// Print a shell completion script (bash, zsh or fish) on stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The clap command tree (for completions and docs).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let printer = Printer {
        format: if cli.json {
            Format::Json
        } else {
            Format::Table
        },
        verbosity: if cli.quiet {
            Verbosity::Quiet
        } else if cli.verbose {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        },
    };
    let cfg = ConfigFile::load(cli.config.as_deref())?;
    let started = std::time::Instant::now();
    let result = run_command(cli.command, &cfg, &printer);
    printer.debug(format!(
        "sn9: {:.1} s, peak host memory {}",
        started.elapsed().as_secs_f64(),
        crate::device::peak_host_memory().map_or("unknown".into(), crate::output::human_bytes)
    ));
    result
}

fn run_command(cmd: Command, cfg: &ConfigFile, printer: &Printer) -> Result<()> {
    let printer = *printer;
    match cmd {
        Command::Competitions(a) => crate::competition::command::run(a, cfg, &printer),
        Command::Score(a) => crate::score::command::run(ScoreSettings::resolve(a, cfg)?, &printer),
        Command::Hub(c) => crate::hub::command::run(c, &printer),
        Command::Chain(c) => crate::chain::command::run(c, &printer),
        Command::Model(c) => crate::model::command::run(c, &printer),
        Command::Tts(c) => crate::tts::command::run(c, &printer),
        Command::Data(c) => crate::data::command::run(c, &printer),
        Command::Eval(a) => crate::eval::command::run(a, &printer),
        Command::Validate(a) => crate::validate::run(*a, &printer),
        Command::Wallet(c) => crate::wallet::command::run(c, &printer),
        Command::Train(a) => crate::train::command::run(*a, cfg, &printer),
        Command::EvalWorker(a) => crate::eval::command::run_worker(a),
        Command::Device { device } => {
            let adapter = crate::device::describe(device)?;
            let value = crate::device::smoke_test(device)?;
            let mut w = stdout();
            if printer.format == Format::Json {
                let doc = serde_json::json!({
                    "device": device.to_string(),
                    "adapter": adapter,
                    "backends": crate::device::compiled_backends(),
                    "smoke_sum": value,
                    "ok": value == 523776.0,
                });
                writeln!(w, "{doc}")?;
            } else {
                writeln!(
                    w,
                    "backends  {}",
                    crate::device::compiled_backends().join(", ")
                )?;
                writeln!(w, "device    {device}")?;
                writeln!(w, "adapter   {adapter}")?;
                writeln!(
                    w,
                    "check     sum(0..1024) = {value} ({})",
                    if value == 523776.0 { "ok" } else { "WRONG" }
                )?;
            }
            w.flush()?;
            if value != 523776.0 {
                anyhow::bail!(
                    "device {device} computed a wrong result ({value}); its driver or backend is broken"
                );
            }
            Ok(())
        }
        Command::Completions { shell } => {
            // Generated into memory first: clap_complete panics on a write error, and a
            // closed pipe (`| head -1`) is not one worth a panic.
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut command(), "sn9", &mut buf);
            let mut w = stdout();
            w.write_all(&buf)?;
            w.flush()?;
            Ok(())
        }
    }
}
