//! Image provenance: keys made by openssl, envelopes signed by shipkit and verified both by shipkit and,
//! independently, by securesystemslib (the DSSE reference library); every refusal a deploy relies on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use shipkit_core::provenance::dsse::Envelope;
use shipkit_core::provenance::keys::{Algorithm, KeySigner, PublicKey, Signer};
use shipkit_core::provenance::statement::BuildFacts;
use shipkit_core::provenance::verify::{sign_build, verify, Policy};
use shipkit_core::ExitCode;
use std::path::Path;

const DIGEST: &str = "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945";
const OTHER: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";

/// A private key PEM made by `openssl genpkey` with `args`, and its public key PEM.
fn openssl_key(dir: &Path, name: &str, args: &[&str]) -> (String, String) {
    let (private, public) = shipkit_testkit::openssl_key(dir, name, args);
    (std::fs::read_to_string(private).unwrap(), public)
}

fn ed25519(dir: &Path, name: &str) -> (KeySigner, PublicKey, String) {
    let (private, public) = openssl_key(dir, name, &["-algorithm", "ed25519"]);
    let signer = KeySigner::from_pem(&private, "test key").unwrap();
    (signer, PublicKey::from_pem(&public, "test pub").unwrap(), public)
}

fn facts(digest: &str) -> BuildFacts {
    BuildFacts {
        image: "127.0.0.1:5000/acme/app".into(),
        digest: digest.into(),
        source_repository: "https://github.com/acme/app".into(),
        source_commit: "0123456789abcdef0123456789abcdef01234567".into(),
        source_ref: Some("refs/heads/main".into()),
        build_key: "bk-1234".into(),
        dockerfile: "Dockerfile".into(),
        build_args: vec![("RUST_VERSION".into(), "1.90".into())],
        run_url: Some("https://ci.example.test/acme/app/runs/42".into()),
        builder_id: "https://ci.example.test/acme/app/.ci/build.yml@refs/heads/main".into(),
    }
}

fn policy(keys: Vec<PublicKey>) -> Policy {
    Policy {
        trusted_keys: keys,
        ..Policy::default()
    }
}

/// securesystemslib's verdict on `envelope` under `public_pem` with `keyid`.
fn python_verifies(dir: &Path, envelope: &Envelope, public_pem: &str, keyid: &str) -> Option<String> {
    shipkit_testkit::securesystemslib_verifies(dir, envelope.to_json().as_bytes(), public_pem, keyid)
}

#[test]
fn ed25519_envelope_verifies_in_shipkit_and_in_securesystemslib() {
    let dir = tempfile::tempdir().unwrap();
    let (signer, public, public_pem) = ed25519(dir.path(), "ci");
    assert_eq!(public.algorithm(), Algorithm::Ed25519);
    assert_eq!(signer.key_id(), public.key_id());
    assert_eq!(signer.public_key().to_pem(), public_pem);
    let envelope = sign_build(&facts(DIGEST), &signer).unwrap();
    let verified = verify(envelope.to_json().as_bytes(), DIGEST, &policy(vec![public])).unwrap();
    assert_eq!(verified.source_repository, "https://github.com/acme/app");
    assert_eq!(verified.source_commit, "0123456789abcdef0123456789abcdef01234567");
    assert_eq!(verified.source_ref.as_deref(), Some("refs/heads/main"));
    assert_eq!(verified.key_id, signer.key_id());
    let subject = python_verifies(dir.path(), &envelope, &public_pem, signer.key_id());
    assert_eq!(subject.as_deref(), Some(DIGEST.strip_prefix("sha256:").unwrap()));
}

#[test]
fn p256_envelope_verifies_in_shipkit_and_in_securesystemslib() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
    let (private, public_pem) = openssl_key(dir.path(), "p256", &args);
    let signer = KeySigner::from_pem(&private, "p256 key").unwrap();
    let public = PublicKey::from_pem(&public_pem, "p256 pub").unwrap();
    assert_eq!(public.algorithm(), Algorithm::EcdsaP256);
    assert_eq!(signer.public_key(), &public);
    let envelope = sign_build(&facts(DIGEST), &signer).unwrap();
    verify(envelope.to_json().as_bytes(), DIGEST, &policy(vec![public])).unwrap();
    let subject = python_verifies(dir.path(), &envelope, &public_pem, signer.key_id());
    assert_eq!(subject.as_deref(), Some(DIGEST.strip_prefix("sha256:").unwrap()));
}

#[test]
fn securesystemslib_rejects_a_tampered_payload() {
    let dir = tempfile::tempdir().unwrap();
    let (signer, _, public_pem) = ed25519(dir.path(), "ci");
    let mut envelope = sign_build(&facts(DIGEST), &signer).unwrap();
    let forged = sign_build(&facts(OTHER), &signer).unwrap();
    envelope.payload = forged.payload;
    assert_eq!(
        python_verifies(dir.path(), &envelope, &public_pem, signer.key_id()),
        None
    );
}

fn refusal(bytes: &[u8], digest: &str, policy: &Policy) -> String {
    let err = verify(bytes, digest, policy).unwrap_err();
    assert_eq!(err.code, ExitCode::Refused, "{}", err.one_line());
    let line = err.one_line();
    assert!(!line.contains('\n'), "{line}");
    line
}

#[test]
fn refuses_unsigned_other_key_other_subject_and_tampered_payload() {
    let dir = tempfile::tempdir().unwrap();
    let (signer, public, _) = ed25519(dir.path(), "ci");
    let (intruder, _, _) = ed25519(dir.path(), "intruder");
    let trusted = policy(vec![public]);
    let good = sign_build(&facts(DIGEST), &signer).unwrap();

    let mut unsigned = good.clone();
    unsigned.signatures.clear();
    let line = refusal(unsigned.to_json().as_bytes(), DIGEST, &trusted);
    assert!(line.contains("no signature by a trusted key"), "{line}");

    let by_other = sign_build(&facts(DIGEST), &intruder).unwrap();
    let line = refusal(by_other.to_json().as_bytes(), DIGEST, &trusted);
    assert!(line.contains("no signature by a trusted key"), "{line}");

    let line = refusal(good.to_json().as_bytes(), OTHER, &trusted);
    assert!(line.contains("subject is another digest"), "{line}");

    let mut tampered = good.clone();
    tampered.payload = sign_build(&facts(OTHER), &intruder).unwrap().payload;
    let line = refusal(tampered.to_json().as_bytes(), OTHER, &trusted);
    assert!(line.contains("no signature by a trusted key"), "{line}");

    let mut retyped = good;
    retyped.payload_type = "text/plain".into();
    let line = refusal(retyped.to_json().as_bytes(), DIGEST, &trusted);
    assert!(line.contains("not in-toto"), "{line}");
}

#[test]
fn refuses_sources_outside_the_allowed_repositories_and_refs() {
    let dir = tempfile::tempdir().unwrap();
    let (signer, public, _) = ed25519(dir.path(), "ci");
    let mut fork = facts(DIGEST);
    fork.source_repository = "https://github.com/mallory/app".into();
    fork.source_ref = Some("refs/heads/feature".into());
    let envelope = sign_build(&fork, &signer).unwrap();
    let mut p = policy(vec![public]);
    p.allowed_repositories = vec!["https://github.com/acme/app".into()];
    let line = refusal(envelope.to_json().as_bytes(), DIGEST, &p);
    assert!(line.contains("repository `https://github.com/mallory/app`"), "{line}");
    p.allowed_repositories.clear();
    p.allowed_refs = vec!["refs/heads/main".into()];
    let line = refusal(envelope.to_json().as_bytes(), DIGEST, &p);
    assert!(line.contains("ref `refs/heads/feature`"), "{line}");
}

#[test]
fn hostile_envelopes_are_one_line_refusals_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let (_, public, _) = ed25519(dir.path(), "ci");
    let trusted = policy(vec![public]);
    let huge = vec![b' '; shipkit_core::provenance::MAX_ENVELOPE_BYTES + 1];
    let junk_sig = r#"{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"!!"}]}"#;
    let not_b64 = r#"{"payloadType":"application/vnd.in-toto+json","payload":"@@@","signatures":[]}"#;
    for bytes in [
        &b"not json"[..],
        b"{}",
        b"[]",
        &huge,
        junk_sig.as_bytes(),
        not_b64.as_bytes(),
    ] {
        refusal(bytes, DIGEST, &trusted);
    }
    let no_keys = verify(b"{}", DIGEST, &Policy::default()).unwrap_err();
    assert_eq!(no_keys.code, ExitCode::Config);
}

#[test]
fn bad_keys_are_config_errors_that_never_echo_key_material() {
    let dir = tempfile::tempdir().unwrap();
    let (_, public_pem) = openssl_key(
        dir.path(),
        "rsa",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
    );
    let rsa_private = std::fs::read_to_string(dir.path().join("rsa.pem")).unwrap();
    for (pem, what) in [
        (rsa_private.as_str(), "private"),
        ("garbage", "private"),
        (public_pem.as_str(), "public"),
    ] {
        let err = match what {
            "private" => KeySigner::from_pem(pem, "SHIPKIT_PROVENANCE_KEY").err().unwrap(),
            _ => PublicKey::from_pem(pem, "trusted key 1").unwrap_err(),
        };
        assert_eq!(err.code, ExitCode::Config);
        let line = err.one_line();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(body.is_empty() || !line.contains(&body[..body.len().min(20)]), "{line}");
    }
}
