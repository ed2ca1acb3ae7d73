//! The audit trail of the API: every call that changes state, and every search, is recorded in
//! the job store (`audit_log`), in one place: the [`record`] middleware, so no handler can
//! forget.
//!
//! - The middleware knows the audited routes ([`action`]); on one, it puts an [`AuditSlot`] in
//!   the request's extensions before the handler runs.
//! - The [`Caller`](super::auth::Caller) extractor notes the tenant and key id in it once the
//!   key is verified; handlers note what they acted on (`audit.target(…)`) and, for searches,
//!   a little detail (mode and top_k, never the query text).
//! - Once the handler has answered, the middleware appends the record (outcome from the status:
//!   2xx `ok`, 401/403 `denied`, else `error`) and only then lets the response go: a client that
//!   got its answer can read its record.
//!
//! Calls whose tenant is unknown (no key, or an unknown, revoked or wrong one: 401 before any
//! tenant is known) are not recorded: they cannot be scoped to a tenant. A record that cannot
//! be written (the database is down) is logged at error level and counted
//! (`docfleet_api_audit_write_failures_total`), and the response stands: the change has been
//! made by then, and answering 5xx for it would mislead the client.
//!
//! `GET /v1/audit` (`audit_log.rs`) reads the trail.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use docfleet_jobstore::{AuditOutcome, JobStore, NewAuditRecord, now_ms};
use prometheus_client::metrics::counter::Counter;

use super::request_id::RequestId;

/// The audited routes: (method, route template, action).
pub const AUDITED: &[(&str, &str, &str)] = &[
    ("POST", "/v1/jobs", "job.submit"),
    ("POST", "/v1/batches", "batch.submit"),
    ("DELETE", "/v1/documents/{doc_id}", "document.delete"),
    ("POST", "/v1/search", "search"),
    ("POST", "/v1/keys", "key.create"),
    ("DELETE", "/v1/keys/{key_id}", "key.revoke"),
    ("PUT", "/v1/profile", "profile.set"),
];

/// How long the middleware waits for the record to be written before it gives up (and counts
/// a failure): the answer is not held hostage by a hung database.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// The action of an audited route (by its template, never the raw path).
pub fn action(method: &Method, route: &str) -> Option<&'static str> {
    AUDITED
        .iter()
        .find(|(m, r, _)| *m == method.as_str() && *r == route)
        .map(|&(_, _, action)| action)
}

#[derive(Debug, Default)]
struct AuditNote {
    tenant: Option<String>,
    key_id: Option<String>,
    target: Option<String>,
    detail: Option<String>,
}

/// What the handler of an audited request tells the audit middleware. Take it as an extractor
/// (`audit: AuditSlot`, it never fails); on a route that is not audited it is a detached slot
/// and what is noted goes nowhere.
#[derive(Debug, Clone, Default)]
pub struct AuditSlot(Arc<Mutex<AuditNote>>);

impl AuditSlot {
    fn note(&self) -> std::sync::MutexGuard<'_, AuditNote> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What the call acted on: the created job or batch id, the deleted document id, the key
    /// id, the new profile version. The last call wins.
    pub fn target(&self, target: impl Into<String>) {
        self.note().target = Some(target.into());
    }

    /// A little more about the call (a search's mode and top_k). Never request bodies, query
    /// texts or secrets.
    pub fn detail(&self, detail: impl Into<String>) {
        self.note().detail = Some(detail.into());
    }

    /// Who calls: set by the `Caller` extractor once the key is verified.
    pub(super) fn caller(&self, tenant: &str, key_id: &str) {
        let mut note = self.note();
        note.tenant = Some(tenant.to_owned());
        note.key_id = Some(key_id.to_owned());
    }

    /// The request's slot, if the route is audited.
    pub(super) fn of(parts: &Parts) -> Option<&AuditSlot> {
        parts.extensions.get::<AuditSlot>()
    }

    fn take(&self) -> AuditNote {
        std::mem::take(&mut *self.note())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuditSlot {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Self::of(parts).cloned().unwrap_or_default())
    }
}

/// The middleware's state: where records go, and the count of those that did not get there.
#[derive(Clone)]
pub struct AuditLayer {
    pub store: Arc<dyn JobStore>,
    pub write_failures: Counter,
}

/// Middleware: records the audited routes' calls (see the module docs).
pub async fn record(State(layer): State<AuditLayer>, mut req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let Some(action) = route.and_then(|r| action(req.method(), r)) else {
        return next.run(req).await;
    };
    let at_ms = now_ms();
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or_else(RequestId::fresh);
    let slot = AuditSlot::default();
    req.extensions_mut().insert(slot.clone());
    let response = next.run(req).await;
    let note = slot.take();
    let (Some(tenant), Some(key_id)) = (note.tenant, note.key_id) else {
        // No verified key: the call cannot be scoped to a tenant.
        return response;
    };
    let status = response.status().as_u16();
    let record = NewAuditRecord {
        at_ms,
        tenant,
        key_id,
        action: action.to_owned(),
        target: note.target,
        request_id: request_id.0,
        outcome: AuditOutcome::of_status(status),
        status: Some(status),
        detail: note.detail,
    };
    let written = tokio::time::timeout(WRITE_TIMEOUT, layer.store.audit().append(&record)).await;
    let failure = match written {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("no answer within {} s", WRITE_TIMEOUT.as_secs())),
    };
    if let Some(error) = failure {
        layer.write_failures.inc();
        tracing::error!(
            %error,
            action,
            tenant = %record.tenant,
            key_id = %record.key_id,
            request_id = %record.request_id,
            status,
            "writing the audit record failed"
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_come_from_route_templates() {
        assert_eq!(action(&Method::POST, "/v1/jobs"), Some("job.submit"));
        assert_eq!(action(&Method::GET, "/v1/jobs"), None, "reads are not");
        assert_eq!(
            action(&Method::DELETE, "/v1/documents/{doc_id}"),
            Some("document.delete")
        );
        assert_eq!(
            action(&Method::DELETE, "/v1/documents/0123"),
            None,
            "templates, not paths"
        );
        assert_eq!(action(&Method::PUT, "/v1/profile"), Some("profile.set"));
        assert_eq!(action(&Method::GET, "/v1/profile"), None);
        assert_eq!(action(&Method::GET, "/v1/audit"), None);
    }

    #[test]
    fn outcomes_follow_the_status() {
        assert_eq!(AuditOutcome::of_status(201), AuditOutcome::Ok);
        assert_eq!(AuditOutcome::of_status(202), AuditOutcome::Ok);
        assert_eq!(AuditOutcome::of_status(401), AuditOutcome::Denied);
        assert_eq!(AuditOutcome::of_status(403), AuditOutcome::Denied);
        assert_eq!(AuditOutcome::of_status(404), AuditOutcome::Error);
        assert_eq!(AuditOutcome::of_status(503), AuditOutcome::Error);
    }

    #[test]
    fn a_detached_slot_takes_notes_harmlessly() {
        let slot = AuditSlot::default();
        slot.target("t1");
        slot.target("t2");
        slot.detail("d");
        slot.caller("acme", "k1");
        let note = slot.take();
        assert_eq!(note.target.as_deref(), Some("t2"), "the last call wins");
        assert_eq!(
            (note.tenant.as_deref(), note.key_id.as_deref()),
            (Some("acme"), Some("k1"))
        );
        assert!(slot.take().target.is_none(), "taken");
    }
}
