//! Secrets in settings: never printed by `docfleet config` (these serialisers), never in
//! messages and logs (`redact`).

use serde::Serialize;

/// A URL with its password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

pub(super) fn secret<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    v.as_ref().map(|_| "***").serialize(s)
}

pub(super) fn url_without_password<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    redact(v).serialize(s)
}

pub(super) fn optional_url_without_password<S: serde::Serializer>(
    v: &Option<String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    v.as_deref().map(redact).serialize(s)
}

/// `k=v` pairs with the values of credential-like keys (password, secret, key, token) hidden.
pub(super) fn secret_properties<S: serde::Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
    let shown: Vec<String> = v
        .split(',')
        .filter(|e| !e.trim().is_empty())
        .map(|e| match e.split_once('=') {
            Some((k, _))
                if ["password", "secret", "key", "token", "jaas"]
                    .iter()
                    .any(|w| k.to_lowercase().contains(w)) =>
            {
                format!("{}=***", k.trim())
            }
            _ => e.trim().to_owned(),
        })
        .collect();
    shown.join(",").serialize(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    use crate::settings::{ApiOpts, QueueOpts, StoreOpts};

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact("amqp://guest:secret@host:5672/%2f"),
            "amqp://guest:***@host:5672/%2f"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("/tmp/jobs.sqlite"), "/tmp/jobs.sqlite");
    }

    #[derive(Parser)]
    struct Everything {
        #[command(flatten)]
        store: StoreOpts,
        #[command(flatten)]
        queue: QueueOpts,
        #[command(flatten)]
        api: ApiOpts,
    }

    #[test]
    fn config_output_hides_secrets() {
        let cli = Everything::parse_from([
            "x",
            "--job-store-url",
            "postgres://fleet:pg-secret@db/jobs",
            "--amqp-url",
            "amqp://guest:mq-secret@mq/%2f",
            "--kafka-properties",
            "security.protocol=SASL_SSL,sasl.password=k-secret,ssl.key.password=k2-secret",
            "--api-key-pepper",
            "pepper-secret-0123456789",
        ]);
        let out =
            serde_json::json!({"store": cli.store, "queue": cli.queue, "api": cli.api}).to_string();
        for secret in [
            "pg-secret",
            "mq-secret",
            "k-secret",
            "k2-secret",
            "pepper-secret",
        ] {
            assert!(!out.contains(secret), "{secret} printed: {out}");
        }
        assert!(out.contains("postgres://fleet:***@db/jobs"), "{out}");
        assert!(out.contains("security.protocol=SASL_SSL"), "{out}");
    }
}
