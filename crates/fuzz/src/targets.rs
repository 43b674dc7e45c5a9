//! The fuzz targets: every parser that reads something from outside (flags, env, `shipkit.yml`, files in the
//! repository, git tags, registry and webhook responses), each with the properties its result must keep.
//!
//! Common property: no panic; every `shipkit_core::Error` is one line with a documented exit code (and,
//! for bad input, the code the README gives for it).

use crate::check::{error_with_code, one_line_text, text};
use crate::engine::Target;
use shipkit_core::ExitCode;
use std::time::Duration;

mod image;
use image::{
    docker_save_archive, dockerignore, provenance_envelope, referrer_list, registry_manifest, www_authenticate,
};

/// Every target, in the order `scripts/fuzz` runs them.
pub const ALL: &[Target] = &[
    Target {
        name: "version_tag",
        about: "git tag names as versions (version-detect semantics): prefix, tag, branch, commit subject",
        dictionary: &[
            "v",
            "1.2.3",
            "-rc.1",
            "+build.5",
            "billing/",
            "feat!: ",
            "fix(x): ",
            "BREAKING CHANGE:",
            ".",
            "-",
        ],
        max_len: 1024,
        run: version_tag,
    },
    Target {
        name: "image_reference",
        about: "Docker image references, tags and digests (docker-tag-push reference.rs, deploy-ecs --image)",
        dictionary: &[
            "sha256:",
            "@",
            ":",
            "/",
            "localhost",
            "docker.io",
            "127.0.0.1:5000",
            "library/",
            ":latest",
            "a",
            "0123456789abcdef",
        ],
        max_len: 1024,
        run: image_reference,
    },
    Target {
        name: "notify_target",
        about: "notify target URLs (notify target.rs)",
        dictionary: &[
            "https://",
            "http://",
            "slack://",
            "discord://",
            "teams://",
            "slack+https://",
            "webhook+http://",
            "hooks.slack.com/services/",
            "discord.com/api/webhooks/",
            "127.0.0.1",
            "localhost",
            "[::1]",
            "xoxb-",
            "?channel=",
            "@",
            ":8080",
            ".nip.io",
        ],
        max_len: 1024,
        run: notify_target,
    },
    Target {
        name: "duration",
        about: "durations from flags, env and config (shipkit-core time.rs)",
        dictionary: &["h", "m", "s", "ms", "10m", "1m30s", "500ms", "168h", ".", " "],
        max_len: 512,
        run: duration,
    },
    Target {
        name: "retry_after",
        about: "a server's Retry-After header (shipkit-core http.rs)",
        dictionary: &["120", "Wed, 21 Oct 2015 07:28:00 GMT", "inf", "1e20", "-5", "0.5", " "],
        max_len: 512,
        run: retry_after,
    },
    Target {
        name: "contract_inputs",
        about: "--input files (shipkit-core contract Inputs): JSON, env and dotenv forms, typed reads",
        dictionary: &[
            "export ",
            "SHIPKIT_",
            "=",
            "'",
            "'\\''",
            "\"",
            "\\",
            "\n",
            "#",
            "{",
            "}",
            "[",
            "]",
            ",",
            "SERVICES=",
            "STATUS=",
            "[{\"service\":\"web\"}]",
            "null",
            "true",
            "18446744073709551616",
        ],
        max_len: 4096,
        run: contract_inputs,
    },
    Target {
        name: "config",
        about: "shipkit.yml (shipkit-core config): YAML, ${VAR} expansion, every section",
        dictionary: &[
            "service: ",
            "version:\n  ",
            "image:\n  repositories: ",
            "deploy:\n  ",
            "environments:\n  ",
            "notify:\n  targets: ",
            "timeout: ",
            "&a ",
            "*a",
            "- ",
            "[",
            "]",
            "{",
            "}",
            "${HOME}",
            "${X:-d}",
            "$${",
            "\n",
            "  ",
            "!!str ",
            "<<: *a\n",
            "? ",
        ],
        max_len: 16 * 1024,
        run: config,
    },
    Target {
        name: "taskdef_json",
        about: "--task-definition JSON files (deploy-ecs tdfile.rs, through the AWS SDK's deserializer)",
        dictionary: &[
            "{\"taskDefinition\": ",
            "\"containerDefinitions\": [",
            "{\"name\": \"app\", \"image\": \"r/app:1\"}",
            "\"memory\": ",
            "\"cpu\": \"",
            "\"portMappings\": [{\"containerPort\": ",
            "\"environment\": [{\"name\": \"A\", \"value\": \"",
            "${HOME}",
            "[",
            "]",
            "{",
            "}",
            ",",
            "null",
            "true",
            "1e400",
        ],
        max_len: 16 * 1024,
        run: taskdef_json,
    },
    Target {
        name: "registry_manifest",
        about: "manifests and indexes a registry returns (docker-tag-push registry.rs)",
        dictionary: &[
            "\"mediaType\": ",
            "\"application/vnd.oci.image.index.v1+json\"",
            "\"application/vnd.docker.distribution.manifest.v2+json\"",
            "\"manifests\": [",
            "\"layers\": [",
            "\"config\": {",
            "\"digest\": \"sha256:",
            "\"size\": ",
            "\"platform\": {\"os\": \"linux\", \"architecture\": \"amd64\"}",
            "[",
            "{",
            "}",
            "]",
            ",",
        ],
        max_len: 64 * 1024,
        run: registry_manifest,
    },
    Target {
        name: "dockerignore",
        about: ".dockerignore patterns against a path (docker-tag-push dockerignore.rs, the build key)",
        dictionary: &[
            "**/",
            "**",
            "*",
            "?",
            "[a-z]",
            "[^x]",
            "!",
            "\\",
            "/",
            "#",
            "./",
            "node_modules",
            "\n",
        ],
        max_len: 4 * 1024,
        run: dockerignore,
    },
    Target {
        name: "docker_save_archive",
        about: "docker save archives (docker-tag-push archive.rs, --by-digest)",
        dictionary: &[
            "manifest.json",
            "ustar\0",
            "00000000000",
            "0000644",
            "[{\"Config\":\"c.json\",\"Layers\":[\"l/layer.tar\"]}]",
            "{\"os\":\"linux\",\"architecture\":\"arm64\",\"rootfs\":{\"diff_ids\":[\"sha256:",
            "path=",
            "././@LongLink",
        ],
        max_len: 16 * 1024,
        run: docker_save_archive,
    },
    Target {
        name: "provenance_envelope",
        about: "DSSE provenance envelopes from a registry, verified at deploy (shipkit-core provenance verify.rs)",
        dictionary: &[
            "{\"payloadType\":\"application/vnd.in-toto+json\",",
            "\"payload\":\"",
            "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEifQ==",
            "\"signatures\":[{\"keyid\":\"\",\"sig\":\"",
            "AAAA",
            "=",
            "\"}]}",
            "[",
            "{",
            "}",
        ],
        max_len: 64 * 1024,
        run: provenance_envelope,
    },
    Target {
        name: "referrer_list",
        about: "referrers lists and referrer manifests a registry returns (shipkit-core registry/referrers.rs)",
        dictionary: &[
            "{\"schemaVersion\":2,\"manifests\":[",
            "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:",
            "\"artifactType\":\"application/vnd.dsse.envelope.v1+json\"",
            "\"subject\":{\"digest\":\"sha256:",
            "\"size\":",
            "0123456789abcdef",
            "}",
            "]",
            ",",
        ],
        max_len: 64 * 1024,
        run: referrer_list,
    },
    Target {
        name: "www_authenticate",
        about: "WWW-Authenticate challenges (docker-tag-push auth.rs)",
        dictionary: &[
            "Bearer ",
            "Basic ",
            "realm=",
            "service=",
            "scope=",
            "\"",
            ",",
            "\\",
            "repository:a/b:pull,push",
        ],
        max_len: 1024,
        run: www_authenticate,
    },
    Target {
        name: "url_origin",
        about: "URL origins and loopback hosts (shipkit-core net.rs): who gets credentials, where plain http may go",
        dictionary: &[
            "http://",
            "https://",
            "127.0.0.1",
            ":4000",
            ":40001",
            "[::1]",
            "localhost",
            ".nip.io",
            ".attacker.example",
            "@",
            ":",
            "/",
            "?",
            "#",
            "%2e",
        ],
        max_len: 1024,
        run: url_origin,
    },
    Target {
        name: "deploy_flags",
        about: "deploy-ecs --env NAME=value and --command strings (deploy-ecs taskdef.rs)",
        dictionary: &["=", "\"", "'", "\\", " ", "DB_PASSWORD=", "A=b", "--flag"],
        max_len: 1024,
        run: deploy_flags,
    },
];

/// Look a target up by name.
pub fn by_name(name: &str) -> Option<&'static Target> {
    ALL.iter().find(|t| t.name == name)
}

fn version_tag(data: &[u8]) {
    use version_detect::semantics as sem;
    let s = text(data);
    // Two lines: a tag prefix and a tag name; one line: a tag name without prefix.
    let (prefix, name) = s.split_once('\n').unwrap_or(("", &s));
    if let Err(e) = sem::validate_prefix(prefix) {
        one_line_text(&e);
    }
    if let Ok(v) = sem::parse_tag(name, prefix) {
        // Issue 10 item 11: a version's Docker tag is always valid (at most 128 characters).
        let tag = sem::docker_version(&v);
        if let Err(e) = docker_tag_push::reference::validate_tag(&tag) {
            panic!("docker_version({v}) = {tag:?} is not a docker tag: {}", e.one_line());
        }
        let all = [
            ("v1.0.0".to_string(), semver::Version::new(1, 0, 0)),
            (name.to_string(), v.clone()),
        ];
        let _ = sem::floating(&v, &all);
        let _ = sem::dev_version(Some(&v), 5, "1a2b3c4", true);
        for bump in [sem::Bump::Patch, sem::Bump::Minor, sem::Bump::Major] {
            let _ = sem::bump_version(Some(&v), sem::conventional_bump(Some(&v), bump));
        }
    }
    if let Some((tag, _)) = sem::branch_docker_tag(name) {
        if let Err(e) = docker_tag_push::reference::validate_tag(&tag) {
            panic!(
                "branch_docker_tag({name:?}) = {tag:?} is not a docker tag: {}",
                e.one_line()
            );
        }
    }
    if let Some(tag) = sem::sanitize_branch(name) {
        // A branch name is documented to become a valid Docker tag.
        if let Err(e) = docker_tag_push::reference::validate_tag(&tag) {
            panic!(
                "sanitize_branch({name:?}) = {tag:?} is not a docker tag: {}",
                e.one_line()
            );
        }
    }
    let _ = sem::classify_commit(&s);
    let _ = sem::Bump::parse(name);
    if let Err(e) = sem::parse_kinds(&s.split(',').map(String::from).collect::<Vec<_>>()) {
        one_line_text(&e);
    }
}

fn image_reference(data: &[u8]) {
    use docker_tag_push::reference::{validate_digest, validate_tag, ImageRef, Reference, Repo};
    let s = text(data);
    let usage = [ExitCode::Usage];
    for r in [
        Repo::parse(&s).map(|_| ()),
        ImageRef::parse(&s, None).map(|_| ()),
        Reference::parse(&s).map(|_| ()),
        validate_tag(&s),
        validate_digest(&s),
        deploy_ecs::taskdef::validate_image(&s),
    ] {
        if let Err(e) = r {
            error_with_code(&e, &usage);
        }
    }
    if let Ok(r) = ImageRef::parse(&s, Some("latest")) {
        // What parsed prints back and parses to the same reference.
        let again = ImageRef::parse(&r.to_string(), None)
            .unwrap_or_else(|e| panic!("{r} (from {s:?}) does not parse again: {}", e.one_line()));
        assert_eq!(again.repo, r.repo, "round trip of {s:?}");
        let _ = r.repo.api_host();
    }
    let _ = docker_tag_push::reference::is_plain_http(&s, &["127.0.0.1:5000".to_string()]);
    let _ = deploy_ecs::taskdef::repository(&s);
    let _ = deploy_ecs::taskdef::image_tag(&s);
    let _ = deploy_ecs::taskdef::version_from_image(&s);
    let _ = deploy_ecs::taskdef::is_downgrade(&s, "registry.example.test/app:1.2.3");
    let _ = deploy_ecs::taskdef::is_downgrade("registry.example.test/app:1.2.3", &s);
    let _ = deploy_ecs::taskdef::tag_value(&s);
}

fn notify_target(data: &[u8]) {
    let s = text(data);
    for token in [None, Some("xoxb-1-2-fuzz")] {
        match notify::target::parse(&s, token) {
            Ok(t) => {
                one_line_text(&t.label);
                let _ = t.provider();
            }
            Err(e) => error_with_code(&e, &[ExitCode::Usage, ExitCode::Auth]),
        }
    }
    let _ = notify::target::is_loopback(&s);
}

fn duration(data: &[u8]) {
    use shipkit_core::time;
    let s = text(data);
    match time::parse_duration(&s) {
        Ok(d) => {
            assert!(d <= time::MAX_DURATION, "{s:?} gave {d:?}, over the limit");
            let _ = time::deadline_after(d);
            let _ = time::human_duration(d);
            let _ = notify::message::human_duration(d.as_secs());
        }
        Err(e) => error_with_code(&e, &[ExitCode::Usage]),
    }
    if let Ok(d) = time::parse_duration_max(&s, Duration::from_mins(1)) {
        assert!(d <= Duration::from_mins(1), "{s:?} gave {d:?} over a 60s limit");
    }
    if let Ok(n) = s.trim().parse::<f64>() {
        let _ = time::secs_f64_bounded(n, time::MAX_DURATION);
    }
    let _ = notify::message::parse_duration_secs(&s);
    let _ = shipkit_core::cli::parse_bool(&s);
}

fn retry_after(data: &[u8]) {
    let s = text(data);
    let response = shipkit_core::http::Response {
        status: 503,
        headers: vec![("retry-after".to_string(), s.clone())],
        body: vec![],
    };
    let _ = response.retry_after();
    retry_after_bounded(&s);
    assert!(response.is_transient());
}

fn contract_inputs(data: &[u8]) {
    use shipkit_core::contract::{Contract, DeployOutputs, Inputs, ServiceOutcome, VersionOutputs};
    let s = text(data);
    let mut inputs = Inputs::default();
    if let Err(e) = inputs.merge_text(&s, "fuzz.env") {
        return error_with_code(&e, &[ExitCode::Usage]);
    }
    // Typed reads: a value of the wrong type is a one-line usage error, never a panic.
    if let Err(e) = inputs.value::<Vec<ServiceOutcome>>("services") {
        error_with_code(&e, &[ExitCode::Usage]);
    }
    if let Err(e) = DeployOutputs::from_inputs(&inputs) {
        error_with_code(&e, &[ExitCode::Usage]);
    }
    if let Err(e) = VersionOutputs::from_inputs(&inputs) {
        error_with_code(&e, &[ExitCode::Usage]);
    }
    // notify's reading of services: always objects, each with the name it was given.
    for svc in notify::settings::services(&inputs) {
        let _ = svc.service.len();
    }
    // What parsed writes back and reads back the same (the env form round-trips through the parser).
    if let Ok(Some(services)) = inputs.value::<Vec<ServiceOutcome>>("services") {
        let written = DeployOutputs {
            services: services.clone(),
            ..DeployOutputs::default()
        };
        let env = written
            .to_outputs()
            .expect("a struct serializes")
            .render_env("SHIPKIT_");
        let mut back = Inputs::default();
        back.merge_text(&env, "round trip")
            .expect("the env form written reads back");
        let again: Vec<ServiceOutcome> = back.value("services").expect("typed").unwrap_or_default();
        assert_eq!(again, services, "services changed through the env form:\n{env}");
    }
}

fn config(data: &[u8]) {
    let s = text(data);
    match shipkit_core::config::parse(&s, "shipkit.yml") {
        Ok(_) => {}
        Err(e) => error_with_code(&e, &[ExitCode::Config]),
    }
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
}

fn taskdef_json(data: &[u8]) {
    let s = text(data);
    let result = RUNTIME.with(|rt| rt.block_on(deploy_ecs::tdfile::parse(&s, "td.json")));
    if let Err(e) = result {
        error_with_code(&e, &[ExitCode::Usage]);
    }
}

fn deploy_flags(data: &[u8]) {
    let s = text(data);
    // Secret-looking names are registered for masking process-wide: keep the fuzzer from filling the
    // registry (which would slow every other target's error masking).
    let items: Vec<String> = s
        .split('\n')
        .filter(|i| !shipkit_core::mask::is_secret_name(i.split('=').next().unwrap_or("")))
        .map(String::from)
        .collect();
    if let Err(e) = deploy_ecs::taskdef::parse_env(&items) {
        error_with_code(&e, &[ExitCode::Usage]);
    }
    if let Err(e) = deploy_ecs::taskdef::split_command(&s) {
        error_with_code(&e, &[ExitCode::Usage]);
    }
}

fn url_origin(data: &[u8]) {
    use shipkit_core::net::{is_loopback_host, same_origin, Origin};
    let s = text(data);
    let (a, b) = s.split_once('\n').unwrap_or((&s, ""));
    let _ = same_origin(a, b);
    if is_loopback_host(a) {
        let lower = a.trim_end_matches('.').to_ascii_lowercase();
        assert!(
            !lower.contains("nip.io") && !lower.contains("example") && !lower.contains("localhost."),
            "{a:?} taken for a loopback address"
        );
    }
    let Some(o) = Origin::parse(a) else { return };
    assert!(same_origin(a, a), "{a:?} is not its own origin");
    assert_eq!(
        Origin::parse(&o.to_url()).as_ref(),
        Some(&o),
        "{a:?}: origin does not round-trip"
    );
    // The string-prefix traps of issue 10: a longer port, a longer host.
    let longer_port = format!("{}1/x", o.to_url());
    if Origin::parse(&longer_port).is_some() {
        assert!(
            !same_origin(a, &longer_port),
            "{a:?} and {longer_port:?} share an origin"
        );
    }
    let longer_host = format!("{}://{}.attacker.example:{}/x", o.scheme, o.host, o.port);
    assert!(
        !same_origin(a, &longer_host),
        "{a:?} and {longer_host:?} share an origin"
    );
    let _ = o.is_loopback();
}

fn retry_after_bounded(s: &str) {
    use std::time::{SystemTime, UNIX_EPOCH};
    let max = shipkit_core::retry_after::MAX_RETRY_AFTER;
    for now in [
        SystemTime::now(),
        UNIX_EPOCH,
        UNIX_EPOCH + Duration::from_secs(253_402_300_799),
    ] {
        if let Some(d) = shipkit_core::retry_after::parse(s, now) {
            assert!(d <= max, "Retry-After {s:?} gave {d:?}, over {max:?}");
        }
    }
}
