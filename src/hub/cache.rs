//! The Hugging Face cache layout, shared with Python's `huggingface_hub` and the `hf-hub` crate:
//!
//! ```text
//! $HF_HUB_CACHE (or $HF_HOME/hub, or ~/.cache/huggingface/hub)
//!   models--<ns>--<name>/blobs/<etag>                  file bytes (etag: sha256 for LFS files,
//!                                                      git blob sha1 for regular ones)
//!   models--<ns>--<name>/snapshots/<commit>/<path>     relative symlink to the blob
//! ```
//!
//! Downloads go to `<blob>.incomplete`, resume from its length after an interruption, are
//! verified against the oid the hub announced (sha256 or git blob sha1), and only then are renamed
//! into place: a partial or corrupted file never looks complete.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::repo::{RepoId, hex};
use super::store::{Hub, RemoteFile, Retry, retryable};
use crate::error::user;

/// The cache root from the environment, as Python resolves it.
pub fn root_from_env() -> PathBuf {
    if let Some(p) =
        std::env::var_os("HF_HUB_CACHE").or_else(|| std::env::var_os("HUGGINGFACE_HUB_CACHE"))
    {
        return PathBuf::from(p);
    }
    if let Some(h) = std::env::var_os("HF_HOME") {
        return PathBuf::from(h).join("hub");
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("huggingface").join("hub")
}

pub fn snapshot_dir(root: &Path, repo: &RepoId, commit: &str) -> PathBuf {
    root.join(repo.cache_folder())
        .join("snapshots")
        .join(commit)
}

/// Hashes bytes as the hub names the file: sha256 (LFS) or git blob sha1 (regular).
enum Hasher {
    Sha256(Sha256),
    GitSha1(Sha1),
}

impl Hasher {
    fn new(f: &RemoteFile) -> Self {
        if f.lfs {
            Hasher::Sha256(Sha256::new())
        } else {
            let mut h = Sha1::new();
            h.update(format!("blob {}\0", f.size).as_bytes());
            Hasher::GitSha1(h)
        }
    }
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(b),
            Hasher::GitSha1(h) => h.update(b),
        }
    }
    fn finish(self) -> String {
        match self {
            Hasher::Sha256(h) => hex(&h.finalize()),
            Hasher::GitSha1(h) => hex(&h.finalize()),
        }
    }
}

fn digest_file(path: &Path, f: &RemoteFile) -> Result<String> {
    let mut h = Hasher::new(f);
    let mut r = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finish())
}

/// Counts the bytes written through it (for progress) and refuses to exceed a limit (a server
/// sending more than the file's announced size).
struct Limited<'a> {
    inner: &'a mut std::fs::File,
    written: u64,
    limit: u64,
    progress: &'a indicatif::ProgressBar,
}

impl Write for Limited<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.written + b.len() as u64 > self.limit {
            return Err(std::io::Error::other(format!(
                "the server sent more than the {} bytes it announced",
                self.limit
            )));
        }
        let n = self.inner.write(b)?;
        self.written += n as u64;
        self.progress.inc(n as u64);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Makes `file` of `repo` at `commit` present in the cache under `root`; returns its snapshot
/// path. A blob already in the cache is reused when its content still matches the oid; a damaged
/// one is downloaded again.
pub fn fetch(
    root: &Path,
    hub: &dyn Hub,
    repo: &RepoId,
    commit: &str,
    file: &RemoteFile,
    retry: Retry,
    progress: &indicatif::ProgressBar,
) -> Result<PathBuf> {
    let repo_dir = root.join(repo.cache_folder());
    let blob = repo_dir.join("blobs").join(&file.oid);
    let snap = repo_dir.join("snapshots").join(commit).join(&file.path);
    std::fs::create_dir_all(repo_dir.join("blobs"))
        .map_err(|e| user(format!("cannot write the cache {}: {e}", root.display())))?;
    let mut have = std::fs::metadata(&blob).map(|m| m.len()).ok();
    // A cached blob is trusted only once its content matches the oid again: a disk error, an
    // interrupted copy or another program may have changed it since it was verified.
    if have == Some(file.size) {
        let got = digest_file(&blob, file)
            .with_context(|| format!("verifying the cached {}", blob.display()))?;
        if got != file.oid {
            eprintln!(
                "sn9: the cached {} of {repo} is damaged ({} {got}, expected {}); downloading it \
                 again",
                file.path,
                if file.lfs { "sha256" } else { "git blob id" },
                file.oid
            );
            std::fs::remove_file(&blob)
                .with_context(|| format!("removing the damaged {}", blob.display()))?;
            have = None;
        }
    }
    if have != Some(file.size) {
        let part = PathBuf::from(format!("{}.incomplete", blob.display()));
        retry.run(&format!("downloading {}", file.path), || {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&part)
                .with_context(|| format!("opening {}", part.display()))?;
            let offset = f.metadata()?.len();
            if offset > file.size {
                // Left over from another version of the file: start again.
                f.set_len(0)?;
                return Err(retryable("a stale partial download was discarded"));
            }
            if offset < file.size {
                progress.inc(offset);
                let mut w = Limited {
                    inner: &mut f,
                    written: offset,
                    limit: file.size,
                    progress,
                };
                let res = hub.read_from(repo, commit, file, offset, &mut w);
                let written = w.written;
                f.sync_all()?;
                if let Err(e) = res {
                    progress.dec(written);
                    return Err(e);
                }
                if written < file.size {
                    progress.dec(written);
                    return Err(retryable(format!(
                        "the transfer of {} stopped at {written} of {} bytes",
                        file.path, file.size
                    )));
                }
            }
            Ok(())
        })?;
        let got = digest_file(&part, file)?;
        if got != file.oid {
            let _ = std::fs::remove_file(&part);
            return Err(user(format!(
                "{repo}@{commit}: {} has {} {got}, the hub announced {}; the download was \
                 discarded (a lying or broken server)",
                file.path,
                if file.lfs { "sha256" } else { "git blob id" },
                file.oid
            )));
        }
        std::fs::rename(&part, &blob)?;
    } else {
        progress.inc(file.size);
    }
    if let Some(parent) = snap.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let depth = file.path.matches('/').count() + 2;
    let target = PathBuf::from("../".repeat(depth))
        .join("blobs")
        .join(&file.oid);
    let _ = std::fs::remove_file(&snap);
    #[cfg(unix)]
    std::os::unix::fs::symlink(&target, &snap)
        .with_context(|| format!("linking {}", snap.display()))?;
    #[cfg(not(unix))]
    std::fs::copy(&blob, &snap)?;
    Ok(snap)
}
