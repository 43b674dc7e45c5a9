fn main() -> std::process::ExitCode {
    shipkit_core::cli::run_main("version-detect", || Err(shipkit_core::Error::failure("not built yet")))
}
