//! The docker build (through the docker CLI, so `DOCKER_HOST=ssh://...` and BuildKit settings apply) and
//! the build-avoidance key.
//!
//! The key is a hash of the git tree of the build context, the git blob of the Dockerfile, the build
//! args, target, platform and secret ids, plus the content of every file git ignores but `.dockerignore`
//! does not (docker sends those: [`crate::context_files`]). When the Dockerfile or a file docker sends has
//! uncommitted changes (`git status`, minus what `.dockerignore` excludes), or the context is not in a git
//! checkout, there is no key and the image is always built.

use crate::context_files::ContextInGit;
use crate::dockerignore::DockerIgnore;
use sha2::{Digest as _, Sha256};
use shipkit_core::exec::{find_program, install_hint, Command};
use shipkit_core::term;
use shipkit_core::{Error, Result};
use std::path::{Path, PathBuf};

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct BuildSpec {
    pub context: PathBuf,
    /// Default: `<context>/Dockerfile`.
    pub dockerfile: Option<PathBuf>,
    pub target: Option<String>,
    pub platform: Option<String>,
    /// Sorted by name.
    pub build_args: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    pub cache_from: Vec<String>,
    /// BuildKit `--secret` specs (`id=x,src=file` / `id=x,env=VAR`); only ids and paths are on the command line.
    pub secrets: Vec<String>,
    /// A buildx builder (`--builder`, `BUILDX_BUILDER`): the build runs with `docker buildx build`.
    pub builder: Option<String>,
    /// Cache exports (`type=registry,ref=REPO:cache,mode=max`), passed to buildx.
    pub cache_to: Vec<String>,
}

/// The result of trying to compute the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildKey {
    /// 16 hex digits; the tag is `build-<key>`.
    Key(String),
    /// Why there is none (printed: the build cannot be skipped).
    Unavailable(String),
}

impl BuildKey {
    pub fn tag(&self) -> Option<String> {
        match self {
            BuildKey::Key(k) => Some(format!("build-{k}")),
            BuildKey::Unavailable(_) => None,
        }
    }
}

impl BuildSpec {
    pub fn dockerfile_path(&self) -> PathBuf {
        self.dockerfile
            .clone()
            .unwrap_or_else(|| self.context.join("Dockerfile"))
    }

    /// Check the inputs before anything runs.
    pub fn validate(&self) -> Result<()> {
        if !self.context.is_dir() {
            return Err(
                Error::usage(format!("build context {} is not a directory", self.context.display()))
                    .hint("pass --context DIR (default: the current directory)"),
            );
        }
        let df = self.dockerfile_path();
        if !df.is_file() {
            return Err(Error::usage(format!("Dockerfile {} does not exist", df.display()))
                .hint("pass --file PATH, or set image.dockerfile in shipkit.yml"));
        }
        for (k, _) in &self.build_args {
            if shipkit_core::mask::is_secret_name(k) {
                return Err(Error::usage(format!(
                    "build arg {k} looks like a secret: build args are stored in the image history"
                ))
                .hint(format!(
                    "pass it as a BuildKit secret: --secret id={},env={k} (RUN --mount=type=secret,id=...)",
                    k.to_ascii_lowercase()
                )));
            }
        }
        for s in &self.secrets {
            let ok = s.split(',').any(|p| p.starts_with("id=")) && !s.contains("secret=");
            if !ok {
                return Err(Error::usage(format!("invalid --secret `{}`", secret_display(s))).hint(
                    "write --secret id=NAME,src=FILE or --secret id=NAME,env=VARIABLE (never the value itself)",
                ));
            }
        }
        Ok(())
    }

    /// The build command tagging `image` in the daemon: `docker build`, or `docker buildx build --load`
    /// when a builder or a cache export is asked for (see [`BuildSpec::uses_buildx`]).
    pub fn command(&self, image: &str) -> Command {
        let mut c = if self.uses_buildx() {
            let mut c = Command::new("docker").args(["buildx", "build"]);
            if let Some(b) = &self.builder {
                c = c.arg("--builder").arg(b);
            }
            // The image goes to the daemon (`docker push` and `docker save` read it from there); a remote
            // or kubernetes builder sends it back. Cache exports need a builder that supports them.
            c.arg("--load")
        } else {
            Command::new("docker").arg("build")
        };
        c = c.arg("--file").arg(self.dockerfile_path()).arg("--tag").arg(image);
        if let Some(t) = &self.target {
            c = c.arg("--target").arg(t);
        }
        if let Some(p) = &self.platform {
            c = c.arg("--platform").arg(p);
        }
        for (k, v) in &self.build_args {
            c = c.arg("--build-arg").arg(format!("{k}={v}"));
        }
        for (k, v) in &self.labels {
            c = c.arg("--label").arg(format!("{k}={v}"));
        }
        for r in &self.cache_from {
            c = c.arg("--cache-from").arg(r);
        }
        for r in &self.cache_to {
            c = c.arg("--cache-to").arg(r);
        }
        for s in &self.secrets {
            c = c.arg("--secret").arg(s);
        }
        if !self.secrets.is_empty() {
            // Secrets exist only in BuildKit; the legacy builder would refuse the flag.
            c = c.env("DOCKER_BUILDKIT", "1");
        }
        c.arg(&self.context)
    }

    /// The programs the build needs, checked before anything runs: docker, and the buildx plugin when
    /// the build uses it or needs BuildKit (secrets). Missing: exit 5 naming what asked for it.
    pub fn check_tools(&self) -> Result<()> {
        find_program("docker", install_hint("docker"))?;
        let Some(reason) = self.buildx_reason() else {
            return Ok(());
        };
        let buildx = Command::new("docker").args(["buildx", "version"]).output()?;
        if buildx.status != 0 {
            return Err(Error::new(
                shipkit_core::ExitCode::ToolMissing,
                format!("{reason} needs BuildKit through docker buildx, and the buildx plugin is not installed: nothing was built"),
            )
            .hint("install it (the docker-buildx-plugin or docker-buildx package), or drop the flag to build with `docker build`"));
        }
        Ok(())
    }

    /// Is the build `docker buildx build`? When a builder is named (`--builder`, `BUILDX_BUILDER`) or a
    /// cache is exported (`--cache-to`): the legacy `docker build` has neither.
    pub fn uses_buildx(&self) -> bool {
        self.builder.is_some() || !self.cache_to.is_empty()
    }

    /// Why buildx is needed, for the error when it is missing.
    pub fn buildx_reason(&self) -> Option<String> {
        if let Some(b) = &self.builder {
            Some(format!("--builder {b}"))
        } else if !self.cache_to.is_empty() {
            Some("--cache-to".to_string())
        } else if !self.secrets.is_empty() {
            Some("--secret".to_string())
        } else {
            None
        }
    }

    /// The content key of the build inputs, from committed git content only.
    pub fn key(&self) -> Result<BuildKey> {
        let unavailable = |why: &str| Ok(BuildKey::Unavailable(why.to_string()));
        let Ok(context) = self.context.canonicalize() else {
            return unavailable("the build context does not exist");
        };
        let Ok(dockerfile) = self.dockerfile_path().canonicalize() else {
            return unavailable("the Dockerfile does not exist");
        };
        let top = match Command::new("git")
            .args(["rev-parse", "--show-toplevel"])
            .dir(&context)
            .output()
        {
            Ok(o) if o.status == 0 => PathBuf::from(o.stdout.trim()),
            Ok(_) => return unavailable("the build context is not in a git checkout"),
            Err(e) if e.code == shipkit_core::ExitCode::ToolMissing => return unavailable("git is not installed"),
            Err(e) => return Err(e),
        };
        let top = top.canonicalize().unwrap_or(top);
        let (Some(ctx_rel), Some(df_rel)) = (rel(&context, &top), rel(&dockerfile, &top)) else {
            return unavailable("the context or Dockerfile is outside the git checkout");
        };
        let ignore = DockerIgnore::for_build(&context, &dockerfile);
        let in_git = ContextInGit {
            top: &top,
            ctx_rel: &ctx_rel,
            dockerfile_rel: &df_rel,
            ignore: &ignore,
        };
        if let Some(first) = in_git.uncommitted()?.first() {
            term::info(&format!("uncommitted in the build context: {first}"));
            return unavailable("the build context has uncommitted changes");
        }
        let ignored = in_git.ignored_lines()?;
        if !ignored.is_empty() {
            term::info(&format!(
                "{} git-ignored file(s) in the build context count in the build key",
                ignored.len()
            ));
        }
        let out = Command::new("git")
            .args(["rev-parse", &format!("HEAD:{ctx_rel}"), &format!("HEAD:{df_rel}")])
            .dir(&top)
            .output()?;
        if out.status != 0 {
            return unavailable("the context or Dockerfile is not committed");
        }
        let hashes: Vec<&str> = out.stdout.lines().collect();
        let [context_tree, dockerfile_blob] = hashes[..] else {
            return unavailable("git rev-parse gave no tree hash");
        };
        Ok(BuildKey::Key(self.key_with(context_tree, dockerfile_blob, &ignored)))
    }

    /// The key from the git hashes and the other inputs.
    pub fn key_from(&self, context_tree: &str, dockerfile_blob: &str) -> String {
        self.key_with(context_tree, dockerfile_blob, &[])
    }

    /// The key from the git hashes, the other inputs and the lines of git-ignored files in the context
    /// (none: the same key as before those files counted).
    pub fn key_with(&self, context_tree: &str, dockerfile_blob: &str, ignored: &[String]) -> String {
        let mut text = format!("shipkit-build-key/1\ncontext={context_tree}\ndockerfile={dockerfile_blob}\n");
        text.push_str(&format!("target={}\n", self.target.as_deref().unwrap_or("")));
        text.push_str(&format!("platform={}\n", self.platform.as_deref().unwrap_or("")));
        for (k, v) in &self.build_args {
            text.push_str(&format!("arg={k}={v}\n"));
        }
        for s in &self.secrets {
            let id = s.split(',').find_map(|p| p.strip_prefix("id=")).unwrap_or("");
            text.push_str(&format!("secret={id}\n"));
        }
        for line in ignored {
            text.push_str(line);
            text.push('\n');
        }
        crate::registry::hex(&Sha256::digest(text.as_bytes()))[..16].to_string()
    }
}

fn rel(path: &Path, top: &Path) -> Option<String> {
    let r = path.strip_prefix(top).ok()?;
    Some(r.to_string_lossy().replace('\\', "/"))
}

/// A `--secret` spec fit to print: an inline value (which we refuse) never shown.
fn secret_display(s: &str) -> String {
    s.split(',')
        .map(|p| {
            if p.starts_with("id=") || p.starts_with("src=") || p.starts_with("env=") || p.starts_with("type=") {
                p.to_string()
            } else {
                "***".to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `K=V` → (K, V); a missing `=` is a usage error naming the flag.
pub fn parse_kv(s: &str, flag: &str) -> Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(Error::usage(format!("{flag} `{s}` is not KEY=VALUE")).hint(format!("write {flag} NAME=value"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_changes_with_every_input() {
        let base = BuildSpec::default();
        let k = base.key_from("t1", "d1");
        assert_eq!(k.len(), 16);
        assert_eq!(k, base.key_from("t1", "d1"));
        assert_ne!(k, base.key_from("t2", "d1"));
        assert_ne!(k, base.key_from("t1", "d2"));
        let mut s = base.clone();
        s.build_args = vec![("A".into(), "1".into())];
        assert_ne!(k, s.key_from("t1", "d1"));
        let mut s = base.clone();
        s.target = Some("prod".into());
        assert_ne!(k, s.key_from("t1", "d1"));
        let mut s = base.clone();
        s.platform = Some("linux/arm64".into());
        assert_ne!(k, s.key_from("t1", "d1"));
        let mut s = base;
        s.labels = vec![("x".into(), "y".into())];
        assert_eq!(k, s.key_from("t1", "d1"), "labels do not change the key");
    }

    #[test]
    fn secret_build_args_and_inline_secrets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").unwrap();
        let mut s = BuildSpec {
            context: dir.path().into(),
            ..Default::default()
        };
        s.validate().unwrap();
        s.build_args = vec![("NPM_TOKEN".into(), "abc".into())];
        let e = s.validate().unwrap_err();
        assert!(
            e.one_line().contains("--secret id=npm_token,env=NPM_TOKEN"),
            "{}",
            e.one_line()
        );
        s.build_args.clear();
        s.secrets = vec!["id=x,secret=hunter2hunter2".into()];
        let line = s.validate().unwrap_err().one_line();
        assert!(!line.contains("hunter2"), "{line}");
    }

    #[test]
    fn a_builder_or_a_cache_export_builds_with_buildx_load() {
        let plain = BuildSpec {
            context: "ctx".into(),
            cache_from: vec!["r/app:cache".into()],
            ..Default::default()
        };
        let line = plain.command("r/app:1").display();
        assert!(
            line.starts_with("docker build --file ctx/Dockerfile --tag r/app:1"),
            "{line}"
        );
        assert!(!plain.uses_buildx() && plain.buildx_reason().is_none());

        let fleet = BuildSpec {
            context: "ctx".into(),
            platform: Some("linux/arm64".into()),
            builder: Some("fleet".into()),
            cache_from: vec!["type=registry,ref=r/app:buildcache".into()],
            cache_to: vec!["type=registry,ref=r/app:buildcache,mode=max".into()],
            ..Default::default()
        };
        let args: Vec<String> = fleet
            .command("r/app:1")
            .display()
            .split(' ')
            .map(String::from)
            .collect();
        assert_eq!(
            args,
            [
                "docker",
                "buildx",
                "build",
                "--builder",
                "fleet",
                "--load",
                "--file",
                "ctx/Dockerfile",
                "--tag",
                "r/app:1",
                "--platform",
                "linux/arm64",
                "--cache-from",
                "type=registry,ref=r/app:buildcache",
                "--cache-to",
                "type=registry,ref=r/app:buildcache,mode=max",
                "ctx"
            ]
        );
        assert_eq!(fleet.buildx_reason().as_deref(), Some("--builder fleet"));

        // A cache export alone needs buildx too (the builder from BUILDX_BUILDER or buildx's default).
        let export = BuildSpec {
            context: "ctx".into(),
            cache_to: vec!["type=inline".into()],
            ..Default::default()
        };
        let line = export.command("r/app:1").display();
        assert!(line.starts_with("docker buildx build --load --file"), "{line}");
        assert!(!line.contains("--builder"), "{line}");
        assert_eq!(export.buildx_reason().as_deref(), Some("--cache-to"));
        // The build key does not depend on where it is built or cached.
        assert_eq!(
            fleet.key_from("t", "d"),
            BuildSpec {
                platform: Some("linux/arm64".into()),
                ..Default::default()
            }
            .key_from("t", "d")
        );
    }

    #[test]
    fn command_passes_secrets_through_buildkit_only_by_reference() {
        let s = BuildSpec {
            context: "ctx".into(),
            secrets: vec!["id=npm,src=/run/npmrc".into()],
            build_args: vec![("A".into(), "1".into())],
            ..Default::default()
        };
        let line = s.command("r/app:1").display();
        assert!(line.contains("--secret id=npm,src=/run/npmrc"), "{line}");
        assert!(line.contains("--build-arg A=1") && line.ends_with(" ctx"), "{line}");
    }
}
