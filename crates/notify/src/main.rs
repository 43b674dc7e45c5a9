//! Tell Slack, Teams, Discord or a webhook what was built and deployed, and whether it failed, without
//! ever breaking the deploy. See `notify --help` and the README.
fn main() -> std::process::ExitCode {
    notify::entry(std::env::args_os())
}
