//! `shipkit init`: set up a repository for shipkit.
//!
//! Detects the CI system (its config files, else the `origin` remote's host) and the Dockerfile, takes
//! every other value from flags or defaults, checks them all, refuses to overwrite an existing file without
//! `--force` (checking every destination before writing any), writes `shipkit.yml` and the CI config from
//! the templates pinned to this shipkit's version, and prints the CI variables and secrets to set. On a
//! terminal it asks only for the CI system, and only when it cannot tell; `--no-input` never asks.

mod detect;
mod lock;
mod render;
mod write;

pub use render::{File, Plan};

use crate::cli::{Ci, InitArgs};
use shipkit_core::output::print_stdout;
use shipkit_core::{Error, Result};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

/// Run `shipkit init`.
pub fn run(a: &InitArgs) -> Result<u8> {
    if !a.dir.is_dir() {
        return Err(Error::usage(format!("{} is not a directory", a.dir.display()))
            .hint("run in the repository, or pass --dir DIR"));
    }
    detect::repository_top(&a.dir)?;
    let interactive = !a.no_input && std::io::stdin().is_terminal();
    let plan = plan(a, &mut |question| interactive.then(|| ask(question)).flatten());
    // Ctrl-C at the question: the signal, not "no answer", is why there is no plan.
    shipkit_core::cancel::check("before anything was written")?;
    let plan = plan?;
    let files = plan.files();
    if a.dry_run {
        for f in &files {
            print_stdout(&format!("# {}\n{}\n", f.path.display(), f.text))?;
        }
        return Ok(0);
    }
    write::write_all(&a.dir, &files, a.force)?;
    let mut text = String::new();
    for f in &files {
        text.push_str(&format!("wrote {}\n", f.path.display()));
    }
    text.push_str(&format!(
        "\nshipkit {} pinned. Before the first run, set:\n{}",
        plan.shipkit_version,
        plan.secrets()
    ));
    if plan.shipkit_version.contains(['-', '+']) {
        text.push_str(&format!(
            "\nnote: {} is not a release; pass --shipkit-version X.Y.Z to pin one.\n",
            plan.shipkit_version
        ));
    }
    print_stdout(&text)?;
    Ok(0)
}

/// Resolve every value: flags, then detection, then `ask` (which answers `None` when it may not ask).
pub fn plan(a: &InitArgs, ask: &mut dyn FnMut(&str) -> Option<String>) -> Result<Plan> {
    let ci = match a.ci {
        Some(ci) => ci,
        None => choose_ci(&detect::ci_systems(&a.dir), ask)?,
    };
    let service = match &a.service {
        Some(s) if s.trim().is_empty() => {
            return Err(Error::usage("--service is empty")
                .hint("pass --service NAME, or leave it (and SHIPKIT_SERVICE) unset for the directory's name"))
        }
        Some(s) => s.trim().to_string(),
        None => default_service(&a.dir)?,
    };
    let dockerfile = match &a.dockerfile {
        Some(p) => {
            if !a.dir.join(p).is_file() {
                return Err(Error::usage(format!(
                    "--dockerfile {} does not exist in {}",
                    p.display(),
                    a.dir.display()
                ))
                .hint("give the path relative to the repository"));
            }
            p.clone()
        }
        None => detect::dockerfile(&a.dir)?,
    };
    let context = match dockerfile.parent().map(|p| p.to_string_lossy().into_owned()) {
        Some(p) if !p.is_empty() => p,
        _ => ".".to_string(),
    };
    let repositories = if a.images.is_empty() {
        let default = format!("${{ECR_REGISTRY}}/{service}");
        if render::repository(&default).is_err() {
            return Err(Error::usage(format!(
                "--service `{service}` does not make an image repository name ({default})"
            ))
            .hint("pass --image REGISTRY/NAME, or a --service whose `.`, `_` and `-` stand alone"));
        }
        vec![default]
    } else {
        a.images.iter().map(|s| s.trim().to_string()).collect()
    };
    let ecs_services = if a.ecs_services.is_empty() {
        if !service.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)) {
            return Err(Error::usage(format!(
                "--service `{service}` is also the default ECS service name, which cannot hold `.`"
            ))
            .hint("pass --ecs-services NAMES (letters, digits, - and _)"));
        }
        vec![service.clone()]
    } else {
        a.ecs_services.iter().map(|s| s.trim().to_string()).collect()
    };
    let plan = Plan {
        ci,
        service,
        repositories,
        context,
        dockerfile: dockerfile.to_string_lossy().replace('\\', "/"),
        region: a.region.trim().to_string(),
        staging_cluster: a.staging_cluster.trim().to_string(),
        production_cluster: a.production_cluster.trim().to_string(),
        ecs_services,
        shipkit_version: a
            .shipkit_version
            .clone()
            .unwrap_or_else(|| shipkit_core::cli::VERSION.to_string()),
    };
    plan.validate()?;
    detect::inside(&a.dir, &plan.dockerfile, "the Dockerfile")?;
    detect::inside(&a.dir, &plan.context, "the build context")?;
    Ok(plan)
}

/// One detected CI is the answer; none or several: ask, or say which flag decides.
fn choose_ci(found: &[Ci], ask: &mut dyn FnMut(&str) -> Option<String>) -> Result<Ci> {
    if let [one] = found {
        return Ok(*one);
    }
    let why = if found.is_empty() {
        "cannot tell which CI this repository uses".to_string()
    } else {
        format!("this repository has configs for several CI systems ({})", names(found))
    };
    let answer = ask(&format!("{why}. Which one: github, circleci or gitlab? "));
    match answer.as_deref().map(str::trim) {
        Some(a) => <Ci as clap::ValueEnum>::from_str(a, true)
            .map_err(|_| Error::usage(format!("`{a}` is not a CI system")).hint("answer github, circleci or gitlab")),
        None => Err(Error::usage(why).hint("pass --ci github|circleci|gitlab")),
    }
}

fn names(cis: &[Ci]) -> String {
    cis.iter()
        .filter_map(|c| clap::ValueEnum::to_possible_value(c).map(|v| v.get_name().to_string()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The repository directory's name, lower-cased, other characters as `-`.
fn default_service(dir: &Path) -> Result<String> {
    let abs = dir
        .canonicalize()
        .map_err(|e| Error::usage(format!("cannot resolve {}: {e}", dir.display())))?;
    let raw = abs
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_matches('-').to_string();
    if name.is_empty() {
        return Err(Error::usage(format!("cannot make a service name from `{raw}`")).hint("pass --service NAME"));
    }
    Ok(name)
}

/// Ask on the terminal; `None` at end of input, or when SIGINT/SIGTERM arrives while waiting (the read
/// itself would go on after the signal: it runs on its own thread, and this one stops waiting for it).
fn ask(question: &str) -> Option<String> {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{question}");
    let _ = err.flush();
    drop(err);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let answer = match std::io::stdin().lock().read_line(&mut line) {
            Ok(n) if n > 0 => Some(line),
            _ => None,
        };
        let _ = tx.send(answer);
    });
    loop {
        match rx.recv_timeout(std::time::Duration::from_millis(50)) {
            Ok(answer) => return answer,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return None,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if shipkit_core::cancel::requested().is_some() {
                    let _ = writeln!(std::io::stderr());
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(dir: &Path, extra: &[&str]) -> InitArgs {
        let mut argv = vec!["shipkit", "init", "--dir", dir.to_str().unwrap()];
        argv.extend(extra);
        match crate::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Init(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn asks_only_for_the_ci_and_only_when_it_cannot_tell() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        let mut asked = vec![];
        let p = plan(&args(d.path(), &[]), &mut |q| {
            asked.push(q.to_string());
            Some("GitLab\n".into())
        })
        .unwrap();
        assert_eq!(p.ci, Ci::Gitlab);
        assert_eq!(asked.len(), 1, "{asked:?}");
        let mut never = |q: &str| -> Option<String> { panic!("asked {q}") };
        let p = plan(
            &args(d.path(), &["--ci", "circleci", "--service", "billing"]),
            &mut never,
        )
        .unwrap();
        assert_eq!((p.ci, p.service.as_str()), (Ci::Circleci, "billing"));
        let err = plan(&args(d.path(), &[]), &mut |_| None).unwrap_err();
        assert!(err.hint.as_deref().unwrap_or("").contains("--ci"), "{err:?}");
        let err = plan(&args(d.path(), &[]), &mut |_| Some("jenkins".into())).unwrap_err();
        assert!(err.message.contains("jenkins"), "{err:?}");
    }

    #[test]
    fn service_name_from_the_directory() {
        let d = tempfile::tempdir().unwrap();
        let repo = d.path().join("Billing_API");
        std::fs::create_dir(&repo).unwrap();
        assert_eq!(default_service(&repo).unwrap(), "billing-api");
    }
}
