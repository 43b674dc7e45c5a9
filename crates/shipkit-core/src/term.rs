//! Talking to the person (or the CI log) on stderr: colour only on a TTY and without `NO_COLOR`,
//! progress lines, warnings, and GitHub Actions annotations and step summaries when run there.

use std::io::{IsTerminal, Write};

/// Is stderr a terminal?
pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}

/// Colour is used only on a terminal, and never when `NO_COLOR` is set (https://no-color.org).
pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && stderr_is_tty()
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// Running under GitHub Actions (annotations and step summary apply)?
pub fn in_github_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

fn paint(code: &str, s: &str) -> String {
    if color_enabled() {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

/// Print a progress / status line to stderr, secrets masked.
pub fn info(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{}", crate::mask::mask(line));
}

/// A step that succeeded (`✓`, green on a TTY).
pub fn success(line: &str) {
    info(&format!("{} {}", paint("32", "ok:"), line));
}

/// A warning: stderr, and a `::warning::` annotation on GitHub Actions.
pub fn warn(line: &str) {
    let masked = crate::mask::mask(line);
    if in_github_actions() {
        info(&format!("::warning::{}", escape_annotation(&masked)));
    } else {
        info(&format!("{} {}", paint("33", "warning:"), masked));
    }
}

/// An error annotation on GitHub Actions (the plain error line is printed by the main wrapper).
pub fn annotate_error(line: &str) {
    if in_github_actions() {
        info(&format!("::error::{}", escape_annotation(&crate::mask::mask(line))));
    }
}

/// Append Markdown to `$GITHUB_STEP_SUMMARY` when run on GitHub Actions; elsewhere nothing.
pub fn step_summary(markdown: &str) {
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{}", crate::mask::mask(markdown));
        }
    }
}

/// GitHub's workflow-command escaping for annotation messages.
pub fn escape_annotation(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    #[test]
    fn annotation_escaping() {
        assert_eq!(super::escape_annotation("50%\nnext"), "50%25%0Anext");
    }
}
