fn main() -> std::process::ExitCode {
    docker_tag_push::entry(std::env::args_os())
}
