//! A hub in a directory (`SN9_HUB=file://DIR`): content-addressed objects, immutable commits,
//! one `main` branch per repository. Layout:
//!
//! ```text
//! DIR/models/<namespace>/<name>/objects/<oid>         file bytes, by HF oid (sha256 or git blob sha1)
//! DIR/models/<namespace>/<name>/commits/<sha>.json    {"parent", "message", "private", "files": [...]}
//! DIR/models/<namespace>/<name>/refs/main             the head commit
//! ```
//!
//! A commit's sha is the sha1 of its canonical JSON, so it names its content and parent.

use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use super::repo::{RepoId, commit_sha, hex, safe_path};
use super::store::{Hub, LocalFile, PushResult, RemoteFile, RepoInfo};
use crate::error::user;
use crate::output::write_atomic;

pub struct LocalHub {
    root: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct FileRec {
    path: String,
    size: u64,
    oid: String,
    lfs: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Commit {
    parent: Option<String>,
    message: String,
    private: bool,
    files: Vec<FileRec>,
}

impl LocalHub {
    pub fn new(root: PathBuf) -> Self {
        LocalHub { root }
    }

    fn repo_dir(&self, repo: &RepoId) -> PathBuf {
        self.root
            .join(repo.api_kind())
            .join(&repo.namespace)
            .join(&repo.name)
    }

    fn head(&self, repo: &RepoId) -> Result<Option<String>> {
        let path = self.repo_dir(repo).join("refs/main");
        match crate::output::read_text_if_exists(&path, crate::output::Limit::State)? {
            Some(s) => Ok(Some(commit_sha(s.trim())?)),
            None => Ok(None),
        }
    }

    fn commit(&self, repo: &RepoId, sha: &str) -> Result<Commit> {
        let p = self
            .repo_dir(repo)
            .join("commits")
            .join(format!("{sha}.json"));
        let text = crate::output::read_text_if_exists(&p, crate::output::Limit::State)?
            .ok_or_else(|| {
                user(format!(
                    "{repo} has no commit {sha} in the local hub {}",
                    self.root.display()
                ))
            })?;
        serde_json::from_str(&text).with_context(|| format!("{} is damaged", p.display()))
    }
}

impl Hub for LocalHub {
    fn location(&self) -> String {
        format!("file://{}", self.root.display())
    }

    fn info(&self, repo: &RepoId, revision: &str) -> Result<RepoInfo> {
        let sha = if revision == "main" {
            self.head(repo)?.ok_or_else(|| {
                user(format!(
                    "{repo} does not exist in the local hub {} (push it first)",
                    self.root.display()
                ))
            })?
        } else {
            commit_sha(revision)?
        };
        if !self.repo_dir(repo).exists() {
            return Err(user(format!(
                "{repo} does not exist in the local hub {}",
                self.root.display()
            )));
        }
        let c = self.commit(repo, &sha)?;
        RepoInfo {
            commit: sha,
            files: c
                .files
                .into_iter()
                .map(|f| RemoteFile {
                    path: f.path,
                    size: f.size,
                    oid: f.oid,
                    lfs: f.lfs,
                })
                .collect(),
        }
        .checked(&format!("the local hub {}", self.root.display()))
    }

    fn read_from(
        &self,
        repo: &RepoId,
        _commit: &str,
        file: &RemoteFile,
        offset: u64,
        out: &mut dyn Write,
    ) -> Result<u64> {
        let p = self.repo_dir(repo).join("objects").join(&file.oid);
        let mut f = std::fs::File::open(&p)
            .map_err(|e| user(format!("local hub object {} is missing: {e}", p.display())))?;
        f.seek(SeekFrom::Start(offset))?;
        Ok(std::io::copy(&mut f, out)?)
    }

    fn push(
        &self,
        repo: &RepoId,
        files: &[LocalFile],
        message: &str,
        private: bool,
    ) -> Result<PushResult> {
        let dir = self.repo_dir(repo);
        std::fs::create_dir_all(dir.join("objects"))
            .and_then(|_| std::fs::create_dir_all(dir.join("commits")))
            .and_then(|_| std::fs::create_dir_all(dir.join("refs")))
            .map_err(|e| {
                user(format!(
                    "cannot write the local hub {}: {e}",
                    self.root.display()
                ))
            })?;
        let parent = self.head(repo)?;
        let (mut uploaded, mut unchanged) = (Vec::new(), Vec::new());
        let mut recs = Vec::new();
        for f in files {
            safe_path(&f.path)?;
            let obj = dir.join("objects").join(f.oid());
            if obj.exists() {
                unchanged.push(f.path.clone());
            } else {
                let tmp = obj.with_extension("tmp");
                std::fs::copy(&f.abs, &tmp)
                    .with_context(|| format!("copying {} into the local hub", f.abs.display()))?;
                std::fs::File::open(&tmp)?.sync_all()?;
                std::fs::rename(&tmp, &obj)?;
                uploaded.push(f.path.clone());
            }
            recs.push(FileRec {
                path: f.path.clone(),
                size: f.size,
                oid: f.oid().to_string(),
                lfs: f.lfs,
            });
        }
        recs.sort_by(|a, b| a.path.cmp(&b.path));
        if let Some(p) = &parent
            && self.commit(repo, p)?.files == recs
        {
            return Ok(PushResult {
                commit: p.clone(),
                uploaded,
                unchanged,
                committed: false,
            });
        }
        let c = Commit {
            parent,
            message: message.to_string(),
            private,
            files: recs,
        };
        let bytes = serde_json::to_vec(&c)?;
        let sha = hex(&Sha1::digest(&bytes));
        write_atomic(&dir.join("commits").join(format!("{sha}.json")), &bytes)?;
        write_atomic(&dir.join("refs/main"), format!("{sha}\n").as_bytes())?;
        Ok(PushResult {
            commit: sha,
            uploaded,
            unchanged,
            committed: true,
        })
    }
}
