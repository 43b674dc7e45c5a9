//! `deploy --require-provenance` against moto and the real Debian docker-registry (issue 14 item 4):
//! images and their provenance referrers are put in the registry (tag-schema index, as docker-tag-push
//! attaches them there), then deploys are accepted or refused. A refusal is exit 10 with one line naming
//! the failed check, and nothing is registered in ECS (ListTaskDefinitions unchanged).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;
use serde_json::json;
use shipkit_core::provenance::keys::{KeySigner, Signer};
use shipkit_core::provenance::statement::BuildFacts;
use shipkit_core::provenance::verify::sign_build;
use shipkit_core::provenance::ARTIFACT_TYPE;
use shipkit_core::registry::manifest::{sha256_digest, Descriptor, Manifest, OCI_MANIFEST};
use shipkit_core::registry::reference::Repo;
use shipkit_core::registry::referrers::{artifact_manifest, EMPTY_CONFIG};
use shipkit_core::registry::{Client, Options};
use std::path::{Path, PathBuf};

fn registry() -> String {
    shipkit_testkit::service("SHIPKIT_TEST_REGISTRY")
}

/// An Ed25519 key pair by openssl: (private PEM, public key file).
fn key(dir: &Path, name: &str) -> (String, PathBuf) {
    let (private, public_pem) = shipkit_testkit::openssl_key(dir, name, &["-algorithm", "ed25519"]);
    let public = dir.join(format!("{name}.pub.pem"));
    std::fs::write(&public, public_pem).unwrap();
    (std::fs::read_to_string(&private).unwrap(), public)
}

struct Reg {
    client: Client,
    repo: Repo,
}

impl Reg {
    fn new(name: &str) -> Reg {
        Reg {
            client: Client::new(Options::default()),
            repo: Repo::parse(&format!("{}/{}", registry(), unique(name))).unwrap(),
        }
    }

    fn blob(&self, bytes: &[u8]) -> String {
        let d = sha256_digest(bytes);
        self.client.upload_blob(&self.repo, &d, bytes.to_vec(), None).unwrap();
        d
    }

    /// A small OCI image under `tag`: its manifest.
    fn image(&self, tag: &str, content: &str) -> Manifest {
        let layer = self.blob(content.as_bytes());
        let config = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer]}})
            .to_string();
        let config_digest = self.blob(config.as_bytes());
        let bytes = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": content.len()}]
        })
        .to_string()
        .into_bytes();
        let m = Manifest::from_bytes(bytes, Some(OCI_MANIFEST)).unwrap();
        self.client.put_manifest(&self.repo, tag, &m).unwrap();
        m
    }

    /// Attach a provenance about `statement_digest` as a referrer of `image` (tag-schema index).
    fn attach(&self, image: &Manifest, statement_digest: &str, signer_pem: &str, repository: &str) {
        let facts = BuildFacts {
            image: self.repo.to_string(),
            digest: statement_digest.into(),
            source_repository: repository.into(),
            source_commit: "0123456789abcdef0123456789abcdef01234567".into(),
            source_ref: Some("refs/heads/main".into()),
            build_key: "build-0123".into(),
            dockerfile: "Dockerfile".into(),
            build_args: vec![],
            run_url: None,
            builder_id: "https://ci.example.test/builder".into(),
        };
        let signer = KeySigner::from_pem(signer_pem, "test key").unwrap();
        let envelope = sign_build(&facts, &signer).unwrap().to_json().into_bytes();
        self.blob(EMPTY_CONFIG);
        let blob = Descriptor {
            digest: self.blob(&envelope),
            media_type: ARTIFACT_TYPE.into(),
            size: envelope.len() as u64,
            platform: None,
            artifact_type: None,
        };
        let subject = Descriptor {
            digest: image.digest.clone(),
            media_type: image.media_type.clone(),
            size: image.bytes.len() as u64,
            platform: None,
            artifact_type: None,
        };
        let artifact = artifact_manifest(ARTIFACT_TYPE, &blob, &subject, "2026-12-01T00:00:00Z");
        self.client.attach_referrer(&self.repo, &artifact).unwrap();
    }
}

const SOURCE: &str = "https://github.com/acme/app";

/// Deploy `image` requiring provenance with `trusted` (and optionally a config file); the output.
fn deploy(f: &Fixture, image: &str, config: Option<&str>, trusted: &Path) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    if let Some(c) = config {
        std::fs::write(dir.path().join("shipkit.yml"), c).unwrap();
    }
    let args = [
        "deploy",
        "--cluster",
        &f.cluster,
        "--service",
        &f.services[0],
        "--image",
        image,
        "--container",
        "app",
        "--require-provenance",
        "--trusted-key",
        trusted.to_str().unwrap(),
        "--format",
        "json",
    ];
    run_in(dir.path(), &moto_url(), &args, &[])
}

fn assert_refused(o: &std::process::Output, f: &Fixture, what: &str) {
    assert_eq!(code(o), 10, "{}", show(o));
    let last = shipkit_testkit::stderr(o)
        .trim()
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    assert!(last.contains("refused") && last.contains(what), "{what}: {last}");
    assert_eq!(f.revisions(0), 1, "nothing registered in ECS when refused");
}

#[test]
fn a_signed_image_is_deployed_pinned_to_its_digest_and_recorded_as_verified() {
    let keys = tempfile::tempdir().unwrap();
    let (private, public) = key(keys.path(), "ci");
    let reg = Reg::new("prov-ok");
    let m = reg.image("1.0.0", "signed app");
    reg.attach(&m, &m.digest, &private, SOURCE);
    let f = Fixture::new(1);
    let config = format!("deploy:\n  require_provenance:\n    source_repository: {SOURCE}\n    branches: [main]\n");
    // By tag: resolved to the digest, which is what gets deployed.
    let o = deploy(&f, &format!("{}:1.0.0", reg.repo), Some(&config), &public);
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(
        shipkit_testkit::stderr(&o).contains("provenance verified"),
        "{}",
        show(&o)
    );
    let td = f.current_td(0);
    let v = call("DescribeTaskDefinition", &json!({"taskDefinition": td}));
    let image = v["taskDefinition"]["containerDefinitions"][0]["image"]
        .as_str()
        .unwrap();
    assert_eq!(image, format!("{}:1.0.0@{}", reg.repo, m.digest));
    let tags = td_tags(&td);
    let signer = KeySigner::from_pem(&private, "k").unwrap();
    assert!(
        tags.iter()
            .any(|(k, v)| k == "shipkit:provenance" && *v == format!("verified:{}", signer.key_id())),
        "{tags:?}"
    );
    // `status` shows that what runs was verified, and by which key.
    let o = run(&[
        "status",
        "--cluster",
        &f.cluster,
        "--service",
        &f.services[0],
        "--format",
        "json",
    ]);
    assert_eq!(code(&o), 0, "{}", show(&o));
    let status = json_out(&o);
    assert_eq!(
        status["services"][0]["provenance"],
        format!("verified:{}", signer.key_id()).as_str()
    );
    let o = run(&["status", "--cluster", &f.cluster, "--service", &f.services[0]]);
    assert!(shipkit_testkit::stdout(&o).contains("verified (key "), "{}", show(&o));
}

#[test]
fn unsigned_other_key_other_subject_and_other_repository_are_refused_with_nothing_registered() {
    let keys = tempfile::tempdir().unwrap();
    let (private, public) = key(keys.path(), "ci");
    let (other_private, _) = key(keys.path(), "other");
    let reg = Reg::new("prov-refused");
    let f = Fixture::new(1);

    let unsigned = reg.image("unsigned", "unsigned app");
    let o = deploy(&f, &format!("{}@{}", reg.repo, unsigned.digest), None, &public);
    assert_refused(&o, &f, "no provenance is attached");

    let other_key = reg.image("other-key", "signed by another key");
    reg.attach(&other_key, &other_key.digest, &other_private, SOURCE);
    let o = deploy(&f, &format!("{}@{}", reg.repo, other_key.digest), None, &public);
    assert_refused(&o, &f, "no signature by a trusted key");

    // A valid signature by the trusted key, but about another image, attached to this one.
    let elsewhere = reg.image("elsewhere", "the image really signed");
    let moved = reg.image("moved", "the image the provenance was moved onto");
    reg.attach(&moved, &elsewhere.digest, &private, SOURCE);
    let o = deploy(&f, &format!("{}@{}", reg.repo, moved.digest), None, &public);
    assert_refused(&o, &f, "subject is another digest");

    let fork = reg.image("fork", "built from a fork");
    reg.attach(&fork, &fork.digest, &private, "https://github.com/mallory/app");
    let config = format!("deploy:\n  require_provenance:\n    source_repository: {SOURCE}\n");
    let o = deploy(&f, &format!("{}@{}", reg.repo, fork.digest), Some(&config), &public);
    assert_refused(&o, &f, "mallory/app");

    // A tag that does not exist: refused before ECS is touched.
    let o = deploy(&f, &format!("{}:nope", reg.repo), None, &public);
    assert_refused(&o, &f, "does not exist");
    // No trusted key at all: a config error (exit 3), not a silent pass.
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "deploy",
        "--cluster",
        &f.cluster,
        "--service",
        &f.services[0],
        "--image",
        "reg.test/x:1",
        "--require-provenance",
    ];
    let o = run_in(dir.path(), &moto_url(), &args, &[]);
    assert_eq!(code(&o), 3, "{}", show(&o));
    assert_eq!(f.revisions(0), 1);
}
