//! `pull` and `push` of model directories, on any [`Hub`].

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::cache;
use super::hash::{DirectoryHash, hash_files, secure_hash};
use super::repo::{RepoId, git_blob_sha1, is_model_file, safe_path, sha256_file};
use super::store::{Hub, LocalFile, PushResult, RemoteFile, Retry};
use crate::error::user;

/// A pulled model.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub commit: String,
    /// The snapshot directory in the HF cache.
    pub dir: PathBuf,
    pub files: Vec<String>,
    pub bytes: u64,
    /// Sum of the sizes of all files of the repository at the commit (what the size limit bounds).
    pub repo_bytes: u64,
    pub hash: DirectoryHash,
}

/// Which files of `all` a validator downloads: config, generation config, tokenizer files, and
/// the weights (the index and the shards it names, or `model.safetensors`). `index` reads the
/// index file once it is present.
pub fn model_files(
    all: &[RemoteFile],
    index: impl FnOnce(&RemoteFile) -> Result<Vec<String>>,
) -> Result<Vec<RemoteFile>> {
    let find = |p: &str| all.iter().find(|f| f.path == p).cloned();
    let mut out: Vec<RemoteFile> = [
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ]
    .iter()
    .filter_map(|p| find(p))
    .collect();
    if !out.iter().any(|f| f.path == "config.json") {
        return Err(user("the repository has no config.json; it is not a model"));
    }
    // transformers prefers a single model.safetensors over an index.
    if let Some(m) = find("model.safetensors") {
        out.push(m);
    } else if let Some(ix) = find("model.safetensors.index.json") {
        let mut shards = index(&ix)?;
        shards.sort();
        shards.dedup();
        out.push(ix);
        for s in shards {
            safe_path(&s)?;
            out.push(find(&s).ok_or_else(|| {
                user(format!(
                    "the index names {s}, which the repository does not hold"
                ))
            })?);
        }
    } else {
        return Err(user(
            "the repository holds no safetensors weights (model.safetensors or an index); \
             pickled weights are never loaded",
        ));
    }
    out.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    Ok(out)
}

/// Downloads the model files of `repo` at `commit` into the HF cache under `cache_root`,
/// checking the repository's total size against `max_bytes` first, and hashes the snapshot.
pub fn pull(
    hub: &dyn Hub,
    repo: &RepoId,
    commit: &str,
    cache_root: &Path,
    max_bytes: Option<u64>,
    retry: Retry,
    progress: bool,
) -> Result<Pulled> {
    let info = hub.info(repo, commit)?;
    if info.commit != commit {
        return Err(user(format!(
            "{} answered commit {} for {repo}@{commit}; refusing a hub that does not pin revisions",
            hub.location(),
            info.commit
        )));
    }
    for f in &info.files {
        safe_path(&f.path).map_err(|e| {
            user(format!(
                "{repo}@{commit} lists an unsafe file: {e:#}; nothing was downloaded"
            ))
        })?;
    }
    let repo_bytes: u64 = info.files.iter().map(|f| f.size).sum();
    if let Some(max) = max_bytes
        && repo_bytes > max
    {
        return Err(user(format!(
            "{repo}@{commit} holds {repo_bytes} bytes, over the competition's {max}-byte limit; \
             nothing was downloaded"
        )));
    }
    let bar = if progress {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let fetch = |f: &RemoteFile| {
        bar.set_message(f.path.clone());
        cache::fetch(cache_root, hub, repo, commit, f, retry, &bar)
    };
    let files = model_files(&info.files, |ix| {
        let p = fetch(ix)?;
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p)?)
            .map_err(|e| user(format!("{}: malformed index: {e}", ix.path)))?;
        Ok(v["weight_map"]
            .as_object()
            .ok_or_else(|| user("model.safetensors.index.json has no weight_map"))?
            .values()
            .filter_map(|s| s.as_str().map(String::from))
            .collect())
    })?;
    bar.set_length(files.iter().map(|f| f.size).sum());
    for f in &files {
        fetch(f)?;
    }
    bar.finish_and_clear();
    let dir = cache::snapshot_dir(cache_root, repo, commit);
    let rels: Vec<PathBuf> = files.iter().map(|f| PathBuf::from(&f.path)).collect();
    let hash = hash_files(&dir, &rels)?;
    Ok(Pulled {
        commit: commit.to_string(),
        dir,
        bytes: files.iter().map(|f| f.size).sum(),
        files: files.into_iter().map(|f| f.path).collect(),
        repo_bytes,
        hash,
    })
}

/// The model files of a local directory, ready to push (sorted by name, hashed).
pub fn local_files(dir: &Path) -> Result<(Vec<LocalFile>, Vec<String>)> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| {
        user(format!(
            "cannot read model directory {}: {e}",
            dir.display()
        ))
    })?;
    for e in rd {
        let e = e?;
        let name = e.file_name().to_string_lossy().to_string();
        if !std::fs::metadata(e.path())?.is_file() || !is_model_file(&name) {
            skipped.push(name);
            continue;
        }
        let (sha256, size) = sha256_file(&e.path())?;
        let blob_id = if size <= 10 << 20 {
            git_blob_sha1(&std::fs::read(e.path())?)
        } else {
            String::new()
        };
        // LFS: weights, and anything over 10 MB (the Hub's rule for text).
        let lfs = name.ends_with(".safetensors") || size > 10 << 20;
        files.push(LocalFile {
            path: name,
            abs: e.path(),
            size,
            sha256,
            blob_id,
            lfs,
        });
    }
    files.sort_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    skipped.sort();
    if !files.iter().any(|f| f.path == "config.json")
        || !files.iter().any(|f| f.path.ends_with(".safetensors"))
    {
        return Err(user(format!(
            "{} needs config.json and safetensors weights to be a model (`sn9 train` and \
             `sn9 model convert` write both)",
            dir.display()
        )));
    }
    Ok((files, skipped))
}

/// Pushes `files`, returning the hub's answer and the directory hash validators will compute
/// (the hash of exactly these files).
pub fn push(
    hub: &dyn Hub,
    repo: &RepoId,
    dir: &Path,
    files: &[LocalFile],
    message: &str,
    private: bool,
    hotkey: Option<&str>,
) -> Result<(PushResult, DirectoryHash, Option<String>)> {
    let r = hub.push(repo, files, message, private)?;
    let rels: Vec<PathBuf> = files.iter().map(|f| PathBuf::from(&f.path)).collect();
    let h = hash_files(dir, &rels)?;
    let secure = hotkey.map(|k| secure_hash(&h.directory_hash, k));
    Ok((r, h, secure))
}
