//! `shipkit-fuzz [SECONDS] [TARGET...]`: fuzz each target (all by default) for SECONDS (default 60),
//! print executions per target, exit 1 on the first finding (saved under `target/fuzz-findings/`).
//! `shipkit-fuzz --list` names the targets. `SHIPKIT_FUZZ_SEED` replays a run.
#![allow(clippy::print_stderr)]

use shipkit_fuzz::{engine, targets};
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for t in targets::ALL {
            println!("{:<20} {}", t.name, t.about);
        }
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("usage: shipkit-fuzz [SECONDS] [TARGET...]   (shipkit-fuzz --list names the targets)");
        return ExitCode::SUCCESS;
    }
    let (seconds, names) = match args.first().map(|a| a.parse::<u64>()) {
        Some(Ok(n)) => (n, &args[1..]),
        _ => (60, &args[..]),
    };
    let mut chosen = Vec::new();
    for name in names {
        if let Some(t) = targets::by_name(name) {
            chosen.push(t);
        } else {
            eprintln!("shipkit-fuzz: error: unknown target `{name}` (hint: shipkit-fuzz --list)");
            return ExitCode::from(2);
        }
    }
    if chosen.is_empty() {
        chosen = targets::ALL.iter().collect();
    }
    let seed = std::env::var("SHIPKIT_FUZZ_SEED").ok().and_then(|s| s.parse().ok());
    let mut total = 0u64;
    for t in chosen {
        match engine::fuzz(t, Duration::from_secs(seconds), seed) {
            Ok(s) => {
                total += s.execs;
                println!(
                    "{:<20} {:>9} execs in {:>5.1}s  ({:>7.0}/s, corpus {:>3}, slowest {:>6.1} ms, seed {})",
                    t.name,
                    s.execs,
                    s.elapsed.as_secs_f64(),
                    f64::from(u32::try_from(s.execs).unwrap_or(u32::MAX)) / s.elapsed.as_secs_f64().max(0.001),
                    s.corpus,
                    s.slowest.as_secs_f64() * 1000.0,
                    s.seed
                );
            }
            Err(f) => {
                eprintln!("shipkit-fuzz: FINDING in {f}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("total: {total} execs, no panic, every error one line with a documented exit code");
    ExitCode::SUCCESS
}
