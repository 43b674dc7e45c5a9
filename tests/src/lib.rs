//! Helpers for the end-to-end tests of shipping shipkit: the release archives `scripts/dist` writes, a
//! static HTTP server on 127.0.0.1 that serves them and logs every request, and the workspace paths.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

pub mod tools;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// The workspace root (the directory holding `install.sh`, `scripts/`, `ci-templates/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Release archives built once per test binary by `scripts/dist --profile dev --tools version-detect`:
/// the real script, the real tool, a static musl debug build (fast to build; the release profile is measured
/// by `scripts/bench-dist`, not by tests).
pub struct Release {
    /// `dist/`-shaped directory: archives, `SHA256SUMS`, `install.sh`, `VERSION`.
    pub dir: PathBuf,
    pub version: String,
    pub target: String,
}

impl Release {
    /// The archive name of a tool in this release.
    pub fn archive(&self, tool: &str) -> String {
        format!("{tool}-{}-{}.tar.gz", self.version, self.target)
    }
}

static RELEASE: OnceLock<Release> = OnceLock::new();

/// A release signing key made for this test binary by `scripts/release-key new` (never a real key): the
/// PEM file and its `install.sh` trust line.
pub struct TestKey {
    pub pem: PathBuf,
    pub trust_line: String,
}

/// A fresh Ed25519 key named `name`, in a directory that lives as long as the test binary.
pub fn new_test_key(name: &str) -> TestKey {
    let dir = tempfile::tempdir().unwrap().keep();
    let pem = dir.join(format!("{name}.pem"));
    let out = Command::new(root().join("scripts/release-key"))
        .args(["new", pem.to_str().unwrap(), name])
        .output()
        .expect("scripts/release-key runs");
    assert!(
        out.status.success(),
        "release-key new failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trust_line = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(trust_line.starts_with("ed25519 "), "{trust_line}");
    TestKey { pem, trust_line }
}

/// The key the test releases are signed with (`scripts/dist --sign-key ... --trust-key`).
pub fn test_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| new_test_key("shipkit-test-release"))
}

/// Sign `file` (`file.sig`, `file.minisig`) with `key`, as `scripts/dist` does.
pub fn sign_with(key: &Path, file: &Path) {
    let out = Command::new(root().join("scripts/release-key"))
        .args(["sign", key.to_str().unwrap(), file.to_str().unwrap()])
        .output()
        .expect("scripts/release-key runs");
    assert!(
        out.status.success(),
        "release-key sign failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run `scripts/dist` once per test binary, in `tmp` (pass `env!("CARGO_TARGET_TMPDIR")`) with its own cargo
/// target dir, so it never waits on the cargo that runs the tests.
pub fn release(tmp: &str) -> &'static Release {
    RELEASE.get_or_init(|| {
        let tmp = Path::new(tmp);
        let dir = tmp.join("e2e-dist-out");
        let _ = std::fs::remove_dir_all(&dir);
        let out = dist(&[
            "--profile",
            "dev",
            "--tools",
            "version-detect",
            "--docs",
            docs(tmp).to_str().unwrap(),
            "--target-dir",
            tmp.join("e2e-dist-target").to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
            "--sign-key",
            test_key().pem.to_str().unwrap(),
            "--trust-key",
        ]);
        assert!(
            out.status.success(),
            "scripts/dist failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let version = std::fs::read_to_string(dir.join("VERSION")).unwrap().trim().to_string();
        assert!(!version.is_empty());
        Release {
            dir,
            version,
            target: "x86_64-unknown-linux-musl".into(),
        }
    })
}

/// The completions and man pages `scripts/dist --docs` packs, generated here by the xtask's library (what
/// `cargo run -p xtask -- completions|man` writes), so dist needs no cargo build of its own.
pub fn docs(tmp: &Path) -> PathBuf {
    static DOCS: OnceLock<PathBuf> = OnceLock::new();
    DOCS.get_or_init(|| {
        let dir = tmp.join(format!("e2e-docs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        xtask::docs::completions(&dir.join("completions")).unwrap();
        xtask::docs::man_pages(&dir.join("man")).unwrap();
        dir
    })
    .clone()
}

/// Run `scripts/dist` with these arguments.
pub fn dist(args: &[&str]) -> std::process::Output {
    Command::new(root().join("scripts/dist"))
        .args(args)
        .current_dir(root())
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("SHIPKIT_BUILD_VERSION")
        .output()
        .expect("scripts/dist runs")
}

/// A copy of a release laid out as a release location serves it: `<root>/v<version>/...` and
/// `<root>/latest`, in a directory of its own so a test may tamper with it.
pub fn release_site(release: &Release) -> tempfile::TempDir {
    let site = tempfile::tempdir().unwrap();
    let vdir = site.path().join(format!("v{}", release.version));
    std::fs::create_dir_all(&vdir).unwrap();
    for entry in std::fs::read_dir(&release.dir).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), vdir.join(entry.file_name())).unwrap();
    }
    std::fs::write(site.path().join("latest"), format!("{}\n", release.version)).unwrap();
    site
}

/// `python3 -m http.server` on 127.0.0.1 (a free port it picks), serving a directory; its request log
/// (one line per request) goes to a file the test reads.
pub struct Server {
    child: Child,
    pub url: String,
    log: PathBuf,
    _logdir: tempfile::TempDir,
}

impl Server {
    pub fn start(dir: &Path) -> Server {
        let logdir = tempfile::tempdir().unwrap();
        let log = logdir.path().join("requests.log");
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("python3 runs");
        // "Serving HTTP on 127.0.0.1 port 41235 (http://127.0.0.1:41235/) ..."
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .unwrap_or_else(|| panic!("unexpected http.server banner: {line:?}"))
            .to_string();
        Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _logdir: logdir,
        }
    }

    /// Request lines logged so far (`GET /v0.1.0/SHA256SUMS HTTP/1.1" 200`, ...).
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('"').map(|(_, rest)| rest.to_string()))
            .collect()
    }

    /// How many requests for paths ending in `suffix`.
    pub fn count(&self, suffix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.split_whitespace().nth(1).is_some_and(|p| p.ends_with(suffix)))
            .count()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Does this ELF file ask for a dynamic loader (a `PT_INTERP` program header)? Static binaries do not.
pub fn elf_has_interpreter(bytes: &[u8]) -> bool {
    assert!(bytes.len() > 64 && &bytes[..4] == b"\x7fELF", "not an ELF file");
    assert_eq!(bytes[4], 2, "not a 64-bit ELF file");
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let u64_at = |o: usize| usize::try_from(u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap())).unwrap();
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..phnum).any(|i| {
        let o = phoff + i * phentsize;
        u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) == 3 // PT_INTERP
    })
}

/// The example service (examples/sample-service), whose CI configs compose the templates.
pub fn sample_service() -> PathBuf {
    root().join("examples/sample-service")
}

/// The CI template files the tests cover, and the example service's CI configs that use them.
pub fn template_files() -> Vec<PathBuf> {
    let t = root().join("ci-templates");
    let mut v: Vec<PathBuf> = std::fs::read_dir(t.join("github"))
        .unwrap()
        .map(|e| e.unwrap().path().join("action.yml"))
        .filter(|p| p.exists())
        .collect();
    v.sort();
    v.push(sample_service().join(".github/workflows/ship.yml"));
    v.push(t.join("circleci/orb.yml"));
    v.push(sample_service().join(".circleci/config.yml"));
    v.push(t.join("gitlab/shipkit.gitlab-ci.yml"));
    v.push(sample_service().join(".gitlab-ci.yml"));
    v
}

/// Every shell script in the templates (`file`, `where`, `shell`, `script`), read by
/// `tests/support/template_scripts.py` with the venv's YAML parser.
pub fn template_scripts() -> Vec<serde_json::Value> {
    let out = Command::new(shipkit_testkit::venv_bin("python"))
        .arg(root().join("tests/support/template_scripts.py"))
        .args(template_files())
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The script of a template at `file_suffix` and `where` (as [`template_scripts`] names them).
pub fn template_script(file_suffix: &str, place: &str) -> String {
    template_scripts()
        .into_iter()
        .find(|s| s["file"].as_str().unwrap().ends_with(file_suffix) && s["where"] == place)
        .unwrap_or_else(|| panic!("no script {file_suffix} {place}"))["script"]
        .as_str()
        .unwrap()
        .to_string()
}
