//! Error kinds and exit codes.
//!
//! sn9 exits with:
//! * `0` on success (and quietly when stdout is a closed pipe),
//! * `1` on a user or input error (bad flag, bad file, value out of range),
//! * `2` on an internal error (a bug, or an environment failure sn9 cannot attribute to the input),
//! * `130` when interrupted (SIGINT/SIGTERM) after saving what resumes the work (`sn9 train`).
//!
//! Errors travel as [`anyhow::Error`]; the ones caused by the user's input carry a [`UserError`]
//! somewhere in their chain, which is what [`exit_code`] looks for.

use std::fmt;

/// Process exit codes, documented in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Ok = 0,
    User = 1,
    Internal = 2,
    Interrupted = 130,
}

/// Marker for a clean stop on SIGINT/SIGTERM (exit code 130).
#[derive(Debug)]
pub struct Interrupted(pub String);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Interrupted {}

/// Marker for errors caused by the input (files, flags, values) rather than by sn9 itself.
#[derive(Debug)]
pub struct UserError(pub String);

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UserError {}

/// Builds a user error (exit code 1) from a message.
pub fn user(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UserError(msg.into()))
}

/// `bail!` for user errors.
#[macro_export]
macro_rules! user_bail {
    ($($arg:tt)*) => { return Err($crate::error::user(format!($($arg)*))) };
}

/// Extension to turn any error into a user error with context.
pub trait UserContext<T> {
    /// Wraps the error as a user error with the given message in front.
    fn user_context<C: fmt::Display>(self, msg: C) -> anyhow::Result<T>;
    /// Lazy variant of [`UserContext::user_context`].
    fn with_user_context<C: fmt::Display, F: FnOnce() -> C>(self, f: F) -> anyhow::Result<T>;
}

impl<T, E: fmt::Display> UserContext<T> for Result<T, E> {
    fn user_context<C: fmt::Display>(self, msg: C) -> anyhow::Result<T> {
        self.map_err(|e| user(format!("{msg}: {e}")))
    }
    fn with_user_context<C: fmt::Display, F: FnOnce() -> C>(self, f: F) -> anyhow::Result<T> {
        self.map_err(|e| user(format!("{}: {e}", f())))
    }
}

/// True when the error (anywhere in its chain) is a closed stdout pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Maps an error to the exit code documented in the README.
pub fn exit_code(err: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(err) {
        ExitCode::Ok
    } else if err.chain().any(|e| e.is::<Interrupted>()) {
        ExitCode::Interrupted
    } else if err.chain().any(|e| e.is::<UserError>()) {
        ExitCode::User
    } else {
        ExitCode::Internal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(exit_code(&user("bad")), ExitCode::User);
        assert_eq!(exit_code(&user("bad").context("reading x")), ExitCode::User);
        assert_eq!(exit_code(&anyhow::anyhow!("bug")), ExitCode::Internal);
        let pipe = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(exit_code(&pipe.context("writing")), ExitCode::Ok);
    }
}
