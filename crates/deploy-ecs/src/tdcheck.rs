//! A task-definition file checked against the AWS SDK's own schema before anything is sent: an unknown
//! field is refused with "did you mean" (`memry` → `memory`, `essentail` → `essential`) instead of being
//! dropped silently, and a value of the wrong type is named by its path (`containerDefinitions[0].memory
//! must be a number`) — never by echoing the value or the file, which can hold secrets (`DB_URL`).

use aws_sdk_ecs::types as ecs;
use aws_smithy_schema::{Schema, ShapeType};
use serde_json::Value;
use shipkit_core::{Error, Result};

/// The schema of the objects found under a field, where the SDK's member schema does not link to it.
fn nested(field: &str) -> Option<&'static Schema<'static>> {
    Some(match field {
        "containerDefinitions" => ecs::ContainerDefinition::SCHEMA,
        "portMappings" => ecs::PortMapping::SCHEMA,
        "environment" => ecs::KeyValuePair::SCHEMA,
        "secrets" => ecs::Secret::SCHEMA,
        "logConfiguration" => ecs::LogConfiguration::SCHEMA,
        "healthCheck" => ecs::HealthCheck::SCHEMA,
        "mountPoints" => ecs::MountPoint::SCHEMA,
        "volumesFrom" => ecs::VolumeFrom::SCHEMA,
        "ulimits" => ecs::Ulimit::SCHEMA,
        "dependsOn" => ecs::ContainerDependency::SCHEMA,
        "volumes" => ecs::Volume::SCHEMA,
        "runtimePlatform" => ecs::RuntimePlatform::SCHEMA,
        "ephemeralStorage" => ecs::EphemeralStorage::SCHEMA,
        "placementConstraints" => ecs::TaskDefinitionPlacementConstraint::SCHEMA,
        "repositoryCredentials" => ecs::RepositoryCredentials::SCHEMA,
        "resourceRequirements" => ecs::ResourceRequirement::SCHEMA,
        "firelensConfiguration" => ecs::FirelensConfiguration::SCHEMA,
        "linuxParameters" => ecs::LinuxParameters::SCHEMA,
        _ => return None,
    })
}

/// Check a task definition object (the inner one) against the SDK schema. `origin` names the file.
pub fn check(td: &Value, origin: &str) -> Result<()> {
    check_struct(td, ecs::TaskDefinition::SCHEMA, "", origin)
}

fn check_struct(v: &Value, schema: &Schema<'_>, path: &str, origin: &str) -> Result<()> {
    let Value::Object(map) = v else {
        return Err(type_error(origin, path, "an object"));
    };
    for (key, value) in map {
        let at = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        let Some(member) = schema.member_schema(key) else {
            let known: Vec<&str> = schema.members().iter().filter_map(|m| m.member_name()).collect();
            return Err(unknown_field(origin, path, key, &known));
        };
        check_value(value, member, key, &at, origin)?;
    }
    Ok(())
}

fn check_value(v: &Value, member: &Schema<'_>, key: &str, at: &str, origin: &str) -> Result<()> {
    if v.is_null() {
        return Ok(());
    }
    match member.shape_type() {
        ShapeType::List => {
            let Value::Array(items) = v else {
                return Err(type_error(origin, at, "a list"));
            };
            for (i, item) in items.iter().enumerate() {
                let item_at = format!("{at}[{i}]");
                match (nested(key), member.member()) {
                    (Some(s), _) => check_struct(item, s, &item_at, origin)?,
                    (None, Some(m)) if m.shape_type() != ShapeType::Structure => {
                        check_value(item, m, key, &item_at, origin)?;
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        ShapeType::Structure | ShapeType::Union => match nested(key) {
            Some(s) => check_struct(v, s, at, origin),
            None if v.is_object() => Ok(()),
            None => Err(type_error(origin, at, "an object")),
        },
        ShapeType::Map if !v.is_object() => Err(type_error(origin, at, "an object")),
        ShapeType::String | ShapeType::Blob if !v.is_string() => Err(type_error(origin, at, "a string")),
        ShapeType::Boolean if !v.is_boolean() => Err(type_error(origin, at, "true or false")),
        ShapeType::Byte | ShapeType::Short | ShapeType::Integer | ShapeType::Long | ShapeType::BigInteger
            if !(v.is_i64() || v.is_u64()) =>
        {
            Err(type_error(origin, at, "a whole number"))
        }
        ShapeType::Float | ShapeType::Double | ShapeType::BigDecimal if !v.is_number() => {
            Err(type_error(origin, at, "a number"))
        }
        _ => Ok(()),
    }
}

/// `td.json: containerDefinitions[0].memory must be a whole number` (the value is not shown).
fn type_error(origin: &str, at: &str, what: &str) -> Error {
    let at = if at.is_empty() { "the task definition" } else { at };
    Error::usage(format!("{origin}: {at} must be {what}"))
        .hint("see the RegisterTaskDefinition reference for the field's type")
}

fn unknown_field(origin: &str, path: &str, key: &str, known: &[&str]) -> Error {
    let shown: String = key.chars().take(60).collect();
    let place = if path.is_empty() {
        String::new()
    } else {
        format!(" in {path}")
    };
    let e = Error::usage(format!("{origin}: unknown field `{shown}`{place}"));
    match did_you_mean(key, known) {
        Some(best) => e.hint(format!("did you mean `{best}`?")),
        None => e.hint("remove it, or check its spelling against the RegisterTaskDefinition reference"),
    }
}

/// The known name closest to `key` (case-insensitive edit distance), if close enough to be a typo.
pub fn did_you_mean<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let key = key.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&key, &k.to_ascii_lowercase()), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).clamp(1, 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions: `essentail`).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 3 || a.len() > 100 || b.len() > 100 {
        return usize::MAX;
    }
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typos_are_refused_with_a_suggestion() {
        let td = json!({"family": "web", "memry": "512", "containerDefinitions": []});
        let e = check(&td, "td.json").unwrap_err();
        assert!(e.message.contains("unknown field `memry`"), "{}", e.message);
        assert_eq!(e.hint.as_deref(), Some("did you mean `memory`?"));
        let td = json!({"containerDefinitions": [{"name": "app", "image": "i", "essentail": true}]});
        let e = check(&td, "td.json").unwrap_err();
        assert!(
            e.message.contains("`essentail` in containerDefinitions[0]"),
            "{}",
            e.message
        );
        assert_eq!(e.hint.as_deref(), Some("did you mean `essential`?"));
        let td = json!({"containerDefinitions": [{"name": "a", "portMappings": [{"containerPrt": 80}]}]});
        let e = check(&td, "td.json").unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean `containerPort`?"));
        let e = check(&json!({"zzzzzzzz": 1}), "td.json").unwrap_err();
        assert!(!e.hint.unwrap().contains("did you mean"));
    }

    #[test]
    fn type_errors_name_the_path_never_the_value() {
        let td = json!({"containerDefinitions": [{"name": "app", "memory": "lots",
            "environment": [{"name": "DB_URL", "value": 5}]}]});
        let e = check(&td, "td.json").unwrap_err();
        let line = e.one_line();
        assert!(line.contains("containerDefinitions[0]"), "{line}");
        assert!(!line.contains("lots"), "{line}");
        let td = json!({"containerDefinitions": [{"name": "app", "environment": [{"name": "DB_URL", "value": 5}]}]});
        let e = check(&td, "td.json").unwrap_err();
        assert!(
            e.message.contains("environment[0].value must be a string"),
            "{}",
            e.message
        );
    }

    #[test]
    fn describe_output_fields_are_accepted() {
        let td = json!({"family": "web", "taskDefinitionArn": "arn", "revision": 3, "status": "ACTIVE",
            "requiresAttributes": [{"name": "x"}], "compatibilities": ["EC2"], "registeredAt": 1.7e9,
            "cpu": "256", "containerDefinitions": [{"name": "app", "image": "i", "essential": true, "memory": 128,
            "portMappings": [{"containerPort": 80, "protocol": "tcp"}], "secrets": [{"name": "S", "valueFrom": "arn"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {"a": "b"}}}]});
        check(&td, "td.json").unwrap();
    }
}
