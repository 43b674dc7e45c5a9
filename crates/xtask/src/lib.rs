//! The generators behind `cargo run -p xtask` (see `main.rs`), also used by the end-to-end tests to give
//! `scripts/dist --docs` the completions and man pages without a second cargo build.

pub mod docs;
pub mod schemas;
