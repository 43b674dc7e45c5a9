// install.sh for real: release archives built by `scripts/dist`, served over HTTP on 127.0.0.1,
// installed with `curl ... | sh -s -- ...` (and wget), verified against SHA256SUMS.

use shipkit_e2e::{release, release_site, Release, Server};
use std::path::Path;
use std::process::{Command, Output};

/// This build's release, its site served over HTTP on 127.0.0.1, and an empty directory to install into.
/// Bind `_site` by name: it must outlive the server that serves it.
struct Served {
    rel: &'static Release,
    _site: tempfile::TempDir,
    server: Server,
    to: tempfile::TempDir,
}

fn served() -> Served {
    let rel = release(env!("CARGO_TARGET_TMPDIR"));
    let site = release_site(rel);
    let server = Server::start(site.path());
    let to = tempfile::tempdir().unwrap();
    Served {
        rel,
        _site: site,
        server,
        to,
    }
}

/// `curl -fsSL <url>/v<version>/install.sh | sh -s -- <args>`, as users run it.
fn curl_pipe_sh(server: &Server, version: &str, args: &[&str]) -> Output {
    pipe_sh(
        &format!("curl -fsSL \"$URL/v{version}/install.sh\" | sh -s -- \"$@\""),
        server,
        args,
        None,
    )
}

fn pipe_sh(script: &str, server: &Server, args: &[&str], path: Option<&Path>) -> Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).arg("sh").args(args).env("URL", &server.url);
    for (var, _) in std::env::vars().filter(|(k, _)| k.starts_with("SHIPKIT_")) {
        cmd.env_remove(var);
    }
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    cmd.output().expect("sh runs")
}

/// install.sh's flags for version-detect `version` into `to`, downloaded from `base_url`.
fn install_args<'a>(version: &'a str, to: &'a Path, base_url: &'a str) -> [&'a str; 8] {
    [
        "--version",
        version,
        "--tools",
        "version-detect",
        "--to",
        to.to_str().unwrap(),
        "--base-url",
        base_url,
    ]
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn installed_version(bin: &Path) -> String {
    let out = Command::new(bin)
        .arg("--version")
        .output()
        .expect("installed tool runs");
    assert!(
        out.status.success(),
        "{} --version failed: {}",
        bin.display(),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn curl_pipe_sh_installs_the_pinned_version_and_a_second_run_downloads_nothing() {
    let Served { rel, _site, server, to } = served();
    let bin_dir = to.path().join("bin");
    let args = install_args(&rel.version, &bin_dir, &server.url);

    let out = curl_pipe_sh(&server, &rel.version, &args);
    assert!(out.status.success(), "install failed: {}", text(&out.stderr));
    let bin = bin_dir.join("version-detect");
    assert!(
        installed_version(&bin).contains(&rel.version),
        "the installed binary reports the release version"
    );
    // runnable for real: the version of this very checkout
    let vd = Command::new(&bin).current_dir(shipkit_e2e::root()).output().unwrap();
    assert!(vd.status.success(), "version-detect failed: {}", text(&vd.stderr));
    assert!(!text(&vd.stdout).trim().is_empty());
    let names: Vec<_> = std::fs::read_dir(&bin_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["version-detect"], "nothing but the tool is left in --to");
    assert_eq!(server.count(&rel.archive("version-detect")), 1);
    assert_eq!(server.count("/SHA256SUMS"), 1);

    // Same version already in place: no archive, no sums fetched (only install.sh itself, by curl).
    let before = std::fs::metadata(&bin).unwrap().modified().unwrap();
    let again = curl_pipe_sh(&server, &rel.version, &args);
    assert!(again.status.success(), "second run failed: {}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("already installed"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        server.count(&rel.archive("version-detect")),
        1,
        "{:?}",
        server.requests()
    );
    assert_eq!(server.count("/SHA256SUMS"), 1, "{:?}", server.requests());
    assert_eq!(std::fs::metadata(&bin).unwrap().modified().unwrap(), before);

    // --force downloads and verifies again
    let mut forced = args.to_vec();
    forced.push("--force");
    let out = curl_pipe_sh(&server, &rel.version, &forced);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(server.count(&rel.archive("version-detect")), 2);
}

#[test]
fn tampered_archive_is_refused_and_nothing_is_installed() {
    let rel = release(env!("CARGO_TARGET_TMPDIR"));
    let site = release_site(rel);
    let archive = site
        .path()
        .join(format!("v{}", rel.version))
        .join(rel.archive("version-detect"));
    let mut bytes = std::fs::read(&archive).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&archive, bytes).unwrap();
    let server = Server::start(site.path());
    let to = tempfile::tempdir().unwrap();
    // an older install already in place must stay exactly as it was
    let old = to.path().join("version-detect");
    std::fs::write(&old, "#!/bin/sh\necho 'version-detect 0.0.1'\n").unwrap();

    let out = curl_pipe_sh(
        &server,
        &rel.version,
        &install_args(&rel.version, to.path(), &server.url),
    );
    assert_eq!(out.status.code(), Some(10), "refused on purpose: {}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("install.sh: error: checksum mismatch for"), "{err}");
    assert!(err.contains("nothing was installed"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&old).unwrap(),
        "#!/bin/sh\necho 'version-detect 0.0.1'\n"
    );
    assert_eq!(
        std::fs::read_dir(to.path()).unwrap().count(),
        1,
        "no temporary files left in --to"
    );
}

#[test]
fn archive_without_a_checksum_is_refused() {
    let rel = release(env!("CARGO_TARGET_TMPDIR"));
    let site = release_site(rel);
    let sums = site.path().join(format!("v{}", rel.version)).join("SHA256SUMS");
    let kept: String = std::fs::read_to_string(&sums)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("version-detect-"))
        .fold(String::new(), |mut kept, l| {
            kept.push_str(l);
            kept.push('\n');
            kept
        });
    std::fs::write(&sums, kept).unwrap();
    // signed by the release key all the same: the per-archive check must still refuse
    shipkit_e2e::sign_with(&shipkit_e2e::test_key().pem, &sums);
    let server = Server::start(site.path());
    let to = tempfile::tempdir().unwrap();
    let dest = to.path().join("bin");

    let out = curl_pipe_sh(&server, &rel.version, &install_args(&rel.version, &dest, &server.url));
    assert_eq!(out.status.code(), Some(10), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("has no checksum for version-detect-"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dest.exists(), "nothing installed, not even the directory");
}

#[test]
fn latest_is_resolved_only_when_asked_and_a_missing_version_is_an_error() {
    let Served { rel, _site, server, to } = served();

    // no --version: refused before any download
    let out = Command::new("sh")
        .arg(shipkit_e2e::root().join("install.sh"))
        .args([
            "--tools",
            "version-detect",
            "--to",
            to.path().to_str().unwrap(),
            "--base-url",
            &server.url,
        ])
        .env_remove("SHIPKIT_INSTALL_VERSION")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--version is required"),
        "{}",
        text(&out.stderr)
    );
    assert!(server.requests().is_empty(), "{:?}", server.requests());

    // --version latest reads <base-url>/latest
    let out = curl_pipe_sh(&server, &rel.version, &install_args("latest", to.path(), &server.url));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(server.count("/latest"), 1);
    assert!(installed_version(&to.path().join("version-detect")).contains(&rel.version));
}

#[test]
fn wget_is_used_when_curl_is_missing() {
    let Served { rel, _site, server, to } = served();
    // a PATH with every program of this machine but curl
    let path_dir = tempfile::tempdir().unwrap();
    for dir in std::env::var("PATH").unwrap().split(':') {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        for e in entries.flatten() {
            let name = e.file_name();
            let link = path_dir.path().join(&name);
            if name != "curl" && !link.exists() {
                let _ = std::os::unix::fs::symlink(e.path(), link);
            }
        }
    }
    assert!(path_dir.path().join("wget").exists(), "wget is needed for this test");

    let out = pipe_sh(
        &format!("wget -qO- \"$URL/v{}/install.sh\" | sh -s -- \"$@\"", rel.version),
        &server,
        &install_args(&rel.version, to.path(), &server.url),
        Some(path_dir.path()),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(installed_version(&to.path().join("version-detect")).contains(&rel.version));
    // http.server does not log user agents: the wget path is proved by a PATH with no curl at all
    assert_eq!(server.count(&rel.archive("version-detect")), 1);
}

#[test]
fn bad_flags_are_refused_with_a_clear_line_and_no_network() {
    let to = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new("sh")
            .arg(shipkit_e2e::root().join("install.sh"))
            .args(args)
            .args(["--to", to.path().to_str().unwrap()])
            .output()
            .unwrap()
    };
    let out = run(&["--version", "0.1.0", "--tools", "version-detect,nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("install.sh: error: unknown tool 'nope' (hint: one of"),
        "{}",
        text(&out.stderr)
    );

    // plain http to anything but loopback is refused before connecting
    let out = run(&["--version", "0.1.0", "--base-url", "http://mirror.invalid/shipkit"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("insecure"), "{}", text(&out.stderr));

    let out = run(&["--version", "0.1.0;rm", "--base-url", "https://mirror.invalid"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("bad version"), "{}", text(&out.stderr));

    let out = run(&["--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown option '--bogus'"));

    let help = run(&["--help"]);
    assert!(help.status.success());
    assert!(text(&help.stdout).contains("exit codes:"));
    assert_eq!(std::fs::read_dir(to.path()).unwrap().count(), 0);
}

#[test]
fn credentials_in_the_base_url_are_never_printed() {
    let Served { rel, _site, server, to } = served();
    let with_creds = server.url.replace("http://", "http://ci-user:S3cret-token@");
    // the release's own installer (it carries the key the release is signed with)
    let installer = rel.dir.join("install.sh");
    let run = |version: &str| {
        Command::new("sh")
            .arg(&installer)
            .args([
                "--version",
                version,
                "--tools",
                "version-detect",
                "--to",
                to.path().to_str().unwrap(),
            ])
            .args(["--base-url", &with_creds])
            .output()
            .unwrap()
    };
    let ok = run(&rel.version);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(
        text(&ok.stderr).contains("http://***@127.0.0.1:"),
        "{}",
        text(&ok.stderr)
    );
    let missing = run("9.9.9");
    assert_eq!(missing.status.code(), Some(7), "{}", text(&missing.stderr));
    for out in [&ok, &missing] {
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.contains("S3cret-token"), "credentials printed: {all}");
    }
}

/// A PATH holding every program of this machine except `without`.
fn path_without(without: &[&str]) -> tempfile::TempDir {
    let path_dir = tempfile::tempdir().unwrap();
    for dir in std::env::var("PATH").unwrap().split(':') {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        for e in entries.flatten() {
            let name = e.file_name();
            let link = path_dir.path().join(&name);
            if !without.iter().any(|w| name == **w) && !link.exists() {
                let _ = std::os::unix::fs::symlink(e.path(), link);
            }
        }
    }
    path_dir
}

/// Install version-detect from `site` with the release's own install.sh, with this PATH (None: the
/// machine's) and extra arguments; the installed directory is returned with the output.
fn install_from(site: &Path, version: &str, path: Option<&Path>, extra: &[&str]) -> (Output, tempfile::TempDir) {
    let server = Server::start(site);
    let to = tempfile::tempdir().unwrap();
    let dest = to.path().join("bin");
    let mut args = install_args(version, &dest, &server.url).to_vec();
    args.extend_from_slice(extra);
    let out = pipe_sh(
        &format!("curl -fsSL \"$URL/v{version}/install.sh\" | sh -s -- \"$@\""),
        &server,
        &args,
        path,
    );
    (out, to)
}

/// [`install_from`] succeeds, says `says` on stderr and installs version-detect.
fn assert_installed_saying(site: &Path, version: &str, path: Option<&Path>, extra: &[&str], says: &str) {
    let (out, to) = install_from(site, version, path, extra);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(says), "expected `{says}` in: {err}");
    assert!(to.path().join("bin/version-detect").exists(), "{err}");
}

/// minisign, and openssl where minisign is absent, both refuse the release (exit 10) saying `says`.
fn assert_both_verifiers_refuse(site: &Path, version: &str, says: &str) {
    assert_refused_nothing_installed(site, version, None, &[], 10, says);
    let no_minisign = path_without(&["minisign"]);
    assert_refused_nothing_installed(site, version, Some(no_minisign.path()), &[], 10, says);
}

/// [`install_from`] is refused with exit `code`, says `says` on stderr and installs nothing.
fn assert_refused_nothing_installed(
    site: &Path,
    version: &str,
    path: Option<&Path>,
    extra: &[&str],
    code: i32,
    says: &str,
) {
    let (out, to) = install_from(site, version, path, extra);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(says), "expected `{says}` in: {err}");
    assert!(err.contains("nothing was installed") || code == 5, "{err}");
    assert!(!to.path().join("bin").exists(), "nothing installed: {err}");
}

#[test]
fn signature_is_verified_with_minisign_and_with_openssl_when_minisign_is_absent() {
    let rel = release(env!("CARGO_TARGET_TMPDIR"));
    let site = release_site(rel);
    assert_installed_saying(site.path(), &rel.version, None, &[], "verified with minisign");

    let no_minisign = path_without(&["minisign"]);
    assert_installed_saying(
        site.path(),
        &rel.version,
        Some(no_minisign.path()),
        &[],
        "verified with openssl",
    );

    // neither verifier: fail closed with exit 5, nothing installed
    let neither = path_without(&["minisign", "openssl"]);
    assert_refused_nothing_installed(
        site.path(),
        &rel.version,
        Some(neither.path()),
        &[],
        5,
        "neither minisign nor OpenSSL 3",
    );
}

#[test]
fn tampered_sums_are_refused_by_both_verifiers() {
    let rel = release(env!("CARGO_TARGET_TMPDIR"));
    let site = release_site(rel);
    let vdir = site.path().join(format!("v{}", rel.version));
    // an attacker who can replace archives can replace their sums too: rewrite both consistently
    let archive = vdir.join(rel.archive("version-detect"));
    let mut bytes = std::fs::read(&archive).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&archive, &bytes).unwrap();
    let sum = Command::new("sha256sum").arg(&archive).output().unwrap();
    let new_sum = text(&sum.stdout)[..64].to_string();
    let sums_path = vdir.join("SHA256SUMS");
    let sums: String = std::fs::read_to_string(&sums_path)
        .unwrap()
        .lines()
        .map(|l| {
            if l.ends_with(&rel.archive("version-detect")) {
                format!("{new_sum}  {}\n", rel.archive("version-detect"))
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&sums_path, sums).unwrap();

    assert_both_verifiers_refuse(site.path(), &rel.version, "bad signature on SHA256SUMS");
}

#[test]
fn missing_signature_and_a_signature_by_another_key_are_refused() {
    let rel = release(env!("CARGO_TARGET_TMPDIR"));
    let no_minisign = path_without(&["minisign"]);

    // missing signature files
    let site = release_site(rel);
    let vdir = site.path().join(format!("v{}", rel.version));
    std::fs::remove_file(vdir.join("SHA256SUMS.minisig")).unwrap();
    std::fs::remove_file(vdir.join("SHA256SUMS.sig")).unwrap();
    assert_refused_nothing_installed(site.path(), &rel.version, None, &[], 10, "no SHA256SUMS.minisig");
    assert_refused_nothing_installed(
        site.path(),
        &rel.version,
        Some(no_minisign.path()),
        &[],
        10,
        "no SHA256SUMS.sig",
    );

    // a garbage signature
    std::fs::write(vdir.join("SHA256SUMS.sig"), "@@@ not base64 @@@").unwrap();
    let (out, to) = install_from(site.path(), &rel.version, Some(no_minisign.path()), &[]);
    assert_eq!(out.status.code(), Some(10), "{}", text(&out.stderr));
    assert!(!to.path().join("bin").exists());

    // signed, but by a key install.sh does not carry
    let site = release_site(rel);
    let vdir = site.path().join(format!("v{}", rel.version));
    let stranger = shipkit_e2e::new_test_key("stranger");
    shipkit_e2e::sign_with(&stranger.pem, &vdir.join("SHA256SUMS"));
    assert_both_verifiers_refuse(site.path(), &rel.version, "bad signature on SHA256SUMS");
}

#[test]
fn rotated_keys_any_trusted_key_verifies_and_a_dropped_key_does_not() {
    let rel = release(env!("CARGO_TARGET_TMPDIR"));
    let current = shipkit_e2e::test_key();
    let next = shipkit_e2e::new_test_key("next-release-key");
    let no_minisign = path_without(&["minisign"]);
    let site = release_site(rel);
    let vdir = site.path().join(format!("v{}", rel.version));
    let installer = vdir.join("install.sh");
    let shipped = std::fs::read_to_string(&installer).unwrap();

    // rotation in progress: the installer trusts both keys, the release is signed by the new one
    let both = shipped.replacen(
        &current.trust_line,
        &format!("{}\n{}", current.trust_line, next.trust_line),
        1,
    );
    std::fs::write(&installer, &both).unwrap();
    shipkit_e2e::sign_with(&next.pem, &vdir.join("SHA256SUMS"));
    for path in [None, Some(no_minisign.path())] {
        assert_installed_saying(site.path(), &rel.version, path, &[], "signed by next-release-key");
    }

    // after rotation the old key's line is dropped: a release signed by it is refused
    let only_next = shipped.replacen(&current.trust_line, &next.trust_line, 1);
    std::fs::write(&installer, only_next).unwrap();
    shipkit_e2e::sign_with(&current.pem, &vdir.join("SHA256SUMS"));
    assert_both_verifiers_refuse(site.path(), &rel.version, "bad signature on SHA256SUMS");
}

#[test]
fn pinned_sums_digest_replaces_the_signature_and_a_wrong_pin_is_refused() {
    let rel = release(env!("CARGO_TARGET_TMPDIR"));
    let site = release_site(rel);
    let vdir = site.path().join(format!("v{}", rel.version));
    // a mirror without signatures, installed with the sums digest pinned
    std::fs::remove_file(vdir.join("SHA256SUMS.minisig")).unwrap();
    std::fs::remove_file(vdir.join("SHA256SUMS.sig")).unwrap();
    let sum = Command::new("sha256sum").arg(vdir.join("SHA256SUMS")).output().unwrap();
    let pin = text(&sum.stdout)[..64].to_uppercase();
    assert_installed_saying(
        site.path(),
        &rel.version,
        None,
        &["--sums-sha256", &pin],
        "matches the pinned --sums-sha256",
    );

    let wrong = "0".repeat(64);
    assert_refused_nothing_installed(
        site.path(),
        &rel.version,
        None,
        &["--sums-sha256", &wrong],
        10,
        "does not match --sums-sha256",
    );

    let (out, to) = install_from(site.path(), &rel.version, None, &["--sums-sha256", "abc"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("64 hex digits"), "{}", text(&out.stderr));
    assert!(!to.path().join("bin").exists());
}

#[test]
fn the_repository_installer_does_not_accept_the_test_key() {
    // The repository's install.sh carries only committed release keys; a release signed with the
    // throwaway test key is accepted only by the copy `scripts/dist --trust-key` shipped with it.
    let rel = release(env!("CARGO_TARGET_TMPDIR"));
    let site = release_site(rel);
    let vdir = site.path().join(format!("v{}", rel.version));
    std::fs::copy(shipkit_e2e::root().join("install.sh"), vdir.join("install.sh")).unwrap();
    let (out, to) = install_from(site.path(), &rel.version, None, &[]);
    assert_eq!(out.status.code(), Some(10), "{}", text(&out.stderr));
    assert!(!to.path().join("bin").exists(), "{}", text(&out.stderr));
}
