//! Errors with an exit code and a hint, printed as one line.
//!
//! Every shipkit tool exits with one of the codes of [`ExitCode`]; the table is in the README
//! ("Exit codes") and each tool's `--help`.

use std::fmt;

/// The documented exit codes shared by every shipkit tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ExitCode {
    /// 0: success.
    Success = 0,
    /// 1: the operation ran and failed (e.g. a deploy that failed and was rolled back).
    Failure = 1,
    /// 2: bad flags or input (a bad tag, an unknown option, an invalid value). Also clap's own code.
    Usage = 2,
    /// 3: the config file (`shipkit.yml`) is unreadable, malformed, or names an unknown key.
    Config = 3,
    /// 4: a git problem: not a repository, no tag where one is required, a shallow clone that hides the answer.
    Git = 4,
    /// 5: a program we drive (git, docker) is not installed or not on PATH.
    ToolMissing = 5,
    /// 6: a program we drive ran and failed.
    ToolFailed = 6,
    /// 7: a remote service (registry, AWS, webhook) failed or could not be reached, after retries.
    Remote = 7,
    /// 8: credentials are missing or were refused.
    Auth = 8,
    /// 9: waited longer than the timeout.
    Timeout = 9,
    /// 10: refused on purpose: a locked or pinned service, a downgrade, a tag that already exists.
    Refused = 10,
    /// 11: partly done: some targets succeeded and some did not; the output says which.
    Partial = 11,
    /// 12: the thing asked about does not exist (a tag, an image, a service).
    NotFound = 12,
    /// 13: a deploy failed and the rollback failed too: a person must look now.
    RollbackFailed = 13,
    /// 130: cancelled by SIGINT (Ctrl-C); what was changed was undone or reported first.
    Interrupted = 130,
    /// 143: cancelled by SIGTERM (CI cancel or job timeout); what was changed was undone or reported first.
    Terminated = 143,
}

impl ExitCode {
    /// Every code, in order, for documentation and tests.
    pub const ALL: [ExitCode; 16] = [
        ExitCode::Success,
        ExitCode::Failure,
        ExitCode::Usage,
        ExitCode::Config,
        ExitCode::Git,
        ExitCode::ToolMissing,
        ExitCode::ToolFailed,
        ExitCode::Remote,
        ExitCode::Auth,
        ExitCode::Timeout,
        ExitCode::Refused,
        ExitCode::Partial,
        ExitCode::NotFound,
        ExitCode::RollbackFailed,
        ExitCode::Interrupted,
        ExitCode::Terminated,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }

    /// A short description, as in the README's table.
    pub fn describe(self) -> &'static str {
        match self {
            ExitCode::Success => "success",
            ExitCode::Failure => "the operation failed (e.g. deploy failed and was rolled back)",
            ExitCode::Usage => "bad flags or input",
            ExitCode::Config => "config file problem (shipkit.yml)",
            ExitCode::Git => "git problem (not a repository, no tag, shallow clone)",
            ExitCode::ToolMissing => "a required program (git, docker) is not installed",
            ExitCode::ToolFailed => "a program we ran failed",
            ExitCode::Remote => "a remote service failed or was unreachable",
            ExitCode::Auth => "credentials missing or refused",
            ExitCode::Timeout => "timed out",
            ExitCode::Refused => "refused on purpose (locked, downgrade, already exists)",
            ExitCode::Partial => "partly done: some targets failed (see output)",
            ExitCode::NotFound => "not found",
            ExitCode::RollbackFailed => "deploy failed and rollback failed too",
            ExitCode::Interrupted => "cancelled by SIGINT (work undone or reported first)",
            ExitCode::Terminated => "cancelled by SIGTERM (work undone or reported first)",
        }
    }

    /// The exit-code table as text, for `--help` (`after_long_help`).
    pub fn help_table() -> String {
        let mut s = String::from("Exit codes:\n");
        for c in Self::ALL {
            s.push_str(&format!("  {:>3}  {}\n", c.code(), c.describe()));
        }
        s
    }
}

/// A shipkit error: what was wrong, how to fix it, and the exit code.
#[derive(Debug)]
pub struct Error {
    pub code: ExitCode,
    pub message: String,
    pub hint: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ExitCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            hint: None,
        }
    }
    /// Add "how to fix it".
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Usage, message)
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Config, message)
    }
    pub fn git(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Git, message)
    }
    pub fn remote(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Remote, message)
    }
    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Auth, message)
    }
    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Failure, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ExitCode::NotFound, message)
    }
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Refused, message)
    }
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Timeout, message)
    }

    /// The one line printed to stderr: `error: <message> (hint: <hint>)`, secrets masked,
    /// newlines folded so it stays one line.
    pub fn one_line(&self) -> String {
        let mut s = format!("error: {}", fold_line(&self.message));
        if let Some(h) = &self.hint {
            s.push_str(&format!(" (hint: {})", fold_line(h)));
        }
        crate::mask::mask(&s).into_owned()
    }
}

fn fold_line(s: &str) -> String {
    let s = s.trim();
    if s.contains('\n') || s.contains('\r') {
        s.split(['\n', '\r'])
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" | ")
    } else {
        s.to_string()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::mask::mask(&self.message))?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {})", crate::mask::mask(h))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::failure(format!("I/O error: {e}"))
    }
}

/// Attach an exit code and context to any error.
pub trait ResultExt<T> {
    /// `file.read().with_code(ExitCode::Config, || format!("cannot read {path}"))` gives
    /// `cannot read shipkit.yml: No such file or directory`.
    fn with_code<F, S>(self, code: ExitCode, context: F) -> Result<T>
    where
        F: FnOnce() -> S,
        S: Into<String>;
}

impl<T, E: fmt::Display> ResultExt<T> for std::result::Result<T, E> {
    fn with_code<F, S>(self, code: ExitCode, context: F) -> Result<T>
    where
        F: FnOnce() -> S,
        S: Into<String>,
    {
        self.map_err(|e| Error::new(code, format!("{}: {e}", context().into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_folds_newlines_and_adds_hint() {
        let e = Error::git("not a git repository\n  at /tmp/x").hint("run inside a checkout");
        assert_eq!(
            e.one_line(),
            "error: not a git repository | at /tmp/x (hint: run inside a checkout)"
        );
    }

    #[test]
    fn codes_are_distinct_and_documented() {
        let mut seen = std::collections::HashSet::new();
        for c in ExitCode::ALL {
            assert!(seen.insert(c.code()), "duplicate code {}", c.code());
            assert!(!c.describe().is_empty());
        }
        assert!(ExitCode::help_table().contains("  7  a remote service failed"));
    }
}
