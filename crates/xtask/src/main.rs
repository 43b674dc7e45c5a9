//! `cargo run -p xtask -- <task>`: the files shipkit generates from its own definitions.
//!
//! - `schemas [--check]`: the JSON Schemas of the output contract into `schemas/v1/` (`--check`: fail,
//!   exit 1, when the committed ones differ; the unit test does the same in `cargo test`).
//! - `completions --out DIR`: bash, zsh and fish completions of the five binaries, from their clap
//!   definitions (`DIR/<bin>.bash`, `DIR/_<bin>`, `DIR/<bin>.fish`).
//! - `man --out DIR`: man pages (`DIR/<bin>.1`, `DIR/<bin>-<subcommand>.1`).
//!
//! `scripts/dist` runs `completions` and `man` and puts the results in every archive.

use xtask::{docs, schemas};

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: cargo run -p xtask -- schemas [--check] | completions --out DIR | man --out DIR";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = || {
        args.iter()
            .position(|a| a == "--out")
            .and_then(|i| args.get(i + 1))
            .map(PathBuf::from)
    };
    let result = match (args.first().map(String::as_str), out()) {
        (Some("schemas"), _) => schemas::run(&schemas::committed_dir(), args.iter().any(|a| a == "--check")),
        (Some("completions"), Some(dir)) => docs::completions(&dir),
        (Some("man"), Some(dir)) => docs::man_pages(&dir),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}
