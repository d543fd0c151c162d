//! A loopback datasets-server for People's Speech that replays one run of
//! `fixtures/ttsref/tts_data_golden.json`: its `/size` splits, the exact `/rows` JSON it served
//! (audio URLs pointed at this server), and the WAV files behind those URLs, with the run's
//! faults (a `/rows` request failing once with HTTP 500, audio answering 404). Logs every GET.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

const REAL: &str = "https://datasets-server.huggingface.co";

pub struct SpeechServer {
    pub url: String,
    pub log: Arc<Mutex<Vec<Value>>>,
}

fn respond(mut s: TcpStream, status: &str, kind: &str, body: &[u8]) {
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(body);
    let _ = s.flush();
}

impl SpeechServer {
    /// Serves run `run` of the golden file under `split_dir` (a ttsref split directory).
    pub fn start(split_dir: PathBuf, run: &Value) -> SpeechServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let splits: Vec<Value> = run["server"]["size_splits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| json!({"dataset": "MLCommons/peoples_speech", "config": s[0], "split": s[1], "num_rows": s[2]}))
            .collect();
        let size = json!({"size": {"splits": splits}}).to_string();
        // (config, split, offset) → rows JSON with the audio URLs rewritten.
        let mut pages: Vec<((String, String, u64), String)> = Vec::new();
        let mut assets: Vec<(String, PathBuf)> = Vec::new();
        for p in run["pages_served"].as_array().unwrap() {
            let rows = std::fs::read_to_string(split_dir.join(p["rows_json"].as_str().unwrap()))
                .unwrap()
                .replace(REAL, &url);
            let key = (
                p["config"].as_str().unwrap().to_string(),
                p["split"].as_str().unwrap().to_string(),
                p["offset"].as_u64().unwrap(),
            );
            pages.push((key, rows));
            for a in p["assets"].as_array().unwrap() {
                let path = a["src"].as_str().unwrap().replace(REAL, "");
                assets.push((path, split_dir.join(a["wav"].as_str().unwrap())));
            }
        }
        let fail_once: Vec<Value> = run["server"]["rows_requests_failing_once_with_500"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let failed = Arc::new(Mutex::new(Vec::<String>::new()));
        let missing: Vec<String> = run["server"]["audio_urls_failing_with_404"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|u| u.as_str().unwrap().replace(REAL, ""))
            .collect();
        let (log2, url2) = (log.clone(), url.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut header = String::new();
                while reader
                    .read_line(&mut header)
                    .map(|n| n > 2)
                    .unwrap_or(false)
                {
                    header.clear();
                }
                let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                let q: Vec<(String, String)> = query
                    .split('&')
                    .filter(|kv| !kv.is_empty())
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        (k.to_string(), v.replace("%2F", "/").replace('+', " "))
                    })
                    .collect();
                let get = |k: &str| {
                    q.iter()
                        .find(|(a, _)| a == k)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                log2.lock()
                    .unwrap()
                    .push(json!({"path": path, "query": query, "url": format!("{url2}{path}")}));
                match path {
                    "/size" => respond(stream, "200 OK", "application/json", size.as_bytes()),
                    "/rows" => {
                        let key = (
                            get("config"),
                            get("split"),
                            get("offset").parse().unwrap_or(0),
                        );
                        // Entries are [config, split, offset].
                        let once = fail_once.iter().any(|f| {
                            f[0].as_str() == Some(key.0.as_str())
                                && f[1].as_str() == Some(key.1.as_str())
                                && f[2].as_u64() == Some(key.2)
                        });
                        let tag = format!("{}/{}/{}", key.0, key.1, key.2);
                        if once && !failed.lock().unwrap().contains(&tag) {
                            failed.lock().unwrap().push(tag);
                            respond(
                                stream,
                                "500 Internal Server Error",
                                "application/json",
                                b"{}",
                            );
                            continue;
                        }
                        match pages.iter().find(|(k, _)| *k == key) {
                            Some((_, rows)) => {
                                respond(stream, "200 OK", "application/json", rows.as_bytes())
                            }
                            None => respond(stream, "404 Not Found", "application/json", b"{}"),
                        }
                    }
                    p => match assets.iter().find(|(a, _)| a == p) {
                        Some(_) if missing.iter().any(|m| m == p) => {
                            respond(stream, "404 Not Found", "text/plain", b"not found")
                        }
                        Some((_, wav)) => {
                            respond(stream, "200 OK", "audio/wav", &std::fs::read(wav).unwrap())
                        }
                        None => respond(stream, "404 Not Found", "text/plain", b"not found"),
                    },
                }
            }
        });
        SpeechServer { url, log }
    }
}
