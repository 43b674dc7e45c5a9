//! Reading another shipkit tool's output: the input side of the contract between the tools.
//!
//! Every tool writes its results as `key → value` ([`crate::output::Outputs`]). The next tool reads them
//! either from the environment (the `env`, `circleci`, `github`→`env:` and `dotenv` forms, written with
//! `--env-prefix SHIPKIT_`, land as `SHIPKIT_<KEY>`, which is exactly the variable each consuming flag
//! reads), or from a file given with `--input FILE` (repeatable): the `json` form, or the `env`/`dotenv`
//! form. Keys are matched case-insensitively with any `SHIPKIT_` prefix removed. Flags win over inputs.

use crate::error::{Error, ExitCode, Result};
use serde_json::{Map, Value};
use std::path::Path;

/// Values read from other tools' outputs, keys lower-case without prefix (`version`, `docker_tags`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    values: Map<String, Value>,
}

impl Inputs {
    /// Read every file in order; a later file's key replaces an earlier one's.
    pub fn read(paths: &[impl AsRef<Path>]) -> Result<Inputs> {
        let mut inputs = Inputs::default();
        for p in paths {
            let p = p.as_ref();
            let text = if p == Path::new("-") {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(p).map_err(|e| {
                    Error::usage(format!("cannot read --input {}: {e}", p.display()))
                        .hint("pass the file another shipkit tool wrote with --format json --output-file")
                })?
            };
            inputs.merge_text(&text, &p.display().to_string())?;
        }
        Ok(inputs)
    }

    /// Parse one output text: a JSON object, or `KEY=value` / `export KEY='value'` lines.
    pub fn merge_text(&mut self, text: &str, origin: &str) -> Result<()> {
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') {
            let v: Value = serde_json::from_str(trimmed)
                .map_err(|e| Error::new(ExitCode::Usage, format!("{origin} is not valid JSON: {e}")))?;
            if let Value::Object(map) = v {
                for (k, v) in map {
                    self.values.insert(normalize_key(&k), v);
                }
            }
            return Ok(());
        }
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let Some((k, v)) = line.split_once('=') else {
                return Err(Error::usage(format!(
                    "{origin}:{}: expected KEY=value or a JSON object",
                    n + 1
                )));
            };
            self.values
                .insert(normalize_key(k.trim()), Value::String(unquote(v.trim())));
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(&normalize_key(key))
    }

    /// A value as text (arrays comma-joined, like the env form).
    pub fn text(&self, key: &str) -> Option<String> {
        self.get(key).map(crate::output::scalar_text).filter(|s| !s.is_empty())
    }

    /// A list: a JSON array, or a comma-separated string.
    pub fn list(&self, key: &str) -> Vec<String> {
        match self.get(key) {
            Some(Value::Array(items)) => items.iter().map(crate::output::scalar_text).collect(),
            Some(v) => crate::output::scalar_text(v)
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            None => vec![],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// `SHIPKIT_DOCKER_TAGS` → `docker_tags`.
pub fn normalize_key(k: &str) -> String {
    let k = k.to_ascii_lowercase();
    k.strip_prefix("shipkit_").map(String::from).unwrap_or(k)
}

/// Undo the env form's quoting: `'it'\''s'` → `it's`; `"x"` → `x`.
fn unquote(v: &str) -> String {
    if v.len() >= 2 && v.starts_with('\'') && v.ends_with('\'') {
        return v[1..v.len() - 1].replace(r"'\''", "'");
    }
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        return v[1..v.len() - 1].replace("\\\"", "\"");
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_and_env_forms() {
        let mut i = Inputs::default();
        i.merge_text(
            r#"{"version":"1.2.3","docker_tags":["1.2.3","1.2"],"is_release":true}"#,
            "a.json",
        )
        .unwrap();
        assert_eq!(i.text("version").as_deref(), Some("1.2.3"));
        assert_eq!(i.list("docker_tags"), vec!["1.2.3", "1.2"]);
        assert_eq!(i.text("IS_RELEASE").as_deref(), Some("true"));
        i.merge_text(
            "SHIPKIT_IMAGE=reg/app@sha256:abc\nexport SHIPKIT_MESSAGE='it'\\''s'\n",
            "b.env",
        )
        .unwrap();
        assert_eq!(i.text("image").as_deref(), Some("reg/app@sha256:abc"));
        assert_eq!(i.text("message").as_deref(), Some("it's"));
        let err = i.merge_text("garbage line", "c.env").unwrap_err();
        assert!(err.message.contains("c.env:1"));
    }
}
