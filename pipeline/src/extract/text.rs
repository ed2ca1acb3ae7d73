//! Plain text and Markdown: UTF-8 in, one page out; plus the text normalisation every format
//! shares.

use crate::{Error, Page, Result};

/// Plain text or Markdown as one page (number 1). Markdown is kept as written.
pub(super) fn extract(bytes: &[u8]) -> Result<Vec<Page>> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::InvalidUtf8(e.valid_up_to()))?;
    single_page(normalize(text))
}

/// Wraps a whole document's text as page 1; whitespace-only text is [`Error::NoText`].
pub(super) fn single_page(text: String) -> Result<Vec<Page>> {
    if text.trim().is_empty() {
        return Err(Error::NoText("document is empty".to_owned()));
    }
    Ok(vec![Page::new(1, text)])
}

/// Normalises extracted text: drops a BOM, turns `\r\n` and `\r` into `\n`, removes control
/// characters (PDFium's soft-hyphen and NUL markers), strips trailing whitespace on each line,
/// keeps paragraph breaks but collapses runs of blank lines into one, and trims blank lines at
/// the start and end.
pub(super) fn normalize(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = String::with_capacity(text.len());
    let mut pending_blank = false;
    let mut line = String::new();
    for raw in text
        .split('\n')
        .flat_map(|l| l.strip_suffix('\r').unwrap_or(l).split('\r'))
    {
        line.clear();
        line.extend(raw.chars().filter(|&c| keep_char(c)));
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            pending_blank = true;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if pending_blank { "\n\n" } else { "\n" });
        }
        pending_blank = false;
        out.push_str(trimmed);
    }
    out
}

fn keep_char(c: char) -> bool {
    match c {
        '\t' => true,
        '\u{feff}' | '\u{fffe}' | '\u{ffff}' => false,
        c => !c.is_control(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_newlines_and_trailing_space() {
        assert_eq!(normalize("\u{feff}a  \r\nb\rc\n"), "a\nb\nc");
        assert_eq!(
            normalize("\n\n  \npara one\nline two \r\n\r\n\r\n\r\npara two\n\n"),
            "para one\nline two\n\npara two"
        );
        assert_eq!(normalize("hy\u{2}phen\0ated\ttab"), "hyphenated\ttab");
        assert_eq!(normalize("  indented\n"), "  indented");
        assert_eq!(normalize(" \r\n\t\n"), "");
    }

    #[test]
    fn text_is_one_page_and_utf8_is_checked() {
        let pages = extract("\u{feff}# Notes\r\n\r\nSome *text*.\r\n".as_bytes()).unwrap();
        assert_eq!(pages, vec![Page::new(1, "# Notes\n\nSome *text*.")]);
        assert!(matches!(
            extract(b"ok\n\xc3\x28"),
            Err(Error::InvalidUtf8(3))
        ));
        let err = extract(b" \n\t\r\n").unwrap_err();
        assert!(
            matches!(&err, Error::NoText(m) if m == "document is empty"),
            "{err}"
        );
    }
}
