//! Model metadata committed on chain (taoverse `ModelId`):
//! `namespace:name:commit:secure_hash:competition_id`, at most 128 bytes.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::competition::constants::{MAX_METADATA_BYTES, MAX_REPO_ID_LENGTH};

/// A model's identity on the Hub and chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelId {
    pub namespace: String,
    pub name: String,
    pub competition_id: i64,
    /// 40-hex Hub commit sha.
    pub commit: Option<String>,
    /// Directory hash (legacy 4-field format only; never committed in the 5-field format).
    pub hash: Option<String>,
    /// `b64(sha256(directory_hash ‖ hotkey))`.
    pub secure_hash: Option<String>,
}

/// Why a metadata string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error(
        "metadata `{0}` has {1} field(s); expected namespace:name:commit:secure_hash:competition_id"
    )]
    TooFewFields(String, usize),
    #[error("metadata `{0}`: competition id `{1}` is not an integer")]
    BadCompetition(String, String),
}

fn none_or(s: &str) -> Option<String> {
    if s == "None" {
        None
    } else {
        Some(s.to_string())
    }
}

fn show(o: &Option<String>) -> &str {
    o.as_deref().unwrap_or("None")
}

/// Python's `int(str)` for the competition id: surrounding whitespace, an optional sign, digits
/// with single underscores between them.
fn python_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    if !clean.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let v: i64 = clean.parse().ok()?;
    Some(if neg { -v } else { v })
}

impl ModelId {
    /// `to_compressed_str`: `None` fields are written as the literal `None`.
    pub fn to_compressed(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.namespace,
            self.name,
            show(&self.commit),
            show(&self.secure_hash),
            self.competition_id
        )
    }

    /// `from_compressed_str`: 5+ fields (extra ignored) or the legacy 4-field format, where the
    /// 4th field is both the hash and the secure hash and the competition is 0.
    pub fn parse(s: &str) -> Result<ModelId, MetadataError> {
        let f: Vec<&str> = s.split(':').collect();
        if f.len() < 4 {
            return Err(MetadataError::TooFewFields(s.to_string(), f.len()));
        }
        let (hash, secure_hash, competition_id) = if f.len() >= 5 {
            let id = python_int(f[4])
                .ok_or_else(|| MetadataError::BadCompetition(s.to_string(), f[4].to_string()))?;
            (None, none_or(f[3]), id)
        } else {
            (none_or(f[3]), none_or(f[3]), 0)
        };
        Ok(ModelId {
            namespace: f[0].to_string(),
            name: f[1].to_string(),
            competition_id,
            commit: none_or(f[2]),
            hash,
            secure_hash,
        })
    }

    /// The commitment string, refusing one over the chain's 128-byte limit.
    /// Its fields must come back unchanged from [`ModelId::parse`] (no `:` inside a field, no
    /// field spelled `None`), or validators would read another model than the one committed.
    pub fn to_commitment(&self) -> Result<String, String> {
        let s = self.to_compressed();
        let same = |b: &ModelId| {
            (
                &b.namespace,
                &b.name,
                &b.commit,
                &b.secure_hash,
                b.competition_id,
            ) == (
                &self.namespace,
                &self.name,
                &self.commit,
                &self.secure_hash,
                self.competition_id,
            )
        };
        match ModelId::parse(&s) {
            Ok(back) if same(&back) => {}
            Ok(back) => {
                return Err(format!(
                    "`{s}` would not read back as these fields (a field holds `:` or is spelled `None`): validators parse it as namespace {:?}, name {:?}, commit {:?}, secure hash {:?}, competition {}",
                    back.namespace, back.name, back.commit, back.secure_hash, back.competition_id
                ));
            }
            Err(e) => {
                return Err(format!(
                    "`{s}` would not read back as these fields (a field holds `:`): validators would fail with: {e}"
                ));
            }
        }
        if s.len() > MAX_METADATA_BYTES {
            return Err(format!(
                "metadata is {} bytes, over the chain's {MAX_METADATA_BYTES}-byte limit (shorten the repo name)",
                s.len()
            ));
        }
        Ok(s)
    }
}

/// `validate_hf_repo_id`: non-empty, `3 < len ≤ 38` characters, exactly one `/`.
pub fn validate_repo_id(repo_id: &str) -> Result<(String, String), String> {
    if repo_id.is_empty() {
        return Err("Hugging Face repo id cannot be empty.".into());
    }
    let n = repo_id.chars().count();
    if !(3 < n && n <= MAX_REPO_ID_LENGTH) {
        return Err(format!(
            "Hugging Face repo id must be between 3 and {MAX_REPO_ID_LENGTH} characters."
        ));
    }
    let parts: Vec<&str> = repo_id.split('/').collect();
    if parts.len() != 2 {
        return Err(
            "Hugging Face repo id must be in the format <org or user name>/<repo_name>.".into(),
        );
    }
    Ok((parts[0].to_string(), parts[1].to_string()))
}

/// `get_hash_of_two_strings`: `b64(sha256(a ‖ b))`.
pub fn hash_of_two_strings(a: &str, b: &str) -> String {
    let mut h = Sha256::new();
    h.update(a.as_bytes());
    h.update(b.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_int_rules() {
        assert_eq!(python_int(" 5 "), Some(5));
        assert_eq!(python_int("1_0"), Some(10));
        assert_eq!(python_int("-3"), Some(-3));
        assert_eq!(python_int("x"), None);
        assert_eq!(python_int(""), None);
        assert_eq!(python_int("1__0"), None);
    }
}
