//! `shipkit init` runs at once in one repository, with the real binary in real git repositories: they are
//! serialised by a lock (`.git/shipkit-init.lock`, flock), so concurrent `--force` runs always leave one
//! run's pair of files, a run waits while another holds the lock, and gives up in one line after 5 s.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use shipkit_testkit::GitRepo;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SHIPKIT: &str = env!("CARGO_BIN_EXE_shipkit");
const REGIONS: [&str; 4] = ["eu-west-1", "us-east-2", "ap-south-1", "sa-east-1"];

fn repo() -> GitRepo {
    let r = GitRepo::new();
    std::fs::write(r.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    r
}

fn spawn_init(dir: &Path, region: &str) -> Child {
    Command::new(SHIPKIT)
        .args([
            "init",
            "--ci",
            "gitlab",
            "--service",
            "x",
            "--force",
            "--region",
            region,
        ])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The region a file was written for (each region appears in exactly one run's files).
fn region_of(file: &Path) -> &'static str {
    let text = std::fs::read_to_string(file).unwrap();
    let found: Vec<_> = REGIONS.iter().filter(|r| text.contains(*r)).collect();
    assert_eq!(found.len(), 1, "{}: {found:?}", file.display());
    found[0]
}

/// Hold the repository's init lock as another run would.
fn hold_lock(dir: &Path) -> std::fs::File {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".git/shipkit-init.lock"))
        .unwrap();
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive).unwrap();
    f
}

#[test]
fn a_run_waits_while_another_holds_the_lock_and_writes_after_it() {
    let r = repo();
    let held = hold_lock(r.path());
    let mut child = spawn_init(r.path(), REGIONS[0]);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(child.try_wait().unwrap().is_none(), "still waiting for the lock");
    assert!(
        !r.path().join("shipkit.yml").exists(),
        "nothing written while another run holds the lock"
    );
    drop(held);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(region_of(&r.path().join("shipkit.yml")), REGIONS[0]);
}

#[test]
fn a_lock_held_too_long_is_one_line_exit_10_and_nothing_written() {
    let r = repo();
    let _held = hold_lock(r.path());
    let started = Instant::now();
    let o = spawn_init(r.path(), REGIONS[1]).wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(10), "{err}");
    assert_eq!(err.lines().filter(|l| !l.starts_with("::")).count(), 1, "{err}");
    assert!(err.contains("another shipkit init") && err.contains("hint:"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
    assert!(!r.path().join("shipkit.yml").exists());
}

#[test]
fn a_run_killed_while_holding_the_lock_leaves_no_stale_lock() {
    let r = repo();
    // A process that takes the lock and is then SIGKILLed: the kernel releases it.
    // `-o`: only flock itself holds the lock (its `sleep` child does not inherit it).
    let mut holder = Command::new("flock")
        .arg("-o")
        .arg(r.path().join(".git/shipkit-init.lock"))
        .args(["sleep", "10"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let o = spawn_init(r.path(), REGIONS[3]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !r.path().join("shipkit.yml").exists(),
        "the holder is alive: the run waits"
    );
    holder.kill().unwrap();
    let o = o.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    holder.wait().unwrap();
    let o = spawn_init(r.path(), REGIONS[2]).wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn concurrent_force_runs_always_leave_one_runs_pair() {
    for round in 0..25 {
        let r = repo();
        let children: Vec<_> = REGIONS.iter().map(|reg| spawn_init(r.path(), reg)).collect();
        for c in children {
            let o = c.wait_with_output().unwrap();
            assert_eq!(
                o.status.code(),
                Some(0),
                "round {round}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        let yml = region_of(&r.path().join("shipkit.yml"));
        let ci = region_of(&r.path().join(".gitlab-ci.yml"));
        assert_eq!(
            yml, ci,
            "round {round}: shipkit.yml of one run, .gitlab-ci.yml of another"
        );
        let leftovers: Vec<_> = std::fs::read_dir(r.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("shipkit-init"))
            .collect();
        assert!(leftovers.is_empty(), "round {round}: {leftovers:?}");
    }
}
