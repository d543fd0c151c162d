//! Bounded retries with exponential backoff for network work (hub, datasets-server, chain).

use std::fmt;
use std::time::Duration;

use anyhow::Result;

/// A failure worth retrying (connection cut, timeout, HTTP 5xx/429).
#[derive(Debug)]
pub struct Retryable(pub String);

impl fmt::Display for Retryable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Retryable {}

pub fn retryable(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Retryable(msg.into()))
}

/// Retry policy: attempts in all, first backoff (doubling, capped at 30 s).
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 5,
            backoff: Duration::from_millis(500),
        }
    }
}

impl Retry {
    /// Runs `f` until it succeeds, fails with a non-retryable error, or the attempts run out.
    pub fn run<T>(&self, what: &str, mut f: impl FnMut() -> Result<T>) -> Result<T> {
        let mut wait = self.backoff;
        let mut attempt = 1;
        loop {
            match f() {
                Ok(v) => return Ok(v),
                Err(e) if e.chain().any(|c| c.is::<Retryable>()) && attempt < self.attempts => {
                    eprintln!(
                        "sn9: {what}: {e:#}; retrying in {:.1} s ({attempt}/{})",
                        wait.as_secs_f64(),
                        self.attempts - 1
                    );
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(30));
                    attempt += 1;
                }
                // An environment failure (exit 2), not the input's fault: a validator must not
                // score a model as failed because the hub or the chain was down.
                Err(e) if e.chain().any(|c| c.is::<Retryable>()) => {
                    return Err(anyhow::anyhow!(
                        "{what}: {e:#} (gave up after {} attempts; the service may be down, try again later)",
                        self.attempts
                    ));
                }
                Err(e) => return Err(e),
            }
        }
    }
}
