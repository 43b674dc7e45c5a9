//! The properties every target asserts (a failed assertion is a panic, so the engine reports it as a
//! finding like any other panic).

use shipkit_core::{Error, ExitCode};

/// Every error is one line and carries a documented exit code.
pub fn one_line_error(e: &Error) {
    let line = e.one_line();
    assert!(!line.contains(['\n', '\r']), "error is not one line: {line:?}");
    assert!(ExitCode::ALL.contains(&e.code), "undocumented exit code {:?}", e.code);
    assert!(!line.trim().is_empty(), "empty error message");
}

/// An error with one of the expected codes (bad input is a usage or config error, never e.g. a crash).
pub fn error_with_code(e: &Error, expected: &[ExitCode]) {
    one_line_error(e);
    assert!(
        expected.contains(&e.code),
        "exit code {:?} for {:?}, expected one of {expected:?}",
        e.code,
        e.one_line()
    );
}

/// Any other error type printed to users: its text must be one line too.
pub fn one_line_text(s: &str) {
    assert!(!s.contains(['\n', '\r']), "message is not one line: {s:?}");
}

/// The input as text, as a flag, env var or file would give it.
pub fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}
