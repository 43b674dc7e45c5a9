//! Running the programs we drive (git, docker).
//!
//! A missing program is an [`ExitCode::ToolMissing`] error that says how to install it; a failing one
//! an [`ExitCode::ToolFailed`] error with the last lines of its stderr. With `--verbose` every command
//! is echoed (`+ docker push ...`) with secrets masked.

use crate::error::{Error, ExitCode, Result};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Echo commands before running them (set by `--verbose`).
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Find a program on PATH, or say how to get it.
pub fn find_program(name: &str, install_hint: &str) -> Result<PathBuf> {
    which::which(name).map_err(|_| {
        Error::new(
            ExitCode::ToolMissing,
            format!("`{name}` is not installed or not on PATH"),
        )
        .hint(install_hint)
    })
}

/// Hints for the programs shipkit drives.
pub fn install_hint(name: &str) -> &'static str {
    match name {
        "git" => "install git (apt-get install git, brew install git) or add it to PATH",
        "docker" => {
            "install the docker CLI (apt-get install docker.io) and make sure a daemon is reachable (DOCKER_HOST)"
        }
        _ => "install it or add it to PATH",
    }
}

/// A command to run: program, arguments, working directory, extra environment, stdin.
#[derive(Debug, Clone)]
pub struct Command {
    program: String,
    args: Vec<OsString>,
    dir: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
}

/// What a finished command printed.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Command {
    pub fn new(program: &str) -> Self {
        Command {
            program: program.to_string(),
            args: vec![],
            dir: None,
            env: vec![],
            stdin: None,
        }
    }
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_owned());
        self
    }
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }
    pub fn dir(mut self, d: impl AsRef<Path>) -> Self {
        self.dir = Some(d.as_ref().to_owned());
        self
    }
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.env.push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        self
    }
    /// Bytes for stdin (e.g. a password for `docker login --password-stdin`; never echoed).
    pub fn stdin_bytes(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// The command line as it would be echoed, secrets masked.
    pub fn display(&self) -> String {
        let mut s = self.program.clone();
        for a in &self.args {
            s.push(' ');
            s.push_str(&crate::output::shell_quote(&a.to_string_lossy()));
        }
        crate::mask::mask(&s).into_owned()
    }

    fn expression(&self) -> Result<duct::Expression> {
        let path = find_program(&self.program, install_hint(&self.program))?;
        if verbose() {
            eprintln!("+ {}", self.display());
        }
        let mut e = duct::cmd(path, &self.args).unchecked();
        if let Some(d) = &self.dir {
            e = e.dir(d);
        }
        for (k, v) in &self.env {
            e = e.env(k, v);
        }
        if let Some(bytes) = &self.stdin {
            e = e.stdin_bytes(bytes.clone());
        }
        Ok(e)
    }

    /// Run, capturing stdout and stderr; a non-zero exit is returned, not an error.
    pub fn output(&self) -> Result<Output> {
        let out = self
            .expression()?
            .stdout_capture()
            .stderr_capture()
            .run()
            .map_err(|e| Error::new(ExitCode::ToolFailed, format!("cannot run `{}`: {e}", self.program)))?;
        Ok(Output {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Run and return stdout (trimmed); a non-zero exit is an [`ExitCode::ToolFailed`] error that quotes
    /// the last lines of stderr.
    pub fn read(&self) -> Result<String> {
        let out = self.output()?;
        if out.status != 0 {
            return Err(self.failed(&out));
        }
        Ok(out.stdout.trim_end().to_string())
    }

    /// Run with the program's stdout and stderr shown on our stderr, line by line and secrets masked (for
    /// `docker build` progress), so that our stdout stays the machine-readable result.
    pub fn run_streaming(&self) -> Result<()> {
        use std::io::BufRead;
        let cannot =
            |e: std::io::Error| Error::new(ExitCode::ToolFailed, format!("cannot run `{}`: {e}", self.program));
        let handle = self.expression()?.stderr_to_stdout().reader().map_err(cannot)?;
        let mut lines = std::io::BufReader::new(&handle);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match lines.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => crate::term::info(String::from_utf8_lossy(&buf).trim_end_matches(['\r', '\n'])),
                Err(e) => return Err(cannot(e)),
            }
        }
        // At end of output the program has normally exited; one that closed its output early is waited for.
        let status = loop {
            if let Some(o) = handle.try_wait().map_err(cannot)? {
                break o.status.code();
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        match status {
            Some(0) => Ok(()),
            code => Err(Error::new(
                ExitCode::ToolFailed,
                format!(
                    "`{}` failed with exit code {}",
                    self.display(),
                    code.map_or("signal".into(), |c| c.to_string())
                ),
            )),
        }
    }

    /// The error for a failed run: command, exit code and the tail of stderr.
    pub fn failed(&self, out: &Output) -> Error {
        let tail: Vec<&str> = out.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = tail[tail.len().saturating_sub(3)..].join(" | ");
        Error::new(
            ExitCode::ToolFailed,
            format!(
                "`{}` failed with exit code {}: {}",
                self.display(),
                out.status,
                tail.trim()
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_program_is_tool_missing() {
        let e = Command::new("shipkit-no-such-program").read().unwrap_err();
        assert_eq!(e.code, ExitCode::ToolMissing);
        assert!(e.message.contains("not installed"));
    }

    #[test]
    fn failure_quotes_stderr_and_masks_secrets() {
        crate::mask::register("hunter2-password");
        let e = Command::new("sh")
            .args(["-c", "echo oops hunter2-password >&2; exit 3"])
            .read()
            .unwrap_err();
        assert_eq!(e.code, ExitCode::ToolFailed);
        let line = e.one_line();
        assert!(line.contains("exit code 3") && line.contains("oops ***"), "{line}");
        assert!(!line.contains("hunter2"));
    }

    #[test]
    fn streaming_output_is_masked_and_failures_reported() {
        crate::mask::register("streamed-secret-42");
        Command::new("sh")
            .args(["-c", "echo building streamed-secret-42"])
            .run_streaming()
            .unwrap();
        let e = Command::new("sh").args(["-c", "exit 4"]).run_streaming().unwrap_err();
        assert!(e.message.contains("exit code 4"), "{}", e.message);
    }

    #[test]
    fn reads_stdout() {
        assert_eq!(Command::new("sh").args(["-c", "echo hi"]).read().unwrap(), "hi");
    }
}
