//! The one command: send the message to every target (or show it with `--dry-run`), then report.

use crate::message::{Message, Status};
use crate::send;
use crate::settings::Settings;
use serde_json::json;
use shipkit_core::contract::{Contract, NotifyOutputs, NotifyPlan, PlannedPayload};
use shipkit_core::http::Client;
use shipkit_core::output::OutputOptions;
use shipkit_core::{cancel, mask, term, Error, ExitCode, Result};

/// Run with resolved settings; the exit code (0 unless `--strict` and a target failed, or a signal).
pub fn run(s: &Settings) -> Result<u8> {
    if s.targets.is_empty() {
        let e = Error::usage("no notify targets: nothing sent")
            .hint("pass --to URL, set SHIPKIT_NOTIFY_TO, or list notify.targets in shipkit.yml");
        if s.strict {
            return Err(e);
        }
        term::warn(&format!("notify: {e}"));
        nothing_sent(&s.message).emit(&s.output, "notify: no targets, nothing sent")?;
        return Ok(0);
    }
    if s.dry_run {
        dry_run(s)?;
        return Ok(0);
    }
    let client = Client::new(s.timeout, s.backoff);
    let outcomes = send::deliver_all(&client, &s.targets, &s.message, &s.send);
    report(&outcomes, &s.message, s.strict, &s.output)?;
    // Outputs are written (a posted message's id kept); now say that the run was cut short.
    match cancel::requested() {
        Some(signal) => Err(cancel::cancelled_error(
            signal,
            "while notifying (outputs written above)",
        )),
        None => Ok(0),
    }
}

/// The contract for a run with no targets: nothing delivered, nothing failed, no message to update; a
/// `started` run still says when it started, so the later call's duration holds once targets are set.
fn nothing_sent(m: &Message) -> NotifyOutputs {
    NotifyOutputs {
        started_at: (m.status == Status::Started).then(crate::settings::now_secs),
        ..NotifyOutputs::default()
    }
}

fn dry_run(s: &Settings) -> Result<()> {
    let mut text = String::from("notify: dry run, nothing sent\n");
    let mut payloads = vec![];
    for t in &s.targets {
        let p = send::plan(t, &s.message, &s.send);
        text.push_str(&format!("\n# {}\n{}\n", t.label, p.display()));
        let body: serde_json::Value = serde_json::from_str(&p.body).unwrap_or(json!(null));
        payloads.push(PlannedPayload {
            target: t.label.clone(),
            url: mask::redact_url(&p.url),
            body,
        });
    }
    NotifyPlan {
        dry_run: true,
        payloads,
    }
    .emit(&s.output, &text)
}

pub fn report(outcomes: &[send::Outcome], m: &Message, strict: bool, out_opts: &OutputOptions) -> Result<()> {
    let ok: Vec<&send::Outcome> = outcomes.iter().filter(|o| o.ok).collect();
    let failed: Vec<&send::Outcome> = outcomes.iter().filter(|o| !o.ok).collect();
    let mut text = format!(
        "notify: {} sent to {} of {} targets\n",
        m.status.as_str(),
        ok.len(),
        outcomes.len()
    );
    for o in outcomes {
        if o.ok {
            text.push_str(&format!("  ok      {} ({})\n", o.label, o.detail));
        } else {
            text.push_str(&format!("  FAILED  {}: {}\n", o.label, o.detail));
        }
    }
    for o in &failed {
        let hint = o.hint.as_ref().map(|h| format!(" (hint: {h})")).unwrap_or_default();
        term::warn(&format!("notify: could not notify {}: {}{hint}", o.label, o.detail));
    }

    let posted = outcomes.iter().find(|o| o.message_id.is_some());
    let outputs = NotifyOutputs {
        message_id: posted.and_then(|o| o.message_id.clone()),
        channel: posted.and_then(|o| o.channel.clone()),
        started_at: (m.status == Status::Started).then(crate::settings::now_secs),
        delivered: ok.iter().map(|o| o.label.clone()).collect(),
        failed: failed.iter().map(|o| o.label.clone()).collect(),
    };
    outputs.emit(out_opts, &text)?;
    term::step_summary(&format!(
        "**notify**: {} sent to {} of {} targets{}",
        m.status.as_str(),
        ok.len(),
        outcomes.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(
                " (failed: {})",
                failed.iter().map(|o| o.label.as_str()).collect::<Vec<_>>().join(", ")
            )
        }
    ));

    if failed.is_empty() || !strict {
        return Ok(());
    }
    let which = failed
        .iter()
        .map(|o| format!("{}: {}", o.label, o.detail))
        .collect::<Vec<_>>()
        .join("; ");
    if ok.is_empty() {
        Err(
            Error::new(ExitCode::Remote, format!("no target got the message: {which}"))
                .hint("see the warnings above; without --strict notify warns and exits 0"),
        )
    } else {
        Err(Error::new(
            ExitCode::Partial,
            format!("{} of {} targets failed: {which}", failed.len(), outcomes.len()),
        )
        .hint("see the warnings above; without --strict notify warns and exits 0"))
    }
}
