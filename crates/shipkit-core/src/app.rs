//! The one entry point every tool's `main` calls: parse flags with clap, render clap's errors in the
//! documented one-line form, install the signal handlers, run the tool, print its error as one masked line
//! (plus a GitHub `::error::` annotation) and exit with the documented code.
//!
//! ```text
//! fn main() -> std::process::ExitCode {
//!     shipkit_core::app::run::<Cli>("version-detect", std::env::args_os(), |cli| version_detect::run(&cli))
//! }
//! ```
//!
//! The single `shipkit` binary calls the same function with the subcommand's arguments, so a tool behaves
//! the same under either name.

use crate::error::{Error, ExitCode, Result};
use std::ffi::OsString;

/// Parse `args` as `P`, then run `body`. `body` returns the process exit code on success (0, or e.g. a
/// one-off task's own exit code); an `Err` becomes `<tool>: error: … (hint: …)` on stderr and its code.
pub fn run<P: clap::Parser>(
    tool: &str,
    args: impl IntoIterator<Item = OsString>,
    body: impl FnOnce(P) -> Result<u8>,
) -> std::process::ExitCode {
    crate::mask::register_from_env();
    crate::cancel::install();
    let parsed = match P::try_parse_from(args) {
        Ok(p) => p,
        Err(e) => return clap_exit(tool, &e),
    };
    match body(parsed) {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => report(tool, &e),
    }
}

/// Print `e` as the tool's one error line (and annotation) and return its exit code.
pub fn report(tool: &str, e: &Error) -> std::process::ExitCode {
    let line = e.one_line();
    // the annotation is already an error: `::error::<tool>: message`, not `::error::error: message`
    crate::term::annotate_error(&format!("{tool}: {}", line.strip_prefix("error: ").unwrap_or(&line)));
    crate::term::info(&format!("{tool}: {line}"));
    std::process::ExitCode::from(e.code.code())
}

/// `--help`/`--version` print as clap prints them (exit 0), a missing subcommand prints the help (exit 2); every other clap error becomes one line:
/// `tool: error: unexpected argument '--tiemout' found (hint: a similar argument exists: '--timeout')`,
/// exit 2.
fn clap_exit(tool: &str, e: &clap::Error) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            std::process::ExitCode::SUCCESS
        }
        // Nothing asked (`shipkit` alone): the help, on stderr, exit 2.
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            std::process::ExitCode::from(ExitCode::Usage.code())
        }
        _ => report(tool, &clap_error(tool, e)),
    }
}

/// A clap error as a shipkit [`Error`]: the first line of clap's message, clap's tips as the hint (or
/// "see `<tool> --help`"), exit 2.
pub fn clap_error(tool: &str, e: &clap::Error) -> Error {
    let rendered = e.render().to_string();
    let mut message = String::new();
    let mut tips = Vec::new();
    for line in rendered.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("Usage:") || line.starts_with("For more information") {
            continue;
        }
        if let Some(tip) = line.strip_prefix("tip: ") {
            tips.push(tip.to_string());
        } else if message.is_empty() {
            message = line.strip_prefix("error: ").unwrap_or(line).to_string();
        } else if !line.starts_with(tool) {
            // clap's multi-line bodies (e.g. a list of possible values) fold into the message.
            message.push_str("; ");
            message.push_str(line);
        }
    }
    if message.is_empty() {
        message = "invalid command line".into();
    }
    let hint = if tips.is_empty() {
        format!("see `{tool} --help`")
    } else {
        tips.join("; ")
    };
    Error::new(ExitCode::Usage, message).hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    #[command(name = "demo")]
    struct Demo {
        #[arg(long)]
        timeout: Option<String>,
        #[arg(long, value_enum)]
        format: Option<Fmt>,
    }
    #[derive(Debug, Clone, clap::ValueEnum)]
    enum Fmt {
        Text,
        Json,
    }

    #[test]
    fn unknown_flag_keeps_clap_suggestion_on_one_line() {
        let e = Demo::try_parse_from(["demo", "--tiemout", "1"]).unwrap_err();
        let line = clap_error("demo", &e).one_line();
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.starts_with("error: unexpected argument '--tiemout' found"),
            "{line}"
        );
        assert!(line.contains("(hint: "), "{line}");
        assert!(line.contains("--timeout"), "{line}");
    }

    #[test]
    fn bad_value_is_one_line_exit_2() {
        let e = Demo::try_parse_from(["demo", "--format", "yaml"]).unwrap_err();
        let err = clap_error("demo", &e);
        assert_eq!(err.code, ExitCode::Usage);
        let line = err.one_line();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("yaml"), "{line}");
    }
}
