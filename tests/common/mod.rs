//! Loopback stand-ins for network services, started per test on 127.0.0.1 with an ephemeral port.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

/// How the fake datasets-server misbehaves.
#[derive(Clone, Default)]
pub struct Faults {
    /// Answer this many first `/rows` requests with HTTP 503.
    pub fail_first_rows: usize,
    /// Answer `/rows` at this offset with malformed JSON, always.
    pub malformed_offset: Option<u64>,
    /// Sleep this long before answering `/rows` at this offset.
    pub stall_offset: Option<(u64, Duration)>,
}

/// A fake Hugging Face datasets-server: `/size` lists `configs`, `/rows` returns the golden
/// fixture's `fake_text` rows. Every request is logged (dataset, config, split, offset, length).
pub struct FakeDatasetsServer {
    pub url: String,
    pub log: Arc<Mutex<Vec<Value>>>,
}

pub fn fake_text(dataset: &str, config: &str, row: u64) -> String {
    format!("{dataset}/{config}#{row} ")
        .repeat(1 + (row % 5) as usize)
        .trim_end_matches(' ')
        .to_string()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let h = u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?');
                out.push(h);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn respond(mut s: TcpStream, status: &str, body: &str) {
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.flush();
}

impl FakeDatasetsServer {
    pub fn start(configs: Vec<(String, u64)>, faults: Faults) -> FakeDatasetsServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let log2 = log.clone();
        let failures = Arc::new(Mutex::new(faults.fail_first_rows));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (configs, log, faults, failures) = (
                    configs.clone(),
                    log2.clone(),
                    faults.clone(),
                    failures.clone(),
                );
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    let mut header = String::new();
                    let mut authorization = String::new();
                    while reader
                        .read_line(&mut header)
                        .map(|n| n > 2)
                        .unwrap_or(false)
                    {
                        if let Some((k, v)) = header.split_once(':')
                            && k.eq_ignore_ascii_case("authorization")
                        {
                            authorization = v.trim().to_string();
                        }
                        header.clear();
                    }
                    let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                    let q: Vec<(String, String)> = query
                        .split('&')
                        .filter(|kv| !kv.is_empty())
                        .map(|kv| {
                            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                            (decode(k), decode(v))
                        })
                        .collect();
                    let get = |k: &str| {
                        q.iter()
                            .find(|(a, _)| a == k)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default()
                    };
                    let dataset = get("dataset");
                    match path {
                        "/size" => {
                            log.lock()
                                .unwrap()
                                .push(json!({"dataset": dataset, "endpoint": "size"}));
                            let splits: Vec<Value> =
                                configs.iter().map(|(c, n)| json!({"dataset": dataset, "config": c, "split": "train", "num_rows": n})).collect();
                            respond(
                                stream,
                                "200 OK",
                                &json!({"size": {"splits": splits}}).to_string(),
                            );
                        }
                        "/rows" => {
                            let offset: u64 = get("offset").parse().unwrap_or(0);
                            let length: u64 = get("length").parse().unwrap_or(0);
                            log.lock().unwrap().push(json!({
                                "dataset": dataset, "config": get("config"), "split": get("split"),
                                "offset": offset, "length": length, "endpoint": "rows"
                            }));
                            if let Some((o, d)) = faults.stall_offset
                                && o == offset
                            {
                                std::thread::sleep(d);
                            }
                            {
                                let mut f = failures.lock().unwrap();
                                if *f > 0 {
                                    *f -= 1;
                                    return respond(
                                        stream,
                                        "503 Service Unavailable",
                                        "{\"error\": \"busy\"}",
                                    );
                                }
                            }
                            if faults.malformed_offset == Some(offset) {
                                return respond(stream, "200 OK", "{\"rows\": [ {\"row\": ");
                            }
                            let config = get("config");
                            let rows: Vec<Value> = (0..length)
                                .map(|i| {
                                    if dataset.contains("the-stack-v2") {
                                        // Stack v2 rows carry only the blob id of the file in S3.
                                        json!({"row_idx": offset + i, "row": {"blob_id": format!("{:040x}", offset + i), "src_encoding": "UTF-8"}})
                                    } else {
                                        json!({"row_idx": offset + i, "row": {"text": fake_text(&dataset, &config, offset + i)}})
                                    }
                                })
                                .collect();
                            respond(stream, "200 OK", &json!({"rows": rows}).to_string());
                        }
                        p if p.starts_with("/content/") => {
                            // The Software Heritage bucket: gzip of the file, SigV4-authenticated.
                            let blob = p.trim_start_matches("/content/").to_string();
                            log.lock().unwrap().push(json!({"endpoint": "s3", "blob": blob, "authorization": authorization}));
                            if !authorization.starts_with("AWS4-HMAC-SHA256 Credential=") {
                                return respond(
                                    stream,
                                    "403 Forbidden",
                                    "<Error><Code>AccessDenied</Code></Error>",
                                );
                            }
                            let row = u64::from_str_radix(&blob, 16).unwrap_or(0);
                            let mut gz = flate2::write::GzEncoder::new(
                                Vec::new(),
                                flate2::Compression::default(),
                            );
                            gz.write_all(
                                fake_text("bigcode/the-stack-v2-dedup", "default", row).as_bytes(),
                            )
                            .unwrap();
                            let body = gz.finish().unwrap();
                            let mut s = stream;
                            let _ = write!(
                                s,
                                "HTTP/1.1 200 OK\r\nContent-Type: binary/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                body.len()
                            );
                            let _ = s.write_all(&body);
                            return;
                        }
                        _ => respond(stream, "404 Not Found", "{}"),
                    }
                    let mut rest = Vec::new();
                    let _ = reader.read_to_end(&mut rest);
                });
            }
        });
        FakeDatasetsServer { url, log }
    }

    pub fn requests(&self) -> Vec<Value> {
        self.log.lock().unwrap().clone()
    }
}

/// The sn9 binary, with the developer's `SN9_*` settings and `HF_TOKEN` removed.
pub fn sn9() -> std::process::Command {
    use assert_cmd::prelude::*;
    let mut c = std::process::Command::cargo_bin("sn9").unwrap();
    for (k, _) in std::env::vars() {
        if k.starts_with("SN9_") || k == "HF_TOKEN" {
            c.env_remove(k);
        }
    }
    c
}

/// The repository root.
pub fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The golden vectors (`SN9_GOLDEN` or the fixture copy).
pub fn golden() -> Value {
    let p = std::env::var_os("SN9_GOLDEN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root().join("fixtures/golden/reference.json"));
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// A reference model case of fixtures/hfref.
pub fn case(name: &str) -> std::path::PathBuf {
    root().join("fixtures/hfref").join(name)
}

/// Requires a successful exit, showing the child's stderr otherwise.
pub fn ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `cmd`, requires success (showing its stderr otherwise), and parses its stdout as JSON.
pub fn json_out(cmd: &mut std::process::Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
pub mod fakehub;
pub mod npy;
pub mod replay;
pub mod speechserver;

/// A Python venv under the target directory with `packages` installed from PyPI (made once);
/// `None`, with the reason printed, when python3/venv or PyPI is not available.
pub fn python_venv(name: &str, packages: &[&str]) -> Option<std::path::PathBuf> {
    let venv = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let py = venv.join("bin/python");
    if py.exists() {
        return Some(py);
    }
    let ok = std::process::Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success())
        && std::process::Command::new(venv.join("bin/pip"))
            .args(["install", "-q"])
            .args(packages)
            .status()
            .is_ok_and(|s| s.success());
    if ok {
        Some(py)
    } else {
        let _ = std::fs::remove_dir_all(&venv);
        println!("skipped: no python3 with venv, or PyPI unreachable ({packages:?})");
        None
    }
}

/// Bytes of a hex string (with or without 0x).
pub fn hex_bytes(s: &str) -> Vec<u8> {
    let s = s.trim_start_matches("0x");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `0x` + lowercase hex.
pub fn hex0x(b: &[u8]) -> String {
    format!(
        "0x{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

/// A JSON fixture under `fixtures/`.
pub fn fixture_json(rel: &str) -> Value {
    let p = root().join("fixtures").join(rel);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

/// Copies the files of a directory (not recursive) into `to`, created if needed.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// The JSON values of a JSON Lines text (blank lines skipped).
pub fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
