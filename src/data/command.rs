//! `sn9 data ...` commands.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use serde_json::{Value, json};

use super::http::{DEFAULT_BASE, DatasetsServer};
use super::pyrandom::BigUint;
use super::sample::{FetchOptions, loader_for, sample_task};
use super::seed::{seed_from_block_hash, sync_block, validate_block_hash};
use super::shards::{self, Manifest};
use super::tokenizer::{Encode, HfTokenizer};
use crate::competition::Schedule;
use crate::error::user;
use crate::output::{Format, Printer, Table, stdout};

/// Per-document token limit of `Xenova/gpt-4` (its `model_max_length`), the subnet's tokenizer.
pub const XENOVA_GPT4_MAX_LEN: usize = 8192;

#[derive(Debug, clap::Subcommand)]
pub enum DataCommand {
    /// The reference validator's evaluation data for a block: pages, tokens and the 50 kept
    /// sequences of every task, bit-identical, written as token shards + a record of the pages
    /// (for the TTS competition: the People's Speech samples, written as speech batches).
    Sample(SampleArgs),
    /// Tokenize documents (.jsonl with a text field, .parquet, .txt) into token shards, packed as the
    /// reference packs them: EOS after each document, fixed windows across documents.
    Pack(PackArgs),
    /// Make speech batches (the TTS competition's evaluation data) from local clips, as the
    /// validator's People's Speech loader makes them from a page of rows: decode, mono, RMS,
    /// resample to 24 kHz, skip rules, query pairing, tokens and lengths, shuffle, 50 kept.
    PackSpeech(PackSpeechArgs),
    /// Download rows of a Hub dataset through the datasets-server into JSON Lines (paged,
    /// retried, resumable).
    Fetch(FetchArgs),
    /// Draw a declarative mixture of local corpora (MIX.toml: sources with weights, document or
    /// token budgets, a seed) into one JSON Lines or parquet file, deterministically.
    Mix(MixArgs),
}

#[derive(Debug, clap::Args)]
pub struct MixArgs {
    /// The mix file (TOML; see mixes/sn9-eval.toml).
    pub mix: PathBuf,
    /// Output: .parquet, else JSON Lines (`{"text", "source"}` per line).
    #[arg(long)]
    pub out: PathBuf,
    /// Tokenizer for token budgets and token counts: a tokenizer.json or a directory holding one.
    #[arg(long, env = "SN9_TOKENIZER")]
    pub tokenizer: Option<PathBuf>,
    /// The mix's size in documents, instead of the file's `documents`.
    #[arg(long)]
    pub documents: Option<u64>,
    /// Replace OUT if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct FetchArgs {
    /// Dataset repo id, e.g. HuggingFaceFW/fineweb (rows through the datasets-server).
    #[arg(long, required_unless_present_any = ["from", "hub_dataset"])]
    pub dataset: Option<String>,
    /// Or: a Hub dataset's parquet shards at --revision, downloaded into the Hugging Face cache
    /// (resumed, verified) and read for their text column.
    #[arg(long, value_name = "REPO", conflicts_with_all = ["dataset", "from"])]
    pub hub_dataset: Option<String>,
    /// Revision of --hub-dataset: a commit sha to pin, or a branch (the commit it resolves to is
    /// printed).
    #[arg(long, default_value = "main", requires = "hub_dataset")]
    pub revision: String,
    /// Which parquet files of --hub-dataset (globs over repository paths).
    #[arg(long, num_args = 1.., default_value = "**/*.parquet", requires = "hub_dataset")]
    pub files: Vec<String>,
    /// Hub for --hub-dataset: https://huggingface.co (or a mirror), or file://DIR [default:
    /// $HF_ENDPOINT, else https://huggingface.co].
    #[arg(long, env = "SN9_HUB", value_name = "URL")]
    pub hub: Option<String>,
    /// Cache for --hub-dataset [default: $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub].
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Local files instead (.jsonl, .parquet, .txt): their documents as `{"text", "source"}`
    /// rows, unusable ones counted and left out.
    #[arg(long, num_args = 1.., conflicts_with = "dataset", value_name = "FILE")]
    pub from: Vec<PathBuf>,
    /// Field or column holding the text of --from files (`content` is the fallback).
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// How --from .txt files split into documents.
    #[arg(long, value_enum, default_value = "paragraphs")]
    pub txt_split: super::pack::TxtSplit,
    /// Subset name (the datasets-server's `config`).
    #[arg(long, default_value = "default")]
    pub subset: String,
    /// Split.
    #[arg(long, default_value = "train")]
    pub split: String,
    /// First row.
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    /// Number of rows (with --hub-dataset: at most this many, default all).
    #[arg(long, required_unless_present_any = ["from", "hub_dataset"])]
    pub rows: Option<u64>,
    /// Rows per request (the server allows at most 100).
    #[arg(long, default_value_t = 100)]
    pub page_size: u64,
    /// Output: JSON Lines (an existing file is continued: resume), or .parquet (written when
    /// complete; the rows are gathered, resumably, in a hidden JSON Lines file beside it).
    #[arg(long)]
    pub out: PathBuf,
    /// Send HF_TOKEN (gated datasets).
    #[arg(long)]
    pub auth: bool,
    /// datasets-server base URL.
    #[arg(long, env = "SN9_DATASETS_SERVER", default_value = DEFAULT_BASE)]
    pub datasets_server: String,
    #[command(flatten)]
    pub retry: crate::retry::RetryArgs,
    /// Request timeout in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub timeout_ms: u64,
}

#[derive(Debug, clap::Args)]
pub struct PackArgs {
    /// Input files: .jsonl (one JSON object per line), .parquet (a text column) or .txt.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Tokenizer: a tokenizer.json or a directory holding one.
    #[arg(long, env = "SN9_TOKENIZER")]
    pub tokenizer: PathBuf,
    /// EOS id [default: from tokenizer_config.json, or <|endoftext|>].
    #[arg(long)]
    pub eos_id: Option<u32>,
    /// Per-document truncation [default: none; the subnet's evaluation truncates at 8192].
    #[arg(long)]
    pub max_doc_tokens: Option<usize>,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 4096)]
    pub seq_len: usize,
    /// JSON field holding the text (`content` is the fallback).
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// How .txt files split into documents.
    #[arg(long, value_enum, default_value = "paragraphs")]
    pub txt_split: super::pack::TxtSplit,
    /// Sequences per shard file.
    #[arg(long, default_value_t = 65_536)]
    pub sequences_per_shard: u64,
    /// Write one shard named after this evaluation task (e.g. FINEWEB), as `data sample` does, so
    /// `sn9 eval` scores it as that task (held-out data for offline evaluation).
    #[arg(long, value_name = "NAME")]
    pub task: Option<String>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace OUT if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct PackSpeechArgs {
    /// JSON Lines of rows (`-` for stdin): `{"text": "...", "audio": "clip.wav"}`, the audio
    /// path relative to the file's directory (WAV: PCM 8/16/24/32-bit or float, any rate).
    pub rows: PathBuf,
    /// Seed of the query pairing and the shuffle (a decimal integer of any size); `sn9 eval`
    /// also draws the sampler's noise from it.
    #[arg(long, default_value = "0")]
    pub seed: String,
    /// Task name the batches are scored as.
    #[arg(long, default_value = super::speech::TASK)]
    pub task: String,
    /// Output directory (speech batches).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace OUT if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct SampleArgs {
    /// Current block (the data is drawn for its sync block, block // 150 * 150).
    #[arg(long, env = "SN9_BLOCK")]
    pub block: u64,
    /// Hash of the sync block as the chain returns it (0x + 64 hex digits).
    #[arg(long, env = "SN9_BLOCK_HASH", required_unless_present = "seed")]
    pub block_hash: Option<String>,
    /// Use this seed (decimal) instead of the block hash (e.g. the reference's random fallback).
    #[arg(long, conflicts_with = "block_hash")]
    pub seed: Option<String>,
    /// Competition whose tasks to sample.
    #[arg(long, default_value_t = 2)]
    pub competition: u16,
    /// The competition's tokenizer: a tokenizer.json or a directory holding one (text
    /// competitions; the TTS competition's texts stay text).
    #[arg(long, env = "SN9_TOKENIZER")]
    pub tokenizer: Option<PathBuf>,
    /// EOS id [default: the tokenizer_config.json eos token, or <|endoftext|>].
    #[arg(long)]
    pub eos_id: Option<u32>,
    /// Per-document truncation [default: 8192 for Xenova/gpt-4 competitions, else the
    /// tokenizer_config.json model_max_length].
    #[arg(long)]
    pub max_doc_tokens: Option<usize>,
    /// Sequence length [default: the competition's, 4096].
    #[arg(long)]
    pub seq_len: Option<usize>,
    /// Output directory: token shards + manifest.json, or for the TTS competition speech
    /// batches (texts as JSON Lines, 24 kHz clips as float32).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace OUT if it exists.
    #[arg(long)]
    pub force: bool,
    /// datasets-server base URL.
    #[arg(long, env = "SN9_DATASETS_SERVER", default_value = DEFAULT_BASE)]
    pub datasets_server: String,
    /// Request timeout in milliseconds (the reference: 15000).
    #[arg(long, default_value_t = 15_000)]
    pub timeout_ms: u64,
    /// Pause after a failed request in milliseconds (the reference: 5000, fixed; its retry
    /// count is fixed too, since it decides the pages drawn).
    #[arg(
        long,
        alias = "retry-delay-ms",
        env = "SN9_BACKOFF_MS",
        default_value_t = 5_000,
        value_name = "MS"
    )]
    pub backoff_ms: u64,
    /// Stop (exit 2, nothing written) when a retry would start more than this many seconds
    /// after the command began: with the datasets-server down the reference's retries would
    /// take hours.
    #[arg(
        long,
        env = "SN9_DEADLINE_S",
        default_value_t = 900,
        value_name = "SECONDS"
    )]
    pub deadline_s: u64,
    /// Competition schedule (JSON) [default: built-in].
    #[arg(long, env = "SN9_SCHEDULE", value_name = "FILE")]
    pub schedule: Option<PathBuf>,
    /// Write the batches even when every task's loader failed (no task then): the reference
    /// validator skips such tasks, and with none left scores every loadable model 0 (what
    /// `sn9 eval` then does). `sn9 validate` samples with this.
    #[arg(long)]
    pub allow_empty: bool,
    /// Endpoint of the Software Heritage bucket (Stack v2 contents; needs AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY).
    #[arg(long, env = "SN9_S3_ENDPOINT", default_value = super::s3::DEFAULT_ENDPOINT)]
    pub s3_endpoint: String,
}

pub fn run(cmd: DataCommand, p: &Printer) -> Result<()> {
    match cmd {
        DataCommand::Sample(a) => sample(a, p),
        DataCommand::Pack(a) => pack(a, p),
        DataCommand::PackSpeech(a) => pack_speech(a, p),
        DataCommand::Fetch(a) => fetch(a, p),
        DataCommand::Mix(a) => mix(a, p),
    }
}

/// `data fetch --from FILES`: local documents as `{"text", "source"}` rows.
fn fetch_local(a: &FetchArgs, p: &Printer) -> Result<()> {
    use super::docs::Doc;
    let mut stats = json!({"files": 0, "rows_written": 0, "empty_documents": 0,
        "non_utf8_documents": 0, "missing_text": 0});
    let bump = |s: &mut Value, k: &str| s[k] = json!(s[k].as_u64().unwrap_or(0) + 1);
    super::docs::write_rows(&a.out, |w| {
        for path in &a.from {
            let source = path.display().to_string();
            super::docs::read_docs(path, &a.text_field, a.txt_split, |docs, _| {
                for d in docs {
                    match d {
                        Doc::Text(t) if t.trim().is_empty() => bump(&mut stats, "empty_documents"),
                        Doc::Text(t) => {
                            serde_json::to_writer(&mut *w, &json!({"text": t, "source": source}))?;
                            w.write_all(b"\n")?;
                            bump(&mut stats, "rows_written");
                        }
                        Doc::NonUtf8 => bump(&mut stats, "non_utf8_documents"),
                        Doc::MissingText => bump(&mut stats, "missing_text"),
                    }
                }
                Ok(())
            })?;
            bump(&mut stats, "files");
        }
        Ok(())
    })?;
    let skipped = ["empty_documents", "non_utf8_documents", "missing_text"]
        .iter()
        .map(|k| stats[k].as_u64().unwrap_or(0))
        .sum::<u64>();
    if skipped > 0 {
        p.warn(format!(
            "{skipped} documents not usable and left out ({} empty, {} not UTF-8, {} without text)",
            stats["empty_documents"], stats["non_utf8_documents"], stats["missing_text"]
        ));
    }
    let mut w = stdout();
    if p.format == Format::Json {
        writeln!(w, "{stats}")?;
    } else {
        writeln!(
            w,
            "{} rows written to {}",
            stats["rows_written"],
            a.out.display()
        )?;
    }
    w.flush()?;
    Ok(())
}

/// `data fetch --hub-dataset`: parquet shards of a Hub dataset at a revision, through the HF
/// cache, as `{"text", "dataset", "revision", "file"}` rows.
fn fetch_hub(a: &FetchArgs, p: &Printer) -> Result<()> {
    use crate::hub::repo::{RepoId, safe_path};
    use std::io::IsTerminal;
    let repo = RepoId::dataset(a.hub_dataset.as_deref().unwrap_or_default())?;
    let retry = a.retry.policy();
    let spec = a
        .hub
        .clone()
        .or_else(|| std::env::var("HF_ENDPOINT").ok())
        .unwrap_or_else(|| "https://huggingface.co".into());
    let hub = crate::hub::store::open(&spec, crate::hub::command::token(), retry)?;
    let info = hub.info(&repo, &a.revision)?;
    let pats = a
        .files
        .iter()
        .map(|g| glob::Pattern::new(g).map_err(|e| user(format!("--files `{g}`: {e}"))))
        .collect::<Result<Vec<_>>>()?;
    let mut files: Vec<_> = info
        .files
        .iter()
        .filter(|f| f.path.ends_with(".parquet") && pats.iter().any(|g| g.matches(&f.path)))
        .collect();
    files.sort_by(|x, y| x.path.cmp(&y.path));
    if files.is_empty() {
        let have: Vec<&str> = info
            .files
            .iter()
            .filter(|f| f.path.ends_with(".parquet"))
            .take(10)
            .map(|f| f.path.as_str())
            .collect();
        return Err(user(format!(
            "{repo}@{}: no parquet file matches {:?} (it has: {})",
            info.commit,
            a.files,
            if have.is_empty() {
                "no parquet files".to_string()
            } else {
                have.join(", ")
            }
        )));
    }
    for f in &files {
        safe_path(&f.path)?;
    }
    let root = a
        .cache_dir
        .clone()
        .unwrap_or_else(crate::hub::cache::root_from_env);
    let bar = if std::io::stderr().is_terminal() && p.verbosity >= crate::output::Verbosity::Normal
    {
        indicatif::ProgressBar::new(files.iter().map(|f| f.size).sum())
    } else {
        indicatif::ProgressBar::hidden()
    };
    let limit = a.rows.unwrap_or(u64::MAX);
    let (mut written, mut missing, mut used) = (0u64, 0u64, Vec::new());
    super::docs::write_rows(&a.out, |w| {
        for f in &files {
            if written >= limit {
                break;
            }
            bar.set_message(f.path.clone());
            let local =
                crate::hub::cache::fetch(&root, hub.as_ref(), &repo, &info.commit, f, retry, &bar)?;
            used.push(f.path.clone());
            super::docs::read_parquet(&local, &a.text_field, |texts| {
                for t in texts {
                    if written >= limit {
                        break;
                    }
                    match t {
                        Some(t) if !t.trim().is_empty() => {
                            serde_json::to_writer(
                                &mut *w,
                                &json!({"text": t, "dataset": repo.to_string(),
                                    "revision": info.commit, "file": f.path}),
                            )?;
                            w.write_all(b"\n")?;
                            written += 1;
                        }
                        _ => missing += 1,
                    }
                }
                Ok(())
            })?;
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    if missing > 0 {
        p.warn(format!("{missing} rows had no text and were left out"));
    }
    if written < limit && a.rows.is_some() {
        p.warn(format!(
            "the selected files hold {written} usable rows, fewer than --rows {limit}"
        ));
    }
    let stats = json!({"dataset": repo.to_string(), "commit": info.commit, "files": used,
        "rows_written": written, "rows_without_text": missing});
    let mut w = stdout();
    if p.format == Format::Json {
        writeln!(w, "{stats}")?;
    } else {
        writeln!(
            w,
            "{written} rows of {repo}@{} written to {}",
            info.commit,
            a.out.display()
        )?;
    }
    w.flush()?;
    Ok(())
}

fn mix(a: MixArgs, p: &Printer) -> Result<()> {
    let mut spec = super::mix::MixSpec::load(&a.mix)?;
    if a.documents.is_some() {
        spec.documents = a.documents;
    }
    if a.out.exists() && !a.force {
        return Err(user(format!(
            "{} exists; pass --force to replace it",
            a.out.display()
        )));
    }
    let tok = a
        .tokenizer
        .as_deref()
        .map(|t| HfTokenizer::load(t, None, None))
        .transpose()?;
    let base = a
        .mix
        .parent()
        .filter(|b| !b.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let (mut df, report) = super::mix::draw(
        &spec,
        base,
        tok.as_ref().map(|t| t as &dyn Encode),
        |name| p.info(format!("reading source {name}")),
    )?;
    super::mix::write(&mut df, &a.out)?;
    for s in &report.sources {
        if let Some(why) = &s.skipped {
            p.warn(format!(
                "source {} skipped (optional): {why}; the weights were renormalised",
                s.name
            ));
        }
        let bad = s.empty_documents + s.non_utf8_documents + s.missing_text;
        if bad > 0 {
            p.warn(format!(
                "source {}: {bad} documents not usable ({} empty, {} not UTF-8, {} without text)",
                s.name, s.empty_documents, s.non_utf8_documents, s.missing_text
            ));
        }
    }
    let mut w = stdout();
    if p.format == Format::Json {
        writeln!(w, "{}", serde_json::to_string(&report)?)?;
    } else {
        let mut t = Table::new(["source", "files", "available", "selected", "tokens"]);
        for s in &report.sources {
            t.row([
                s.name.clone(),
                s.files.to_string(),
                s.available.to_string(),
                s.selected.to_string(),
                s.tokens.map_or("-".into(), |t| t.to_string()),
            ]);
        }
        t.write(&mut w)?;
        p.info(format!(
            "{} documents written to {}",
            report.documents,
            a.out.display()
        ));
    }
    w.flush()?;
    Ok(())
}

fn fetch(a: FetchArgs, p: &Printer) -> Result<()> {
    use std::io::IsTerminal;
    if !a.from.is_empty() {
        return fetch_local(&a, p);
    }
    if a.hub_dataset.is_some() {
        return fetch_hub(&a, p);
    }
    let (Some(dataset), Some(rows)) = (a.dataset.clone(), a.rows) else {
        return Err(user("give --dataset and --rows, or --from FILES"));
    };
    let parquet = super::docs::is_parquet(&a.out);
    let rows_path = if parquet {
        super::docs::hidden_beside(&a.out, "rows.jsonl")
    } else {
        a.out.clone()
    };
    let token = std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty());
    if a.auth && token.is_none() {
        return Err(user("--auth needs HF_TOKEN in the environment"));
    }
    let mut src = DatasetsServer::new(
        &a.datasets_server,
        token,
        Duration::from_millis(a.timeout_ms),
    );
    let spec = super::fetch::FetchSpec {
        dataset,
        config: a.subset.clone(),
        split: a.split.clone(),
        offset: a.offset,
        rows,
        page_size: a.page_size,
        auth: a.auth,
        retry: a.retry.policy(),
    };
    let bar = (std::io::stderr().is_terminal() && p.verbosity >= crate::output::Verbosity::Normal)
        .then(|| indicatif::ProgressBar::new(rows));
    let stats = super::fetch::fetch_rows(&mut src, &spec, &rows_path, |n| {
        if let Some(b) = &bar {
            b.set_position(n);
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if stats.resumed_from > 0 {
        p.info(format!(
            "resumed after {} rows already in {}",
            stats.resumed_from,
            a.out.display()
        ));
    }
    if stats.end_of_dataset {
        p.warn("the dataset ended before the requested number of rows");
    }
    if stats.rows_without_text > 0 {
        p.warn(format!(
            "{} rows had no text or content (kept as skipped lines)",
            stats.rows_without_text
        ));
    }
    if parquet {
        super::docs::jsonl_to_parquet(&rows_path, &a.out)?;
        std::fs::remove_file(&rows_path)?;
    }
    let mut w = stdout();
    if p.format == Format::Json {
        writeln!(w, "{}", serde_json::to_string(&stats)?)?;
    } else {
        writeln!(
            w,
            "{} rows written to {} ({} requests, {} retries)",
            stats.rows_written,
            a.out.display(),
            stats.requests,
            stats.retries
        )?;
    }
    w.flush()?;
    Ok(())
}

fn pack(a: PackArgs, p: &Printer) -> Result<()> {
    use std::io::IsTerminal;
    let mut tok = HfTokenizer::load(&a.tokenizer, a.eos_id, None)?;
    // Training data is not truncated unless asked (tokenizer_config's model_max_length is a
    // property of the evaluation, not of the corpus).
    tok.max_len = a.max_doc_tokens;
    let info = json!({"path": tok.path, "sha256": tok.sha256, "max_doc_tokens": tok.max_len});
    let opt = super::pack::PackOptions {
        seq_len: a.seq_len,
        text_field: a.text_field,
        txt_split: a.txt_split,
        sequences_per_shard: if a.task.is_some() {
            u64::MAX
        } else {
            a.sequences_per_shard
        },
        task: a.task.clone(),
        replace: a.force,
        progress: if p.verbosity < crate::output::Verbosity::Normal {
            super::pack::Progress::None
        } else if std::io::stderr().is_terminal() {
            super::pack::Progress::Bar
        } else {
            super::pack::Progress::Lines
        },
    };
    let (stats, manifest) = super::pack::pack(&a.inputs, &tok, info, &opt, &a.out)?;
    let skipped = stats.empty_documents + stats.non_utf8_documents + stats.missing_text;
    if skipped > 0 {
        p.warn(format!(
            "skipped {skipped} document(s): {} empty, {} not UTF-8, {} without a text field",
            stats.empty_documents, stats.non_utf8_documents, stats.missing_text
        ));
    }
    let mut w = stdout();
    if p.format == Format::Json {
        writeln!(w, "{}", serde_json::to_string(&manifest)?)?;
    } else {
        let mut t = Table::new([
            "documents",
            "tokens",
            "sequences",
            "shards",
            "dropped tail tokens",
            "skipped",
        ]);
        t.row([
            stats.documents.to_string(),
            stats.tokens.to_string(),
            stats.sequences.to_string(),
            manifest.shards.len().to_string(),
            stats.dropped_tail_tokens.to_string(),
            skipped.to_string(),
        ]);
        t.write(&mut w)?;
    }
    w.flush()?;
    p.info(format!("written to {}", a.out.display()));
    Ok(())
}

fn sample(a: SampleArgs, p: &Printer) -> Result<()> {
    let sb = sync_block(a.block);
    let seed = match (&a.seed, &a.block_hash) {
        (Some(s), _) => BigUint::parse_decimal(s).ok_or_else(|| {
            user(format!(
                "--seed `{s}` is not a non-negative decimal integer"
            ))
        })?,
        (None, Some(h)) => {
            validate_block_hash(h).map_err(user)?;
            seed_from_block_hash(h)
        }
        (None, None) => {
            return Err(user(
                "pass --block-hash (the hash of the sync block) or --seed",
            ));
        }
    };
    let schedule = Schedule::load(a.schedule.as_deref())?;
    let comp = schedule.competition(a.competition, a.block).ok_or_else(|| {
        user(format!("competition {} is not in the schedule at block {} (see `sn9 competitions --block {}`)", a.competition, a.block, a.block))
    })?;
    let opt = FetchOptions {
        retry_delay: Duration::from_millis(a.backoff_ms),
        verbose: p.verbosity >= crate::output::Verbosity::Verbose,
        deadline: crate::retry::deadline_in(Some(a.deadline_s)),
    };
    p.info(format!(
        "sampling competition {} ({}) for block {} (sync block {sb}), seed {}",
        comp.id,
        comp.name,
        a.block,
        seed.to_decimal()
    ));
    if comp
        .eval_tasks
        .iter()
        .any(|t| t.dataset_id == super::speech::DATASET_ID)
    {
        return sample_speech_batches(&a, comp, &seed, sb, &opt, p);
    }
    let Some(tokenizer) = &a.tokenizer else {
        return Err(user(format!(
            "competition {} evaluates text: pass --tokenizer (its tokenizer.json)",
            comp.id
        )));
    };
    let seq_len = match a
        .seq_len
        .or(comp.constraints.sequence_length.map(|s| s as usize))
    {
        Some(s) if s > 0 => s,
        _ => {
            return Err(user(format!(
                "competition {} has no sequence length; pass --seq-len",
                comp.id
            )));
        }
    };
    let max_len = a.max_doc_tokens.or(
        if comp.constraints.tokenizer.as_deref() == Some("Xenova/gpt-4") {
            Some(XENOVA_GPT4_MAX_LEN)
        } else {
            None
        },
    );
    let tok = HfTokenizer::load(tokenizer, a.eos_id, max_len)?;
    let token = std::env::var("HF_TOKEN").ok().filter(|t| !t.is_empty());
    let mut src = DatasetsServer::new(
        &a.datasets_server,
        token.clone(),
        Duration::from_millis(a.timeout_ms),
    );
    let aws = super::s3::Credentials::from_env();
    src.blobs = aws
        .clone()
        .map(|c| super::s3::Blobs::new(&a.s3_endpoint, c, Duration::from_millis(a.timeout_ms)));

    let mut out_shards: Vec<(String, Vec<u32>, Value)> = Vec::new();
    let mut records = Vec::new();
    for task in &comp.eval_tasks {
        let spec = match loader_for(task) {
            Ok(s) => s,
            Err(e) => {
                p.warn(format!("task {}: skipped: {e:#}", task.name));
                records.push(
                    json!({"task": task.name, "weight": task.weight, "skipped": format!("{e:#}")}),
                );
                continue;
            }
        };
        let skip = if spec.requires_auth && token.is_none() {
            Some(format!(
                "{} is gated: set HF_TOKEN (the reference skips the task without it)",
                spec.dataset
            ))
        } else if spec.s3_contents && aws.is_none() {
            Some(format!(
                "{} contents come from the Software Heritage S3 bucket: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (without them the reference fails this task too, and its weight is renormalised)",
                spec.dataset
            ))
        } else {
            None
        };
        if let Some(reason) = skip {
            p.warn(format!("task {}: skipped: {reason}", task.name));
            records.push(json!({"task": task.name, "dataset": spec.dataset, "weight": task.weight, "skipped": reason}));
            continue;
        }
        match sample_task(&spec, &seed, seq_len, &mut src, &tok, &opt) {
            Ok(d) => {
                p.info(format!(
                    "task {}: {} pages, {} of {} sequences kept",
                    d.task,
                    d.pages.len(),
                    d.sequences.len(),
                    d.batches_before_truncation
                ));
                let rec = json!({
                    "task": d.task, "dataset": d.dataset, "weight": task.weight, "pages": d.pages,
                    "page_names": d.pages.iter().map(|p| p.name_value()).collect::<Vec<_>>(), "batches_before_truncation": d.batches_before_truncation,
                    "sequences": d.sequences.len(), "skipped": null,
                });
                records.push(rec.clone());
                out_shards.push((d.task.clone(), d.sequences.concat(), rec));
            }
            Err(super::sample::FetchError::Deadline(m)) => return Err(anyhow::anyhow!(m)),
            Err(e) => {
                p.warn(format!("task {}: skipped: {e}", task.name));
                records.push(json!({"task": task.name, "dataset": spec.dataset, "weight": task.weight, "skipped": e.to_string()}));
            }
        }
    }
    if out_shards.is_empty() && !a.allow_empty {
        return Err(user(
            "no task produced data (see the warnings above); nothing written (--allow-empty writes batches without tasks, as the reference then scores every model 0)",
        ));
    }
    let manifest = Manifest {
        schema: shards::SCHEMA.into(),
        version: shards::VERSION,
        seq_len,
        eos_id: tok.eos(),
        tokenizer: json!({"path": tok.path, "sha256": tok.sha256, "max_doc_tokens": tok.max_len}),
        shards: Vec::new(),
        origin: json!({
            "command": "data sample", "competition": comp.id, "block": a.block, "sync_block": sb,
            "block_hash": a.block_hash, "seed": seed.to_decimal(), "tasks": records,
        }),
    };
    shards::write(&a.out, manifest.clone(), &out_shards, a.force)?;
    let written = serde_json::to_value(shards::Shards::open(&a.out)?.manifest)?;
    print_sampled(&written, &records, "sequences", &a.out, p)
}

/// What `data sample` wrote: the manifest (`--json`), or a table of the tasks (`count` names the
/// records' field with the kept batches) and where it went.
fn print_sampled(
    manifest: &Value,
    records: &[Value],
    count: &str,
    out: &std::path::Path,
    p: &Printer,
) -> Result<()> {
    let mut w = stdout();
    if p.format == Format::Json {
        writeln!(w, "{}", serde_json::to_string(manifest)?)?;
    } else {
        let mut t = Table::new(["task", "dataset", "pages", count, "status"]);
        for r in records {
            t.row([
                r["task"].as_str().unwrap_or("").to_string(),
                r["dataset"].as_str().unwrap_or("").to_string(),
                r["pages"].as_array().map_or(0, |a| a.len()).to_string(),
                r[count].as_u64().unwrap_or(0).to_string(),
                r["skipped"]
                    .as_str()
                    .map_or("ok".to_string(), |s| format!("skipped: {s}")),
            ]);
        }
        t.write(&mut w)?;
        p.info(format!("written to {}", out.display()));
    }
    w.flush()?;
    Ok(())
}

/// `data sample` for the TTS competition: each People's Speech task as the validator's loader
/// draws it (pages, rows, audio, pairing, texts, lengths), shuffled and cut to 50, written as
/// speech batches.
fn sample_speech_batches(
    a: &SampleArgs,
    comp: &crate::competition::Competition,
    seed: &BigUint,
    sb: u64,
    opt: &FetchOptions,
    p: &Printer,
) -> Result<()> {
    let mut src = DatasetsServer::new(
        &a.datasets_server,
        None,
        Duration::from_millis(a.timeout_ms),
    );
    let mut records = Vec::new();
    let mut out = Vec::new();
    for task in &comp.eval_tasks {
        if task.dataset_id != super::speech::DATASET_ID {
            let why = format!(
                "dataset id {} is not speech; a competition mixes no text and speech tasks",
                task.dataset_id
            );
            p.warn(format!("task {}: skipped: {why}", task.name));
            records.push(json!({"task": task.name, "weight": task.weight, "skipped": why}));
            continue;
        }
        let num_pages = task
            .dataset_kwargs
            .get("num_pages")
            .and_then(|v| v.as_u64())
            .unwrap_or(1);
        match super::speech::sample_speech(seed, num_pages, &mut src, opt) {
            Ok(d) => {
                p.info(format!(
                    "task {}: {} pages, {}",
                    task.name,
                    d.pages.len(),
                    d.counts()
                ));
                let rec = json!({
                    "task": task.name, "dataset": d.dataset, "weight": task.weight, "pages": d.pages,
                    "page_names": d.page_names, "rows": d.rows.len(), "skipped_rows": d.skipped,
                    "batches_before_truncation": d.batches_before_truncation,
                    "samples": d.entries.len(), "skipped": null,
                });
                records.push(rec.clone());
                out.push((task.name.clone(), d.entries, rec));
            }
            Err(super::sample::FetchError::Deadline(m)) => return Err(anyhow::anyhow!(m)),
            Err(e) => {
                // The reference logs the loader's exception and skips the task.
                p.warn(format!("task {}: skipped: {e}", task.name));
                records.push(json!({"task": task.name, "dataset": super::speech::DATASET, "weight": task.weight, "skipped": e.to_string()}));
            }
        }
    }
    if out.is_empty() && !a.allow_empty {
        return Err(user(
            "no task produced data (see the warnings above); nothing written (--allow-empty writes batches without tasks, as the reference then scores every model 0)",
        ));
    }
    let origin = json!({
        "command": "data sample", "competition": comp.id, "block": a.block, "sync_block": sb,
        "block_hash": a.block_hash, "seed": seed.to_decimal(), "tasks": records,
    });
    let manifest = super::speech_batches::write(&a.out, origin, &out, a.force)?;
    print_sampled(
        &serde_json::to_value(&manifest)?,
        &records,
        "samples",
        &a.out,
        p,
    )
}

fn pack_speech(a: PackSpeechArgs, p: &Printer) -> Result<()> {
    let seed = BigUint::parse_decimal(&a.seed).ok_or_else(|| {
        user(format!(
            "--seed `{}` is not a non-negative decimal integer",
            a.seed
        ))
    })?;
    let base = if a.rows.as_os_str() == "-" {
        PathBuf::from(".")
    } else {
        a.rows
            .parent()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
    };
    let text = crate::output::read_to_string(&a.rows)?;
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line)
            .map_err(|e| user(format!("{}:{}: {e}", a.rows.display(), n + 1)))?;
        let (Some(t), Some(au)) = (
            v.get("text").and_then(|t| t.as_str()),
            v.get("audio").and_then(|t| t.as_str()),
        ) else {
            return Err(user(format!(
                "{}:{}: a row needs string fields `text` and `audio` (a WAV path)",
                a.rows.display(),
                n + 1
            )));
        };
        rows.push((t.to_string(), base.join(au)));
    }
    let d = super::speech::pack_speech(&seed, &rows, &a.rows.display().to_string())?;
    p.info(d.counts());
    let rec = json!({
        "task": a.task, "dataset": d.dataset, "rows": d.rows.len(), "skipped_rows": d.skipped,
        "batches_before_truncation": d.batches_before_truncation, "samples": d.entries.len(),
    });
    let origin = json!({"command": "data pack-speech", "seed": seed.to_decimal(), "tasks": [rec]});
    let manifest =
        super::speech_batches::write(&a.out, origin, &[(a.task.clone(), d.entries, rec)], a.force)?;
    let mut w = stdout();
    if p.format == Format::Json {
        writeln!(w, "{}", serde_json::to_string(&manifest)?)?;
    } else {
        p.info(format!("written to {}", a.out.display()));
    }
    w.flush()?;
    Ok(())
}
