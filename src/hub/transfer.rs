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
    // A TTS model (E2TTS) is fetched whole, as the validator's `snapshot_download` does; a text
    // model only as far as `from_pretrained` reads it.
    let whole = match info.files.iter().find(|f| f.path == "config.json") {
        Some(c) => is_tts_config(&fetch(c)?)?,
        None => false,
    };
    let files = if let Some(v) = vocoder_files(&info.files) {
        v
    } else if whole {
        let mut all = info.files.clone();
        all.sort_by(|a, b| walk_cmp(&a.path, &b.path));
        all
    } else {
        model_files(&info.files, |ix| {
            let p = fetch(ix)?;
            let v: serde_json::Value = serde_json::from_str(&crate::output::read_text(
                &p,
                crate::output::Limit::ModelJson,
            )?)
            .map_err(|e| user(format!("{}: malformed index: {e}", ix.path)))?;
            Ok(v["weight_map"]
                .as_object()
                .ok_or_else(|| user("model.safetensors.index.json has no weight_map"))?
                .values()
                .filter_map(|s| s.as_str().map(String::from))
                .collect())
        })?
    };
    bar.set_length(files.iter().map(|f| f.size).sum());
    for f in &files {
        fetch(f)?;
    }
    bar.finish_and_clear();
    let dir = cache::snapshot_dir(cache_root, repo, commit);
    let mut rels: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    rels.sort_by(|a, b| walk_cmp(a, b));
    let rels: Vec<PathBuf> = rels.into_iter().map(PathBuf::from).collect();
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

/// The files `Vocos.from_pretrained` reads of a vocoder repository (`config.yaml` and
/// `pytorch_model.bin`; `model.safetensors` where a mirror has only that), or None when the
/// repository is not a vocoder (it has a config.json, or no config.yaml).
pub fn vocoder_files(all: &[RemoteFile]) -> Option<Vec<RemoteFile>> {
    let find = |p: &str| all.iter().find(|f| f.path == p).cloned();
    if find("config.json").is_some() {
        return None;
    }
    let cfg = find("config.yaml")?;
    let weights = find("pytorch_model.bin").or_else(|| find("model.safetensors"))?;
    Some(vec![cfg, weights])
}

/// True when a downloaded `config.json` names the E2TTS architecture (a TTS model, which
/// validators download and hash whole).
pub fn is_tts_config(path: &Path) -> Result<bool> {
    let text = crate::output::read_text(path, crate::output::Limit::ModelJson)?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        user(format!(
            "{}: config.json is not valid JSON ({e})",
            path.display()
        ))
    })?;
    Ok(crate::tts::is_e2tts(&v))
}

/// `os.walk` order of two relative paths (`/`-separated): at the first differing level, a
/// directory's files (by name bytes) come before its subdirectories (by name bytes).
pub fn walk_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (ca, cb): (Vec<&str>, Vec<&str>) = (a.split('/').collect(), b.split('/').collect());
    for i in 0..ca.len().min(cb.len()) {
        if ca[i] == cb[i] {
            continue;
        }
        let (fa, fb) = (i + 1 == ca.len(), i + 1 == cb.len());
        return match (fa, fb) {
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            _ => ca[i].as_bytes().cmp(cb[i].as_bytes()),
        };
    }
    ca.len().cmp(&cb.len())
}

/// A symlink may be pushed only when it resolves inside the directory, or into the blob store
/// of the same Hugging Face cache repository (a `snapshots/<commit>` directory, as `sn9 hub
/// pull` leaves it); anything else (a link to a key file) is refused, never uploaded.
fn check_link(root: &Path, link: &Path) -> Result<()> {
    let target = std::fs::canonicalize(link)
        .map_err(|e| user(format!("{}: a dangling link ({e})", link.display())))?;
    let inside = target.starts_with(root);
    let cache_repo = root
        .parent()
        .filter(|p| p.ends_with("snapshots"))
        .and_then(|p| p.parent());
    let in_blobs = cache_repo.is_some_and(|r| target.starts_with(r.join("blobs")));
    if inside || in_blobs {
        Ok(())
    } else {
        Err(user(format!(
            "{} links outside the model directory (to {}); push sends only files inside it: copy the file in",
            link.display(),
            target.display()
        )))
    }
}

/// The model files of a local directory, ready to push (sorted by name, hashed). A TTS model
/// (config.json names E2TTS) is pushed whole: every regular file of the directory, since
/// validators download and hash its whole snapshot.
pub fn local_files(dir: &Path) -> Result<(Vec<LocalFile>, Vec<String>)> {
    let tts = dir.join("config.json").is_file() && is_tts_config(&dir.join("config.json"))?;
    // A Vocos vocoder directory (config.yaml + weights, no config.json), e.g. a mirror of
    // charactr/vocos-mel-24khz for an offline validator.
    let vocoder = !dir.join("config.json").exists() && dir.join("config.yaml").is_file();
    let wanted = |name: &str| {
        if vocoder {
            matches!(
                name,
                "config.yaml" | "pytorch_model.bin" | "model.safetensors"
            )
        } else {
            tts || is_model_file(name)
        }
    };
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| {
        user(format!(
            "cannot read model directory {}: {e}",
            dir.display()
        ))
    })?;
    let root = std::fs::canonicalize(dir)?;
    for e in rd {
        let e = e?;
        // A name that is not UTF-8 cannot be a file on the Hub (nor one a validator loads).
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            skipped.push(e.file_name().to_string_lossy().into_owned());
            continue;
        };
        if e.file_type()?.is_symlink() && wanted(&name) {
            check_link(&root, &e.path())?;
        }
        if !std::fs::metadata(e.path())?.is_file() || !wanted(&name) {
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
        let lfs = name.ends_with(".safetensors") || name.ends_with(".bin") || size > 10 << 20;
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
    if vocoder {
        if !files.iter().any(|f| f.path != "config.yaml") {
            return Err(user(format!(
                "{} has config.yaml but no pytorch_model.bin or model.safetensors",
                dir.display()
            )));
        }
        return Ok((files, skipped));
    }
    if tts && !files.iter().any(|f| f.path == "vocab.txt") {
        return Err(user(format!(
            "{} is an E2TTS model without vocab.txt; validators cannot load it",
            dir.display()
        )));
    }
    if !files.iter().any(|f| f.path == "config.json")
        || !files.iter().any(|f| f.path.ends_with(".safetensors"))
    {
        return Err(user(format!(
            "{} needs config.json and safetensors weights to be a model (`sn9 train` and \
             `sn9 model convert` write both)",
            dir.display()
        )));
    }
    // The weights as the validator will open them (headers, offsets, format metadata): a
    // truncated or damaged file is refused here, not scored inf after the commitment.
    if tts {
        crate::model::safetensors::SafeFile::open(&dir.join("model.safetensors"))?;
    } else {
        crate::model::safetensors::WeightFiles::open(dir)?;
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
    let tts = dir.join("config.json").is_file() && is_tts_config(&dir.join("config.json"))?;
    let h = if tts {
        // Validators hash the whole snapshot, including files the hub added (.gitattributes)
        // or kept from earlier commits: hash what the repository holds at the new commit.
        let info = hub.info(repo, &r.commit)?;
        let mut entries = Vec::new();
        for f in &info.files {
            let digest = match files.iter().find(|l| l.path == f.path) {
                Some(l) => super::hash::hash_file(&l.abs)?,
                None => {
                    let mut buf = Vec::new();
                    hub.read_from(repo, &r.commit, f, 0, &mut buf)?;
                    super::hash::hash_bytes(&buf)
                }
            };
            entries.push((f.path.clone(), digest));
        }
        entries.sort_by(|a, b| walk_cmp(&a.0, &b.0));
        super::hash::combine(entries)
    } else {
        let rels: Vec<PathBuf> = files.iter().map(|f| PathBuf::from(&f.path)).collect();
        hash_files(dir, &rels)?
    };
    let secure = hotkey.map(|k| secure_hash(&h.directory_hash, k));
    Ok((r, h, secure))
}
