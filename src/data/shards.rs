//! Token shards: the files `sn9 data sample` / `sn9 data pack` write and `sn9 eval` / `sn9 train`
//! read. A directory with `manifest.json` and one `<name>.bin` per shard: little-endian u32
//! token ids, `seq_len` per sequence. Written to a temporary directory and renamed into place, so
//! a partial output never looks complete.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use memmap2::Mmap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::user;

pub const SCHEMA: &str = "sn9.tokens";
pub const VERSION: u32 = 1;

/// One shard of the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    pub name: String,
    pub file: String,
    pub tokens: u64,
    pub sequences: u64,
    /// Where the tokens came from (free-form: task, dataset, pages, files...).
    #[serde(default)]
    pub source: Value,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub version: u32,
    pub seq_len: usize,
    pub eos_id: u32,
    /// `{"path", "sha256", "max_doc_tokens"}` of the tokenizer used.
    pub tokenizer: Value,
    pub shards: Vec<ShardInfo>,
    /// What produced the shards (e.g. the block, seed and pages of `data sample`).
    #[serde(default)]
    pub origin: Value,
}

/// Writes `manifest` and the shards' tokens into `out`, atomically. `out` must not exist unless
/// `replace` is set.
pub fn write(
    out: &Path,
    mut manifest: Manifest,
    shards: &[(String, Vec<u32>, Value)],
    replace: bool,
) -> Result<()> {
    let tmp = begin_output(out, replace)?;
    manifest.shards.clear();
    for (name, tokens, source) in shards {
        if !tokens.len().is_multiple_of(manifest.seq_len.max(1)) {
            anyhow::bail!(
                "shard {name}: {} tokens is not a whole number of {}-token sequences",
                tokens.len(),
                manifest.seq_len
            );
        }
        let file = format!("{}.bin", sanitize(name));
        let bytes: Vec<u8> = tokens.iter().flat_map(|t| t.to_le_bytes()).collect();
        std::fs::write(tmp.join(&file), bytes).with_context(|| format!("writing {file}"))?;
        manifest.shards.push(ShardInfo {
            name: name.clone(),
            file,
            tokens: tokens.len() as u64,
            sequences: (tokens.len() / manifest.seq_len.max(1)) as u64,
            source: source.clone(),
        });
    }
    std::fs::write(
        tmp.join("manifest.json"),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    finish_output(&tmp, out)
}

/// Creates the temporary directory an output directory is written in (beside it, so the final
/// rename stays on one filesystem). `out` must not exist unless `replace` is set.
pub(crate) fn begin_output(out: &Path, replace: bool) -> Result<PathBuf> {
    if out.exists() && !replace {
        return Err(user(format!(
            "{} already exists; pass --force to replace it",
            out.display()
        )));
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&parent)
        .map_err(|e| user(format!("cannot create {}: {e}", parent.display())))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "shards".into());
    crate::output::sweep_stale(&parent, &format!(".{name}.tmp-"), "");
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    Ok(tmp)
}

/// Moves a finished temporary directory into place (replacing an older `out`).
pub(crate) fn finish_output(tmp: &Path, out: &Path) -> Result<()> {
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| format!("replacing {}", out.display()))?;
    }
    std::fs::rename(tmp, out)
        .with_context(|| format!("renaming {} to {}", tmp.display(), out.display()))?;
    Ok(())
}

/// `DIR/manifest.json` of an sn9 output directory of `kind`, checked to be `schema` v`version`.
pub(crate) fn read_manifest<T: serde::de::DeserializeOwned>(
    dir: &Path,
    schema: &str,
    version: u32,
    kind: &str,
) -> Result<T> {
    let mpath = dir.join("manifest.json");
    let text = crate::output::read_text(&mpath, crate::output::Limit::State).map_err(|e| {
        user(format!(
            "cannot read {} ({e}); is {} an sn9 {kind} directory?",
            mpath.display(),
            dir.display()
        ))
    })?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| user(format!("{}: malformed manifest: {e}", mpath.display())))?;
    let (s, n) = (v["schema"].as_str(), v["version"].as_u64());
    if s != Some(schema) || n != Some(version as u64) {
        return Err(user(format!(
            "{}: schema {} v{}, expected {schema} v{version}",
            mpath.display(),
            s.unwrap_or("?"),
            n.map_or("?".into(), |n| n.to_string())
        )));
    }
    serde_json::from_value(v)
        .map_err(|e| user(format!("{}: malformed manifest: {e}", mpath.display())))
}

/// A task name as a file stem: ASCII letters, digits, `-` and `_` kept, anything else `_`.
pub(crate) fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Opened shards (memory-mapped).
pub struct Shards {
    pub dir: PathBuf,
    pub manifest: Manifest,
    maps: Vec<Mmap>,
}

impl Shards {
    pub fn open(dir: &Path) -> Result<Shards> {
        let mpath = dir.join("manifest.json");
        let manifest: Manifest = read_manifest(dir, SCHEMA, VERSION, "token-shard")?;
        let mut maps = Vec::new();
        for s in &manifest.shards {
            if s.file.contains('/') || s.file.contains("..") {
                return Err(user(format!(
                    "{}: shard file `{}` must be a plain file name",
                    mpath.display(),
                    s.file
                )));
            }
            let p = dir.join(&s.file);
            let f = std::fs::File::open(&p)
                .map_err(|e| user(format!("cannot open shard {}: {e}", p.display())))?;
            // SAFETY: read-only map of a file sn9 wrote; see model::safetensors.
            let m = unsafe { Mmap::map(&f) }
                .map_err(|e| user(format!("cannot map {}: {e}", p.display())))?;
            if m.len() as u64 != s.tokens * 4 || s.tokens != s.sequences * manifest.seq_len as u64 {
                return Err(user(format!(
                    "shard {}: {} bytes, the manifest says {} tokens in {} sequences of {} (truncated or edited?)",
                    p.display(),
                    m.len(),
                    s.tokens,
                    s.sequences,
                    manifest.seq_len
                )));
            }
            maps.push(m);
        }
        Ok(Shards {
            dir: dir.to_path_buf(),
            manifest,
            maps,
        })
    }

    /// Total sequences over all shards.
    pub fn len(&self) -> u64 {
        self.manifest.shards.iter().map(|s| s.sequences).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sequence `k` counted over all shards in manifest order.
    pub fn sequence(&self, mut k: u64) -> Option<Vec<u32>> {
        let seq = self.manifest.seq_len;
        for (s, m) in self.manifest.shards.iter().zip(&self.maps) {
            if k < s.sequences {
                let start = k as usize * seq * 4;
                return Some(
                    m[start..start + seq * 4]
                        .chunks_exact(4)
                        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect(),
                );
            }
            k -= s.sequences;
        }
        None
    }

    /// The largest token id in all shards (`None` when empty).
    pub fn max_token(&self) -> Option<u32> {
        use rayon::prelude::*;
        self.maps
            .par_iter()
            .filter_map(|m| {
                m.par_chunks_exact(4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .max()
            })
            .max()
    }

    /// The sequences of shard `i`.
    pub fn sequences(&self, i: usize) -> impl Iterator<Item = Vec<u32>> + '_ {
        let seq = self.manifest.seq_len;
        self.maps[i].chunks_exact(seq * 4).map(|c| {
            c.chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("s");
        let m = Manifest {
            schema: SCHEMA.into(),
            version: VERSION,
            seq_len: 2,
            eos_id: 0,
            tokenizer: Value::Null,
            shards: vec![],
            origin: Value::Null,
        };
        write(
            &out,
            m.clone(),
            &[("A/B".into(), vec![1, 2, 3, 4], Value::Null)],
            false,
        )
        .unwrap();
        assert!(write(&out, m.clone(), &[], false).is_err());
        let s = Shards::open(&out).unwrap();
        assert_eq!(
            s.sequences(0).collect::<Vec<_>>(),
            vec![vec![1, 2], vec![3, 4]]
        );
        let f = out.join("A_B.bin");
        let bytes = std::fs::read(&f).unwrap();
        std::fs::write(&f, &bytes[..12]).unwrap();
        assert!(Shards::open(&out).is_err());
    }
}
