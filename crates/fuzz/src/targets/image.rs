//! The fuzz targets for images and registries: manifests, `.dockerignore`, `docker save` archives,
//! provenance envelopes, referrer lists and `WWW-Authenticate` challenges (split from `targets.rs`).

use crate::check::{error_with_code, text};
use shipkit_core::ExitCode;

pub(super) fn registry_manifest(data: &[u8]) {
    use docker_tag_push::registry::Manifest;
    for content_type in [None, Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8")] {
        match Manifest::from_bytes(data.to_vec(), content_type) {
            Ok(m) => {
                let _ = m.is_index();
                let _ = m.children();
                let _ = m.blobs();
                let _ = m.config_digest();
                assert!(m.digest.starts_with("sha256:") && m.digest.len() == 71);
            }
            Err(e) => error_with_code(&e, &[ExitCode::Remote]),
        }
    }
}

pub(super) fn dockerignore(data: &[u8]) {
    use docker_tag_push::dockerignore::DockerIgnore;
    let s = text(data);
    let (patterns, path) = s.rsplit_once('\n').unwrap_or(("", s.as_str()));
    let d = DockerIgnore::parse(patterns);
    let excluded = d.excludes(path);
    // Without exceptions, what a pattern excludes it excludes with everything under it.
    if excluded && !patterns.contains('!') && !path.is_empty() {
        assert!(d.excludes(&format!("{path}/child")), "{path:?} excluded, its child not");
    }
}

pub(super) fn docker_save_archive(data: &[u8]) {
    use std::io::Write;
    let path = std::env::temp_dir().join(format!("shipkit-fuzz-archive-{}", std::process::id()));
    let mut f = std::fs::File::create(&path).expect("temp file");
    f.write_all(data).expect("write");
    drop(f);
    match docker_tag_push::archive::read_saved(&path, &[]) {
        Ok(img) => {
            assert_eq!(img.layers.len(), img.manifest.blobs().len() - 1);
            assert!(img.manifest.digest.starts_with("sha256:"));
        }
        Err(e) => error_with_code(&e, &[ExitCode::Failure]),
    }
    let _ = std::fs::remove_file(&path);
}

/// A fixed trusted key (made with `openssl genpkey -algorithm ed25519`; its private half was thrown away).
const FUZZ_TRUSTED_KEY: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA9P8XgBEH8FlWUkt0iCg3mS+i6Cx0HyhZmZd1tslY5VQ=
-----END PUBLIC KEY-----
";

pub(super) fn provenance_envelope(data: &[u8]) {
    use shipkit_core::provenance::keys::PublicKey;
    use shipkit_core::provenance::verify::{verify, Policy};
    let policy = Policy {
        trusted_keys: vec![PublicKey::from_pem(FUZZ_TRUSTED_KEY, "fuzz key").expect("fuzz key")],
        ..Policy::default()
    };
    let digest = "sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945";
    match verify(data, digest, &policy) {
        Ok(v) => panic!("an envelope without the private key verified: {v:?}"),
        Err(e) => error_with_code(&e, &[ExitCode::Refused]),
    }
}

pub(super) fn referrer_list(data: &[u8]) {
    use shipkit_core::registry::referrers::{parse_list, MAX_REFERRERS};
    match parse_list(data, "fuzz") {
        Ok(list) => assert!(list.len() <= MAX_REFERRERS),
        Err(e) => error_with_code(&e, &[ExitCode::Remote]),
    }
    if let Ok(m) = shipkit_core::registry::Manifest::from_bytes(data.to_vec(), None) {
        let _ = m.subject();
        let _ = m.artifact_type();
    }
}

pub(super) fn www_authenticate(data: &[u8]) {
    let s = text(data);
    let _ = docker_tag_push::auth::Challenge::parse(&s);
}
