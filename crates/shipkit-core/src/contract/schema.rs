//! JSON Schemas of the contract structs (feature `schema`), as committed under `schemas/v1/`.
//!
//! `cargo run -p xtask -- schemas` writes them; the xtask's test fails when a struct and its committed
//! schema differ, so a change of the contract shows up in review.

use super::{
    DeployOutputs, DiffOutputs, DigestOutputs, EnvironmentsStatusOutputs, ImageOutputs, ImagePlan, LockOutputs,
    LoginOutputs, NextOutputs, NotifyOutputs, NotifyPlan, RunOutputs, StatusOutputs, VerifyOutputs, VersionOutputs,
    SCHEMA_VERSION,
};
use schemars::{JsonSchema, Schema};

/// Where the committed schemas are published (the repository's `schemas/v1/`).
pub const BASE_URL: &str = "https://github.com/shipkit/shipkit/raw/main/schemas/v1";

/// Every contract: file name (without `.json`), the commands that write it, and its schema.
pub fn all() -> Vec<(&'static str, &'static str, Schema)> {
    vec![
        entry::<VersionOutputs>("version-detect", "version-detect, version-detect explain"),
        entry::<NextOutputs>("version-detect-next", "version-detect next, version-detect tag"),
        entry::<ImageOutputs>(
            "docker-tag-push",
            "docker-tag-push, docker-tag-push retag, docker-tag-push promote, docker-tag-push index",
        ),
        entry::<ImagePlan>("docker-tag-push-dry-run", "docker-tag-push --dry-run (any command)"),
        entry::<DigestOutputs>("docker-tag-push-digest", "docker-tag-push digest"),
        entry::<LoginOutputs>("docker-tag-push-login", "docker-tag-push login"),
        entry::<DeployOutputs>("deploy-ecs-deploy", "deploy-ecs deploy, deploy-ecs rollback"),
        entry::<RunOutputs>("deploy-ecs-run", "deploy-ecs run"),
        entry::<LockOutputs>("deploy-ecs-lock", "deploy-ecs lock, deploy-ecs unlock"),
        entry::<StatusOutputs>("deploy-ecs-status", "deploy-ecs status"),
        entry::<DiffOutputs>("deploy-ecs-diff", "deploy-ecs diff"),
        entry::<VerifyOutputs>("deploy-ecs-verify", "deploy-ecs verify"),
        entry::<EnvironmentsStatusOutputs>(
            "deploy-ecs-status-environments",
            "deploy-ecs status over several environments (--all-environments, --promote)",
        ),
        entry::<NotifyOutputs>("notify", "notify"),
        entry::<NotifyPlan>("notify-dry-run", "notify --dry-run"),
    ]
}

fn entry<T: JsonSchema>(name: &'static str, written_by: &'static str) -> (&'static str, &'static str, Schema) {
    let mut schema = schemars::generate::SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.insert("$id".into(), format!("{BASE_URL}/{name}.json").into());
    schema.insert("x-shipkit-schema-version".into(), SCHEMA_VERSION.into());
    schema.insert("x-shipkit-written-by".into(), written_by.into());
    (name, written_by, schema)
}

/// A schema as committed: pretty JSON with a final newline.
pub fn render(schema: &Schema) -> String {
    serde_json::to_string_pretty(schema).unwrap_or_default() + "\n"
}
