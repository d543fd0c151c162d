//! A loopback fake of the Hugging Face Hub's HTTP API, enough for sn9 and the Python
//! `huggingface_hub` client (`HF_HUB_DISABLE_XET=1`): repo creation, model info with file
//! metadata at a revision, resolve (HEAD/GET, byte ranges), preupload, Git LFS batch (basic or
//! multipart) with verify, and the NDJSON commit. State is in memory; faults are switchable.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// How the fake Hub misbehaves.
#[derive(Clone, Default, Debug)]
pub struct HubFaults {
    /// Requests must carry `Authorization: Bearer <token>` (401 otherwise).
    pub token: Option<String>,
    /// Answer this many next requests with 503.
    pub fail_next: u32,
    /// Cut the first download of each LFS file after this many bytes.
    pub cut_after: Option<usize>,
    /// Offer multipart LFS uploads with this chunk size.
    pub multipart_chunk: Option<usize>,
    /// Announce a wrong sha256 for LFS files in the model info.
    pub lie_oid: bool,
    /// Announce sizes 1000 bytes larger than the truth.
    pub lie_size: bool,
    /// Ignore Range headers (answer 200 with the whole file).
    pub ignore_range: bool,
    /// Announce LFS oids that climb out of the cache (`../../…`).
    pub escape_oid: bool,
    /// Announce file names that climb out of the snapshot (`../../…`).
    pub escape_path: bool,
}

#[derive(Clone)]
struct FileObj {
    size: u64,
    lfs: bool,
    oid: String,
}

#[derive(Default)]
struct Repo {
    private: bool,
    commits: Vec<(String, BTreeMap<String, FileObj>)>,
}

impl Repo {
    /// The commit a revision names (`main` or a sha).
    fn at(&self, rev: &str) -> Option<(String, BTreeMap<String, FileObj>)> {
        if rev == "main" {
            self.commits.last().cloned()
        } else {
            self.commits.iter().find(|c| c.0 == rev).cloned()
        }
    }
}

#[derive(Default)]
struct State {
    repos: HashMap<String, Repo>,
    blobs: HashMap<String, Vec<u8>>,
    parts: HashMap<String, BTreeMap<u64, Vec<u8>>>,
    cut_done: std::collections::HashSet<String>,
    log: Vec<String>,
    faults: HubFaults,
    counter: u64,
}

pub struct FakeHub {
    pub url: String,
    state: Arc<Mutex<State>>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn git_sha1(b: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", b.len()).as_bytes());
    h.update(b);
    hex(&h.finalize())
}

fn sha256(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

struct Req {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, k: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

fn read_req(s: &TcpStream) -> Option<Req> {
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut it = line.split_whitespace();
    let method = it.next()?.to_string();
    let target = it.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? <= 2 {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let get = |k: &str| {
        headers
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if let Some(n) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        r.read_exact(&mut body).ok()?;
    } else if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut sz = String::new();
            r.read_line(&mut sz).ok()?;
            let n = usize::from_str_radix(sz.trim(), 16).ok()?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    Some(Req {
        method,
        path,
        query,
        headers,
        body,
    })
}

fn send(mut s: TcpStream, status: u16, headers: &[(&str, String)], body: &[u8], head: bool) {
    let reason = match status {
        200 => "OK",
        206 => "Partial Content",
        401 => "Unauthorized",
        404 => "Not Found",
        409 => "Conflict",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut out = format!("HTTP/1.1 {status} {reason}\r\nConnection: close\r\n");
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        out += &format!("Content-Length: {}\r\n", body.len());
    }
    for (k, v) in headers {
        out += &format!("{k}: {v}\r\n");
    }
    out += "\r\n";
    let _ = s.write_all(out.as_bytes());
    if !head {
        let _ = s.write_all(body);
    }
    let _ = s.flush();
}

fn js(s: TcpStream, status: u16, v: Value) {
    send(
        s,
        status,
        &[("Content-Type", "application/json".into())],
        v.to_string().as_bytes(),
        false,
    )
}

impl FakeHub {
    pub fn start(faults: HubFaults) -> FakeHub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            faults,
            ..Default::default()
        }));
        let (st, base) = (state.clone(), url.clone());
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                let (st, base) = (st.clone(), base.clone());
                std::thread::spawn(move || {
                    if let Some(req) = read_req(&s) {
                        handle(&st, &base, req, s);
                    }
                });
            }
        });
        FakeHub { url, state }
    }

    /// "METHOD path" of every request so far.
    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn set_faults(&self, f: HubFaults) {
        self.state.lock().unwrap().faults = f;
    }

    /// The head commit of a repository.
    pub fn head(&self, repo: &str) -> Option<String> {
        let s = self.state.lock().unwrap();
        s.repos
            .get(repo)
            .and_then(|r| r.commits.last().map(|c| c.0.clone()))
    }
}

fn new_commit(st: &mut State, tree: &BTreeMap<String, FileObj>) -> String {
    st.counter += 1;
    let mut h = Sha1::new();
    h.update(st.counter.to_le_bytes());
    for (p, f) in tree {
        h.update(p.as_bytes());
        h.update(f.oid.as_bytes());
    }
    hex(&h.finalize())
}

fn handle(st: &Arc<Mutex<State>>, base: &str, req: Req, s: TcpStream) {
    let mut g = st.lock().unwrap();
    g.log.push(format!("{} {}", req.method, req.path));
    if g.faults.fail_next > 0 {
        g.faults.fail_next -= 1;
        drop(g);
        return js(s, 503, json!({"error": "busy"}));
    }
    if let Some(t) = g.faults.token.clone()
        && req.header("authorization") != Some(&format!("Bearer {t}"))
        && !req.path.starts_with("/lfs-")
    {
        drop(g);
        return js(
            s,
            401,
            json!({"error": "Invalid credentials in Authorization header"}),
        );
    }
    let p = req.path.clone();
    let m = req.method.as_str();
    // POST /api/repos/create
    if m == "POST" && p == "/api/repos/create" {
        let b = req.json();
        let id = format!(
            "{}{}/{}",
            if b["type"] == "dataset" {
                "datasets/"
            } else {
                ""
            },
            b["organization"].as_str().unwrap_or("user"),
            b["name"].as_str().unwrap_or("")
        );
        if g.repos.contains_key(&id) {
            drop(g);
            return js(
                s,
                409,
                json!({"error": "You already created this model repo"}),
            );
        }
        let ga = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n".to_vec();
        let oid = git_sha1(&ga);
        let mut tree = BTreeMap::new();
        tree.insert(
            ".gitattributes".to_string(),
            FileObj {
                size: ga.len() as u64,
                lfs: false,
                oid: oid.clone(),
            },
        );
        g.blobs.insert(oid, ga);
        let sha = new_commit(&mut g, &tree);
        g.repos.insert(
            id.clone(),
            Repo {
                private: b["private"].as_bool().unwrap_or(false),
                commits: vec![(sha, tree)],
            },
        );
        drop(g);
        return js(s, 200, json!({"url": format!("{base}/{id}"), "name": id}));
    }
    // /api/models/{ns}/{name}/{op}/{rev} (datasets: /api/datasets/..., kept as `datasets/ns/name`)
    let api = p
        .strip_prefix("/api/models/")
        .map(|r| ("", r))
        .or_else(|| p.strip_prefix("/api/datasets/").map(|r| ("datasets/", r)));
    if let Some((kind, rest)) = api {
        let parts: Vec<&str> = rest.splitn(4, '/').collect();
        if parts.len() < 4 {
            drop(g);
            return js(s, 404, json!({"error": "not found"}));
        }
        let (id, op, rev) = (
            format!("{kind}{}/{}", parts[0], parts[1]),
            parts[2],
            parts[3],
        );
        let Some(repo) = g.repos.get(&id) else {
            drop(g);
            return js(s, 404, json!({"error": "Repository not found"}));
        };
        let commit = repo.at(rev);
        let Some((sha, tree)) = commit else {
            drop(g);
            return js(s, 404, json!({"error": "Invalid rev id"}));
        };
        match (m, op) {
            ("GET", "revision") => {
                let (lie_oid, lie_size) = (g.faults.lie_oid, g.faults.lie_size);
                let (escape_oid, escape_path) = (g.faults.escape_oid, g.faults.escape_path);
                let siblings: Vec<Value> = tree
                    .iter()
                    .map(|(path, f)| {
                        let size = f.size + if lie_size { 1000 } else { 0 };
                        let oid = if lie_oid && f.lfs { "0".repeat(64) } else { f.oid.clone() };
                        let oid = if escape_oid && f.lfs { format!("../../../../escaped-{oid}") } else { oid };
                        let path = if escape_path { format!("../../../{path}") } else { path.clone() };
                        if f.lfs {
                            json!({"rfilename": path, "size": size, "blobId": git_sha1(oid.as_bytes()),
                                   "lfs": {"sha256": oid, "size": size, "pointerSize": 134}})
                        } else {
                            json!({"rfilename": path, "size": size, "blobId": oid})
                        }
                    })
                    .collect();
                let private = repo.private;
                drop(g);
                js(
                    s,
                    200,
                    json!({"id": id, "modelId": id, "sha": sha, "private": private,
                    "siblings": siblings, "lastModified": "2026-11-25T00:00:00.000Z"}),
                )
            }
            ("POST", "preupload") => {
                let files: Vec<Value> = req.json()["files"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|f| {
                        let path = f["path"].as_str().unwrap_or("").to_string();
                        let size = f["size"].as_u64().unwrap_or(0);
                        let lfs = path.ends_with(".safetensors") || size > 10 << 20;
                        json!({"path": path, "uploadMode": if lfs {"lfs"} else {"regular"},
                               "shouldIgnore": false, "oid": tree.get(&path).map(|o| o.oid.clone())})
                    })
                    .collect();
                drop(g);
                js(s, 200, json!({"files": files}))
            }
            ("POST", "commit") => {
                let mut tree = tree.clone();
                let text = String::from_utf8_lossy(&req.body).to_string();
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    let v: Value = serde_json::from_str(line).unwrap_or(Value::Null);
                    let val = &v["value"];
                    let path = val["path"].as_str().unwrap_or("").to_string();
                    match v["key"].as_str().unwrap_or("") {
                        "file" => {
                            let bytes = base64::engine::general_purpose::STANDARD
                                .decode(val["content"].as_str().unwrap_or(""))
                                .unwrap_or_default();
                            let oid = git_sha1(&bytes);
                            tree.insert(
                                path,
                                FileObj {
                                    size: bytes.len() as u64,
                                    lfs: false,
                                    oid: oid.clone(),
                                },
                            );
                            g.blobs.insert(oid, bytes);
                        }
                        "lfsFile" => {
                            let oid = val["oid"].as_str().unwrap_or("").to_string();
                            let Some(b) = g.blobs.get(&oid) else {
                                drop(g);
                                return js(
                                    s,
                                    400,
                                    json!({"error": format!("LFS object {oid} not found")}),
                                );
                            };
                            tree.insert(
                                path,
                                FileObj {
                                    size: b.len() as u64,
                                    lfs: true,
                                    oid,
                                },
                            );
                        }
                        "deletedFile" => {
                            tree.remove(&path);
                        }
                        _ => {}
                    }
                }
                let sha = new_commit(&mut g, &tree);
                g.repos
                    .get_mut(&id)
                    .unwrap()
                    .commits
                    .push((sha.clone(), tree));
                drop(g);
                js(
                    s,
                    200,
                    json!({"commitOid": sha, "commitUrl": format!("{base}/{id}/commit/{sha}")}),
                )
            }
            _ => {
                drop(g);
                js(s, 404, json!({"error": "not found"}))
            }
        }
    } else if m == "POST" && p.ends_with(".git/info/lfs/objects/batch") {
        let chunk = g.faults.multipart_chunk;
        let objects: Vec<Value> = req.json()["objects"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|o| {
                let oid = o["oid"].as_str().unwrap_or("").to_string();
                let size = o["size"].as_u64().unwrap_or(0);
                if g.blobs.contains_key(&oid) {
                    return json!({"oid": oid, "size": size});
                }
                let upload = match chunk {
                    Some(c) => {
                        let mut h = serde_json::Map::new();
                        h.insert("chunk_size".into(), json!(c.to_string()));
                        let n = (size as usize).div_ceil(c).max(1);
                        for i in 1..=n {
                            h.insert(i.to_string(), json!(format!("{base}/lfs-part/{oid}/{i}")));
                        }
                        json!({"href": format!("{base}/lfs-complete/{oid}"), "header": h})
                    }
                    None => json!({"href": format!("{base}/lfs-upload/{oid}"), "header": {"X-Fake": "1"}}),
                };
                json!({"oid": oid, "size": size, "actions": {"upload": upload,
                       "verify": {"href": format!("{base}/lfs-verify/{oid}"), "header": {}}}})
            })
            .collect();
        let transfer = if chunk.is_some() {
            "multipart"
        } else {
            "basic"
        };
        drop(g);
        send(
            s,
            200,
            &[("Content-Type", "application/vnd.git-lfs+json".into())],
            json!({"transfer": transfer, "objects": objects})
                .to_string()
                .as_bytes(),
            false,
        )
    } else if m == "PUT" && p.starts_with("/lfs-upload/") {
        let oid = p.trim_start_matches("/lfs-upload/").to_string();
        if sha256(&req.body) != oid {
            drop(g);
            return js(s, 400, json!({"error": "sha256 mismatch"}));
        }
        g.blobs.insert(oid, req.body);
        drop(g);
        js(s, 200, json!({}))
    } else if m == "PUT" && p.starts_with("/lfs-part/") {
        let rest: Vec<&str> = p.trim_start_matches("/lfs-part/").split('/').collect();
        let (oid, n) = (rest[0].to_string(), rest[1].parse::<u64>().unwrap_or(0));
        let etag = format!("\"{}\"", sha256(&req.body));
        g.parts.entry(oid).or_default().insert(n, req.body);
        drop(g);
        send(s, 200, &[("ETag", etag)], b"", false)
    } else if m == "POST" && p.starts_with("/lfs-complete/") {
        let oid = p.trim_start_matches("/lfs-complete/").to_string();
        let parts = g.parts.remove(&oid).unwrap_or_default();
        let listed = req.json()["parts"].as_array().map_or(0, |a| a.len());
        let bytes: Vec<u8> = parts.values().flatten().copied().collect();
        if listed != parts.len() || sha256(&bytes) != oid {
            drop(g);
            return js(s, 400, json!({"error": "multipart mismatch"}));
        }
        g.blobs.insert(oid, bytes);
        drop(g);
        js(s, 200, json!({}))
    } else if m == "POST" && p.starts_with("/lfs-verify/") {
        let oid = p.trim_start_matches("/lfs-verify/");
        let ok = g.blobs.contains_key(oid);
        drop(g);
        js(s, if ok { 200 } else { 404 }, json!({}))
    } else if (m == "GET" || m == "HEAD") && p.contains("/resolve/") {
        let (id, rest) = p.trim_start_matches('/').split_once("/resolve/").unwrap();
        let (rev, file) = rest.split_once('/').unwrap_or((rest, ""));
        let file = super::decode(file);
        let Some(repo) = g.repos.get(id) else {
            drop(g);
            return js(s, 404, json!({"error": "Repository not found"}));
        };
        let commit = repo.at(rev);
        let Some((sha, tree)) = commit else {
            drop(g);
            return js(s, 404, json!({"error": "Revision not found"}));
        };
        let Some(f) = tree.get(&file).cloned() else {
            drop(g);
            return send(
                s,
                404,
                &[("X-Error-Code", "EntryNotFound".into())],
                b"{}",
                m == "HEAD",
            );
        };
        let bytes = g.blobs.get(&f.oid).cloned().unwrap_or_default();
        let mut headers = vec![
            ("X-Repo-Commit", sha.clone()),
            ("ETag", format!("\"{}\"", f.oid)),
            ("Accept-Ranges", "bytes".into()),
        ];
        if f.lfs {
            headers.push(("X-Linked-Etag", format!("\"{}\"", f.oid)));
            headers.push(("X-Linked-Size", f.size.to_string()));
        }
        let start = req
            .header("range")
            .filter(|_| !g.faults.ignore_range)
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.split('-').next())
            .and_then(|a| a.parse::<usize>().ok());
        let cut = if m == "GET" && f.lfs && !g.cut_done.contains(&f.oid) {
            g.faults.cut_after.inspect(|_| {
                g.cut_done.insert(f.oid.clone());
            })
        } else {
            None
        };
        drop(g);
        if let Some(n) = cut {
            // Announce everything, send the first n bytes, hang up.
            let mut out = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                bytes.len()
            )
            .into_bytes();
            out.extend_from_slice(&bytes[..n.min(bytes.len())]);
            let mut s = s;
            let _ = s.write_all(&out);
            let _ = s.flush();
            let _ = s.shutdown(std::net::Shutdown::Both);
            return;
        }
        match start {
            Some(a) if a <= bytes.len() => {
                headers.push((
                    "Content-Range",
                    format!("bytes {a}-{}/{}", bytes.len().max(1) - 1, bytes.len()),
                ));
                send(s, 206, &headers, &bytes[a..], m == "HEAD")
            }
            _ => {
                if m == "HEAD" {
                    headers.push(("Content-Length", bytes.len().to_string()));
                }
                send(s, 200, &headers, &bytes, m == "HEAD")
            }
        }
    } else {
        drop(g);
        js(
            s,
            404,
            json!({"error": format!("no route {} {}", req.method, req.path)}),
        )
    }
}
