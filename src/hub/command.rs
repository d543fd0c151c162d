//! `sn9 hub ...` commands.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::hash::{hash_directory, secure_hash};
use super::repo::{RepoId, commit_sha};
use super::store::{Hub, Retry, open as open_hub};
use crate::competition::Schedule;
use crate::error::user;
use crate::output::{Format, Printer, Table, stdout};

/// `sn9 hub` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum HubCommand {
    /// Hash a model directory the way validators do, and bind it to a hotkey.
    ///
    /// Prints the directory hash and, with --hotkey, the secure hash that goes into the chain
    /// commitment (`b64(sha256(directory_hash + hotkey))`).
    Hash(HashArgs),
    /// Download a model at a pinned commit into the Hugging Face cache (only the files
    /// validators load: config, safetensors, index, tokenizer; never pickles or code), verify
    /// it, and print its directory.
    Pull(PullArgs),
    /// Commit a model directory to a hub repository (created if needed; large files through Git
    /// LFS; unchanged files are not uploaded again) and print the commit and the hashes for the
    /// chain commitment.
    Push(PushArgs),
}

/// Where models live: `--hub`, `SN9_HUB`, `HF_ENDPOINT`, then the Hugging Face Hub.
#[derive(Debug, clap::Args)]
pub struct HubArgs {
    /// Hub: https://huggingface.co (or a mirror), or file://DIR for a local hub [default:
    /// $HF_ENDPOINT, else https://huggingface.co].
    #[arg(long, env = "SN9_HUB", value_name = "URL")]
    pub hub: Option<String>,
    #[command(flatten)]
    pub retry_args: crate::retry::RetryArgs,
}

impl HubArgs {
    pub fn open(&self) -> Result<Box<dyn Hub>> {
        let spec = self
            .hub
            .clone()
            .or_else(|| std::env::var("HF_ENDPOINT").ok())
            .unwrap_or_else(|| "https://huggingface.co".into());
        open_hub(&spec, token(), self.retry())
    }

    pub fn retry(&self) -> Retry {
        self.retry_args.policy()
    }
}

/// `HF_TOKEN`, else the token file of `huggingface-cli login` (`$HF_TOKEN_PATH` or `$HF_HOME/token`).
pub fn token() -> Option<String> {
    if let Ok(t) = std::env::var("HF_TOKEN")
        && !t.trim().is_empty()
    {
        return Some(t.trim().to_string());
    }
    let path = std::env::var_os("HF_TOKEN_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            crate::hub::cache::root_from_env()
                .parent()
                .map(|p| p.join("token"))
                .unwrap_or_default()
        });
    crate::output::read_text(&path, crate::output::Limit::Secret)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// Repository id `namespace/name`.
    pub repo: String,
    /// The commit (full 40-hex sha) to download, as committed on chain.
    #[arg(long)]
    pub revision: String,
    #[command(flatten)]
    pub hub: HubArgs,
    /// Also copy the files (not links) into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Cache directory [default: $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Refuse, before downloading, a repository larger than this competition allows.
    #[arg(long)]
    pub competition: Option<u16>,
    /// Competition schedule (JSON) [default: built-in].
    #[arg(long, env = "SN9_SCHEDULE", value_name = "FILE")]
    pub schedule: Option<PathBuf>,
    /// The hash the download must have: the secure hash from the chain (with --hotkey) or the
    /// directory hash.
    #[arg(long, value_name = "HASH")]
    pub expect_hash: Option<String>,
    /// The miner's hotkey (SS58) the secure hash is bound to.
    #[arg(long, env = "SN9_HOTKEY")]
    pub hotkey: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// Model directory (config.json + safetensors; other files are not pushed).
    pub dir: PathBuf,
    /// Repository id `namespace/name` (at most 38 characters, to fit the commitment).
    pub repo: String,
    #[command(flatten)]
    pub hub: HubArgs,
    /// Create the repository private (as the reference miner does).
    #[arg(long)]
    pub private: bool,
    /// Commit message.
    #[arg(long, default_value = "Upload model with sn9")]
    pub message: String,
    /// The miner's hotkey (SS58): prints the secure hash for the commitment.
    #[arg(long, env = "SN9_HOTKEY")]
    pub hotkey: Option<String>,
    /// Refuse to upload a model this competition would not accept.
    #[arg(long)]
    pub competition: Option<u16>,
    /// Competition schedule (JSON) [default: built-in].
    #[arg(long, env = "SN9_SCHEDULE", value_name = "FILE")]
    pub schedule: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct HashArgs {
    /// Model directory (a Hub snapshot: config.json, *.safetensors, ...).
    pub dir: PathBuf,
    /// The miner's hotkey (SS58 address) to bind the hash to.
    #[arg(long, env = "SN9_HOTKEY")]
    pub hotkey: Option<String>,
    /// Also list each file's hash.
    #[arg(long)]
    pub files: bool,
}

pub fn run(cmd: HubCommand, p: &Printer) -> Result<()> {
    match cmd {
        HubCommand::Hash(a) => hash(a, p),
        HubCommand::Pull(a) => pull(a, p),
        HubCommand::Push(a) => push(a, p),
    }
}

fn hash(a: HashArgs, p: &Printer) -> Result<()> {
    if let Some(h) = &a.hotkey {
        crate::chain::ss58::decode(h).map_err(|e| user(format!("--hotkey: {e}")))?;
    }
    let d = hash_directory(&a.dir)?;
    if d.files.is_empty() {
        p.warn(format!(
            "{} holds no files; its hash is the hash of nothing",
            a.dir.display()
        ));
    }
    let secure = a
        .hotkey
        .as_deref()
        .map(|h| secure_hash(&d.directory_hash, h));
    let mut w = stdout();
    if p.format == Format::Json {
        let mut doc =
            json!({"directory_hash": d.directory_hash, "hotkey": a.hotkey, "secure_hash": secure});
        if a.files {
            doc["files"] = d
                .files
                .iter()
                .map(|(f, h)| json!({"path": f, "hash": h}))
                .collect();
        }
        serde_json::to_writer(&mut w, &doc)?;
        writeln!(w)?;
    } else {
        let mut t = Table::new(["what", "hash"]);
        if a.files {
            for (f, h) in &d.files {
                t.row([f.clone(), h.clone()]);
            }
        }
        t.row(["directory_hash".to_string(), d.directory_hash.clone()]);
        if let Some(s) = &secure {
            t.row(["secure_hash".to_string(), s.clone()]);
        }
        t.write(&mut w)?;
    }
    w.flush()?;
    Ok(())
}

fn check_hotkey(h: Option<&str>) -> Result<()> {
    if let Some(h) = h {
        crate::chain::ss58::decode(h).map_err(|e| user(format!("--hotkey: {e}")))?;
    }
    Ok(())
}

fn pull(a: PullArgs, p: &Printer) -> Result<()> {
    let repo: RepoId = a.repo.parse()?;
    let commit = commit_sha(&a.revision)?;
    check_hotkey(a.hotkey.as_deref())?;
    let max = match a.competition {
        Some(id) => Some(
            Schedule::current_competition(a.schedule.as_deref(), id)?
                .constraints
                .max_bytes,
        ),
        None => None,
    };
    let hub = a.hub.open()?;
    let root = a
        .cache_dir
        .clone()
        .unwrap_or_else(super::cache::root_from_env);
    p.info(format!("pulling {repo}@{commit} from {}", hub.location()));
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && p.verbosity >= crate::output::Verbosity::Normal;
    let got = super::transfer::pull(
        hub.as_ref(),
        &repo,
        &commit,
        &root,
        max,
        a.hub.retry(),
        progress,
    )?;
    let secure = a
        .hotkey
        .as_deref()
        .map(|k| secure_hash(&got.hash.directory_hash, k));
    if let Some(want) = &a.expect_hash {
        let have = secure.as_ref().unwrap_or(&got.hash.directory_hash);
        if have != want {
            return Err(user(format!(
                "{repo}@{commit}: the downloaded model hashes to {have}, expected {want}{}; the \
                 files stay in the cache for inspection ({})",
                if a.hotkey.is_some() {
                    " (secure hash with the hotkey)"
                } else {
                    ""
                },
                got.dir.display()
            )));
        }
    }
    let dir = match &a.out {
        Some(out) => {
            std::fs::create_dir_all(out)
                .map_err(|e| user(format!("cannot create {}: {e}", out.display())))?;
            for f in &got.files {
                let tmp = out.join(format!(".{f}.tmp"));
                std::fs::copy(got.dir.join(f), &tmp)?;
                std::fs::rename(&tmp, out.join(f))?;
            }
            out.clone()
        }
        None => got.dir.clone(),
    };
    let mut w = stdout();
    if p.format == Format::Json {
        let doc = json!({"repo": repo.to_string(), "commit": commit, "dir": dir,
            "files": got.files, "bytes": got.bytes, "repo_bytes": got.repo_bytes,
            "directory_hash": got.hash.directory_hash, "secure_hash": secure,
            "verified": a.expect_hash.is_some()});
        writeln!(w, "{doc}")?;
    } else {
        writeln!(w, "{}", dir.display())?;
    }
    p.info(format!(
        "{} files, {} bytes; directory hash {}{}",
        got.files.len(),
        got.bytes,
        got.hash.directory_hash,
        if a.expect_hash.is_some() {
            " (verified)"
        } else {
            ""
        }
    ));
    Ok(())
}

fn push(a: PushArgs, p: &Printer) -> Result<()> {
    let repo: RepoId = a.repo.parse()?;
    check_hotkey(a.hotkey.as_deref())?;
    let (files, skipped) = super::transfer::local_files(&a.dir)?;
    if !skipped.is_empty() {
        p.warn(format!(
            "not pushed (validators do not load them): {}",
            skipped.join(", ")
        ));
    }
    if let Some(id) = a.competition {
        let comp = Schedule::current_competition(a.schedule.as_deref(), id)?;
        let d = crate::model::command::describe_dir(&a.dir)?;
        let bytes: u64 = files.iter().map(|f| f.size).sum();
        let why = crate::model::command::fit_to_compete(
            &d.architecture,
            d.vocab_size,
            d.parameters,
            bytes,
            &comp,
        );
        if !why.is_empty() {
            return Err(user(format!(
                "competition {id} would not accept this model: {}; nothing was uploaded",
                why.join("; ")
            )));
        }
    }
    let hub = a.hub.open()?;
    p.info(format!(
        "pushing {} files to {repo} on {}",
        files.len(),
        hub.location()
    ));
    let (r, h, secure) = super::transfer::push(
        hub.as_ref(),
        &repo,
        &a.dir,
        &files,
        &a.message,
        a.private,
        a.hotkey.as_deref(),
    )?;
    let mut w = stdout();
    if p.format == Format::Json {
        let doc = json!({"repo": repo.to_string(), "commit": r.commit, "committed": r.committed,
            "uploaded": r.uploaded, "unchanged": r.unchanged,
            "directory_hash": h.directory_hash, "hotkey": a.hotkey, "secure_hash": secure});
        writeln!(w, "{doc}")?;
    } else {
        let mut t = Table::new(["field", "value"]);
        t.row(["repo".to_string(), repo.to_string()]);
        t.row(["commit".to_string(), r.commit.clone()]);
        t.row(["directory_hash".to_string(), h.directory_hash.clone()]);
        if let Some(s) = &secure {
            t.row(["secure_hash".to_string(), s.clone()]);
        }
        t.write(&mut w)?;
    }
    p.info(if r.committed {
        format!(
            "committed {}: {} uploaded, {} unchanged",
            r.commit,
            r.uploaded.len(),
            r.unchanged.len()
        )
    } else {
        format!("nothing changed; {repo} stays at {}", r.commit)
    });
    Ok(())
}
