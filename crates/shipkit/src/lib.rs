//! `shipkit`: the four shipkit tools in one binary, and `shipkit init`.
//!
//! - `shipkit version|image|deploy|notify ARGS…` runs `version-detect|docker-tag-push|deploy-ecs|notify
//!   ARGS…` (each tool's own `entry`, so flags, outputs, errors and exit codes are the tool's).
//! - Busybox-style: invoked under a tool's name (a link or copy named `version-detect`, ...), it is that tool.
//! - `shipkit init` sets up a repository ([`commands::init`]).
//!
//! Layout: [`cli`] (clap only), [`commands`] (one file per command), this file (dispatch).

pub mod cli;
pub mod commands;

pub use cli::Cli;

use std::ffi::OsString;
use std::process::ExitCode;

/// One of the four tools: its `shipkit` subcommand, its own name, and its entry point.
pub struct Tool {
    pub subcommand: &'static str,
    pub name: &'static str,
    pub entry: fn(Vec<OsString>) -> ExitCode,
}

/// The tools, in pipeline order.
pub const TOOLS: [Tool; 4] = [
    Tool {
        subcommand: "version",
        name: "version-detect",
        entry: |args| version_detect::entry(args),
    },
    Tool {
        subcommand: "image",
        name: "docker-tag-push",
        entry: |args| docker_tag_push::entry(args),
    },
    Tool {
        subcommand: "deploy",
        name: "deploy-ecs",
        entry: |args| deploy_ecs::entry(args),
    },
    Tool {
        subcommand: "notify",
        name: "notify",
        entry: |args| notify::entry(args),
    },
];

/// The tool a program name or subcommand names (`version`, `version-detect`, ...).
pub fn tool(name: &str) -> Option<&'static Tool> {
    TOOLS.iter().find(|t| t.subcommand == name || t.name == name)
}

/// The program's name from `argv[0]`: its file name without directory or `.exe`.
fn program_name(argv0: &OsString) -> String {
    let name = std::path::Path::new(argv0)
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Only Windows' `.exe`: a copy named `notify.bak` or `deploy-ecs.old` is not that tool.
    match name.len().checked_sub(4) {
        Some(cut) if name.is_char_boundary(cut) && name[cut..].eq_ignore_ascii_case(".exe") => name[..cut].to_string(),
        _ => name,
    }
}

/// The whole program: busybox-style dispatch on `argv[0]`, then on the first argument; anything else
/// (`--help`, `--version`, `help`, `init`, a typo) is parsed by [`Cli`].
pub fn entry(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let mut args: Vec<OsString> = args.into_iter().collect();
    if let Some(tool) = args
        .first()
        .map(program_name)
        .and_then(|n| TOOLS.iter().find(|t| t.name == n))
    {
        return (tool.entry)(args);
    }
    if let Some(tool) = args.get(1).and_then(|a| a.to_str()).and_then(tool) {
        let mut rest = args.split_off(2);
        // clap names the program after argv[0]: usage lines read `shipkit version [OPTIONS]`.
        rest.insert(0, OsString::from(format!("shipkit {}", tool.subcommand)));
        return (tool.entry)(rest);
    }
    if let [_, flag] = args.as_slice() {
        if flag == "--version" || flag == "-V" {
            return print_version();
        }
    }
    shipkit_core::app::run::<Cli>("shipkit", args, run)
}

/// `shipkit --version`, as clap would print it, without building the command tree of all four tools first:
/// that tree is most of the start-up (musl's allocator maps and unmaps each piece; 6.3 ms → see BENCHMARKS).
fn print_version() -> ExitCode {
    use std::io::Write;
    let line = format!("shipkit {}\n", shipkit_core::cli::VERSION);
    // A closed stdout (`shipkit --version | true`) is not an error worth a panic.
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
    ExitCode::SUCCESS
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> shipkit_core::Result<u8> {
    match cli.command {
        cli::Command::Version(c) => version_detect::run(&c),
        cli::Command::Image(c) => docker_tag_push::run(&c),
        cli::Command::Deploy(c) => deploy_ecs::run(c),
        cli::Command::Notify(c) => notify::run(&c),
        cli::Command::Init(a) => commands::init::run(&a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn program_names() {
        assert_eq!(program_name(&"/usr/local/bin/version-detect".into()), "version-detect");
        assert_eq!(program_name(&"shipkit.exe".into()), "shipkit");
        assert_eq!(program_name(&"/opt/bin/notify.EXE".into()), "notify");
        assert_eq!(program_name(&"notify.bak".into()), "notify.bak");
        assert_eq!(program_name(&"deploy-ecs.old".into()), "deploy-ecs.old");
        assert_eq!(program_name(&".exe".into()), "");
        assert_eq!(program_name(&"é.exe".into()), "é");
        assert_eq!(tool("image").map(|t| t.name), Some("docker-tag-push"));
        assert_eq!(tool("deploy-ecs").map(|t| t.subcommand), Some("deploy"));
        assert!(tool("init").is_none());
    }
}
