//! `sn9 chain ...` commands that need no node.

use std::io::Write;

use anyhow::Result;

use super::metadata::{ModelId, validate_repo_id};
use crate::error::user;
use crate::output::{Format, Printer, stdout};

#[derive(Debug, clap::Subcommand)]
pub enum ChainCommand {
    /// Build or parse the model metadata a miner commits on chain.
    #[command(subcommand)]
    Metadata(MetadataCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum MetadataCommand {
    /// Build `namespace:name:commit:secure_hash:competition_id` (checked against the 128-byte
    /// limit and the repo id rules) and print it.
    Encode {
        /// Hub repo id, `namespace/name` (at most 38 characters).
        repo: String,
        /// Hub commit sha (40 hex characters).
        #[arg(long)]
        commit: String,
        /// Secure hash from `sn9 hub hash DIR --hotkey ...`.
        #[arg(long)]
        secure_hash: String,
        /// Competition id (see `sn9 competitions`).
        #[arg(long)]
        competition: i64,
    },
    /// Parse a commitment string as validators do and print its fields.
    Decode {
        /// The commitment string.
        metadata: String,
    },
}

pub fn run(cmd: ChainCommand, p: &Printer) -> Result<()> {
    let ChainCommand::Metadata(m) = cmd;
    let mut w = stdout();
    match m {
        MetadataCommand::Encode {
            repo,
            commit,
            secure_hash,
            competition,
        } => {
            let (namespace, name) = validate_repo_id(&repo).map_err(user)?;
            if commit.len() != 40 || !commit.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(user(format!(
                    "--commit `{commit}` is not a 40-hex commit sha"
                )));
            }
            let id = ModelId {
                namespace,
                name,
                competition_id: competition,
                commit: Some(commit),
                hash: None,
                secure_hash: Some(secure_hash),
            };
            let s = id.to_commitment().map_err(user)?;
            if p.format == Format::Json {
                serde_json::to_writer(
                    &mut w,
                    &serde_json::json!({"metadata": s, "bytes": s.len(), "model_id": id}),
                )?;
                writeln!(w)?;
            } else {
                writeln!(w, "{s}")?;
            }
        }
        MetadataCommand::Decode { metadata } => {
            let id = ModelId::parse(&metadata).map_err(|e| user(e.to_string()))?;
            if p.format == Format::Json {
                serde_json::to_writer(&mut w, &id)?;
                writeln!(w)?;
            } else {
                let s = |o: &Option<String>| o.clone().unwrap_or_else(|| "None".into());
                writeln!(w, "namespace       {}", id.namespace)?;
                writeln!(w, "name            {}", id.name)?;
                writeln!(w, "commit          {}", s(&id.commit))?;
                writeln!(w, "secure_hash     {}", s(&id.secure_hash))?;
                writeln!(w, "competition_id  {}", id.competition_id)?;
                if id.hash.is_some() {
                    writeln!(
                        w,
                        "hash            {}  (legacy 4-field format)",
                        s(&id.hash)
                    )?;
                }
            }
        }
    }
    w.flush()?;
    Ok(())
}
