//! `sn9 data fetch`: rows of a Hub dataset from the datasets-server `/rows` API into JSON Lines
//! (`{"text", "dataset", "config", "split", "row"}`), paged (≤ 100 rows a request), retried with
//! bounded exponential backoff, and resumable: an existing output is continued after its last
//! complete line.

use std::io::{BufRead, Seek, Write};
use std::path::Path;

use anyhow::Result;
use serde_json::json;

use super::sample::{FetchError, RowSource};
use crate::error::user;

/// The datasets-server's limit on rows per request.
pub const MAX_PAGE: u64 = 100;

#[derive(Debug, Clone)]
pub struct FetchSpec {
    pub dataset: String,
    pub config: String,
    pub split: String,
    pub offset: u64,
    pub rows: u64,
    pub page_size: u64,
    pub auth: bool,
    pub retry: crate::retry::Retry,
}

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct FetchStats {
    pub resumed_from: u64,
    pub rows_written: u64,
    pub rows_without_text: u64,
    pub requests: u64,
    pub retries: u64,
    pub end_of_dataset: bool,
}

/// Counts the complete lines of `path` and cuts a trailing partial line (an interrupted write).
fn complete_lines(path: &Path) -> Result<u64> {
    let Ok(f) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
    else {
        return Ok(0);
    };
    let mut r = std::io::BufReader::new(&f);
    let (mut n, mut good_len, mut pos) = (0u64, 0u64, 0u64);
    let mut line = Vec::new();
    loop {
        line.clear();
        let k = r.read_until(b'\n', &mut line)? as u64;
        if k == 0 {
            break;
        }
        pos += k;
        if line.ends_with(b"\n") {
            n += 1;
            good_len = pos;
        }
    }
    if good_len < pos {
        f.set_len(good_len)?;
    }
    Ok(n)
}

/// Fetches rows into `out` (JSON Lines), continuing an earlier partial run. `progress` is called
/// after every page with the rows written so far.
pub fn fetch_rows(
    src: &mut dyn RowSource,
    spec: &FetchSpec,
    out: &Path,
    mut progress: impl FnMut(u64),
) -> Result<FetchStats> {
    if spec.page_size == 0 || spec.page_size > MAX_PAGE {
        return Err(user(format!(
            "--page-size must be 1..={MAX_PAGE} (the datasets-server's limit)"
        )));
    }
    let mut stats = FetchStats {
        resumed_from: complete_lines(out)?,
        ..Default::default()
    };
    // Opened at the first page that arrives: a run that gets nothing leaves no empty output.
    let mut file: Option<std::fs::File> = None;
    let mut done = stats.resumed_from.min(spec.rows);
    while done < spec.rows {
        let offset = spec.offset + done;
        let length = spec.page_size.min(spec.rows - done);
        // One retry policy for every network command (`retry::Retry`): a failure still there
        // after the retries is the service's (exit 2), anything else the input's (exit 1).
        let what = format!("rows {offset}..{} of {}", offset + length, spec.dataset);
        let mut calls = 0u64;
        let got = spec.retry.run(&what, || {
            calls += 1;
            src.rows(
                &spec.dataset,
                &spec.config,
                &spec.split,
                offset,
                length,
                spec.auth,
            )
            .map_err(|e| match e {
                FetchError::Retryable(m) => crate::retry::retryable(m),
                other => user(format!("{what}: {other}")),
            })
        });
        stats.requests += calls;
        stats.retries += calls - 1;
        let rows = got.map_err(|e| {
            let saved = stats.resumed_from + stats.rows_written;
            e.context(if saved > 0 {
                format!(
                    "data fetch stopped ({saved} rows are saved in {}, run the same command \
                     again to resume)",
                    out.display()
                )
            } else {
                "data fetch stopped (nothing was written)".to_string()
            })
        })?;
        let got = rows.len() as u64;
        let mut buf = Vec::new();
        for (i, r) in rows.into_iter().enumerate() {
            let text = r.text.or(r.content);
            let row = offset + i as u64;
            match text {
                Some(t) => {
                    serde_json::to_writer(
                        &mut buf,
                        &json!({"text": t, "dataset": spec.dataset, "config": spec.config, "split": spec.split, "row": row}),
                    )?;
                    buf.push(b'\n');
                    stats.rows_written += 1;
                }
                None => {
                    // Keep the line count equal to the rows consumed, so resuming stays aligned.
                    serde_json::to_writer(
                        &mut buf,
                        &json!({"text": null, "dataset": spec.dataset, "config": spec.config, "split": spec.split, "row": row, "skipped": "no text or content"}),
                    )?;
                    buf.push(b'\n');
                    stats.rows_without_text += 1;
                }
            }
        }
        let f = match &mut file {
            Some(f) => f,
            None => {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(out)
                    .map_err(|e| user(format!("cannot write {}: {e}", out.display())))?;
                f.seek(std::io::SeekFrom::End(0))?;
                file.insert(f)
            }
        };
        f.write_all(&buf)?;
        f.sync_data()?;
        done += got;
        progress(done);
        if got < length {
            stats.end_of_dataset = true;
            break;
        }
    }
    Ok(stats)
}
