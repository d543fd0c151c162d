//! `sn9 data pack`: documents → token shards, as the reference packs them: each document
//! tokenised (truncated per document when a limit is set), one EOS appended, the stream cut into
//! `seq_len` windows across document boundaries, the tail that does not fill a window dropped.
//! Streams the input (bounded memory), tokenises on every core, shows progress on a TTY, and
//! writes under a temporary name renamed into place when complete.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;
use rayon::prelude::*;
use serde_json::{Value, json};

use super::shards::{Manifest, SCHEMA, ShardInfo, VERSION};
use super::tokenizer::Encode;
use crate::error::user;

pub use super::docs::TxtSplit;
use super::docs::{Doc, read_docs};

/// Counts reported by a pack run.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct PackStats {
    pub files: usize,
    pub documents: u64,
    pub empty_documents: u64,
    pub non_utf8_documents: u64,
    pub missing_text: u64,
    pub tokens: u64,
    pub sequences: u64,
    pub dropped_tail_tokens: u64,
    pub bytes_read: u64,
}

/// Streams shards into a temporary directory; `finish` renames it into place.
struct ShardWriter {
    tmp: PathBuf,
    out: PathBuf,
    seq_len: usize,
    per_shard: u64,
    shards: Vec<ShardInfo>,
    cur: Option<(BufWriter<File>, String, u64)>,
    pending: Vec<u32>,
    task: Option<String>,
}

impl ShardWriter {
    fn new(
        out: &Path,
        seq_len: usize,
        sequences_per_shard: u64,
        replace: bool,
        task: Option<String>,
    ) -> Result<Self> {
        let tmp = super::shards::begin_output(out, replace)?;
        Ok(ShardWriter {
            task,
            tmp,
            out: out.to_path_buf(),
            seq_len,
            per_shard: sequences_per_shard.max(1),
            shards: Vec::new(),
            cur: None,
            pending: Vec::new(),
        })
    }

    fn push(&mut self, tokens: &[u32]) -> Result<()> {
        self.pending.extend_from_slice(tokens);
        let full = self.pending.len() / self.seq_len * self.seq_len;
        let mut written = 0;
        while written < full {
            if self.cur.as_ref().is_none_or(|c| c.2 >= self.per_shard) {
                self.close_current()?;
                let name = match &self.task {
                    Some(t) => t.clone(),
                    None => format!("shard-{:05}", self.shards.len()),
                };
                let file = format!("{name}.bin");
                self.cur = Some((BufWriter::new(File::create(self.tmp.join(&file))?), name, 0));
            }
            let (w, _, n) = self.cur.as_mut().expect("open shard");
            let seq = &self.pending[written..written + self.seq_len];
            let mut buf = Vec::with_capacity(self.seq_len * 4);
            for t in seq {
                buf.extend_from_slice(&t.to_le_bytes());
            }
            w.write_all(&buf)?;
            *n += 1;
            written += self.seq_len;
        }
        self.pending.drain(..written);
        Ok(())
    }

    fn close_current(&mut self) -> Result<()> {
        if let Some((w, name, n)) = self.cur.take() {
            let f = w
                .into_inner()
                .map_err(|e| anyhow::anyhow!("flushing shard {name}: {e}"))?;
            f.sync_all()?;
            self.shards.push(ShardInfo {
                file: format!("{name}.bin"),
                name,
                tokens: n * self.seq_len as u64,
                sequences: n,
                source: Value::Null,
            });
        }
        Ok(())
    }

    fn finish(mut self, mut manifest: Manifest) -> Result<(u64, Manifest)> {
        self.close_current()?;
        let dropped = self.pending.len() as u64;
        manifest.shards = std::mem::take(&mut self.shards);
        std::fs::write(
            self.tmp.join("manifest.json"),
            serde_json::to_string_pretty(&manifest)? + "\n",
        )?;
        super::shards::finish_output(&self.tmp, &self.out)?;
        Ok((dropped, manifest))
    }
}

impl Drop for ShardWriter {
    fn drop(&mut self) {
        // An unfinished pack leaves nothing that looks complete.
        if self.tmp.exists() {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Options of a pack run.
pub struct PackOptions {
    pub seq_len: usize,
    pub text_field: String,
    pub txt_split: TxtSplit,
    pub sequences_per_shard: u64,
    /// Name the (single) shard after this task.
    pub task: Option<String>,
    pub replace: bool,
    pub progress: Progress,
}

/// How `pack` reports progress on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Nothing (`-q`).
    None,
    /// A progress bar (stderr is a terminal).
    Bar,
    /// Plain lines for logs: one per input file and one every [`LOG_EVERY`] within a file.
    Lines,
}

/// The interval of progress lines when stderr is not a terminal.
pub const LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Packs `inputs` into token shards at `out`.
pub fn pack<T: Encode + Sync>(
    inputs: &[PathBuf],
    tok: &T,
    tokenizer_info: Value,
    opt: &PackOptions,
    out: &Path,
) -> Result<(PackStats, Manifest)> {
    if opt.seq_len == 0 {
        return Err(user("--seq-len must be positive"));
    }
    let total_bytes: u64 = inputs
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let bar = if opt.progress == Progress::Bar {
        let b = indicatif::ProgressBar::new(total_bytes);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let mut w = ShardWriter::new(
        out,
        opt.seq_len,
        opt.sequences_per_shard,
        opt.replace,
        opt.task.clone(),
    )?;
    let mut stats = PackStats::default();
    let started = std::time::Instant::now();
    let mut last_line = started;
    let line = |stats: &PackStats, what: &str| {
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        eprintln!(
            "pack: {what}: {} of {} read ({:.0}%), {} documents, {} tokens, {:.1} MiB/s",
            crate::output::human_bytes(stats.bytes_read),
            crate::output::human_bytes(total_bytes),
            100.0 * stats.bytes_read as f64 / total_bytes.max(1) as f64,
            stats.documents,
            stats.tokens,
            stats.bytes_read as f64 / secs / (1 << 20) as f64
        );
    };
    for (i, path) in inputs.iter().enumerate() {
        read_docs(path, &opt.text_field, opt.txt_split, |docs, bytes| {
            let encoded: Vec<Result<Result<Vec<u32>, Doc>>> = docs
                .into_par_iter()
                .map(|d| match d {
                    Doc::Text(t) if t.trim().is_empty() => Ok(Err(Doc::Text(String::new()))),
                    Doc::Text(t) => tok.encode(&t).map(Ok),
                    other => Ok(Err(other)),
                })
                .collect();
            for e in encoded {
                match e? {
                    Ok(mut ids) => {
                        stats.documents += 1;
                        stats.tokens += ids.len() as u64 + 1;
                        ids.push(tok.eos());
                        w.push(&ids)?;
                    }
                    Err(Doc::Text(_)) => stats.empty_documents += 1,
                    Err(Doc::NonUtf8) => stats.non_utf8_documents += 1,
                    Err(Doc::MissingText) => stats.missing_text += 1,
                }
            }
            stats.bytes_read += bytes;
            if let Some(b) = &bar {
                b.inc(bytes);
                b.set_message(format!("{} docs, {} tokens", stats.documents, stats.tokens));
            } else if opt.progress == Progress::Lines && last_line.elapsed() >= LOG_EVERY {
                last_line = std::time::Instant::now();
                line(&stats, &path.display().to_string());
            }
            Ok(())
        })?;
        stats.files += 1;
        if opt.progress == Progress::Lines {
            line(
                &stats,
                &format!("{} done ({}/{})", path.display(), i + 1, inputs.len()),
            );
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let manifest = Manifest {
        schema: SCHEMA.into(),
        version: VERSION,
        seq_len: opt.seq_len,
        eos_id: tok.eos(),
        tokenizer: tokenizer_info,
        shards: Vec::new(),
        origin: json!({
            "command": "data pack",
            "inputs": inputs,
            "text_field": opt.text_field,
        }),
    };
    let (dropped, mut manifest) = w.finish(manifest)?;
    stats.dropped_tail_tokens = dropped;
    stats.sequences = manifest.shards.iter().map(|s| s.sequences).sum();
    manifest.origin["stats"] = serde_json::to_value(&stats)?;
    crate::output::write_atomic(
        &out.join("manifest.json"),
        (serde_json::to_string_pretty(&manifest)? + "\n").as_bytes(),
    )?;
    Ok((stats, manifest))
}
