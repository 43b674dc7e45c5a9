// The whole product, as a new user meets it: release archives served over HTTP on 127.0.0.1, installed
// with `curl ... | sh`, then the example service's pipeline (examples/run-pipeline) run with the installed
// binaries against the real services scripts/test started: dockerd + docker-registry, moto ECS (patched with
// a deployment model, see tests/fixtures/moto_server.py), and a local webhook sink.
//
// To keep CI fast the archives are made by `scripts/dist --prebuilt` from the four debug binaries that
// `cargo test --workspace` has just built (labelled with the musl target install.sh picks here); the static
// musl build itself is covered by the `release` tests and measured by scripts/bench-dist.

use shipkit_e2e::{release_site, root, Release, Server};
use std::path::{Path, PathBuf};
use std::process::Command;

const TOOLS: [&str; 4] = ["version-detect", "docker-tag-push", "deploy-ecs", "notify"];

fn debug_bins() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target-dir>/tmp
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("debug");
    for t in TOOLS {
        assert!(
            dir.join(t).is_file(),
            "{} is missing: run `cargo test --workspace` (it builds the four tools) or ./scripts/test",
            dir.join(t).display()
        );
    }
    dir
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn installed_by_curl_pipe_sh_the_tools_run_the_example_pipeline_end_to_end() {
    // The services the pipeline needs: a missing one fails this test.
    for var in [
        "SHIPKIT_TEST_DOCKER_HOST",
        "SHIPKIT_TEST_REGISTRY",
        "SHIPKIT_TEST_MOTO_URL",
        "SHIPKIT_TEST_VENV",
    ] {
        shipkit_testkit::service(var);
    }
    let version = env!("CARGO_PKG_VERSION");
    let target = "x86_64-unknown-linux-musl";
    let out = tempfile::tempdir().unwrap();
    let dist = shipkit_e2e::dist(&[
        "--prebuilt",
        debug_bins().to_str().unwrap(),
        "--target",
        target,
        "--version",
        version,
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(
        dist.status.success(),
        "scripts/dist --prebuilt failed: {}",
        text(&dist.stderr)
    );
    let release = Release {
        dir: out.path().to_path_buf(),
        version: version.into(),
        target: target.into(),
    };
    let site = release_site(&release);
    let server = Server::start(site.path());

    // install, as the README says
    let to = tempfile::tempdir().unwrap();
    let install = Command::new("sh")
        .arg("-c")
        .arg("curl -fsSL \"$URL/v$V/install.sh\" | sh -s -- --version \"$V\" --base-url \"$URL\" --to \"$TO\"")
        .env("URL", &server.url)
        .env("V", version)
        .env("TO", to.path())
        .env_remove("SHIPKIT_BASE_URL")
        .output()
        .unwrap();
    assert!(
        install.status.success(),
        "install failed: {}{}",
        text(&install.stdout),
        text(&install.stderr)
    );
    for t in TOOLS {
        assert!(
            server.count(&release.archive(t)) == 1,
            "{t} was not downloaded once: {:?}",
            server.requests()
        );
    }
    let bin_dir = ["bin", ""]
        .iter()
        .map(|d| to.path().join(d))
        .find(|d| d.join("version-detect").is_file())
        .expect("install.sh put version-detect in --to or --to/bin");

    // the pipeline, with the installed binaries first on PATH
    let results = tempfile::tempdir().unwrap();
    let run = Command::new(root().join("examples/run-pipeline"))
        .env("SHIPKIT_BIN_DIR", &bin_dir)
        .env("SHIPKIT_EXAMPLE_OUT", results.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stdout = text(&run.stdout);
    let stderr = text(&run.stderr);
    assert!(
        run.status.success(),
        "examples/run-pipeline failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("pipeline: ok"), "{stdout}");

    // what it proves, read back from the tools' own outputs
    let json = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(results.path().join(name)).unwrap()).unwrap()
    };
    let staging = json("deploy-staging.json");
    let production = json("deploy-production.json");
    assert_eq!(staging["status"], "deployed", "{staging}");
    assert_eq!(production["status"], "deployed", "{production}");
    let push_env = std::fs::read_to_string(results.path().join("push.env")).unwrap();
    let digest = push_env
        .lines()
        .find_map(|l| l.trim_start_matches("export ").strip_prefix("SHIPKIT_DIGEST="))
        .expect("docker-tag-push wrote SHIPKIT_DIGEST")
        .to_string();
    assert!(digest.starts_with("sha256:"), "{digest}");
    assert!(
        production["image"].as_str().unwrap().ends_with(&format!("@{digest}")),
        "{production}"
    );
    let status = std::fs::read_to_string(results.path().join("status-production.json")).unwrap();
    assert!(status.contains(&digest), "production does not run {digest}: {status}");
    let hooks = std::fs::read_to_string(results.path().join("webhook-requests.jsonl")).unwrap();
    assert_eq!(hooks.lines().count(), 2, "started + succeeded: {hooks}");
    assert!(hooks.contains("succeeded"), "{hooks}");
    // the webhook URL's secret path never shows in the pipeline's output
    assert!(!stdout.contains("sample-service-secret-path") && !stderr.contains("sample-service-secret-path"));
}
