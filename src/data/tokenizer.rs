//! Tokenizers as the reference applies them: `tokenizer(text, truncation=True)` (no special
//! tokens added by GPT-2-style tokenizers, each document cut at `model_max_length`), then one EOS
//! appended by the caller. Backed by the `tokenizers` crate (pure Rust, same ids as Python), and
//! for tokenizers with cl100k's pre-tokenizer by [`super::cl100k`] (same ids, several times
//! faster); `SN9_GENERIC_TOKENIZER=1` turns that off.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Result;
use sha2::{Digest, Sha256};

use super::cl100k::Cl100k;
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
    /// The `tokenizers` crate's tokenizer; built on first use when `fast` takes the file.
    generic: OnceLock<std::result::Result<tokenizers::Tokenizer, String>>,
    /// The file, for building `generic` later.
    bytes: Vec<u8>,
    fast: Option<Cl100k>,
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
        let fast = if std::env::var_os("SN9_GENERIC_TOKENIZER").is_some_and(|v| v != "0") {
            None
        } else {
            Cl100k::recognise(&bytes)
                .map_err(|e| user(format!("{} is not a tokenizer.json: {e:#}", file.display())))?
        };
        let generic = OnceLock::new();
        if fast.is_none() {
            let t = tokenizers::Tokenizer::from_bytes(&bytes)
                .map_err(|e| user(format!("{} is not a tokenizer.json: {e}", file.display())))?;
            let _ = generic.set(Ok(t));
        }
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
                let id = match &fast {
                    Some(f) => f.token_to_id(&tok),
                    None => generic_ref(&generic)?.token_to_id(&tok),
                };
                id.ok_or_else(|| {
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
            generic,
            bytes,
            fast,
            eos,
            max_len,
            sha256,
            path: file,
        })
    }

    /// Whether the dedicated cl100k encoder encodes this tokenizer's documents.
    pub fn is_fast(&self) -> bool {
        self.fast.is_some()
    }

    fn generic(&self) -> Result<&tokenizers::Tokenizer> {
        if self.generic.get().is_none() {
            let t = tokenizers::Tokenizer::from_bytes(&self.bytes)
                .map_err(|e| format!("{} is not a tokenizer.json: {e}", self.path.display()));
            let _ = self.generic.set(t);
        }
        generic_ref(&self.generic)
    }
}

fn generic_ref(
    cell: &OnceLock<std::result::Result<tokenizers::Tokenizer, String>>,
) -> Result<&tokenizers::Tokenizer> {
    match cell.get() {
        Some(Ok(t)) => Ok(t),
        Some(Err(e)) => Err(user(e.clone())),
        None => unreachable!("the generic tokenizer is built before use"),
    }
}

use crate::hex::encode as hex;

impl Encode for HfTokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = match self.fast.as_ref().and_then(|f| f.encode(text)) {
            Some(ids) => ids,
            None => self
                .generic()?
                .encode_fast(text, false)
                .map_err(|e| anyhow::anyhow!("tokenizing a document of {} bytes: {e}", text.len()))?
                .get_ids()
                .to_vec(),
        };
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
        assert!(
            t.is_fast(),
            "the fixture takes the dedicated cl100k encoder"
        );
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
