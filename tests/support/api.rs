//! A `docfleet api` process and an HTTP client for it (curl), for the end-to-end tests.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::fleet::Fleet;

pub struct Api {
    pub child: Child,
    pub base: String,
    /// Whether a 5xx answer fails the test (the default; see `tolerating_server_errors`).
    strict: bool,
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
        strict: true,
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

    /// The response's X-Request-Id.
    pub fn request_id(&self) -> String {
        self.headers
            .lines()
            .find_map(|l| l.strip_prefix("x-request-id: "))
            .unwrap_or_else(|| panic!("no x-request-id in {}", self.headers))
            .trim()
            .to_owned()
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
    /// 5xx answers no longer fail the test: for a test whose calls may meet a missing
    /// dependency (a search without an index) and that checks every status itself.
    pub fn tolerating_server_errors(mut self) -> Self {
        self.strict = false;
        self
    }

    /// One request with curl; a 5xx answer fails the test (unless tolerated), any other
    /// status is an answer.
    pub fn call(
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
        assert!(
            !self.strict || status < 500,
            "{method} {path} answered {status}: {body}"
        );
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

    pub fn delete(&self, path: &str, key: &str) -> Reply {
        self.call("DELETE", path, Some(key), None, &[])
    }
}

pub fn cli(fleet: &Fleet, args: &[&str]) -> String {
    let out = super::ok(fleet.cmd().args(args).output().unwrap());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
