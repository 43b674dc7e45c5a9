// scripts/dist for real: archive names and contents, static musl binaries, SHA256SUMS, reproducible output.

use shipkit_e2e::{dist, elf_has_interpreter, release};
use std::path::Path;
use std::process::Command;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn archives_hold_a_static_binary_and_are_listed_in_sha256sums() {
    let rel = release(env!("CARGO_TARGET_TMPDIR"));
    let archive = rel.dir.join(rel.archive("version-detect"));
    assert!(archive.exists(), "{} missing", archive.display());

    let list = Command::new("tar").arg("-tzf").arg(&archive).output().unwrap();
    assert!(list.status.success());
    let prefix = format!("version-detect-{}-{}", rel.version, rel.target);
    let entries: Vec<String> = text(&list.stdout).lines().map(str::to_string).collect();
    assert!(entries.contains(&format!("{prefix}/version-detect")), "{entries:?}");
    assert!(entries.contains(&format!("{prefix}/README.md")), "{entries:?}");
    assert!(
        entries.iter().all(|e| e.starts_with(&prefix)),
        "one top directory: {entries:?}"
    );

    let x = tempfile::tempdir().unwrap();
    let st = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(x.path())
        .status()
        .unwrap();
    assert!(st.success());
    let bin = x.path().join(&prefix).join("version-detect");
    assert!(
        !elf_has_interpreter(&std::fs::read(&bin).unwrap()),
        "a static binary has no ELF interpreter"
    );
    let v = Command::new(&bin).arg("--version").output().unwrap();
    assert!(v.status.success());
    assert!(
        text(&v.stdout).contains(&rel.version),
        "--version prints the release version: {}",
        text(&v.stdout)
    );

    // SHA256SUMS: `sha256sum -c` accepts it, and it covers the archive and the installer
    let sums = std::fs::read_to_string(rel.dir.join("SHA256SUMS")).unwrap();
    assert!(
        sums.contains(&format!("  {}\n", rel.archive("version-detect"))),
        "{sums}"
    );
    assert!(sums.contains("  install.sh\n"), "{sums}");
    let check = Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&rel.dir)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check.stdout));
    // the shipped installer is the repository's, plus the signing key's trust line (--trust-key)
    let shipped = std::fs::read_to_string(rel.dir.join("install.sh")).unwrap();
    let key = shipkit_e2e::test_key();
    let repo = std::fs::read_to_string(shipkit_e2e::root().join("install.sh")).unwrap();
    assert_eq!(
        shipped,
        repo.replacen("TRUSTED_KEYS='\n", &format!("TRUSTED_KEYS='\n{}\n", key.trust_line), 1)
    );
}

#[test]
fn sums_signatures_verify_with_openssl_and_minisign_independently() {
    let rel = release(env!("CARGO_TARGET_TMPDIR"));
    let key = shipkit_e2e::test_key();
    let fields: Vec<&str> = key.trust_line.split(' ').collect();
    let tmp = tempfile::tempdir().unwrap();
    // openssl: the raw Ed25519 signature (base64) over SHA256SUMS, with the public key from the trust line
    let pub_pem = tmp.path().join("pub.pem");
    std::fs::write(
        &pub_pem,
        format!(
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA{}\n-----END PUBLIC KEY-----\n",
            fields[1]
        ),
    )
    .unwrap();
    let sig_b64 = std::fs::read_to_string(rel.dir.join("SHA256SUMS.sig")).unwrap();
    let sig_bin = tmp.path().join("sig.bin");
    let decoded = Command::new("openssl")
        .args(["base64", "-d", "-A", "-out", sig_bin.to_str().unwrap()])
        .stdin(std::fs::File::open(rel.dir.join("SHA256SUMS.sig")).unwrap())
        .output()
        .unwrap();
    assert!(decoded.status.success(), "{sig_b64}");
    assert_eq!(std::fs::metadata(&sig_bin).unwrap().len(), 64, "an Ed25519 signature");
    let verify = |data: &Path| {
        Command::new("openssl")
            .args(["pkeyutl", "-verify", "-pubin", "-inkey"])
            .arg(&pub_pem)
            .args(["-rawin", "-in"])
            .arg(data)
            .arg("-sigfile")
            .arg(&sig_bin)
            .output()
            .unwrap()
    };
    let ok = verify(&rel.dir.join("SHA256SUMS"));
    assert!(ok.status.success(), "openssl: {}", text(&ok.stdout));
    let other = tmp.path().join("other");
    std::fs::write(&other, "not the sums\n").unwrap();
    assert!(
        !verify(&other).status.success(),
        "a signature check that cannot fail is no check"
    );
    // minisign: the prehashed signature file with the minisign public key from the trust line
    let ms = Command::new("minisign")
        .args(["-V", "-m"])
        .arg(rel.dir.join("SHA256SUMS"))
        .arg("-x")
        .arg(rel.dir.join("SHA256SUMS.minisig"))
        .args(["-P", fields[2]])
        .output()
        .expect("minisign is installed by scripts/test");
    assert!(
        ms.status.success(),
        "minisign: {}{}",
        text(&ms.stdout),
        text(&ms.stderr)
    );
    let bad = Command::new("minisign")
        .args(["-V", "-m"])
        .arg(&other)
        .arg("-x")
        .arg(rel.dir.join("SHA256SUMS.minisig"))
        .args(["-P", fields[2]])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn a_signing_key_the_installer_does_not_trust_is_refused_before_building() {
    let key = shipkit_e2e::new_test_key("not-in-install-sh");
    let out = dist(&["--tools", "version-detect", "--sign-key", key.pem.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("not in install.sh's TRUSTED_KEYS"),
        "{}",
        text(&out.stderr)
    );
    let missing = dist(&["--tools", "version-detect", "--sign-key", "/nonexistent/key.pem"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing.stderr));
}

#[test]
fn archives_are_reproducible_no_timestamps_or_owners_of_the_build_machine() {
    // Same checkout, same archive: gzip without a timestamp, tar entries owned by 0:0 with the commit's
    // time. (Comparing two builds byte for byte would race with edits to the sources in a shared tree.)
    let rel = release(env!("CARGO_TARGET_TMPDIR"));
    let gz = std::fs::read(rel.dir.join(rel.archive("version-detect"))).unwrap();
    assert_eq!(&gz[..2], b"\x1f\x8b");
    assert_eq!(&gz[4..8], &[0, 0, 0, 0], "gzip header MTIME is zero");
    let tar = Command::new("gzip")
        .arg("-dc")
        .arg(rel.dir.join(rel.archive("version-detect")))
        .output()
        .unwrap()
        .stdout;
    let octal = |b: &[u8]| {
        let s: String = b
            .iter()
            .take_while(|c| **c != 0 && **c != b' ')
            .map(|c| *c as char)
            .collect();
        u64::from_str_radix(s.trim(), 8).unwrap()
    };
    let (mut off, mut mtimes, mut entries) = (0, vec![], 0);
    while off + 512 <= tar.len() && tar[off] != 0 {
        let h = &tar[off..off + 512];
        assert_eq!((octal(&h[108..116]), octal(&h[116..124])), (0, 0), "uid/gid 0");
        mtimes.push(octal(&h[136..148]));
        entries += 1;
        off += 512 + usize::try_from(octal(&h[124..136]).div_ceil(512)).unwrap() * 512;
    }
    assert!(entries >= 3, "directory, binary, README");
    mtimes.dedup();
    assert_eq!(mtimes.len(), 1, "every entry has the same mtime: {mtimes:?}");
    let commit_times = Command::new("git")
        .args(["log", "--format=%ct", "-n", "200"])
        .current_dir(shipkit_e2e::root())
        .output()
        .unwrap();
    // the last commit's time (SOURCE_DATE_EPOCH), or 0 when the source is not a git checkout
    assert!(
        mtimes[0] == 0 || text(&commit_times.stdout).lines().any(|t| t == mtimes[0].to_string()),
        "the mtime is a commit's time, not the build's: {}",
        mtimes[0]
    );
}

#[test]
fn bad_options_fail_before_building() {
    let out = dist(&["--tools", "version-detect,nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("dist: error: unknown tool 'nope' (hint: one of version-detect,"),
        "{}",
        text(&out.stderr)
    );
    let out = dist(&["--frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown option '--frobnicate'"));
    let help = dist(&["--help"]);
    assert!(help.status.success());
    assert!(text(&help.stdout).contains("--target-dir"));
}

#[test]
fn binstall_metadata_of_every_tool_points_at_the_dist_archives() {
    // cargo binstall renders these templates; they must name what scripts/dist writes and install.sh reads:
    // <repo>/releases/download/v<version>/<tool>-<version>-<target>.tar.gz holding <tool>-<version>-<target>/<tool>
    for tool in ["version-detect", "docker-tag-push", "deploy-ecs", "notify"] {
        let manifest =
            std::fs::read_to_string(shipkit_e2e::root().join("crates").join(tool).join("Cargo.toml")).unwrap();
        let section = manifest
            .split("[package.metadata.binstall]")
            .nth(1)
            .unwrap_or_else(|| panic!("{tool}: no [package.metadata.binstall]"));
        let value = |key: &str| {
            section
                .lines()
                .find_map(|l| {
                    l.strip_prefix(key)?
                        .trim_start()
                        .strip_prefix('=')
                        .map(|v| v.trim().trim_matches('"'))
                })
                .unwrap_or_else(|| panic!("{tool}: no {key}"))
                .to_string()
        };
        let render = |t: &str| {
            t.replace("{ repo }", "https://github.com/shipkit/shipkit")
                .replace("{ name }", tool)
                .replace("{ bin }", tool)
                .replace("{ version }", "1.2.3")
                .replace("{ target }", "x86_64-unknown-linux-musl")
                .replace("{ binary-ext }", "")
        };
        assert_eq!(
            render(&value("pkg-url")),
            format!(
                "https://github.com/shipkit/shipkit/releases/download/v1.2.3/{tool}-1.2.3-x86_64-unknown-linux-musl.tar.gz"
            )
        );
        assert_eq!(
            render(&value("bin-dir")),
            format!("{tool}-1.2.3-x86_64-unknown-linux-musl/{tool}")
        );
        assert_eq!(value("pkg-fmt"), "tgz");
    }
}

/// The archive of version-detect unpacked in a temporary directory: (dir, path of `<prefix>/`).
fn unpacked(rel: &shipkit_e2e::Release) -> (tempfile::TempDir, std::path::PathBuf) {
    let x = tempfile::tempdir().unwrap();
    let st = Command::new("tar")
        .arg("-xzf")
        .arg(rel.dir.join(rel.archive("version-detect")))
        .arg("-C")
        .arg(x.path())
        .status()
        .unwrap();
    assert!(st.success());
    let dir = x.path().join(format!("version-detect-{}-{}", rel.version, rel.target));
    (x, dir)
}

#[test]
fn archive_ships_a_cyclonedx_sbom_that_the_reference_validator_accepts() {
    let rel = release(env!("CARGO_TARGET_TMPDIR"));
    let (_x, dir) = unpacked(rel);
    let sbom_path = dir.join("version-detect.cdx.json");
    let sbom: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sbom_path).expect("SBOM in the archive")).unwrap();
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    assert_eq!(sbom["metadata"]["component"]["name"], "version-detect");
    assert_eq!(sbom["metadata"]["component"]["version"], rel.version.as_str());
    let names: Vec<&str> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for linked in ["git2", "libgit2-sys", "clap", "shipkit-core", "serde"] {
        assert!(names.contains(&linked), "{linked} missing from {names:?}");
    }
    for not_linked in ["tempfile", "cc", "clap_derive", "syn"] {
        assert!(
            !names.contains(&not_linked),
            "dev, build or proc-macro dependency {not_linked} listed"
        );
    }
    // crates.io packages carry Cargo.lock's SHA-256
    let git2 = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "git2")
        .unwrap();
    assert_eq!(git2["hashes"][0]["alg"], "SHA-256");
    assert_eq!(git2["hashes"][0]["content"].as_str().unwrap().len(), 64);
    // CycloneDX's own library validates it against the 1.5 JSON schema (strict)
    let check = Command::new(shipkit_testkit::venv_bin("python"))
        .args([
            "-c",
            "import sys\nfrom cyclonedx.validation.json import JsonStrictValidator\nfrom cyclonedx.schema import SchemaVersion\nerr = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())\nprint(err or 'valid')\nsys.exit(1 if err else 0)",
        ])
        .arg(&sbom_path)
        .output()
        .expect("python of the test venv");
    assert!(check.status.success(), "{}{}", text(&check.stdout), text(&check.stderr));
}

#[test]
fn binary_embeds_its_dependency_list_in_cargo_auditable_format() {
    let rel = release(env!("CARGO_TARGET_TMPDIR"));
    let (x, dir) = unpacked(rel);
    let section = x.path().join("dep-v0.zlib");
    let dump = Command::new("objcopy")
        .arg("--dump-section")
        .arg(format!(".dep-v0={}", section.display()))
        .arg(dir.join("version-detect"))
        .arg(x.path().join("copy"))
        .output()
        .expect("objcopy (binutils) runs");
    assert!(
        dump.status.success(),
        "no .dep-v0 section (built without cargo-auditable?): {}",
        text(&dump.stderr)
    );
    // decompressed and read independently of cargo-auditable: zlib + JSON
    let read = Command::new("python3")
        .args([
            "-c",
            "import json,sys,zlib\nd=json.loads(zlib.decompress(open(sys.argv[1],'rb').read()))\nprint('\\n'.join(sorted(p['name'] for p in d['packages'] if p.get('kind','runtime')=='runtime')))",
        ])
        .arg(&section)
        .output()
        .unwrap();
    assert!(read.status.success(), "{}", text(&read.stderr));
    let embedded: Vec<String> = text(&read.stdout).lines().map(str::to_string).collect();
    let sbom: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("version-detect.cdx.json")).unwrap()).unwrap();
    for c in sbom["components"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap().to_string();
        assert!(
            embedded.contains(&name),
            "SBOM lists {name}, the binary does not: {embedded:?}"
        );
    }
}
