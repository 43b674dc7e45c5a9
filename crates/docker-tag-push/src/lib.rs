//! Build a Docker image once, tag it with every version tag, push, report the registry digest; retag and
//! promote without pulling.
//!
//! - [`reference`]: image names, tags and digests, validated before anything runs.
//! - [`registry`]: a small OCI distribution API client (manifests, blobs, mounts, auth flow).
//! - [`auth`]: docker config credentials, credential helpers, `WWW-Authenticate` challenges.
//! - [`build`]: the `docker build` command and the build-avoidance key.
//! - [`publish`]: one manifest under many `repo:tag`, idempotently, with an exact report.
//! - [`cli`]: flags and commands.

pub mod auth;
pub mod build;
pub mod cli;
pub mod publish;
pub mod reference;
pub mod registry;

pub use cli::main_body;
