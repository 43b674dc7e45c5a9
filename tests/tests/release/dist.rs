// scripts/dist for real: archive names and contents, static musl binaries, SHA256SUMS, reproducible output.

use shipkit_e2e::{dist, elf_has_interpreter, release};
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
    assert_eq!(
        std::fs::read(rel.dir.join("install.sh")).unwrap(),
        std::fs::read(shipkit_e2e::root().join("install.sh")).unwrap()
    );
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
        off += 512 + octal(&h[124..136]).div_ceil(512) as usize * 512;
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
