//! The referrers tag schema under concurrent writers, against the real docker-registry (Debian's has no
//! referrers API, so every attach is a read-modify-write of the `sha256-<hex>` index): N runs attaching
//! to one digest at once must all end up listed (checked with our client and with skopeo), and a hostile
//! index under that tag (not an index, too many entries, bad digests) is a one-line error or our entry
//! added, never a panic or a silently dropped list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use shipkit_core::registry::reference::{ImageRef, Repo};
use shipkit_core::registry::referrers::{artifact_manifest, fallback_tag, Discovery, EMPTY_CONFIG, EMPTY_CONFIG_TYPE};
use shipkit_core::registry::{sha256_digest, Client, Descriptor, Manifest, Options, OCI_INDEX, OCI_MANIFEST};
use shipkit_testkit::fault_proxy::{Fault, FaultProxy, Rule};
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::Duration;

fn registry() -> String {
    shipkit_testkit::service("SHIPKIT_TEST_REGISTRY")
}

fn client() -> Client {
    Client::new(Options {
        timeout: Duration::from_secs(30),
        ..Options::default()
    })
}

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("race/{name}-{}-{nanos}", std::process::id())
}

/// A small image manifest (empty config, one layer) pushed by digest: the subject.
fn push_subject(c: &Client, repo: &Repo) -> Descriptor {
    let layer = format!("subject of {repo}").into_bytes();
    c.upload_blob(repo, &sha256_digest(EMPTY_CONFIG), EMPTY_CONFIG.to_vec(), None)
        .unwrap();
    c.upload_blob(repo, &sha256_digest(&layer), layer.clone(), None)
        .unwrap();
    let body = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": EMPTY_CONFIG_TYPE, "digest": sha256_digest(EMPTY_CONFIG), "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": sha256_digest(&layer), "size": layer.len()}],
    });
    let bytes = serde_json::to_vec(&body).unwrap();
    let m = Manifest {
        digest: sha256_digest(&bytes),
        media_type: OCI_MANIFEST.into(),
        bytes,
    };
    c.put_manifest(repo, &m.digest, &m).unwrap();
    Descriptor {
        digest: m.digest.clone(),
        media_type: OCI_MANIFEST.into(),
        size: m.bytes.len() as u64,
        platform: None,
        artifact_type: None,
    }
}

/// Artifact `i` about `subject`, its blob uploaded (the manifest itself is pushed by `attach_referrer`).
fn artifact(c: &Client, repo: &Repo, subject: &Descriptor, i: usize) -> Manifest {
    let blob = format!("artifact {i} of {}", subject.digest).into_bytes();
    c.upload_blob(repo, &sha256_digest(&blob), blob.clone(), None).unwrap();
    let d = Descriptor {
        digest: sha256_digest(&blob),
        media_type: "application/x-shipkit-test".into(),
        size: blob.len() as u64,
        platform: None,
        artifact_type: None,
    };
    artifact_manifest("application/x-shipkit-race", &d, subject, "2026-01-01T00:00:00Z")
}

/// The digests the `sha256-<hex>` index lists, read with a fresh client.
fn listed(repo: &Repo, subject: &str) -> Vec<String> {
    let tag = fallback_tag(subject).unwrap();
    let m = client()
        .get_manifest(&repo.with_tag(&tag))
        .unwrap()
        .expect("the index exists");
    m.children().into_iter().map(|d| d.digest).collect()
}

/// The same list read by skopeo, an independent client.
fn skopeo_listed(repo: &Repo, subject: &str) -> Vec<String> {
    let tag = fallback_tag(subject).unwrap();
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}/{}:{tag}", repo.registry, repo.path))
        .output()
        .expect("skopeo runs");
    assert!(out.status.success(), "skopeo: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["mediaType"], OCI_INDEX);
    v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["digest"].as_str().unwrap().to_string())
        .collect()
}

/// `writers` runs attach one artifact each to the same digest, released together by a barrier.
fn concurrent_attaches(repo: &Repo, writers: usize) -> (Descriptor, Vec<String>) {
    let setup = client();
    let subject = push_subject(&setup, repo);
    let artifacts: Vec<Manifest> = (0..writers).map(|i| artifact(&setup, repo, &subject, i)).collect();
    let barrier = Arc::new(Barrier::new(writers));
    let handles: Vec<_> = artifacts
        .iter()
        .cloned()
        .map(|a| {
            let (repo, barrier) = (repo.clone(), barrier.clone());
            std::thread::spawn(move || {
                let c = client(); // one client per run, as separate CI jobs have
                barrier.wait();
                c.attach_referrer(&repo, &a)
            })
        })
        .collect();
    for h in handles {
        let r = h.join().expect("no panic");
        assert_eq!(r.unwrap(), Discovery::TagSchema);
    }
    (subject, artifacts.into_iter().map(|a| a.digest).collect())
}

#[test]
fn concurrent_attaches_to_one_digest_all_end_up_in_the_tag_schema_index() {
    let reg = registry();
    for round in 0..4 {
        let repo = Repo::parse(&format!("{reg}/{}", unique(&format!("attach{round}")))).unwrap();
        let (subject, ours) = concurrent_attaches(&repo, 8);
        let mut got = listed(&repo, &subject.digest);
        let lost: Vec<_> = ours.iter().filter(|d| !got.contains(d)).collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} of 8 referrers lost: {lost:?}",
            lost.len()
        );
        got.sort();
        got.dedup();
        assert_eq!(got.len(), 8, "no duplicates, nothing foreign");
        let mut via_skopeo = skopeo_listed(&repo, &subject.digest);
        via_skopeo.sort();
        assert_eq!(via_skopeo, got, "skopeo reads the same list");
        // Discovery agrees: the client's own referrers() sees every one.
        let found = client().referrers(&repo, &subject.digest, None).unwrap();
        assert_eq!(found.descriptors.len(), 8);
    }
}

#[test]
fn the_index_entries_are_in_digest_order_so_concurrent_writers_converge_on_the_same_bytes() {
    let repo = Repo::parse(&format!("{}/{}", registry(), unique("order"))).unwrap();
    let (subject, _) = concurrent_attaches(&repo, 3);
    let got = listed(&repo, &subject.digest);
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(got, sorted);
}

/// A proxy in front of the registry answering GETs of the index tag with `body` (as a hostile or broken
/// registry would); everything else goes through.
fn hostile_index(body: &str, content_type: &str) -> (FaultProxy, Repo, Descriptor, Manifest) {
    let reg = registry();
    let proxy = FaultProxy::start(&reg);
    let repo = Repo::parse(&format!("{}/{}", proxy.addr(), unique("hostile"))).unwrap();
    let c = client();
    let subject = push_subject(&c, &repo);
    let a = artifact(&c, &repo, &subject, 0);
    let tag = fallback_tag(&subject.digest).unwrap();
    proxy.add(
        Rule::new(Fault::status(200).header("Content-Type", content_type).body(body))
            .method("GET")
            .path(&format!("/manifests/{tag}")),
    );
    (proxy, repo, subject, a)
}

fn one_line_error(r: shipkit_core::Result<Discovery>) -> String {
    let e = r.expect_err("refused");
    let line = e.one_line();
    assert!(!line.contains('\n'), "{line}");
    assert!(line.len() < 400, "bounded: {line}");
    line
}

#[test]
fn a_tag_schema_tag_that_is_not_an_index_is_refused_in_one_line_and_not_overwritten() {
    let image = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {
        "mediaType": EMPTY_CONFIG_TYPE, "digest": sha256_digest(EMPTY_CONFIG), "size": 2}, "layers": []});
    let (proxy, repo, _, a) = hostile_index(&image.to_string(), OCI_MANIFEST);
    let line = one_line_error(client().attach_referrer(&repo, &a));
    assert!(line.contains("not an image index"), "{line}");
    let tag_puts = proxy
        .seen()
        .iter()
        .filter(|s| s.request.method == "PUT" && s.request.path.contains("/manifests/sha256-"))
        .count();
    assert_eq!(tag_puts, 0, "someone else's tag is left alone");
}

#[test]
fn an_index_with_ten_thousand_entries_is_a_bounded_one_line_error() {
    let one = json!({"mediaType": OCI_MANIFEST, "digest": sha256_digest(b"x"), "size": 1});
    let body = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": vec![one; 10_000]});
    let (_proxy, repo, _, a) = hostile_index(&body.to_string(), OCI_INDEX);
    let line = one_line_error(client().attach_referrer(&repo, &a));
    assert!(line.contains("10000 entries"), "{line}");
}

#[test]
fn an_index_listing_bad_digests_is_a_one_line_error() {
    let bad = json!({"mediaType": OCI_MANIFEST, "digest": "sha256:../../../etc/passwd", "size": 1});
    let body = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [bad]});
    let (_proxy, repo, _, a) = hostile_index(&body.to_string(), OCI_INDEX);
    let line = one_line_error(client().attach_referrer(&repo, &a));
    assert!(line.contains("digest"), "{line}");
}

#[test]
fn a_huge_index_body_is_refused_without_reading_it_all() {
    let pad = "x".repeat(5 * 1024 * 1024);
    let body = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [], "annotations": {"pad": pad}});
    let (_proxy, repo, _, a) = hostile_index(&body.to_string(), OCI_INDEX);
    let line = one_line_error(client().attach_referrer(&repo, &a));
    assert!(line.contains("bytes"), "{line}");
}

#[test]
fn referrers_by_digest_of_the_image_ref_still_read_back() {
    // Sanity for the helpers above: a single attach is listed and the tag is the schema's.
    let repo = Repo::parse(&format!("{}/{}", registry(), unique("single"))).unwrap();
    let (subject, ours) = concurrent_attaches(&repo, 1);
    assert_eq!(listed(&repo, &subject.digest), ours);
    let r = ImageRef::parse(&format!("{repo}:{}", fallback_tag(&subject.digest).unwrap()), None).unwrap();
    assert!(client().get_manifest(&r).unwrap().is_some());
}

/// A proxy in front of the real registry and a subject with one artifact ready to attach through it.
fn through_proxy(name: &str) -> (FaultProxy, Repo, Descriptor, Manifest) {
    let proxy = FaultProxy::start(&registry());
    let repo = Repo::parse(&format!("{}/{}", proxy.addr(), unique(name))).unwrap();
    let c = client();
    let subject = push_subject(&c, &repo);
    let a = artifact(&c, &repo, &subject, 0);
    (proxy, repo, subject, a)
}

#[test]
fn the_index_put_is_conditional_and_a_412_is_read_again_not_fatal() {
    let (proxy, repo, subject, a) = through_proxy("conditional");
    // Another run's entry is there first: our PUT must carry If-Match with the ETag read.
    let other = artifact(&client(), &repo, &subject, 1);
    client().attach_referrer(&repo, &other).unwrap();
    proxy.add(
        Rule::new(Fault::status(412))
            .method("PUT")
            .path("/manifests/sha256-")
            .header("if-match", "sha256:")
            .times(1),
    );
    assert_eq!(client().attach_referrer(&repo, &a).unwrap(), Discovery::TagSchema);
    assert_eq!(
        proxy.faults_injected(),
        1,
        "the stale write was refused once and redone"
    );
    let mut got = listed(&repo, &subject.digest);
    got.sort();
    let mut want = vec![a.digest.clone(), other.digest.clone()];
    want.sort();
    assert_eq!(got, want);
    let first_put = proxy
        .seen()
        .into_iter()
        .find(|s| s.request.method == "PUT" && s.request.path.contains("/manifests/sha256-"))
        .unwrap();
    assert_eq!(
        first_put.request.header("if-none-match"),
        Some("*"),
        "the first write of a new tag is create-only"
    );
}

#[test]
fn a_registry_that_always_answers_412_is_a_bounded_one_line_error() {
    let (proxy, repo, _, a) = through_proxy("always412");
    proxy.add(Rule::new(Fault::status(412)).method("PUT").path("/manifests/sha256-"));
    let started = std::time::Instant::now();
    let line = one_line_error(client().attach_referrer(&repo, &a));
    assert!(
        line.contains("kept changing") && line.contains("hint: run again"),
        "{line}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "bounded: {:?}",
        started.elapsed()
    );
    assert!(proxy.faults_injected() <= shipkit_core::registry::tag_schema::MAX_READS);
}
