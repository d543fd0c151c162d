//! Bounded retries with exponential backoff for network work (hub, datasets-server, chain).

use std::fmt;
use std::time::{Duration, Instant};

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

/// Retry policy: attempts in all, first backoff (doubling, capped at 30 s), and an optional
/// deadline past which no retry starts.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub backoff: Duration,
    pub deadline: Option<Instant>,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 5,
            backoff: Duration::from_millis(500),
            deadline: None,
        }
    }
}

/// The retry flags of every command that talks to a server (`hub push/pull`, `data fetch`,
/// `validate`'s downloads): one convention. (`data sample` keeps the reference's fixed retry
/// count, which decides the pages it draws, and takes only `--backoff-ms` and `--deadline-s`.)
#[derive(Debug, Clone, clap::Args)]
pub struct RetryArgs {
    /// Retries of a failed request after the first try (connection errors, timeouts, cut
    /// transfers, HTTP 5xx and 429); a 4xx answer is final.
    #[arg(long, env = "SN9_RETRIES", default_value_t = 4, value_name = "N")]
    pub retries: u32,
    /// Pause before the first retry in milliseconds; it doubles per retry, up to 30 s.
    #[arg(long, env = "SN9_BACKOFF_MS", default_value_t = 500, value_name = "MS")]
    pub backoff_ms: u64,
    /// Give up when the next retry would start more than this many seconds after the command
    /// began [default: no limit beyond the retries].
    #[arg(long, env = "SN9_DEADLINE_S", value_name = "SECONDS")]
    pub deadline_s: Option<u64>,
}

impl RetryArgs {
    /// The policy these flags describe, its deadline counted from now.
    pub fn policy(&self) -> Retry {
        Retry {
            attempts: self.retries.saturating_add(1),
            backoff: Duration::from_millis(self.backoff_ms),
            deadline: deadline_in(self.deadline_s),
        }
    }
}

/// `now + seconds` (None: no deadline, or one too far to represent).
pub fn deadline_in(seconds: Option<u64>) -> Option<Instant> {
    seconds.and_then(|s| Instant::now().checked_add(Duration::from_secs(s)))
}

/// Whether waiting `wait` would pass `deadline`.
pub fn past_deadline(deadline: Option<Instant>, wait: Duration) -> bool {
    deadline.is_some_and(|d| Instant::now() + wait > d)
}

impl Retry {
    /// Runs `f` until it succeeds, fails with a non-retryable error, or the attempts run out.
    pub fn run<T>(&self, what: &str, mut f: impl FnMut() -> Result<T>) -> Result<T> {
        let mut wait = self.backoff;
        let mut attempt = 1;
        loop {
            match f() {
                Ok(v) => return Ok(v),
                Err(e)
                    if e.chain().any(|c| c.is::<Retryable>())
                        && attempt < self.attempts
                        && !past_deadline(self.deadline, wait) =>
                {
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
                    let why = if attempt < self.attempts {
                        format!(
                            "gave up after {attempt} attempts: the deadline (--deadline-s) came"
                        )
                    } else {
                        format!("gave up after {attempt} attempts")
                    };
                    return Err(anyhow::anyhow!(
                        "{what}: {e:#} ({why}; the service may be down, try again later)"
                    ));
                }
                Err(e) => return Err(e),
            }
        }
    }
}
