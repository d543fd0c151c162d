//! What sn9 needs of a model hub, served by the real Hub over HTTP ([`super::http`]) or by a
//! directory ([`super::local`], `file://DIR`), so the miner → validator flow also runs offline.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use super::repo::RepoId;
use crate::error::user;

/// A file of a repository at a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    pub path: String,
    pub size: u64,
    /// The HF cache etag: the sha256 of an LFS file, the git blob sha1 of a regular one.
    pub oid: String,
    pub lfs: bool,
}

/// A repository at a commit.
#[derive(Debug, Clone)]
pub struct RepoInfo {
    pub commit: String,
    pub files: Vec<RemoteFile>,
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `path` is a safe relative file path inside a snapshot: non-empty `/`-separated
/// components, none empty, `.` or `..`, no backslash, NUL or leading `/`.
pub fn is_safe_repo_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && !path.contains('\0')
        && path
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

impl RepoInfo {
    /// Checks every name a hub answered with before it becomes part of a local path (the
    /// cache's `snapshots/<commit>/<path>` and `blobs/<oid>`): the commit a 40-digit hex sha,
    /// each oid the hex digest its kind has (sha256 for LFS files, git's sha1 otherwise), each
    /// path relative and inside the snapshot, no path twice. A hub that answers otherwise is
    /// refused, never followed.
    pub fn checked(self, hub: &str) -> anyhow::Result<RepoInfo> {
        let bad = |m: String| crate::error::user(format!("{hub}: {m}; refusing this answer"));
        if !is_hex(&self.commit, 40) {
            return Err(bad(format!(
                "the commit {:?} is not a 40-digit hex sha",
                self.commit
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        for f in &self.files {
            if !is_safe_repo_path(&f.path) {
                return Err(bad(format!(
                    "file name {:?} is not a relative path inside the repository",
                    f.path
                )));
            }
            let want = if f.lfs { 64 } else { 40 };
            if !is_hex(&f.oid, want) {
                return Err(bad(format!(
                    "{}: oid {:?} is not a {want}-digit hex digest",
                    f.path, f.oid
                )));
            }
            if !seen.insert(f.path.as_str()) {
                return Err(bad(format!("{} is listed twice", f.path)));
            }
        }
        Ok(self)
    }
}

/// A file to push.
#[derive(Debug, Clone)]
pub struct LocalFile {
    pub path: String,
    pub abs: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub blob_id: String,
    pub lfs: bool,
}

impl LocalFile {
    /// The oid the hub knows this file by (see [`RemoteFile::oid`]).
    pub fn oid(&self) -> &str {
        if self.lfs {
            &self.sha256
        } else {
            &self.blob_id
        }
    }
}

/// What a push did.
#[derive(Debug, Clone)]
pub struct PushResult {
    pub commit: String,
    /// Files whose bytes were sent.
    pub uploaded: Vec<String>,
    /// Files the hub already held with the same content.
    pub unchanged: Vec<String>,
    /// Whether a new commit was made (not when nothing changed).
    pub committed: bool,
}

/// A hub.
pub trait Hub {
    /// Where it is (for messages).
    fn location(&self) -> String;
    /// The repository at `revision` (a commit sha or a branch) with its files.
    fn info(&self, repo: &RepoId, revision: &str) -> Result<RepoInfo>;
    /// Writes the bytes of `file` at `commit`, from `offset` to the end, into `out`; returns the
    /// bytes written. An interrupted transfer is a [`Retryable`] error (the caller resumes).
    fn read_from(
        &self,
        repo: &RepoId,
        commit: &str,
        file: &RemoteFile,
        offset: u64,
        out: &mut dyn Write,
    ) -> Result<u64>;
    /// Commits `files` (the whole model) to the main branch, creating the repository if needed.
    fn push(
        &self,
        repo: &RepoId,
        files: &[LocalFile],
        message: &str,
        private: bool,
    ) -> Result<PushResult>;
}

pub use crate::retry::{Retry, Retryable, retryable};

/// Opens the hub at `spec`: `file://DIR` (a local hub) or an `http(s)://` endpoint.
pub fn open(spec: &str, token: Option<String>, retry: Retry) -> Result<Box<dyn Hub>> {
    if let Some(dir) = spec.strip_prefix("file://") {
        if dir.is_empty() {
            return Err(user(
                "SN9_HUB=file:// needs a directory, e.g. file:///srv/hub",
            ));
        }
        Ok(Box::new(super::local::LocalHub::new(PathBuf::from(dir))))
    } else if spec.starts_with("http://") || spec.starts_with("https://") {
        Ok(Box::new(super::http::HttpHub::new(spec, token, retry)))
    } else {
        Err(user(format!(
            "hub `{spec}`: use file://DIR for a local hub or an http(s):// endpoint such as https://huggingface.co"
        )))
    }
}
