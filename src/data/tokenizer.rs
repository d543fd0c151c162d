//! Tokenizers as the reference applies them: `tokenizer(text, truncation=True)` (no special
//! tokens added by GPT-2-style tokenizers, each document cut at `model_max_length`), then one EOS
//! appended by the caller. Backed by the `tokenizers` crate (pure Rust, same ids as Python).

use std::path::{Path, PathBuf};

use anyhow::Result;
use sha2::{Digest, Sha256};

use crate::error::user;

/// What the sampler and packer need from a tokenizer.
pub trait Encode {
    /// Token ids of one document (truncated as the reference truncates), without EOS.
    fn encode(&self, text: &str) -> Result<Vec<u32>>;
    /// The id appended after each document.
    fn eos(&self) -> u32;
}

/// A Hugging Face `tokenizer.json`.
pub struct HfTokenizer {
    inner: tokenizers::Tokenizer,
    eos: u32,
    /// Per-document truncation (`model_max_length`), `None` for none.
    pub max_len: Option<usize>,
    /// sha256 of the tokenizer.json bytes (recorded in manifests).
    pub sha256: String,
    pub path: PathBuf,
}

impl HfTokenizer {
    /// Loads `PATH` (a tokenizer.json, or a directory holding one). EOS and `model_max_length`
    /// come from the flags when given, else from `tokenizer_config.json` beside it.
    pub fn load(path: &Path, eos: Option<u32>, max_len: Option<usize>) -> Result<HfTokenizer> {
        let file = if path.is_dir() {
            path.join("tokenizer.json")
        } else {
            path.to_path_buf()
        };
        let bytes = crate::output::read_bytes(&file, crate::output::Limit::Tokenizer)
            .map_err(|e| user(format!("tokenizer: {e:#}")))?;
        let inner = tokenizers::Tokenizer::from_bytes(&bytes)
            .map_err(|e| user(format!("{} is not a tokenizer.json: {e}", file.display())))?;
        let cfg: Option<serde_json::Value> = file
            .parent()
            .map(|d| d.join("tokenizer_config.json"))
            .and_then(|p| crate::output::read_text(&p, crate::output::Limit::ModelJson).ok())
            .and_then(|t| serde_json::from_str(&t).ok());
        let eos = match eos {
            Some(e) => e,
            None => {
                let tok = cfg
                    .as_ref()
                    .and_then(|c| c.get("eos_token"))
                    .and_then(|t| {
                        t.as_str().map(str::to_string).or_else(|| {
                            t.get("content")
                                .and_then(|c| c.as_str())
                                .map(str::to_string)
                        })
                    })
                    .unwrap_or_else(|| "<|endoftext|>".to_string());
                inner.token_to_id(&tok).ok_or_else(|| {
                    user(format!(
                        "{}: no EOS token `{tok}` in the vocabulary; pass --eos-id",
                        file.display()
                    ))
                })?
            }
        };
        let max_len = max_len.or_else(|| {
            cfg.as_ref()
                .and_then(|c| c.get("model_max_length"))
                .and_then(|m| m.as_u64())
                .filter(|&m| m < 1 << 40)
                .map(|m| m as usize)
        });
        let sha256 = hex(&Sha256::digest(&bytes));
        Ok(HfTokenizer {
            inner,
            eos,
            max_len,
            sha256,
            path: file,
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}

use crate::hex::encode as hex;

impl Encode for HfTokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode_fast(text, false)
            .map_err(|e| anyhow::anyhow!("tokenizing a document of {} bytes: {e}", text.len()))?;
        let mut ids = enc.get_ids().to_vec();
        if let Some(m) = self.max_len {
            ids.truncate(m);
        }
        Ok(ids)
    }

    fn eos(&self) -> u32 {
        self.eos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cl100k() -> HfTokenizer {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/tokenizer/cl100k");
        HfTokenizer::load(&dir, None, None).unwrap()
    }

    #[test]
    fn cl100k_matches_python_tokenizers() {
        let t = cl100k();
        assert_eq!(t.eos(), 100257);
        assert_eq!(t.sha256.len(), 64);
        let cases: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("fixtures/tokenizer/cl100k_cases.json"),
            )
            .unwrap(),
        )
        .unwrap();
        let raw = tokenizers::Tokenizer::from_file(&t.path).unwrap();
        let mut n = 0;
        for c in cases["cases"].as_array().unwrap() {
            let want: Vec<u32> = c["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect();
            let got = raw
                .encode(c["text"].as_str().unwrap(), false)
                .unwrap()
                .get_ids()
                .to_vec();
            assert_eq!(got, want, "case {}", c["name"]);
            n += 1;
        }
        assert!(n >= 32);
    }

    #[test]
    fn truncates_per_document() {
        let mut t = cl100k();
        t.max_len = Some(3);
        assert_eq!(
            t.encode("The quick brown fox jumps").unwrap(),
            vec![791, 4062, 14198]
        );
    }
}
