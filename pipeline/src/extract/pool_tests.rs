//! The pool against real child processes that really crash, hang, exit or misbehave. Children
//! that must speak the protocol are a small Python fake (Python 3 is already needed by
//! ./scripts/setup); the docfleet binary's own child is covered by tests/run_e2e.rs.

use std::path::Path;
use std::time::{Duration, Instant};

use super::*;

fn sh(script: &str) -> ExtractorCommand {
    ExtractorCommand::new("sh", ["-c", script])
}

/// Speaks the wire protocol. The document decides what it does: `CRASH` → SIGSEGV after a line
/// on stderr, `HANG` → sleeps, `EXIT` → exits 3, `GARBAGE` → answers a 4 GiB frame length,
/// `SLOW` → answers after 200 ms; otherwise one page "<text> pid=<pid>".
const FAKE_CHILD: &str = r#"
import json, os, signal, struct, sys, time
inp, out = sys.stdin.buffer, sys.stdout.buffer
def frame():
    n = inp.read(4)
    if len(n) < 4: sys.exit(0)
    return inp.read(struct.unpack('<I', n)[0])
while True:
    header = json.loads(frame())
    body = frame()
    if b'CRASH' in body:
        sys.stderr.write('about to crash on purpose\n'); sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGSEGV)
    if b'HANG' in body: time.sleep(1000)
    if b'EXIT' in body: sys.exit(3)
    if b'GARBAGE' in body:
        out.write(b'\xff\xff\xff\xff'); out.flush(); time.sleep(1000)
    if b'SLOW' in body: time.sleep(0.2)
    if b'PAGES' in body:
        answer = {'err': {'kind': 'too_many_pages', 'pages': 9, 'limit': header['max_pages']}}
    else:
        answer = {'ok': [{'number': 1, 'text': body.decode() + ' pid=%d' % os.getpid()}]}
    data = json.dumps(answer).encode()
    out.write(struct.pack('<I', len(data)) + data); out.flush()
"#;

fn fake_pool(processes: usize, timeout: Duration) -> ProcessPoolExtractor {
    let command = ExtractorCommand::new("python3", ["-c", FAKE_CHILD]);
    ProcessPoolExtractor::new(command, processes, timeout)
}

fn text(pool: &ProcessPoolExtractor, doc: &str) -> Result<Vec<Page>> {
    pool.extract(doc.as_bytes(), MediaType::PlainText)
}

/// The pid the fake child reports in its page.
fn pid(pages: &[Page]) -> u32 {
    let (_, pid) = pages[0].text.rsplit_once("pid=").unwrap();
    pid.parse().unwrap()
}

/// A reaped process has no /proc entry (a zombie still has one).
fn gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn a_segfaulting_child_fails_the_document_and_the_pool_goes_on() {
    let pool = ProcessPoolExtractor::new(sh("kill -SEGV $$"), 1, Duration::from_secs(10));
    for _ in 0..2 {
        // The second call gets a fresh child: a dead one is never reused.
        let err = text(&pool, "anything").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::ExtractorCrashed(_)), "{err:?}");
        assert!(
            msg.contains("crashed the extractor process (killed by signal 11, SIGSEGV)"),
            "{msg}"
        );
        assert!(!err.is_retryable());
    }

    let pool = fake_pool(1, Duration::from_secs(10));
    let first = pid(&text(&pool, "good").unwrap());
    let err = text(&pool, "CRASH").unwrap_err().to_string();
    assert!(err.contains("(killed by signal 11, SIGSEGV)"), "{err}");
    assert!(
        err.contains("its last output: about to crash on purpose"),
        "{err}"
    );
    assert!(gone(first), "the crashed child was reaped");
    let pages = text(&pool, "good again").unwrap();
    assert!(pages[0].text.starts_with("good again"), "{pages:?}");
    assert_ne!(pid(&pages), first, "a fresh child after the crash");
}

#[test]
fn a_hanging_child_is_killed_at_the_timeout() {
    // `sleep` never reads its stdin: the request write blocks too once the pipe is full.
    let pool = ProcessPoolExtractor::new(
        ExtractorCommand::new("sleep", ["1000"]),
        1,
        Duration::from_secs(1),
    );
    let started = Instant::now();
    let err = pool
        .extract(&vec![b'a'; 1 << 20], MediaType::PlainText)
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, Error::ExtractTimeout { secs: 1 }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "extraction took longer than 1 s (extract_timeout_secs)"
    );
    assert!(!err.is_retryable());

    let pool = fake_pool(1, Duration::from_secs(1));
    let first = pid(&text(&pool, "good").unwrap());
    assert!(matches!(
        text(&pool, "HANG"),
        Err(Error::ExtractTimeout { .. })
    ));
    assert!(gone(first), "the hanging child was killed and reaped");
    assert_ne!(pid(&text(&pool, "good").unwrap()), first);
}

#[test]
fn a_child_that_exits_without_answering_is_a_crash() {
    let pool = ProcessPoolExtractor::new(sh("exit 0"), 1, Duration::from_secs(10));
    let err = text(&pool, "x").unwrap_err();
    assert!(matches!(err, Error::ExtractorCrashed(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("exited with status 0 without answering"),
        "{err}"
    );

    let pool = fake_pool(1, Duration::from_secs(10));
    let err = text(&pool, "EXIT").unwrap_err().to_string();
    assert!(err.contains("exited with status 3"), "{err}");
    let err = text(&pool, "GARBAGE").unwrap_err();
    assert!(
        matches!(&err, Error::ExtractorCrashed(m) if m.contains("invalid answer")),
        "{err:?}"
    );
    assert!(text(&pool, "fine").is_ok());
}

#[test]
fn idle_children_are_reused_errors_keep_their_variant_and_drop_reaps() {
    let pool = fake_pool(2, Duration::from_secs(10)).with_options(
        ExtractOptions {
            max_pages: 4,
            ..ExtractOptions::default()
        },
        1024,
    );
    let a = pid(&text(&pool, "one").unwrap());
    let b = pid(&text(&pool, "two").unwrap());
    assert_eq!(a, b, "an idle child is reused");
    match text(&pool, "PAGES") {
        Err(Error::TooManyPages { pages: 9, limit: 4 }) => {}
        other => panic!("the header's max_pages reaches the child: {other:?}"),
    }
    assert_eq!(
        pid(&text(&pool, "three").unwrap()),
        a,
        "an error answer keeps the child"
    );
    let err = pool
        .extract(&[b'x'; 1025], MediaType::PlainText)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooLarge {
                size_bytes: 1025,
                limit_bytes: 1024
            }
        ),
        "{err:?}"
    );
    drop(pool);
    assert!(
        gone(a),
        "dropping the pool kills and reaps its idle children"
    );
}

#[test]
fn at_most_n_children_work_at_once() {
    let pool = fake_pool(2, Duration::from_secs(20));
    let started = Instant::now();
    let pids: Vec<u32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| s.spawn(|| pid(&text(&pool, "SLOW").unwrap())))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut distinct = pids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        2,
        "two children serve six documents: {pids:?}"
    );
    // 6 documents × 200 ms on 2 children: at least 3 rounds.
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_missing_program_is_a_retryable_startup_error() {
    let pool = ProcessPoolExtractor::new(
        ExtractorCommand::new("/nonexistent/docfleet", ["extract-worker"]),
        1,
        Duration::from_secs(1),
    );
    let err = text(&pool, "x").unwrap_err();
    assert!(matches!(err, Error::Io(_)) && err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/docfleet"), "{err}");
}
