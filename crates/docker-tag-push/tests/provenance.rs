//! Signed provenance attached at build (issue 14 item 3), against the real dockerd and docker-registry:
//! the tag-schema path (Debian's registry has no referrers API) and the API path (the fault proxy serving
//! the referrers API in front of it). The envelope is fetched with raw registry calls and verified by
//! securesystemslib in the test venv, not only by shipkit. Hostile: a bad key, an attach that fails
//! (no user tag may move), secret build args.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use serde_json::Value;
use shipkit_testkit::fault_proxy::{Fault, FaultProxy, Rule};
use shipkit_testkit::openssl_key;
use std::path::Path;

const ARTIFACT_TYPE: &str = "application/vnd.dsse.envelope.v1+json";

fn registry() -> String {
    shipkit_testkit::service("SHIPKIT_TEST_REGISTRY")
}

/// A CI run on GitHub Actions for `acme/app` on main.
fn github_env(env: &mut Env, sha: &str) {
    for (k, v) in [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_REPOSITORY", "acme/app"),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_SHA", sha),
        ("GITHUB_SERVER_URL", "https://github.com"),
        ("GITHUB_RUN_ID", "4242"),
        (
            "GITHUB_WORKFLOW_REF",
            "acme/app/.github/workflows/build.yml@refs/heads/main",
        ),
    ] {
        env.set(k, v);
    }
}

/// securesystemslib's verdict on an envelope under a public key (the key id of its first signature).
fn securesystemslib_verifies(dir: &Path, envelope: &[u8], public_pem: &str) -> Option<String> {
    let keyid = serde_json::from_slice::<Value>(envelope).unwrap()["signatures"][0]["keyid"]
        .as_str()
        .unwrap()
        .to_string();
    shipkit_testkit::securesystemslib_verifies(dir, envelope, public_pem, &keyid)
}

/// The artifact manifest `provenance` in `repo`, checked to be about `digest`; returns the envelope.
fn fetch_envelope(raw: &Raw, repo: &str, provenance: &str, digest: &str) -> Vec<u8> {
    let (content_type, bytes) = raw.manifest(repo, provenance);
    assert_eq!(content_type, "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(sha256(&bytes), provenance);
    let m: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(m["artifactType"], ARTIFACT_TYPE, "{m}");
    assert_eq!(m["subject"]["digest"], digest, "{m}");
    assert_eq!(m["config"]["mediaType"], "application/vnd.oci.empty.v1+json");
    let layer = m["layers"][0]["digest"].as_str().unwrap();
    let envelope = raw.blob(repo, layer);
    assert_eq!(sha256(&envelope), layer);
    envelope
}

fn statement(envelope: &[u8]) -> Value {
    use base64::Engine;
    let e: Value = serde_json::from_slice(envelope).unwrap();
    assert_eq!(e["payloadType"], "application/vnd.in-toto+json");
    let payload = base64::engine::general_purpose::STANDARD
        .decode(e["payload"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

#[test]
fn push_attaches_signed_provenance_through_the_tag_schema_verified_by_securesystemslib() {
    let reg = registry();
    let app = app_repo("provenance tag schema");
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = openssl_key(keys.path(), "ci", &["-algorithm", "ed25519"]);
    let mut env = Env::with_docker();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    github_env(&mut env, sha);
    // A build arg whose value is a secret of the environment (names that look secret are refused outright).
    env.set("DEPLOY_TOKEN", "npm-s3cr3t-value-771");
    let repo = unique("prov-schema");
    let image = format!("{reg}/{repo}");
    let o = env.run(
        &[
            "--image",
            &image,
            "--tags",
            "1.0.0,latest",
            "--provenance-key",
            key.to_str().unwrap(),
            "--build-arg",
            "CACHE_SALT=npm-s3cr3t-value-771",
            "--build-arg",
            "RUST_VERSION=1.90",
            "--format",
            "json",
        ],
        app.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(!format!("{}{}", out(&o), err(&o)).contains("npm-s3cr3t-value-771"));
    let j = json_out(&o);
    let digest = j["digest"].as_str().unwrap();
    let provenance = j["provenance_digest"].as_str().unwrap();
    let raw = Raw::new(&reg);
    // The registry has no referrers API: the tag-schema index lists the provenance.
    let hex = digest.strip_prefix("sha256:").unwrap();
    let (_, index) = raw.manifest(&repo, &format!("sha256-{hex}"));
    let index: Value = serde_json::from_slice(&index).unwrap();
    let listed = index["manifests"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|d| d["digest"] == provenance && d["artifactType"] == ARTIFACT_TYPE),
        "{index}"
    );
    let envelope = fetch_envelope(&raw, &repo, provenance, digest);
    assert_eq!(
        securesystemslib_verifies(keys.path(), &envelope, &public).as_deref(),
        Some(hex)
    );
    let s = statement(&envelope);
    let params = &s["predicate"]["buildDefinition"]["externalParameters"];
    assert_eq!(params["repository"], "https://github.com/acme/app");
    assert_eq!(params["ref"], "refs/heads/main");
    assert_eq!(params["dockerfile"], "Dockerfile");
    assert_eq!(params["buildKey"], j["build_key"]);
    assert_eq!(params["buildArgs"]["RUST_VERSION"], "1.90");
    assert_eq!(params["buildArgs"]["CACHE_SALT"], "[redacted]");
    let deps = &s["predicate"]["buildDefinition"]["resolvedDependencies"][0];
    assert_eq!(deps["digest"]["gitCommit"], sha);
    assert_eq!(
        s["predicate"]["runDetails"]["builder"]["id"],
        "https://github.com/acme/app/.github/workflows/build.yml@refs/heads/main"
    );
    assert!(!String::from_utf8_lossy(&envelope).contains("npm-s3cr3t-value-771"));
    // Another key does not verify it (securesystemslib's verdict).
    let (_, other_public) = openssl_key(keys.path(), "other", &["-algorithm", "ed25519"]);
    assert_eq!(securesystemslib_verifies(keys.path(), &envelope, &other_public), None);
}

#[test]
fn push_relies_on_the_referrers_api_when_the_registry_has_one() {
    let proxy = FaultProxy::start(&registry());
    proxy.serve_referrers();
    let app = app_repo("provenance referrers api");
    let keys = tempfile::tempdir().unwrap();
    let p256 = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
    let (key, public) = openssl_key(keys.path(), "p256", &p256);
    let mut env = Env::with_docker();
    // The PEM itself in the environment (a CI secret); the commit from the git checkout.
    env.set("SHIPKIT_PROVENANCE_KEY", &std::fs::read_to_string(&key).unwrap());
    let repo = unique("prov-api");
    let image = format!("{}/{repo}", proxy.addr());
    let o = env.run(&["--image", &image, "--tags", "2.0.0", "--format", "json"], app.path());
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(err(&o).contains("referrers API"), "{}", err(&o));
    let j = json_out(&o);
    let digest = j["digest"].as_str().unwrap();
    let provenance = j["provenance_digest"].as_str().unwrap();
    let raw = Raw::new(&proxy.addr());
    let hex = digest.strip_prefix("sha256:").unwrap();
    assert_eq!(raw.digest(&repo, &format!("sha256-{hex}")), None, "no tag-schema index");
    let r = raw.send(shipkit_core::http::Request::new(
        "GET",
        &format!("http://{}/v2/{repo}/referrers/{digest}", proxy.addr()),
    ));
    let listed: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(listed["manifests"][0]["digest"], provenance, "{listed}");
    let envelope = fetch_envelope(&raw, &repo, provenance, digest);
    assert_eq!(
        securesystemslib_verifies(keys.path(), &envelope, &public).as_deref(),
        Some(hex)
    );
    let commit = app.git(&["rev-parse", "HEAD"]);
    let s = statement(&envelope);
    let deps = &s["predicate"]["buildDefinition"]["resolvedDependencies"][0];
    assert_eq!(deps["digest"]["gitCommit"], commit.trim());
}

#[test]
fn a_provenance_that_cannot_be_attached_moves_no_tag() {
    let proxy = FaultProxy::start(&registry());
    proxy.add(Rule::new(Fault::status(500)).method("PUT").path("/manifests/sha256-"));
    let app = app_repo("provenance attach fails");
    let keys = tempfile::tempdir().unwrap();
    let (key, _) = openssl_key(keys.path(), "ci", &["-algorithm", "ed25519"]);
    let env = Env::with_docker();
    let repo = unique("prov-fail");
    let image = format!("{}/{repo}", proxy.addr());
    let o = env.run(
        &[
            "--image",
            &image,
            "--tags",
            "3.0.0,latest",
            "--provenance-key",
            key.to_str().unwrap(),
        ],
        app.path(),
    );
    assert_ne!(code(&o), 0, "{}", err(&o));
    let last = err(&o).trim().lines().last().unwrap_or("").to_string();
    assert!(last.contains("error:") && last.contains("provenance"), "{last}");
    let raw = Raw::new(&registry());
    for t in ["3.0.0", "latest"] {
        assert_eq!(raw.digest(&repo, t), None, "{t} must not be published");
    }
}

#[test]
fn a_bad_provenance_key_is_refused_before_anything_is_built() {
    let app = app_repo("provenance bad key");
    let keys = tempfile::tempdir().unwrap();
    let env = Env::without_docker();
    let repo = format!("{}/{}", registry(), unique("prov-badkey"));
    let missing = keys.path().join("missing.pem");
    let o = env.run(
        &[
            "--image",
            &repo,
            "--tags",
            "1.0.0",
            "--provenance-key",
            missing.to_str().unwrap(),
        ],
        app.path(),
    );
    assert_eq!(code(&o), 3, "{}", err(&o));
    assert!(err(&o).contains("cannot read the provenance key"), "{}", err(&o));
    // An RSA key (not Ed25519/P-256), given as PEM in the environment: refused, never echoed.
    let (rsa, _) = openssl_key(
        keys.path(),
        "rsa",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    );
    let pem = std::fs::read_to_string(&rsa).unwrap();
    let mut env = Env::without_docker();
    env.set("SHIPKIT_PROVENANCE_KEY", &pem);
    let o = env.run(&["--image", &repo, "--tags", "1.0.0"], app.path());
    assert_eq!(code(&o), 3, "{}", err(&o));
    assert!(err(&o).contains("not an Ed25519 or ECDSA P-256"), "{}", err(&o));
    let body_line = pem.lines().nth(1).unwrap();
    assert!(!format!("{}{}", out(&o), err(&o)).contains(body_line));
    let huge = keys.path().join("huge.pem");
    std::fs::write(&huge, "A".repeat(100_000)).unwrap();
    let o = Env::without_docker().run(
        &[
            "--image",
            &repo,
            "--tags",
            "1.0.0",
            "--provenance-key",
            huge.to_str().unwrap(),
        ],
        app.path(),
    );
    assert_eq!(code(&o), 3, "{}", err(&o));
}

/// The tag-schema index of `digest` in `repo` lists `provenance`.
fn tag_schema_lists(raw: &Raw, repo: &str, digest: &str, provenance: &str) -> bool {
    let hex = digest.strip_prefix("sha256:").unwrap();
    let (_, index) = raw.manifest(repo, &format!("sha256-{hex}"));
    let index: Value = serde_json::from_slice(&index).unwrap();
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["digest"] == provenance)
}

#[test]
fn promote_carries_the_provenance_across_repositories_and_registries_and_it_still_verifies() {
    let reg = registry();
    let app = app_repo("provenance promote");
    let keys = tempfile::tempdir().unwrap();
    let (key, public) = openssl_key(keys.path(), "ci", &["-algorithm", "ed25519"]);
    let env = Env::with_docker();
    let repo = unique("prov-promote");
    let j = env.run_json(
        &[
            "--image",
            &format!("{reg}/{repo}"),
            "--tags",
            "1.0.0",
            "--provenance-key",
            key.to_str().unwrap(),
        ],
        app.path(),
    );
    let (digest, provenance) = (
        j["digest"].as_str().unwrap().to_string(),
        j["provenance_digest"].as_str().unwrap().to_string(),
    );
    let hex = digest.strip_prefix("sha256:").unwrap().to_string();

    // To the htpasswd registry (another registry: blobs streamed), the same registry under another name
    // (blobs mounted), and a registry with the referrers API (the proxy).
    let auth_reg = shipkit_testkit::service("SHIPKIT_TEST_AUTH_REGISTRY");
    let user = shipkit_testkit::service("SHIPKIT_TEST_AUTH_USER");
    let password = shipkit_testkit::service("SHIPKIT_TEST_AUTH_PASSWORD");
    let proxy = FaultProxy::start(&reg);
    proxy.serve_referrers();
    let env = Env::without_docker();
    let o = env.run_stdin(
        &["login", &auth_reg, "--username", &user, "--password-stdin"],
        env.home.path(),
        &password,
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let (prod, mirror, api) = (unique("prov-prod"), unique("prov-mirror"), unique("prov-api-dest"));
    let o = env.run(
        &[
            "promote",
            "--from",
            &format!("{reg}/{repo}:1.0.0"),
            "--to",
            &format!("{auth_reg}/{prod}:1.0.0"),
            "--to",
            &format!("{reg}/{mirror}:1.0.0"),
            "--to",
            &format!("{}/{api}:1.0.0", proxy.addr()),
            "--format",
            "json",
        ],
        env.home.path(),
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(!err(&o).contains(&password));

    let auth_raw = Raw::with_basic(&auth_reg, &user, &password);
    assert!(tag_schema_lists(&auth_raw, &prod, &digest, &provenance));
    let envelope = fetch_envelope(&auth_raw, &prod, &provenance, &digest);
    assert_eq!(
        securesystemslib_verifies(keys.path(), &envelope, &public).as_deref(),
        Some(hex.as_str()),
        "the promoted provenance verifies in the second registry"
    );
    let raw = Raw::new(&reg);
    assert!(tag_schema_lists(&raw, &mirror, &digest, &provenance));
    fetch_envelope(&raw, &mirror, &provenance, &digest);
    // The API registry indexed it from the subject itself: no tag-schema index there.
    let proxied = Raw::new(&proxy.addr());
    assert_eq!(proxied.digest(&api, &format!("sha256-{hex}")), None);
    let r = proxied.send(shipkit_core::http::Request::new(
        "GET",
        &format!("http://{}/v2/{api}/referrers/{digest}", proxy.addr()),
    ));
    let listed: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(listed["manifests"][0]["digest"], provenance.as_str(), "{listed}");
    fetch_envelope(&proxied, &api, &provenance, &digest);
}
