//! DOCX: word/document.xml in body order (paragraphs, tables, nested tables), split into pages at
//! explicit page breaks and Word's `lastRenderedPageBreak` marks. Heading levels come from the
//! paragraph style (its id, or its name in styles.xml, e.g. "heading 2"); list items from `numPr`.

use std::collections::HashMap;

use crate::text::{Kind, NestedParas, Writer};
use crate::xml::{Ev, walk};
use crate::zip_safe::SafeZip;
use crate::{Extracted, Format, FormatError, Limits};

/// Subtrees that are never content: deleted revisions, the duplicate fallback of alternate
/// content, field instructions, comments' anchors.
const SKIP: &[&str] = &[
    "del",
    "Fallback",
    "instrText",
    "delText",
    "moveFrom",
    "sectPr",
];

pub(crate) fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, FormatError> {
    let mut zip = SafeZip::open(bytes, Format::Docx, limits)?;
    let doc = zip.require("word/document.xml")?;
    let styles = match zip.read("word/styles.xml")? {
        Some(xml) => style_names(&xml, limits)?,
        None => HashMap::new(),
    };
    let mut w = Writer::new(limits);
    body(&doc, "word/document.xml", &styles, limits, &mut w, true)?;
    for part in ["word/footnotes.xml", "word/endnotes.xml"] {
        if let Some(xml) = zip.read(part)? {
            body(&xml, part, &styles, limits, &mut w, false)?;
        }
    }
    Ok(Extracted {
        sections: w.finish()?,
        attachments: Vec::new(),
    })
}

/// styleId -> lower-cased style name, so localized or renamed ids still map to headings.
fn style_names(xml: &[u8], limits: &Limits) -> Result<HashMap<String, String>, FormatError> {
    let mut map = HashMap::new();
    let mut current: Option<String> = None;
    walk(xml, Format::Docx, "word/styles.xml", limits, |ev| {
        if let Ev::Start(el) = ev {
            match el.local() {
                "style" => current = el.attr("w:styleId").map(str::to_string),
                "name" => {
                    if let (Some(id), Some(name)) = (current.take(), el.attr("w:val")) {
                        map.insert(id, name.to_ascii_lowercase());
                    }
                }
                _ => {}
            }
        }
        Ok(())
    })?;
    Ok(map)
}

fn heading_level(style: &str) -> Option<u8> {
    let s: String = style
        .to_ascii_lowercase()
        .chars()
        .filter(|c| *c != ' ')
        .collect();
    if s == "title" {
        return Some(1);
    }
    let n = s.strip_prefix("heading")?;
    n.parse::<u8>().ok().filter(|n| (1..=9).contains(n))
}

fn is_on(el: &crate::xml::El) -> bool {
    !matches!(el.attr("w:val"), Some("0" | "false" | "off"))
}

/// Walks a story part (document body, footnotes, endnotes) into `w`.
fn body(
    xml: &[u8],
    part: &str,
    styles: &HashMap<String, String>,
    limits: &Limits,
    w: &mut Writer,
    pages: bool,
) -> Result<(), FormatError> {
    let mut skip = 0usize;
    let mut in_t = false;
    let mut in_run = false;
    let mut paras = NestedParas::default();
    let mut tbl_depth = 0usize;
    let mut in_ppr = false;
    let mut in_footnote_sep = false;
    walk(xml, Format::Docx, part, limits, |ev| {
        match ev {
            Ev::Start(el) => {
                let name = el.local();
                if skip > 0 || SKIP.contains(&name) {
                    skip += 1;
                    return Ok(());
                }
                match name {
                    "footnote" | "endnote" => {
                        // The separator "notes" (ids -1, 0) hold no text worth keeping.
                        in_footnote_sep = el.attr("w:type").is_some_and(|t| t != "normal");
                    }
                    "p" => {
                        paras.open(w);
                    }
                    "pPr" => in_ppr = true,
                    "pStyle" if in_ppr && paras.depth() == 1 => {
                        let id = el.attr("w:val").unwrap_or("");
                        let name = styles.get(id).map_or(id, String::as_str);
                        if let Some(level) = heading_level(name).or_else(|| heading_level(id)) {
                            w.set_kind(Kind::Heading(level));
                        } else if name.starts_with("list") {
                            w.set_kind(Kind::Item);
                        }
                    }
                    "numPr" if in_ppr && paras.depth() == 1 => w.set_kind(Kind::Item),
                    "pageBreakBefore"
                        if in_ppr && pages && tbl_depth == 0 && is_on(el) && !w.is_blank() =>
                    {
                        w.end_section(None)?;
                    }
                    "r" => in_run = true,
                    "t" => in_t = true,
                    "tab" if in_run => w.text(" "),
                    "br" | "cr" if in_run => {
                        if el.attr("w:type") == Some("page") && pages && tbl_depth == 0 {
                            if !w.is_blank() {
                                w.end_section(None)?;
                            }
                        } else {
                            w.newline();
                        }
                    }
                    "lastRenderedPageBreak" if pages && tbl_depth == 0 && !w.is_blank() => {
                        w.end_section(None)?;
                    }
                    "noBreakHyphen" => w.text("-"),
                    "tbl" => {
                        tbl_depth += 1;
                        w.start_table();
                    }
                    _ => {}
                }
            }
            Ev::End(name) => {
                if skip > 0 {
                    skip -= 1;
                    return Ok(());
                }
                match name {
                    "p" => paras.close(w),
                    "pPr" => in_ppr = false,
                    "r" => in_run = false,
                    "t" => in_t = false,
                    "tc" => w.end_cell(),
                    "tr" => w.end_row(),
                    "tbl" => {
                        tbl_depth = tbl_depth.saturating_sub(1);
                        w.end_table();
                    }
                    _ => {}
                }
            }
            Ev::Text(t) => {
                if in_t && skip == 0 && !in_footnote_sep {
                    w.text(t);
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::heading_level;

    #[test]
    fn heading_styles() {
        assert_eq!(heading_level("Heading1"), Some(1));
        assert_eq!(heading_level("heading 3"), Some(3));
        assert_eq!(heading_level("Title"), Some(1));
        assert_eq!(heading_level("TextBody"), None);
    }
}
