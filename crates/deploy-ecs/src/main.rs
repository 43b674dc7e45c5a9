//! Deploy an image to Amazon ECS: new revision, update, wait until really stable, roll back on failure; status, rollback, lock, one-off tasks
fn main() -> std::process::ExitCode {
    deploy_ecs::entry(std::env::args_os())
}
