//! The reference validator's evaluation data for a block, reproduced exactly
//! (pretraining `pretrain/dataset.py` loaders and the validator's shuffle/truncation;
//! `docs/architecture.md` and `shared/notes/sn9-spec.md` §2):
//!
//! 1. every task's loader seeds CPython's MT19937 with the block's 256-bit seed;
//! 2. simple loaders draw `num_pages` row offsets `randint(1, max_pages)` up front; FineWeb-style
//!    loaders read `/size`, draw `initial_offset = randint(0, 49)`, then per page `choice(config)`
//!    and `randint(0, page_count − 1)`, skipping duplicates and redrawing after failed requests;
//! 3. each row is tokenised (truncated per document) and followed by one EOS, pages in order;
//! 4. the stream is cut into `seq_len` windows (tail dropped), shuffled with a fresh
//!    `Random(seed)`, and the first 50 kept.

use std::time::Duration;

use anyhow::Result;
use serde::Serialize;

use super::pyrandom::{BigUint, PyRandom};
use super::tokenizer::Encode;
use crate::competition::EvalTask;
use crate::competition::constants::MAX_BATCHES_PER_DATASET;
use crate::error::user;

/// Rows per page of the text loaders (`num_rows_per_page`; People's Speech has 40).
pub const ROWS_PER_PAGE: u64 = 50;
/// Failed requests tolerated per page (simple loaders) or per attempt (FineWeb-style).
pub const RETRY_LIMIT: u32 = 15;
/// Accepted duplicates before a FineWeb-style loader stops early.
pub const DUPLICATE_LIMIT: u32 = 100;
/// Attempts at filling the buffer with at least one sequence.
pub const FETCH_ATTEMPTS: u32 = 14;

/// A request failure the reference retries (`requests.RequestException`: HTTP error status,
/// timeout, connection error, malformed JSON), or a fatal one (anything else).
#[derive(Debug)]
pub enum FetchError {
    Retryable(String),
    Fatal(anyhow::Error),
    /// The command's `--deadline-s` came before the work was done: the whole command stops (an
    /// environment failure, exit 2), no task is recorded as skipped.
    Deadline(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Retryable(m) => write!(f, "{m}"),
            FetchError::Fatal(e) => write!(f, "{e:#}"),
            FetchError::Deadline(m) => write!(f, "{m}"),
        }
    }
}

/// One row of `/rows`: its `text` and `content` fields (absent or null → `None`), for Stack
/// v2 the `blob_id` and `src_encoding` of the file whose contents live in S3, and for audio
/// datasets (People's Speech) the first item of the `audio` cell: `(src, type)`
/// (`row["audio"][0]["src"]`, `row["audio"][0]["type"]`).
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub text: Option<String>,
    pub content: Option<String>,
    pub has_text_key: bool,
    pub blob: Option<(String, String)>,
    pub audio: Option<(String, String)>,
}

/// A config of `/size` (`size.splits[]`).
#[derive(Debug, Clone, PartialEq)]
pub struct SizeEntry {
    pub config: String,
    pub num_rows: u64,
    pub split: String,
}

/// The datasets-server, or a stand-in.
pub trait RowSource {
    fn size(&mut self, dataset: &str) -> Result<Vec<SizeEntry>, FetchError>;
    fn rows(
        &mut self,
        dataset: &str,
        config: &str,
        split: &str,
        offset: u64,
        length: u64,
        auth: bool,
    ) -> Result<Vec<Row>, FetchError>;
    /// The decoded contents of a Stack v2 blob (Software Heritage S3).
    fn blob_text(&mut self, blob_id: &str, _encoding: &str) -> Result<String, FetchError> {
        Err(FetchError::Fatal(anyhow::anyhow!(
            "no S3 source for blob {blob_id}"
        )))
    }
    /// The bytes of an audio asset (`requests.get(url)` in `download_audio_torch`): a status
    /// other than 200 that will not change on a retry (4xx, other 2xx) is fatal, a transient
    /// failure (connection, timeout, 5xx) retryable.
    fn audio(&mut self, url: &str) -> Result<Vec<u8>, FetchError> {
        Err(FetchError::Fatal(anyhow::anyhow!(
            "no audio source for {url}"
        )))
    }
}

/// How a task's loader picks pages.
#[derive(Debug, Clone, PartialEq)]
pub enum LoaderKind {
    /// `/size` configs (without `default`), an initial offset, then config + page draws.
    FineWeb,
    /// `num_pages` row offsets in `1..=max_pages`.
    Simple {
        config: String,
        max_pages: u64,
        content_fallback: bool,
    },
}

/// A task's loader.
#[derive(Debug, Clone, PartialEq)]
pub struct LoaderSpec {
    pub task: String,
    pub dataset: String,
    pub kind: LoaderKind,
    /// Sends `Authorization: Bearer $HF_TOKEN` (Stack loaders); without a token the task is skipped.
    pub requires_auth: bool,
    /// Row contents come from the Software Heritage S3 bucket (Stack v2).
    pub s3_contents: bool,
    pub num_pages: u64,
}

fn simple(config: &str, max_pages: u64, content_fallback: bool) -> LoaderKind {
    LoaderKind::Simple {
        config: config.into(),
        max_pages,
        content_fallback,
    }
}

/// The reference's loader for an evaluation task (`DatasetLoaderFactory`), by dataset id.
pub fn loader_for(task: &EvalTask) -> Result<LoaderSpec> {
    let num_pages = task
        .dataset_kwargs
        .get("num_pages")
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    let (dataset, kind, auth, s3) = match task.dataset_id {
        1 => (
            "tiiuae/falcon-refinedweb",
            simple("default", 968_000_015, true),
            false,
            false,
        ),
        2 => ("HuggingFaceFW/fineweb", LoaderKind::FineWeb, false, false),
        3 => (
            "HuggingFaceFW/fineweb-edu-score-2",
            LoaderKind::FineWeb,
            false,
            false,
        ),
        4 => (
            "bigcode/the-stack-dedup",
            simple("default", 236_655_813, true),
            true,
            false,
        ),
        5 => (
            "bigcode/the-stack-v2-dedup",
            simple("default", 5_451_114_734, true),
            true,
            true,
        ),
        6 => (
            "laion/Pes2oX-fulltext",
            simple("pes2ov2", 8_242_000, true),
            false,
            false,
        ),
        7 => (
            "HuggingFaceTB/finemath",
            simple("finemath-3plus", 21_400_000, true),
            false,
            false,
        ),
        8 => (
            "HuggingFaceTB/finemath",
            simple("infiwebmath-3plus", 13_900_000, true),
            false,
            false,
        ),
        other => {
            return Err(user(format!(
                "task {}: dataset id {other} has no text loader (known: 1 Falcon, 2 FineWeb, 3 FineWeb-edu2, 4/5 Stack v1/v2, 6 Pes2oX, 7 FineMath-3+, 8 InfiWebMath-3+)",
                task.name
            )));
        }
    };
    Ok(LoaderSpec {
        task: task.name.clone(),
        dataset: dataset.into(),
        kind,
        requires_auth: auth,
        s3_contents: s3,
        num_pages,
    })
}

/// A page that was used, as the reference names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Page {
    /// Simple loaders: the row offset.
    Offset(u64),
    /// FineWeb-style: (config, first row, split).
    Config {
        config: String,
        offset: u64,
        split: String,
    },
}

impl Page {
    /// `get_page_names()` as JSON: the offset (a number) for simple loaders, the name string for
    /// FineWeb-style ones.
    pub fn name_value(&self) -> serde_json::Value {
        match self {
            Page::Offset(o) => serde_json::Value::from(*o),
            Page::Config { .. } => serde_json::Value::from(self.name()),
        }
    }

    /// `get_page_names()` as text.
    pub fn name(&self) -> String {
        match self {
            Page::Offset(o) => o.to_string(),
            Page::Config {
                config,
                offset,
                split,
            } => format!("{config}_{offset}_{split}"),
        }
    }
}

/// Tuning that does not change the result.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Pause after a failed request (the reference sleeps 5 s).
    pub retry_delay: Duration,
    /// Called after each accepted page (progress).
    pub verbose: bool,
    /// No pause (retry) starts past this instant: the command stops instead.
    pub deadline: Option<std::time::Instant>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            retry_delay: Duration::from_secs(5),
            verbose: false,
            deadline: None,
        }
    }
}

impl FetchOptions {
    /// The pause after a failed request, `factor` × `retry_delay`; an error instead when it
    /// would end past the deadline.
    pub fn pause(&self, factor: u32, what: &str) -> Result<(), FetchError> {
        let wait = self.retry_delay.saturating_mul(factor);
        if crate::retry::past_deadline(self.deadline, wait) {
            return Err(FetchError::Deadline(format!(
                "{what}: still failing when the deadline (--deadline-s) came; the datasets-server \
                 may be down, try again later"
            )));
        }
        std::thread::sleep(wait);
        Ok(())
    }
}

fn row_tokens(tok: &dyn Encode, text: &str, buffer: &mut Vec<u32>) -> Result<(), FetchError> {
    let ids = tok.encode(text).map_err(FetchError::Fatal)?;
    buffer.extend_from_slice(&ids);
    buffer.push(tok.eos());
    Ok(())
}

/// What a FineWeb-style page walk needs to know about its loader.
#[derive(Debug, Clone, Copy)]
pub struct PageWalk<'a> {
    /// The task (in messages).
    pub task: &'a str,
    pub dataset: &'a str,
    pub num_pages: u64,
    /// `num_rows_per_page`: 50 for the text loaders, 40 for People's Speech.
    pub rows_per_page: u64,
}

/// What a FineWeb-style walk does with an accepted page's rows (the row source is passed back
/// for per-row downloads: S3 blobs, audio assets).
pub type OnPage<'a> = dyn FnMut(&mut dyn RowSource, &Page, Vec<Row>) -> Result<(), FetchError> + 'a;

/// One `_initialize_pages` call of a FineWeb-style loader (`fetch_dataset_configs` then
/// `_fetch_data_to_buffer`): `/size`, `initial_offset = randint(0, rows_per_page − 1)`, then per
/// page `choice(configs)` and `randint(0, page_count − 1)`. Each accepted page's rows go to
/// `on_page` (`buffer += _get_content_from_row(row)` for every row; the caller keeps the
/// buffer across calls); an error from it ends the walk, as an exception from the reference's
/// row handling escapes the loader.
pub fn fineweb_attempt(
    walk: &PageWalk,
    rng: &mut PyRandom,
    src: &mut dyn RowSource,
    opt: &FetchOptions,
    on_page: &mut OnPage<'_>,
) -> Result<Vec<Page>, FetchError> {
    let rows_per_page = walk.rows_per_page;
    let mut configs: Vec<SizeEntry> = Vec::new();
    let mut size = None;
    for attempt in 1..=RETRY_LIMIT {
        match src.size(walk.dataset) {
            Ok(s) => {
                size = Some(s);
                break;
            }
            Err(FetchError::Retryable(m)) if attempt < RETRY_LIMIT => {
                eprintln!("warning: {}: /size failed ({m}); retrying", walk.task);
                opt.pause(1, walk.task)?;
            }
            Err(e) => return Err(e),
        }
    }
    for e in size.unwrap_or_default() {
        if e.config == "default" {
            continue;
        }
        match configs.iter_mut().find(|c| c.config == e.config) {
            Some(c) => *c = e, // a later split overwrites, the key keeps its place
            None => configs.push(e),
        }
    }
    if configs.is_empty() {
        return Err(FetchError::Fatal(anyhow::anyhow!(
            "{}: /size lists no configs besides `default`",
            walk.dataset
        )));
    }
    let mut pages: Vec<Page> = Vec::new();
    let (mut failures, mut duplicates) = (0u32, 0u32);
    let initial = rng
        .randint(0, rows_per_page as i64 - 1)
        .ok_or_else(|| FetchError::Fatal(anyhow::anyhow!("{}: 0 rows per page", walk.dataset)))?
        as u64;
    while (pages.len() as u64) < walk.num_pages {
        let c = &configs[rng.choice_index(configs.len()).expect("non-empty")];
        let rows = c.num_rows as i64 - initial as i64;
        let page_count = (rows + 1).div_euclid(rows_per_page as i64);
        let k = rng.randint(0, page_count - 1).ok_or_else(|| {
            FetchError::Fatal(anyhow::anyhow!(
                "{}: config {} has {} rows, too few for a page after offset {initial} (the reference raises here too)",
                walk.dataset,
                c.config,
                c.num_rows
            ))
        })?;
        let page = Page::Config {
            config: c.config.clone(),
            offset: initial + rows_per_page * k as u64,
            split: c.split.clone(),
        };
        if pages.contains(&page) {
            duplicates += 1;
            if duplicates >= DUPLICATE_LIMIT {
                break;
            }
            continue;
        }
        let Page::Config {
            config,
            offset,
            split,
        } = &page
        else {
            unreachable!()
        };
        match src.rows(walk.dataset, config, split, *offset, rows_per_page, false) {
            Ok(rows) => {
                pages.push(page.clone());
                on_page(&mut *src, &page, rows)?;
            }
            Err(FetchError::Retryable(m)) => {
                failures += 1;
                if failures >= RETRY_LIMIT {
                    return Err(FetchError::Retryable(format!(
                        "{RETRY_LIMIT} failed requests; last: {m}"
                    )));
                }
                eprintln!(
                    "warning: {}: page {} failed ({m}); drawing another page",
                    walk.task,
                    page.name()
                );
                opt.pause(1, walk.task)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(pages)
}

/// One `_initialize_pages` call of a simple loader (the buffer starts empty).
#[allow(clippy::too_many_arguments)]
fn simple_attempt(
    spec: &LoaderSpec,
    config: &str,
    max_pages: u64,
    content_fallback: bool,
    rng: &mut PyRandom,
    src: &mut dyn RowSource,
    tok: &dyn Encode,
    buffer: &mut Vec<u32>,
    opt: &FetchOptions,
) -> Result<Vec<Page>, FetchError> {
    let offsets: Vec<u64> = (0..spec.num_pages)
        .map(|_| rng.randint(1, max_pages as i64).expect("max_pages ≥ 1") as u64)
        .collect();
    buffer.clear();
    for &o in &offsets {
        let mut attempt = 0;
        let rows = loop {
            match src.rows(
                &spec.dataset,
                config,
                "train",
                o,
                ROWS_PER_PAGE,
                spec.requires_auth,
            ) {
                Ok(rows) => break rows,
                Err(FetchError::Retryable(m)) => {
                    attempt += 1;
                    if attempt >= RETRY_LIMIT {
                        return Err(FetchError::Retryable(format!(
                            "page {o}: {RETRY_LIMIT} failed requests; last: {m}"
                        )));
                    }
                    eprintln!("warning: {}: page {o} failed ({m}); retrying it", spec.task);
                    opt.pause(1, &spec.task)?;
                }
                Err(e) => return Err(e),
            }
        };
        for r in rows {
            if spec.s3_contents {
                let (blob, enc) = r.blob.ok_or_else(|| {
                    FetchError::Fatal(anyhow::anyhow!(
                        "{}: page {o} has a row without blob_id/src_encoding",
                        spec.dataset
                    ))
                })?;
                let text = src.blob_text(&blob, &enc)?;
                row_tokens(tok, &text, buffer)?;
                continue;
            }
            let text = match (r.has_text_key, r.text, r.content) {
                (true, Some(t), _) => t,
                (true, None, _) => {
                    return Err(FetchError::Fatal(anyhow::anyhow!(
                        "{}: page {o} has a row whose `text` is null",
                        spec.dataset
                    )));
                }
                (false, _, Some(c)) if content_fallback => c,
                _ => {
                    return Err(FetchError::Fatal(anyhow::anyhow!(
                        "{}: page {o} has a row without `text` or `content`",
                        spec.dataset
                    )));
                }
            };
            row_tokens(tok, &text, buffer)?;
        }
        if opt.verbose {
            eprintln!("{}: page {o} ({} tokens so far)", spec.task, buffer.len());
        }
    }
    Ok(offsets.into_iter().map(Page::Offset).collect())
}

/// The token buffer a loader builds for `seed` (the loader constructor), and the pages of its
/// last attempt.
pub fn load_task(
    spec: &LoaderSpec,
    seed: &BigUint,
    seq_len: usize,
    src: &mut dyn RowSource,
    tok: &dyn Encode,
    opt: &FetchOptions,
) -> Result<(Vec<Page>, Vec<u32>), FetchError> {
    let mut rng = PyRandom::from_bigint(seed);
    let mut buffer = Vec::new();
    let mut pages = Vec::new();
    if spec.num_pages == 0 {
        return Ok((pages, buffer));
    }
    for _ in 0..FETCH_ATTEMPTS {
        pages = match &spec.kind {
            LoaderKind::FineWeb => {
                let walk = PageWalk {
                    task: &spec.task,
                    dataset: &spec.dataset,
                    num_pages: spec.num_pages,
                    rows_per_page: ROWS_PER_PAGE,
                };
                let buffer = &mut buffer;
                fineweb_attempt(&walk, &mut rng, src, opt, &mut |_, page, rows| {
                    for r in rows {
                        let text = r.text.ok_or_else(|| {
                            FetchError::Fatal(anyhow::anyhow!(
                                "{}: a row of page {} has no `text`",
                                spec.dataset,
                                page.name()
                            ))
                        })?;
                        row_tokens(tok, &text, buffer)?;
                    }
                    if opt.verbose {
                        eprintln!(
                            "{}: page {} ({} tokens so far)",
                            spec.task,
                            page.name(),
                            buffer.len()
                        );
                    }
                    Ok(())
                })?
            }
            LoaderKind::Simple {
                config,
                max_pages,
                content_fallback,
            } => simple_attempt(
                spec,
                config,
                *max_pages,
                *content_fallback,
                &mut rng,
                src,
                tok,
                &mut buffer,
                opt,
            )?,
        };
        if buffer.len() >= seq_len {
            return Ok((pages, buffer));
        }
    }
    Err(FetchError::Fatal(anyhow::anyhow!(
        "{}: fewer than {seq_len} tokens after {FETCH_ATTEMPTS} attempts",
        spec.task
    )))
}

/// The loader's iteration: `pack` (the validator's setting) cuts consecutive `seq_len` windows
/// across documents; unpacked pads each document with EOS to a multiple of `seq_len`. Windows
/// are grouped `batch_size` at a time; a trailing partial window or batch is dropped.
pub fn batches(
    buffer: &[u32],
    eos: u32,
    seq_len: usize,
    batch_size: usize,
    pack: bool,
) -> Vec<Vec<Vec<u32>>> {
    let padded: Vec<u32> = if pack {
        buffer.to_vec()
    } else {
        let mut out = Vec::with_capacity(buffer.len());
        let mut rest = buffer;
        while let Some(i) = rest.iter().position(|&t| t == eos) {
            let doc = &rest[..i];
            out.extend_from_slice(doc);
            let pad = (seq_len - doc.len() % seq_len) % seq_len;
            out.extend(std::iter::repeat_n(eos, pad));
            rest = &rest[i + 1..];
        }
        out
    };
    let windows: Vec<Vec<u32>> = padded.chunks_exact(seq_len).map(|w| w.to_vec()).collect();
    windows
        .chunks_exact(batch_size)
        .map(|b| b.to_vec())
        .collect()
}

/// A task's evaluation data.
#[derive(Debug, Clone, Serialize)]
pub struct TaskData {
    pub task: String,
    pub dataset: String,
    pub pages: Vec<Page>,
    pub page_names: Vec<String>,
    pub batches_before_truncation: usize,
    /// Kept sequences (`[seq_len]` each), in shuffled order.
    #[serde(skip)]
    pub sequences: Vec<Vec<u32>>,
}

/// The validator's data for one task: load, pack (batch size 1), `Random(seed).shuffle`, keep 50.
pub fn sample_task(
    spec: &LoaderSpec,
    seed: &BigUint,
    seq_len: usize,
    src: &mut dyn RowSource,
    tok: &dyn Encode,
    opt: &FetchOptions,
) -> Result<TaskData, FetchError> {
    let (pages, buffer) = load_task(spec, seed, seq_len, src, tok, opt)?;
    let mut b = batches(&buffer, tok.eos(), seq_len, 1, true);
    let before = b.len();
    PyRandom::from_bigint(seed).shuffle(&mut b);
    b.truncate(MAX_BATCHES_PER_DATASET as usize);
    Ok(TaskData {
        task: spec.task.clone(),
        dataset: spec.dataset.clone(),
        page_names: pages.iter().map(Page::name).collect(),
        pages,
        batches_before_truncation: before,
        sequences: b.into_iter().map(|mut x| x.remove(0)).collect(),
    })
}
