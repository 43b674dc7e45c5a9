//! Native Amazon ECR for `docker push`: the hosts, tokens and error readings live in
//! `shipkit_core::registry::ecr` (shared with every tool that reads a registry); here is what only a tool
//! that runs the docker CLI needs: a private temporary docker config holding the ECR token for the duration
//! of one `docker push` ([`TempDockerConfig`]), removed right after.

pub use shipkit_core::registry::ecr::{decode_token, explain, EcrHost, Tokens};

use shipkit_core::registry::auth::Credentials;
use shipkit_core::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// `docker push IMAGE`; for an ECR registry whose token we got ourselves, docker gets it through a
/// private temporary config for this push only (removed when it ends, whatever the outcome).
pub fn docker_push(client: &crate::registry::Client, registry: &str, image: &str) -> Result<()> {
    let auth = match EcrHost::parse(registry) {
        Some(_) if !crate::auth::has_helper(registry)? => match client.creds(registry)? {
            Some(c) => TempDockerConfig::create(&[(registry.to_string(), c)])?,
            None => None,
        },
        _ => None,
    };
    let mut cmd = shipkit_core::exec::Command::new("docker").arg("push").arg(image);
    if let Some(a) = &auth {
        cmd = cmd.env("DOCKER_CONFIG", a.path());
    }
    cmd.run_streaming()
}

/// A private docker config for one `docker push`: the user's `config.json` with `auths.<host>` set to the
/// ECR token (any helper for that host, and the credsStore, removed), in a 0700 temporary directory removed on drop. The
/// user's `contexts` and `cli-plugins` are linked so the docker CLI behaves as usual.
pub struct TempDockerConfig {
    dir: PathBuf,
}

impl TempDockerConfig {
    /// `registries` with their credentials; `None` when there are none (docker uses its own config).
    pub fn create(registries: &[(String, Credentials)]) -> Result<Option<TempDockerConfig>> {
        if registries.is_empty() {
            return Ok(None);
        }
        let base = std::env::var_os("RUNNER_TEMP")
            .filter(|d| !d.is_empty() && Path::new(d).is_dir())
            .map_or_else(std::env::temp_dir, PathBuf::from);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = base.join(format!("shipkit-docker-config-{}-{nanos:x}", std::process::id()));
        let guard = TempDockerConfig { dir };
        create_private_dir(&guard.dir).map_err(|e| {
            Error::failure(format!("cannot create {}: {e}", guard.dir.display()))
                .hint("set TMPDIR to a writable directory")
        })?;
        let original = crate::auth::docker_config_path();
        let mut config = original
            .as_deref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(|| serde_json::json!({}));
        for (registry, creds) in registries {
            if let Some(h) = config.get_mut("credHelpers").and_then(|h| h.as_object_mut()) {
                h.remove(registry);
            }
            config["auths"][registry.as_str()] = serde_json::json!({ "auth": creds.basic_token() });
        }
        // With a credsStore the docker CLI ignores `auths`: this push goes to our hosts only, so drop it.
        if let Some(m) = config.as_object_mut() {
            m.remove("credsStore");
        }
        let text = serde_json::to_string(&config).unwrap_or_default();
        crate::auth::write_private(&guard.dir.join("config.json"), &text)
            .map_err(|e| Error::failure(format!("cannot write a temporary docker config: {e}")))?;
        if let Some(orig_dir) = original.as_deref().and_then(Path::parent) {
            for sub in ["contexts", "cli-plugins", "buildx"] {
                let from = orig_dir.join(sub);
                if from.exists() {
                    let _ = std::os::unix::fs::symlink(&from, guard.dir.join(sub));
                }
            }
        }
        Ok(Some(guard))
    }

    /// The value for `DOCKER_CONFIG`.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TempDockerConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_docker_config_is_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let dir;
        {
            let c = TempDockerConfig::create(&[("h.example:1".into(), Credentials::new("AWS", "tok-xyz-123"))])
                .unwrap()
                .unwrap();
            dir = c.path().to_path_buf();
            let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
            let text = std::fs::read_to_string(dir.join("config.json")).unwrap();
            assert!(text.contains("h.example:1"), "{text}");
        }
        assert!(!dir.exists(), "removed on drop");
        assert!(TempDockerConfig::create(&[]).unwrap().is_none());
    }
}
