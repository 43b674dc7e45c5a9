//! Reading another shipkit tool's output: the input side of the contract between the tools.
//!
//! Every tool writes its results as `key → value` ([`crate::output::Outputs`]). The next tool reads them
//! either from the environment (the `env`, `circleci`, `github`→`env:` and `dotenv` forms, written with
//! `--env-prefix SHIPKIT_`, land as `SHIPKIT_<KEY>`, which is exactly the variable each consuming flag
//! reads), or from a file given with `--input FILE` (repeatable): the `json` form, or the `env`/`dotenv`
//! form. Keys are matched case-insensitively with any `SHIPKIT_` prefix removed. Flags win over inputs.

use super::lenient::Lenient;
use crate::error::{Error, Result};
use serde::de::value::MapDeserializer;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::io::Read;
use std::path::Path;

/// The largest `--input` accepted: outputs are a few kilobytes; anything near this is not one.
pub const MAX_INPUT_BYTES: u64 = 16 << 20;

/// Values read from other tools' outputs, keys lower-case without prefix (`version`, `docker_tags`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    values: Map<String, Value>,
}

impl Inputs {
    /// Read every file in order (`-` is stdin); a later file's key replaces an earlier one's.
    pub fn read(paths: &[impl AsRef<Path>]) -> Result<Inputs> {
        let mut inputs = Inputs::default();
        for p in paths {
            let p = p.as_ref();
            let text = read_bounded(p)?;
            inputs.merge_text(&text, &p.display().to_string())?;
        }
        Ok(inputs)
    }

    /// Parse one output text: a JSON object, or the env forms' `KEY=value` / `export KEY='value'` lines.
    pub fn merge_text(&mut self, text: &str, origin: &str) -> Result<()> {
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') {
            let v: Value = serde_json::from_str(trimmed).map_err(|e| {
                Error::usage(format!("{origin} is not valid JSON: {e}"))
                    .hint("pass a file a shipkit tool wrote with --format json or --format env")
            })?;
            if let Value::Object(map) = v {
                for (k, v) in map {
                    self.values.insert(normalize_key(&k), v);
                }
            }
            return Ok(());
        }
        for (k, v) in parse_env_form(text, origin)? {
            self.values.insert(normalize_key(&k), Value::String(v));
        }
        Ok(())
    }

    /// Set one value (as a JSON value, or text as an env form would hold it).
    pub fn insert(&mut self, key: &str, value: impl Into<Value>) {
        self.values.insert(normalize_key(key), value.into());
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
            // An env form writes a list whose items hold commas as a JSON array.
            Some(Value::String(s)) if s.trim_start().starts_with('[') => match serde_json::from_str::<Vec<Value>>(s) {
                Ok(items) => items.iter().map(crate::output::scalar_text).collect(),
                Err(_) => vec![s.clone()],
            },
            Some(v) => crate::output::scalar_text(v)
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
            None => vec![],
        }
    }

    /// One typed value, from either form: `Ok(None)` when the key is absent, an error (exit 2) naming the
    /// key when its value is not of the type (`inputs.value::<Vec<ServiceOutcome>>("services")`).
    pub fn value<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let Some(v) = self.get(key) else {
            return Ok(None);
        };
        T::deserialize(Lenient(v)).map(Some).map_err(|e| {
            Error::usage(format!("input `{key}` is not what a shipkit tool writes: {e}"))
                .hint("pass the file the tool wrote, unchanged")
        })
    }

    /// A whole contract struct (keys it does not have are ignored).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        let entries = self.values.iter().map(|(k, v)| (k.as_str(), Lenient(v)));
        T::deserialize(MapDeserializer::<_, serde::de::value::Error>::new(entries)).map_err(|e| {
            Error::usage(format!("the inputs are not what a shipkit tool writes: {e}"))
                .hint("pass the file the tool wrote, unchanged")
        })
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Read an `--input` file (or stdin for `-`), refusing one over [`MAX_INPUT_BYTES`].
fn read_bounded(p: &Path) -> Result<String> {
    let cannot = |e: &dyn std::fmt::Display| {
        Error::usage(format!("cannot read --input {}: {e}", p.display()))
            .hint("pass the file another shipkit tool wrote with --format json --output-file")
    };
    let mut bytes = Vec::new();
    if p == Path::new("-") {
        std::io::stdin().take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(p).and_then(|f| f.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes))
    }
    .map_err(|e| cannot(&e))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(cannot(&format!("larger than {} MiB", MAX_INPUT_BYTES >> 20)));
    }
    String::from_utf8(bytes).map_err(|_| cannot(&"not UTF-8 text"))
}

/// `SHIPKIT_DOCKER_TAGS` → `docker_tags`.
pub fn normalize_key(k: &str) -> String {
    let k = k.to_ascii_lowercase();
    k.strip_prefix("shipkit_").map(String::from).unwrap_or(k)
}

/// The env forms: `KEY=value` lines, optionally `export `ed; a value starting with a quote is read as `sh`
/// reads it (single quotes with `'\''`, double quotes with backslash escapes), across lines; any other
/// value is the rest of its line as is (GitLab's dotenv).
fn parse_env_form(text: &str, origin: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut line_no = 1;
    while !rest.is_empty() {
        let (line, after) = rest.split_once('\n').unwrap_or((rest, ""));
        let this_line = line_no;
        line_no += 1;
        rest = after;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let assignment = trimmed.strip_prefix("export ").map_or(trimmed, str::trim_start);
        let bad = |what: &str| {
            Error::usage(format!("{origin}:{this_line}: {what}"))
                .hint("pass a file a shipkit tool wrote with --format json or --format env")
        };
        let Some((key, value)) = assignment.split_once('=') else {
            return Err(bad("expected KEY=value or a JSON object"));
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(bad(&format!("`{key}` is not a variable name")));
        }
        if !value.starts_with(['\'', '"']) {
            out.push((key.to_string(), value.trim_end().to_string()));
            continue;
        }
        // A quoted value may span lines: hand the parser the value and everything after it.
        let start = value.as_ptr() as usize - text.as_ptr() as usize;
        let (parsed, consumed) = parse_sh_word(&text[start..]).map_err(&bad)?;
        let after_word = &text[start + consumed..];
        let (tail, next) = after_word.split_once('\n').unwrap_or((after_word, ""));
        if !tail.trim().is_empty() {
            return Err(bad("unexpected text after the quoted value"));
        }
        line_no = this_line + text[start..start + consumed].matches('\n').count() + 1;
        rest = next;
        out.push((key.to_string(), parsed));
    }
    Ok(out)
}

/// One `sh` word starting at `s[0]`: quoted and unquoted pieces up to unquoted whitespace. Returns the word
/// and the bytes consumed.
fn parse_sh_word(s: &str) -> std::result::Result<(String, usize), &'static str> {
    let mut word = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            '\'' => {
                chars.next();
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, ch)) => word.push(ch),
                        None => return Err("unterminated single quote"),
                    }
                }
            }
            '"' => {
                chars.next();
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, ch @ ('"' | '\\' | '$' | '`'))) => word.push(ch),
                            Some((_, '\n')) => {}
                            Some((_, ch)) => {
                                word.push('\\');
                                word.push(ch);
                            }
                            None => return Err("unterminated double quote"),
                        },
                        Some((_, ch)) => word.push(ch),
                        None => return Err("unterminated double quote"),
                    }
                }
            }
            '\\' => {
                chars.next();
                match chars.next() {
                    Some((_, '\n')) | None => {}
                    Some((_, ch)) => word.push(ch),
                }
            }
            c if c.is_whitespace() => return Ok((word, i)),
            c => {
                chars.next();
                word.push(c);
            }
        }
    }
    Ok((word, s.len()))
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
