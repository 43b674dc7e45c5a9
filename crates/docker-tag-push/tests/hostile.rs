//! A hostile or broken registry: credentials never leave the origin that asked for them (a blob GET
//! redirected to another port — `127.0.0.1:P` then `127.0.0.1:P0`, the pair a string-prefix check
//! confused — is followed without them), `Retry-After: inf` and friends never crash the run, and
//! out-of-range numbers from flags are refused before anything runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::proxy::{prefix_port_pair, Fault, FaultProxy};
use common::*;
use shipkit_testkit::extra_registry::ExtraRegistry;
use shipkit_testkit::http_sink::{HttpSink, Reply};
use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};

fn registry() -> String {
    shipkit_testkit::service("SHIPKIT_TEST_REGISTRY")
}

/// The headers of each request a server received, names lower-cased.
type HeaderLog = Arc<Mutex<Vec<Vec<(String, String)>>>>;

/// A storage stand-in on `listener`: answers every GET with `body`, records each request's headers.
fn storage(listener: std::net::TcpListener, body: Vec<u8>) -> HeaderLog {
    let seen = Arc::new(Mutex::new(vec![]));
    let s = Arc::clone(&seen);
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut headers = vec![];
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.trim().split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
            s.lock().unwrap().push(headers);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&body);
        }
    });
    seen
}

#[test]
fn a_blob_redirected_to_another_origin_is_fetched_without_the_registry_credentials() {
    let (user, password) = ("ci", "Origin-Secret-4711");
    let private = ExtraRegistry::start(Some((user, password)));
    let raw = Raw::with_basic(&private.addr, user, password);
    let repo = unique("redirect");
    let (manifest, digest) = raw.put_image(&repo, "amd64", "a layer stored behind a CDN");
    let layer = {
        let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        m["layers"][0]["digest"].as_str().unwrap().to_string()
    };
    let layer_bytes = raw.blob(&repo, &layer);
    // The registry on port P; its storage on port P*10+d: `http://127.0.0.1:P` is a string prefix of it.
    let (registry_port, storage_port) = prefix_port_pair();
    let cdn = format!("http://{}/cdn/{layer}", storage_port.local_addr().unwrap());
    let seen = storage(storage_port, layer_bytes);
    let proxy = FaultProxy::on(registry_port, &private.addr);
    proxy.rule("GET", &format!("/blobs/{layer}"), Fault::Redirect(cdn), usize::MAX);
    assert!(
        format!("http://127.0.0.1:{}", proxy.port).len() < format!("http://{}", private.addr).len() + 8,
        "sanity"
    );

    let env = Env::without_docker();
    std::fs::write(
        env.docker_config().join("config.json"),
        format!(
            "{{\"auths\":{{\"{}\":{{\"auth\":\"{}\"}}}}}}",
            proxy.addr,
            base64_encode(&format!("{user}:{password}"))
        ),
    )
    .unwrap();
    let to = format!("{}/{repo}:1.0.0", registry());
    let o = env.run(
        &[
            "promote",
            "--from",
            &format!("{}/{repo}@{digest}", proxy.addr),
            "--to",
            &to,
            "--format",
            "json",
        ],
        env.home.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(json_out(&o)["digest"], digest.as_str());
    let at_storage = seen.lock().unwrap().clone();
    assert!(!at_storage.is_empty(), "the redirect was followed");
    for headers in &at_storage {
        assert!(
            !headers.iter().any(|(k, _)| k == "authorization"),
            "credentials sent to the other origin: {headers:?}"
        );
    }
    let blob_get = proxy.wait_for("GET", &format!("/blobs/{layer}"), std::time::Duration::from_secs(1));
    assert!(
        blob_get
            .header("authorization")
            .is_some_and(|a| a.starts_with("Basic ")),
        "the registry itself did get them"
    );
    assert_eq!(
        Raw::new(&registry()).digest(&repo, "1.0.0").as_deref(),
        Some(digest.as_str())
    );
    assert!(!(out(&o) + &err(&o)).contains(password));
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn hostile_retry_after_values_never_crash_and_are_bounded() {
    const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":2},"layers":[]}"#;
    let digest = sha256(MANIFEST.as_bytes());
    // Huge values (`1e20`, `18446744073709551616`) wait the backoff's cap (30 s): shipkit-core's
    // retry_after tests cover them; here the ones that must fall back to the backoff or to no wait.
    for hostile in [
        "inf",
        "-5",
        "NaN",
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "1e-400",
        "99999999999999999999999999x",
    ] {
        let sink = HttpSink::start();
        let host = format!("127.0.0.1:{}", sink.port());
        sink.route(
            "/v2/team/app/manifests/1.0",
            vec![],
            Some(Reply::json(200, MANIFEST).header("Docker-Content-Digest", &digest)),
        );
        sink.route(
            "/v2/team/app/manifests/stable",
            vec![
                Reply::status(404),                                      // HEAD
                Reply::text(503, "busy").header("Retry-After", hostile), // PUT
            ],
            Some(Reply::status(201).header("Docker-Content-Digest", &digest)),
        );
        let mut env = Env::without_docker();
        env.set("SHIPKIT_RETRIES", "2");
        let started = std::time::Instant::now();
        let o = env.run(
            &[
                "retag",
                "--image",
                &format!("{host}/team/app"),
                "--from",
                "1.0",
                "--tags",
                "stable",
            ],
            env.home.path(),
        );
        assert_eq!(code(&o), 0, "Retry-After: {hostile}: {}", err(&o));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "Retry-After: {hostile} waited {:?}",
            started.elapsed()
        );
        assert!(!err(&o).contains("panicked"), "{}", err(&o));
    }
}

#[test]
fn out_of_range_numbers_and_durations_are_refused_before_anything_runs() {
    let sink = HttpSink::start();
    let host = format!("127.0.0.1:{}", sink.port());
    let env = Env::without_docker();
    for (flag, value) in [
        ("--registry-timeout", "1e30"),
        ("--registry-timeout", "18446744073709551615"),
        ("--registry-timeout", "0"),
        ("--registry-timeout", "-1"),
        ("--retries", "1000"),
        ("--retries", "-1"),
        ("--output-file", "/"),
        ("--output-file", "/nonexistent-dir/out.json"),
    ] {
        let o = env.run(
            &[
                "retag",
                "--image",
                &format!("{host}/a"),
                "--from",
                "1",
                "--tags",
                "x",
                "--format",
                "json",
                flag,
                value,
            ],
            env.home.path(),
        );
        assert_eq!(code(&o), 2, "{flag} {value}: {}", err(&o));
        let e = err(&o);
        assert_eq!(e.trim().lines().count(), 1, "one line: {e}");
        assert!(e.starts_with("docker-tag-push: error:") && e.contains("hint:"), "{e}");
    }
    assert!(sink.requests().is_empty(), "nothing was sent");
}
