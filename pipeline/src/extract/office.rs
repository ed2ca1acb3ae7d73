//! Office, OpenDocument, EPUB, RTF and e-mail through `docfleet-formats`: each section is a
//! page (slides, sheets and chapters keep their names as labels). An e-mail's attachments are
//! extracted by the same [`DocumentExtractor`] (PDF, images, Office, text...) and follow the
//! body as pages of their own, labelled "attachment <name>"; one that cannot be read is named
//! at the end of the body instead of failing the whole message.

use docfleet_formats::{Format, FormatError, Limits};

use super::text::normalize;
use super::{DocumentExtractor, ExtractOptions, sniff};
use crate::{Error, Page, Result};

/// Attachments of attachments are read; one level further they are only named.
const MAX_ATTACHMENT_DEPTH: usize = 2;

pub(super) fn extract(
    ex: &DocumentExtractor,
    bytes: &[u8],
    format: Format,
    options: &ExtractOptions,
    on_page: &mut dyn FnMut(),
) -> Result<Vec<Page>> {
    let pages = extract_at_depth(ex, bytes, format, options, on_page, 0)?;
    if pages.len() as u64 > options.max_pages {
        return Err(Error::TooManyPages {
            pages: pages.len() as u64,
            limit: options.max_pages,
        });
    }
    if pages.iter().all(|p| p.text.trim().is_empty()) {
        return Err(Error::NoText(format!(
            "the {} holds no text",
            format.mime()
        )));
    }
    Ok(pages)
}

fn extract_at_depth(
    ex: &DocumentExtractor,
    bytes: &[u8],
    format: Format,
    options: &ExtractOptions,
    on_page: &mut dyn FnMut(),
    depth: usize,
) -> Result<Vec<Page>> {
    let limits = Limits {
        max_sections: options.max_pages,
        ..Limits::default()
    };
    let extracted = docfleet_formats::extract(format, bytes, &limits).map_err(format_error)?;
    let mut pages: Vec<Page> = extracted
        .sections
        .into_iter()
        .zip(1u32..)
        .map(|(section, number)| Page {
            number,
            text: normalize(&section.text),
            label: section.label,
            ocr_confidence: None,
        })
        .collect();
    let mut not_read = Vec::new();
    for attachment in extracted.attachments {
        let found = if depth + 1 >= MAX_ATTACHMENT_DEPTH {
            Err(format!(
                "nested more than {MAX_ATTACHMENT_DEPTH} levels deep"
            ))
        } else {
            attachment_pages(ex, &attachment, options, on_page, depth + 1)
                .map_err(|e| e.to_string())
        };
        match found {
            Ok(found) => append_attachment(&mut pages, &attachment.name, found),
            Err(why) => not_read.push(format!(
                "[attachment {} not indexed: {why}]",
                attachment.name
            )),
        }
    }
    if !not_read.is_empty() {
        let first = match pages.first_mut() {
            Some(page) => page,
            None => {
                pages.push(Page::new(1, String::new()));
                &mut pages[0]
            }
        };
        for note in not_read {
            if !first.text.is_empty() {
                first.text.push_str("\n\n");
            }
            first.text.push_str(&note);
        }
    }
    Ok(pages)
}

fn attachment_pages(
    ex: &DocumentExtractor,
    attachment: &docfleet_formats::Attachment,
    options: &ExtractOptions,
    on_page: &mut dyn FnMut(),
    depth: usize,
) -> Result<Vec<Page>> {
    let media_type = sniff(&attachment.bytes, Some(&attachment.name))?;
    match media_type {
        super::MediaType::Document(format) => {
            extract_at_depth(ex, &attachment.bytes, format, options, on_page, depth)
        }
        other => ex.extract_with(&attachment.bytes, other, options, on_page),
    }
}

/// Appends an attachment's pages after the message's, numbered on, each labelled with the
/// attachment's name (and its own page name when it has several).
fn append_attachment(pages: &mut Vec<Page>, name: &str, found: Vec<Page>) {
    let several = found.len() > 1;
    for page in found {
        let label = if several {
            format!("attachment {name}, {}", page.display_name())
        } else {
            format!("attachment {name}")
        };
        let number = u32::try_from(pages.len() + 1).unwrap_or(u32::MAX);
        pages.push(Page {
            number,
            label: Some(label),
            ..page
        });
    }
}

/// Format errors keep their message; the two with a pipeline meaning map to it.
pub(super) fn format_error(e: FormatError) -> Error {
    match e {
        FormatError::TooManySections { sections, limit } => Error::TooManyPages {
            pages: sections,
            limit,
        },
        FormatError::NoText { message } => Error::NoText(message),
        FormatError::Unsupported { media_type, hint } => Error::UnsupportedMediaType {
            media_type: format!("{media_type} ({hint})"),
        },
        other => Error::Document(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_are_numbered_on_and_labelled() {
        let mut pages = vec![Page::new(1, "body")];
        append_attachment(&mut pages, "a.txt", vec![Page::new(1, "one")]);
        let slide = Page {
            label: Some("slide 2".into()),
            ..Page::new(2, "two")
        };
        append_attachment(&mut pages, "deck.pptx", vec![Page::new(1, "x"), slide]);
        let labels: Vec<(u32, Option<&str>)> = pages
            .iter()
            .map(|p| (p.number, p.label.as_deref()))
            .collect();
        assert_eq!(
            labels,
            [
                (1, None),
                (2, Some("attachment a.txt")),
                (3, Some("attachment deck.pptx, page 1")),
                (4, Some("attachment deck.pptx, slide 2")),
            ]
        );
    }
}
