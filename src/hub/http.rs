//! The Hugging Face Hub over HTTP (the real Hub, a mirror, or the test suite's fake): model info
//! with file metadata, resumable ranged downloads, and uploads through the commit API with Git LFS
//! (preupload → LFS batch → PUT, basic or multipart → verify → NDJSON commit).

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine;
use serde_json::{Value, json};

use super::repo::{RepoId, is_model_file};
use super::store::{Hub, LocalFile, PushResult, RemoteFile, RepoInfo, Retry, retryable};
use crate::error::user;

pub struct HttpHub {
    endpoint: String,
    token: Option<String>,
    agent: ureq::Agent,
    retry: Retry,
}

type Resp = ureq::http::Response<ureq::Body>;

impl HttpHub {
    pub fn new(endpoint: &str, token: Option<String>, retry: Retry) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_recv_body(Some(Duration::from_secs(120)))
            .http_status_as_error(false)
            .build()
            .into();
        HttpHub {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token,
            agent,
            retry,
        }
    }

    fn auth<B>(&self, req: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => req.header("Authorization", format!("Bearer {t}")),
            None => req,
        }
    }

    /// Maps an HTTP status to an error: 5xx/429 retryable, 401/403 token advice, others fatal.
    fn check(&self, what: &str, mut resp: Resp) -> Result<Resp> {
        let status = resp.status().as_u16();
        if status < 400 {
            return Ok(resp);
        }
        let body: String = resp
            .body_mut()
            .read_to_string()
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        let msg = format!("{what}: HTTP {status}: {body}");
        Err(match status {
            429 | 500..=599 => retryable(msg),
            401 | 403 => user(format!(
                "{msg}\nthe hub refused the token: set HF_TOKEN to a valid token with {} access \
                 (an expired or missing token gives this error)",
                if what.starts_with("GET") {
                    "read"
                } else {
                    "write"
                }
            )),
            _ => user(msg),
        })
    }

    fn call(&self, what: &str, f: impl Fn() -> Result<Resp, ureq::Error>) -> Result<Resp> {
        let resp = f().map_err(|e| retryable(format!("{what}: {e}")))?;
        self.check(what, resp)
    }

    fn json(&self, what: &str, f: impl Fn() -> Result<Resp, ureq::Error>) -> Result<Value> {
        self.retry.run(what, || {
            let mut r = self.call(what, &f)?;
            let text = r
                .body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_string()
                .map_err(|e| retryable(format!("{what}: reading the answer: {e}")))?;
            serde_json::from_str(&text).map_err(|e| {
                user(format!(
                    "{what}: the hub's answer is not JSON ({e}): {}",
                    &text[..text.len().min(200)]
                ))
            })
        })
    }
}

fn enc(p: &str) -> String {
    p.split('/')
        .map(|s| {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Parses `GET /api/{models,datasets}/{repo}/revision/{rev}?blobs=true`.
pub fn parse_info(v: &Value) -> Result<RepoInfo> {
    let commit = v["sha"]
        .as_str()
        .ok_or_else(|| user("the hub's model info has no `sha`"))?
        .to_string();
    let mut files = Vec::new();
    for s in v["siblings"].as_array().into_iter().flatten() {
        let path = s["rfilename"]
            .as_str()
            .ok_or_else(|| user("a sibling without `rfilename` in the hub's model info"))?;
        let f = if let Some(l) = s.get("lfs").filter(|l| !l.is_null()) {
            RemoteFile {
                path: path.into(),
                size: l["size"].as_u64().or(s["size"].as_u64()).unwrap_or(0),
                oid: l["sha256"]
                    .as_str()
                    .or(l["oid"].as_str())
                    .ok_or_else(|| user(format!("{path}: LFS metadata without sha256")))?
                    .to_string(),
                lfs: true,
            }
        } else {
            RemoteFile {
                path: path.into(),
                size: s["size"]
                    .as_u64()
                    .ok_or_else(|| user(format!("{path}: no size in the hub's model info")))?,
                oid: s["blobId"]
                    .as_str()
                    .ok_or_else(|| user(format!("{path}: no blobId in the hub's model info")))?
                    .to_string(),
                lfs: false,
            }
        };
        files.push(f);
    }
    RepoInfo { commit, files }.checked("the hub's model info")
}

impl Hub for HttpHub {
    fn location(&self) -> String {
        self.endpoint.clone()
    }

    fn info(&self, repo: &RepoId, revision: &str) -> Result<RepoInfo> {
        let url = format!(
            "{}/api/{}/{repo}/revision/{}?blobs=true",
            self.endpoint,
            repo.api_kind(),
            enc(revision)
        );
        let v = self.json(&format!("GET {url}"), || {
            self.auth(self.agent.get(&url)).call()
        })?;
        parse_info(&v)
    }

    fn read_from(
        &self,
        repo: &RepoId,
        commit: &str,
        file: &RemoteFile,
        offset: u64,
        out: &mut dyn Write,
    ) -> Result<u64> {
        let url = format!(
            "{}/{}{repo}/resolve/{commit}/{}",
            self.endpoint,
            repo.resolve_prefix(),
            enc(&file.path)
        );
        let what = format!("GET {url}");
        let mut req = self.auth(self.agent.get(&url));
        if offset > 0 {
            req = req.header("Range", format!("bytes={offset}-"));
        }
        let resp = req.call().map_err(|e| retryable(format!("{what}: {e}")))?;
        let mut resp = self.check(&what, resp)?;
        let ranged = resp.status().as_u16() == 206;
        let mut r = resp.body_mut().with_config().limit(file.size + 1).reader();
        if offset > 0 && !ranged {
            // The server ignored the range: skip what we already have.
            std::io::copy(&mut (&mut r).take(offset), &mut std::io::sink())
                .map_err(|e| retryable(format!("{what}: {e}")))?;
        }
        std::io::copy(&mut r, out).map_err(|e| {
            if e.kind() == std::io::ErrorKind::Other && e.to_string().contains("announced") {
                user(format!("{what}: {e}"))
            } else {
                retryable(format!("{what}: the transfer broke: {e}"))
            }
        })
    }

    fn push(
        &self,
        repo: &RepoId,
        files: &[LocalFile],
        message: &str,
        private: bool,
    ) -> Result<PushResult> {
        let e = &self.endpoint;
        // 1. Create the repository (409: it exists).
        let url = format!("{e}/api/repos/create");
        let body = json!({"name": repo.name, "organization": repo.namespace, "type": &repo.api_kind()[..repo.api_kind().len() - 1], "private": private});
        self.retry.run(&format!("POST {url}"), || {
            let r = self
                .auth(self.agent.post(&url))
                .header("Content-Type", "application/json")
                .send(body.to_string().as_bytes())
                .map_err(|err| retryable(format!("POST {url}: {err}")))?;
            if r.status().as_u16() == 409 {
                return Ok(());
            }
            self.check(&format!("POST {url}"), r).map(|_| ())
        })?;
        // What the branch holds now (for unchanged files and deletions); none yet on a new
        // repository (404). Anything else (a refused token, an outage) stops the push here.
        let head = match self.info(repo, "main") {
            Ok(h) => Some(h),
            Err(e) if format!("{e:#}").contains("HTTP 404") => None,
            Err(e) => return Err(e),
        };
        // 2. Preupload: upload mode and remote oid per file.
        let url = format!("{e}/api/{}/{repo}/preupload/main", repo.api_kind());
        let mut entries = Vec::new();
        for f in files {
            let mut sample = vec![0u8; 512.min(f.size as usize)];
            std::fs::File::open(&f.abs)?.read_exact(&mut sample)?;
            entries.push(json!({"path": f.path, "size": f.size,
                "sample": base64::engine::general_purpose::STANDARD.encode(&sample)}));
        }
        let pre = self.json(&format!("POST {url}"), || {
            self.auth(self.agent.post(&url))
                .header("Content-Type", "application/json")
                .send((json!({"files": entries})).to_string().as_bytes())
        })?;
        let mut lfs_mode = std::collections::BTreeMap::new();
        for p in pre["files"].as_array().into_iter().flatten() {
            if let Some(path) = p["path"].as_str() {
                lfs_mode.insert(path.to_string(), p["uploadMode"] == "lfs");
            }
        }
        let (mut uploaded, mut unchanged) = (Vec::new(), Vec::new());
        let mut changed: Vec<(LocalFile, bool)> = Vec::new();
        for f in files {
            let lfs = lfs_mode.get(&f.path).copied().unwrap_or(f.lfs);
            let f = LocalFile { lfs, ..f.clone() };
            let same = head.as_ref().is_some_and(|h| {
                h.files
                    .iter()
                    .any(|r| r.path == f.path && r.oid == f.oid() && r.size == f.size)
            });
            if same {
                unchanged.push(f.path.clone());
            } else {
                changed.push((f, lfs));
            }
        }
        let deleted: Vec<String> = head
            .as_ref()
            .map(|h| {
                h.files
                    .iter()
                    .filter(|r| is_model_file(&r.path) && !files.iter().any(|f| f.path == r.path))
                    .map(|r| r.path.clone())
                    .collect()
            })
            .unwrap_or_default();
        if changed.is_empty()
            && deleted.is_empty()
            && let Some(h) = head
        {
            return Ok(PushResult {
                commit: h.commit,
                uploaded,
                unchanged,
                committed: false,
            });
        }
        // 3. LFS batch + transfer for the LFS files.
        let lfs: Vec<&LocalFile> = changed.iter().filter(|(_, l)| *l).map(|(f, _)| f).collect();
        if !lfs.is_empty() {
            let url = format!(
                "{e}/{}{repo}.git/info/lfs/objects/batch",
                repo.resolve_prefix()
            );
            let objects: Vec<Value> = lfs
                .iter()
                .map(|f| json!({"oid": f.sha256, "size": f.size}))
                .collect();
            let body = json!({"operation": "upload", "transfers": ["basic", "multipart"],
                "objects": objects, "hash_algo": "sha256", "ref": {"name": "main"}});
            let batch = self.json(&format!("POST {url}"), || {
                self.auth(self.agent.post(&url))
                    .header("Accept", "application/vnd.git-lfs+json")
                    .header("Content-Type", "application/vnd.git-lfs+json")
                    .send(body.to_string().as_bytes())
            })?;
            let transfer = batch["transfer"].as_str().unwrap_or("basic").to_string();
            if transfer == "xet" {
                return Err(user(format!(
                    "{e} asked for a Xet upload, which sn9 does not speak; it offers Git LFS \
                     (basic, multipart), which the Hub accepts from non-Xet clients"
                )));
            }
            for o in batch["objects"].as_array().into_iter().flatten() {
                let oid = o["oid"].as_str().unwrap_or_default();
                let f = lfs
                    .iter()
                    .find(|f| f.sha256 == oid)
                    .ok_or_else(|| user(format!("LFS batch answered an unknown object {oid}")))?;
                if let Some(err) = o.get("error") {
                    return Err(user(format!("LFS batch refused {}: {err}", f.path)));
                }
                let Some(up) = o["actions"].get("upload") else {
                    continue; // already stored
                };
                if transfer == "multipart" {
                    self.put_multipart(f, up)?;
                } else {
                    self.put_basic(f, up)?;
                }
                if let Some(v) = o["actions"].get("verify") {
                    let href = v["href"].as_str().unwrap_or_default().to_string();
                    let what = format!("POST {href} (verify {})", f.path);
                    self.json(&what, || {
                        let mut r = self.auth(self.agent.post(&href));
                        for (k, val) in v["header"].as_object().into_iter().flatten() {
                            r = r.header(k.as_str(), val.as_str().unwrap_or_default());
                        }
                        r.header("Content-Type", "application/json").send(
                            (json!({"oid": f.sha256, "size": f.size}))
                                .to_string()
                                .as_bytes(),
                        )
                    })?;
                }
                uploaded.push(f.path.clone());
            }
        }
        // 4. The commit.
        let mut nd = String::new();
        nd +=
            &json!({"key": "header", "value": {"summary": message, "description": ""}}).to_string();
        nd.push('\n');
        for (f, is_lfs) in &changed {
            let line = if *is_lfs {
                json!({"key": "lfsFile", "value": {"path": f.path, "algo": "sha256", "oid": f.sha256, "size": f.size}})
            } else {
                let bytes = std::fs::read(&f.abs)?;
                if !uploaded.contains(&f.path) {
                    uploaded.push(f.path.clone());
                }
                json!({"key": "file", "value": {"path": f.path, "encoding": "base64",
                    "content": base64::engine::general_purpose::STANDARD.encode(bytes)}})
            };
            nd += &line.to_string();
            nd.push('\n');
        }
        for d in &deleted {
            nd += &json!({"key": "deletedFile", "value": {"path": d}}).to_string();
            nd.push('\n');
        }
        let url = format!("{e}/api/{}/{repo}/commit/main", repo.api_kind());
        let c = self.json(&format!("POST {url}"), || {
            self.auth(self.agent.post(&url))
                .header("Content-Type", "application/x-ndjson")
                .send(nd.as_bytes())
        })?;
        let commit = c["commitOid"]
            .as_str()
            .ok_or_else(|| user(format!("the hub's commit answer has no commitOid: {c}")))?
            .to_string();
        Ok(PushResult {
            commit,
            uploaded,
            unchanged,
            committed: true,
        })
    }
}

impl HttpHub {
    fn put_basic(&self, f: &LocalFile, up: &Value) -> Result<()> {
        let href = up["href"].as_str().unwrap_or_default().to_string();
        let what = format!("PUT {} ({})", href, f.path);
        self.retry.run(&what, || {
            let mut file = std::fs::File::open(&f.abs)?;
            let mut r = self
                .agent
                .put(&href)
                .header("Content-Length", f.size.to_string());
            for (k, v) in up["header"].as_object().into_iter().flatten() {
                r = r.header(k.as_str(), v.as_str().unwrap_or_default());
            }
            let resp = r
                .send(ureq::SendBody::from_reader(&mut file))
                .map_err(|e| retryable(format!("{what}: {e}")))?;
            self.check(&what, resp).map(|_| ())
        })
    }

    fn put_multipart(&self, f: &LocalFile, up: &Value) -> Result<()> {
        let h = &up["header"];
        let chunk: u64 = h["chunk_size"]
            .as_u64()
            .or_else(|| h["chunk_size"].as_str().and_then(|s| s.parse().ok()))
            .filter(|&c| c > 0)
            .ok_or_else(|| user(format!("{}: multipart upload without chunk_size", f.path)))?;
        let mut parts: Vec<(u64, String)> = h
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.parse::<u64>().ok()?, v.as_str()?.to_string())))
            .collect();
        parts.sort();
        let mut etags = Vec::new();
        for (n, url) in &parts {
            let start = (n - 1) * chunk;
            let len = chunk.min(f.size.saturating_sub(start));
            let what = format!("PUT part {n} of {}", f.path);
            let etag = self.retry.run(&what, || {
                let mut file = std::fs::File::open(&f.abs)?;
                file.seek(SeekFrom::Start(start))?;
                let mut part = (&mut file).take(len);
                let resp = self
                    .agent
                    .put(url)
                    .header("Content-Length", len.to_string())
                    .send(ureq::SendBody::from_reader(&mut part))
                    .map_err(|e| retryable(format!("{what}: {e}")))?;
                let resp = self.check(&what, resp)?;
                resp.headers()
                    .get("etag")
                    .and_then(|v| v.to_str().ok())
                    .map(|s| s.to_string())
                    .context("a multipart part answer without an ETag")
            })?;
            etags.push(json!({"partNumber": n, "etag": etag}));
        }
        let href = up["href"].as_str().unwrap_or_default().to_string();
        self.json(&format!("POST {href} (complete {})", f.path), || {
            self.agent
                .post(&href)
                .header("Content-Type", "application/json")
                .send(
                    (json!({"oid": f.sha256, "parts": etags}))
                        .to_string()
                        .as_bytes(),
                )
        })?;
        Ok(())
    }
}
