fn main() -> std::process::ExitCode {
    shipkit_core::cli::run_main("docker-tag-push", docker_tag_push::main_body)
}
