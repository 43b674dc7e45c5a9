//! `--task-definition FILE`: a task definition kept in the repository, as JSON in the shape
//! `aws ecs describe-task-definition` prints (`{"taskDefinition": {...}}`) or the bare object
//! (`{"family": ..., "containerDefinitions": [...]}`), with `${VAR}` replaced from the environment in
//! string values, after the fields were checked against the SDK's schema ([`crate::tdcheck`]).
//!
//! The JSON is read by the SDK's own deserializer (a client whose "HTTP" answer is the file), so every
//! field the SDK knows is kept, with the same types, and nothing is hand-copied.

use aws_sdk_ecs::types::TaskDefinition;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use futures_util::FutureExt;
use shipkit_core::{Error, Result};
use std::path::Path;

#[derive(Debug, Clone)]
struct Canned(String);

impl HttpConnector for Canned {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        let status = StatusCode::try_from(200u16).expect("200 is a status code");
        HttpConnectorFuture::ready(Ok(Response::new(status, SdkBody::from(self.0.clone()))))
    }
}

impl HttpClient for Canned {
    fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// The largest task-definition file read (1 MiB: far beyond any real task definition, small enough that
/// a wrong path — a log, an image — is refused at once instead of being read into memory).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Read and parse a task-definition file.
pub async fn load(path: &Path) -> Result<TaskDefinition> {
    use std::io::Read;
    let origin = path.display().to_string();
    let cannot = |e: std::io::Error| {
        Error::usage(format!("cannot read --task-definition {origin}: {e}"))
            .hint("pass a JSON file from the repository (the output of `aws ecs describe-task-definition`)")
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(cannot)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::usage(format!(
            "--task-definition {origin} is larger than {} KiB",
            MAX_FILE_BYTES >> 10
        ))
        .hint("pass the task-definition JSON file, not another file"));
    }
    parse(&text, &origin).await
}

/// Parse task-definition JSON text (`origin` names it in errors). `${VAR}` is expanded after parsing, in
/// string values only: a variable's value can never add fields or break the JSON.
pub async fn parse(text: &str, origin: &str) -> Result<TaskDefinition> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Error::usage(format!("{origin} is not valid JSON: {e}")))?;
    let mut inner = match value.get("taskDefinition") {
        Some(td) => td.clone(),
        None => value,
    };
    if !inner.is_object() || inner.get("containerDefinitions").is_none_or(|c| !c.is_array()) {
        return Err(Error::usage(format!("{origin}: no containerDefinitions array"))
            .hint("the file must hold a task definition: {\"family\": ..., \"containerDefinitions\": [...]}"));
    }
    crate::tdcheck::check(&inner, origin)?;
    expand_strings(&mut inner, origin)?;
    let body = serde_json::json!({ "taskDefinition": inner }).to_string();
    let conf = aws_sdk_ecs::Config::builder()
        .behavior_version(aws_sdk_ecs::config::BehaviorVersion::latest())
        .region(aws_sdk_ecs::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ecs::config::Credentials::new(
            "file", "file", None, None, "file",
        ))
        .http_client(Canned(body))
        .build();
    let client = aws_sdk_ecs::Client::from_conf(conf);
    let r = client
        .describe_task_definition()
        .task_definition("file")
        .send()
        .boxed()
        .await
        // The SDK's error would quote the file (secrets included): say only that it could not read it.
        .map_err(|_| Error::usage(format!("{origin}: not a task definition the AWS SDK can read")))?;
    r.task_definition()
        .cloned()
        .ok_or_else(|| Error::usage(format!("{origin}: empty task definition")))
}

/// Expand `${VAR}` in every string value (never in keys).
fn expand_strings(v: &mut serde_json::Value, origin: &str) -> Result<()> {
    match v {
        serde_json::Value::String(s) if s.contains('$') => {
            *s = shipkit_core::config::expand_env(s, origin, &|k| std::env::var(k).ok())
                .map_err(|e| Error::usage(e.message).hint("export the variable, or write $${ for a literal ${"))?;
        }
        serde_json::Value::Array(items) => {
            for item in items {
                expand_strings(item, origin)?;
            }
        }
        serde_json::Value::Object(map) => {
            for item in map.values_mut() {
                expand_strings(item, origin)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn reads_describe_output_and_bare_objects_with_every_field() {
        let text = r#"{"taskDefinition": {"family": "web", "executionRoleArn": "arn:aws:iam::1:role/x",
            "runtimePlatform": {"cpuArchitecture": "ARM64"},
            "volumes": [{"name": "v", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}],
            "containerDefinitions": [{"name": "app", "image": "r/app:1",
              "secrets": [{"name": "S", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/s"}],
              "portMappings": [{"containerPort": 8080, "protocol": "tcp"}]}]}}"#;
        let td = block(parse(text, "td.json")).unwrap();
        assert_eq!(td.family(), Some("web"));
        assert_eq!(td.execution_role_arn(), Some("arn:aws:iam::1:role/x"));
        assert_eq!(
            td.volumes()[0].efs_volume_configuration().unwrap().file_system_id(),
            "fs-1"
        );
        let c = &td.container_definitions()[0];
        assert_eq!(c.secrets()[0].value_from(), "arn:aws:ssm:us-east-1:1:parameter/s");
        assert_eq!(c.port_mappings()[0].container_port(), Some(8080));
        let bare = block(parse(
            r#"{"family": "w", "containerDefinitions": [{"name": "a", "image": "i"}]}"#,
            "b.json",
        ))
        .unwrap();
        assert_eq!(bare.container_definitions()[0].name(), Some("a"));
    }

    #[test]
    fn a_type_error_names_the_problem_and_never_echoes_the_file() {
        let text = r#"{"containerDefinitions": [{"name": "app", "memory": "lots",
            "environment": [{"name": "DB_URL", "value": "postgres://app:Pw0rdInFile@db/app"}]}]}"#;
        let e = block(parse(text, "td.json")).unwrap_err();
        let line = e.one_line();
        assert!(
            line.contains("td.json: containerDefinitions[0].memory must be a whole number"),
            "{line}"
        );
        assert!(
            !line.contains("Pw0rdInFile") && !line.contains("ResponseError"),
            "{line}"
        );
    }

    #[test]
    fn bad_files_are_usage_errors() {
        let e = block(parse("{", "x.json")).unwrap_err();
        assert!(e.message.contains("x.json is not valid JSON"), "{}", e.message);
        let e = block(parse(r#"{"family": "w"}"#, "y.json")).unwrap_err();
        assert!(e.message.contains("no containerDefinitions"), "{}", e.message);
        let e = block(parse(
            r#"{"containerDefinitions": [], "family": "${SHIPKIT_SURELY_UNSET_VAR}"}"#,
            "z.json",
        ))
        .unwrap_err();
        assert!(e.message.contains("SHIPKIT_SURELY_UNSET_VAR"), "{}", e.message);
    }
}
