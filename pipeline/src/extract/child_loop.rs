//! The extractor child's request loop, its side of the [`wire`](super::wire) protocol: answer
//! requests on stdin/stdout, one document at a time, until the parent closes stdin. The parent's
//! side is [`super::pool`], through [`super::child_handle`].

use std::io::{self, BufReader, BufWriter, Read, Write};

use super::wire::{self, MAX_HEADER_BYTES, RequestHeader, Response, WireError};
use super::{ExtractOptions, MediaType};
use crate::{Error, Page, Result};

/// What the child does with one document: usually [`super::DocumentExtractor::extract_with`].
/// The last argument is called after each slow step (an OCR'd page) and sends a heartbeat.
pub type ExtractFn<'a> =
    dyn Fn(&[u8], MediaType, &ExtractOptions, &mut dyn FnMut()) -> Result<Vec<Page>> + 'a;

/// Serves extraction requests from `input` until it ends, writing one answer per request to
/// `output`. `max_body_bytes` caps the document frame (the parent's `max_file_bytes`).
///
/// Document errors are answers (`{"err": ...}`); a broken protocol (bad header, oversized or
/// truncated frame), a broken pipe or an error `extract` should not return (not an extraction
/// failure: [`WireError::of`]) is returned as an error, after which the child should exit: the
/// stream can no longer be trusted to be in step.
pub fn serve_extraction(
    extract: &ExtractFn<'_>,
    max_body_bytes: u64,
    input: impl Read,
    output: impl Write,
) -> io::Result<()> {
    let mut input = BufReader::new(input);
    let mut output = BufWriter::new(output);
    loop {
        let Some(header) = wire::read_frame(&mut input, MAX_HEADER_BYTES)? else {
            return Ok(()); // the parent closed stdin: done
        };
        let header: RequestHeader = serde_json::from_slice(&header).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad request header: {e}"),
            )
        })?;
        let body = wire::read_frame(&mut input, max_body_bytes)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "request header without a body",
            )
        })?;
        // A heartbeat that cannot be written means the parent is gone: the answer's write
        // below fails the same way.
        let mut heartbeat = || {
            let _ = wire::write_frame(&mut output, wire::HEARTBEAT).and_then(|()| output.flush());
        };
        let result = match wire::parse_media_type(&header.media_type) {
            Some(media_type) => extract(&body, media_type, &header.options, &mut heartbeat),
            None => Err(Error::UnsupportedMediaType {
                media_type: header.media_type,
            }),
        };
        drop(body);
        let response = match result {
            Ok(pages) => Response::Ok(pages),
            Err(e) => match WireError::of(&e) {
                Some(w) => Response::Err(w),
                // Not a failure of extraction (none is produced by it): no answer can carry
                // it, so the child stops and the parent reports the crash with this text.
                None => {
                    return Err(io::Error::other(format!(
                        "the extraction failed with an error the protocol does not carry: {e}"
                    )));
                }
            },
        };
        let json = serde_json::to_vec(&response).map_err(io::Error::other)?;
        wire::write_frame(&mut output, &json)?;
        output.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{DocumentExtractor, Extractor};

    fn request(media_type: &str, max_pages: u64, body: &[u8]) -> Vec<u8> {
        let header = serde_json::to_vec(&RequestHeader {
            media_type: media_type.into(),
            options: ExtractOptions {
                max_pages,
                ..ExtractOptions::default()
            },
        })
        .unwrap();
        let mut out = Vec::new();
        wire::write_frame(&mut out, &header).unwrap();
        wire::write_frame(&mut out, body).unwrap();
        out
    }

    /// An extract function that gives every document `answer()`.
    fn answering(
        answer: impl Fn() -> Result<Vec<Page>>,
    ) -> impl Fn(&[u8], MediaType, &ExtractOptions, &mut dyn FnMut()) -> Result<Vec<Page>> {
        move |_, _, _, _| answer()
    }

    fn answers(mut out: &[u8]) -> Vec<Result<Vec<Page>>> {
        let mut all = Vec::new();
        while let Some(frame) = wire::read_frame(&mut out, wire::MAX_RESPONSE_BYTES).unwrap() {
            all.push(match serde_json::from_slice(&frame).unwrap() {
                Response::Ok(pages) => Ok(pages),
                Response::Err(e) => Err(Error::from(e)),
            });
        }
        all
    }

    #[test]
    fn answers_each_request_like_the_in_process_extractor() {
        let ex = DocumentExtractor::new(None, ExtractOptions::default()).unwrap();
        let mut input = request("text/plain", 7, b"Tides rise twice a day.");
        input.extend(request("text/plain", 7, b""));
        input.extend(request("text/markdown", 7, b"# bad \xff utf8"));
        input.extend(request("image/gif", 7, b"GIF89a"));
        input.extend(request("application/pdf", 7, b"%PDF-1.7"));
        let mut out = Vec::new();
        let limits_seen = std::sync::Mutex::new(Vec::new());
        let extract = |b: &[u8], m: MediaType, o: &ExtractOptions, beat: &mut dyn FnMut()| {
            limits_seen.lock().unwrap().push(o.max_pages);
            ex.extract_with(b, m, o, beat)
        };
        serve_extraction(&extract, 1024, input.as_slice(), &mut out).unwrap();

        let got = answers(&out);
        assert_eq!(got.len(), 5);
        let expected = [
            ex.extract(b"Tides rise twice a day.", MediaType::PlainText),
            ex.extract(b"", MediaType::PlainText),
            ex.extract(b"# bad \xff utf8", MediaType::Markdown),
            Err(Error::UnsupportedMediaType {
                media_type: "image/gif".into(),
            }),
            ex.extract(b"%PDF-1.7", MediaType::Pdf),
        ];
        for (got, want) in got.iter().zip(&expected) {
            match (got, want) {
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                _ => panic!("{got:?} != {want:?}"),
            }
        }
        assert!(matches!(got[2], Err(Error::InvalidUtf8(_))), "{:?}", got[2]);
        assert_eq!(
            *limits_seen.lock().unwrap(),
            vec![7; 4],
            "header limits apply"
        );
    }

    #[test]
    fn a_broken_protocol_ends_the_loop_with_an_error() {
        let ex = answering(|| Ok(vec![]));
        let cases: [(&str, Vec<u8>); 3] = [
            ("oversized body", request("text/plain", 1, &[b'a'; 2048])),
            ("header without body", {
                let mut r = request("text/plain", 1, b"x");
                r.truncate(r.len() - 5);
                r
            }),
            ("garbage header", {
                let mut r = Vec::new();
                wire::write_frame(&mut r, b"not json").unwrap();
                r
            }),
        ];
        for (what, input) in cases {
            let mut out = Vec::new();
            let err = serve_extraction(&ex, 1024, input.as_slice(), &mut out).unwrap_err();
            assert!(out.is_empty(), "{what}: no answer");
            assert!(
                matches!(
                    err.kind(),
                    io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
                ),
                "{what}: {err}"
            );
        }
    }

    #[test]
    fn an_error_extraction_does_not_produce_ends_the_loop_unanswered() {
        let ex = answering(|| Err(Error::index("down", true)));
        let mut out = Vec::new();
        let input = request("text/plain", 1, b"x");
        let err = serve_extraction(&ex, 1024, input.as_slice(), &mut out).unwrap_err();
        assert!(out.is_empty(), "no answer");
        assert!(err.to_string().contains("vector index: down"), "{err}");
    }

    #[test]
    fn heartbeats_precede_the_answer() {
        let ex = |_: &[u8], _: MediaType, _: &ExtractOptions, beat: &mut dyn FnMut()| {
            beat();
            beat();
            Ok(vec![Page::new(1, "scanned")])
        };
        let mut out = Vec::new();
        let input = request("image/png", 3, b"png");
        serve_extraction(&ex, 1024, input.as_slice(), &mut out).unwrap();
        let mut frames = out.as_slice();
        for _ in 0..2 {
            let beat = wire::read_frame(&mut frames, 64).unwrap().unwrap();
            assert!(beat.is_empty());
        }
        let answer = wire::read_frame(&mut frames, 1024).unwrap().unwrap();
        assert!(
            matches!(serde_json::from_slice(&answer).unwrap(), Response::Ok(p) if p.len() == 1)
        );
    }
}
