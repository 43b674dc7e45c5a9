//! Task definitions as JSON, written by the AWS SDK's own schema serializer (every field the SDK knows,
//! with ECS's field names, nothing hand-copied), and the field-by-field difference of two of them.
//!
//! Paths name list items by their `name` when every item of the list has a distinct one
//! (`containerDefinitions[web].environment[LOG_LEVEL]`), else by position (`portMappings[0]`); a
//! `{name, value}` pair is shown as its value. The values of environment variables whose names look
//! secret (`DB_PASSWORD`, `API_TOKEN`, ...) are replaced by `***` and registered with the mask, so no
//! output form shows them.

use aws_sdk_ecs::types::TaskDefinition;
use aws_smithy_json::codec::JsonCodec;
use aws_smithy_schema::codec::Codec;
use aws_smithy_schema::serde::ShapeSerializer;
use serde_json::{Map, Value};
use shipkit_core::{Error, Result};

/// The fields RegisterTaskDefinition takes, as `Aws::register` sends them (the rest is read-only:
/// arn, revision, status, requiresAttributes, compatibilities, registeredAt/By, deregisteredAt).
pub const REGISTRABLE: [&str; 16] = [
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
];

/// Deepest nesting the diff walks (a task definition is about 6 deep; a hostile file cannot recurse us).
const MAX_DEPTH: usize = 32;

/// The whole task definition as JSON (the SDK's serializer; ECS's member names).
pub fn to_json(td: &TaskDefinition) -> Result<Value> {
    let mut ser = JsonCodec::default().create_serializer();
    ser.write_struct(TaskDefinition::SCHEMA, td)
        .map_err(|e| Error::failure(format!("cannot encode the task definition: {e}")))?;
    let bytes = ser.finish();
    serde_json::from_slice(&bytes).map_err(|e| Error::failure(format!("cannot read the encoded task definition: {e}")))
}

/// What RegisterTaskDefinition would receive: only the registrable fields, empty lists dropped (the SDK
/// sends none for them); keys in alphabetical order at every level.
pub fn registrable(td: &TaskDefinition) -> Result<Value> {
    let Value::Object(mut all) = to_json(td)? else {
        return Err(Error::failure("the encoded task definition is not an object"));
    };
    let mut out = Map::new();
    for key in REGISTRABLE {
        if let Some(v) = all.remove(key) {
            out.insert(key.to_string(), v);
        }
    }
    let mut out = Value::Object(out);
    drop_empty(&mut out, 0);
    Ok(out)
}

/// Remove nulls and empty lists at every level: ECS answers `mountPoints: []` where a file has nothing,
/// and both register the same.
fn drop_empty(v: &mut Value, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Value::Object(map) => {
            map.retain(|_, x| !(x.is_null() || x.as_array().is_some_and(Vec::is_empty)));
            for x in map.values_mut() {
                drop_empty(x, depth + 1);
            }
        }
        Value::Array(items) => {
            for x in items {
                drop_empty(x, depth + 1);
            }
        }
        _ => {}
    }
}

/// Replace the values of secret-looking environment variables with `***` (and register them with the
/// mask, so they are hidden wherever else they appear): in every `environment` list at any depth.
pub fn mask_secrets(v: &mut Value) {
    mask_at(v, 0);
}

fn mask_at(v: &mut Value, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Value::Object(map) => {
            for (key, x) in map.iter_mut() {
                if key == "environment" {
                    x.as_array_mut().into_iter().flatten().for_each(mask_pair);
                } else {
                    mask_at(x, depth + 1);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|x| mask_at(x, depth + 1)),
        _ => {}
    }
}

fn mask_pair(kv: &mut Value) {
    let secret = kv
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(shipkit_core::mask::is_secret_name);
    if let (true, Some(v)) = (secret, kv.get_mut("value")) {
        mask_value(v);
    }
}

/// `***` for a non-empty string (registered with the mask first).
fn mask_value(v: &mut Value) {
    if let Some(s) = v.as_str().filter(|s| !s.is_empty()) {
        shipkit_core::mask::register_value(s);
        *v = Value::String("***".into());
    }
}

/// Mask one difference: a secret-looking variable's own value (`environment[DB_PASSWORD]`), and every
/// such variable inside a whole added or removed object. A changed secret stays a change: `"***" → "***"`.
pub fn mask_change(c: &mut Change) {
    let secret_leaf = c
        .path
        .rsplit_once("environment[")
        .and_then(|(_, rest)| rest.strip_suffix(']'))
        .is_some_and(shipkit_core::mask::is_secret_name);
    for v in [c.before.as_mut(), c.after.as_mut()].into_iter().flatten() {
        if secret_leaf {
            mask_value(v);
            if let Some(inner) = v.get_mut("value") {
                mask_value(inner);
            }
        } else {
            mask_secrets(v);
        }
    }
}

/// One difference: `added` (only after), `removed` (only before) or `changed`.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl Change {
    pub fn kind(&self) -> &'static str {
        match (&self.before, &self.after) {
            (None, _) => "added",
            (_, None) => "removed",
            _ => "changed",
        }
    }

    /// `~ cpu: "256" → "512"`, `+ path: value`, `- path: value`.
    pub fn line(&self) -> String {
        let show = |v: &Value| shipkit_core::mask::mask(&v.to_string()).into_owned();
        match (&self.before, &self.after) {
            (Some(b), Some(a)) => format!("~ {}: {} → {}", self.path, show(b), show(a)),
            (None, Some(a)) => format!("+ {}: {}", self.path, show(a)),
            (Some(b), None) => format!("- {}: {}", self.path, show(b)),
            (None, None) => format!("  {}", self.path),
        }
    }
}

/// Every difference between `before` and `after`, depth first, fields in alphabetical order, list items
/// in the order of `before` then the new ones.
pub fn diff(before: &Value, after: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    walk("", before, after, 0, &mut out);
    out
}

fn walk(path: &str, before: &Value, after: &Value, depth: usize, out: &mut Vec<Change>) {
    if before == after {
        return;
    }
    let changed = |out: &mut Vec<Change>| {
        out.push(Change {
            path: path.to_string(),
            before: Some(before.clone()),
            after: Some(after.clone()),
        });
    };
    if depth >= MAX_DEPTH {
        return changed(out);
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let keys = b.keys().chain(a.keys().filter(|k| !b.contains_key(*k)));
            for key in keys {
                let at = join_key(path, key);
                match (b.get(key), a.get(key)) {
                    (Some(x), Some(y)) => walk(&at, x, y, depth + 1, out),
                    (x, y) => out.push(Change {
                        path: at,
                        before: x.cloned(),
                        after: y.cloned(),
                    }),
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => walk_list(path, b, a, depth, out),
        _ => changed(out),
    }
}

/// Lists whose items all have distinct names are compared by name; others by position.
fn walk_list(path: &str, before: &[Value], after: &[Value], depth: usize, out: &mut Vec<Change>) {
    match (named(before), named(after)) {
        (Some(b), Some(a)) => {
            let names = b
                .iter()
                .map(|(n, _)| n)
                .chain(a.iter().map(|(n, _)| n).filter(|n| !b.iter().any(|(m, _)| m == *n)));
            for name in names {
                let at = format!("{path}[{name}]");
                let find = |l: &[(String, Value)]| l.iter().find(|(m, _)| m == name).map(|(_, v)| v.clone());
                match (find(&b), find(&a)) {
                    (Some(x), Some(y)) => walk(&at, &x, &y, depth + 1, out),
                    (x, y) => out.push(Change {
                        path: at,
                        before: x,
                        after: y,
                    }),
                }
            }
        }
        _ => {
            for i in 0..before.len().max(after.len()) {
                let at = format!("{path}[{i}]");
                match (before.get(i), after.get(i)) {
                    (Some(x), Some(y)) => walk(&at, x, y, depth + 1, out),
                    (x, y) => out.push(Change {
                        path: at,
                        before: x.cloned(),
                        after: y.cloned(),
                    }),
                }
            }
        }
    }
}

/// `[(name, item)]` when every item is an object with a distinct string `name`; a `{name, value}` pair
/// becomes its value.
fn named(items: &[Value]) -> Option<Vec<(String, Value)>> {
    let mut out: Vec<(String, Value)> = Vec::with_capacity(items.len());
    for item in items {
        let obj = item.as_object()?;
        let name = obj.get("name")?.as_str()?.to_string();
        if out.iter().any(|(n, _)| *n == name) {
            return None;
        }
        let pair = obj.contains_key("value") && obj.keys().all(|k| k == "name" || k == "value");
        let shown = if pair {
            obj.get("value").cloned().unwrap_or(Value::Null)
        } else {
            item.clone()
        };
        out.push((name, shown));
    }
    Some(out)
}

/// `a.b`, or `a["odd key"]` for keys that are not plain words (log options, docker labels).
fn join_key(path: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", Value::String(key.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair, PortMapping};
    use serde_json::json;

    fn td(level: &str, port: i32) -> TaskDefinition {
        TaskDefinition::builder()
            .family("web")
            .revision(3)
            .task_definition_arn("arn:aws:ecs:us-east-1:1:task-definition/web:3")
            .cpu("256")
            .container_definitions(
                ContainerDefinition::builder()
                    .name("web")
                    .image("reg.test/web:1.0.0")
                    .environment(KeyValuePair::builder().name("LOG_LEVEL").value(level).build())
                    .port_mappings(PortMapping::builder().container_port(port).build())
                    .build(),
            )
            .build()
    }

    #[test]
    fn the_sdk_serializer_writes_every_field_and_registrable_drops_read_only_ones() {
        let all = to_json(&td("info", 80)).unwrap();
        assert_eq!(all["revision"], 3);
        assert_eq!(all["containerDefinitions"][0]["portMappings"][0]["containerPort"], 80);
        let reg = registrable(&td("info", 80)).unwrap();
        assert!(
            reg.get("revision").is_none() && reg.get("taskDefinitionArn").is_none(),
            "{reg}"
        );
        assert_eq!(reg["cpu"], "256");
        let keys: Vec<&String> = reg.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["containerDefinitions", "cpu", "family"]);
    }

    #[test]
    fn nested_paths_name_containers_and_variables() {
        let a = registrable(&td("info", 80)).unwrap();
        let b = registrable(&td("debug", 8080)).unwrap();
        let d = diff(&a, &b);
        let lines: Vec<String> = d.iter().map(Change::line).collect();
        assert_eq!(
            lines,
            [
                r#"~ containerDefinitions[web].environment[LOG_LEVEL]: "info" → "debug""#,
                "~ containerDefinitions[web].portMappings[0].containerPort: 80 → 8080",
            ]
        );
        assert!(diff(&a, &a).is_empty());
    }

    #[test]
    fn added_removed_and_odd_keys() {
        let a = json!({"cpu": "256", "c": [{"name": "x", "options": {"awslogs-group": "g", "a.b": 1}}]});
        let b = json!({"memory": "512", "c": [{"name": "x", "options": {"awslogs-group": "h"}}, {"name": "y"}]});
        let lines: Vec<String> = diff(&a, &b).iter().map(Change::line).collect();
        assert_eq!(
            lines,
            [
                r#"- c[x].options["a.b"]: 1"#,
                r#"~ c[x].options.awslogs-group: "g" → "h""#,
                r#"+ c[y]: {"name":"y"}"#,
                r#"- cpu: "256""#,
                r#"+ memory: "512""#,
            ]
        );
    }

    #[test]
    fn deep_nesting_stops_at_the_limit() {
        let mut a = json!(1);
        let mut b = json!(2);
        for _ in 0..500 {
            a = json!({ "k": a });
            b = json!({ "k": b });
        }
        let d = diff(&a, &b);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path.matches('.').count(), MAX_DEPTH - 1);
    }

    #[test]
    fn a_changed_secret_is_a_masked_change() {
        let a =
            json!({"containerDefinitions": [{"name": "w", "environment": [{"name": "API_TOKEN", "value": "t-one"}]}]});
        let b = json!({"containerDefinitions": [{"name": "w", "environment": [{"name": "API_TOKEN", "value": "t-two"}]},
            {"name": "x", "environment": [{"name": "API_TOKEN", "value": "t-three"}]}]});
        let mut d = diff(&a, &b);
        d.iter_mut().for_each(mask_change);
        let lines: Vec<String> = d.iter().map(Change::line).collect();
        assert_eq!(
            lines[0],
            r#"~ containerDefinitions[w].environment[API_TOKEN]: "***" → "***""#
        );
        assert!(!lines[1].contains("t-three"), "{}", lines[1]);
    }

    #[test]
    fn secret_values_are_masked() {
        let mut v = json!({"containerDefinitions": [{"name": "w", "environment": [
            {"name": "DB_PASSWORD", "value": "tdjson-hunter2-secret"}, {"name": "PLAIN", "value": "x"}]}]});
        mask_secrets(&mut v);
        assert_eq!(v["containerDefinitions"][0]["environment"][0]["value"], "***");
        assert_eq!(v["containerDefinitions"][0]["environment"][1]["value"], "x");
        assert_eq!(shipkit_core::mask::mask("a tdjson-hunter2-secret b"), "a *** b");
    }
}
