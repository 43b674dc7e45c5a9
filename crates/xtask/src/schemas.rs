//! `schemas/v1/*.json` from the contract structs (`shipkit_core::contract::schema`).

use shipkit_core::contract::schema;
use std::path::{Path, PathBuf};

/// The repository's `schemas/v1/`.
pub fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas")
        .join(format!("v{}", shipkit_core::contract::SCHEMA_VERSION))
}

/// Every schema as `(file name, text)`.
pub fn rendered() -> Vec<(String, String)> {
    schema::all()
        .into_iter()
        .map(|(name, _, s)| (format!("{name}.json"), schema::render(&s)))
        .collect()
}

/// The schema files that differ from `rendered()` (missing, changed, or no longer generated).
pub fn drift(dir: &Path) -> Vec<String> {
    let want = rendered();
    let mut drifted: Vec<String> = want
        .iter()
        .filter(|(name, text)| std::fs::read_to_string(dir.join(name)).ok().as_deref() != Some(text.as_str()))
        .map(|(name, _)| name.clone())
        .collect();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if std::path::Path::new(&name).extension().is_some_and(|e| e == "json")
                && !want.iter().any(|(n, _)| *n == name)
            {
                drifted.push(name);
            }
        }
    }
    drifted.sort();
    drifted
}

/// Write the schemas into `dir` (removing stale ones), or with `check` only report drift.
pub fn run(dir: &Path, check: bool) -> Result<(), String> {
    if check {
        let drifted = drift(dir);
        return if drifted.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{} differ from the contract structs: {} (run `cargo run -p xtask -- schemas` and commit)",
                dir.display(),
                drifted.join(", ")
            ))
        };
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for stale in drift(dir) {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    for (name, text) in rendered() {
        std::fs::write(dir.join(&name), text).map_err(|e| format!("cannot write {name}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed schemas are what the structs say: a change of the contract shows in review.
    #[test]
    fn committed_schemas_match_the_contract_structs() {
        let drifted = drift(&committed_dir());
        assert!(
            drifted.is_empty(),
            "schemas/v1 drifted from shipkit_core::contract: {drifted:?}; run `cargo run -p xtask -- schemas` and commit"
        );
    }

    #[test]
    fn drift_is_detected_and_fixed() {
        let d = tempfile::tempdir().unwrap();
        assert!(!drift(d.path()).is_empty());
        run(d.path(), false).unwrap();
        assert!(drift(d.path()).is_empty());
        std::fs::write(d.path().join("notify.json"), "{}\n").unwrap();
        std::fs::write(d.path().join("stale.json"), "{}\n").unwrap();
        assert_eq!(drift(d.path()), ["notify.json", "stale.json"]);
        assert!(run(d.path(), true).unwrap_err().contains("notify.json"));
    }

    #[test]
    fn schemas_describe_nested_values_as_objects() {
        let (_, _, deploy) = schema::all()
            .into_iter()
            .find(|(n, _, _)| *n == "deploy-ecs-deploy")
            .unwrap();
        let v = serde_json::to_value(&deploy).unwrap();
        assert_eq!(v["properties"]["services"]["type"], "array");
        let item = v["properties"]["services"]["items"]["$ref"].as_str().unwrap();
        assert!(item.ends_with("ServiceOutcome"), "{item}");
        assert_eq!(v["x-shipkit-schema-version"], 1);
    }
}
