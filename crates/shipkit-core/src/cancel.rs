//! Cancellation by SIGINT/SIGTERM — what every CI sends when a job is cancelled or times out.
//!
//! [`install`] (called by [`crate::app::run`]) records the first SIGINT or SIGTERM instead of dying, so a
//! tool can stop waiting, undo or report what it did, write its outputs with status `cancelled`, and exit
//! 130 (SIGINT) or 143 (SIGTERM). A second signal of the same kind ends the process at once, as a user
//! pressing Ctrl-C twice expects.
//!
//! Long waits use [`sleep`] (wakes within 50 ms of a signal) and check [`check`] between steps.

use crate::error::{Error, ExitCode, Result};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Which signal asked us to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C): exit 130.
    Interrupt,
    /// SIGTERM (CI cancel, job timeout, `docker stop`): exit 143.
    Terminate,
}

impl Signal {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Signal::Interrupt => ExitCode::Interrupted,
            Signal::Terminate => ExitCode::Terminated,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

const NONE: usize = 0;
const SIGINT_SEEN: usize = 2;
const SIGTERM_SEEN: usize = 15;

fn state() -> &'static Arc<AtomicUsize> {
    static STATE: OnceLock<Arc<AtomicUsize>> = OnceLock::new();
    STATE.get_or_init(|| Arc::new(AtomicUsize::new(NONE)))
}

/// Catch SIGINT and SIGTERM from now on (idempotent). The first one is recorded; a second one of the same
/// kind terminates the process with the default action.
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        use signal_hook::consts::{SIGINT, SIGTERM};
        for (sig, value) in [(SIGINT, SIGINT_SEEN), (SIGTERM, SIGTERM_SEEN)] {
            // Order matters: the conditional default is armed by the flag that the first signal sets.
            let seen = Arc::new(AtomicBool::new(false));
            let _ = signal_hook::flag::register_conditional_default(sig, Arc::clone(&seen));
            let _ = signal_hook::flag::register(sig, seen);
            let _ = signal_hook::flag::register_usize(sig, Arc::clone(state()), value);
        }
    });
}

/// The signal received, if any.
pub fn requested() -> Option<Signal> {
    match state().load(Ordering::SeqCst) {
        SIGINT_SEEN => Some(Signal::Interrupt),
        SIGTERM_SEEN => Some(Signal::Terminate),
        _ => None,
    }
}

/// Pretend a signal arrived (tests, and a tool that wants to stop all its workers the same way).
pub fn request(signal: Signal) {
    let v = match signal {
        Signal::Interrupt => SIGINT_SEEN,
        Signal::Terminate => SIGTERM_SEEN,
    };
    state().store(v, Ordering::SeqCst);
}

/// The error a cancelled operation returns: exit 130/143, one line naming the signal and `what` was stopped.
pub fn cancelled_error(signal: Signal, what: &str) -> Error {
    Error::new(signal.exit_code(), format!("cancelled by {} {what}", signal.name()))
}

/// `Err(cancelled)` once a signal has arrived; call it between steps.
pub fn check(what: &str) -> Result<()> {
    match requested() {
        Some(s) => Err(cancelled_error(s, what)),
        None => Ok(()),
    }
}

/// Sleep for `d`, waking early (with `Err`) when a signal arrives.
pub fn sleep(d: Duration, what: &str) -> Result<()> {
    let end = crate::time::deadline_after(d);
    loop {
        check(what)?;
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names() {
        assert_eq!(Signal::Interrupt.exit_code().code(), 130);
        assert_eq!(Signal::Terminate.exit_code().code(), 143);
        let e = cancelled_error(Signal::Terminate, "while waiting for the deployment");
        assert_eq!(e.code.code(), 143);
        assert_eq!(
            e.one_line(),
            "error: cancelled by SIGTERM while waiting for the deployment"
        );
    }
}
