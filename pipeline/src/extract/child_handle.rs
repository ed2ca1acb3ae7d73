//! The parent's handle on one extractor child process: how to start it ([`ExtractorCommand`]),
//! its pipes, a thread that reads its answers (so waiting for one can time out), a thread that
//! keeps the tail of its stderr (for crash reports), and how it died. The child's side of the
//! protocol is [`super::child_loop`].

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::wire::{self, MAX_RESPONSE_BYTES};

/// How much of the child's stderr is kept for a crash report.
const STDERR_TAIL_BYTES: usize = 2048;
/// Lines of that tail quoted in the report.
const STDERR_TAIL_LINES: usize = 5;
/// After its stdout closes, how long a dying child gets to be reaped with its own exit status
/// before it is killed.
const REAP_GRACE: Duration = Duration::from_secs(2);

/// How to start one extractor child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractorCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Set on top of the parent's environment.
    pub env: Vec<(String, String)>,
}

impl ExtractorCommand {
    pub fn new(
        program: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
        }
    }
}

/// Why a request got no answer.
#[derive(Debug)]
pub(super) enum NoAnswer {
    /// The deadline passed; the child has been killed.
    TimedOut,
    /// The child closed its stdout (it exited or crashed).
    Closed,
    /// The child wrote something that is not a frame.
    Garbled(io::Error),
}

pub(super) struct ExtractorProcess {
    child: Child,
    stdin: ChildStdin,
    answers: Receiver<io::Result<Vec<u8>>>,
    stderr_tail: Arc<Mutex<VecDeque<u8>>>,
    /// Disconnects when the stderr thread has read to the end.
    stderr_done: Receiver<()>,
}

impl ExtractorProcess {
    pub(super) fn spawn(command: &ExtractorCommand) -> io::Result<Self> {
        let mut child = Command::new(&command.program)
            .args(&command.args)
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("the child's pipes were not set up"));
        };
        let pid = child.id();

        let (tx, answers) = mpsc::channel();
        thread::Builder::new()
            .name(format!("extractor-{pid}-out"))
            .spawn(move || {
                let mut out = BufReader::new(stdout);
                loop {
                    let (frame, last) = match wire::read_frame(&mut out, MAX_RESPONSE_BYTES) {
                        Ok(Some(frame)) => (Ok(frame), false),
                        Ok(None) => (Err(io::ErrorKind::UnexpectedEof.into()), true),
                        Err(e) => (Err(e), true),
                    };
                    if tx.send(frame).is_err() || last {
                        return;
                    }
                }
            })?;

        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail = Arc::clone(&stderr_tail);
        let (done_tx, stderr_done) = mpsc::channel::<()>();
        thread::Builder::new()
            .name(format!("extractor-{pid}-err"))
            .spawn(move || {
                let _done = done_tx; // dropped at EOF: tells a crash report the tail is complete
                let mut err = BufReader::new(stderr);
                let mut line = Vec::new();
                while matches!(err.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                    let text = String::from_utf8_lossy(&line);
                    tracing::debug!(pid, "extractor: {}", text.trim_end());
                    let mut tail = tail.lock().unwrap_or_else(|p| p.into_inner());
                    tail.extend(line.iter());
                    let excess = tail.len().saturating_sub(STDERR_TAIL_BYTES);
                    tail.drain(..excess);
                    line.clear();
                }
            })?;

        Ok(Self {
            child,
            stdin,
            answers,
            stderr_tail,
            stderr_done,
        })
    }

    /// Whether it is still running (an idle child can die, e.g. to the OOM killer).
    pub(super) fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Writes one request (`header` and `body` frames) and waits for the answer frame, up to
    /// `timeout` from the request or from the child's last heartbeat (an empty frame: an OCR'd
    /// page). On timeout the child is killed.
    pub(super) fn request(
        &mut self,
        header: &[u8],
        body: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, NoAnswer> {
        let Self {
            child,
            stdin,
            answers,
            ..
        } = self;
        thread::scope(|scope| {
            // Writing can block (a child that stops reading fills the pipe), so it runs beside
            // the wait. Killing the child closes the pipe, which ends a blocked write (EPIPE).
            let writer = scope.spawn(move || {
                wire::write_frame(stdin, header)?;
                wire::write_frame(stdin, body)?;
                stdin.flush()
            });
            let answer = loop {
                break match answers.recv_timeout(timeout) {
                    Ok(Ok(frame)) if frame.as_slice() == wire::HEARTBEAT => continue,
                    Ok(Ok(frame)) => Ok(frame),
                    Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Err(NoAnswer::Closed),
                    Ok(Err(e)) => Err(NoAnswer::Garbled(e)),
                    Err(RecvTimeoutError::Disconnected) => Err(NoAnswer::Closed),
                    Err(RecvTimeoutError::Timeout) => {
                        let _ = child.kill();
                        Err(NoAnswer::TimedOut)
                    }
                };
            };
            // A write error means the child went away; the answer (EOF) already says so.
            let _ = writer.join();
            answer
        })
    }

    /// For a child whose stdout closed: reaps it (waiting briefly, so its own exit status or
    /// signal is seen rather than our kill) and describes how it died, with its last stderr lines.
    pub(super) fn death_report(mut self) -> String {
        let status = self.reap();
        // The stderr pipe closes when the child is gone; wait a moment for the last lines.
        let _ = self.stderr_done.recv_timeout(Duration::from_millis(500));
        let mut report = match status {
            Some(status) => describe(status),
            None => "the extractor process closed its output without answering".to_owned(),
        };
        let tail = self.stderr_tail();
        if !tail.is_empty() {
            report.push_str("; its last output: ");
            report.push_str(&tail);
        }
        report
    }

    fn reap(&mut self) -> Option<ExitStatus> {
        let deadline = Instant::now() + REAP_GRACE;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) => thread::sleep(Duration::from_millis(5)),
                Err(_) => return None,
            }
        }
        let _ = self.child.kill();
        self.child.wait().ok()
    }

    /// The last lines of stderr, joined with " | ".
    fn stderr_tail(&self) -> String {
        let tail = self.stderr_tail.lock().unwrap_or_else(|p| p.into_inner());
        let (a, b) = tail.as_slices();
        let text = String::from_utf8_lossy(&[a, b].concat()).into_owned();
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        lines[lines.len().saturating_sub(STDERR_TAIL_LINES)..].join(" | ")
    }
}

impl Drop for ExtractorProcess {
    /// Never leaves a running child or a zombie behind (idle children at pool drop, crashed or
    /// timed-out ones). Killing an idle child is safe: it holds no state.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// "the document crashed the extractor process (killed by signal 11, SIGSEGV)".
fn describe(status: ExitStatus) -> String {
    match (status.signal(), status.code()) {
        (Some(signal), _) => format!(
            "the document crashed the extractor process (killed by signal {signal}, {})",
            signal_name(signal)
        ),
        (None, Some(code)) => {
            format!("the extractor process exited with status {code} without answering")
        }
        (None, None) => format!("the extractor process ended ({status}) without answering"),
    }
}

/// Names of the signals a crash or a kill brings (Linux numbering).
fn signal_name(signal: i32) -> &'static str {
    match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        31 => "SIGSYS",
        _ => "unknown signal",
    }
}
