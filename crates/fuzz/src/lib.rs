//! shipkit's standing fuzz suite, on stable Rust (issue 10, "The standing adversarial suite").
//!
//! - [`targets`]: one target per parser reachable from outside (version tags, image references, notify
//!   target URLs, durations, `Retry-After`, `shipkit.yml`, task-definition JSON, registry manifests,
//!   `WWW-Authenticate` challenges, deploy-ecs `--env`/`--command`).
//! - [`engine`]: a bounded mutation loop over each target's committed corpus (`corpus/<target>/`),
//!   every input under `catch_unwind`.
//! - [`check`]: the properties: no panic, every error one line with a documented exit code.
//!
//! `cargo test -p shipkit-fuzz` replays every corpus and fuzzes each target briefly
//! (`SHIPKIT_FUZZ_SECONDS`, default 1 s); `scripts/fuzz [SECONDS]` runs each target longer and prints
//! the execution counts recorded in RELIABILITY.md.

pub mod check;
pub mod engine;
pub mod targets;
