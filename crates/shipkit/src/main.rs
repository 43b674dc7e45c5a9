//! `shipkit`: the four tools in one binary. See the library crate and README.md ("shipkit (one binary)").
fn main() -> std::process::ExitCode {
    shipkit::entry(std::env::args_os())
}
