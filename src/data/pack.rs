//! `sn9 data pack`: documents → token shards, as the reference packs them: each document
//! tokenised (truncated per document when a limit is set), one EOS appended, the stream cut into
//! `seq_len` windows across document boundaries, the tail that does not fill a window dropped.
//! Streams the input (bounded memory), tokenises on every core, shows progress on a TTY, and
//! writes under a temporary name renamed into place when complete.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Result;
use rayon::prelude::*;
use serde_json::{Value, json};

use super::shards::{Manifest, SCHEMA, ShardInfo, VERSION};
use super::tokenizer::Encode;
use crate::error::user;

/// Documents tokenised per parallel batch.
const BATCH_DOCS: usize = 512;

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

/// Where documents come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TxtSplit {
    /// The whole file is one document.
    File,
    /// Documents are separated by blank lines.
    Paragraphs,
    /// Every line is a document.
    Lines,
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

/// A document or a reason it was skipped.
enum Doc {
    Text(String),
    NonUtf8,
    MissingText,
}

/// Reads documents from one input file in batches, calling `f` for each batch.
fn read_docs(
    path: &Path,
    text_field: &str,
    split: TxtSplit,
    stats: &mut PackStats,
    mut f: impl FnMut(Vec<Doc>, u64) -> Result<()>,
) -> Result<()> {
    let file =
        File::open(path).map_err(|e| user(format!("cannot open {}: {e}", path.display())))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut batch = Vec::with_capacity(BATCH_DOCS);
    let mut batch_bytes = 0u64;
    let flush = |batch: &mut Vec<Doc>,
                 bytes: &mut u64,
                 f: &mut dyn FnMut(Vec<Doc>, u64) -> Result<()>|
     -> Result<()> {
        if !batch.is_empty() {
            f(std::mem::take(batch), *bytes)?;
            *bytes = 0;
        }
        Ok(())
    };
    match ext.as_str() {
        "jsonl" | "json" | "ndjson" => {
            let mut line = Vec::new();
            let mut n = 0u64;
            loop {
                line.clear();
                let read = reader.read_until(b'\n', &mut line)?;
                if read == 0 {
                    break;
                }
                n += 1;
                batch_bytes += read as u64;
                let Ok(text) = std::str::from_utf8(&line) else {
                    batch.push(Doc::NonUtf8);
                    continue;
                };
                if text.trim().is_empty() {
                    continue;
                }
                let v: Value = serde_json::from_str(text)
                    .map_err(|e| user(format!("{}:{n}: not valid JSON ({e})", path.display())))?;
                let t = v
                    .get(text_field)
                    .or_else(|| v.get("content"))
                    .and_then(|t| t.as_str());
                batch.push(match t {
                    Some(t) => Doc::Text(t.to_string()),
                    None => Doc::MissingText,
                });
                if batch.len() >= BATCH_DOCS {
                    flush(&mut batch, &mut batch_bytes, &mut f)?;
                }
            }
        }
        "txt" | "text" | "md" => {
            let mut all = Vec::new();
            match split {
                TxtSplit::File => {
                    reader.read_to_end(&mut all)?;
                    batch_bytes += all.len() as u64;
                    batch.push(
                        String::from_utf8(all)
                            .map(Doc::Text)
                            .unwrap_or(Doc::NonUtf8),
                    );
                }
                TxtSplit::Lines | TxtSplit::Paragraphs => {
                    let mut line = Vec::new();
                    let mut para = String::new();
                    loop {
                        line.clear();
                        let read = reader.read_until(b'\n', &mut line)?;
                        batch_bytes += read as u64;
                        let Ok(text) = std::str::from_utf8(&line) else {
                            batch.push(Doc::NonUtf8);
                            continue;
                        };
                        let end = read == 0;
                        if split == TxtSplit::Lines {
                            if !end && !text.trim().is_empty() {
                                batch.push(Doc::Text(
                                    text.trim_end_matches(['\n', '\r']).to_string(),
                                ));
                            }
                        } else if end || text.trim().is_empty() {
                            if !para.trim().is_empty() {
                                batch.push(Doc::Text(
                                    std::mem::take(&mut para).trim_end().to_string(),
                                ));
                            }
                            para.clear();
                        } else {
                            para.push_str(text);
                        }
                        if batch.len() >= BATCH_DOCS {
                            flush(&mut batch, &mut batch_bytes, &mut f)?;
                        }
                        if end {
                            break;
                        }
                    }
                }
            }
        }
        "parquet" => {
            return Err(user(format!(
                "{}: parquet input is not supported by `data pack` yet; convert it to JSON Lines first",
                path.display()
            )));
        }
        other => {
            return Err(user(format!(
                "{}: unknown input type `.{other}`; pack reads .jsonl (a `{text_field}` field per line) and .txt",
                path.display()
            )));
        }
    }
    flush(&mut batch, &mut batch_bytes, &mut f)?;
    stats.files += 1;
    Ok(())
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
    pub progress: bool,
}

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
    let bar = if opt.progress {
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
    for path in inputs {
        let mut file_stats = PackStats::default();
        read_docs(
            path,
            &opt.text_field,
            opt.txt_split,
            &mut file_stats,
            |docs, bytes| {
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
                }
                Ok(())
            },
        )?;
        stats.files += file_stats.files;
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
