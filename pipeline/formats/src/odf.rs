//! OpenDocument text (ODT) and presentations (ODP) from content.xml: headings with their outline
//! level, paragraphs, lists and tables in order. ODT is one section; ODP one per `draw:page`
//! ("slide N") with its speaker notes appended. Encrypted packages are refused via the manifest.

use crate::text::{Kind, NestedParas, Writer};
use crate::xml::{Ev, walk};
use crate::zip_safe::SafeZip;
use crate::{Extracted, Format, FormatError, Limits};

/// Not content: tracked (deleted) changes, comments, the footnote mark itself.
const SKIP: &[&str] = &[
    "tracked-changes",
    "annotation",
    "note-citation",
    "forms",
    "sequence-decls",
];

/// Refuses packages whose manifest declares encrypted entries.
pub(crate) fn refuse_encrypted(zip: &mut SafeZip<'_>, limits: &Limits) -> Result<(), FormatError> {
    let format = zip.format();
    if let Some(manifest) = zip.read("META-INF/manifest.xml")? {
        let mut encrypted = false;
        walk(&manifest, format, "META-INF/manifest.xml", limits, |ev| {
            if let Ev::Start(el) = ev
                && el.local() == "encryption-data"
            {
                encrypted = true;
            }
            Ok(())
        })?;
        if encrypted {
            return Err(FormatError::Encrypted {
                format_name: format.name().to_string(),
            });
        }
    }
    Ok(())
}

pub(crate) fn extract(
    format: Format,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Extracted, FormatError> {
    let mut zip = SafeZip::open(bytes, format, limits)?;
    refuse_encrypted(&mut zip, limits)?;
    let content = zip.require("content.xml")?;
    let slides = format == Format::Odp;
    let mut w = Writer::new(limits);
    let mut notes = Writer::new(limits);
    let mut in_body = false;
    let mut skip = 0usize;
    let mut paras = NestedParas::default();
    let mut in_notes = false;
    let mut title_frame = 0usize;
    let mut frame_depth = 0usize;
    let mut page = 0u64;
    walk(&content, format, "content.xml", limits, |ev| {
        let out = if in_notes { &mut notes } else { &mut w };
        match ev {
            Ev::Start(el) => {
                let name = el.local();
                if skip > 0 || (in_body && SKIP.contains(&name)) {
                    skip += 1;
                    return Ok(());
                }
                match name {
                    "body" => in_body = true,
                    _ if !in_body => {}
                    "h" | "p" => {
                        // A paragraph inside another continues it, kind and all.
                        let outermost = paras.open(out);
                        if outermost && name == "h" {
                            let level = el.attr("text:outline-level").and_then(|l| l.parse().ok());
                            out.set_kind(Kind::Heading(level.unwrap_or(1)));
                        } else if outermost && title_frame > 0 {
                            out.set_kind(Kind::Heading(1));
                        }
                    }
                    "list-item" | "list-header" => out.set_kind(Kind::Item),
                    "s" => {
                        let n = el
                            .attr("text:c")
                            .and_then(|c| c.parse::<usize>().ok())
                            .unwrap_or(1);
                        out.text(&" ".repeat(n.min(8)));
                    }
                    "tab" => out.text(" "),
                    "line-break" => out.newline(),
                    "table" => out.start_table(),
                    "frame" => {
                        frame_depth += 1;
                        if el.attr("presentation:class") == Some("title") {
                            title_frame = frame_depth;
                        }
                    }
                    "page" if slides => page += 1,
                    "notes" => in_notes = true,
                    _ => {}
                }
            }
            Ev::End(name) => {
                if skip > 0 {
                    skip -= 1;
                    return Ok(());
                }
                match name {
                    "h" | "p" => paras.close(out),
                    "list-item" | "list-header" => out.set_kind(Kind::Para),
                    "table-cell" | "covered-table-cell" => out.end_cell(),
                    "table-row" => out.end_row(),
                    "table" => out.end_table(),
                    "frame" => {
                        if title_frame == frame_depth {
                            title_frame = 0;
                        }
                        frame_depth = frame_depth.saturating_sub(1);
                    }
                    "notes" => in_notes = false,
                    "page" if slides => {
                        let mut done = std::mem::replace(&mut notes, Writer::new(limits));
                        done.end_para();
                        if let Some(s) = done.finish()?.into_iter().next()
                            && !s.text.is_empty()
                        {
                            w.block(format!("Speaker notes: {}", s.text));
                        }
                        w.end_section(Some(format!("slide {page}")))?;
                    }
                    "body" => in_body = false,
                    _ => {}
                }
            }
            Ev::Text(t) => {
                if in_body && skip == 0 && paras.depth() > 0 {
                    out.text(t);
                }
            }
        }
        Ok(())
    })?;
    Ok(Extracted {
        sections: w.finish()?,
        attachments: Vec::new(),
    })
}
