//! What the `shipkit init` test files share: the binary, its output as text, and one `shipkit init` run
//! with a clean environment (PATH only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

pub const SHIPKIT: &str = env!("CARGO_BIN_EXE_shipkit");

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `shipkit init ARGS` in `dir`, with nothing of this process's environment but PATH.
pub fn init(dir: &Path, args: &[&str]) -> Output {
    Command::new(SHIPKIT)
        .arg("init")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .unwrap()
}

/// The names of the entries directly in `dir`, as read_dir lists them.
pub fn names_in(dir: &Path) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect()
}
