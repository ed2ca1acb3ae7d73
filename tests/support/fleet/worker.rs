//! One `docfleet worker` process of a test fleet: its log, its ops endpoints, signals.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

pub struct Worker {
    pub child: Child,
    pub log: PathBuf,
}

impl Worker {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The address of the ops endpoints, from the worker's startup line.
    pub fn ops_addr(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let log = self.log_text();
            if let Some(rest) = log.split("ops endpoints on http://").nth(1) {
                return rest.lines().next().unwrap().trim().to_owned();
            }
            assert!(Instant::now() < deadline, "no ops address in:\n{log}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// GET `path` from the ops endpoints: (status code, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(self.ops_addr()).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let code = resp.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body = resp
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (code, body)
    }

    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }

    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "worker still running after {within:?}:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
