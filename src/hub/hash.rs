//! Model directory hashes (taoverse `model/storage/disk/utils.py`).
//!
//! Per file `b64(sha256(bytes))`; the directory hash feeds each file's base64 digest string,
//! in `os.walk` top-down order (a directory's files sorted by name bytes, then its sorted
//! subdirectories), into an outer sha256. The secure hash binds it to the miner's hotkey:
//! `b64(sha256(directory_hash ‖ hotkey_ss58))`.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::error::user;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `get_hash_of_file`: base64 of the sha256 of the file's bytes (streamed).
pub fn hash_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(b64(&h.finalize()))
}

/// Files of `root` in `os.walk` top-down order, as paths relative to `root`. Symlinked files are
/// followed (the HF cache stores snapshots as links into its blob store); symlinked directories
/// are not descended into, as `os.walk` does by default.
pub fn walk_order(root: &Path) -> Result<Vec<PathBuf>> {
    fn visit(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
            let entry = entry?;
            let name = entry.file_name();
            let ft = entry.file_type()?;
            let is_dir = if ft.is_symlink() {
                std::fs::metadata(entry.path())
                    .map(|m| m.is_dir())
                    .unwrap_or(false)
            } else {
                ft.is_dir()
            };
            if is_dir {
                dirs.push((name, ft.is_symlink()));
            } else {
                files.push(name);
            }
        }
        files.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
        dirs.sort_by(|a, b| a.0.as_encoded_bytes().cmp(b.0.as_encoded_bytes()));
        for f in files {
            out.push(rel.join(f));
        }
        for (d, link) in dirs {
            if !link {
                visit(&dir.join(&d), &rel.join(&d), out)?;
            }
        }
        Ok(())
    }
    let meta = std::fs::metadata(root).map_err(|e| {
        user(format!(
            "cannot read model directory {}: {e}",
            root.display()
        ))
    })?;
    if !meta.is_dir() {
        return Err(user(format!(
            "{} is not a directory; pass the model's snapshot directory",
            root.display()
        )));
    }
    let mut out = Vec::new();
    visit(root, Path::new(""), &mut out)?;
    Ok(out)
}

/// A directory's hashes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DirectoryHash {
    /// (relative path, file hash) in walk order.
    pub files: Vec<(String, String)>,
    pub directory_hash: String,
}

/// `get_hash_of_directory`.
pub fn hash_directory(root: &Path) -> Result<DirectoryHash> {
    hash_files(root, &walk_order(root)?)
}

/// The directory hash of the files `rels` of `root` (relative paths, in walk order): what
/// validators compute once they hold exactly these files.
pub fn hash_files(root: &Path, rels: &[PathBuf]) -> Result<DirectoryHash> {
    let mut outer = Sha256::new();
    let mut files = Vec::new();
    for rel in rels {
        let h = hash_file(&root.join(rel))?;
        outer.update(h.as_bytes());
        files.push((rel.to_string_lossy().into_owned(), h));
    }
    Ok(DirectoryHash {
        files,
        directory_hash: b64(&outer.finalize()),
    })
}

/// `b64(sha256(bytes))` of bytes in memory.
pub fn hash_bytes(bytes: &[u8]) -> String {
    b64(&Sha256::digest(bytes))
}

/// The directory hash of per-file hashes already computed, in walk order.
pub fn combine(files: Vec<(String, String)>) -> DirectoryHash {
    let mut outer = Sha256::new();
    for (_, h) in &files {
        outer.update(h.as_bytes());
    }
    DirectoryHash {
        files,
        directory_hash: b64(&outer.finalize()),
    }
}

/// The hotkey-bound hash committed on chain.
pub fn secure_hash(directory_hash: &str, hotkey: &str) -> String {
    crate::chain::metadata::hash_of_two_strings(directory_hash, hotkey)
}
