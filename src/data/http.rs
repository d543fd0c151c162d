//! The Hugging Face datasets-server (`/size`, `/rows`) over HTTP, as the reference calls it:
//! 15 s timeouts, `Authorization: Bearer $HF_TOKEN` for gated datasets. Failures the reference
//! retries (HTTP error status, timeouts, connection errors, malformed JSON) are
//! [`FetchError::Retryable`]; a response without the expected fields is fatal for the task.

use std::time::Duration;

use serde_json::Value;

use super::sample::{FetchError, Row, RowSource, SizeEntry};

/// The public datasets-server.
pub const DEFAULT_BASE: &str = "https://datasets-server.huggingface.co";

/// Largest response body accepted (a page of 50 very long documents fits easily).
const MAX_BODY: u64 = 512 << 20;

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

impl RowSource for DatasetsServer {
    fn size(&mut self, dataset: &str) -> Result<Vec<SizeEntry>, FetchError> {
        let v = self.get("size", &[("dataset", dataset.to_string())], false)?;
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
        let rows = v
            .get("rows")
            .and_then(|r| r.as_array())
            .ok_or_else(|| fatal(format!("{dataset}: /rows has no `rows`")))?;
        rows.iter()
            .map(|r| {
                let row = r.get("row").and_then(|x| x.as_object()).ok_or_else(|| {
                    fatal(format!("{dataset}: a /rows entry has no `row` object"))
                })?;
                let text = row.get("text");
                let blob = match (
                    row.get("blob_id").and_then(|b| b.as_str()),
                    row.get("src_encoding").and_then(|e| e.as_str()),
                ) {
                    (Some(b), Some(e)) => Some((b.to_string(), e.to_string())),
                    _ => None,
                };
                Ok(Row {
                    has_text_key: text.is_some(),
                    text: text.and_then(|t| t.as_str()).map(str::to_string),
                    content: row
                        .get("content")
                        .and_then(|t| t.as_str())
                        .map(str::to_string),
                    blob,
                })
            })
            .collect()
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
