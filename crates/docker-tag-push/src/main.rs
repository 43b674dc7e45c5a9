fn main() -> std::process::ExitCode {
    shipkit_core::cli::run_main("docker-tag-push", || Err(shipkit_core::Error::failure("not built yet")))
}
