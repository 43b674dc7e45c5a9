//! `cargo run -p xtask -- <task>`: the files shipkit generates from its own definitions.
//!
//! - `schemas [--check]`: the JSON Schemas of the output contract into `schemas/v1/` (`--check`: fail,
//!   exit 1, when the committed ones differ; the unit test does the same in `cargo test`).
//! - `completions --out DIR`: bash, zsh and fish completions of the five binaries, from their clap
//!   definitions (`DIR/<bin>.bash`, `DIR/_<bin>`, `DIR/<bin>.fish`).
//! - `man --out DIR`: man pages (`DIR/<bin>.1`, `DIR/<bin>-<subcommand>.1`).
//!
//! `scripts/dist` runs `completions` and `man` and puts the results in every archive.

mod schemas;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo run -p xtask -- schemas [--check]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("schemas") => schemas::run(&schemas::committed_dir(), args.iter().any(|a| a == "--check")),
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
