//! Flows a real docker-registry never shows, against a scripted registry (testkit's HttpSink): a Bearer
//! challenge answered with a token from the realm (credentials from a docker credential helper), a transient
//! 503 retried, a token that expires in the middle of a push refreshed once, a token realm over plain HTTP
//! refused, and a declined cross-repository mount (202) falling back to an upload.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use shipkit_testkit::http_sink::{HttpSink, Reply};

const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":2},"layers":[]}"#;

fn challenge(sink: &HttpSink, scope: &str) -> Reply {
    Reply::status(401).header(
        "WWW-Authenticate",
        &format!(
            "Bearer realm=\"{}/token\",service=\"sink-registry\",scope=\"{scope}\"",
            sink.url()
        ),
    )
}

#[test]
fn bearer_token_flow_with_credential_helper_retries_and_token_refresh() {
    use std::os::unix::fs::PermissionsExt;
    let sink = HttpSink::start();
    let digest = sha256(MANIFEST.as_bytes());
    let host = format!("127.0.0.1:{}", sink.port());
    sink.route(
        "/token",
        vec![],
        Some(Reply::json(200, r#"{"token":"tok-abcdef-123456"}"#)),
    );
    sink.route(
        "/v2/team/app/manifests/1.0",
        vec![challenge(&sink, "repository:team/app:pull")],
        Some(Reply::json(200, MANIFEST).header("Docker-Content-Digest", &digest)),
    );
    sink.route(
        "/v2/team/app/manifests/stable",
        vec![
            Reply::status(404),                                // HEAD: not there yet
            Reply::text(503, "busy"),                          // PUT: transient
            challenge(&sink, "repository:team/app:pull,push"), // PUT again: the token expired
        ],
        Some(Reply::status(201).header("Docker-Content-Digest", &digest)),
    );

    // Credentials from a credential helper named in the docker config.
    let env = Env::without_docker();
    let helper = env.home.path().join("bin").join("docker-credential-shipkittest");
    std::fs::write(
        &helper,
        "#!/bin/sh\nread server\n[ \"$1\" = get ] || exit 1\nprintf '{\"ServerURL\":\"%s\",\"Username\":\"helper-user\",\"Secret\":\"helper-Secret-987\"}' \"$server\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        env.docker_config().join("config.json"),
        format!("{{\"credHelpers\":{{\"{host}\":\"shipkittest\"}}}}"),
    )
    .unwrap();

    let mut env = env;
    env.set("SHIPKIT_RETRIES", "3");
    let o = env.run(
        &[
            "retag",
            "--image",
            &format!("{host}/team/app"),
            "--from",
            "1.0",
            "--tags",
            "stable",
            "--format",
            "json",
            "--verbose",
        ],
        env.home.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let j = json_out(&o);
    assert_eq!(j["digest"], digest.as_str());
    assert_eq!(strs(&j["pushed"]), vec![format!("{host}/team/app:stable")]);
    let text = out(&o) + &err(&o);
    assert!(
        !text.contains("helper-Secret-987") && !text.contains("tok-abcdef-123456"),
        "{text}"
    );
    assert!(text.contains("HTTP 503") && text.contains("retrying"), "{text}");

    let reqs = sink.requests();
    let tokens: Vec<_> = reqs.iter().filter(|r| r.path.starts_with("/token")).collect();
    assert_eq!(
        tokens.len(),
        3,
        "pull token, push token, refreshed push token: {:?}",
        reqs.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    let basic = format!("Basic {}", base64_encode("helper-user:helper-Secret-987"));
    for t in &tokens {
        assert_eq!(
            t.header("authorization"),
            Some(basic.as_str()),
            "credentials from the helper"
        );
        assert!(t.path.contains("service=sink-registry"), "{}", t.path);
    }
    assert!(
        tokens[0].path.contains("scope=repository%3Ateam%2Fapp%3Apull"),
        "{}",
        tokens[0].path
    );
    assert!(
        tokens[2].path.contains("scope=repository%3Ateam%2Fapp%3Apull%2Cpush"),
        "{}",
        tokens[2].path
    );
    let puts: Vec<_> = reqs.iter().filter(|r| r.method == "PUT").collect();
    assert_eq!(puts.len(), 3, "503, 401, 201");
    let last = puts.last().unwrap();
    assert_eq!(last.header("authorization"), Some("Bearer tok-abcdef-123456"));
    assert_eq!(last.body, MANIFEST.as_bytes(), "the same bytes");
    assert_eq!(
        last.header("content-type"),
        Some("application/vnd.oci.image.manifest.v1+json")
    );
}

#[test]
fn token_realm_over_plain_http_to_a_remote_host_is_refused() {
    let sink = HttpSink::start();
    let host = format!("127.0.0.1:{}", sink.port());
    // A realm on a non-loopback host over http: credentials would travel in clear text. (Never contacted.)
    sink.route(
        "/v2/app/manifests/1",
        vec![],
        Some(Reply::status(401).header(
            "WWW-Authenticate",
            "Bearer realm=\"http://auth.example.test/token\",service=\"x\"",
        )),
    );
    let env = Env::without_docker();
    let o = env.run(&["digest", &format!("{host}/app:1")], env.home.path());
    assert_eq!(code(&o), 8, "{}", err(&o));
    assert!(err(&o).contains("plain HTTP"), "{}", err(&o));
    assert!(sink.requests().iter().all(|r| !r.path.starts_with("/token")));
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn promote_falls_back_to_upload_when_the_registry_declines_the_mount() {
    let sink = HttpSink::start();
    let host = format!("127.0.0.1:{}", sink.port());
    let blob = "config-blob-bytes";
    let blob_digest = sha256(blob.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{blob_digest}","size":{}}},"layers":[]}}"#,
        blob.len()
    );
    let digest = sha256(manifest.as_bytes());
    sink.route("/v2/a/manifests/1", vec![], Some(Reply::json(200, &manifest)));
    // No referrers API and no referrers tag index (the copy looks for provenance to carry along).
    sink.route("/v2/a/referrers/", vec![], Some(Reply::status(404)));
    sink.route("/v2/a/manifests/sha256-", vec![], Some(Reply::status(404)));
    sink.route(
        "/v2/b/blobs/uploads/",
        vec![Reply::status(202).header("Location", "/upload/u1?_state=x")],
        None,
    );
    sink.route(&format!("/v2/b/blobs/{blob_digest}"), vec![Reply::status(404)], None);
    sink.route(
        &format!("/v2/a/blobs/{blob_digest}"),
        vec![Reply::status(200), Reply::text(200, blob)],
        None,
    );
    sink.route("/upload/u1", vec![Reply::status(201)], None);
    sink.route(
        "/v2/b/manifests/1",
        vec![
            Reply::status(404),
            Reply::status(201).header("Docker-Content-Digest", &digest),
        ],
        None,
    );
    let env = Env::without_docker();
    let report = env.run_json(
        &[
            "promote",
            "--from",
            &format!("{host}/a:1"),
            "--to",
            &format!("{host}/b:1"),
        ],
        env.home.path(),
    );
    assert_eq!(report["digest"], digest.as_str());
    let reqs = sink.requests();
    let mount = reqs.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(mount.path, format!("/v2/b/blobs/uploads/?mount={blob_digest}&from=a"));
    let upload = reqs.iter().find(|r| r.path.starts_with("/upload/u1")).unwrap();
    assert_eq!(upload.method, "PUT");
    assert_eq!(
        upload.path,
        format!("/upload/u1?_state=x&digest={}", blob_digest.replace(':', "%3A"))
    );
    assert_eq!(
        upload.body,
        blob.as_bytes(),
        "the blob was streamed into the upload the registry opened"
    );
    let put = reqs.iter().rfind(|r| r.path == "/v2/b/manifests/1").unwrap();
    assert_eq!((put.method.as_str(), put.body.as_slice()), ("PUT", manifest.as_bytes()));
}

#[test]
fn identity_token_from_the_docker_config_uses_the_oauth2_refresh_token_grant() {
    let sink = HttpSink::start();
    let host = format!("127.0.0.1:{}", sink.port());
    let digest = sha256(MANIFEST.as_bytes());
    sink.route(
        "/token",
        vec![],
        Some(Reply::json(200, r#"{"access_token":"access-xyz-987654"}"#)),
    );
    sink.route(
        "/v2/app/manifests/1",
        vec![challenge(&sink, "repository:app:pull")],
        Some(Reply::status(200).header("Docker-Content-Digest", &digest)),
    );
    let env = Env::without_docker();
    std::fs::write(
        env.docker_config().join("config.json"),
        format!("{{\"auths\":{{\"{host}\":{{\"auth\":\"\",\"identitytoken\":\"refresh-Token-123456\"}}}}}}"),
    )
    .unwrap();
    let o = env.run(&["digest", &format!("{host}/app:1"), "--verbose"], env.home.path());
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(out(&o), format!("{digest}\n"));
    assert!(!err(&o).contains("refresh-Token-123456"));
    let reqs = sink.requests();
    let token = reqs.iter().find(|r| r.path.starts_with("/token")).unwrap();
    assert_eq!(token.method, "POST");
    let form = token.body_text();
    assert!(
        form.contains("grant_type=refresh_token")
            && form.contains("refresh_token=refresh-Token-123456")
            && form.contains("service=sink-registry")
            && form.contains("scope=repository%3Aapp%3Apull"),
        "{form}"
    );
    let last = reqs.iter().rfind(|r| r.path == "/v2/app/manifests/1").unwrap();
    assert_eq!(last.header("authorization"), Some("Bearer access-xyz-987654"));
}
