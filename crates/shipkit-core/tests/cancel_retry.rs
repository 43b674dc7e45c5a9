//! A SIGINT/SIGTERM ends retries: no new attempt starts and a wait is cut short. Its own test binary,
//! because the cancellation state is process-wide.
use shipkit_core::cancel::{self, Signal};
use shipkit_core::retry::{retry, Attempt, Backoff};
use std::time::{Duration, Instant};

#[test]
fn a_signal_cuts_the_wait_and_starts_no_new_attempt() {
    let backoff = Backoff {
        attempts: 5,
        initial: Duration::from_secs(20),
        max: Duration::from_secs(20),
    };
    let started = Instant::now();
    let signaller = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(200));
        cancel::request(Signal::Terminate);
    });
    let mut attempts = 0;
    let r: Result<(), &str> = retry(
        backoff,
        |_, _, _| {},
        |_| {
            attempts += 1;
            Err(Attempt::Retry("503", Some(Duration::from_secs(20))))
        },
    );
    signaller.join().unwrap();
    assert_eq!(r, Err("503"));
    assert_eq!(attempts, 1, "an attempt started after the signal");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    // Once signalled, a failing operation is not retried at all.
    let mut again = 0;
    let r: Result<(), &str> = retry(
        backoff,
        |_, _, _| {},
        |_| {
            again += 1;
            Err(Attempt::Retry("reset", None))
        },
    );
    assert_eq!((r, again), (Err("reset"), 1));
}
