//! The job message: what a queue carries from the API or CLI to a worker. Versioned JSON,
//! validated strictly: a message that fails here is dead-lettered with the reason, never retried.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::source::SourceUri;
use crate::tenant::{InvalidTenant, validate_tenant};
use crate::time::now_unix_millis;

/// The only message version this build understands.
pub const JOB_MESSAGE_VERSION: u32 = 1;

/// Largest message accepted; a job message is a few hundred bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobMessage {
    pub version: u32,
    pub job_id: Uuid,
    pub tenant: String,
    /// `file:///abs/path` or `s3://bucket/key` (see [`SourceUri`]).
    pub source: String,
    #[serde(default)]
    pub options: JobOptions,
    pub submitted_at_unix_ms: u64,
}

/// Per-job overrides of the worker's pipeline settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobOptions {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_number"
    )]
    pub chunk_max_tokens: Option<usize>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_number"
    )]
    pub chunk_overlap_tokens: Option<usize>,
    /// `http(s)://…` notified (POST, signed) when the job succeeds or is dead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// The batch's `callback_url` (set by `POST /v1/batches`): notified once, by the worker that
    /// records the batch's last verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_callback_url: Option<String>,
    /// Labels stored with every chunk of the document (`team=legal`): search filters and
    /// facets. Keys `[a-z0-9_.-]{1,64}`, values 1-256 characters, at most 32 tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// Most tags one job may carry.
pub const MAX_TAGS: usize = 32;

/// Checks one tag: a key of `[a-z0-9_.-]{1,64}`, a value of 1-256 characters without control
/// characters.
pub fn validate_tag(key: &str, value: &str) -> Result<(), MessageError> {
    let key_ok = (1..=64).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'));
    let value_ok =
        (1..=256).contains(&value.chars().count()) && !value.chars().any(char::is_control);
    if key_ok && value_ok {
        Ok(())
    } else {
        Err(MessageError::InvalidTag(format!("{key}={value}")))
    }
}

/// Parses `key=value` (the CLI's `--tag`).
pub fn parse_tag(tag: &str) -> Result<(String, String), MessageError> {
    let (key, value) = tag
        .split_once('=')
        .ok_or_else(|| MessageError::InvalidTag(tag.to_owned()))?;
    validate_tag(key, value)?;
    Ok((key.to_owned(), value.to_owned()))
}

fn validate_tags(tags: &BTreeMap<String, String>) -> Result<(), MessageError> {
    if tags.len() > MAX_TAGS {
        return Err(MessageError::InvalidTag(format!(
            "{} tags, over the limit of {MAX_TAGS}",
            tags.len()
        )));
    }
    tags.iter().try_for_each(|(k, v)| validate_tag(k, v))
}

/// A count, also when a JSON client writes it as `256.0` (JSON has one number type, and JSON
/// Schema's `integer` admits it); a fraction or a negative number is refused.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    let whole = n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < u64::MAX as f64)
            .map(|f| f as u64)
    });
    whole
        .and_then(|w| usize::try_from(w).ok())
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a whole number of tokens")))
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum MessageError {
    #[error("message is {0} bytes, over the limit of {MAX_MESSAGE_BYTES}")]
    TooLarge(usize),
    #[error("malformed job message: {0}")]
    Malformed(String),
    #[error("unsupported job message version {0} (this worker understands {JOB_MESSAGE_VERSION})")]
    UnsupportedVersion(u32),
    #[error(transparent)]
    InvalidTenant(#[from] InvalidTenant),
    #[error("invalid source {0:?}: expected file:///absolute/path or s3://bucket/key")]
    InvalidSource(String),
    #[error("invalid callback_url {0:?}: expected http:// or https://, at most 2048 characters")]
    InvalidCallback(String),
    #[error(
        "invalid tag {0:?}: expected key=value, the key 1-64 characters from a-z, 0-9, '_', '.', '-', the value 1-256 characters"
    )]
    InvalidTag(String),
}

impl MessageError {
    /// A bad message stays bad: never worth retrying.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

fn validate_source(source: &str) -> Result<(), MessageError> {
    match SourceUri::parse(source) {
        Some(_) => Ok(()),
        None => Err(MessageError::InvalidSource(source.to_owned())),
    }
}

fn validate_callback(url: Option<&str>) -> Result<(), MessageError> {
    let Some(url) = url else { return Ok(()) };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or("");
    let ok = !rest.is_empty()
        && !rest.starts_with('/')
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(MessageError::InvalidCallback(url.to_owned()))
    }
}

impl JobMessage {
    pub fn new(tenant: &str, source: &str, options: JobOptions) -> Result<Self, MessageError> {
        let msg = Self {
            version: JOB_MESSAGE_VERSION,
            job_id: Uuid::new_v4(),
            tenant: tenant.to_owned(),
            source: source.to_owned(),
            options,
            submitted_at_unix_ms: now_unix_millis(),
        };
        msg.validate()?;
        Ok(msg)
    }

    /// Parses and validates a message body.
    pub fn parse(bytes: &[u8]) -> Result<Self, MessageError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(MessageError::TooLarge(bytes.len()));
        }
        // Look at the version first, so a future message gets a clear "unsupported version".
        #[derive(Deserialize)]
        struct Versioned {
            version: u32,
        }
        let v: Versioned =
            serde_json::from_slice(bytes).map_err(|e| MessageError::Malformed(e.to_string()))?;
        if v.version != JOB_MESSAGE_VERSION {
            return Err(MessageError::UnsupportedVersion(v.version));
        }
        let msg: Self =
            serde_json::from_slice(bytes).map_err(|e| MessageError::Malformed(e.to_string()))?;
        msg.validate()?;
        Ok(msg)
    }

    pub fn validate(&self) -> Result<(), MessageError> {
        if self.version != JOB_MESSAGE_VERSION {
            return Err(MessageError::UnsupportedVersion(self.version));
        }
        validate_tenant(&self.tenant)?;
        validate_source(&self.source)?;
        validate_callback(self.options.callback_url.as_deref())?;
        validate_callback(self.options.batch_callback_url.as_deref())?;
        validate_tags(&self.options.tags)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a JobMessage always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_validates() {
        let msg = JobMessage::new("acme", "file:///data/a.pdf", JobOptions::default()).unwrap();
        assert_eq!(JobMessage::parse(&msg.to_bytes()).unwrap(), msg);
        assert!(
            !String::from_utf8(msg.to_bytes())
                .unwrap()
                .contains("options\":{\"chunk")
        );
    }

    #[test]
    fn bad_messages_get_clear_permanent_errors() {
        let ok = JobMessage::new("acme", "file:///a.pdf", JobOptions::default()).unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&ok.to_bytes()).unwrap();
        let cases: Vec<(serde_json::Value, &str)> = vec![
            (
                serde_json::json!({"version": 2}),
                "unsupported job message version 2",
            ),
            (serde_json::json!("nope"), "malformed"),
            (
                {
                    v["tenant"] = "../x".into();
                    v.clone()
                },
                "invalid tenant",
            ),
            (
                {
                    v["tenant"] = "acme".into();
                    v["source"] = "file://rel/a.pdf".into();
                    v.clone()
                },
                "invalid source",
            ),
            (
                {
                    v["source"] = "file:///a/../etc/passwd".into();
                    v.clone()
                },
                "invalid source",
            ),
            (
                {
                    v["source"] = "file:///a.pdf".into();
                    v["extra"] = 1.into();
                    v.clone()
                },
                "unknown field",
            ),
        ];
        for (body, want) in cases {
            let err = JobMessage::parse(&serde_json::to_vec(&body).unwrap()).unwrap_err();
            assert!(err.to_string().contains(want), "{body}: {err}");
            assert!(!err.is_retryable());
        }
        let err = JobMessage::parse(&[b' '; MAX_MESSAGE_BYTES + 1]).unwrap_err();
        let hook = |url: &str| JobOptions {
            callback_url: Some(url.to_owned()),
            ..JobOptions::default()
        };
        assert!(JobMessage::new("acme", "file:///a", hook("https://hooks.example/x?y=1")).is_ok());
        for bad in ["ftp://x", "https://", "http:///path", "https://a b"] {
            let err = JobMessage::new("acme", "file:///a", hook(bad)).unwrap_err();
            assert!(matches!(err, MessageError::InvalidCallback(_)), "{bad}");
        }
        let opts: JobOptions = serde_json::from_str(r#"{"chunk_max_tokens": 128.0}"#).unwrap();
        assert_eq!(opts.chunk_max_tokens, Some(128));
        assert!(serde_json::from_str::<JobOptions>(r#"{"chunk_max_tokens": 1.5}"#).is_err());
        assert!(serde_json::from_str::<JobOptions>(r#"{"chunk_max_tokens": -1}"#).is_err());
        assert!(matches!(err, MessageError::TooLarge(_)));
        assert!(JobMessage::parse(b"not json").is_err());
    }

    #[test]
    fn tags_are_validated() {
        assert_eq!(
            parse_tag("team=legal").unwrap(),
            ("team".into(), "legal".into())
        );
        for bad in [
            "team",
            "=x",
            "Team=x",
            "t=",
            "a b=c",
            &format!("{}=v", "k".repeat(65)),
        ] {
            assert!(parse_tag(bad).is_err(), "{bad}");
        }
        let mut options = JobOptions::default();
        options.tags.insert("team".into(), "legal".into());
        assert!(JobMessage::new("acme", "s3://bucket/k.pdf", options.clone()).is_ok());
        options.tags.insert("bad key".into(), "x".into());
        let err = JobMessage::new("acme", "s3://bucket/k.pdf", options).unwrap_err();
        assert!(err.to_string().contains("invalid tag"), "{err}");
        let many: BTreeMap<String, String> =
            (0..33).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert!(validate_tags(&many).is_err());
    }
}
