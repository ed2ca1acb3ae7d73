//! E-mail (RFC 5322 / MIME) through mail-parser: one section with a header summary and the text
//! body (text/plain preferred; mail-parser converts an HTML-only body to text); attachments,
//! named inline parts and nested messages are handed back for the caller's own extractors.

use mail_parser::{Address, MessageParser, MimeHeaders};

use crate::text::tidy;
use crate::{Attachment, Extracted, Format, FormatError, Limits, Section};

pub(crate) fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, FormatError> {
    // mail-parser is fuzzed upstream, but a panic on a hostile message must still be an error.
    let parsed = std::panic::catch_unwind(|| extract_message(bytes, limits));
    parsed.map_err(|_| FormatError::corrupt(Format::Eml, "the message structure is malformed"))?
}

fn extract_message(bytes: &[u8], limits: &Limits) -> Result<Extracted, FormatError> {
    let msg = MessageParser::default().parse(bytes).ok_or_else(|| {
        FormatError::corrupt(Format::Eml, "no RFC 822 header block could be parsed")
    })?;
    let mut lines = Vec::new();
    for (name, value) in [("From", msg.from()), ("To", msg.to()), ("Cc", msg.cc())] {
        if let Some(list) = value.map(addresses).filter(|l| !l.is_empty()) {
            lines.push(format!("{name}: {list}"));
        }
    }
    if let Some(date) = msg.date() {
        lines.push(format!("Date: {}", date.to_rfc822()));
    }
    if let Some(subject) = msg.subject() {
        lines.push(format!("Subject: {}", tidy(subject)));
    }
    let mut body = Vec::new();
    for i in 0..msg.text_body_count().max(1) {
        if let Some(text) = msg.body_text(i) {
            body.extend(paragraphs(&text));
        }
    }
    let count = msg.attachment_count();
    if count > limits.max_attachments {
        return Err(FormatError::ArchiveLimit {
            message: format!(
                "refused: the e-mail has {count} attachments (limit {})",
                limits.max_attachments
            ),
        });
    }
    let mut attachments = Vec::new();
    for (n, part) in msg.attachments().enumerate() {
        let name = part
            .attachment_name()
            .map(|s| tidy(s).replace(['/', '\\'], "_"))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| {
                let ext = if part.is_message() { "eml" } else { "bin" };
                format!("attachment-{}.{ext}", n + 1)
            });
        attachments.push(Attachment {
            name,
            bytes: part.contents().to_vec(),
        });
    }
    body.retain(|b| !b.is_empty());
    // The header summary alone is not a document: a message with no body text and nothing
    // attached has nothing to index.
    if body.is_empty() && attachments.is_empty() {
        return Err(FormatError::NoText {
            message: "the e-mail has no body text and no attachments (only headers)".to_string(),
        });
    }
    let mut blocks = vec![lines.join("\n")];
    blocks.extend(body);
    blocks.retain(|b| !b.is_empty());
    Ok(Extracted {
        sections: vec![Section {
            label: None,
            text: blocks.join("\n\n"),
        }],
        attachments,
    })
}

fn addresses(a: &Address<'_>) -> String {
    a.iter()
        .map(|addr| match (addr.name(), addr.address()) {
            (Some(n), Some(e)) => format!("{} <{e}>", tidy(n)),
            (Some(n), None) => tidy(n),
            (None, Some(e)) => e.to_string(),
            (None, None) => String::new(),
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Splits a plain-text body at blank lines; lines inside a paragraph are kept.
fn paragraphs(body: &str) -> Vec<String> {
    let body = body.replace("\r\n", "\n");
    let mut out = Vec::new();
    let mut current = String::new();
    for line in body.split('\n') {
        if line.trim().is_empty() {
            if !current.is_empty() {
                out.push(tidy(&std::mem::take(&mut current)));
            }
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    if !current.is_empty() {
        out.push(tidy(&current));
    }
    out
}

/// Whether `bytes` start with an RFC 822 header block: only `Name: value` and continuation lines
/// up to a blank line, with at least two of the usual message headers. Plain text that merely
/// starts with "Subject:" is not a message.
pub(crate) fn looks_like_message(bytes: &[u8]) -> bool {
    const KNOWN: &[&str] = &[
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "received",
        "return-path",
    ];
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let mut seen: Vec<&str> = Vec::new();
    let mut any_header = false;
    for (n, raw) in head.split(|b| *b == b'\n').enumerate() {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            return any_header && seen.len() >= 2;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if !any_header {
                return false;
            }
            continue;
        }
        if n == 0 && line.starts_with(b"From ") {
            continue; // mbox separator line
        }
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            return false;
        };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|b| (33..=126).contains(b)) {
            return false;
        }
        any_header = true;
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        if let Some(k) = KNOWN.iter().find(|k| **k == lower)
            && !seen.contains(k)
        {
            seen.push(k);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::looks_like_message;

    #[test]
    fn header_block_heuristic() {
        assert!(looks_like_message(b"From: a@b\r\nSubject: hi\r\n\r\nbody"));
        assert!(looks_like_message(
            b"Received: x\n  y\nDate: today\nX-A: 1\n\nbody"
        ));
        assert!(!looks_like_message(
            b"Subject: my essay\n\nOnce upon a time"
        ));
        assert!(!looks_like_message(
            b"From: a\nSubject: b\nno blank line follows"
        ));
        assert!(!looks_like_message(
            b"Hello: there\nthis is prose, not headers\n\n"
        ));
    }
}
