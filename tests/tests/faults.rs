//! The tools against a hostile network: the real binaries talk to the real services (docker-registry, moto,
//! a webhook sink) through `shipkit_testkit::fault_proxy`, which injects 5xx answers, resets, hangs,
//! hostile headers, cross-origin redirects and echoed secrets (issue 10).
//!
//! Each test states the promise it checks; every run has a deadline, so a tool that hangs fails the test
//! instead of hanging the suite. Services come from `scripts/test-services` (a missing one fails).

use shipkit_e2e::tools::{docker_config, ecs_service, run, run_signalled, unique, Registry, Run};
use shipkit_testkit::fault_proxy::{Fault, FaultProxy, Rule};
use shipkit_testkit::http_sink::{HttpSink, Reply};
use shipkit_testkit::service;
use std::time::Duration;

fn registry() -> String {
    service("SHIPKIT_TEST_REGISTRY")
}

/// docker-tag-push with a private DOCKER_CONFIG (optionally holding credentials).
fn dtp(args: &[&str], docker_config_dir: &std::path::Path, deadline: Duration) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let cfg = docker_config_dir.display().to_string();
    run(
        "docker-tag-push",
        args,
        dir.path(),
        &[("DOCKER_CONFIG", cfg.as_str()), ("SHIPKIT_RETRIES", "3")],
        deadline,
    )
}

fn one_error_line(r: &Run, tool: &str) {
    let lines: Vec<String> = r
        .stderr()
        .lines()
        .filter(|l| l.starts_with(&format!("{tool}: error:")))
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 1, "expected one `{tool}: error:` line\n{}", r.show());
}

#[test]
fn registry_5xx_and_resets_are_retried_and_the_publish_completes() {
    let reg = Registry::new(&registry());
    let repo = unique("retry");
    let digest = reg.put_image(&repo, "src", "retry me");
    let proxy = FaultProxy::start(&registry());
    proxy
        .add(Rule::new(Fault::status(502)).method("GET").path("/manifests/").nth(1))
        .add(Rule::new(Fault::Reset).method("PUT").path("/manifests/").nth(1))
        .add(
            Rule::new(Fault::status(503).body("overloaded"))
                .method("PUT")
                .path("/manifests/")
                .nth(1),
        );
    let cfg = tempfile::tempdir().unwrap();
    let image = format!("{}/{repo}", proxy.addr());
    let r = dtp(
        &["retag", "--image", &image, "--from", "src", "--tags", "1.0.0,stable"],
        cfg.path(),
        Duration::from_secs(90),
    );
    assert_eq!(r.code(), 0, "{}", r.show());
    assert!(
        proxy.faults_injected() >= 3,
        "faults were not injected: {:?}",
        proxy.seen().len()
    );
    for tag in ["1.0.0", "stable"] {
        assert_eq!(reg.digest(&repo, tag).as_deref(), Some(digest.as_str()), "{tag}");
    }
}

#[test]
fn reset_mid_publish_gives_an_exact_published_and_not_published_report() {
    let reg = Registry::new(&registry());
    let repo = unique("reset");
    reg.put_image(&repo, "src", "half published");
    let proxy = FaultProxy::start(&registry());
    // Every PUT of one tag is reset (all retries): that tag cannot be published, the others can.
    proxy.add(Rule::new(Fault::Reset).method("PUT").path("/manifests/stable"));
    let cfg = tempfile::tempdir().unwrap();
    let image = format!("{}/{repo}", proxy.addr());
    let r = dtp(
        &[
            "retag",
            "--image",
            &image,
            "--from",
            "src",
            "--tags",
            "1.0.0,stable,edge",
            "--format",
            "json",
        ],
        cfg.path(),
        Duration::from_mins(2),
    );
    assert_eq!(r.code(), 11, "{}", r.show());
    one_error_line(&r, "docker-tag-push");
    let err = r.stderr();
    let summary = err
        .lines()
        .find(|l| l.contains("NOT published"))
        .unwrap_or_else(|| panic!("no published/NOT published summary\n{}", r.show()));
    let (published, not) = summary.split_once("NOT published").unwrap();
    assert!(not.contains(":stable"), "{summary}");
    assert!(!published.contains(":stable"), "{summary}");
    for tag in ["1.0.0", "edge"] {
        assert!(
            published.contains(&format!(":{tag}")),
            "{tag} missing from the published list: {summary}"
        );
        assert!(reg.digest(&repo, tag).is_some(), "{tag} should be published");
    }
    assert_eq!(reg.digest(&repo, "stable"), None, "the report matches the registry");
    let json: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap_or_else(|e| panic!("{e}\n{}", r.show()));
    assert!(json["failed"].to_string().contains(":stable"), "{json}");
    // Idempotent re-run once the network is back: only the missing tag is pushed.
    proxy.clear();
    let again = dtp(
        &[
            "retag",
            "--image",
            &image,
            "--from",
            "src",
            "--tags",
            "1.0.0,stable,edge",
        ],
        cfg.path(),
        Duration::from_mins(1),
    );
    assert_eq!(again.code(), 0, "{}", again.show());
    assert!(reg.digest(&repo, "stable").is_some());
}

#[test]
fn retry_after_inf_from_the_registry_does_not_abort_a_publish() {
    let reg = Registry::new(&registry());
    let repo = unique("inf");
    let digest = reg.put_image(&repo, "src", "retry after inf");
    let proxy = FaultProxy::start(&registry());
    proxy.add(
        Rule::new(Fault::status(503).header("Retry-After", "inf"))
            .method("PUT")
            .path("/manifests/")
            .nth(1),
    );
    let cfg = tempfile::tempdir().unwrap();
    let image = format!("{}/{repo}", proxy.addr());
    let r = dtp(
        &["retag", "--image", &image, "--from", "src", "--tags", "2.0.0"],
        cfg.path(),
        Duration::from_secs(90),
    );
    assert!(!r.killed, "{}", r.show());
    assert_ne!(r.code(), 134, "aborted (panic): {}", r.show());
    assert!(!r.stderr().contains("panicked"), "{}", r.show());
    assert_eq!(r.code(), 0, "{}", r.show());
    assert_eq!(proxy.faults_injected(), 1);
    assert_eq!(reg.digest(&repo, "2.0.0").as_deref(), Some(digest.as_str()));
}

/// notify to a sink behind the proxy; returns the run and the secret parts of the URL.
fn notify_through(proxy: &FaultProxy, extra: &[&str]) -> (Run, Vec<&'static str>) {
    let secrets = vec!["T0SECRETTEAM", "B0SECRETBOT", "XSECRETTOKENabc123", "QSECRETQUERYtok"];
    let url = format!(
        "{}/services/T0SECRETTEAM/B0SECRETBOT/XSECRETTOKENabc123?token=QSECRETQUERYtok",
        proxy.url()
    );
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "--to",
        url.as_str(),
        "--status",
        "succeeded",
        "--service",
        "billing",
        "--retries",
        "2",
    ];
    args.extend_from_slice(extra);
    let r = run(
        "notify",
        &args,
        dir.path(),
        &[("SHIPKIT_NOTIFY_MAX_WAIT", "1s"), ("GITHUB_ACTIONS", "true")],
        Duration::from_mins(1),
    );
    (r, secrets)
}

#[test]
fn a_webhook_retry_after_inf_does_not_crash_notify() {
    let sink = HttpSink::start();
    sink.set_default(Reply::text(200, "ok"));
    let proxy = FaultProxy::start(&sink.url());
    proxy.add(Rule::new(Fault::status(429).header("Retry-After", "inf")).nth(1));
    let (r, _) = notify_through(&proxy, &["--strict"]);
    assert!(!r.stderr().contains("panicked"), "{}", r.show());
    assert_eq!(r.code(), 0, "{}", r.show());
    assert_eq!(sink.requests().len(), 1, "delivered exactly once after the 429");
}

#[test]
fn a_hanging_webhook_ends_by_the_per_request_timeout() {
    let sink = HttpSink::start();
    let proxy = FaultProxy::start(&sink.url());
    proxy.add(Rule::new(Fault::Hang));
    let (r, _) = notify_through(&proxy, &["--timeout", "1s"]);
    assert!(!r.killed, "{}", r.show());
    assert!(r.took < Duration::from_secs(20), "{}", r.show());
    assert_eq!(
        r.code(),
        0,
        "a failed target is a warning without --strict\n{}",
        r.show()
    );
    assert!(sink.requests().is_empty());
}
#[test]
fn a_cross_origin_redirect_never_receives_the_registry_credentials() {
    let auth_registry = service("SHIPKIT_TEST_AUTH_REGISTRY");
    let (user, password) = (service("SHIPKIT_TEST_AUTH_USER"), service("SHIPKIT_TEST_AUTH_PASSWORD"));
    let src = Registry::with_basic(&auth_registry, &user, &password);
    let repo = unique("redirect");
    let digest = src.put_image(&repo, "1.0.0", "served from storage");
    let proxy = FaultProxy::start(&auth_registry);
    // Blob GETs go to "storage" on another origin (as S3/CDN-backed registries do); it serves them as a
    // pre-signed URL would, without needing the client's credentials.
    proxy.other_origin_auth(&format!("Basic {}", shipkit_e2e::tools::basic(&user, &password)));
    proxy.add(
        Rule::new(Fault::RedirectToOtherOrigin)
            .method("GET")
            .path("/blobs/sha256:"),
    );
    let cfg = docker_config(&proxy.addr(), &user, &password);
    let dest = Registry::new(&registry());
    let r = dtp(
        &[
            "promote",
            "--from",
            &format!("{}/{repo}:1.0.0", proxy.addr()),
            "--to",
            &format!("{}/{repo}:1.0.0", registry()),
        ],
        cfg.path(),
        Duration::from_secs(90),
    );
    let other = proxy.other_origin_requests();
    assert!(
        !other.is_empty(),
        "no blob was redirected: the test did not exercise the redirect\n{}",
        r.show()
    );
    for req in &other {
        assert_eq!(
            req.header("authorization"),
            None,
            "{} {} on another origin received the registry's credentials (prefix-twin port: {})\n{}",
            req.method,
            req.path,
            proxy.other_origin_is_prefix_twin(),
            r.show()
        );
    }
    assert_eq!(r.code(), 0, "{}", r.show());
    assert_eq!(dest.digest(&repo, "1.0.0").as_deref(), Some(digest.as_str()));
}

fn deploy_ecs(endpoint: &str, args: &[&str], deadline: Duration) -> Run {
    let dir = tempfile::tempdir().unwrap();
    run(
        "deploy-ecs",
        args,
        dir.path(),
        &[
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
        ],
        deadline,
    )
}

#[test]
fn a_hung_describe_services_after_the_update_ends_by_the_deploy_timeout() {
    let (cluster, service_name) = ecs_service("c");
    let proxy = FaultProxy::start(&service("SHIPKIT_TEST_MOTO_URL"));
    proxy.add(
        Rule::new(Fault::Hang)
            .header("x-amz-target", "DescribeServices")
            .after("UpdateService"),
    );
    let image = format!("reg.test/{service_name}:2.0.0");
    let r = deploy_ecs(
        &proxy.url(),
        &[
            "deploy",
            "-c",
            &cluster,
            "-s",
            &service_name,
            "--image",
            &image,
            "--timeout",
            "5s",
        ],
        Duration::from_mins(1),
    );
    assert!(
        !r.killed,
        "deploy-ecs --timeout 5s was still running after 60s\n{}",
        r.show()
    );
    assert!(r.took < Duration::from_secs(45), "{}", r.show());
    assert!(
        [9, 13].contains(&r.code()),
        "expected a timeout (9) or failed rollback (13)\n{}",
        r.show()
    );
    one_error_line(&r, "deploy-ecs");
    assert!(proxy.faults_injected() >= 1, "DescribeServices never hung");
}

#[test]
fn a_webhook_server_that_echoes_the_url_never_gets_its_secrets_printed() {
    let sink = HttpSink::start();
    let proxy = FaultProxy::start(&sink.url());
    proxy.add(Rule::new(Fault::EchoSecrets(401)));
    let (r, secrets) = notify_through(&proxy, &[]);
    assert_eq!(
        r.code(),
        0,
        "notify never fails the pipeline without --strict\n{}",
        r.show()
    );
    assert!(proxy.faults_injected() >= 1);
    let printed = format!("{}{}", r.stdout(), r.stderr());
    for s in secrets {
        assert!(!printed.contains(s), "{s} printed\n{}", r.show());
    }
}

#[test]
fn sigterm_while_a_registry_request_hangs_reports_exactly_what_is_published() {
    let reg = Registry::new(&registry());
    let repo = unique("sigterm");
    reg.put_image(&repo, "src", "cancel me");
    let proxy = FaultProxy::start(&registry());
    // The PUT of one tag never gets an answer (and never reaches the registry): SIGTERM lands while the
    // other tags are done and that one is in flight.
    proxy.add(Rule::new(Fault::Hang).method("PUT").path("/manifests/canary"));
    let cfg = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let image = format!("{}/{repo}", proxy.addr());
    let tags = ["1.0.0", "stable", "edge", "canary"];
    let cfg_path = cfg.path().display().to_string();
    let r = run_signalled(
        "docker-tag-push",
        &["retag", "--image", &image, "--from", "src", "--tags", &tags.join(",")],
        dir.path(),
        &[("DOCKER_CONFIG", cfg_path.as_str()), ("SHIPKIT_RETRIES", "3")],
        Duration::from_mins(1),
        Some(Duration::from_secs(3)),
    );
    assert!(!r.killed, "{}", r.show());
    assert_eq!(r.code(), 143, "{}", r.show());
    one_error_line(&r, "docker-tag-push");
    let err = r.stderr();
    let summary = err
        .lines()
        .find(|l| l.contains("NOT published"))
        .unwrap_or_else(|| panic!("no published/NOT published summary\n{}", r.show()));
    let (published, not) = summary.split_once("NOT published").unwrap();
    for tag in tags {
        let in_registry = reg.digest(&repo, tag).is_some();
        let said_published = published.contains(&format!(":{tag}"));
        let said_not = not.contains(&format!(":{tag}"));
        assert!(
            said_published != said_not,
            "{tag} is in neither or both lists: {summary}"
        );
        assert_eq!(
            in_registry, said_published,
            "{tag}: the report does not match the registry: {summary}"
        );
    }
}
