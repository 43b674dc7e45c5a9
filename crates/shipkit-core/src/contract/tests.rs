//! Every contract struct written in each form and read back equal; hostile text included.

use super::*;
use crate::output::Format;
use std::collections::BTreeMap;

const HOSTILE: &str = "it's \"quoted\" $HOME `id` \\ back\nsecond line, with a comma\ttab ünï";

fn version() -> VersionOutputs {
    VersionOutputs {
        version: "1.2.4-dev.5+g1a2b3c4".into(),
        major: 1,
        minor: 2,
        patch: 4,
        prerelease: Some("dev.5".into()),
        build: Some("g1a2b3c4".into()),
        is_release: false,
        distance: 5,
        sha: "1a2b3c4d5e6f".into(),
        short_sha: "1a2b3c4".into(),
        branch: Some("feature/x#12".into()),
        tag: None,
        dirty: true,
        shallow: false,
        pr_number: Some(12),
        docker_tags: vec!["1.2.4-dev.5".into(), "sha-1a2b3c4".into()],
        labels: BTreeMap::from([
            ("org.opencontainers.image.version".into(), "1.2.4".into()),
            ("org.opencontainers.image.description".into(), HOSTILE.into()),
        ]),
        ..VersionOutputs::default()
    }
}

fn deploy() -> DeployOutputs {
    let service = |name: &str, status: &str| ServiceOutcome {
        service: name.into(),
        status: status.into(),
        task_definition_arn: format!("arn:aws:ecs:eu-west-1:1:task-definition/{name}:7"),
        previous_task_definition_arn: format!("arn:aws:ecs:eu-west-1:1:task-definition/{name}:6"),
        image: Some("reg/app@sha256:abc".into()),
        version: None,
        message: Some(HOSTILE.into()),
        pinned: None,
        engine: Engine {
            stage: Some("BAKE_TIME".into()),
            ..Engine::default()
        },
    };
    DeployOutputs {
        status: "partial".into(),
        cluster: "staging".into(),
        image: Some("reg/app@sha256:abc".into()),
        version: Some("1.2.3".into()),
        task_definition_arn: None,
        previous_task_definition_arn: None,
        services: vec![service("web", "updated"), service("worker", "rolled_back")],
        ..DeployOutputs::default()
    }
}

fn notify() -> NotifyOutputs {
    NotifyOutputs {
        message_id: Some("1700000000.000100".into()),
        channel: Some("C0123".into()),
        started_at: Some(1_700_000_000),
        delivered: vec!["slack (hooks.slack.com, ***)".into(), "webhook".into()],
        failed: vec![],
    }
}

fn image() -> ImageOutputs {
    ImageOutputs {
        image: "127.0.0.1:5000/app@sha256:abc".into(),
        digest: "sha256:abc".into(),
        refs: vec!["127.0.0.1:5000/app@sha256:abc".into()],
        tags: vec!["1.2.3".into(), "latest".into()],
        pushed: vec!["127.0.0.1:5000/app:1.2.3".into()],
        skipped: vec!["127.0.0.1:5000/app:latest".into()],
        failed: None,
        kept: None,
        repointed: Some(vec!["127.0.0.1:5000/app:1".into()]),
        built: Some(true),
        build_key: Some("sha256-0f1e2d".into()),
        provenance_digest: Some("sha256:0a1b2c".into()),
        platform: None,
        platforms: Some(vec!["linux/amd64".into(), "linux/arm64/v8".into()]),
        manifests: Some(vec!["sha256:a1".into(), "sha256:b2".into()]),
        media_type: Some("application/vnd.oci.image.index.v1+json".into()),
    }
}

/// Write `value` in `format`'s text and read it back through [`Inputs`].
fn round_trip<T: Contract + std::fmt::Debug + PartialEq>(value: &T, format: Format) -> T {
    let outputs = value.to_outputs().unwrap();
    let text = match format {
        Format::Json => serde_json::to_string_pretty(&outputs.to_json()).unwrap(),
        Format::Env => outputs.render_env("SHIPKIT_"),
        Format::Circleci => outputs.render_circleci("SHIPKIT_"),
        Format::Dotenv => outputs.render_dotenv(""),
        other => unreachable!("{other:?} is not read back"),
    };
    let mut inputs = Inputs::default();
    inputs
        .merge_text(&text, "test")
        .unwrap_or_else(|e| panic!("{e:?} reading\n{text}"));
    T::from_inputs(&inputs).unwrap_or_else(|e| panic!("{e:?} reading\n{text}"))
}

#[test]
fn every_struct_survives_json_env_and_circleci() {
    for format in [Format::Json, Format::Env, Format::Circleci] {
        assert_eq!(round_trip(&version(), format), version(), "{format:?}");
        assert_eq!(round_trip(&deploy(), format), deploy(), "{format:?}");
        assert_eq!(round_trip(&notify(), format), notify(), "{format:?}");
        assert_eq!(round_trip(&image(), format), image(), "{format:?}");
    }
}

#[test]
fn dotenv_keeps_everything_but_newlines() {
    let mut v = version();
    v.labels.insert(
        "org.opencontainers.image.description".into(),
        "one line, 'quoted' $x".into(),
    );
    assert_eq!(round_trip(&v, Format::Dotenv), v);
    assert_eq!(round_trip(&notify(), Format::Dotenv), notify());
}

#[test]
fn nested_values_are_objects_in_json_and_compact_json_in_env() {
    let outputs = deploy().to_outputs().unwrap();
    let json = outputs.to_json();
    assert!(json["services"][0].is_object(), "{json}");
    assert_eq!(json["services"][0]["service"], "web");
    let env = outputs.render_env("");
    let line = env.lines().find(|l| l.starts_with("export SERVICES=")).unwrap();
    assert!(line.starts_with("export SERVICES='[{\""), "{line}");
    assert!(line.contains(r#""service":"web""#), "{line}");
    // Written in declaration order, not sorted.
    let keys: Vec<&str> = outputs.entries().iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["status", "cluster", "image", "version", "services"]);
}

#[test]
fn a_list_item_with_a_comma_travels_as_json() {
    let mut n = notify();
    n.failed = vec!["a, b".into(), String::new()];
    let env = n.to_outputs().unwrap().render_env("");
    assert!(env.contains(r#"FAILED='["a, b",""]'"#), "{env}");
    assert_eq!(round_trip(&n, Format::Env), n);
    let mut inputs = Inputs::default();
    inputs.merge_text(&env, "x").unwrap();
    assert_eq!(inputs.list("failed"), ["a, b", ""]);
}

#[test]
fn typed_values_from_mixed_inputs() {
    let mut inputs = Inputs::default();
    inputs
        .merge_text(&version().to_outputs().unwrap().render_env("SHIPKIT_"), "v.env")
        .unwrap();
    let deploy_json = serde_json::to_string(&deploy()).unwrap();
    inputs.merge_text(&deploy_json, "deploy.json").unwrap();
    let services: Vec<ServiceOutcome> = inputs.value("services").unwrap().unwrap();
    assert_eq!(services[1].status, "rolled_back");
    assert_eq!(inputs.value::<u64>("pr_number").unwrap(), Some(12));
    assert_eq!(inputs.value::<u64>("absent").unwrap(), None);
    // `version` was replaced by the later deploy.json.
    assert_eq!(inputs.text("version").as_deref(), Some("1.2.3"));
    let err = inputs.value::<u64>("branch").unwrap_err();
    assert_eq!(err.code, ExitCode::Usage);
    assert!(err.message.contains("input `branch`"), "{}", err.message);
}

#[test]
fn missing_required_field_is_a_usage_error() {
    let mut inputs = Inputs::default();
    inputs.merge_text("SHIPKIT_VERSION=1.2.3\n", "partial.env").unwrap();
    let err = VersionOutputs::from_inputs(&inputs).unwrap_err();
    assert_eq!(err.code, ExitCode::Usage);
    assert!(err.message.contains("missing field"), "{}", err.message);
}

#[test]
fn hostile_env_texts_are_errors_not_panics() {
    for text in [
        "KEY='unterminated\n",
        "KEY=\"unterminated",
        "KEY='a' trailing\n",
        "=value\n",
        "BAD KEY=x\n",
        "just words\n",
        "KEY=\"a\\",
    ] {
        let mut inputs = Inputs::default();
        let err = inputs.merge_text(text, "evil.env").unwrap_err();
        assert_eq!(err.code, ExitCode::Usage, "{text:?}");
        assert!(err.message.starts_with("evil.env:"), "{text:?}: {}", err.message);
    }
    let mut inputs = Inputs::default();
    inputs
        .merge_text(
            "A='x'\\''y'\nexport B=\"q\\\"z\\$\"\n# comment\nC=plain value\nD=\n",
            "ok.env",
        )
        .unwrap();
    assert_eq!(inputs.text("a").as_deref(), Some("x'y"));
    assert_eq!(inputs.text("b").as_deref(), Some("q\"z$"));
    assert_eq!(inputs.text("c").as_deref(), Some("plain value"));
    assert_eq!(inputs.text("d"), None);
}

#[test]
fn oversized_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(inputs::MAX_INPUT_BYTES + 1).unwrap();
    let err = Inputs::read(&[&big]).unwrap_err();
    assert_eq!(err.code, ExitCode::Usage);
    assert!(err.message.contains("larger than 16 MiB"), "{}", err.message);
}
