//! `shipkit init`: set up a repository for shipkit.
//!
//! Detects the CI system (its config files, else the `origin` remote's host) and the Dockerfile, takes
//! every other value from flags or defaults, checks them all, refuses to overwrite an existing file without
//! `--force` (checking every destination before writing any), writes `shipkit.yml` and the CI config from
//! the templates pinned to this shipkit's version, and prints the CI variables and secrets to set. On a
//! terminal it asks only for the CI system, and only when it cannot tell; `--no-input` never asks.

mod detect;
mod render;

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
    let interactive = !a.no_input && std::io::stdin().is_terminal();
    let plan = plan(a, &mut |question| interactive.then(|| ask(question)).flatten())?;
    let files = plan.files();
    if a.dry_run {
        for f in &files {
            print_stdout(&format!("# {}\n{}\n", f.path.display(), f.text))?;
        }
        return Ok(0);
    }
    write_all(&a.dir, &files, a.force)?;
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
        vec![format!("${{ECR_REGISTRY}}/{service}")]
    } else {
        a.images.iter().map(|s| s.trim().to_string()).collect()
    };
    let ecs_services = if a.ecs_services.is_empty() {
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

/// Ask on the terminal; `None` at end of input.
fn ask(question: &str) -> Option<String> {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{question}");
    let _ = err.flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(n) if n > 0 => Some(line),
        _ => None,
    }
}

/// Check every destination, then write each file beside its target and move it in: nothing is written when
/// one exists (without `force`), no file is ever half-written, and of two runs at once only one writes
/// (without `force` a file is linked in only if its name is free; a run that loses takes back what it wrote).
fn write_all(dir: &Path, files: &[File], force: bool) -> Result<()> {
    let refused = |names: &[String]| {
        Error::refused(format!("{} already exist(s); nothing was written", names.join(" and ")))
            .hint("--force overwrites; --dry-run prints what would be written")
    };
    let existing: Vec<String> = files
        .iter()
        .filter(|f| dir.join(&f.path).symlink_metadata().is_ok())
        .map(|f| f.path.display().to_string())
        .collect();
    if !existing.is_empty() && !force {
        return Err(refused(&existing));
    }
    let mut written = Vec::new();
    for f in files {
        let target = dir.join(&f.path);
        match place(&target, &f.text, force) {
            Ok(()) => written.push(target),
            Err(e) => {
                for w in &written {
                    let _ = std::fs::remove_file(w);
                }
                return Err(if e.kind() == std::io::ErrorKind::AlreadyExists {
                    refused(&[f.path.display().to_string()])
                } else {
                    Error::failure(format!("cannot write {}: {e}", target.display()))
                });
            }
        }
    }
    Ok(())
}

/// Write `text` to a temporary file beside `target`, then rename it over (`force`) or hard-link it to the
/// free name (which fails with `AlreadyExists` when another run took it first).
fn place(target: &Path, text: &str, force: bool) -> std::io::Result<()> {
    let parent = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let tmp = parent.join(format!(
        ".{}.shipkit-init.{}",
        target.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
        std::process::id()
    ));
    let result = std::fs::write(&tmp, text).and_then(|()| {
        if force {
            std::fs::rename(&tmp, target)
        } else {
            std::fs::hard_link(&tmp, target)
        }
    });
    let _ = std::fs::remove_file(&tmp);
    result
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
    fn refuses_to_overwrite_and_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let files = vec![
            File {
                path: "shipkit.yml".into(),
                text: "new\n".into(),
            },
            File {
                path: ".gitlab-ci.yml".into(),
                text: "new\n".into(),
            },
        ];
        std::fs::write(d.path().join(".gitlab-ci.yml"), "mine\n").unwrap();
        let err = write_all(d.path(), &files, false).unwrap_err();
        assert_eq!(err.code, shipkit_core::ExitCode::Refused);
        assert!(!d.path().join("shipkit.yml").exists());
        assert_eq!(
            std::fs::read_to_string(d.path().join(".gitlab-ci.yml")).unwrap(),
            "mine\n"
        );
        write_all(d.path(), &files, true).unwrap();
        assert_eq!(
            std::fs::read_to_string(d.path().join(".gitlab-ci.yml")).unwrap(),
            "new\n"
        );
        let leftovers: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("shipkit-init"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn service_name_from_the_directory() {
        let d = tempfile::tempdir().unwrap();
        let repo = d.path().join("Billing_API");
        std::fs::create_dir(&repo).unwrap();
        assert_eq!(default_service(&repo).unwrap(), "billing-api");
    }
}
