//! The in-toto Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md) with a
//! SLSA provenance v1 predicate (https://slsa.dev/spec/v1.0/provenance) describing one image build.

use serde_json::{json, Value};

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of SLSA provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// `buildType` shipkit writes: what the external parameters mean.
pub const BUILD_TYPE: &str = "https://github.com/shipkit/shipkit/docker-tag-push/build/v1";

/// What is known about one image build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildFacts {
    /// Image name the subject carries (e.g. `registry.example/app`).
    pub image: String,
    /// `sha256:<hex>` of the image manifest.
    pub digest: String,
    /// Source repository (e.g. `https://github.com/acme/app` or `acme/app`).
    pub source_repository: String,
    /// Git commit the image was built from.
    pub source_commit: String,
    /// Git ref (e.g. `refs/heads/main`), when known.
    pub source_ref: Option<String>,
    /// The build key (cache key of the build inputs).
    pub build_key: String,
    pub dockerfile: String,
    /// Build args as `NAME=value` (values that are secrets must not be passed here).
    pub build_args: Vec<(String, String)>,
    /// URL of the CI run, when known.
    pub run_url: Option<String>,
    /// Who built it (e.g. the CI system's workflow identity).
    pub builder_id: String,
}

/// The Statement for `facts`, as JSON.
pub fn statement(facts: &BuildFacts) -> Value {
    let hex = facts.digest.strip_prefix("sha256:").unwrap_or(&facts.digest);
    let build_args: serde_json::Map<String, Value> = facts
        .build_args
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut source = json!({
        "uri": format!("git+{}", facts.source_repository),
        "digest": { "gitCommit": facts.source_commit },
    });
    if let Some(r) = &facts.source_ref {
        source["annotations"] = json!({ "ref": r });
    }
    let mut metadata = json!({});
    if let Some(url) = &facts.run_url {
        metadata["invocationId"] = json!(url);
    }
    json!({
        "_type": STATEMENT_TYPE,
        "subject": [{ "name": facts.image, "digest": { "sha256": hex } }],
        "predicateType": SLSA_PROVENANCE_V1,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "repository": facts.source_repository,
                    "ref": facts.source_ref,
                    "dockerfile": facts.dockerfile,
                    "buildArgs": build_args,
                    "buildKey": facts.build_key,
                },
                "resolvedDependencies": [source],
            },
            "runDetails": {
                "builder": { "id": facts.builder_id },
                "metadata": metadata,
            },
        },
    })
}
