//! Tenant profiles: per-tenant pipeline settings ("mission cartridges"), one validated document
//! per tenant, versioned in the job store (`tenant_profiles`).
//!
//! - `Profile` (this file): the document, written as TOML by people (`docfleet tenants profile
//!   set acme profile.toml`) or JSON by the API (`PUT /v1/profile`); unknown keys are refused
//!   with the key named. Stored as JSON.
//! - cache.rs: workers and the API read a tenant's profile per job / request, cached for a
//!   short TTL, so a new version is picked up without a restart.
//!
//! What each setting does: chunking, model, OCR and PII change how a document is processed, so
//! they (with the profile's version) are part of its pipeline version and the next run of every
//! document re-processes it; source prefixes and limits are checked per job; retention is applied
//! by `docfleet gc`; the webhook is used for jobs that name none.

mod cache;

pub use cache::ProfileCache;

use anyhow::{Result, bail};
use docfleet_pipeline::pii::{CustomPattern, PiiMode, PiiScanner};
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::settings::{CommonOpts, OcrModeOpt, StoreOpts};

/// A tenant's profile. Every field is optional: what is unset follows the fleet's settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// One of the fleet's models (`DOCFLEET_MODELS` names; `default` is `--model-dir`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "is_default")]
    pub chunk: ChunkProfile,
    #[serde(default, skip_serializing_if = "is_default")]
    pub ocr: OcrProfile,
    #[serde(default, skip_serializing_if = "is_default")]
    pub sources: SourcesProfile,
    #[serde(default, skip_serializing_if = "is_default")]
    pub limits: LimitsProfile,
    #[serde(default, skip_serializing_if = "is_default")]
    pub retention: RetentionProfile,
    #[serde(default, skip_serializing_if = "is_default")]
    pub webhook: WebhookProfile,
    #[serde(default, skip_serializing_if = "is_default")]
    pub pii: PiiProfile,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChunkProfile {
    /// Tokens per chunk, special tokens included (at most the model's limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<usize>,
    /// Tokens shared by consecutive chunks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_tokens: Option<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OcrProfile {
    /// `off`, `auto` (images and pages without text) or `force`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<OcrModeOpt>,
    /// Tesseract languages joined by `+` (`eng+deu`); each needs its traineddata on the workers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub languages: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesProfile {
    /// Sources must start with one of these (`s3://inbox/acme/`); empty: the fleet's policy only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_prefixes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsProfile {
    /// Larger files fail without being read (at most the fleet's `max_file_bytes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_file_bytes: Option<u64>,
    /// Documents with more pages fail before extraction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pages: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionProfile {
    /// `docfleet gc` removes the artifacts and vectors of documents last indexed more than this
    /// many days ago. Unset: kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookProfile {
    /// Notified (POST) of every job of the tenant that names no `callback_url` of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Signs the tenant's callbacks instead of the fleet's `DOCFLEET_WEBHOOK_SECRET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PiiProfile {
    /// `off`, `detect` (count per type) or `redact` (replace with `[EMAIL]` etc. before
    /// embedding and in every artifact).
    #[serde(default, skip_serializing_if = "is_default")]
    pub mode: PiiMode,
    /// Extra patterns: `[[pii.custom]] name = "employee_id"  pattern = "EMP-[0-9]{6}"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom: Vec<CustomPattern>,
}

/// Longest model name (it becomes part of an index folder or collection name).
const MAX_MODEL_NAME: usize = 32;

/// A model name: `[a-z0-9-]`, 1-32 characters.
pub fn validate_model_name(name: &str) -> Result<()> {
    let ok = (1..=MAX_MODEL_NAME).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        bail!("invalid model name {name:?}: use a-z, 0-9 and -, at most {MAX_MODEL_NAME}");
    }
    Ok(())
}

impl Profile {
    /// Parses a TOML profile and validates it.
    pub fn from_toml(text: &str) -> Result<Self> {
        let profile: Profile =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("invalid profile: {e}"))?;
        profile.validate()?;
        Ok(profile)
    }

    /// Parses a JSON profile (the API's body, the stored document) and validates it.
    pub fn from_json(text: &str) -> Result<Self> {
        let profile: Profile =
            serde_json::from_str(text).map_err(|e| anyhow::anyhow!("invalid profile: {e}"))?;
        profile.validate()?;
        Ok(profile)
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a profile serialises")
    }

    /// The profile as shown to people: the webhook secret hidden.
    pub fn redacted(&self) -> Profile {
        let mut shown = self.clone();
        if shown.webhook.secret.is_some() {
            shown.webhook.secret = Some("***".to_owned());
        }
        shown
    }

    /// Checks what can be checked without the fleet (the model's existence, its token limit
    /// and the OCR languages' traineddata are checked by the workers, per job).
    pub fn validate(&self) -> Result<()> {
        if let Some(model) = &self.model {
            validate_model_name(model).map_err(|e| anyhow::anyhow!("model: {e}"))?;
        }
        let chunk = &self.chunk;
        if chunk.max_tokens.is_some_and(|n| n < 8) {
            bail!("chunk.max_tokens must be at least 8");
        }
        if let (Some(max), Some(overlap)) = (chunk.max_tokens, chunk.overlap_tokens)
            && overlap >= max
        {
            bail!("chunk.overlap_tokens ({overlap}) must be less than chunk.max_tokens ({max})");
        }
        if let Some(langs) = &self.ocr.languages {
            let ok = !langs.is_empty()
                && langs.split('+').all(|l| {
                    !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                });
            if !ok {
                bail!("ocr.languages {langs:?}: Tesseract language codes joined by + (eng+deu)");
            }
        }
        for prefix in &self.sources.allowed_prefixes {
            let ok = prefix
                .strip_prefix("s3://")
                .is_some_and(|rest| rest.split('/').next().is_some_and(|b| !b.is_empty()))
                || prefix.starts_with("file:///");
            if !ok {
                bail!("sources.allowed_prefixes: {prefix:?} is not s3://bucket/… or file:///…");
            }
        }
        if self.limits.max_file_bytes == Some(0) {
            bail!("limits.max_file_bytes must be positive");
        }
        if self.limits.max_pages == Some(0) {
            bail!("limits.max_pages must be positive");
        }
        if self.retention.days == Some(0) {
            bail!("retention.days must be at least 1");
        }
        if let Some(url) = &self.webhook.url {
            let ok = reqwest::Url::parse(url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            if !ok {
                bail!("webhook.url {url:?} is not an http(s) URL");
            }
        }
        if self.webhook.secret.as_ref().is_some_and(|s| s.len() < 16) {
            bail!("webhook.secret must be at least 16 characters");
        }
        PiiScanner::new(&self.pii.custom).map_err(|e| anyhow::anyhow!("pii.custom: {e}"))?;
        Ok(())
    }

    /// Whether `source` is allowed by `sources.allowed_prefixes` (always, when there are none).
    pub fn allows_source(&self, source: &str) -> bool {
        let prefixes = &self.sources.allowed_prefixes;
        prefixes.is_empty() || prefixes.iter().any(|p| source.starts_with(p.as_str()))
    }
}

/// A tenant's profile as a job runs with it: the version (recorded in the job row and the
/// pipeline version) and the settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveProfile {
    pub version: i64,
    pub profile: Profile,
}

/// The tenant's stored profile for a command on this machine (`run`, `search`): read from the
/// job store when one is configured or the data dir holds one (`<data_dir>/jobs.sqlite`); none
/// otherwise, without creating a store.
pub async fn stored(
    common: &CommonOpts,
    store_opts: &StoreOpts,
) -> Result<Option<Arc<ActiveProfile>>> {
    let default_file = common.data_dir.join("jobs.sqlite");
    if store_opts.job_store_url.is_none() && !default_file.exists() {
        return Ok(None);
    }
    let store = crate::wiring::open_job_store(common, store_opts).await?;
    let tenant = common.tenant()?;
    let profile = ProfileCache::new(store.clone(), std::time::Duration::ZERO)
        .get(tenant)
        .await;
    store.close().await;
    profile
}

#[cfg(test)]
mod tests;
