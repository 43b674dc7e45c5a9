//! Hostile manifests from a scripted registry (testkit's HttpSink on 127.0.0.1): a descriptor digest like
//! `sha256:../../x` in an index source or an image manifest is refused before any URL is built from it
//! (no request path ever holds `..`), a manifest larger than 4 MiB is refused, bytes that are not the digest
//! asked for and a HEAD answering another digest are remote errors (exit 7), one line each, nothing written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use shipkit_testkit::http_sink::{HttpSink, Reply};

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Serve `body` as the manifest `sha256(body)` of team/app; returns that digest.
fn serve(sink: &HttpSink, body: &[u8], media_type: &str) -> String {
    let digest = sha256(body);
    let text = String::from_utf8_lossy(body).to_string();
    sink.route(
        &format!("/v2/team/app/manifests/{digest}"),
        vec![],
        Some(
            Reply::text(200, &text)
                .header("Content-Type", media_type)
                .header("Docker-Content-Digest", &digest),
        ),
    );
    digest
}

fn run_index(sink: &HttpSink, from: &str) -> std::process::Output {
    let host = format!("127.0.0.1:{}", sink.port());
    let env = Env::without_docker();
    env.run(
        &[
            "index",
            "--image",
            &format!("{host}/team/app"),
            "--from",
            &format!("{host}/team/app@{from}"),
            "--tags",
            "1.0.0",
        ],
        env.home.path(),
    )
}

fn assert_refused(o: &std::process::Output, says: &str, sink: &HttpSink) {
    let e = err(o);
    assert_eq!(code(o), 7, "{e}");
    assert!(e.contains(says), "{e}");
    assert_eq!(e.lines().filter(|l| l.contains("error:")).count(), 1, "{e}");
    assert!(!e.contains("panicked"), "{e}");
    for r in sink.requests() {
        assert!(
            !r.path.contains(".."),
            "a request path built from a hostile digest: {}",
            r.path
        );
        assert_ne!(r.method, "PUT", "nothing written: {} {}", r.method, r.path);
        assert_ne!(r.method, "POST", "nothing written: {} {}", r.method, r.path);
    }
}

#[test]
fn a_path_in_a_descriptor_digest_never_becomes_a_request() {
    for (what, body, media_type) in [
        (
            "index child",
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"sha256:../../../../v2/other/manifests/latest","size":10,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#
            ),
            OCI_INDEX,
        ),
        (
            "image config",
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:../../x","size":2}},"layers":[]}}"#
            ),
            OCI_MANIFEST,
        ),
        (
            "layer",
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:{}","size":2}},"layers":[{{"digest":"sha256:%2e%2e%2fx","size":1}}]}}"#,
                "a".repeat(64)
            ),
            OCI_MANIFEST,
        ),
        (
            "negative size",
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"digest":"sha256:{}","size":-1}},"layers":[]}}"#,
                "a".repeat(64)
            ),
            OCI_MANIFEST,
        ),
    ] {
        let sink = HttpSink::start();
        sink.set_default(Reply::status(404));
        let digest = serve(&sink, body.as_bytes(), media_type);
        let o = run_index(&sink, &digest);
        let says = if what == "negative size" {
            "invalid size"
        } else {
            "invalid digest"
        };
        assert_refused(&o, says, &sink);
    }
}

#[test]
fn a_huge_manifest_and_another_digest_than_asked_are_refused() {
    // 5 MiB of valid JSON: more than a manifest may be.
    let sink = HttpSink::start();
    sink.set_default(Reply::status(404));
    let pad = "x".repeat(5 * 1024 * 1024);
    let huge = format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","layers":[],"pad":"{pad}"}}"#);
    let digest = serve(&sink, huge.as_bytes(), OCI_MANIFEST);
    assert_refused(&run_index(&sink, &digest), "more than the 4194304", &sink);

    // Asked for one digest, served the bytes of another.
    let sink = HttpSink::start();
    sink.set_default(Reply::status(404));
    let asked = format!("sha256:{}", "b".repeat(64));
    let other = format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","layers":[]}}"#);
    sink.route(
        &format!("/v2/team/app/manifests/{asked}"),
        vec![],
        Some(Reply::text(200, &other).header("Content-Type", OCI_MANIFEST)),
    );
    assert_refused(&run_index(&sink, &asked), "served a manifest whose digest is", &sink);

    // A HEAD by digest answering another digest.
    let sink = HttpSink::start();
    sink.set_default(Reply::status(404));
    sink.route(
        &format!("/v2/team/app/manifests/{asked}"),
        vec![],
        Some(Reply::status(200).header("Docker-Content-Digest", &format!("sha256:{}", "c".repeat(64)))),
    );
    let env = Env::without_docker();
    let o = env.run(
        &["digest", &format!("127.0.0.1:{}/team/app@{asked}", sink.port())],
        env.home.path(),
    );
    assert_refused(&o, "answered another digest", &sink);
    // And one that is not a digest at all.
    let sink = HttpSink::start();
    sink.set_default(Reply::status(404));
    sink.route(
        "/v2/team/app/manifests/1.0",
        vec![],
        Some(Reply::status(200).header("Docker-Content-Digest", "sha256:../../x")),
    );
    let o = env.run(
        &["digest", &format!("127.0.0.1:{}/team/app:1.0", sink.port())],
        env.home.path(),
    );
    assert_refused(&o, "invalid digest", &sink);
}
