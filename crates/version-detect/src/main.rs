//! `version-detect`: see the library crate and README.md.
fn main() -> std::process::ExitCode {
    shipkit_core::cli::run_main("version-detect", version_detect::main_body)
}
