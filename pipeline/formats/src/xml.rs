//! A streaming XML walk on quick-xml that refuses entity declarations (billion laughs, XXE),
//! never resolves anything external, bounds nesting, and hands callers owned, simple events.
//! Element and attribute names are matched by local name (prefixes vary between producers).

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::{Format, FormatError, Limits};

/// A start tag: qualified name and attributes (values unescaped).
#[derive(Debug)]
pub(crate) struct El {
    pub(crate) name: String,
    attrs: Vec<(String, String)>,
}

impl El {
    pub(crate) fn local(&self) -> &str {
        local(&self.name)
    }

    /// Attribute by qualified name ("r:id"), falling back to its local name.
    pub(crate) fn attr(&self, qname: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == qname)
            .or_else(|| {
                let want = local(qname);
                self.attrs
                    .iter()
                    .find(|(k, _)| local(k) == want && !k.starts_with("xmlns"))
            })
            .map(|(_, v)| v.as_str())
    }
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

pub(crate) enum Ev<'e> {
    Start(&'e El),
    /// Local name of the element that ends (also sent right after an empty element's Start).
    End(&'e str),
    Text(&'e str),
}

/// Decodes the bytes of an XML part: UTF-8 (BOM optional) or UTF-16 with a BOM.
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    if let Some((enc, _)) = encoding_rs::Encoding::for_bom(bytes) {
        return enc.decode_with_bom_removal(bytes).0;
    }
    String::from_utf8_lossy(bytes)
}

/// Walks `xml` (the part `part` of a `format` document), calling `f` for each event in order.
pub(crate) fn walk(
    xml: &[u8],
    format: Format,
    part: &str,
    limits: &Limits,
    mut f: impl FnMut(Ev<'_>) -> Result<(), FormatError>,
) -> Result<(), FormatError> {
    let text = decode(xml);
    let mut reader = Reader::from_str(&text);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    config.expand_empty_elements = false;
    let corrupt = |e: &dyn std::fmt::Display| {
        FormatError::corrupt(format, format!("{part} is not well-formed XML ({e})"))
    };
    let mut depth = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| corrupt(&e))?;
        match event {
            Event::Start(ref s) | Event::Empty(ref s) => {
                let empty = matches!(event, Event::Empty(_));
                if !empty {
                    depth += 1;
                    if depth > limits.max_xml_depth {
                        return Err(FormatError::UnsafeXml {
                            message: format!(
                                "refused: {part} nests elements deeper than {} levels",
                                limits.max_xml_depth
                            ),
                        });
                    }
                }
                let mut attrs = Vec::new();
                for a in s.attributes().with_checks(false) {
                    let a = a.map_err(|e| corrupt(&e))?;
                    let value = a
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map(Cow::into_owned)
                        .unwrap_or_else(|_| a.value.clone().into_owned());
                    attrs.push((a.key.as_ref().to_string(), value));
                }
                let el = El {
                    name: s.name().as_ref().to_string(),
                    attrs,
                };
                f(Ev::Start(&el))?;
                if empty {
                    f(Ev::End(el.local()))?;
                }
            }
            Event::End(ref e) => {
                depth = depth.saturating_sub(1);
                f(Ev::End(local(e.name().as_ref())))?;
            }
            Event::Text(t) => f(Ev::Text(&t.xml10_content()))?,
            Event::CData(t) => f(Ev::Text(&t.xml10_content()))?,
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        named_entity(&r).map_or_else(|| format!("&{};", &*r), str::to_string)
                    }
                    Err(_) => String::new(),
                };
                f(Ev::Text(&resolved))?;
            }
            Event::DocType(d) => {
                if d.contains("<!ENTITY") {
                    return Err(FormatError::UnsafeXml {
                        message: format!(
                            "refused: {part} declares XML entities in its DOCTYPE \
                             (entity expansion / external entity attack); they are never expanded"
                        ),
                    });
                }
            }
            Event::Eof => return Ok(()),
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
}

/// The XML predefined entities plus the few HTML ones common in EPUB XHTML; anything else is
/// kept literally (it is never looked up in a DTD).
fn named_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        "nbsp" => " ",
        "ndash" => "\u{2013}",
        "mdash" => "\u{2014}",
        "hellip" => "\u{2026}",
        "lsquo" => "\u{2018}",
        "rsquo" => "\u{2019}",
        "ldquo" => "\u{201c}",
        "rdquo" => "\u{201d}",
        "copy" => "\u{a9}",
        "shy" => "",
        _ => return None,
    })
}
