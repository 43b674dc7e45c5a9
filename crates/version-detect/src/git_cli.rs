//! The git CLI where libgit2 is not used: `git fetch` (credentials helpers, protocols and shallow files as
//! the user's git has them), `git ls-remote --tags` (the remote's whole tag list) and `git push` of a release
//! tag. Remote calls run with a deadline, in their own process group, killed with their helpers on timeout.

use crate::repo;
use git2::Repository;
use shipkit_core::cancel::Signal;
use shipkit_core::{Error, ExitCode, Result};
use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The deadline of `--fetch` (a whole history may take a while).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(600);

/// `git fetch --tags [--unshallow] <remote>` with the git CLI, within [`FETCH_TIMEOUT`]. A failure quotes
/// git's own reason (`would clobber existing tag`), not only its exit code.
pub fn fetch(repo: &Repository, remote: &str) -> Result<()> {
    let mut args = vec!["fetch", "--tags"];
    if repo.is_shallow() || !repo::shallow_boundary(repo).is_empty() {
        args.push("--unshallow");
    }
    args.push(remote);
    register_remote_url(repo, remote);
    shipkit_core::term::info(&format!("version-detect: git {}", args.join(" ")));
    let mut cmd = std::process::Command::new("git");
    cmd.arg("-C").arg(workdir(repo)).args(&args);
    let out = run_bounded(cmd, FETCH_TIMEOUT, 1024 * 1024, true)?;
    if let Some(sig) = out.cancelled {
        return Err(shipkit_core::cancel::cancelled_error(sig, "during `git fetch`"));
    }
    if out.timed_out {
        return Err(Error::new(
            ExitCode::ToolFailed,
            format!(
                "`git {}` gave no answer within {}",
                args.join(" "),
                shipkit_core::time::human_duration(FETCH_TIMEOUT)
            ),
        )
        .hint(format!(
            "check that the remote `{remote}` is reachable (--remote NAME), or drop --fetch"
        )));
    }
    if out.status == Some(0) {
        return Ok(());
    }
    let reason = fetch_reason(&out.stderr);
    let hint = if reason.contains("would clobber") {
        "a tag was moved on the remote since it was fetched: take the remote's tags with `git fetch --tags --force` \
         (or delete the local tag), then run again"
            .to_string()
    } else {
        format!("check that the remote `{remote}` is reachable (--remote NAME), or drop --fetch")
    };
    Err(Error::new(
        ExitCode::ToolFailed,
        format!(
            "`git {}` failed (exit code {}): {reason}",
            args.join(" "),
            out.status.unwrap_or(-1)
        ),
    )
    .hint(hint))
}

/// The lines of `git fetch`'s stderr that say why: rejected refs and errors first, else the last lines.
fn fetch_reason(stderr: &str) -> String {
    let key: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.contains("[rejected]") || l.starts_with("error:") || l.starts_with("fatal:"))
        .collect();
    if key.is_empty() {
        return stderr_reason(stderr);
    }
    let joined: String = key
        .iter()
        .take(3)
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" | ");
    let shown: String = joined.chars().take(400).collect();
    shipkit_core::mask::mask(&shown).into_owned()
}

pub fn workdir(repo: &Repository) -> PathBuf {
    repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf()
}

/// Push one tag within `timeout`; on failure delete the local tag so nothing is left half done. The push
/// runs in its own process group: a SIGINT/SIGTERM to our group does not cut it off half way; it finishes (or
/// times out), then the signal is reported (exit 130/143) saying whether the tag reached the remote.
pub fn push_tag(repo: &Repository, remote: &str, name: &str, timeout: Duration) -> Result<()> {
    register_remote_url(repo, remote);
    let refspec = format!("refs/tags/{name}");
    shipkit_core::term::info(&format!("version-detect: git push {remote} {refspec}"));
    let mut cmd = std::process::Command::new("git");
    cmd.arg("-C")
        .arg(workdir(repo))
        .args(["push", "--porcelain", remote, &refspec]);
    let out = run_bounded(cmd, timeout, 1024 * 1024, false)?;
    let signal = shipkit_core::cancel::requested();
    if out.status == Some(0) {
        return match signal {
            Some(sig) => Err(shipkit_core::cancel::cancelled_error(
                sig,
                &format!("after tag {name} was pushed to {remote}: the release tag is complete"),
            )),
            None => Ok(()),
        };
    }
    if let Ok(mut r) = repo.find_reference(&refspec) {
        let _ = r.delete();
    }
    let reason = stderr_reason(&format!("{}\n{}", String::from_utf8_lossy(&out.stdout), out.stderr));
    if let Some(sig) = signal {
        return Err(shipkit_core::cancel::cancelled_error(
            sig,
            &format!("while pushing tag {name}: the push failed ({reason}); the local tag was removed"),
        ));
    }
    if out.timed_out {
        return Err(Error::new(
            ExitCode::ToolFailed,
            format!(
                "`git push {remote} {refspec}` gave no answer within {}; the local tag was removed",
                shipkit_core::time::human_duration(timeout)
            ),
        )
        .hint(format!(
            "the remote may or may not have the tag: check with `git ls-remote --tags {remote} {name}`; \
             --remote-timeout sets the deadline"
        )));
    }
    if reason.contains("already exists") || reason.contains("would clobber") {
        return Err(Error::refused(format!("tag {name} already exists on {remote}")).hint("pick another version"));
    }
    Err(Error::new(
        ExitCode::ToolFailed,
        format!("`git push {remote} {refspec}` failed: {reason}"),
    )
    .hint(format!("check that `{remote}` is reachable and that you may push tags")))
}

/// What a bounded run of a git command gave.
#[derive(Debug)]
pub struct Bounded {
    /// The exit code (`None`: killed).
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
    /// Killed because the deadline passed.
    pub timed_out: bool,
    /// More than the allowed output: killed.
    pub overflow: bool,
    /// Killed because SIGINT/SIGTERM arrived (only when asked to stop on a signal).
    pub cancelled: Option<Signal>,
}

/// The most stderr kept from a child (its last lines are what is quoted).
const MAX_STDERR: usize = 64 * 1024;

fn reader(mut pipe: impl Read + Send + 'static, max: usize) -> mpsc::Receiver<(Vec<u8>, bool)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut limited = (&mut pipe).take(max as u64 + 1);
        let _ = limited.read_to_end(&mut buf);
        let over = buf.len() > max;
        buf.truncate(max);
        let _ = tx.send((buf, over));
    });
    rx
}

/// Kill the child and everything it started (it runs in its own process group).
fn kill_group(child: &mut Child) {
    let pid = child.id();
    if let Ok(kill) = which_kill() {
        let _ = std::process::Command::new(kill)
            .args(["-KILL", "--", &format!("-{pid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
}

fn which_kill() -> Result<PathBuf> {
    ["/usr/bin/kill", "/bin/kill"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| Error::failure("no kill program"))
}

/// Run `cmd` (git) with a deadline: stdin closed, no terminal prompts, in its own process group (a CI's
/// signal to our group does not cut it off half way; we decide), killed with everything it started when
/// `timeout` passes, when its stdout passes `max_stdout` bytes, or (with `stop_on_signal`) when SIGINT or
/// SIGTERM arrives.
pub fn run_bounded(
    mut cmd: std::process::Command,
    timeout: Duration,
    max_stdout: usize,
    stop_on_signal: bool,
) -> Result<Bounded> {
    use std::os::unix::process::CommandExt;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("GIT_TERMINAL_PROMPT", "0")
        .process_group(0);
    if shipkit_core::exec::verbose() {
        let shown: Vec<String> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        eprintln!("+ git {}", shipkit_core::mask::mask(&shown.join(" ")));
    }
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::new(ExitCode::ToolMissing, "`git` is not installed or not on PATH")
                .hint(shipkit_core::exec::install_hint("git"))
        } else {
            Error::new(ExitCode::ToolFailed, format!("cannot run git: {e}"))
        }
    })?;
    let out_rx = child.stdout.take().map(|p| reader(p, max_stdout));
    let err_rx = child.stderr.take().map(|p| reader(p, MAX_STDERR));
    let deadline = shipkit_core::time::deadline_after(timeout);
    let (mut timed_out, mut cancelled, mut polls) = (false, None, 0u32);
    let status = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break st.code();
        }
        if Instant::now() >= deadline {
            timed_out = true;
        } else if stop_on_signal {
            cancelled = shipkit_core::cancel::requested();
        }
        if timed_out || cancelled.is_some() {
            kill_group(&mut child);
            let _ = child.wait();
            break None;
        }
        polls += 1;
        std::thread::sleep(Duration::from_millis(if polls < 50 { 1 } else { 10 }));
    };
    // Grandchildren were killed with the group; a pipe still held open elsewhere is given up on.
    let collect = |rx: Option<mpsc::Receiver<(Vec<u8>, bool)>>| {
        rx.and_then(|r| r.recv_timeout(Duration::from_secs(2)).ok())
            .unwrap_or_default()
    };
    let (stdout, overflow) = collect(out_rx);
    let (stderr, _) = collect(err_rx);
    Ok(Bounded {
        status,
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        timed_out,
        overflow,
        cancelled,
    })
}

/// The last meaningful lines of git's stderr, joined on one line.
pub fn stderr_reason(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
    let shown: String = tail.chars().take(400).collect();
    shipkit_core::mask::mask(&shown).into_owned()
}

/// The most tags read from a remote, and the most bytes of `git ls-remote` output.
pub const MAX_REMOTE_TAGS: usize = 1_000_000;
const MAX_LS_REMOTE_BYTES: usize = 256 * 1024 * 1024;

/// Every tag name on `remote` (`git ls-remote --tags --refs`), within `timeout`. `Err` is the reason the
/// remote could not be asked, for a warning.
pub fn ls_remote_tags(repo: &Repository, remote: &str, timeout: Duration) -> std::result::Result<Vec<String>, String> {
    register_remote_url(repo, remote);
    let mut cmd = std::process::Command::new("git");
    cmd.arg("-C")
        .arg(workdir(repo))
        .args(["ls-remote", "--tags", "--refs", remote]);
    let out = run_bounded(cmd, timeout, MAX_LS_REMOTE_BYTES, true).map_err(|e| e.message)?;
    if let Some(sig) = out.cancelled {
        return Err(format!("cancelled by {}", sig.name()));
    }
    if out.timed_out {
        return Err(format!(
            "`git ls-remote {remote}` gave no answer within {}",
            shipkit_core::time::human_duration(timeout)
        ));
    }
    if out.overflow {
        return Err(format!(
            "`git ls-remote {remote}` printed more than {MAX_LS_REMOTE_BYTES} bytes"
        ));
    }
    if out.status != Some(0) {
        let reason = stderr_reason(&out.stderr);
        return Err(if reason.is_empty() {
            format!("`git ls-remote {remote}` failed with exit code {:?}", out.status)
        } else {
            reason
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let names: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_once('\t').map(|(_, r)| r))
        .filter_map(|r| r.strip_prefix("refs/tags/"))
        .take(MAX_REMOTE_TAGS)
        .map(str::to_string)
        .collect();
    Ok(names)
}

/// Mask the remote's URL (it may carry a token) in everything printed.
pub fn register_remote_url(repo: &Repository, remote: &str) {
    if let Ok(r) = repo.find_remote(remote) {
        if let Ok(u) = r.url() {
            shipkit_core::mask::register_url(u);
        }
    }
}
