//! `X-Request-Id`: every request gets one, the caller's when it is sane (1-128 visible ASCII
//! characters), a fresh UUIDv4 otherwise. It is kept in the request's extensions ([`RequestId`]:
//! the trace span and the audit trail name it) and sent back in the response header.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

pub const HEADER: &str = "x-request-id";
/// Longest request id taken from a caller.
pub const MAX_LEN: usize = 128;

/// The request's id, in its extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A new UUIDv4 id.
    pub fn fresh() -> Self {
        RequestId(uuid::Uuid::new_v4().to_string())
    }
}

/// The caller's id if it is 1-[`MAX_LEN`] visible ASCII characters (`!` to `~`: no spaces, no
/// control characters, nothing that could break a log line or a header).
pub fn sanitise(incoming: Option<&HeaderValue>) -> Option<RequestId> {
    let bytes = incoming?.as_bytes();
    let sane =
        !bytes.is_empty() && bytes.len() <= MAX_LEN && bytes.iter().all(|b| b.is_ascii_graphic());
    // Visible ASCII is valid UTF-8.
    sane.then(|| RequestId(String::from_utf8_lossy(bytes).into_owned()))
}

/// Middleware: the outermost layer, so every other layer and handler sees the id.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let id = sanitise(req.headers().get(HEADER)).unwrap_or_else(RequestId::fresh);
    let header = HeaderValue::from_str(id.as_str()).ok();
    req.extensions_mut().insert(id);
    let mut response = next.run(req).await;
    if let Some(v) = header {
        response.headers_mut().insert(HEADER, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sane(raw: &[u8]) -> Option<String> {
        let v = HeaderValue::from_bytes(raw).ok()?;
        sanitise(Some(&v)).map(|id| id.0)
    }

    #[test]
    fn request_ids_from_callers_are_kept_when_sane() {
        assert_eq!(sane(b"abc-123").as_deref(), Some("abc-123"));
        assert_eq!(
            sane(b"req_01HZX/9+=:~!").as_deref(),
            Some("req_01HZX/9+=:~!")
        );
        let longest = "a".repeat(MAX_LEN);
        assert_eq!(sane(longest.as_bytes()), Some(longest));
    }

    #[test]
    fn insane_request_ids_are_replaced() {
        assert_eq!(sane(b""), None, "empty");
        assert_eq!(sane("a".repeat(MAX_LEN + 1).as_bytes()), None, "too long");
        assert_eq!(sane(b"two words"), None, "space");
        assert_eq!(sane(b"tab\there"), None, "control character");
        assert_eq!(sane("caf\u{e9}".as_bytes()), None, "not ASCII");
        assert_eq!(sane(&[b'a', 0x80, b'b']), None, "obs-text");
        assert_eq!(sanitise(None), None, "absent");
    }

    #[test]
    fn fresh_ids_are_uuids() {
        let a = RequestId::fresh();
        let b = RequestId::fresh();
        assert_ne!(a, b);
        let parsed = uuid::Uuid::parse_str(a.as_str()).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert!(sanitise(Some(&HeaderValue::from_str(a.as_str()).unwrap())).is_some());
    }
}
