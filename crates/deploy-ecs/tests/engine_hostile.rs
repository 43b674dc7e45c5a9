//! A hostile or broken ECS: a proxy in front of moto answers DescribeServiceDeployments itself — with
//! absurd numbers, terminal escapes and a 200 kB reason, or with server errors — and passes every other
//! call through. deploy-ecs must not panic, print one bounded line per update with no escape sequence,
//! keep its documented exit codes, and not roll back blind.
mod common;
mod engine_support;

use common::{code, json_out, moto_url, run_at, show};
use engine_support::EngineService;
use serde_json::{json, Value};
use shipkit_testkit::stderr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

/// What the proxy answers to DescribeServiceDeployments.
#[derive(Clone, Copy)]
enum Hostile {
    /// Extreme numbers, escapes, a huge reason; forever IN_PROGRESS.
    Garbage,
    /// HTTP 500 ServerException.
    ServerError,
}

fn hostile_body(arn: &str) -> String {
    let reason = format!("{}\u{1b}]0;pwned\u{7}\u{1b}[2J\nsecond line", "x".repeat(200_000));
    json!({"serviceDeployments": [{
        "serviceDeploymentArn": arn,
        "status": "IN_PROGRESS",
        "statusReason": reason,
        "lifecycleStage": "BAKE_TIME\u{1b}[31m",
        "targetServiceRevision": {"arn": "r", "requestedTaskCount": i32::MAX, "runningTaskCount": i32::MIN,
            "pendingTaskCount": -1, "requestedProductionTrafficWeight": 1e308},
        "sourceServiceRevisions": (0..500).map(|i| json!({"arn": format!("s{i}"), "requestedTaskCount": 1,
            "runningTaskCount": 1, "pendingTaskCount": 0})).collect::<Vec<_>>(),
        "deploymentConfiguration": {"strategy": "LINEAR\u{1b}[0m", "bakeTimeInMinutes": i32::MAX,
            "linearConfiguration": {"stepPercent": 1e-300, "stepBakeTimeInMinutes": i32::MAX}},
        "lifecycleHookDetails": [{"hookId": "h\u{1b}[1m", "targetType": "PAUSE", "status": "AWAITING_ACTION",
            "expiresAt": 4_102_444_800.0}],
        "alarms": {"status": "TRIGGERED", "triggeredAlarmNames": ["a\u{1b}[5m", "b\u{1b}[5m", "c"]},
    }], "failures": []})
    .to_string()
}

/// Start the proxy; its URL.
fn start_proxy(mode: Hostile) -> String {
    let upstream = moto_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let upstream = upstream.clone();
            std::thread::spawn(move || serve(conn, &upstream, mode));
        }
    });
    url
}

fn serve(conn: TcpStream, upstream: &str, mode: Hostile) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
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
        let lower = head.to_ascii_lowercase();
        let len: usize = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let (status, reply) = if lower.contains("describeservicedeployments") {
            match mode {
                Hostile::Garbage => {
                    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let arn = req["serviceDeploymentArns"][0].as_str().unwrap_or("").to_string();
                    ("200 OK", hostile_body(&arn).into_bytes())
                }
                Hostile::ServerError => (
                    "500 Internal Server Error",
                    br#"{"__type":"ServerException","message":"boom"}"#.to_vec(),
                ),
            }
        } else {
            ("", forward(upstream, &head, &body))
        };
        let out = if status.is_empty() {
            reply
        } else {
            let mut r = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: hostile\r\nContent-Length: {}\r\n\r\n",
                reply.len()
            )
            .into_bytes();
            r.extend(reply);
            r
        };
        if conn.write_all(&out).is_err() {
            return;
        }
    }
}

/// Forward one request to moto and re-frame its answer with an exact length (keep-alive).
fn forward(upstream: &str, head: &str, body: &[u8]) -> Vec<u8> {
    let mut up = TcpStream::connect(upstream).unwrap();
    let head: String = head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:") && !l.is_empty())
        .flat_map(|l| [l, "\r\n"])
        .collect();
    up.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes())
        .unwrap();
    up.write_all(body).unwrap();
    let mut resp = Vec::new();
    up.read_to_end(&mut resp).unwrap();
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(resp.len(), |p| p + 4);
    let (rhead, rbody) = resp.split_at(split);
    let rhead = String::from_utf8_lossy(rhead);
    let mut lines = rhead.lines();
    let mut out = format!(
        "{}\r\n",
        lines
            .next()
            .unwrap_or("HTTP/1.1 200 OK")
            .replacen("HTTP/1.0", "HTTP/1.1", 1)
    );
    for l in lines.filter(|l| !l.is_empty()) {
        let k = l.to_ascii_lowercase();
        if !(k.starts_with("connection:") || k.starts_with("content-length:") || k.starts_with("transfer-encoding:")) {
            out.push_str(&format!("{l}\r\n"));
        }
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", rbody.len()));
    let mut v = out.into_bytes();
    v.extend_from_slice(rbody);
    v
}

#[test]
fn absurd_answers_are_bounded_printable_and_end_in_a_documented_code() {
    let s = EngineService::new("c", json!({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1}));
    let proxy = start_proxy(Hostile::Garbage);
    let args = s.deploy_args("2.0.0", &["--timeout", "2s"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run_at(&proxy, &args, &[]);
    // ECS's verdict never comes: our timeout asks ECS to roll back, and the rollback is never seen done.
    assert_eq!(code(&o), 13, "{}", show(&o));
    let out = json_out(&o);
    assert_eq!(out["services"][0]["status"], "rollback_failed");
    let err = stderr(&o);
    assert!(
        !err.contains('\u{1b}') && !err.contains('\u{7}'),
        "no escape sequence reaches the log"
    );
    for line in err.lines() {
        assert!(
            line.chars().count() < 3_000,
            "a bounded line: {} chars",
            line.chars().count()
        );
    }
    assert!(err.contains("BAKE_TIME"), "{}", &err[..err.len().min(2000)]);
}

#[test]
fn a_failing_describe_is_an_api_error_not_a_blind_rollback() {
    let s = EngineService::new("c", json!({"strategy": "ROLLING"}));
    let proxy = start_proxy(Hostile::ServerError);
    let args = s.deploy_args("2.0.0", &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = run_at(&proxy, &args, &[("SHIPKIT_AWS_MAX_ATTEMPTS", "2")]);
    assert_eq!(code(&o), 7, "{}", show(&o));
    assert!(stderr(&o).contains("ServerException"), "{}", show(&o));
    let d = &s.deployments()[0];
    assert_ne!(d["status"], "ROLLBACK_IN_PROGRESS", "no rollback asked blind");
    assert_ne!(d["status"], "ROLLBACK_SUCCESSFUL", "no rollback asked blind");
}
