//! Deploy an image to Amazon ECS: new revision, update, wait until really stable, roll back on failure; status, rollback, lock, one-off tasks
fn main() -> std::process::ExitCode {
    let mut task_code = 0u8;
    let code = shipkit_core::cli::run_main("deploy-ecs", || {
        task_code = deploy_ecs::main_with_code()?;
        Ok(())
    });
    if task_code != 0 {
        // `run`: the one-off task's own exit code.
        std::process::ExitCode::from(task_code)
    } else {
        code
    }
}
