//! Helpers for the docker-tag-push integration tests: run the real binary, talk to the real registries.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod proxy;

use serde_json::{json, Value};
use shipkit_core::http::{Client, Request, Response};
use shipkit_core::retry::Backoff;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_docker-tag-push");
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// A repository name no other test uses.
pub fn unique(name: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("dtp-{name}-{}-{:x}", std::process::id(), n & 0xffff_ffff)
}

/// A sandbox for one run: its own DOCKER_CONFIG, the test daemon, no colour.
pub struct Env {
    pub home: tempfile::TempDir,
    pub vars: Vec<(String, String)>,
}

impl Env {
    pub fn new() -> Env {
        let home = tempfile::tempdir().unwrap();
        let docker_config = home.path().join("docker-config");
        std::fs::create_dir_all(&docker_config).unwrap();
        let vars = vec![
            ("DOCKER_CONFIG".to_string(), docker_config.display().to_string()),
            ("HOME".to_string(), home.path().display().to_string()),
            ("NO_COLOR".to_string(), "1".to_string()),
            ("SHIPKIT_RETRIES".to_string(), "2".to_string()),
        ];
        Env { home, vars }
    }

    /// With the test docker daemon.
    pub fn with_docker() -> Env {
        let mut e = Env::new();
        e.set("DOCKER_HOST", &shipkit_testkit::service("SHIPKIT_TEST_DOCKER_HOST"));
        e
    }

    /// No docker at all: PATH has only git, DOCKER_HOST points at a socket that does not exist.
    pub fn without_docker() -> Env {
        let mut e = Env::new();
        let bin = e.home.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let git = which("git");
        std::os::unix::fs::symlink(git, bin.join("git")).unwrap();
        e.set("PATH", &bin.display().to_string());
        e.set("DOCKER_HOST", "unix:///nonexistent/docker.sock");
        e
    }

    pub fn set(&mut self, k: &str, v: &str) {
        self.vars.retain(|(x, _)| x != k);
        self.vars.push((k.to_string(), v.to_string()));
    }

    pub fn docker_config(&self) -> PathBuf {
        self.home.path().join("docker-config")
    }

    pub fn run(&self, args: &[&str], dir: &Path) -> Output {
        let env: Vec<(&str, &str)> = self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        shipkit_testkit::run(BIN, args, dir, &env)
    }

    /// Run with `--format json` appended, expect exit 0 (stderr shown otherwise), and return the JSON report.
    pub fn run_json(&self, args: &[&str], dir: &Path) -> Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let o = self.run(&all, dir);
        assert_eq!(code(&o), 0, "{args:?}: {}", err(&o));
        json_out(&o)
    }

    /// Run with stdin bytes.
    pub fn run_stdin(&self, args: &[&str], dir: &Path, stdin: &str) -> Output {
        use std::io::Write;
        let mut cmd = std::process::Command::new(BIN);
        cmd.args(args).current_dir(dir);
        for v in shipkit_testkit::CI_VARS {
            cmd.env_remove(v);
        }
        for (k, v) in &self.vars {
            cmd.env(k, v);
        }
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }
}

pub fn which(name: &str) -> PathBuf {
    std::env::var("PATH")
        .unwrap()
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not on PATH"))
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn out(o: &Output) -> String {
    shipkit_testkit::stdout(o)
}

pub fn err(o: &Output) -> String {
    shipkit_testkit::stderr(o)
}

pub fn json_out(o: &Output) -> Value {
    serde_json::from_str(&out(o)).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); exit {}\nstdout: {}\nstderr: {}",
            code(o),
            out(o),
            err(o)
        )
    })
}

pub fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// Raw HTTP to a registry (no retries), optionally with Basic auth.
pub struct Raw {
    pub addr: String,
    client: Client,
    auth: Option<String>,
}

impl Raw {
    pub fn new(addr: &str) -> Raw {
        Raw {
            addr: addr.to_string(),
            client: Client::new(Duration::from_secs(30), Backoff::NONE),
            auth: None,
        }
    }

    pub fn with_basic(addr: &str, user: &str, password: &str) -> Raw {
        use base64::Engine;
        let mut r = Raw::new(addr);
        r.auth = Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        ));
        r
    }

    pub fn send(&self, req: Request) -> Response {
        let req = match &self.auth {
            Some(a) => req.header("Authorization", a),
            None => req,
        };
        self.client.send_once(&req).unwrap()
    }

    fn url(&self, rest: &str) -> String {
        format!("http://{}/v2/{rest}", self.addr)
    }

    /// The registry's Docker-Content-Digest for repo:reference, None on 404.
    pub fn digest(&self, repo: &str, reference: &str) -> Option<String> {
        let r = self
            .send(Request::new("HEAD", &self.url(&format!("{repo}/manifests/{reference}"))).header("Accept", ACCEPT));
        match r.status {
            200 => Some(r.header("docker-content-digest").unwrap().to_string()),
            404 => None,
            s => panic!("HEAD {repo}:{reference}: HTTP {s}"),
        }
    }

    /// GET a manifest: (content type, bytes).
    pub fn manifest(&self, repo: &str, reference: &str) -> (String, Vec<u8>) {
        let r = self
            .send(Request::new("GET", &self.url(&format!("{repo}/manifests/{reference}"))).header("Accept", ACCEPT));
        assert_eq!(r.status, 200, "GET manifest {repo}:{reference}");
        (r.header("content-type").unwrap_or("").to_string(), r.body)
    }

    pub fn blob(&self, repo: &str, digest: &str) -> Vec<u8> {
        let r = self.send(Request::new("GET", &self.url(&format!("{repo}/blobs/{digest}"))));
        assert_eq!(r.status, 200, "GET blob {repo}@{digest}");
        r.body
    }

    /// The image config (JSON) that `manifest` names.
    pub fn config_of(&self, repo: &str, manifest: &Value) -> Value {
        let digest = manifest["config"]["digest"].as_str().expect("a manifest with a config");
        serde_json::from_slice(&self.blob(repo, digest)).unwrap()
    }

    /// Upload a blob (POST + monolithic PUT); returns its digest.
    pub fn put_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let r = self.send(Request::new("POST", &self.url(&format!("{repo}/blobs/uploads/"))));
        assert_eq!(r.status, 202, "start upload: {}", r.text());
        let loc = r.header("location").unwrap().to_string();
        let loc = if loc.starts_with("http") {
            loc
        } else {
            format!("http://{}{loc}", self.addr)
        };
        let sep = if loc.contains('?') { '&' } else { '?' };
        let r = self.send(
            Request::new("PUT", &format!("{loc}{sep}digest={}", digest.replace(':', "%3A")))
                .header("Content-Type", "application/octet-stream")
                .body(bytes.to_vec()),
        );
        assert_eq!(r.status, 201, "finish upload: {}", r.text());
        digest
    }

    pub fn put_manifest(&self, repo: &str, reference: &str, media_type: &str, bytes: &[u8]) -> String {
        let r = self.send(
            Request::new("PUT", &self.url(&format!("{repo}/manifests/{reference}")))
                .header("Content-Type", media_type)
                .body(bytes.to_vec()),
        );
        assert_eq!(r.status, 201, "PUT manifest: {}", r.text());
        r.header("docker-content-digest").unwrap().to_string()
    }

    /// A small single-platform OCI image made by hand (no docker): returns (manifest bytes, digest).
    pub fn put_image(&self, repo: &str, arch: &str, content: &str) -> (Vec<u8>, String) {
        let layer = self.put_blob(repo, content.as_bytes());
        let config = json!({"architecture": arch, "os": "linux", "config": {"Labels": {"made.by": "test"}},
            "rootfs": {"type": "layers", "diff_ids": [layer]}})
        .to_string();
        let config_digest = self.put_blob(repo, config.as_bytes());
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": content.len()}]
        })
        .to_string()
        .into_bytes();
        let digest = self.put_manifest(
            repo,
            &sha256(&manifest),
            "application/vnd.oci.image.manifest.v1+json",
            &manifest,
        );
        (manifest, digest)
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    use std::fmt::Write as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .fold(String::from("sha256:"), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// A git checkout with a Dockerfile building `FROM scratch` with one small file.
pub fn app_repo(content: &str) -> shipkit_testkit::GitRepo {
    let repo = shipkit_testkit::GitRepo::new();
    repo.write("Dockerfile", "FROM scratch\nCOPY hello.txt /hello.txt\n");
    repo.write("hello.txt", content);
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "app"]);
    repo
}

/// The shared test registry (`SHIPKIT_TEST_REGISTRY`; a missing one fails the test).
pub fn registry() -> String {
    shipkit_testkit::service("SHIPKIT_TEST_REGISTRY")
}

/// `skopeo inspect --raw` of an image (plain HTTP registry on loopback): what an independent client reads.
pub fn skopeo_raw(image: &str) -> Value {
    let o = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw", &format!("docker://{image}")])
        .output()
        .expect("skopeo runs (scripts/test-services installs it)");
    assert!(o.status.success(), "skopeo: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A test's start: an app checkout ([`app_repo`]) and a repository no other test uses on the shared
/// registry.
pub struct Fresh {
    pub reg: String,
    pub app: shipkit_testkit::GitRepo,
    pub repo: String,
    /// `reg/repo`.
    pub image: String,
}

impl Fresh {
    pub fn new(content: &str, repo_name: &str) -> Fresh {
        let reg = registry();
        let repo = unique(repo_name);
        let image = format!("{reg}/{repo}");
        Fresh {
            reg,
            app: app_repo(content),
            repo,
            image,
        }
    }
}
