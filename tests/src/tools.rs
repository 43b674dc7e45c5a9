//! Running the four tools' debug binaries (built by `cargo test --workspace`) against the real services,
//! for the adversarial tests (`faults.rs`, `leaks.rs`): a deadline on every run, a minimal registry client
//! for setup and checks, and a docker config holding credentials.

use shipkit_core::http::{Client, Request};
use shipkit_core::retry::Backoff;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `target/debug/<tool>`, next to the running test binary (`target/debug/deps/…`).
pub fn tool(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let bin = debug.join(name);
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo test --workspace` (it builds the four tools) or \
         `cargo build -p {name}` first",
        bin.display()
    );
    bin
}

/// What a run did, and how long it took.
pub struct Run {
    pub output: Output,
    pub took: Duration,
    /// Killed at the test's deadline (the tool hung).
    pub killed: bool,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    /// For assertion messages.
    pub fn show(&self) -> String {
        format!(
            "exit {:?} after {:.1}s{}\nstdout: {}\nstderr: {}",
            self.output.status.code(),
            self.took.as_secs_f64(),
            if self.killed { " (KILLED at the deadline)" } else { "" },
            self.stdout(),
            self.stderr()
        )
    }
}

/// Run a tool in `dir` with `env` (the host's CI variables removed), killed after `deadline`.
pub fn run(name: &str, args: &[&str], dir: &Path, env: &[(&str, &str)], deadline: Duration) -> Run {
    run_signalled(name, args, dir, env, deadline, None)
}

/// [`run`], sending the tool a real SIGTERM (`kill -TERM`) `term_after` after it started.
pub fn run_signalled(
    name: &str,
    args: &[&str],
    dir: &Path,
    env: &[(&str, &str)],
    deadline: Duration,
    term_after: Option<Duration>,
) -> Run {
    let mut cmd = Command::new(tool(name));
    cmd.args(args).current_dir(dir).env("NO_COLOR", "1");
    for var in shipkit_testkit::CI_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut b = vec![];
        let _ = out.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = vec![];
        let _ = err.read_to_end(&mut b);
        b
    });
    let mut killed = false;
    let mut term_after = term_after;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if term_after.is_some_and(|t| start.elapsed() >= t) {
            term_after = None;
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            killed = true;
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let took = start.elapsed();
    let output = Output {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
    };
    Run { output, took, killed }
}

/// One ECS JSON-protocol call to moto (`SHIPKIT_TEST_MOTO_URL`) for a test's own setup; its JSON answer
/// (a status other than 200 fails the test).
pub fn moto_ecs(action: &str, body: &serde_json::Value) -> serde_json::Value {
    let url = shipkit_testkit::service("SHIPKIT_TEST_MOTO_URL");
    let client = Client::new(Duration::from_secs(30), Backoff::NONE);
    let req = Request::new("POST", &format!("{url}/"))
        .header("X-Amz-Target", &format!("AmazonEC2ContainerServiceV20141113.{action}"))
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=x",
        )
        .body(body.to_string());
    let r = client.send_once(&req).unwrap();
    assert_eq!(r.status, 200, "{action}: {}", r.text());
    serde_json::from_str(&r.text()).unwrap_or_default()
}

/// A new cluster (`unique(prefix)`) with one FARGATE service `<cluster>-svc` on `<cluster>-svc:1` (image
/// `reg.test/<cluster>-svc:1.0.0`), made in moto; `(cluster, service)`.
pub fn ecs_service(prefix: &str) -> (String, String) {
    let cluster = unique(prefix);
    let family = format!("{cluster}-svc");
    moto_ecs("CreateCluster", &serde_json::json!({"clusterName": cluster}));
    moto_ecs(
        "RegisterTaskDefinition",
        &serde_json::json!({"family": family, "containerDefinitions": [{"name": "app",
            "image": format!("reg.test/{family}:1.0.0"), "memory": 128, "essential": true}]}),
    );
    moto_ecs(
        "CreateService",
        &serde_json::json!({"cluster": cluster, "serviceName": family, "taskDefinition": format!("{family}:1"),
            "desiredCount": 1, "launchType": "FARGATE"}),
    );
    (cluster, family)
}

/// The environment that points the tools' AWS SDK at moto and nowhere else: test credentials (with
/// `secret_key` as the secret key), us-east-1, no instance metadata, no config or credentials file; status
/// polled every 0.2 s.
pub fn moto_aws_env(secret_key: &str) -> Vec<(String, String)> {
    [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", secret_key),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent/shipkit-test-aws-config"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/shipkit-test-aws-credentials",
        ),
        ("SHIPKIT_POLL_INTERVAL", "0.2s"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .chain([(
        "AWS_ENDPOINT_URL".to_string(),
        shipkit_testkit::service("SHIPKIT_TEST_MOTO_URL"),
    )])
    .collect()
}

/// A minimal registry client for the tests' own setup and checks (not the code under test).
pub struct Registry {
    pub addr: String,
    auth: Option<String>,
    client: Client,
}

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
                      application/vnd.docker.distribution.manifest.v2+json";

impl Registry {
    pub fn new(addr: &str) -> Registry {
        Registry {
            addr: addr.to_string(),
            auth: None,
            client: Client::new(Duration::from_secs(30), Backoff::NONE),
        }
    }

    pub fn with_basic(addr: &str, user: &str, password: &str) -> Registry {
        let mut r = Registry::new(addr);
        r.auth = Some(format!("Basic {}", basic(user, password)));
        r
    }

    fn send(&self, req: Request) -> shipkit_core::http::Response {
        let req = match &self.auth {
            Some(a) => req.header("Authorization", a),
            None => req,
        };
        self.client.send_once(&req).unwrap()
    }

    fn url(&self, rest: &str) -> String {
        format!("http://{}/v2/{rest}", self.addr)
    }

    /// Upload a blob; returns its digest.
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

    /// A small OCI image (one layer holding `content`) under `repo:tag`; returns the manifest digest.
    pub fn put_image(&self, repo: &str, tag: &str, content: &str) -> String {
        let layer = self.put_blob(repo, content.as_bytes());
        let config = serde_json::json!({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer]}})
        .to_string();
        let config_digest = self.put_blob(repo, config.as_bytes());
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": content.len()}]
        })
        .to_string();
        let r = self.send(
            Request::new("PUT", &self.url(&format!("{repo}/manifests/{tag}")))
                .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
                .body(manifest.into_bytes()),
        );
        assert_eq!(r.status, 201, "PUT manifest: {}", r.text());
        r.header("docker-content-digest").unwrap().to_string()
    }

    /// The digest `repo:tag` points at, `None` when it does not exist.
    pub fn digest(&self, repo: &str, tag: &str) -> Option<String> {
        let r = self.send(Request::new("HEAD", &self.url(&format!("{repo}/manifests/{tag}"))).header("Accept", ACCEPT));
        match r.status {
            200 => r.header("docker-content-digest").map(String::from),
            404 => None,
            s => panic!("HEAD {repo}:{tag}: HTTP {s}"),
        }
    }
}

/// A repository name no other test uses.
pub fn unique(name: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("adv-{name}-{}-{:x}", std::process::id(), n & 0xffff_ffff)
}

/// `base64(user:password)`.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// `sha256:<hex>`.
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

/// A `DOCKER_CONFIG` directory whose config.json holds credentials for `registry`.
pub fn docker_config(registry: &str, user: &str, password: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = serde_json::json!({"auths": {registry: {"auth": basic(user, password)}}});
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    dir
}
