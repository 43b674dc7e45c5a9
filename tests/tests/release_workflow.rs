//! shipkit's own release workflow (`.github/workflows/release.yml`): valid for GitHub's schema, clean for
//! zizmor's pedantic audit, signing with the secret key and attesting every archive. It runs only on
//! GitHub; here it is checked by the same validators as the CI templates.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use shipkit_testkit::venv_bin;
use std::process::Command;

fn workflow() -> std::path::PathBuf {
    shipkit_e2e::root().join(".github/workflows/release.yml")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn release_workflow_is_valid_and_zizmor_finds_nothing() {
    let schema = Command::new(venv_bin("check-jsonschema"))
        .args(["--builtin-schema", "vendor.github-workflows"])
        .arg(workflow())
        .output()
        .expect("check-jsonschema runs");
    assert!(
        schema.status.success(),
        "{}{}",
        text(&schema.stdout),
        text(&schema.stderr)
    );
    let audit = Command::new(venv_bin("zizmor"))
        .args(["--offline", "--persona", "pedantic", "--no-progress"])
        .arg(workflow())
        .env("NO_COLOR", "1")
        .output()
        .expect("zizmor runs");
    assert!(
        audit.status.success(),
        "zizmor: {}{}",
        text(&audit.stdout),
        text(&audit.stderr)
    );
}

#[test]
fn release_workflow_signs_with_the_secret_and_attests_every_archive() {
    let wf = std::fs::read_to_string(workflow()).unwrap();
    // the key comes from a secret into the variable scripts/dist reads, never from a file in the repository
    assert!(wf.contains("SHIPKIT_RELEASE_SIGNING_KEY: ${{ secrets.SHIPKIT_RELEASE_SIGNING_KEY }}"));
    assert!(wf.contains("scripts/dist"));
    assert!(wf.contains("subject-path: dist/*.tar.gz"));
    // every `uses:` pinned to a full commit
    for line in wf
        .lines()
        .filter(|l| l.trim_start().starts_with("- uses:") || l.contains(" uses: "))
    {
        let pin = line
            .split('@')
            .nth(1)
            .unwrap_or("")
            .split_whitespace()
            .next()
            .unwrap_or("");
        assert!(
            pin.len() == 40 && pin.chars().all(|c| c.is_ascii_hexdigit()),
            "not pinned to a commit: {line}"
        );
    }
}
