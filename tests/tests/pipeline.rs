// The whole product, as a new user meets it: release archives served over HTTP on 127.0.0.1, installed
// with `curl ... | sh`, then the example service's pipeline (examples/run-pipeline) run with the installed
// binaries against the real services scripts/test started: dockerd + docker-registry, moto ECS (patched with
// a deployment model, see tests/fixtures/moto_server.py), and a local webhook sink.
//
// The same pipeline runs a second time with the single `shipkit` binary installed by `install.sh --tools
// shipkit --links` (the four names linked to it, busybox-style), on services of its own that run-pipeline
// starts and stops, so the two runs never share a registry or an ECS world.
//
// To keep CI fast the archives are made by `scripts/dist --prebuilt` from the four debug binaries that
// `cargo test --workspace` has just built (labelled with the musl target install.sh picks here); the static
// musl build itself is covered by the `release` tests and measured by scripts/bench-dist.

use shipkit_e2e::{release_site, root, Release, Server};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const TOOLS: [&str; 4] = ["version-detect", "docker-tag-push", "deploy-ecs", "notify"];
/// The four tools, and the one binary that is all of them.
const BINARIES: [&str; 5] = ["version-detect", "docker-tag-push", "deploy-ecs", "notify", "shipkit"];

fn debug_bins() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target-dir>/tmp
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("debug");
    for t in BINARIES {
        assert!(
            dir.join(t).is_file(),
            "{} is missing: run `cargo test --workspace` (it builds the tools and shipkit) or ./scripts/test",
            dir.join(t).display()
        );
    }
    dir
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The release both tests install from: `scripts/dist --prebuilt` of the debug binaries, all five archives,
/// with the completions and man pages.
fn release() -> &'static Release {
    static RELEASE: OnceLock<(tempfile::TempDir, Release)> = OnceLock::new();
    &RELEASE
        .get_or_init(|| {
            let version = env!("CARGO_PKG_VERSION");
            let target = "x86_64-unknown-linux-musl";
            let out = tempfile::tempdir().unwrap();
            let docs = shipkit_e2e::docs(Path::new(env!("CARGO_TARGET_TMPDIR")));
            let dist = shipkit_e2e::dist(&[
                "--prebuilt",
                debug_bins().to_str().unwrap(),
                "--docs",
                docs.to_str().unwrap(),
                "--target",
                target,
                "--version",
                version,
                "--out",
                out.path().to_str().unwrap(),
                "--sign-key",
                shipkit_e2e::test_key().pem.to_str().unwrap(),
                "--trust-key",
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
            (out, release)
        })
        .1
}

/// `curl <server>/v<version>/install.sh | sh -s -- --version <version> --base-url <server> --to <to> ARGS`.
fn install(server: &Server, to: &Path, args: &str) {
    let install = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "curl -fsSL \"$URL/v$V/install.sh\" | sh -s -- --version \"$V\" --base-url \"$URL\" --to \"$TO\" {args}"
        ))
        .env("URL", &server.url)
        .env("V", &release().version)
        .env("TO", to)
        .env_remove("SHIPKIT_BASE_URL")
        .output()
        .unwrap();
    assert!(
        install.status.success(),
        "install failed: {}{}",
        text(&install.stdout),
        text(&install.stderr)
    );
}

/// examples/run-pipeline with `bin_dir` first on PATH; `own_services`: it starts (and stops) its own
/// dockerd, registries and moto instead of using scripts/test's.
fn run_pipeline(bin_dir: &Path, own_services: bool) -> tempfile::TempDir {
    let results = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(root().join("examples/run-pipeline"));
    cmd.env("SHIPKIT_BIN_DIR", bin_dir)
        .env("SHIPKIT_EXAMPLE_OUT", results.path())
        .env("NO_COLOR", "1");
    if own_services {
        for var in [
            "SHIPKIT_TEST_DOCKER_HOST",
            "SHIPKIT_TEST_REGISTRY",
            "SHIPKIT_TEST_MOTO_URL",
            "SHIPKIT_TEST_STATE",
        ] {
            cmd.env_remove(var);
        }
    }
    let run = cmd.output().unwrap();
    let stdout = text(&run.stdout);
    let stderr = text(&run.stderr);
    assert!(
        run.status.success(),
        "examples/run-pipeline failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("pipeline: ok"), "{stdout}");
    // the webhook URL's secret path never shows in the pipeline's output
    assert!(!stdout.contains("sample-service-secret-path") && !stderr.contains("sample-service-secret-path"));
    results
}

/// What the pipeline proves, read back from the tools' own outputs.
fn check_results(results: &Path) {
    let json = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(results.join(name)).unwrap()).unwrap()
    };
    let staging = json("deploy-staging.json");
    let production = json("deploy-production.json");
    assert_eq!(staging["status"], "deployed", "{staging}");
    assert_eq!(production["status"], "deployed", "{production}");
    let push_env = std::fs::read_to_string(results.join("push.env")).unwrap();
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
    let status = std::fs::read_to_string(results.join("status-production.json")).unwrap();
    assert!(status.contains(&digest), "production does not run {digest}: {status}");
    let hooks = std::fs::read_to_string(results.join("webhook-requests.jsonl")).unwrap();
    assert_eq!(hooks.lines().count(), 2, "started + succeeded: {hooks}");
    assert!(hooks.contains("succeeded"), "{hooks}");
}

fn services() {
    // The services the pipeline needs: a missing one fails the test.
    for var in [
        "SHIPKIT_TEST_DOCKER_HOST",
        "SHIPKIT_TEST_REGISTRY",
        "SHIPKIT_TEST_MOTO_URL",
        "SHIPKIT_TEST_VENV",
    ] {
        shipkit_testkit::service(var);
    }
}

#[test]
fn installed_by_curl_pipe_sh_the_tools_run_the_example_pipeline_end_to_end() {
    services();
    let release = release();
    let site = release_site(release);
    let server = Server::start(site.path());
    let to = tempfile::tempdir().unwrap();
    install(&server, to.path(), "");
    for t in TOOLS {
        assert!(
            server.count(&release.archive(t)) == 1,
            "{t} was not downloaded once: {:?}",
            server.requests()
        );
    }
    assert_eq!(
        server.count(&release.archive("shipkit")),
        0,
        "shipkit is not a default tool"
    );
    let results = run_pipeline(to.path(), false);
    check_results(results.path());
}

#[test]
fn the_single_shipkit_binary_linked_as_the_four_tools_runs_the_same_pipeline() {
    services();
    let release = release();
    let site = release_site(release);
    let server = Server::start(site.path());
    let to = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    install(
        &server,
        to.path(),
        &format!("--tools shipkit --links --docs --docs-dir '{}'", docs.path().display()),
    );
    assert_eq!(server.count(&release.archive("shipkit")), 1, "{:?}", server.requests());
    for t in TOOLS {
        assert_eq!(
            server.count(&release.archive(t)),
            0,
            "{t} downloaded: {:?}",
            server.requests()
        );
        let link = to.path().join(t);
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new("shipkit"),
            "{}",
            link.display()
        );
        assert!(
            docs.path().join("bash-completion/completions").join(t).is_file(),
            "{t} bash completion"
        );
        assert!(
            docs.path().join("zsh/site-functions").join(format!("_{t}")).is_file(),
            "{t} zsh completion"
        );
        assert!(
            docs.path().join("man/man1").join(format!("{t}.1")).is_file(),
            "{t} man page"
        );
    }
    assert!(docs.path().join("man/man1/shipkit-init.1").is_file());
    assert!(docs.path().join("fish/vendor_completions.d/shipkit.fish").is_file());
    let results = run_pipeline(to.path(), true);
    check_results(results.path());
    // A second install is a no-op that keeps the links.
    install(&server, to.path(), "--tools shipkit --links");
    assert_eq!(server.count(&release.archive("shipkit")), 1, "{:?}", server.requests());
    assert!(std::fs::read_link(to.path().join("notify")).is_ok());
}
