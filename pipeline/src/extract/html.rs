//! HTML: text only, no markup, no script or style content, entities decoded; one page.

use html2text::render::TrivialDecorator;

use super::text::{normalize, single_page};
use crate::{Page, Result};

/// Wide enough that html2text never wraps a paragraph: lines stay as the author wrote them.
const RENDER_WIDTH: usize = 1_000_000;

/// HTML as one page (number 1) of plain text.
pub(super) fn extract(bytes: &[u8]) -> Result<Vec<Page>> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    // The trivial decorator adds no markup of its own: no `#` before headings, no `*` before list
    // items, no link footnotes.
    let text = html2text::config::with_decorator(TrivialDecorator::new())
        .no_table_borders()
        .link_footnotes(false)
        .allow_width_overflow()
        .string_from_read(bytes, RENDER_WIDTH)
        .map_err(|e| crate::Error::NoText(format!("HTML could not be rendered to text: {e}")))?;
    single_page(normalize(&text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[test]
    fn markup_script_and_style_are_dropped_and_entities_decoded() {
        let html = br#"<!DOCTYPE html><html><head><title>T</title>
            <style>body { color: red; }</style><script>var secret = "s3cr3t";</script></head>
            <body><h1>Caf&eacute; &amp; Bar</h1><p>One <b>bold</b> &lt;word&gt;.</p>
            <p>Two&nbsp;words &#8212; <a href="https://x.invalid/">link</a>.</p>
            <noscript>enable js</noscript></body></html>"#;
        let pages = extract(html).unwrap();
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0].number, 1);
        let text = &pages[0].text;
        assert!(text.starts_with("Café & Bar\n"), "{text}");
        assert!(text.contains("One bold <word>."), "{text}");
        assert!(text.contains("link"), "{text}");
        for banned in [
            "secret",
            "color",
            "<p>",
            "<b>",
            "&amp;",
            "https://x.invalid",
        ] {
            assert!(!text.contains(banned), "{banned:?} in {text:?}");
        }
    }

    #[test]
    fn markup_only_html_has_no_text() {
        let err = extract(b"<html><body><script>x()</script> &nbsp; </body></html>").unwrap_err();
        assert!(
            matches!(&err, Error::NoText(m) if m == "document is empty"),
            "{err}"
        );
    }
}
