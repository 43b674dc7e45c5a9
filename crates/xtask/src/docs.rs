//! Shell completions and man pages, from the clap definitions of the five binaries.

use clap::CommandFactory;
use clap_complete::Shell;
use std::path::Path;

/// The command trees of the four tools and of `shipkit`.
pub fn commands() -> Vec<clap::Command> {
    vec![
        version_detect::Cli::command(),
        docker_tag_push::Cli::command(),
        deploy_ecs::Cli::command(),
        notify::Cli::command(),
        shipkit::Cli::command(),
    ]
}

/// `DIR/<bin>.bash`, `DIR/_<bin>` (zsh) and `DIR/<bin>.fish` for each binary.
pub fn completions(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for cmd in commands() {
        let name = cmd.get_name().to_string();
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut cmd = cmd.clone();
            clap_complete::generate_to(shell, &mut cmd, &name, dir)
                .map_err(|e| format!("cannot write the {shell} completion of {name}: {e}"))?;
        }
    }
    Ok(())
}

/// `DIR/<bin>.1` and `DIR/<bin>-<subcommand>.1` for each binary.
pub fn man_pages(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for cmd in commands() {
        let name = cmd.get_name().to_string();
        clap_mangen::generate_to(cmd, dir).map_err(|e| format!("cannot write the man pages of {name}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn completions_for_every_binary_and_shell_parse_in_bash() {
        let d = tempfile::tempdir().unwrap();
        completions(d.path()).unwrap();
        let names = files(d.path());
        for bin in ["version-detect", "docker-tag-push", "deploy-ecs", "notify", "shipkit"] {
            for f in [format!("{bin}.bash"), format!("_{bin}"), format!("{bin}.fish")] {
                assert!(names.contains(&f), "{f} missing: {names:?}");
            }
            let bash = d.path().join(format!("{bin}.bash"));
            let out = std::process::Command::new("bash")
                .arg("-n")
                .arg(&bash)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                bash.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // The completion knows the tools' flags and the shipkit subcommands.
        let shipkit = std::fs::read_to_string(d.path().join("shipkit.bash")).unwrap();
        for word in ["version", "image", "deploy", "notify", "init", "--env-prefix"] {
            assert!(shipkit.contains(word), "{word} not in shipkit.bash");
        }
    }

    #[test]
    fn man_pages_for_every_binary_and_subcommand() {
        let d = tempfile::tempdir().unwrap();
        man_pages(d.path()).unwrap();
        let names = files(d.path());
        for page in [
            "version-detect.1",
            "version-detect-next.1",
            "docker-tag-push.1",
            "docker-tag-push-retag.1",
            "deploy-ecs.1",
            "deploy-ecs-deploy.1",
            "notify.1",
            "shipkit.1",
            "shipkit-init.1",
        ] {
            assert!(names.contains(&page.to_string()), "{page} missing: {names:?}");
        }
        let page = std::fs::read_to_string(d.path().join("deploy-ecs-deploy.1")).unwrap();
        assert!(page.starts_with(".ie") || page.contains(".TH"), "{page}");
    }
}
