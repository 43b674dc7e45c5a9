//! Editing a task definition for a deploy: which containers get the new image, the `--env` changes,
//! the diff shown by `--dry-run`, and versions read from image tags.

use aws_sdk_ecs::types::{KeyValuePair, TaskDefinition};
use shipkit_core::{Error, Result};

/// `reg:5000/team/app:1.2@sha256:..` → `reg:5000/team/app`.
pub fn repository(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last_slash = no_digest.rfind('/').map_or(0, |i| i + 1);
    match no_digest[last_slash..].rfind(':') {
        Some(i) => &no_digest[..last_slash + i],
        None => no_digest,
    }
}

/// The tag of an image reference, if any (`app:1.2.3@sha256:..` → `1.2.3`).
pub fn image_tag(image: &str) -> Option<&str> {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last_slash = no_digest.rfind('/').map_or(0, |i| i + 1);
    no_digest[last_slash..]
        .rfind(':')
        .map(|i| &no_digest[last_slash + i + 1..])
}

/// A semver version from an image tag (`1.2.3`, `v1.2.3`).
pub fn version_from_image(image: &str) -> Option<String> {
    let tag = image_tag(image)?;
    let t = tag.strip_prefix('v').unwrap_or(tag);
    semver::Version::parse(t).ok().map(|v| v.to_string())
}

/// Is `new` older than `current` by semver (both must parse)?
pub fn is_downgrade(current: &str, new: &str) -> bool {
    let p = |s: &str| semver::Version::parse(s.strip_prefix('v').unwrap_or(s)).ok();
    match (p(current), p(new)) {
        (Some(c), Some(n)) => n < c,
        _ => false,
    }
}

/// Check an image reference before anything is changed, with the grammar registries use (shipkit-core's
/// `registry::reference::parse_image`, the one copy): `[REGISTRY[:PORT]/]PATH[:TAG][@sha256:<64 hex>]`.
pub fn validate_image(image: &str) -> Result<()> {
    shipkit_core::registry::reference::parse_image(image)
        .map(|_| ())
        .map_err(|e| {
            let shown: String = image.chars().take(80).collect();
            Error::usage(format!("invalid image reference `{shown}`: {}", e.message))
                .hint("pass REPO@sha256:<64 hex digits> (docker-tag-push's `image` output) or REPO:TAG")
        })
}

/// Parse `--env K=V`.
pub fn parse_env(items: &[String]) -> Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                // `--env API_TOKEN=...`: the value is masked in everything printed (dry-run diff, errors).
                if shipkit_core::mask::is_secret_name(k.trim()) && !v.is_empty() {
                    shipkit_core::mask::register(v);
                }
                Ok((k.trim().to_string(), v.to_string()))
            }
            _ => Err(Error::usage(format!("invalid --env `{s}`")).hint("write --env NAME=value")),
        })
        .collect()
}

/// Set `image` on the chosen containers (by name, or every container from the same repository) and apply
/// `env`. Returns the diff lines (empty: nothing to change). Errors when the container is not there.
pub fn apply(
    td: &mut TaskDefinition,
    image: &str,
    container: Option<&str>,
    env: &[(String, String)],
) -> Result<Vec<String>> {
    let td_name = format!("{}:{}", td.family().unwrap_or("?"), td.revision());
    let names: Vec<String> = td
        .container_definitions()
        .iter()
        .filter_map(|c| c.name.clone())
        .collect();
    let repo = repository(image);
    let defs = td.container_definitions.get_or_insert_with(Vec::new);
    let targets: Vec<usize> = if let Some(name) = container {
        let i = defs
            .iter()
            .position(|c| c.name.as_deref() == Some(name))
            .ok_or_else(|| {
                Error::usage(format!(
                    "container `{name}` is not in task definition {td_name} (it has: {})",
                    names.join(", ")
                ))
                .hint("pass --container with one of those names")
            })?;
        vec![i]
    } else {
        let v: Vec<usize> = defs
            .iter()
            .enumerate()
            .filter(|(_, c)| c.image.as_deref().map(repository) == Some(repo))
            .map(|(i, _)| i)
            .collect();
        if v.is_empty() {
            return Err(Error::usage(format!(
                "no container of task definition {td_name} runs an image from {repo} (containers: {})",
                names.join(", ")
            ))
            .hint("pass --container NAME to choose the container that gets the new image"));
        }
        v
    };
    let mut diff = Vec::new();
    for i in targets {
        let c = &mut defs[i];
        let name = c.name.clone().unwrap_or_default();
        let old = c.image.clone().unwrap_or_default();
        if old != image {
            diff.push(format!("container {name}: image {old} -> {image}"));
            c.image = Some(image.to_string());
        }
        let vars = c.environment.get_or_insert_with(Vec::new);
        for (k, v) in env {
            match vars.iter_mut().find(|kv| kv.name.as_deref() == Some(k.as_str())) {
                Some(kv) if kv.value.as_deref() == Some(v.as_str()) => {}
                Some(kv) => {
                    diff.push(format!(
                        "container {name}: env {k}: {} -> {}",
                        shown(k, kv.value.as_deref().unwrap_or("")),
                        shown(k, v)
                    ));
                    kv.value = Some(v.clone());
                }
                None => {
                    diff.push(format!("container {name}: env {k}: (unset) -> {}", shown(k, v)));
                    vars.push(KeyValuePair::builder().name(k).value(v).build());
                }
            }
        }
    }
    Ok(diff)
}

/// A value as the diff shows it: `***` for a secret-looking name, whatever its length (the mask registry
/// skips very short values, which would hide too much elsewhere).
fn shown(name: &str, value: &str) -> String {
    if shipkit_core::mask::is_secret_name(name) && !value.is_empty() {
        "***".into()
    } else {
        value.to_string()
    }
}

/// The image of the containers a deploy would touch (for status): the first container's image.
pub fn main_image(td: &TaskDefinition, container: Option<&str>) -> String {
    let defs = td.container_definitions();
    container
        .and_then(|n| defs.iter().find(|c| c.name.as_deref() == Some(n)))
        .or_else(|| defs.iter().find(|c| c.essential != Some(false)))
        .or(defs.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

/// A tag value ECS accepts: letters, digits, spaces and `_ . : / = + - @`, at most 256 characters.
pub fn tag_value(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_alphanumeric() || " _.:/=+-@".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect()
}

/// Split a command like a shell would, for `--command` (quotes and backslashes; no expansion).
pub fn split_command(s: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    in_word = true;
                }
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(Error::usage(format!("unclosed quote in command `{s}`")));
    }
    if in_word {
        out.push(cur);
    }
    if out.is_empty() {
        return Err(Error::usage("empty --command").hint("e.g. --command \"./manage.py migrate\""));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::ContainerDefinition;

    fn td() -> TaskDefinition {
        TaskDefinition::builder()
            .family("web")
            .revision(12)
            .container_definitions(
                ContainerDefinition::builder()
                    .name("web")
                    .image("reg:5000/acme/web:1.0.0")
                    .build(),
            )
            .container_definitions(
                ContainerDefinition::builder()
                    .name("proxy")
                    .image("envoyproxy/envoy:v1.30")
                    .build(),
            )
            .build()
    }

    #[test]
    fn repository_and_tags() {
        assert_eq!(repository("reg:5000/acme/web:1.2@sha256:ab"), "reg:5000/acme/web");
        assert_eq!(repository("reg:5000/acme/web"), "reg:5000/acme/web");
        assert_eq!(image_tag("reg:5000/acme/web:v1.2.3"), Some("v1.2.3"));
        assert_eq!(image_tag("reg:5000/acme/web@sha256:ab"), None);
        assert_eq!(version_from_image("web:v1.2.3").as_deref(), Some("1.2.3"));
        assert_eq!(version_from_image("web:latest"), None);
        assert!(is_downgrade("1.3.0", "1.2.9"));
        assert!(!is_downgrade("1.3.0", "1.3.1-rc.1"));
        assert!(is_downgrade("1.3.0", "1.3.0-rc.1"));
        assert!(!is_downgrade("garbage", "1.0.0"));
    }

    #[test]
    fn apply_sets_image_on_same_repository_only() {
        let mut t = td();
        let diff = apply(
            &mut t,
            "reg:5000/acme/web@sha256:abc",
            None,
            &[("A".into(), "1".into())],
        )
        .unwrap();
        assert_eq!(diff.len(), 2, "{diff:?}");
        assert_eq!(
            t.container_definitions()[0].image(),
            Some("reg:5000/acme/web@sha256:abc")
        );
        assert_eq!(t.container_definitions()[1].image(), Some("envoyproxy/envoy:v1.30"));
        // Same again: nothing to change.
        assert!(apply(
            &mut t,
            "reg:5000/acme/web@sha256:abc",
            None,
            &[("A".into(), "1".into())]
        )
        .unwrap()
        .is_empty());
    }

    #[test]
    fn apply_errors_name_the_containers() {
        let mut t = td();
        let e = apply(&mut t, "other/app:1", None, &[]).unwrap_err();
        assert!(e.message.contains("web, proxy"), "{}", e.message);
        let e = apply(&mut t, "other/app:1", Some("worker"), &[]).unwrap_err();
        assert!(
            e.message.contains("`worker` is not in task definition web:12"),
            "{}",
            e.message
        );
        assert_eq!(e.code, shipkit_core::ExitCode::Usage);
    }

    #[test]
    fn secret_looking_env_values_are_masked() {
        let env = parse_env(&["API_TOKEN=s3cr3t-value-42".into(), "PLAIN=x".into()]).unwrap();
        assert_eq!(env[0].1, "s3cr3t-value-42");
        assert!(!shipkit_core::mask::mask("diff: s3cr3t-value-42").contains("s3cr3t-value-42"));
        assert!(parse_env(&["=x".into()]).is_err());
        // Short secrets too, in the diff.
        let mut t = td();
        let diff = apply(
            &mut t,
            "reg:5000/acme/web:2",
            None,
            &[("DB_PASSWORD".into(), "hunt2".into())],
        )
        .unwrap();
        assert!(diff.iter().all(|d| !d.contains("hunt2")), "{diff:?}");
        assert!(
            diff.iter().any(|d| d.contains("DB_PASSWORD: (unset) -> ***")),
            "{diff:?}"
        );
    }

    #[test]
    fn image_references_are_checked_with_the_registry_grammar() {
        let digest = format!("sha256:{}", "a".repeat(64));
        for good in [
            "nginx".to_string(),
            "reg.test/team/web:1.2.3".into(),
            "127.0.0.1:5000/acme/web:v1".into(),
            format!("123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@{digest}"),
            format!("localhost/web:1.0@{digest}"),
            "a/b__c/d-e.f---g:latest".into(),
        ] {
            assert!(validate_image(&good).is_ok(), "{good}");
        }
        for bad in [
            "repo@sha256:short",
            "repo@sha256:ABCDEF",
            "UPPER/Case:1",
            "a:b:c",
            "reg.test/web:",
            "reg.test/web:-x",
            "web:1 2",
            "",
            "-flag",
            "reg.test//web",
            "reg.test/web_:1",
            "reg.test:port/web",
        ] {
            let e = validate_image(bad).unwrap_err();
            assert_eq!(e.code, shipkit_core::ExitCode::Usage, "{bad}");
            assert!(!e.one_line().contains('\n'), "{bad}");
        }
        let e = validate_image("UPPER/Case:1").unwrap_err();
        assert!(e.message.contains("lower case"), "{}", e.message);
    }

    #[test]
    fn commands_split_like_a_shell() {
        assert_eq!(split_command(r#"sh -c "exit 3""#).unwrap(), vec!["sh", "-c", "exit 3"]);
        assert_eq!(split_command("./manage.py migrate --no-input").unwrap().len(), 3);
        assert!(split_command("'open").is_err());
        assert_eq!(tag_value("fix: {bad} \"deploy\""), "fix: _bad_ _deploy_");
    }
}
