//! `version-detect`: see the library crate and README.md.
fn main() -> std::process::ExitCode {
    version_detect::entry(std::env::args_os())
}
