//! `version-detect tag`: create the annotated tag for the next (or given) version on HEAD and push it;
//! refuse (exit 10) when the tag or version already exists or HEAD is already released. A failed push
//! removes the local tag again.

use crate::cli::TagArgs;
use crate::commands::next::{next, Next, Request};
use crate::settings::Settings;
use crate::{git_cli, repo, semantics};
use git2::Repository;
use semver::Version;
use shipkit_core::ci::CiContext;
use shipkit_core::contract::Contract;
use shipkit_core::output::OutputOptions;
use shipkit_core::{Error, Result};

/// Parse an explicit version for `tag`: `1.2.3`, `v1.2.3` or the full tag name with the prefix.
fn explicit_version(text: &str, prefix: &str) -> Result<Version> {
    let t = text.trim();
    let t = t.strip_prefix(prefix).unwrap_or(t);
    let t = t.strip_prefix('v').unwrap_or(t);
    Version::parse(t).map_err(|e| {
        Error::usage(format!("{text:?} is not a semver version: {e}")).hint("e.g. version-detect tag 1.4.0")
    })
}

/// The version and tag name to create: the given one, or the next one (refused when HEAD is released).
fn choose(repo: &Repository, s: &Settings, ci: &CiContext, a: &TagArgs) -> Result<Next> {
    let explicit = a
        .version
        .as_deref()
        .map(|v| explicit_version(v, &s.prefix))
        .transpose()?;
    let req = Request {
        bump: a.bump.as_deref(),
        pre: a.pre.as_deref(),
        version_given: explicit.is_some(),
    };
    let mut n = next(repo, s, ci, &req)?;
    let d = &n.detection;
    if let Some(v) = explicit {
        let v_style = d
            .base
            .as_ref()
            .is_none_or(|b| b.name[s.prefix.len()..].starts_with('v'));
        let given_v = a
            .version
            .as_deref()
            .is_some_and(|t| t.trim().trim_start_matches(&*s.prefix).starts_with('v'));
        n.tag_name = format!("{}{}{v}", s.prefix, if v_style || given_v { "v" } else { "" });
        n.reason = "given on the command line".into();
        n.version = v;
    }
    Ok(n)
}

/// Refuse a version or tag name that exists, or a name git would not accept.
fn check_new(repo: &Repository, n: &Next) -> Result<()> {
    if let Some((name, _)) = n
        .detection
        .all_versions()
        .iter()
        .find(|(_, v)| semantics::precedence(v, &n.version).is_eq())
    {
        return Err(
            Error::refused(format!("version {} is already tagged as {name}", n.version))
                .hint("pick another version, or use --bump"),
        );
    }
    if !git2::Reference::is_valid_name(&format!("refs/tags/{}", n.tag_name)) {
        return Err(Error::usage(format!("{:?} is not a valid tag name", n.tag_name)));
    }
    if repo.refname_to_id(&format!("refs/tags/{}", n.tag_name)).is_ok() {
        return Err(
            Error::refused(format!("tag {} already exists", n.tag_name)).hint("pick another version, or use --bump")
        );
    }
    Ok(())
}

/// Run `tag`.
pub fn run(repo: &Repository, s: &Settings, ci: &CiContext, a: &TagArgs, opts: &OutputOptions) -> Result<u8> {
    let remote = s.remote.as_str();
    let n = choose(repo, s, ci, a)?;
    check_new(repo, &n)?;
    let d = &n.detection;
    if d.dirty {
        shipkit_core::term::warn("version-detect: the working tree has uncommitted changes; tagging HEAD's commit");
    }
    let sig = repo
        .signature()
        .or_else(|_| git2::Signature::now("version-detect", "version-detect@localhost"))
        .map_err(repo::git_err("cannot make a tagger signature"))?;
    let target = repo
        .find_object(d.head, None)
        .map_err(repo::git_err("cannot read HEAD"))?;
    shipkit_core::cancel::check("before creating the tag")?;
    let message = a.message.clone().unwrap_or_else(|| format!("Release {}", n.version));
    repo.tag(&n.tag_name, &target, &sig, &message, false)
        .map_err(|e| Error::refused(format!("cannot create tag {}: {}", n.tag_name, e.message())))?;
    let pushed = if a.no_push {
        false
    } else {
        git_cli::push_tag(repo, remote, &n.tag_name, s.remote_timeout)?;
        true
    };
    let mut o = n.outputs();
    o.pushed = Some(pushed);
    o.remote = pushed.then(|| remote.to_string());
    let text = if pushed {
        format!(
            "tagged {} at {} and pushed it to {remote}",
            n.tag_name, n.detection.short_sha
        )
    } else {
        format!("tagged {} at {} (not pushed)", n.tag_name, n.detection.short_sha)
    };
    o.emit(opts, &text)?;
    Ok(0)
}
