//! `sn9 hub ...` commands.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::hash::{hash_directory, secure_hash};
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
