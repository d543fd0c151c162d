//! Documents from local files: `.jsonl` (a text field per line, `content` as fallback, as Stack
//! v2 rows have it), `.parquet` (a text column, read a slice of rows at a time through polars)
//! and `.txt` (the whole file, paragraphs or lines). Read in batches so memory stays bounded;
//! documents that cannot be used come back as such, for the caller to count and report.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use crate::error::user;
use crate::output::{Limit, read_line_bounded};

/// Documents per batch.
pub const BATCH_DOCS: usize = 512;

/// Rows of a parquet file read at a time.
const PARQUET_ROWS: usize = 8192;

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

/// A document or a reason it was skipped.
pub enum Doc {
    Text(String),
    NonUtf8,
    MissingText,
}

/// Reads documents from one input file in batches, calling `f` for each batch.
pub fn read_docs(
    path: &Path,
    text_field: &str,
    split: TxtSplit,
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
                let read = read_line_bounded(&mut reader, &mut line, Limit::Document, path)?;
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
                    (&mut reader)
                        .take(Limit::Document.bytes() + 1)
                        .read_to_end(&mut all)?;
                    if all.len() as u64 > Limit::Document.bytes() {
                        return Err(Limit::Document.exceeded(path));
                    }
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
                        let read =
                            read_line_bounded(&mut reader, &mut line, Limit::Document, path)?;
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
                            if (para.len() + text.len()) as u64 > Limit::Document.bytes() {
                                return Err(Limit::Document.exceeded(path));
                            }
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
            drop(reader);
            read_parquet(path, text_field, |texts| {
                batch_bytes += texts.iter().flatten().map(|t| t.len() as u64).sum::<u64>();
                batch.extend(texts.into_iter().map(|t| match t {
                    Some(t) => Doc::Text(t),
                    None => Doc::MissingText,
                }));
                if batch.len() >= BATCH_DOCS {
                    flush(&mut batch, &mut batch_bytes, &mut f)?;
                }
                Ok(())
            })?;
        }
        other => {
            return Err(user(format!(
                "{}: unknown input type `.{other}`; sn9 reads .jsonl (a `{text_field}` field per line), .parquet (a `{text_field}` column) and .txt",
                path.display()
            )));
        }
    }
    flush(&mut batch, &mut batch_bytes, &mut f)?;
    Ok(())
}

/// Calls `f` with the text column of a parquet file, [`PARQUET_ROWS`] rows at a time (`None`
/// for a null). The column is `text_field`, else `content`; a file with neither, or whose column
/// is not text, is a user error naming its columns.
pub fn read_parquet(
    path: &Path,
    text_field: &str,
    mut f: impl FnMut(Vec<Option<String>>) -> Result<()>,
) -> Result<()> {
    use polars::prelude::*;
    let open =
        || File::open(path).map_err(|e| user(format!("cannot open {}: {e}", path.display())));
    let bad = |e: PolarsError| {
        user(format!(
            "{}: not a readable parquet file ({e})",
            path.display()
        ))
    };
    let mut r = ParquetReader::new(open()?);
    let schema = r.schema().map_err(bad)?;
    let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    let col = [text_field, "content"]
        .into_iter()
        .find(|c| names.iter().any(|n| n == c))
        .ok_or_else(|| {
            user(format!(
                "{}: no `{text_field}` column (it has: {}); name the text column with --text-field",
                path.display(),
                names.join(", ")
            ))
        })?
        .to_string();
    let rows = r.num_rows().map_err(bad)?;
    let mut off = 0;
    while off < rows {
        let len = PARQUET_ROWS.min(rows - off);
        let df = ParquetReader::new(open()?)
            .with_columns(Some(vec![col.clone()]))
            .with_slice(Some((off, len)))
            .finish()
            .map_err(bad)?;
        let c = df.column(&col).map_err(bad)?;
        let s = c.str().map_err(|_| {
            user(format!(
                "{}: column `{col}` holds {}, not text",
                path.display(),
                c.dtype()
            ))
        })?;
        f(s.iter().map(|t| t.map(str::to_string)).collect())?;
        off += len;
    }
    Ok(())
}

/// Writes `out` through `f` under a temporary name (`.NAME.partial` beside it), synced and
/// renamed into place when `f` succeeds, removed when it fails: a partial output never looks
/// complete.
pub fn write_atomically(
    out: &Path,
    f: impl FnOnce(&mut std::io::BufWriter<File>) -> Result<()>,
) -> Result<()> {
    let name = out.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = out.with_file_name(format!(".{name}.partial"));
    let res: Result<()> = (|| {
        let file =
            File::create(&tmp).map_err(|e| user(format!("cannot write {}: {e}", tmp.display())))?;
        let mut w = std::io::BufWriter::new(file);
        f(&mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(())
    })();
    if let Err(e) = res {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, out)?;
    Ok(())
}

/// Whether `p` names a parquet file.
pub fn is_parquet(p: &Path) -> bool {
    p.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
}

/// `DIR/.NAME.suffix` for `DIR/NAME`.
pub fn hidden_beside(p: &Path, suffix: &str) -> std::path::PathBuf {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    p.with_file_name(format!(".{name}.{suffix}"))
}

/// Writes JSON Lines rows through `f` to `out`, atomically; a `.parquet` `out` gets them as
/// parquet columns (see [`jsonl_to_parquet`]).
pub fn write_rows(
    out: &Path,
    f: impl FnOnce(&mut std::io::BufWriter<File>) -> Result<()>,
) -> Result<()> {
    if !is_parquet(out) {
        return write_atomically(out, f);
    }
    let rows = hidden_beside(out, "rows.jsonl");
    write_atomically(&rows, f)?;
    let res = jsonl_to_parquet(&rows, out);
    let _ = std::fs::remove_file(&rows);
    res
}

/// Writes `df` to `out` as parquet (atomically).
pub fn write_parquet(df: &mut polars::prelude::DataFrame, out: &Path) -> Result<()> {
    write_atomically(out, |w| {
        polars::prelude::ParquetWriter::new(w).finish(df)?;
        Ok(())
    })
}

/// A JSON Lines file as a parquet file: one column per field of its first row (numbers stay
/// unsigned integers when every row's value is one; anything else is text).
pub fn jsonl_to_parquet(src: &Path, out: &Path) -> Result<()> {
    use polars::prelude::*;
    let rows: Vec<serde_json::Map<String, Value>> = BufReader::new(File::open(src)?)
        .lines()
        .filter(|l| l.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(|l| -> Result<_> {
            match serde_json::from_str(&l?)? {
                Value::Object(m) => Ok(m),
                other => Err(user(format!(
                    "{}: a row that is not an object: {other:.80}",
                    src.display()
                ))),
            }
        })
        .collect::<Result<_>>()?;
    let keys: Vec<String> = rows
        .first()
        .map(|r| r.keys().cloned().collect())
        .unwrap_or_else(|| vec!["text".into()]);
    let mut cols = Vec::new();
    for k in &keys {
        let vals: Vec<Option<&Value>> = rows.iter().map(|r| r.get(k)).collect();
        if !vals.is_empty() && vals.iter().all(|v| v.is_some_and(|v| v.is_u64())) {
            let v: Vec<u64> = vals
                .iter()
                .map(|v| v.and_then(|v| v.as_u64()).unwrap_or(0))
                .collect();
            cols.push(Column::new(k.as_str().into(), v));
        } else {
            let v: Vec<Option<String>> = vals
                .iter()
                .map(|v| match v {
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(Value::Null) | None => None,
                    Some(o) => Some(o.to_string()),
                })
                .collect();
            cols.push(Column::new(k.as_str().into(), v));
        }
    }
    let mut df = DataFrame::new_infer_height(cols)?;
    write_parquet(&mut df, out)
}
