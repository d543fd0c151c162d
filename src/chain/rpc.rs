//! A blocking JSON-RPC 2.0 client over one WebSocket (`ws://` or `wss://` with rustls and the
//! webpki roots), the way substrate nodes serve their API: request/response by id, plus the
//! notifications of one subscription at a time (`author_submitAndWatchExtrinsic`).
//!
//! Transport failures (refused, reset, closed, timed out) are [`retryable`]: [`Rpc::call`]
//! reconnects and retries reads with bounded exponential backoff ([`Retry`]) and gives up with an
//! environment error (exit 2). An error object from the node is the node's answer and is returned
//! as is (no retry). Submissions are never retried blindly: see [`Rpc::subscribe`].

use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::error::user;
use crate::retry::{Retry, retryable};

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// An error object returned by the node (`{"code", "message", "data"}`).
#[derive(Debug)]
pub struct NodeError {
    pub method: String,
    pub code: i64,
    pub message: String,
    pub data: Option<String>,
}

impl std::fmt::Display for NodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: the node answered {} {}",
            self.method, self.code, self.message
        )?;
        if let Some(d) = &self.data {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl std::error::Error for NodeError {}

pub struct Rpc {
    url: String,
    ws: Option<Socket>,
    next_id: u64,
    /// How long one answer may take.
    pub timeout: Duration,
    pub retry: Retry,
}

/// The URL for a `--network` name: `finney`, `test`, `local` (a node on this machine), or a
/// `ws://` / `wss://` URL as given.
pub fn endpoint(network: &str) -> Option<&str> {
    match network {
        "finney" => Some("wss://entrypoint-finney.opentensor.ai:443"),
        "test" => Some("wss://test.finney.opentensor.ai:443"),
        "local" => Some("ws://127.0.0.1:9944"),
        u if u.starts_with("ws://") || u.starts_with("wss://") => Some(u),
        _ => None,
    }
}

fn open(url: &str, timeout: Duration) -> Result<Socket> {
    let uri: tungstenite::http::Uri = url
        .parse()
        .map_err(|e| user(format!("{url}: not a WebSocket URL ({e})")))?;
    let host = uri
        .host()
        .ok_or_else(|| user(format!("{url}: no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']');
    let tls = uri.scheme_str() == Some("wss");
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let addrs: Vec<_> = (host, port)
        .to_socket_addrs()
        .map_err(|e| retryable(format!("{url}: cannot resolve {host}: {e}")))?
        .collect();
    let mut last = None;
    let mut tcp = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let tcp = tcp.ok_or_else(|| {
        retryable(format!(
            "{url}: cannot connect: {}",
            last.map_or("no address".to_string(), |e| e.to_string())
        ))
    })?;
    tcp.set_read_timeout(Some(timeout))?;
    tcp.set_write_timeout(Some(timeout))?;
    tcp.set_nodelay(true)?;
    let (ws, _) = tungstenite::client_tls(url, tcp)
        .map_err(|e| retryable(format!("{url}: WebSocket handshake failed: {e}")))?;
    Ok(ws)
}

fn transport(url: &str, e: tungstenite::Error) -> anyhow::Error {
    retryable(format!("{url}: connection lost: {e}"))
}

impl Rpc {
    /// Connects (retrying with backoff).
    pub fn connect(url: &str, timeout: Duration, retry: Retry) -> Result<Rpc> {
        let mut r = Rpc {
            url: url.to_string(),
            ws: None,
            next_id: 1,
            timeout,
            retry,
        };
        let what = format!("connecting to {url}");
        retry.run(&what, || {
            r.ws = Some(open(url, timeout)?);
            Ok(())
        })?;
        Ok(r)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn socket(&mut self) -> Result<&mut Socket> {
        if self.ws.is_none() {
            self.ws = Some(open(&self.url, self.timeout)?);
        }
        Ok(self.ws.as_mut().expect("just opened"))
    }

    fn send(&mut self, method: &str, params: &Value) -> Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        let req = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let url = self.url.clone();
        let ws = self.socket()?;
        if let Err(e) = ws.send(Message::text(req.to_string())) {
            self.ws = None;
            return Err(transport(&url, e));
        }
        Ok(id)
    }

    /// The next JSON message, before `deadline`.
    fn receive(&mut self, deadline: Instant) -> Result<Value> {
        let url = self.url.clone();
        loop {
            if Instant::now() > deadline {
                self.ws = None;
                return Err(retryable(format!(
                    "{url}: no answer within {:?}",
                    self.timeout
                )));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let ws = self.socket()?;
            let tcp = match ws.get_mut() {
                MaybeTlsStream::Plain(s) => s,
                MaybeTlsStream::Rustls(s) => &mut s.sock,
                _ => unreachable!("only plain and rustls streams are built"),
            };
            tcp.set_read_timeout(Some(left.max(Duration::from_millis(10))))?;
            match ws.read() {
                Ok(Message::Text(t)) => {
                    return serde_json::from_str(t.as_str()).map_err(|e| {
                        anyhow!("{url}: the node sent a message that is not JSON: {e}")
                    });
                }
                Ok(Message::Binary(b)) => {
                    return serde_json::from_slice(&b).map_err(|e| {
                        anyhow!("{url}: the node sent a message that is not JSON: {e}")
                    });
                }
                Ok(Message::Close(_)) => {
                    self.ws = None;
                    return Err(retryable(format!("{url}: the node closed the connection")));
                }
                Ok(_) => continue, // ping/pong/frame: tungstenite answers pings itself
                Err(e) => {
                    self.ws = None;
                    return Err(transport(&url, e));
                }
            }
        }
    }

    /// The response to request `id` (notifications in between are dropped).
    fn response(&mut self, method: &str, id: u64) -> Result<Value> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let msg = self.receive(deadline)?;
            if msg["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(err) = msg.get("error") {
                return Err(anyhow::Error::new(NodeError {
                    method: method.to_string(),
                    code: err["code"].as_i64().unwrap_or(0),
                    message: err["message"].as_str().unwrap_or("").to_string(),
                    data: err.get("data").map(|d| match d {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }),
                }));
            }
            return Ok(msg.get("result").cloned().unwrap_or(Value::Null));
        }
    }

    /// One request and its result; transport failures reconnect and retry (reads only: every
    /// method sn9 calls through here is idempotent).
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value> {
        let retry = self.retry;
        let what = format!("{method} at {}", self.url);
        retry.run(&what, || {
            let id = self.send(method, &params)?;
            self.response(method, id)
        })
    }

    /// Starts a subscription and returns its id; the request is sent once (never retried: a
    /// submission that may have reached the node must not be sent again blindly).
    pub fn subscribe(&mut self, method: &str, params: Value) -> Result<Value> {
        let id = self.send(method, &params)?;
        self.response(method, id)
    }

    /// The next notification of subscription `sub`, within `wait`.
    pub fn notification(&mut self, sub: &Value, wait: Duration) -> Result<Value> {
        let deadline = Instant::now() + wait;
        loop {
            let msg = self.receive(deadline)?;
            if msg.get("id").is_some() {
                continue;
            }
            if &msg["params"]["subscription"] == sub {
                return Ok(msg["params"]["result"].clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_names() {
        assert_eq!(
            endpoint("finney"),
            Some("wss://entrypoint-finney.opentensor.ai:443")
        );
        assert_eq!(endpoint("local"), Some("ws://127.0.0.1:9944"));
        assert_eq!(endpoint("ws://10.0.0.1:9944"), Some("ws://10.0.0.1:9944"));
        assert_eq!(endpoint("file:///srv/chain"), None);
        assert_eq!(endpoint("mainnet"), None);
    }
}
