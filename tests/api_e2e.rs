//! The job API end to end: a real `docfleet api` process and a real worker, on RabbitMQ and
//! PostgreSQL with an S3 (moto) bucket for uploads and artifacts, tenants and keys made with the
//! CLI; HTTP through curl.
//!
//! Submit (single, idempotent, batch) → the worker runs the jobs → the API reports them; tenant
//! isolation on every route; malformed and oversized requests answer problem+json 4xx, never 5xx.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::fixtures;
use support::fleet::{Fleet, Kind, create_bucket, s3};

struct Api {
    child: Child,
    base: String,
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `docfleet api` on a free port and waits for its address.
fn start_api(fleet: &Fleet, name: &str, extra: &[(&str, &str)]) -> Api {
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

struct Reply {
    status: u16,
    headers: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// A problem+json answer with this status.
    fn assert_problem(&self, status: u16) {
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
    fn call(
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
        assert!(status < 500, "{method} {path} answered {status}: {body}");
        Reply {
            status,
            headers: head.to_lowercase(),
            body: body.to_owned(),
        }
    }

    fn get(&self, path: &str, key: &str) -> Reply {
        self.call("GET", path, Some(key), None, &[])
    }

    fn post(&self, path: &str, key: &str, body: &Value, headers: &[&str]) -> Reply {
        self.call("POST", path, Some(key), Some(&body.to_string()), headers)
    }
}

fn cli(fleet: &Fleet, args: &[&str]) -> String {
    let out = support::ok(fleet.cmd().args(args).output().unwrap());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn uri(name: &str) -> String {
    let path = std::fs::canonicalize(fixtures().join("docs").join(name)).unwrap();
    format!("file://{}", Path::new(&path).display())
}

#[test]
fn submit_run_read_with_tenants_kept_apart() {
    let fleet = Fleet::new(Kind::Rabbitmq, "api");
    cli(&fleet, &["tenants", "create", "acme"]);
    cli(&fleet, &["tenants", "create", "globex"]);
    let a = cli(&fleet, &["keys", "create", "acme", "--label", "e2e"]);
    let b = cli(&fleet, &["keys", "create", "globex"]);
    // Uploads and artifacts go to a bucket: API and worker share the object store.
    let bucket = format!("api-{}", &fleet.queue_name[fleet.queue_name.len() - 8..]);
    create_bucket(&s3(), &bucket);
    let store_url = format!("s3://{bucket}/fleet");
    let store_env = ("DOCFLEET_OBJECT_STORE_URL", store_url.as_str());
    let api = start_api(
        &fleet,
        "api",
        &[("DOCFLEET_API_ALLOW_FILE_SOURCES", "true"), store_env],
    );

    // One job, idempotent.
    let body = json!({"source": uri("honeybee-swarms.txt")});
    let first = api.post("/v1/jobs", &a, &body, &["Idempotency-Key: upload-1"]);
    assert_eq!(first.status, 202, "{}", first.body);
    let job = first.json();
    let job_id = job["job_id"].as_str().unwrap().to_owned();
    assert!(
        first
            .headers
            .contains(&format!("location: /v1/jobs/{job_id}"))
    );
    let again = api.post("/v1/jobs", &a, &body, &["Idempotency-Key: upload-1"]);
    assert_eq!(
        (again.status, again.json()["job_id"].as_str().unwrap()),
        (202, job_id.as_str())
    );
    assert!(again.headers.contains("idempotent-replayed: true"));
    let other = json!({"source": uri("ocean-tides.html")});
    api.post("/v1/jobs", &a, &other, &["Idempotency-Key: upload-1"])
        .assert_problem(422);

    // A batch of three.
    let batch = json!({"uris": [uri("marathon-training.md"), uri("ocean-tides.html"), uri("volcanic-eruptions.pdf")]});
    let reply = api.post("/v1/batches", &a, &batch, &[]);
    assert_eq!(reply.status, 202, "{}", reply.body);
    let batch_id = reply.json()["batch_id"].as_str().unwrap().to_owned();

    // An upload: stored in the bucket first, then its job.
    let pdf = fixtures().join("docs/chess-openings.pdf");
    let upload = api.call(
        "POST",
        "/v1/jobs",
        Some(&a),
        None,
        &[
            "-F",
            &format!("file=@{};filename=chess openings.pdf", pdf.display()),
        ],
    );
    assert_eq!(upload.status, 202, "{}", upload.body);
    let uploaded = upload.json();
    let source = uploaded["source"].as_str().unwrap();
    assert!(
        source.starts_with(&format!("s3://{bucket}/fleet/acme/_uploads/"))
            && source.ends_with("/chess_openings.pdf"),
        "{source}"
    );
    api.call(
        "POST",
        "/v1/jobs",
        Some(&a),
        None,
        &["-F", "other=@/dev/null"],
    )
    .assert_problem(400);

    let mut worker = fleet.spawn_worker(
        "api-worker",
        &[("DOCFLEET_EXIT_WHEN_IDLE", "true"), store_env],
    );
    assert!(
        worker.wait(Duration::from_secs(240)).success(),
        "{}",
        worker.log_text()
    );
    let uploaded_job = api
        .get(
            &format!("/v1/jobs/{}", uploaded["job_id"].as_str().unwrap()),
            &a,
        )
        .json();
    assert_eq!(uploaded_job["state"], "succeeded", "{uploaded_job}");
    assert!(uploaded_job["pages"].as_u64().unwrap() >= 1);

    let got = api.get(&format!("/v1/jobs/{job_id}"), &a).json();
    assert_eq!(got["state"], "succeeded", "{got}");
    assert!(got["chunks"].as_u64().unwrap() >= 1);
    let progress = api.get(&format!("/v1/batches/{batch_id}"), &a).json();
    assert_eq!(progress["total"], 3, "{progress}");
    assert_eq!(progress["succeeded"], 3, "{progress}");
    let sum: u64 = ["queued", "running", "succeeded", "failed", "dead"]
        .iter()
        .map(|s| progress[s].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 3, "the counts add up");

    // Paging: 5 jobs, 3 per page.
    let page1 = api.get("/v1/jobs?limit=3", &a).json();
    let cursor = page1["next_cursor"].as_i64().unwrap();
    let page2 = api
        .get(&format!("/v1/jobs?limit=3&cursor={cursor}"), &a)
        .json();
    let ids: Vec<&str> = page1["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["jobs"].as_array().unwrap())
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 5);
    assert!(
        page2.get("next_cursor").is_none(),
        "the last page has no cursor"
    );
    assert_eq!(ids[0], job_id);
    let batch_only = api
        .get(&format!("/v1/jobs?batch={batch_id}&state=succeeded"), &a)
        .json();
    assert_eq!(batch_only["jobs"].as_array().unwrap().len(), 3);

    // Tenant B sees none of it.
    api.get(&format!("/v1/jobs/{job_id}"), &b)
        .assert_problem(404);
    api.get(&format!("/v1/batches/{batch_id}"), &b)
        .assert_problem(404);
    assert!(
        api.get("/v1/jobs", &b).json()["jobs"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        api.get(&format!("/v1/jobs?batch={batch_id}"), &b).json()["jobs"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // B replaying A's idempotency key makes B's own job, not A's.
    let b_job = api
        .post("/v1/jobs", &b, &body, &["Idempotency-Key: upload-1"])
        .json();
    assert_ne!(b_job["job_id"].as_str().unwrap(), job_id);

    // Bad requests: problem+json 4xx, never 5xx.
    api.call("GET", "/v1/jobs", None, None, &[])
        .assert_problem(401);
    api.get(
        "/v1/jobs",
        "dfk_000000000000_0000000000000000000000000000000000000000000000000000000000000000",
    )
    .assert_problem(401);
    api.call("POST", "/v1/jobs", Some(&a), Some("{not json"), &[])
        .assert_problem(400);
    api.post(
        "/v1/jobs",
        &a,
        &json!({"source": uri("ocean-tides.html"), "extra": 1}),
        &[],
    )
    .assert_problem(422);
    api.post(
        "/v1/jobs",
        &a,
        &json!({"source": "http://example.com/a.pdf"}),
        &[],
    )
    .assert_problem(400);
    api.post("/v1/jobs", &a, &json!({"source": "x".repeat(5000)}), &[])
        .assert_problem(413);
    api.get("/v1/jobs/not-a-uuid", &a).assert_problem(400);
    api.get("/v1/jobs?limit=0", &a).assert_problem(400);
    api.get("/v1/jobs?state=bogus", &a).assert_problem(400);
    api.post("/v1/batches", &a, &json!({"uris": []}), &[])
        .assert_problem(400);
    api.get("/v1/nothing-here", &a).assert_problem(404);

    // The contract lists every route.
    let spec = api.call("GET", "/openapi.json", None, None, &[]).json();
    for path in [
        "/v1/jobs",
        "/v1/jobs/{job_id}",
        "/v1/batches",
        "/v1/batches/{batch_id}",
    ] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from /openapi.json"
        );
    }

    let metrics = api.call("GET", "/metrics", None, None, &[]).body;
    assert!(
        metrics.contains(
            r#"docfleet_api_requests_total{route="/v1/jobs",method="POST",status="202"}"#
        ),
        "{metrics}"
    );

    // A revoked key stops working at once.
    let key_id = a.split('_').nth(1).unwrap();
    cli(&fleet, &["keys", "revoke", key_id]);
    api.get("/v1/jobs", &a).assert_problem(401);

    // Without the opt-in, file:// sources are refused.
    let strict = start_api(&fleet, "api-strict", &[]);
    strict
        .post(
            "/v1/jobs",
            &b,
            &json!({"source": uri("ocean-tides.html")}),
            &[],
        )
        .assert_problem(400);
}

/// One recorded webhook request: its headers (lower-cased) and body.
struct Hook {
    headers: String,
    body: String,
}

/// A webhook receiver on a free port: answers 500 to the first request, 200 to the others, and
/// hands every request to the test.
fn hook_receiver() -> (String, std::sync::mpsc::Receiver<Hook>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/docfleet", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
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
            reader.read_exact(&mut body).unwrap();
            let status = if n == 0 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let body = String::from_utf8(body).unwrap();
            if tx.send(Hook { headers, body }).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

/// HMAC-SHA256 by Python's hmac module: an implementation independent of the worker's.
fn python_hmac(secret: &str, message: &str) -> String {
    let out = Command::new("python3")
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

#[test]
fn completion_webhooks_are_signed_and_retried() {
    let fleet = Fleet::new(Kind::LocalSqlite, "hooks");
    let (url, hooks) = hook_receiver();
    let docs = fleet.data_dir().join("docs");
    std::fs::create_dir_all(&docs).unwrap();
    std::fs::copy(
        fixtures().join("docs/honeybee-swarms.txt"),
        docs.join("bees.txt"),
    )
    .unwrap();
    std::fs::copy(fixtures().join("bad/corrupt.pdf"), docs.join("corrupt.pdf")).unwrap();
    let ids = fleet.enqueue_with(&["--callback-url", &url], &[&docs]);
    assert_eq!(ids.len(), 2);
    let secret = "whsec-e2e-0123456789";
    let mut worker = fleet.spawn_worker(
        "hook-worker",
        &[
            ("DOCFLEET_EXIT_WHEN_IDLE", "true"),
            ("DOCFLEET_WEBHOOK_SECRET", secret),
            ("DOCFLEET_CONCURRENCY", "1"),
        ],
    );
    // Three requests: the first answered 500 and sent again, then the other job's.
    let got: Vec<Hook> = (0..3)
        .map(|_| {
            hooks
                .recv_timeout(Duration::from_secs(120))
                .expect("a webhook")
        })
        .collect();
    assert!(
        worker.wait(Duration::from_secs(120)).success(),
        "{}",
        worker.log_text()
    );

    let delivery = |h: &Hook| {
        h.headers
            .lines()
            .find_map(|l| l.strip_prefix("docfleet-delivery:"))
            .unwrap()
            .trim()
            .to_owned()
    };
    // The refused one came again with the same delivery id and body (maybe after the other).
    let retried: Vec<&Hook> = got[1..]
        .iter()
        .filter(|h| delivery(h) == delivery(&got[0]))
        .collect();
    assert_eq!(retried.len(), 1, "a retry keeps its delivery id");
    assert_eq!(retried[0].body, got[0].body);
    let mut events = Vec::new();
    for h in &got[1..] {
        let sig = h
            .headers
            .lines()
            .find_map(|l| l.strip_prefix("docfleet-signature:"))
            .expect("signed")
            .trim()
            .to_owned();
        let (t, v1) = sig
            .strip_prefix("t=")
            .and_then(|r| r.split_once(",v1="))
            .unwrap();
        assert_eq!(
            v1,
            python_hmac(secret, &format!("{t}.{}", h.body)),
            "signature"
        );
        events.push(serde_json::from_str::<Value>(&h.body).unwrap());
    }
    let ok = events
        .iter()
        .find(|e| e["event"] == "job.succeeded")
        .unwrap();
    assert!(ok["source"].as_str().unwrap().ends_with("bees.txt"));
    assert!(ok["chunks"].as_u64().unwrap() >= 1);
    assert!(ids.contains(&ok["job_id"].as_str().unwrap().to_owned()));
    let dead = events.iter().find(|e| e["event"] == "job.dead").unwrap();
    assert!(
        dead["error"].as_str().unwrap().contains("corrupt.pdf"),
        "{dead}"
    );
}
