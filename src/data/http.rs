//! The Hugging Face datasets-server (`/size`, `/rows`) over HTTP, as the reference calls it:
//! 15 s timeouts, `Authorization: Bearer $HF_TOKEN` for gated datasets. Failures the reference
//! retries (HTTP error status, timeouts, connection errors, malformed JSON) are
//! [`FetchError::Retryable`]; a response without the expected fields is fatal for the task.
//! Audio assets (People's Speech) are plain GETs of the row's `audio[0].src`.

use std::time::Duration;

use serde_json::Value;

use super::sample::{FetchError, Row, RowSource, SizeEntry};

/// The public datasets-server.
pub const DEFAULT_BASE: &str = "https://datasets-server.huggingface.co";

/// Largest response body accepted (a page of 50 very long documents fits easily).
const MAX_BODY: u64 = 512 << 20;
/// Largest audio asset accepted (a 15 s clip is under 12 MB even as 48 kHz stereo float64).
const MAX_AUDIO_BODY: u64 = 256 << 20;

pub struct DatasetsServer {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
    /// Where Stack v2 contents come from (set when AWS credentials are available).
    pub blobs: Option<super::s3::Blobs>,
}

impl DatasetsServer {
    pub fn new(base: &str, token: Option<String>, timeout: Duration) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        DatasetsServer {
            base: base.trim_end_matches('/').to_string(),
            token,
            agent,
            blobs: None,
        }
    }

    fn get(&self, path: &str, query: &[(&str, String)], auth: bool) -> Result<Value, FetchError> {
        let url = format!("{}/{path}", self.base);
        let mut req = self.agent.get(&url);
        for (k, v) in query {
            req = req.query(*k, v);
        }
        if auth && let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let mut resp = req
            .call()
            .map_err(|e| FetchError::Retryable(format!("GET {url}: {e}")))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| FetchError::Retryable(format!("GET {url}: reading the body: {e}")))?;
        if status >= 400 {
            let snippet: String = body.chars().take(200).collect();
            return Err(FetchError::Retryable(format!(
                "GET {url}: HTTP {status}: {snippet}"
            )));
        }
        serde_json::from_str(&body)
            .map_err(|e| FetchError::Retryable(format!("GET {url}: malformed JSON: {e}")))
    }
}

fn fatal(msg: String) -> FetchError {
    FetchError::Fatal(anyhow::anyhow!(msg))
}

/// `size.splits` of a `/size` answer.
pub fn parse_size(dataset: &str, v: &Value) -> Result<Vec<SizeEntry>, FetchError> {
    let splits = v
        .pointer("/size/splits")
        .and_then(|s| s.as_array())
        .ok_or_else(|| fatal(format!("{dataset}: /size has no size.splits")))?;
    splits
        .iter()
        .map(|s| {
            let config = s.get("config").and_then(|c| c.as_str());
            let rows = s.get("num_rows").and_then(|n| n.as_u64());
            let split = s.get("split").and_then(|c| c.as_str());
            match (config, rows, split) {
                (Some(c), Some(n), Some(sp)) => Ok(SizeEntry {
                    config: c.into(),
                    num_rows: n,
                    split: sp.into(),
                }),
                _ => Err(fatal(format!(
                    "{dataset}: a /size split lacks config, num_rows or split: {s}"
                ))),
            }
        })
        .collect()
}

/// The rows of a `/rows` answer.
pub fn parse_rows(dataset: &str, v: &Value) -> Result<Vec<Row>, FetchError> {
    let rows = v
        .get("rows")
        .and_then(|r| r.as_array())
        .ok_or_else(|| fatal(format!("{dataset}: /rows has no `rows`")))?;
    rows.iter()
        .map(|r| {
            let row = r
                .get("row")
                .and_then(|x| x.as_object())
                .ok_or_else(|| fatal(format!("{dataset}: a /rows entry has no `row` object")))?;
            let text = row.get("text");
            let blob = match (
                row.get("blob_id").and_then(|b| b.as_str()),
                row.get("src_encoding").and_then(|e| e.as_str()),
            ) {
                (Some(b), Some(e)) => Some((b.to_string(), e.to_string())),
                _ => None,
            };
            // `row["audio"][0]["src"]` and `["type"]` (People's Speech).
            let audio = row.get("audio").and_then(|a| a.get(0)).and_then(|a| {
                Some((
                    a.get("src")?.as_str()?.to_string(),
                    a.get("type")?.as_str()?.to_string(),
                ))
            });
            Ok(Row {
                has_text_key: text.is_some(),
                text: text.and_then(|t| t.as_str()).map(str::to_string),
                content: row
                    .get("content")
                    .and_then(|t| t.as_str())
                    .map(str::to_string),
                blob,
                audio,
            })
        })
        .collect()
}

impl RowSource for DatasetsServer {
    fn size(&mut self, dataset: &str) -> Result<Vec<SizeEntry>, FetchError> {
        let v = self.get("size", &[("dataset", dataset.to_string())], false)?;
        parse_size(dataset, &v)
    }

    fn rows(
        &mut self,
        dataset: &str,
        config: &str,
        split: &str,
        offset: u64,
        length: u64,
        auth: bool,
    ) -> Result<Vec<Row>, FetchError> {
        let q = [
            ("dataset", dataset.to_string()),
            ("config", config.to_string()),
            ("split", split.to_string()),
            ("offset", offset.to_string()),
            ("length", length.to_string()),
        ];
        let v = self.get("rows", &q, auth)?;
        parse_rows(dataset, &v)
    }

    /// `download_audio_torch`'s `requests.get(url)`: status 200 or an error. 4xx and other
    /// non-200 answers below 500 are fatal (`Failed to download audio file: HTTP <code>`, as the
    /// reference raises); 5xx, timeouts and connection errors are retryable.
    fn audio(&mut self, url: &str) -> Result<Vec<u8>, FetchError> {
        let mut resp = self
            .agent
            .get(url)
            .call()
            .map_err(|e| FetchError::Retryable(format!("GET {url}: {e}")))?;
        let status = resp.status().as_u16();
        if status >= 500 {
            return Err(FetchError::Retryable(format!("GET {url}: HTTP {status}")));
        }
        if status != 200 {
            return Err(fatal(format!(
                "Failed to download audio file: HTTP {status} (GET {url})"
            )));
        }
        resp.body_mut()
            .with_config()
            .limit(MAX_AUDIO_BODY)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => fatal(format!(
                    "GET {url}: the audio file is larger than {MAX_AUDIO_BODY} bytes"
                )),
                e => FetchError::Retryable(format!("GET {url}: reading the body: {e}")),
            })
    }

    fn blob_text(&mut self, blob_id: &str, encoding: &str) -> Result<String, FetchError> {
        match &self.blobs {
            Some(b) => b.text(blob_id, encoding),
            None => Err(FetchError::Fatal(anyhow::anyhow!(
                "Stack v2 contents need AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ))),
        }
    }
}
