//! Helpers for the integration tests: real git repositories made with the git CLI, the real services
//! started by `scripts/test` (`SHIPKIT_TEST_*` variables), running the tools' binaries.
//!
//! A test that needs a service calls [`service`]: a missing service fails the test with a message that
//! says how to start it. It never skips.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

pub mod extra_registry;
pub mod fault_proxy;
pub mod http_sink;
pub mod referrers_stub;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The value of a `SHIPKIT_TEST_*` variable set by `scripts/test-services start`. Panics (fails the
/// test) when it is missing: the services are part of the test suite, not optional.
pub fn service(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: this test needs the real service. Run ./scripts/test, or \
             `scripts/test-services start && . target/test-services/env` before `cargo test`"
        ),
    }
}

/// A program from the test venv (`check-jsonschema`, `zizmor`, `moto_server`, ...).
pub fn venv_bin(name: &str) -> PathBuf {
    let p = Path::new(&service("SHIPKIT_TEST_VENV")).join("bin").join(name);
    assert!(
        p.exists(),
        "{} is missing: run ./scripts/test to install the test venv",
        p.display()
    );
    p
}

/// A real git repository in a temporary directory, driven with the git CLI.
pub struct GitRepo {
    dir: tempfile::TempDir,
    /// Seconds added to the commit dates so history is deterministic and ordered.
    clock: std::cell::Cell<u64>,
}

impl Default for GitRepo {
    fn default() -> Self {
        Self::new()
    }
}

impl GitRepo {
    /// `git init` with `main` as the initial branch and a fixed identity.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let repo = GitRepo {
            dir,
            clock: std::cell::Cell::new(0),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.git(&["config", "user.email", "dev@example.test"]);
        repo.git(&["config", "user.name", "Dev"]);
        repo.git(&["config", "commit.gpgsign", "false"]);
        repo.git(&["config", "tag.gpgsign", "false"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Run git here; panic with its stderr when it fails. Returns trimmed stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let t = 1_700_000_000 + self.clock.get();
        self.clock.set(self.clock.get() + 60);
        let date = format!("@{t} +0000");
        let out = Command::new("git")
            .args(args)
            .current_dir(self.path())
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Write a file (creating directories).
    pub fn write(&self, rel: &str, content: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    /// Commit a change (a file named after the message) and return the full sha.
    pub fn commit(&self, message: &str) -> String {
        let n = self.clock.get();
        self.write(&format!("changes/{n}.txt"), message);
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.head()
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// Lightweight tag at HEAD.
    pub fn tag(&self, name: &str) {
        self.git(&["tag", name]);
    }

    /// Annotated tag at HEAD.
    pub fn tag_annotated(&self, name: &str) {
        self.git(&["tag", "-a", name, "-m", &format!("release {name}")]);
    }
}

/// Run a binary with args in a directory, with extra env, CI variables of the host removed so tests
/// see only what they set.
pub fn run(bin: &str, args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin);
    cmd.args(args).current_dir(dir);
    for var in CI_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("binary runs")
}

/// Variables of the CI systems that would leak the host's CI context into a test.
pub const CI_VARS: &[&str] = &[
    "CI",
    "GITHUB_ACTIONS",
    "GITHUB_REF",
    "GITHUB_HEAD_REF",
    "GITHUB_SHA",
    "GITHUB_OUTPUT",
    "GITHUB_STEP_SUMMARY",
    "GITLAB_CI",
    "CI_COMMIT_TAG",
    "CI_COMMIT_BRANCH",
    "CIRCLECI",
    "CIRCLE_TAG",
    "CIRCLE_BRANCH",
    "BASH_ENV",
    "BUILDKITE",
    "JENKINS_URL",
    "SHIPKIT_FORMAT",
    "SHIPKIT_CONFIG",
    "SHIPKIT_ENV_PREFIX",
    "SHIPKIT_OUTPUT_FILE",
];

/// stdout as a string.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as a string.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A private key made by `openssl genpkey` with `args` (e.g. `["-algorithm", "ed25519"]`) into
/// `dir/<name>.pem`: (that path, the public key PEM from `openssl pkey -pubout`).
pub fn openssl_key(dir: &Path, name: &str, args: &[&str]) -> (PathBuf, String) {
    let key = dir.join(format!("{name}.pem"));
    let ok = Command::new("openssl")
        .arg("genpkey")
        .args(args)
        .arg("-out")
        .arg(&key)
        .status()
        .unwrap();
    assert!(ok.success(), "openssl genpkey {args:?} failed");
    let out = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl pkey -pubout: {}", stderr(&out));
    (key, stdout(&out))
}

/// securesystemslib's verdict (the DSSE reference library, in the test venv) on a DSSE envelope (its
/// JSON) under `public_pem` with `keyid`: the subject's sha256 hex when it verifies, else None.
pub fn securesystemslib_verifies(dir: &Path, envelope_json: &[u8], public_pem: &str, keyid: &str) -> Option<String> {
    let (env_path, key_path) = (dir.join("envelope.json"), dir.join("verify.pub.pem"));
    std::fs::write(&env_path, envelope_json).unwrap();
    std::fs::write(&key_path, public_pem).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shipkit-core/tests/fixtures/verify_dsse.py");
    let out = Command::new(venv_bin("python"))
        .arg(script)
        .args([&env_path, &key_path])
        .arg(keyid)
        .output()
        .unwrap();
    out.status.success().then(|| stdout(&out).trim().to_string())
}
