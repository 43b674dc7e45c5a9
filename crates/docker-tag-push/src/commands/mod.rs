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

use shipkit_core::contract::{Contract, DigestOutputs, ImageOutputs, ImagePlan, LoginOutputs};
use shipkit_core::output::OutputOptions;
use shipkit_core::{term, Error, Result};

/// What a command writes: one of the contract's structs.
#[derive(Debug, Clone)]
pub enum Written {
    /// Boxed: it is many times the size of the others.
    Image(Box<ImageOutputs>),
    Plan(ImagePlan),
    Digest(DigestOutputs),
    Login(LoginOutputs),
}

impl Written {
    /// The image outputs, boxed.
    pub fn image(o: ImageOutputs) -> Written {
        Written::Image(Box::new(o))
    }

    /// Write in the chosen format through the contract (see [`Contract::emit`]).
    pub fn emit(&self, opts: &OutputOptions, text: &str) -> Result<()> {
        match self {
            Written::Image(o) => o.emit(opts, text),
            Written::Plan(o) => o.emit(opts, text),
            Written::Digest(o) => o.emit(opts, text),
            Written::Login(o) => o.emit(opts, text),
        }
    }
}

/// Outputs, human text, and the error to exit with after writing them.
pub type Outcome = (Written, String, Option<Error>);

/// The plan lines printed by --dry-run.
pub fn plan_outputs(plan: Vec<String>) -> Outcome {
    let text = format!("dry run: nothing was changed. Would run:\n{}\n", plan.join("\n"));
    (Written::Plan(ImagePlan { dry_run: true, plan }), text, None)
}

/// On GitHub Actions, a short Markdown summary of what was published (elsewhere nothing).
pub fn step_summary(written: &Written) {
    let Written::Image(o) = written else {
        return;
    };
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
        }
    };
    let mut md = format!("### docker-tag-push\n\ndigest `{}`\n\n| | |\n| --- | --- |\n", o.digest);
    md.push_str(&format!("| pushed | {} |\n", list(&o.pushed)));
    md.push_str(&format!("| already there | {} |\n", list(&o.skipped)));
    if let Some(failed) = &o.failed {
        md.push_str(&format!("| **not published** | {} |\n", list(failed)));
    }
    if let Some(built) = o.built {
        md.push_str(&format!(
            "| built | {} |\n",
            if built { "yes" } else { "no (build-avoidance hit)" }
        ));
    }
    term::step_summary(&md);
}
