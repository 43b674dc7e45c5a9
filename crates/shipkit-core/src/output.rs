//! Results in the form the next step wants.
//!
//! A tool builds one [`Outputs`] (ordered `key → JSON value`) and one human text, then calls
//! [`Outputs::emit`]. The formats:
//!
//! | format | where | shape |
//! | --- | --- | --- |
//! | `text` | stdout | the tool's human text |
//! | `json` | stdout (or `--output-file`) | one JSON object |
//! | `env` | stdout (or `--output-file`) | `export KEY=value` lines, single-quoted where needed, safe to `eval`/`source` |
//! | `github` | appended to `$GITHUB_OUTPUT` | `key=value`, multi-line values as `key<<DELIM` heredocs; text on stdout |
//! | `circleci` | appended to `$BASH_ENV` | `export KEY='value'`; text on stdout |
//! | `dotenv` | appended to `--output-file` (default `shipkit.env`) | `KEY=value` for GitLab `artifacts:reports:dotenv`; text on stdout |
//!
//! Env keys are the upper-cased JSON keys with `--env-prefix` in front. Arrays of scalars become
//! comma-separated, objects compact JSON. GitHub output names are the JSON keys (lower case) with the
//! prefix lower-cased.
//!
//! [`preflight`] checks, before a tool's first side effect, that the destination of the chosen format can
//! be written (`$GITHUB_OUTPUT` for `github`, `$BASH_ENV` for `circleci`, `--output-file` / `shipkit.env`),
//! so no tool posts a message or deploys and then fails to say what it did. Everything written — stdout
//! and files — is masked ([`crate::mask`]).

use crate::error::{Error, ExitCode, Result, ResultExt};
use serde_json::Value;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The output formats every tool supports (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
    Env,
    Github,
    Circleci,
    Dotenv,
    /// A Markdown table for step summaries: `deploy-ecs status` over every environment only (hidden from the
    /// shared help; every other command refuses it in [`preflight`], exit 2).
    #[value(hide = true)]
    Markdown,
}

/// Where and how to write.
#[derive(Debug, Clone, Default)]
pub struct OutputOptions {
    pub format: Format,
    pub env_prefix: String,
    /// For `json`/`env`: write here instead of stdout. For `dotenv`: the file (default `shipkit.env`).
    pub output_file: Option<PathBuf>,
}

/// Ordered key → value results of a tool.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outputs {
    entries: Vec<(String, Value)>,
}

impl Outputs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Set (or replace) a key.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<Value>) -> &mut Self {
        let key = key.into();
        let value = value.into();
        if let Some(e) = self.entries.iter_mut().find(|(k, _)| *k == key) {
            e.1 = value;
        } else {
            self.entries.push((key, value));
        }
        self
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn entries(&self) -> &[(String, Value)] {
        &self.entries
    }

    /// One JSON object, keys in order.
    pub fn to_json(&self) -> Value {
        Value::Object(self.entries.iter().cloned().collect())
    }

    /// Write in the chosen format. `text` is the human form (printed for `text`, and to stdout as the
    /// log line for the file-appending formats).
    pub fn emit(&self, opts: &OutputOptions, text: &str) -> Result<()> {
        let masked = |s: String| crate::mask::mask(&s).into_owned();
        match opts.format {
            Format::Text | Format::Markdown => print_stdout(&masked(ensure_newline(text))),
            Format::Json => {
                let body = masked(
                    serde_json::to_string_pretty(&self.to_json())
                        .with_code(ExitCode::Failure, || "cannot encode JSON")?
                        + "\n",
                );
                write_or_print(opts.output_file.as_deref(), &body, false)
            }
            Format::Env => write_or_print(
                opts.output_file.as_deref(),
                &masked(self.render_env(&opts.env_prefix)),
                false,
            ),
            Format::Github => {
                let path = env_path(
                    "GITHUB_OUTPUT",
                    "--format github",
                    "run inside GitHub Actions or use --format env",
                )?;
                append(&path, &masked(self.render_github(&opts.env_prefix)))?;
                print_stdout(&masked(ensure_newline(text)))
            }
            Format::Circleci => {
                let path = env_path(
                    "BASH_ENV",
                    "--format circleci",
                    "run inside CircleCI or use --format env",
                )?;
                append(&path, &masked(self.render_circleci(&opts.env_prefix)))?;
                print_stdout(&masked(ensure_newline(text)))
            }
            Format::Dotenv => {
                let path = dotenv_path(opts);
                append(&path, &masked(self.render_dotenv(&opts.env_prefix)))?;
                print_stdout(&masked(ensure_newline(text)))
            }
        }
    }

    /// `export KEY=value` lines for `sh`, values single-quoted unless plainly safe: `eval "$(tool --format
    /// env)"` or `. file.env` sets and exports them, so the next tool (a child process) sees them.
    pub fn render_env(&self, prefix: &str) -> String {
        self.entries.iter().fold(String::new(), |mut out, (k, v)| {
            let _ = writeln!(out, "export {}={}", env_key(prefix, k), shell_quote(&scalar_text(v)));
            out
        })
    }

    /// CircleCI's `$BASH_ENV` takes the env form as it is.
    pub fn render_circleci(&self, prefix: &str) -> String {
        self.render_env(prefix)
    }

    /// `$GITHUB_OUTPUT` lines: `name=value`, or the heredoc form for multi-line values.
    pub fn render_github(&self, prefix: &str) -> String {
        let mut out = String::new();
        for (k, v) in &self.entries {
            let name = format!("{}{}", prefix.to_ascii_lowercase(), k);
            let value = scalar_text(v);
            if value.contains('\n') || value.contains('\r') {
                let delim = heredoc_delimiter(&value);
                out.push_str(&format!("{name}<<{delim}\n{value}\n{delim}\n"));
            } else {
                out.push_str(&format!("{name}={value}\n"));
            }
        }
        out
    }

    /// GitLab dotenv: `KEY=value`, one line each. GitLab's dotenv cannot hold multi-line values,
    /// so newlines become spaces.
    pub fn render_dotenv(&self, prefix: &str) -> String {
        self.entries.iter().fold(String::new(), |mut out, (k, v)| {
            let value = scalar_text(v).replace(['\r', '\n'], " ");
            let _ = writeln!(out, "{}={}", env_key(prefix, k), value);
            out
        })
    }
}

/// The env-var name for a JSON key: prefix + upper case, anything but `[A-Z0-9_]` becomes `_`.
pub fn env_key(prefix: &str, key: &str) -> String {
    format!("{prefix}{key}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// A JSON value as one env value: strings as is, null empty, arrays of plain values comma-joined, anything
/// else compact JSON (read back by [`crate::contract::Inputs`]).
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        // Comma-joined when that can be split back; else (objects, or an item with a comma) compact JSON.
        Value::Array(items) if items.iter().all(joinable) => {
            items.iter().map(scalar_text).collect::<Vec<_>>().join(",")
        }
        other => other.to_string(),
    }
}

/// Whether a list item survives comma-joining and splitting back: a number, a boolean, or a string with no
/// comma, not empty, not starting with `[`, without surrounding spaces.
fn joinable(item: &Value) -> bool {
    match item {
        Value::Bool(_) | Value::Number(_) => true,
        Value::String(s) => !s.is_empty() && !s.contains(',') && !s.starts_with('[') && s.trim() == s,
        _ => false,
    }
}

/// Quote for POSIX sh: plain when only safe characters, else single quotes with `'\''`.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:@%+,=^".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn heredoc_delimiter(value: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut n = nanos ^ u128::from(std::process::id()) << 32;
    loop {
        let d = format!("ghadelimiter_{:x}", n & 0xffff_ffff_ffff);
        if !value.contains(&d) {
            return d;
        }
        n = n.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    }
}

fn ensure_newline(s: &str) -> String {
    if s.is_empty() || s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n")
    }
}

fn dotenv_path(opts: &OutputOptions) -> PathBuf {
    opts.output_file.clone().unwrap_or_else(|| PathBuf::from("shipkit.env"))
}

/// Check that the chosen format's destination can be written, before any side effect: `github` needs
/// `$GITHUB_OUTPUT`, `circleci` needs `$BASH_ENV`, `dotenv` and `--output-file` need a writable file (an
/// existing one is opened for appending, nothing written; a new one must be creatable in an existing
/// directory: it is created and removed again). Every tool calls this at start; failure is exit 2.
/// `markdown` is refused here (exit 2): only [`preflight_markdown`]'s callers render it.
pub fn preflight(opts: &OutputOptions) -> Result<()> {
    if opts.format == Format::Markdown {
        return Err(Error::usage(
            "--format markdown is not supported here (only `deploy-ecs status` over every environment renders Markdown)",
        )
        .hint("use --format text, json, env, github, circleci or dotenv"));
    }
    preflight_markdown(opts)
}

/// [`preflight`] for a command that renders `--format markdown` (`deploy-ecs status` over every environment).
pub fn preflight_markdown(opts: &OutputOptions) -> Result<()> {
    match opts.format {
        Format::Text | Format::Markdown => Ok(()),
        Format::Json | Format::Env => match &opts.output_file {
            Some(p) => check_writable(p, "--output-file"),
            None => Ok(()),
        },
        Format::Github => check_writable(
            &env_path(
                "GITHUB_OUTPUT",
                "--format github",
                "run inside GitHub Actions or use --format env",
            )?,
            "$GITHUB_OUTPUT",
        ),
        Format::Circleci => check_writable(
            &env_path(
                "BASH_ENV",
                "--format circleci",
                "run inside CircleCI or use --format env",
            )?,
            "$BASH_ENV",
        ),
        Format::Dotenv => check_writable(&dotenv_path(opts), "the dotenv file (--output-file)"),
    }
}

fn check_writable(path: &Path, what: &str) -> Result<()> {
    let shown = path.display();
    let fail = |why: String| {
        Err(Error::usage(format!("cannot write {what} {shown}: {why}"))
            .hint("point it at a writable file in an existing directory; nothing was done"))
    };
    if path.is_dir() {
        return fail("it is a directory".into());
    }
    if path.exists() {
        return match std::fs::OpenOptions::new().append(true).open(path) {
            Ok(_) => Ok(()),
            Err(e) => fail(e.to_string()),
        };
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return fail(format!("directory {} does not exist", parent.display()));
    }
    // Probe the directory with a name of our own, never the destination itself: a concurrent run (two
    // steps of one job writing one $GITHUB_OUTPUT) may create the destination and append to it meanwhile,
    // and removing a probe made under its name would delete that run's outputs.
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy().into_owned());
    let probe = parent.join(format!(".{name}.{}.shipkit-probe", std::process::id()));
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => fail(e.to_string()),
    }
}

fn env_path(var: &str, what: &str, hint: &str) -> Result<PathBuf> {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => Err(Error::usage(format!("{what} needs ${var}, which is not set")).hint(hint)),
    }
}

fn append(path: &Path, text: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_code(ExitCode::Failure, || {
            format!("cannot open {} for appending", path.display())
        })?;
    f.write_all(text.as_bytes())
        .with_code(ExitCode::Failure, || format!("cannot write {}", path.display()))
}

fn write_or_print(file: Option<&Path>, text: &str, append_mode: bool) -> Result<()> {
    match file {
        Some(p) if append_mode => append(p, text),
        Some(p) => write_whole(p, text),
        None => print_stdout(text),
    }
}

/// Write a file whole or not at all: a temporary file beside it, then renamed over it. Anything that is
/// not a plain file (`/dev/stdout`, a symlink, a FIFO) is written in place.
fn write_whole(path: &Path, text: &str) -> Result<()> {
    let plain_or_new = std::fs::symlink_metadata(path).map_or(true, |m| m.file_type().is_file());
    if !plain_or_new {
        return std::fs::write(path, text).with_code(ExitCode::Failure, || format!("cannot write {}", path.display()));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_code(ExitCode::Failure, || format!("cannot write {}", path.display()))
}

/// Print to stdout; a closed pipe (`| head`) is not an error.
pub fn print_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::failure(format!("cannot write to stdout: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Outputs {
        let mut o = Outputs::new();
        o.set("version", "1.2.3")
            .set("docker_tags", json!(["1.2.3", "1.2", "latest"]))
            .set("dirty", false)
            .set("message", "it's \"quoted\"\nsecond line $HOME `x`")
            .set("labels", json!({"a": "b"}));
        o
    }

    #[test]
    fn env_form_quotes_only_when_needed() {
        let text = sample().render_env("SK_");
        assert!(text.contains("export SK_VERSION=1.2.3\n"));
        assert!(text.contains("SK_DOCKER_TAGS=1.2.3,1.2,latest\n"));
        assert!(text.contains("SK_DIRTY=false\n"));
        assert!(text.contains("SK_MESSAGE='it'\\''s \"quoted\"\nsecond line $HOME `x`'\n"));
        assert!(text.contains("SK_LABELS='{\"a\":\"b\"}'\n"));
    }

    #[test]
    fn github_form_uses_heredoc_for_multiline() {
        let text = sample().render_github("");
        assert!(text.contains("version=1.2.3\n"));
        assert!(text.contains("message<<ghadelimiter_"));
        let start = text.find("message<<").unwrap();
        let delim = text[start + 9..].lines().next().unwrap().to_string();
        assert!(text.contains(&format!("second line $HOME `x`\n{delim}\n")));
    }

    #[test]
    fn dotenv_is_one_line_per_key() {
        let text = sample().render_dotenv("");
        assert_eq!(text.lines().count(), 5);
        assert!(text.contains("MESSAGE=it's \"quoted\" second line $HOME `x`\n"));
    }

    #[test]
    fn preflight_refuses_unwritable_destinations_before_any_write() {
        let dir = tempfile::tempdir().unwrap();
        let opts = |format, file: Option<PathBuf>| OutputOptions {
            format,
            env_prefix: String::new(),
            output_file: file,
        };
        let new_file = dir.path().join("out.json");
        preflight(&opts(Format::Json, Some(new_file.clone()))).unwrap();
        assert!(!new_file.exists(), "preflight leaves no file behind");
        for bad in [dir.path().to_path_buf(), dir.path().join("missing/out.json")] {
            let e = preflight(&opts(Format::Json, Some(bad.clone()))).unwrap_err();
            assert_eq!(e.code, ExitCode::Usage, "{}", bad.display());
            assert!(!e.one_line().contains('\n'));
        }
        let e = preflight(&opts(Format::Dotenv, Some(dir.path().join("no/such/dir/x.env")))).unwrap_err();
        assert!(e.message.contains("does not exist"), "{}", e.message);
        preflight(&opts(Format::Text, Some(dir.path().join("missing/x")))).unwrap();
    }

    #[test]
    fn preflight_never_touches_a_destination_another_run_is_writing() {
        // Two steps of one job share one $GITHUB_OUTPUT: one run's preflight of the still-missing file must
        // neither fail on the other's creating it nor delete what the other appended.
        for round in 0..200 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("github_output");
            let writer = {
                let path = path.clone();
                std::thread::spawn(move || append(&path, "delivered=[]\n"))
            };
            let checked = check_writable(&path, "$GITHUB_OUTPUT");
            writer.join().unwrap().unwrap();
            checked.unwrap_or_else(|e| panic!("round {round}: {}", e.one_line()));
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                "delivered=[]\n",
                "round {round}"
            );
            let names: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names, ["github_output"], "round {round}: a probe was left behind");
        }
    }

    #[test]
    fn markdown_is_refused_except_where_rendered() {
        let md = OutputOptions {
            format: Format::Markdown,
            ..OutputOptions::default()
        };
        let e = preflight(&md).unwrap_err();
        assert_eq!(e.code, ExitCode::Usage);
        let line = e.one_line();
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("--format markdown"), "{line}");
        assert!(line.contains("text, json, env, github, circleci or dotenv"), "{line}");
        preflight_markdown(&md).unwrap();
    }

    #[test]
    fn file_outputs_are_masked_and_written_whole() {
        crate::mask::register("s3cr3t-output-value");
        let dir = tempfile::tempdir().unwrap();
        let mut o = Outputs::new();
        o.set("url", "https://x.example.test/s3cr3t-output-value");
        let file = dir.path().join("out.env");
        let opts = OutputOptions {
            format: Format::Dotenv,
            env_prefix: String::new(),
            output_file: Some(file.clone()),
        };
        o.emit(&opts, "").unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text, "URL=https://x.example.test/***\n");
        let json = dir.path().join("out.json");
        o.emit(
            &OutputOptions {
                format: Format::Json,
                output_file: Some(json.clone()),
                ..opts
            },
            "",
        )
        .unwrap();
        assert!(!std::fs::read_to_string(&json).unwrap().contains("s3cr3t"));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temporary file left"
        );
    }

    #[test]
    fn env_keys() {
        assert_eq!(env_key("", "short_sha"), "SHORT_SHA");
        assert_eq!(
            env_key("APP_", "org.opencontainers.image.version"),
            "APP_ORG_OPENCONTAINERS_IMAGE_VERSION"
        );
        assert_eq!(shell_quote(""), "''");
    }
}
