//! Repository ids, revisions, file names: what the Hub and the subnet accept, checked before any
//! request.

use std::fmt;
use std::str::FromStr;

use anyhow::Result;
use sha1::{Digest as _, Sha1};
use sha2::Sha256;

use crate::error::user;

/// The longest `namespace/name` a 128-byte commitment leaves room for (128 − 40 − 44 − 2 − 4).
pub const MAX_REPO_ID_LENGTH: usize = 38;

/// A repository id `namespace/name`: a model (what miners push and validators pull) or a
/// dataset (what `data fetch --hub-dataset` reads).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoId {
    pub namespace: String,
    pub name: String,
    pub kind: RepoKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RepoKind {
    Model,
    Dataset,
}

impl FromStr for RepoId {
    type Err = anyhow::Error;
    /// The reference's `validate_hf_repo_id`: `3 < len ≤ 38` and exactly one `/`, plus the Hub's
    /// own character rules (letters, digits, `-`, `_`, `.`; no `--` or `..`, no leading or
    /// trailing `-`/`.`).
    fn from_str(s: &str) -> Result<Self> {
        if s.len() <= 3 || s.len() > MAX_REPO_ID_LENGTH {
            return Err(user(format!(
                "repo id `{s}` is {} characters; the subnet allows 4 to {MAX_REPO_ID_LENGTH} \
                 (the commitment must fit in 128 bytes)",
                s.len()
            )));
        }
        let Some((ns, name)) = s.split_once('/') else {
            return Err(user(format!("repo id `{s}` must be `namespace/name`")));
        };
        check_parts(s, ns, name)?;
        Ok(RepoId {
            namespace: ns.into(),
            name: name.into(),
            kind: RepoKind::Model,
        })
    }
}

/// The Hub's rules for both parts of `s` = `ns/name`.
fn check_parts(s: &str, ns: &str, name: &str) -> Result<()> {
    for part in [ns, name] {
        let ok = !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            && !part.contains("--")
            && !part.contains("..")
            && !part.starts_with(['-', '.'])
            && !part.ends_with(['-', '.']);
        if !ok {
            return Err(user(format!(
                "repo id `{s}`: `{part}` may use letters, digits, `-`, `_` and `.` (no `--`, \
                     `..`, or `-`/`.` at either end), with exactly one `/`"
            )));
        }
    }
    Ok(())
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl RepoId {
    /// A dataset repository `namespace/name` (the Hub's character rules; no subnet length cap).
    pub fn dataset(s: &str) -> Result<RepoId> {
        let Some((ns, name)) = s.split_once('/').filter(|_| s.len() <= 96) else {
            return Err(user(format!(
                "dataset id `{s}` must be `namespace/name` (at most 96 characters)"
            )));
        };
        check_parts(s, ns, name)?;
        Ok(RepoId {
            namespace: ns.into(),
            name: name.into(),
            kind: RepoKind::Dataset,
        })
    }

    /// `models` or `datasets`: the Hub API's path segment (`/api/{kind}/...`).
    pub fn api_kind(&self) -> &'static str {
        match self.kind {
            RepoKind::Model => "models",
            RepoKind::Dataset => "datasets",
        }
    }

    /// The path of `/{prefix}{repo}/resolve/...`: empty for models, `datasets/` for datasets.
    pub fn resolve_prefix(&self) -> &'static str {
        match self.kind {
            RepoKind::Model => "",
            RepoKind::Dataset => "datasets/",
        }
    }

    /// The HF cache folder name: `models--namespace--name` or `datasets--namespace--name`.
    pub fn cache_folder(&self) -> String {
        format!("{}--{}--{}", self.api_kind(), self.namespace, self.name)
    }
}

/// Checks that `rev` is a full 40-hex commit sha (what validators pin), lowercased.
pub fn commit_sha(rev: &str) -> Result<String> {
    if rev.len() == 40 && rev.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(rev.to_ascii_lowercase())
    } else {
        Err(user(format!(
            "revision `{rev}` is not a full 40-hex commit sha; validators download exactly the \
             commit in the chain commitment (`sn9 hub push` prints it)"
        )))
    }
}

/// Checks a repository file path: relative, `/`-separated, no `.`/`..` parts, no backslashes
/// or control characters.
pub fn safe_path(p: &str) -> Result<()> {
    let bad = p.is_empty()
        || p.starts_with('/')
        || p.contains('\\')
        || p.chars().any(|c| c.is_control())
        || p.split('/').any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        Err(user(format!(
            "file path `{p}` is not a plain relative path; refusing it (nothing is written \
             outside the target directory)"
        )))
    } else {
        Ok(())
    }
}

/// The files of a model that `from_pretrained` (and `AutoTokenizer`) download, hence what
/// validators download and hash: never pickles or code.
pub fn is_model_file(p: &str) -> bool {
    matches!(
        p,
        "config.json"
            | "generation_config.json"
            | "model.safetensors.index.json"
            | "tokenizer.json"
            | "tokenizer_config.json"
            | "special_tokens_map.json"
    ) || (!p.contains('/') && p.ends_with(".safetensors"))
}

/// Git's blob id of `bytes`: `sha1("blob {len}\0" + bytes)` (the Hub's oid of regular files).
pub fn git_blob_sha1(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex(&h.finalize())
}

pub use crate::hex::encode as hex;

/// sha256 of a file, streamed; (hex digest, size).
pub fn sha256_file(path: &std::path::Path) -> Result<(String, u64)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)
        .map_err(|e| user(format!("cannot read {}: {e}", path.display())))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex(&h.finalize()), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids() {
        assert!("alice/tiny".parse::<RepoId>().is_ok());
        assert!("a/b".parse::<RepoId>().is_err());
        assert!("alice/tiny/x".parse::<RepoId>().is_err());
        assert!("alicetiny".parse::<RepoId>().is_err());
        assert!(
            format!("alice/{}", "x".repeat(33))
                .parse::<RepoId>()
                .is_err()
        );
        assert!(
            format!("alice/{}", "x".repeat(32))
                .parse::<RepoId>()
                .is_ok()
        );
        assert!("alice/../etc".parse::<RepoId>().is_err());
        assert!("alice/a--b".parse::<RepoId>().is_err());
        assert_eq!(
            "bob/m-1".parse::<RepoId>().unwrap().cache_folder(),
            "models--bob--m-1"
        );
    }

    #[test]
    fn revisions_and_paths() {
        assert!(commit_sha(&"a".repeat(40)).is_ok());
        assert!(commit_sha("main").is_err());
        assert!(commit_sha(&"g".repeat(40)).is_err());
        for bad in ["../x", "/etc/passwd", "a/../b", "a\\b", "", "a//b", "./a"] {
            assert!(safe_path(bad).is_err(), "{bad}");
        }
        assert!(safe_path("model-00001-of-00002.safetensors").is_ok());
        assert!(is_model_file("model.safetensors"));
        assert!(!is_model_file("pytorch_model.bin"));
        assert!(!is_model_file("modeling.py"));
        assert!(!is_model_file("sub/model.safetensors"));
    }

    #[test]
    fn git_blob_id() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            git_blob_sha1(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }
}
