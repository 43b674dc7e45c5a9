//! What every tool's command line shares: the output flags, `--config`, `--verbose`, and the `main`
//! wrapper that prints one masked error line and exits with the documented code.

use crate::error::{ExitCode, Result};
use crate::output::{Format, OutputOptions};
use std::path::PathBuf;

/// The version every tool's `--version` prints: `SHIPKIT_BUILD_VERSION` at build time when set (`scripts/dist`
/// sets it to the version `version-detect` computed for the checkout, so release archives, `--version` and
/// `install.sh`'s "already installed" check agree), else the crate version. Use it as
/// `#[command(version = shipkit_core::cli::VERSION)]`.
pub const VERSION: &str = match option_env!("SHIPKIT_BUILD_VERSION") {
    Some(v) => v,
    None => env!("CARGO_PKG_VERSION"),
};

/// Flags shared by every shipkit tool. Each also reads an environment variable.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
    /// Output format: text, json, env (KEY=value for sh), github ($GITHUB_OUTPUT),
    /// circleci ($BASH_ENV), dotenv (GitLab artifacts:reports:dotenv file).
    #[arg(long, value_enum, default_value = "text", env = "SHIPKIT_FORMAT", global = true)]
    pub format: Format,

    /// Prefix for env-style keys (env, circleci, dotenv; lower-cased for github).
    #[arg(
        long,
        default_value = "",
        env = "SHIPKIT_ENV_PREFIX",
        global = true,
        value_name = "PREFIX"
    )]
    pub env_prefix: String,

    /// Write json/env output to this file instead of stdout; the dotenv file (default shipkit.env).
    #[arg(long, env = "SHIPKIT_OUTPUT_FILE", global = true, value_name = "FILE")]
    pub output_file: Option<PathBuf>,

    /// Config file (default: shipkit.yml found in this directory or a parent up to the repository root).
    #[arg(long, env = "SHIPKIT_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Echo the commands and requests made (secrets masked).
    #[arg(short, long, env = "SHIPKIT_VERBOSE", global = true)]
    pub verbose: bool,
}

impl CommonArgs {
    pub fn output_options(&self) -> OutputOptions {
        OutputOptions {
            format: self.format,
            env_prefix: self.env_prefix.clone(),
            output_file: self.output_file.clone(),
        }
    }

    /// Apply `--verbose` and load the config file (explicit `--config` must exist).
    pub fn init(&self) -> Result<crate::config::Loaded> {
        crate::exec::set_verbose(self.verbose);
        crate::config::Loaded::find(self.config.as_deref())
    }
}

/// Run a tool's body: register secrets from the environment, catch SIGINT/SIGTERM, run, and on error print
/// `<tool>: error: ... (hint: ...)` as one masked line (plus a GitHub `::error::` annotation when run there)
/// and exit with the error's code. Prefer [`crate::app::run`], which also parses and renders clap errors.
pub fn run_main(tool: &str, body: impl FnOnce() -> Result<()>) -> std::process::ExitCode {
    crate::mask::register_from_env();
    crate::cancel::install();
    match body() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => crate::app::report(tool, &e),
    }
}

/// Text for `after_long_help`: the exit codes and where the docs are.
pub fn exit_codes_help() -> String {
    format!(
        "{}\nDocs: README.md (\"Exit codes\", \"The contract between the tools\")",
        ExitCode::help_table()
    )
}

/// `true/1/yes/on` → `Some(true)`, `false/0/no/off` → `Some(false)`, empty → `None` (an unset CI input);
/// anything else is an error naming the value.
pub fn parse_bool(s: &str) -> std::result::Result<Option<bool>, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "false" | "0" | "no" | "off" => Ok(Some(false)),
        "true" | "1" | "yes" | "on" => Ok(Some(true)),
        other => Err(format!("`{other}` is not true or false")),
    }
}

/// For a boolean flag that also reads an env var (`value_parser = shipkit_core::cli::bool_flag`):
/// as [`parse_bool`], with an empty value (a CI template's unset input) meaning false.
pub fn bool_flag(s: &str) -> std::result::Result<bool, String> {
    parse_bool(s).map(|b| b.unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans() {
        assert_eq!(parse_bool(" Yes "), Ok(Some(true)));
        assert_eq!(parse_bool("0"), Ok(Some(false)));
        assert_eq!(parse_bool(""), Ok(None));
        assert_eq!(bool_flag(""), Ok(false));
        assert_eq!(bool_flag("on"), Ok(true));
        assert!(bool_flag("maybe").unwrap_err().contains("maybe"));
    }
}
