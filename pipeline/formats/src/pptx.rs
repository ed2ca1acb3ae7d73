//! PPTX: one section per slide in presentation order (presentation.xml `sldIdLst` resolved through
//! its relationships), shapes' text and tables in document order, then the slide's speaker notes.

use std::collections::HashMap;

use crate::text::{Kind, Writer};
use crate::xml::{Ev, walk};
use crate::zip_safe::{SafeZip, resolve_target};
use crate::{Extracted, Format, FormatError, Limits};

const PRESENTATION: &str = "ppt/presentation.xml";

pub(crate) fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, FormatError> {
    let mut zip = SafeZip::open(bytes, Format::Pptx, limits)?;
    let pres = zip.require(PRESENTATION)?;
    let rels = relationships(&mut zip, PRESENTATION, limits)?;
    let mut slide_ids = Vec::new();
    walk(&pres, Format::Pptx, PRESENTATION, limits, |ev| {
        if let Ev::Start(el) = ev
            && el.local() == "sldId"
            && let Some(id) = el.attr("r:id")
        {
            slide_ids.push(id.to_string());
        }
        Ok(())
    })?;
    if slide_ids.len() as u64 > limits.max_sections {
        return Err(FormatError::TooManySections {
            sections: slide_ids.len() as u64,
            limit: limits.max_sections,
        });
    }
    let mut w = Writer::new(limits);
    for (n, id) in slide_ids.iter().enumerate() {
        let Some((target, _)) = rels.get(id) else {
            return Err(FormatError::corrupt(
                Format::Pptx,
                format!("slide {} points to a missing relationship {id}", n + 1),
            ));
        };
        let slide = zip.require(target)?;
        shapes(&slide, target, limits, &mut w)?;
        let slide_rels = relationships(&mut zip, target, limits)?;
        let notes = slide_rels
            .values()
            .find(|(_, kind)| kind.ends_with("/notesSlide"));
        if let Some((notes_part, _)) = notes
            && let Some(xml) = zip.read(notes_part)?
        {
            let mut nw = Writer::new(limits);
            shapes(&xml, notes_part, limits, &mut nw)?;
            if let Some(section) = nw.finish()?.into_iter().next()
                && !section.text.is_empty()
            {
                w.block(format!("Speaker notes: {}", section.text));
            }
        }
        w.end_section(Some(format!("slide {}", n + 1)))?;
    }
    Ok(Extracted {
        sections: w.finish()?,
        attachments: Vec::new(),
    })
}

/// Relationship id -> (resolved part name, relationship type) for `part`.
pub(crate) fn relationships(
    zip: &mut SafeZip<'_>,
    part: &str,
    limits: &Limits,
) -> Result<HashMap<String, (String, String)>, FormatError> {
    let (dir, file) = part.rsplit_once('/').unwrap_or(("", part));
    let rels_part = if dir.is_empty() {
        format!("_rels/{file}.rels")
    } else {
        format!("{dir}/_rels/{file}.rels")
    };
    let mut map = HashMap::new();
    let Some(xml) = zip.read(&rels_part)? else {
        return Ok(map);
    };
    walk(&xml, zip.format(), &rels_part, limits, |ev| {
        if let Ev::Start(el) = ev
            && el.local() == "Relationship"
            && el.attr("TargetMode") != Some("External")
            && let (Some(id), Some(target)) = (el.attr("Id"), el.attr("Target"))
        {
            let kind = el.attr("Type").unwrap_or("").to_string();
            map.insert(id.to_string(), (resolve_target(part, target), kind));
        }
        Ok(())
    })?;
    Ok(map)
}

/// DrawingML text of a slide or notes part: shapes (titles as headings, bulleted paragraphs as
/// items) and tables; slide-number, date, footer and slide-image placeholders are skipped.
fn shapes(xml: &[u8], part: &str, limits: &Limits, w: &mut Writer) -> Result<(), FormatError> {
    let mut skip = 0usize;
    let mut in_t = false;
    let mut title = false;
    let mut sp_depth = 0usize;
    let mut fallback = 0usize;
    walk(xml, Format::Pptx, part, limits, |ev| {
        match ev {
            Ev::Start(el) => {
                if fallback > 0 || el.local() == "Fallback" {
                    fallback += 1;
                    return Ok(());
                }
                match el.local() {
                    "sp" => {
                        sp_depth += 1;
                        title = false;
                    }
                    "ph" if sp_depth > 0 => {
                        let kind = el.attr("type").unwrap_or("body");
                        title = matches!(kind, "title" | "ctrTitle");
                        if matches!(kind, "sldNum" | "dt" | "ftr" | "hdr" | "sldImg") {
                            skip = sp_depth;
                        }
                    }
                    "pPr" if skip == 0 && !title && el.attr("lvl").is_some_and(|l| l != "0") => {
                        w.set_kind(Kind::Item);
                    }
                    "buChar" | "buAutoNum" if skip == 0 && !title => w.set_kind(Kind::Item),
                    "p" if title && skip == 0 => w.set_kind(Kind::Heading(1)),
                    "t" => in_t = true,
                    "br" if skip == 0 => w.newline(),
                    "tbl" => w.start_table(),
                    _ => {}
                }
            }
            Ev::End(name) => {
                if fallback > 0 {
                    fallback -= 1;
                    return Ok(());
                }
                match name {
                    "sp" => {
                        if skip == sp_depth {
                            skip = 0;
                        }
                        sp_depth = sp_depth.saturating_sub(1);
                        title = false;
                    }
                    "t" => in_t = false,
                    "p" => {
                        if skip == 0 {
                            w.end_para();
                        } else {
                            w.set_kind(Kind::Para);
                        }
                    }
                    "tc" => w.end_cell(),
                    "tr" => w.end_row(),
                    "tbl" => w.end_table(),
                    _ => {}
                }
            }
            Ev::Text(t) => {
                if in_t && skip == 0 && fallback == 0 {
                    w.text(t);
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_titles_and_breaks() -> Result<(), FormatError> {
        let slide = br#"<p:sld xmlns:a="a" xmlns:p="p"><p:cSld><p:spTree>
            <p:sp><p:nvSpPr><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr>
              <p:txBody><a:p><a:r><a:t>Roast &amp; Brew</a:t></a:r></a:p></p:txBody></p:sp>
            <p:sp><p:nvSpPr><p:nvPr><p:ph type="sldNum"/></p:nvPr></p:nvSpPr>
              <p:txBody><a:p><a:fld type="slidenum"><a:t>7</a:t></a:fld></a:p></p:txBody></p:sp>
            <p:sp><p:txBody><a:p><a:r><a:t>line one</a:t></a:r><a:br/><a:r><a:t>line&#160;two</a:t></a:r></a:p>
              <a:p><a:pPr lvl="1"/><a:r><a:t>nested point</a:t></a:r></a:p></p:txBody></p:sp>
        </p:spTree></p:cSld></p:sld>"#;
        let mut w = Writer::new(&Limits::default());
        shapes(slide, "ppt/slides/slide1.xml", &Limits::default(), &mut w)?;
        let s = w.finish()?;
        assert_eq!(
            s[0].text,
            "# Roast & Brew\n\nline one\nline two\n\n- nested point"
        );
        Ok(())
    }
}
