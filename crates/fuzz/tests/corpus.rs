//! Every fuzz target: its committed corpus replays without a finding (the regression tests), then a
//! short random run (`SHIPKIT_FUZZ_SECONDS` per target, default 1).

use shipkit_fuzz::{engine, targets};
use std::time::Duration;

fn seconds() -> u64 {
    std::env::var("SHIPKIT_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

fn run(name: &str) {
    let target = targets::by_name(name).expect("a target of that name");
    let corpus = engine::load_corpus(name);
    assert!(corpus.len() >= 10, "{name}: corpus has only {} entries", corpus.len());
    let stats = engine::fuzz(target, Duration::from_secs(seconds()), None).unwrap_or_else(|f| panic!("finding: {f}"));
    assert_eq!(stats.corpus, corpus.len());
    assert!(stats.execs > stats.corpus as u64, "{name}: no mutated input ran");
}

macro_rules! target_tests {
    ($($name:ident),* $(,)?) => {
        $(#[test] fn $name() { run(stringify!($name)); })*

        #[test]
        fn every_target_has_a_test() {
            let tested = [$(stringify!($name)),*];
            for t in targets::ALL {
                assert!(tested.contains(&t.name), "no test for target {}", t.name);
            }
        }
    };
}

target_tests!(
    contract_inputs,
    version_tag,
    image_reference,
    notify_target,
    duration,
    retry_after,
    config,
    taskdef_json,
    registry_manifest,
    provenance_envelope,
    referrer_list,
    www_authenticate,
    dockerignore,
    docker_save_archive,
    deploy_flags,
    url_origin,
);
