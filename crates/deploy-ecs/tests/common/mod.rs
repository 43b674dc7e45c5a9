//! Helpers for the end-to-end tests: the real `deploy-ecs` binary against moto's ECS server
//! (SHIPKIT_TEST_MOTO_URL, started by scripts/test-services with tests/fixtures/moto_server.py).
//!
//! What moto (with the fixture's patch) emulates: clusters, task definitions (register, describe, tags),
//! services (create, update, describe, tags), ListTasks/DescribeTasks/RunTask; UpdateService starts a
//! new PRIMARY deployment that completes about 1 s later, or crash-loops ("crashloop" in the image),
//! trips the circuit breaker and rolls back ("breaker"), or never finishes ("stuck"); RunTask's exit
//! code comes from an `exit N` in the command. What it does not: real tasks, health checks, load
//! balancers, throttling (a proxy below answers ThrottlingException), refusing INACTIVE revisions.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Output;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

pub fn moto_url() -> String {
    shipkit_testkit::service("SHIPKIT_TEST_MOTO_URL")
}

/// A name no other test (or developer) uses on the shared moto server.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000;
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// One raw ECS JSON-protocol call to moto (the test's own setup and checks; not the code under test).
pub fn call(action: &str, body: &Value) -> Value {
    let url = moto_url();
    let host = url.trim_start_matches("http://").trim_end_matches('/').to_string();
    let (status, text) = http_post(&host, action, &body.to_string());
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert!(status == 200, "{action} failed: {status} {text}");
    v
}

fn http_post(host: &str, action: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(host).expect("moto reachable");
    let req = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nX-Amz-Target: AmazonEC2ContainerServiceV20141113.{action}\r\n\
         Content-Type: application/x-amz-json-1.1\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=x\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status: u16 = resp.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A cluster with services, each on its own task-definition family (image `reg.test/<family>:1.0.0`),
/// FARGATE, desired 1, rolled out. Returns the family names (= service names).
pub struct Fixture {
    pub cluster: String,
    pub services: Vec<String>,
}

impl Fixture {
    pub fn new(n: usize) -> Fixture {
        Self::with_td(n, |_| json!({}))
    }

    /// `extra(family)` is merged into each RegisterTaskDefinition request.
    pub fn with_td(n: usize, extra: impl Fn(&str) -> Value) -> Fixture {
        assert_patched_moto();
        let cluster = unique("c");
        call("CreateCluster", &json!({"clusterName": cluster}));
        let mut services = Vec::new();
        for i in 0..n {
            let family = format!("{cluster}-s{i}");
            let mut td = json!({
                "family": family,
                "containerDefinitions": [{"name": "app", "image": format!("reg.test/{family}:1.0.0"), "memory": 128, "essential": true}],
            });
            if let (Value::Object(base), Value::Object(more)) = (&mut td, extra(&family)) {
                base.extend(more);
            }
            call("RegisterTaskDefinition", &td);
            call(
                "CreateService",
                &json!({"cluster": cluster, "serviceName": family, "taskDefinition": format!("{family}:1"),
                       "desiredCount": 1, "launchType": "FARGATE"}),
            );
            services.push(family);
        }
        Fixture { cluster, services }
    }

    pub fn image(&self, i: usize, tag: &str) -> String {
        format!("reg.test/{}:{tag}", self.services[i])
    }

    /// The service's current task definition ARN.
    pub fn current_td(&self, i: usize) -> String {
        let v = call(
            "DescribeServices",
            &json!({"cluster": self.cluster, "services": [self.services[i]]}),
        );
        v["services"][0]["taskDefinition"].as_str().unwrap().to_string()
    }

    pub fn revisions(&self, i: usize) -> usize {
        let v = call("ListTaskDefinitions", &json!({"familyPrefix": self.services[i]}));
        v["taskDefinitionArns"].as_array().unwrap().len()
    }

    pub fn service_tags(&self, i: usize) -> Value {
        let v = call(
            "DescribeServices",
            &json!({"cluster": self.cluster, "services": [self.services[i]], "include": ["TAGS"]}),
        );
        v["services"][0]["tags"].clone()
    }
}

/// Fail fast, and say why, when the moto server was started without the fixture's deployment patch
/// (every deploy would then wait for its timeout).
fn assert_patched_moto() {
    static CHECKED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let ok = *CHECKED.get_or_init(|| {
        let cluster = unique("probe");
        call("CreateCluster", &json!({"clusterName": cluster}));
        let td = json!({"family": cluster, "containerDefinitions": [{"name": "a", "image": "probe:1", "memory": 64}]});
        call("RegisterTaskDefinition", &td);
        call("RegisterTaskDefinition", &td);
        call("CreateService", &json!({"cluster": cluster, "serviceName": "p", "taskDefinition": format!("{cluster}:1"), "desiredCount": 1}));
        let v = call("UpdateService", &json!({"cluster": cluster, "service": "p", "taskDefinition": format!("{cluster}:2")}));
        v["service"]["deployments"].as_array().map_or(0, Vec::len) == 2
    });
    assert!(
        ok,
        "the moto server at SHIPKIT_TEST_MOTO_URL runs without tests/fixtures/moto_server.py's deployment patch: \
         restart it with `scripts/test-services start` (or ./scripts/test)"
    );
}

pub fn td_tags(arn: &str) -> Vec<(String, String)> {
    let v = call("ListTagsForResource", &json!({"resourceArn": arn}));
    v["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["key"].as_str().unwrap().to_string(),
                t["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Run the real binary with test AWS credentials pointed at `endpoint` (default: moto).
pub fn run_at(endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    run_in(dir.path(), endpoint, args, env)
}

/// The test environment every run gets: test AWS credentials pointed at `endpoint`, fast polls, a
/// one-minute default timeout, no colour.
pub fn base_env(endpoint: &str) -> Vec<(&str, &str)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent/shipkit-test-aws-config"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/shipkit-test-aws-credentials",
        ),
        ("SHIPKIT_POLL_INTERVAL", "0.2s"),
        // Fail in a minute, not ten, if something never stabilises.
        ("SHIPKIT_TIMEOUT", "60s"),
        ("NO_COLOR", "1"),
    ]
}

/// Like [`run_at`], in a given directory (a git checkout).
pub fn run_in(dir: &std::path::Path, endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut full = base_env(endpoint);
    full.extend_from_slice(env);
    shipkit_testkit::run(env!("CARGO_BIN_EXE_deploy-ecs"), args, dir, &full)
}

/// The real binary as a command to spawn (signal tests, concurrent runs), with [`base_env`].
pub fn command(dir: &std::path::Path, endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_deploy-ecs"));
    cmd.args(args).current_dir(dir);
    for var in shipkit_testkit::CI_VARS {
        cmd.env_remove(var);
    }
    for (k, v) in base_env(endpoint).into_iter().chain(env.iter().copied()) {
        cmd.env(k, v);
    }
    cmd
}

pub fn run(args: &[&str]) -> Output {
    run_at(&moto_url(), args, &[])
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn json_out(o: &Output) -> Value {
    serde_json::from_str(&shipkit_testkit::stdout(o)).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            shipkit_testkit::stdout(o),
            shipkit_testkit::stderr(o)
        )
    })
}

pub fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        shipkit_testkit::stdout(o),
        shipkit_testkit::stderr(o)
    )
}

/// SIGTERM `child` (with kill(1), as a CI runner's cancel does), wait for it, and assert it stopped within
/// `limit`; returns its output.
pub fn sigterm_within(child: std::process::Child, limit: std::time::Duration) -> Output {
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let started = std::time::Instant::now();
    let o = child.wait_with_output().unwrap();
    assert!(started.elapsed() < limit, "{:?}", started.elapsed());
    o
}

/// A local HTTP proxy in front of moto that throttles like ECS does: a token bucket of `burst` requests
/// refilled at `per_second`; a request finding it empty gets a 400 ThrottlingException. Counts both.
pub struct ThrottlingProxy {
    pub url: String,
    pub requests: Arc<AtomicUsize>,
    pub throttled: Arc<AtomicUsize>,
}

impl ThrottlingProxy {
    pub fn start(burst: f64, per_second: f64) -> ThrottlingProxy {
        let upstream = moto_url()
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let throttled = Arc::new(AtomicUsize::new(0));
        let (r, t) = (requests.clone(), throttled.clone());
        let bucket = Arc::new(std::sync::Mutex::new((burst, std::time::Instant::now())));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (r, t, upstream, bucket) = (r.clone(), t.clone(), upstream.clone(), bucket.clone());
                let take = move || {
                    let mut b = bucket.lock().unwrap();
                    let now = std::time::Instant::now();
                    b.0 = (b.0 + now.duration_since(b.1).as_secs_f64() * per_second).min(burst);
                    b.1 = now;
                    if b.0 >= 1.0 {
                        b.0 -= 1.0;
                        true
                    } else {
                        false
                    }
                };
                std::thread::spawn(move || serve(conn, &upstream, &take, &r, &t));
            }
        });
        ThrottlingProxy {
            url,
            requests,
            throttled,
        }
    }
}

fn serve(conn: TcpStream, upstream: &str, take: &dyn Fn() -> bool, requests: &AtomicUsize, throttled: &AtomicUsize) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        // Read one request: headers, then Content-Length bytes.
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let end = line == "\r\n";
            head.push_str(&line);
            if end {
                break;
            }
        }
        let len: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap_or(0))
            })
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        requests.fetch_add(1, Ordering::SeqCst);
        if !take() {
            throttled.fetch_add(1, Ordering::SeqCst);
            let b = r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
            let resp = format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-ErrorType: ThrottlingException\r\nx-amzn-RequestId: test\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            );
            if conn.write_all(resp.as_bytes()).is_err() {
                return;
            }
            continue;
        }
        // Forward with Connection: close and relay the whole answer, keeping the client's connection open.
        let mut up = TcpStream::connect(upstream).unwrap();
        let head: String = head
            .lines()
            .filter(|l| !l.to_ascii_lowercase().starts_with("connection:") && !l.is_empty())
            .flat_map(|l| [l, "\r\n"])
            .collect();
        up.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes())
            .unwrap();
        up.write_all(&body).unwrap();
        let mut resp = Vec::new();
        up.read_to_end(&mut resp).unwrap();
        // Re-frame as HTTP/1.1 keep-alive with an exact length.
        let split = resp
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(resp.len(), |p| p + 4);
        let (rhead, rbody) = resp.split_at(split);
        let rhead = String::from_utf8_lossy(rhead);
        let mut lines = rhead.lines();
        let status = lines
            .next()
            .unwrap_or("HTTP/1.1 200 OK")
            .replacen("HTTP/1.0", "HTTP/1.1", 1);
        let mut out = format!("{status}\r\n");
        for l in lines.filter(|l| !l.is_empty()) {
            let lower = l.to_ascii_lowercase();
            if lower.starts_with("connection:")
                || lower.starts_with("content-length:")
                || lower.starts_with("transfer-encoding:")
            {
                continue;
            }
            out.push_str(&format!("{l}\r\n"));
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", rbody.len()));
        if conn.write_all(out.as_bytes()).is_err() || conn.write_all(rbody).is_err() {
            return;
        }
    }
}
