//! EPUB: META-INF/container.xml -> package document (OPF) -> spine order; each spine XHTML item
//! with text is a section "chapter N". XHTML is reduced to text by a small block-aware walker
//! (no HTML engine: EPUB content documents are XML).

use std::collections::HashMap;

use crate::text::{Kind, Writer};
use crate::xml::{Ev, walk};
use crate::zip_safe::{SafeZip, resolve_target};
use crate::{Extracted, Format, FormatError, Limits};

pub(crate) fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, FormatError> {
    let mut zip = SafeZip::open(bytes, Format::Epub, limits)?;
    crate::odf::refuse_encrypted(&mut zip, limits)?;
    if zip.has("META-INF/encryption.xml") && !only_font_obfuscation(&mut zip, limits)? {
        return Err(FormatError::Encrypted {
            format_name: "EPUB".to_string(),
        });
    }
    let container = zip.require("META-INF/container.xml")?;
    let mut opf_path = None;
    walk(
        &container,
        Format::Epub,
        "META-INF/container.xml",
        limits,
        |ev| {
            if let Ev::Start(el) = ev
                && el.local() == "rootfile"
                && opf_path.is_none()
            {
                opf_path = el.attr("full-path").map(str::to_string);
            }
            Ok(())
        },
    )?;
    let opf_path = opf_path.ok_or_else(|| {
        FormatError::corrupt(
            Format::Epub,
            "META-INF/container.xml names no package document",
        )
    })?;
    let opf = zip.require(&opf_path)?;
    let mut manifest = HashMap::new();
    let mut spine = Vec::new();
    walk(&opf, Format::Epub, &opf_path, limits, |ev| {
        if let Ev::Start(el) = ev {
            match el.local() {
                "item" => {
                    if let (Some(id), Some(href)) = (el.attr("id"), el.attr("href")) {
                        manifest.insert(id.to_string(), href.to_string());
                    }
                }
                "itemref" => spine.extend(el.attr("idref").map(str::to_string)),
                _ => {}
            }
        }
        Ok(())
    })?;
    if spine.len() as u64 > limits.max_sections {
        return Err(FormatError::TooManySections {
            sections: spine.len() as u64,
            limit: limits.max_sections,
        });
    }
    let mut w = Writer::new(limits);
    let mut chapter = 0;
    for idref in &spine {
        let Some(href) = manifest.get(idref) else {
            continue;
        };
        let href = percent_decode(href.split('#').next().unwrap_or(""));
        let part = resolve_target(&opf_path, &href);
        let Some(xhtml) = zip.read(&part)? else {
            continue;
        };
        xhtml_text(&xhtml, Format::Epub, &part, limits, &mut w)?;
        if !w.is_blank() {
            chapter += 1;
            w.end_section(Some(format!("chapter {chapter}")))?;
        }
    }
    Ok(Extracted {
        sections: w.finish()?,
        attachments: Vec::new(),
    })
}

/// META-INF/encryption.xml is also used for font obfuscation, which does not hide text.
fn only_font_obfuscation(zip: &mut SafeZip<'_>, limits: &Limits) -> Result<bool, FormatError> {
    let xml = zip.require("META-INF/encryption.xml")?;
    let mut only_fonts = true;
    walk(
        &xml,
        Format::Epub,
        "META-INF/encryption.xml",
        limits,
        |ev| {
            if let Ev::Start(el) = ev
                && el.local() == "EncryptionMethod"
            {
                let alg = el.attr("Algorithm").unwrap_or("");
                if !(alg.contains("obfuscation") || alg.ends_with("/font")) {
                    only_fonts = false;
                }
            }
            Ok(())
        },
    )?;
    Ok(only_fonts)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Elements that start and end a block of text.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "blockquote",
    "pre",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "dt",
    "dd",
    "figcaption",
    "caption",
    "header",
    "footer",
    "aside",
    "address",
    "hr",
];
/// Subtrees that are not content.
const SKIP: &[&str] = &[
    "head", "script", "style", "template", "noscript", "svg", "math",
];

/// XHTML body text into `w`: headings, list items and table rows per the output conventions.
pub(crate) fn xhtml_text(
    xml: &[u8],
    format: Format,
    part: &str,
    limits: &Limits,
    w: &mut Writer,
) -> Result<(), FormatError> {
    let mut skip = 0usize;
    walk(xml, format, part, limits, |ev| {
        match ev {
            Ev::Start(el) => {
                let name = el.local().to_ascii_lowercase();
                if skip > 0 || SKIP.contains(&name.as_str()) {
                    skip += 1;
                    return Ok(());
                }
                match name.as_str() {
                    "br" => w.newline(),
                    "table" => w.start_table(),
                    "img" => {
                        if let Some(alt) = el.attr("alt").filter(|a| !a.trim().is_empty()) {
                            w.space();
                            w.text(alt);
                            w.space();
                        }
                    }
                    n if BLOCKS.contains(&n) => {
                        w.end_para();
                        if let Some(level) = n.strip_prefix('h').and_then(|l| l.parse::<u8>().ok())
                        {
                            w.set_kind(Kind::Heading(level));
                        } else if n == "li" {
                            w.set_kind(Kind::Item);
                        }
                    }
                    "td" | "th" => w.end_para(),
                    _ => {}
                }
            }
            Ev::End(name) => {
                if skip > 0 {
                    skip -= 1;
                    return Ok(());
                }
                let name = name.to_ascii_lowercase();
                match name.as_str() {
                    "td" | "th" => w.end_cell(),
                    "tr" => w.end_row(),
                    "table" => w.end_table(),
                    n if BLOCKS.contains(&n) => w.end_para(),
                    _ => {}
                }
            }
            Ev::Text(t) => {
                if skip == 0 {
                    w.text(t);
                }
            }
        }
        Ok(())
    })?;
    w.end_para();
    Ok(())
}
