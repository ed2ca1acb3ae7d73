//! A `docfleet api` process and an HTTP client for it (curl), for the end-to-end tests.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::fleet::Fleet;

pub struct Api {
    pub child: Child,
    pub base: String,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `docfleet api` on a free port and waits for its address.
pub fn start_api(fleet: &Fleet, name: &str, extra: &[(&str, &str)]) -> Api {
    let log = fleet.data_dir().join(format!("{name}.log"));
    let child = fleet
        .cmd()
        .arg("api")
        .env("DOCFLEET_API_ADDR", "127.0.0.1:0")
        .env("DOCFLEET_API_MAX_BODY_BYTES", "4096")
        .envs(extra.iter().copied())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Owned by `Api` from here, so a failed start still kills and reaps it.
    let mut api = Api {
        child,
        base: String::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(addr) = text
            .lines()
            .find_map(|l| l.strip_prefix("docfleet API listening on "))
        {
            api.base = addr.trim().to_owned();
            return api;
        }
        assert!(Instant::now() < deadline, "the API did not start:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// A problem+json answer with this status.
    pub fn assert_problem(&self, status: u16) {
        assert_eq!(self.status, status, "{}", self.body);
        assert!(
            self.headers.contains("application/problem+json"),
            "{}",
            self.headers
        );
        let p = self.json();
        assert_eq!(p["status"], status);
        assert!(!p["detail"].as_str().unwrap().is_empty());
    }
}

impl Api {
    /// `send`, failing the test on a 5xx answer.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
        headers: &[&str],
    ) -> Reply {
        let reply = self.send(method, path, key, body, headers);
        assert!(
            reply.status < 500,
            "{method} {path} answered {}: {}",
            reply.status,
            reply.body
        );
        reply
    }

    /// One request with curl; any status is an answer.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
        headers: &[&str],
    ) -> Reply {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-i", "-X", method, &format!("{}{path}", self.base)]);
        if let Some(key) = key {
            cmd.args(["-H", &format!("Authorization: Bearer {key}")]);
        }
        if let Some(body) = body {
            cmd.args([
                "-H",
                "content-type: application/json",
                "--data-binary",
                body,
            ]);
        }
        // No `Expect: 100-continue` (its interim answer would precede the real one).
        cmd.args(["-H", "Expect:"]);
        // Extra curl arguments: headers ("Name: value") or whole options ("-F", "…").
        let mut extra = headers.iter();
        while let Some(h) = extra.next() {
            if h.starts_with('-') {
                cmd.arg(h).args(extra.next());
            } else {
                cmd.args(["-H", h]);
            }
        }
        let out = cmd.output().expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        Reply {
            status,
            headers: head.to_lowercase(),
            body: body.to_owned(),
        }
    }

    pub fn get(&self, path: &str, key: &str) -> Reply {
        self.call("GET", path, Some(key), None, &[])
    }

    pub fn post(&self, path: &str, key: &str, body: &Value, headers: &[&str]) -> Reply {
        self.call("POST", path, Some(key), Some(&body.to_string()), headers)
    }
}

pub fn cli(fleet: &Fleet, args: &[&str]) -> String {
    let out = super::ok(fleet.cmd().args(args).output().unwrap());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
