//! Native ECR against real parts: moto's GetAuthorizationToken (it answers `AWS:<account>-auth-token`) in
//! front of a real htpasswd docker-registry that accepts exactly that pair, addressed by an ECR-style host
//! name that `scripts/test-services` maps to 127.0.0.1 in /etc/hosts (checked here before any use: never a
//! real AWS address). ECR's own errors (immutable tag, missing repository, a refused mount) come from a
//! scripted registry under the same host name, as ECR words them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use shipkit_testkit::extra_registry::ExtraRegistry;
use shipkit_testkit::http_sink::{HttpSink, Reply};

const ECR_USER: &str = "AWS";
const ECR_PASSWORD: &str = "123456789012-auth-token";

/// The ECR-style host name, after checking that it resolves to loopback addresses only.
fn ecr_host() -> String {
    use std::net::ToSocketAddrs;
    let host = shipkit_testkit::service("SHIPKIT_TEST_ECR_HOST");
    let addrs: Vec<_> = (host.as_str(), 80)
        .to_socket_addrs()
        .unwrap_or_else(|e| panic!("{host} does not resolve ({e}): run scripts/test-services start (as root)"))
        .collect();
    assert!(
        !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()),
        "{host} must resolve to 127.0.0.1 only (scripts/test-services maps it in /etc/hosts), got {addrs:?}"
    );
    host
}

/// An environment with AWS credentials for moto and nothing else AWS can reach (no IMDS, no profile).
fn aws_env(mut env: Env, registry_addr: &str) -> Env {
    env.set("AWS_ENDPOINT_URL", &shipkit_testkit::service("SHIPKIT_TEST_MOTO_URL"));
    env.set("AWS_ACCESS_KEY_ID", "testing");
    env.set("AWS_SECRET_ACCESS_KEY", "testing");
    env.set("AWS_EC2_METADATA_DISABLED", "true");
    env.set("AWS_CONFIG_FILE", "/nonexistent/aws-config");
    env.set("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials");
    env.set("SHIPKIT_INSECURE_REGISTRIES", registry_addr);
    let tmp = env.home.path().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    env.set("TMPDIR", &tmp.display().to_string());
    env
}

/// `host:port` of the ECR-named registry in front of a local one.
fn ecr_addr(local: &str) -> String {
    let port = local.rsplit(':').next().unwrap();
    format!("{}:{port}", ecr_host())
}

fn token_calls(stderr: &str) -> usize {
    stderr.matches("from GetAuthorizationToken").count()
}

#[test]
fn build_and_push_four_tags_to_ecr_with_a_token_from_the_credential_chain() {
    let local = ExtraRegistry::start(Some((ECR_USER, ECR_PASSWORD)));
    let addr = ecr_addr(&local.addr);
    let env = aws_env(Env::with_docker(), &addr);
    let app = app_repo("ecr push");
    let repo = unique("ecr");
    let o = env.run(
        &[
            "--image",
            &format!("{addr}/{repo}"),
            "--tags",
            "1.2.3,1.2,1,latest",
            "--format",
            "json",
        ],
        app.path(),
    );
    let stderr = err(&o);
    assert_eq!(code(&o), 0, "{stderr}");
    let j = json_out(&o);
    let digest = j["digest"].as_str().unwrap();
    let raw = Raw::with_basic(&local.addr, ECR_USER, ECR_PASSWORD);
    for t in ["1.2.3", "1.2", "1", "latest"] {
        assert_eq!(raw.digest(&repo, t).as_deref(), Some(digest), "{t}");
    }
    assert_eq!(token_calls(&stderr), 1, "one token for the whole run: {stderr}");
    let all = out(&o) + &stderr;
    assert!(!all.contains(ECR_PASSWORD), "the token is masked: {all}");
    // Nothing stored: no docker config written, the temporary one for docker push removed.
    assert!(!env.docker_config().join("config.json").exists());
    let left: Vec<_> = std::fs::read_dir(env.home.path().join("tmp")).unwrap().collect();
    assert!(left.is_empty(), "temporary docker config left behind: {left:?}");
}

#[test]
fn by_digest_per_platform_then_index_on_ecr_with_one_token_per_run() {
    let local = ExtraRegistry::start(Some((ECR_USER, ECR_PASSWORD)));
    let addr = ecr_addr(&local.addr);
    let env = aws_env(Env::with_docker(), &addr);
    let repo = unique("ecr-bydigest");
    let image = format!("{addr}/{repo}");
    let mut digests = vec![];
    for platform in ["linux/amd64", "linux/arm64"] {
        let app = app_repo(&format!("ecr by digest {platform}"));
        let o = env.run(
            &[
                "--image",
                &image,
                "--by-digest",
                "--platform",
                platform,
                "--format",
                "json",
            ],
            app.path(),
        );
        let stderr = err(&o);
        assert_eq!(code(&o), 0, "{platform}: {stderr}");
        assert_eq!(token_calls(&stderr), 1, "one token for the run: {stderr}");
        assert!(!(out(&o) + &stderr).contains(ECR_PASSWORD), "the token is masked");
        digests.push(json_out(&o)["digest"].as_str().unwrap().to_string());
    }
    let o = env.run(
        &[
            "index",
            "--image",
            &image,
            "--from",
            &digests.join(","),
            "--tags",
            "4.0.0",
            "--format",
            "json",
        ],
        env.home.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(token_calls(&err(&o)), 1, "{}", err(&o));
    assert_eq!(strs(&json_out(&o)["platforms"]), vec!["linux/amd64", "linux/arm64"]);
    let raw = Raw::with_basic(&local.addr, ECR_USER, ECR_PASSWORD);
    assert_eq!(
        raw.digest(&repo, "4.0.0"),
        json_out(&o)["digest"].as_str().map(String::from)
    );
    // Nothing stored, nothing left in TMPDIR (no docker push, so no temporary docker config either).
    assert!(!env.docker_config().join("config.json").exists());
    let left: Vec<_> = std::fs::read_dir(env.home.path().join("tmp")).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn retag_and_digest_on_ecr_need_no_docker_and_no_aws_cli() {
    let local = ExtraRegistry::start(Some((ECR_USER, ECR_PASSWORD)));
    let addr = ecr_addr(&local.addr);
    let raw = Raw::with_basic(&local.addr, ECR_USER, ECR_PASSWORD);
    let repo = unique("ecr-retag");
    let (_, digest) = raw.put_image(&repo, "amd64", "retag me");
    raw.put_manifest(
        &repo,
        "1.0.0",
        "application/vnd.oci.image.manifest.v1+json",
        &raw.manifest(&repo, &digest).1,
    );
    let env = aws_env(Env::without_docker(), &addr);
    let image = format!("{addr}/{repo}");
    let o = env.run(
        &["retag", "--image", &image, "--from", "1.0.0", "--tags", "stable,prod"],
        env.home.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(raw.digest(&repo, "prod").as_deref(), Some(digest.as_str()));
    let o = env.run(&["digest", &format!("{image}:stable")], env.home.path());
    assert_eq!((code(&o), out(&o)), (0, format!("{digest}\n")), "{}", err(&o));
}

#[test]
fn a_refused_fresh_token_is_a_one_line_auth_error_without_asking_again() {
    // The registry accepts another account's token: moto's token for 123456789012 is refused.
    let local = ExtraRegistry::start(Some((ECR_USER, "210987654321-auth-token")));
    let addr = ecr_addr(&local.addr);
    let env = aws_env(Env::without_docker(), &addr);
    let o = env.run(&["digest", &format!("{addr}/team/app:1")], env.home.path());
    let stderr = err(&o);
    assert_eq!(code(&o), 8, "{stderr}");
    assert_eq!(
        token_calls(&stderr),
        1,
        "a token just fetched is not asked for again: {stderr}"
    );
    assert!(stderr.contains("refused the credentials"), "{stderr}");
    assert!(!stderr.contains(ECR_PASSWORD));
}

#[test]
fn a_token_that_expires_mid_run_is_replaced_once_from_ecr() {
    let (sink, addr) = scripted_ecr();
    let basic = Reply::status(401).header(
        "WWW-Authenticate",
        "Basic realm=\"https://123456789012.dkr.ecr.us-east-1.amazonaws.com/\",service=\"ecr.amazonaws.com\"",
    );
    let manifest = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":2},"layers":[]}"#;
    let digest = sha256(manifest.as_bytes());
    sink.route(
        "/v2/team/app/manifests/1",
        vec![basic.clone()],
        Some(Reply::json(200, manifest)),
    );
    // The token worked for the GET above, then ECR refuses it (expired): asked again, then 404, then PUT.
    sink.route(
        "/v2/team/app/manifests/stable",
        vec![basic, Reply::status(404)],
        Some(Reply::status(201).header("Docker-Content-Digest", &digest)),
    );
    let env = aws_env(Env::without_docker(), &addr);
    let o = env.run(
        &[
            "retag",
            "--image",
            &format!("{addr}/team/app"),
            "--from",
            "1",
            "--tags",
            "stable",
        ],
        env.home.path(),
    );
    let stderr = err(&o);
    assert_eq!(code(&o), 0, "{stderr}");
    assert_eq!(token_calls(&stderr), 2, "{stderr}");
    let want = format!("Basic {}", base64_encode(&format!("{ECR_USER}:{ECR_PASSWORD}")));
    let reqs = sink.requests();
    let put = reqs.iter().rfind(|r| r.method == "PUT").unwrap();
    assert_eq!(put.header("authorization"), Some(want.as_str()));
    assert!(!(out(&o) + &stderr).contains(ECR_PASSWORD));
}

fn base64_encode(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn no_aws_credentials_is_exit_8_with_a_hint_and_reaches_no_metadata_service() {
    let local = ExtraRegistry::start(Some((ECR_USER, ECR_PASSWORD)));
    let addr = ecr_addr(&local.addr);
    let mut env = aws_env(Env::without_docker(), &addr);
    env.vars
        .retain(|(k, _)| k != "AWS_ACCESS_KEY_ID" && k != "AWS_SECRET_ACCESS_KEY");
    let cmd_env = env;
    for k in [
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        assert!(
            std::env::var_os(k).is_none(),
            "{k} is set in the test's environment: this test needs none"
        );
    }
    let start = std::time::Instant::now();
    let o = cmd_env.run(&["digest", &format!("{addr}/team/app:1")], cmd_env.home.path());
    let stderr = err(&o);
    assert_eq!(code(&o), 8, "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("no AWS credentials") && lines[0].contains("hint:"),
        "{stderr}"
    );
    assert!(start.elapsed().as_secs() < 30, "bounded: {:?}", start.elapsed());
}

#[test]
fn a_hostile_aws_endpoint_is_a_one_line_error_not_a_hang_or_a_panic() {
    let local = ExtraRegistry::start(Some((ECR_USER, ECR_PASSWORD)));
    let addr = ecr_addr(&local.addr);
    for (reply, want) in [
        (Reply::json(200, r#"{"authorizationData":[]}"#), "no authorization data"),
        (
            Reply::json(
                200,
                r#"{"authorizationData":[{"authorizationToken":"%%%not-base64%%%"}]}"#,
            ),
            "not base64",
        ),
        (Reply::text(200, "<html>captive portal</html>"), "GetAuthorizationToken"),
    ] {
        let aws = HttpSink::start();
        aws.set_default(reply);
        let mut env = aws_env(Env::without_docker(), &addr);
        env.set("AWS_ENDPOINT_URL", &aws.url());
        let o = env.run(&["digest", &format!("{addr}/team/app:1")], env.home.path());
        let stderr = err(&o);
        assert_eq!(code(&o), 7, "{want}: {stderr}");
        assert!(stderr.contains(want), "{want}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// A scripted registry under the ECR host name, answering Basic challenges like ECR.
fn scripted_ecr() -> (HttpSink, String) {
    let sink = HttpSink::start();
    let addr = format!("{}:{}", ecr_host(), sink.port());
    (sink, addr)
}

#[test]
fn ecr_immutable_tag_is_a_clear_refusal_and_an_identical_tag_is_success() {
    let (sink, addr) = scripted_ecr();
    let manifest = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":2},"layers":[]}"#;
    let digest = sha256(manifest.as_bytes());
    let other = format!("sha256:{}", "b".repeat(64));
    sink.route(
        "/v2/team/app/manifests/1.0.0",
        vec![],
        Some(Reply::json(200, manifest).header("Docker-Content-Digest", &digest)),
    );
    // `same` already holds this digest: HEAD says so, nothing is PUT.
    sink.route(
        "/v2/team/app/manifests/same",
        vec![],
        Some(Reply::status(200).header("Docker-Content-Digest", &digest)),
    );
    // `latest` holds another image and the repository is immutable: ECR's 400 TAG_INVALID.
    sink.route(
        "/v2/team/app/manifests/latest",
        vec![Reply::status(200).header("Docker-Content-Digest", &other)],
        Some(Reply::json(400, r#"{"errors":[{"code":"TAG_INVALID","message":"The image tag 'latest' already exists in the 'team/app' repository and cannot be overwritten because the repository is immutable."}]}"#)),
    );
    let env = aws_env(Env::without_docker(), &addr);
    let image = format!("{addr}/team/app");
    let o = env.run(
        &[
            "retag", "--image", &image, "--from", "1.0.0", "--tags", "same", "--format", "json",
        ],
        env.home.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(strs(&json_out(&o)["skipped"]), vec![format!("{image}:same")]);
    let o = env.run(
        &["retag", "--image", &image, "--from", "1.0.0", "--tags", "latest"],
        env.home.path(),
    );
    let stderr = err(&o);
    assert_eq!(code(&o), 10, "{stderr}");
    assert!(
        stderr.contains("immutable tags") && !stderr.contains("\"errors\""),
        "{stderr}"
    );
}

#[test]
fn a_missing_ecr_repository_says_so_with_the_create_hint() {
    let (sink, addr) = scripted_ecr();
    let manifest = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":2},"layers":[]}"#;
    sink.route("/v2/team/app/manifests/1", vec![], Some(Reply::json(200, manifest)));
    // Everything about nope/app: ECR's answer for a repository that was never created.
    sink.set_default(Reply::json(
        404,
        r#"{"errors":[{"code":"NAME_UNKNOWN","message":"The repository with name 'nope/app' does not exist in the registry with id '123456789012'"}]}"#,
    ));
    let env = aws_env(Env::without_docker(), &addr);
    let o = env.run(
        &[
            "promote",
            "--from",
            &format!("{addr}/team/app:1"),
            "--to",
            &format!("{addr}/nope/app:1"),
        ],
        env.home.path(),
    );
    let stderr = err(&o);
    assert_eq!(code(&o), 12, "{stderr}");
    assert!(
        stderr.contains("ECR repository nope/app does not exist in registry 123456789012"),
        "{stderr}"
    );
    assert!(
        stderr.contains("aws ecr create-repository --repository-name nope/app --region us-east-1"),
        "{stderr}"
    );
}

#[test]
fn a_cross_repository_mount_ecr_refuses_falls_back_to_an_upload() {
    let (sink, addr) = scripted_ecr();
    let blob = "layer-bytes";
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
    sink.route(&format!("/v2/b/blobs/{blob_digest}"), vec![Reply::status(404)], None);
    sink.route(
        &format!("/v2/a/blobs/{blob_digest}"),
        vec![Reply::status(200)],
        Some(Reply::text(200, blob)),
    );
    sink.route(
        "/v2/b/blobs/uploads/",
        vec![
            Reply::json(
                405,
                r#"{"errors":[{"code":"UNSUPPORTED","message":"mount is not supported"}]}"#,
            ),
            Reply::status(202).header("Location", "/upload/u1"),
        ],
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
    let env = aws_env(Env::without_docker(), &addr);
    let o = env.run(
        &[
            "promote",
            "--from",
            &format!("{addr}/a:1"),
            "--to",
            &format!("{addr}/b:1"),
        ],
        env.home.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(err(&o).contains("mount refused"), "{}", err(&o));
    let reqs = sink.requests();
    let upload = reqs.iter().find(|r| r.path.starts_with("/upload/u1")).unwrap();
    assert_eq!(upload.body, blob.as_bytes());
}

#[test]
fn login_to_ecr_without_a_password_stores_the_token_like_docker_login() {
    let local = ExtraRegistry::start(Some((ECR_USER, ECR_PASSWORD)));
    let addr = ecr_addr(&local.addr);
    let env = aws_env(Env::without_docker(), &addr);
    let o = env.run(&["login", &addr], env.home.path());
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(token_calls(&err(&o)), 1);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.docker_config().join("config.json")).unwrap()).unwrap();
    let want = base64_encode(&format!("{ECR_USER}:{ECR_PASSWORD}"));
    assert_eq!(config["auths"][addr.as_str()]["auth"], want.as_str());
    assert!(!(out(&o) + &err(&o)).contains(ECR_PASSWORD));
    // Not an ECR host: a password is still required.
    let o = env.run(&["login", &local.addr], env.home.path());
    assert_eq!(code(&o), 2, "{}", err(&o));
}
