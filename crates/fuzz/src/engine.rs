//! The fuzzing engine: a bounded, blind mutation loop on stable Rust.
//!
//! Each run starts from a target's committed corpus (`crates/fuzz/corpus/<target>/`), replays it, then
//! mutates random corpus entries (bit flips, byte inserts and deletes, duplicated and repeated chunks,
//! dictionary tokens, hostile numbers, splices of two entries) for a fixed time. Every input runs under
//! `catch_unwind`: a panic — in the parser, or in one of the property checks of [`crate::check`] — is a
//! [`Finding`], saved under `target/fuzz-findings/<target>/` so it can be added to the corpus.
//!
//! Randomness comes from `fastrand` with a printed seed (`SHIPKIT_FUZZ_SEED` replays a run).

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Once;
use std::time::{Duration, Instant};

/// One fuzz target: a parser reachable from outside and the properties its results must keep.
pub struct Target {
    /// Directory name under `corpus/` and the name given on the command line.
    pub name: &'static str,
    /// What it feeds, for `--list`.
    pub about: &'static str,
    /// Tokens the mutator inserts (keywords, delimiters of the input's grammar).
    pub dictionary: &'static [&'static str],
    /// Inputs are cut to this many bytes.
    pub max_len: usize,
    /// Runs one input; panics (caught) when a property does not hold.
    pub run: fn(&[u8]),
}

/// What one fuzzing run did.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Inputs executed (corpus replays included).
    pub execs: u64,
    /// Corpus entries replayed.
    pub corpus: usize,
    pub elapsed: Duration,
    /// The slowest single input.
    pub slowest: Duration,
    pub seed: u64,
}

/// An input that broke a property (or panicked).
#[derive(Debug, Clone)]
pub struct Finding {
    pub target: &'static str,
    pub input: Vec<u8>,
    /// The panic message and location.
    pub message: String,
    /// Where the input was written (`None` when it could not be saved).
    pub saved: Option<PathBuf>,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let preview: String = String::from_utf8_lossy(&self.input).chars().take(300).collect();
        write!(
            f,
            "{}: {} ({} bytes: {:?}{})",
            self.target,
            self.message,
            self.input.len(),
            preview,
            self.saved
                .as_ref()
                .map(|p| format!("; saved to {}", p.display()))
                .unwrap_or_default()
        )
    }
}

/// Tokens every target's mutator may insert: the hostile values of issue 10.
pub const HOSTILE: &[&str] = &[
    "\0",
    "\n",
    "\r\n",
    "\t",
    " ",
    "inf",
    "-inf",
    "NaN",
    "1e30",
    "1e308",
    "-1",
    "-0",
    "0",
    "18446744073709551615",
    "18446744073709551616",
    "9223372036854775808",
    "4294967296",
    "0.000000001",
    "é",
    "🦀",
    "\u{202e}",
    "\u{feff}",
    "%00",
    "%2F",
    "%25",
    "${X}",
    "$${",
    "\\",
    "\"",
    "'",
    "{",
    "}",
    "[",
    "]",
    "://",
    "@",
    ":",
    "/",
    "..",
    "%",
    "#",
    "?",
    "=",
    "&",
    ",",
];

thread_local! {
    static FUZZING: RefCell<bool> = const { RefCell::new(false) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A panic hook that records the message silently while this thread fuzzes, and defers to the previous
/// hook otherwise (so test failures still print).
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if FUZZING.with(|f| *f.borrow()) {
                let location = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                let payload = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(std::string::ToString::to_string)
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_string());
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("panicked{location}: {payload}")));
            } else {
                previous(info);
            }
        }));
    });
}

/// Run one input; `Err(message)` when it panicked.
pub fn exec(target: &Target, input: &[u8]) -> Result<Duration, String> {
    install_hook();
    FUZZING.with(|f| *f.borrow_mut() = true);
    let start = Instant::now();
    let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    let took = start.elapsed();
    FUZZING.with(|f| *f.borrow_mut() = false);
    match result {
        Ok(()) => Ok(took),
        Err(_) => Err(LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| "panicked".to_string())),
    }
}

/// The committed corpus directory of a target.
pub fn corpus_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus").join(name)
}

/// Every file of a target's corpus, sorted by name.
pub fn load_corpus(name: &str) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(corpus_dir(name))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.sort();
    paths
        .into_iter()
        .filter(|p| p.is_file())
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

/// Where findings are written: `target/fuzz-findings/<target>/`.
pub fn findings_dir(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    target.join("fuzz-findings").join(name)
}

fn finding(target: &Target, input: &[u8], message: String) -> Finding {
    let dir = findings_dir(target.name);
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    let path = dir.join(format!("finding-{hash:016x}"));
    let saved = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, input))
        .ok()
        .map(|()| path);
    Finding {
        target: target.name,
        input: input.to_vec(),
        message,
        saved,
    }
}

/// Replay every corpus entry once.
pub fn replay(target: &Target) -> Result<Stats, Finding> {
    let corpus = load_corpus(target.name);
    let mut stats = Stats {
        corpus: corpus.len(),
        ..Stats::default()
    };
    let start = Instant::now();
    for input in &corpus {
        let took = exec(target, input).map_err(|m| finding(target, input, m))?;
        stats.slowest = stats.slowest.max(took);
        stats.execs += 1;
    }
    stats.elapsed = start.elapsed();
    Ok(stats)
}

/// Replay the corpus, then mutate it for `budget`. `seed`: `None` picks one (printed in [`Stats`]).
pub fn fuzz(target: &Target, budget: Duration, seed: Option<u64>) -> Result<Stats, Finding> {
    let start = Instant::now();
    let mut stats = replay(target)?;
    let seed = seed.unwrap_or_else(|| fastrand::u64(..));
    stats.seed = seed;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut corpus = load_corpus(target.name);
    if corpus.is_empty() {
        corpus.push(Vec::new());
    }
    while start.elapsed() < budget {
        let base = &corpus[rng.usize(..corpus.len())];
        let input = mutate(&mut rng, base, &corpus, target.dictionary, target.max_len);
        let took = exec(target, &input).map_err(|m| finding(target, &input, m))?;
        stats.slowest = stats.slowest.max(took);
        stats.execs += 1;
    }
    stats.elapsed = start.elapsed();
    Ok(stats)
}

/// 1 to 16 random edits of `base` (skewed towards few), cut to `max_len`.
pub fn mutate(rng: &mut fastrand::Rng, base: &[u8], corpus: &[Vec<u8>], dict: &[&str], max_len: usize) -> Vec<u8> {
    let mut out = base.to_vec();
    let edits = 1usize << rng.usize(..5);
    for _ in 0..edits.min(16) {
        edit(rng, &mut out, corpus, dict);
        if out.len() > max_len {
            out.truncate(max_len);
        }
    }
    out
}

fn token<'a>(rng: &mut fastrand::Rng, dict: &[&'a str]) -> &'a [u8] {
    if !dict.is_empty() && rng.bool() {
        dict[rng.usize(..dict.len())].as_bytes()
    } else {
        HOSTILE[rng.usize(..HOSTILE.len())].as_bytes()
    }
}

fn edit(rng: &mut fastrand::Rng, out: &mut Vec<u8>, corpus: &[Vec<u8>], dict: &[&str]) {
    let len = out.len();
    let pos = rng.usize(..=len);
    match rng.u8(..10) {
        0 if len > 0 => out[pos.min(len - 1)] ^= 1 << rng.u8(..8),
        1 if len > 0 => out[pos.min(len - 1)] = rng.u8(..),
        2 => out.insert(
            pos,
            *b"\0\n\"\\%$:/@.-_ 09aZ\x7f\xff".get(rng.usize(..18)).unwrap_or(&b'a'),
        ),
        3 if len > 0 => {
            let end = (pos + 1 + rng.usize(..=len.min(32))).min(len);
            out.drain(pos.min(len - 1)..end);
        }
        4 if len > 0 => {
            let from = rng.usize(..len);
            let chunk: Vec<u8> = out[from..(from + 1 + rng.usize(..64)).min(len)].to_vec();
            out.splice(pos..pos, chunk);
        }
        5 => {
            let t = token(rng, dict).to_vec();
            out.splice(pos..pos, t);
        }
        6 if len > 0 => {
            let t = token(rng, dict).to_vec();
            let end = (pos + t.len()).min(len);
            out.splice(pos.min(len)..end, t);
        }
        7 => {
            let other = &corpus[rng.usize(..corpus.len())];
            let cut = rng.usize(..=other.len());
            out.truncate(pos);
            out.extend_from_slice(&other[cut..]);
        }
        8 if len > 0 => {
            // Deep nesting and long strings: repeat a short chunk up to 2000 times.
            let from = rng.usize(..len);
            let chunk: Vec<u8> = out[from..(from + 1 + rng.usize(..8)).min(len)].to_vec();
            let times = 1 + rng.usize(..2000);
            let repeated: Vec<u8> = chunk.iter().copied().cycle().take(chunk.len() * times).collect();
            out.splice(from..from, repeated);
        }
        _ => replace_number(rng, out),
    }
}

/// Replace a run of ASCII digits with a hostile number.
fn replace_number(rng: &mut fastrand::Rng, out: &mut Vec<u8>) {
    const NUMBERS: &[&str] = &[
        "0",
        "-1",
        "1e30",
        "inf",
        "NaN",
        "18446744073709551615",
        "18446744073709551616",
        "9223372036854775807",
        "4294967295",
        "65536",
        "99999999999999999999999999",
        "0.5",
        "-0",
    ];
    let digits: Vec<usize> = (0..out.len()).filter(|i| out[*i].is_ascii_digit()).collect();
    let n = NUMBERS[rng.usize(..NUMBERS.len())].as_bytes().to_vec();
    if digits.is_empty() {
        let pos = rng.usize(..=out.len());
        out.splice(pos..pos, n);
        return;
    }
    let start = digits[rng.usize(..digits.len())];
    let mut end = start;
    while end < out.len() && out[end].is_ascii_digit() {
        end += 1;
    }
    out.splice(start..end, n);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panics_on_bang(data: &[u8]) {
        assert!(!data.contains(&b'!'), "found a bang");
    }

    const BANG: Target = Target {
        name: "engine-self-test",
        about: "panics on `!`",
        dictionary: &["!"],
        max_len: 64,
        run: panics_on_bang,
    };

    #[test]
    fn a_panic_is_a_finding_with_its_message_and_the_input_is_saved() {
        let f = fuzz(&BANG, Duration::from_secs(5), Some(7)).unwrap_err();
        assert!(f.input.contains(&b'!'));
        assert!(f.message.contains("found a bang"), "{}", f.message);
        assert!(f.message.contains("engine.rs"), "{}", f.message);
        let saved = f.saved.clone().unwrap();
        assert_eq!(std::fs::read(&saved).unwrap(), f.input);
        std::fs::remove_file(saved).unwrap();
    }

    #[test]
    fn mutations_stay_within_the_limit_and_vary() {
        let mut rng = fastrand::Rng::with_seed(1);
        let corpus = vec![b"registry.example.test/app:1.2.3".to_vec()];
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..2000 {
            let m = mutate(&mut rng, &corpus[0], &corpus, &["sha256:"], 100);
            assert!(m.len() <= 100);
            distinct.insert(m);
        }
        assert!(distinct.len() > 1500, "only {} distinct mutations", distinct.len());
    }
}
