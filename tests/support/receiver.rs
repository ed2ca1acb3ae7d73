//! A plain HTTP receiver on a free port, for what the fleet sends out: webhooks, OTLP/HTTP
//! trace exports. Every request is handed to the test; the first `refuse_first` are answered
//! 500 (to exercise retries), the rest 200.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

/// One recorded request.
pub struct Request {
    /// The request target, e.g. `/v1/traces`.
    pub path: String,
    /// Header lines, lower-cased (`name: value\r\n` each).
    pub headers: String,
    pub body: Vec<u8>,
}

impl Request {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}:");
        self.headers
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(|v| v.trim().to_owned())
    }

    /// A webhook's delivery id (`Docfleet-Delivery`), the same on every retry.
    pub fn delivery_id(&self) -> String {
        self.header("docfleet-delivery").expect("a delivery id")
    }

    /// The webhook's `Docfleet-Signature` (`t=<secs>,v1=<hex>`) is HMAC-SHA256 of `<t>.<body>`
    /// under `secret`.
    pub fn assert_signed_with(&self, secret: &str, what: &str) {
        let sig = self.header("docfleet-signature").expect("signed");
        let (t, v1) = sig
            .strip_prefix("t=")
            .and_then(|r| r.split_once(",v1="))
            .unwrap();
        assert_eq!(
            v1,
            python_hmac(secret, &format!("{t}.{}", self.text())),
            "{what}"
        );
    }
}

/// HMAC-SHA256 by Python's hmac module: an implementation independent of the worker's.
fn python_hmac(secret: &str, message: &str) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import hmac,hashlib,sys; print(hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())",
            secret,
            message,
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The next `n` requests, each within `within` of the one before.
pub fn next_requests(requests: &Receiver<Request>, n: usize, within: Duration) -> Vec<Request> {
    (0..n)
        .map(|i| {
            requests
                .recv_timeout(within)
                .unwrap_or_else(|e| panic!("request {} of {n}: {e}", i + 1))
        })
        .collect()
}

/// Starts the receiver; returns its base URL (`http://127.0.0.1:<port>`) and the requests.
/// Each connection is served on its own thread and kept alive, as HTTP/1.1 clients expect
/// (closing after one answer races with a client reusing the connection: lost requests).
pub fn start(refuse_first: usize) -> (String, Receiver<Request>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = channel();
    let answered = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (tx, answered) = (tx.clone(), answered.clone());
            std::thread::spawn(move || serve(conn, refuse_first, &answered, &tx));
        }
    });
    (base, rx)
}

/// Answers the requests of one connection until the client closes it.
fn serve(mut conn: TcpStream, refuse_first: usize, answered: &AtomicUsize, tx: &Sender<Request>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    loop {
        let mut start_line = String::new();
        if reader.read_line(&mut start_line).unwrap_or(0) == 0 {
            return;
        }
        let path = start_line
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_owned();
        let mut headers = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            headers.push_str(&line.to_lowercase());
        }
        let len: usize = headers
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .map_or(0, |v| v.trim().parse().unwrap());
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let status = if answered.fetch_add(1, Ordering::SeqCst) < refuse_first {
            "500 Internal Server Error"
        } else {
            "200 OK"
        };
        let request = Request {
            path,
            headers,
            body,
        };
        // Handed over before the answer: a client that saw the answer finds the request here.
        if tx.send(request).is_err() {
            return;
        }
        if write!(conn, "HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").is_err() {
            return;
        }
    }
}
