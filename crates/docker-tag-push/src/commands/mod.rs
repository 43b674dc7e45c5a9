//! One file per command. Each takes its resolved settings (see [`crate::settings`]) and hands back an
//! [`Outcome`]: the outputs, the human text, and maybe a final error (a partial success still writes its
//! outputs before exiting with the error's code).

pub mod by_digest;
pub mod digest;
pub mod login;
pub mod promote;
pub mod push;
mod push_plan;
pub mod retag;

use serde_json::Value;
use shipkit_core::output::Outputs;
use shipkit_core::{term, Error};

/// Outputs, human text, and the error to exit with after writing them.
pub type Outcome = (Outputs, String, Option<Error>);

/// The plan lines printed by --dry-run.
pub fn plan_outputs(plan: Vec<String>) -> Outcome {
    let mut o = Outputs::new();
    o.set("dry_run", true).set("plan", plan.clone());
    let text = format!("dry run: nothing was changed. Would run:\n{}\n", plan.join("\n"));
    (o, text, None)
}

/// On GitHub Actions, a short Markdown summary of what was published (elsewhere nothing).
pub fn step_summary(o: &Outputs) {
    let (Some(Value::String(digest)), Some(Value::Array(pushed))) = (o.get("digest"), o.get("pushed")) else {
        return;
    };
    let list = |v: Option<&Value>| {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "-".into())
    };
    let mut md = format!("### docker-tag-push\n\ndigest `{digest}`\n\n| | |\n| --- | --- |\n");
    md.push_str(&format!("| pushed | {} |\n", list(Some(&Value::Array(pushed.clone())))));
    md.push_str(&format!("| already there | {} |\n", list(o.get("skipped"))));
    if o.get("failed").is_some() {
        md.push_str(&format!("| **not published** | {} |\n", list(o.get("failed"))));
    }
    if let Some(Value::Bool(built)) = o.get("built") {
        md.push_str(&format!(
            "| built | {} |\n",
            if *built { "yes" } else { "no (build-avoidance hit)" }
        ));
    }
    term::step_summary(&md);
}
