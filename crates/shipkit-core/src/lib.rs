//! The ground every shipkit tool stands on, written once:
//!
//! - [`app`]: the one entry point every tool's `main` calls (clap errors, exit codes, signals).
//! - [`cancel`]: SIGINT/SIGTERM recorded, so work stops cleanly (exit 130/143).
//! - [`ci`]: which CI system runs us and what it says about the build (repo, branch, tag, sha, PR, URL).
//! - [`output`]: results in the form the next step wants (`text`, `json`, `env`, `github`, `circleci`, `dotenv`).
//! - [`error`]: one-line errors with a hint and a documented exit code ([`ExitCode`]).
//! - [`exec`]: running external programs (git, docker) with clear "not installed" errors and masked echo.
//! - [`mask`]: secret masking for everything printed.
//! - [`retry`]: retry with exponential backoff and jitter, honouring a server's `Retry-After`.
//! - [`retry_after`]: a server's `Retry-After` (seconds or HTTP-date) as a bounded wait, never a panic.
//! - [`net`]: loopback by address, URL origins (credentials stay with their origin).
//! - [`config`]: the per-repository `shipkit.yml`.
//! - [`term`]: colour (`NO_COLOR`, TTY), progress lines, GitHub annotations and step summaries.
//! - [`cli`]: flags every tool shares (`--format`, `--config`, `--verbose`, ...) and the `main` wrapper.
//! - `aws` (feature `aws`): AWS SDK config with deadlines and bounded retries; SDK errors as one line.
//! - `provenance` (feature `provenance`): signed in-toto/SLSA image provenance in DSSE envelopes.
//! - `registry` (feature `registry`; `ecr` adds native ECR tokens): the OCI distribution API client —
//!   image references, manifests, blobs, referrers, docker config credentials and auth challenges.
//! - `http` (feature `http`): a small blocking HTTP client with retries for the tools that talk to services.

pub mod app;
#[cfg(feature = "aws")]
pub mod aws;
pub mod cancel;
pub mod ci;
pub mod cli;
pub mod config;
pub mod contract;
pub mod error;
pub mod exec;
#[cfg(feature = "http")]
pub mod http;
pub mod mask;
pub mod net;
pub mod output;
#[cfg(feature = "provenance")]
pub mod provenance;
#[cfg(feature = "registry")]
pub mod registry;
pub mod retry;
pub mod retry_after;
pub mod term;
pub mod time;

pub use error::{Error, ExitCode, Result, ResultExt};
