//! `ChunkPayload` ⇄ Qdrant payload, field by field (no serde round trip through JSON).
//!
//! Besides the payload's own fields, each point carries two derived keyword lists the filters
//! and facets use (Qdrant matches and facets a keyword index on each element of a list):
//! `source_folders` (every folder the source lies in, [`source_folders`]) and `tag_pairs`
//! (`"key=value"` per tag). The tags themselves are also stored as an object, `tags`, for the
//! round trip.

use std::collections::{BTreeMap, HashMap};

use qdrant_client::qdrant::value::Kind;
use qdrant_client::qdrant::{Struct, Value};

use crate::index::ChunkPayload;
use crate::index::query::source_folders;

pub const TENANT: &str = "tenant";
pub const DOC_ID: &str = "doc_id";
pub const CHUNK_INDEX: &str = "chunk_index";
pub const CHUNK_COUNT: &str = "chunk_count";
pub const CONTENT_SHA256: &str = "content_sha256";
pub const PIPELINE_VERSION: &str = "pipeline_version";
const PAGE_LABEL: &str = "page_label";
const OCR_PAGES: &str = "ocr_pages";
const OCR_CONFIDENCE: &str = "ocr_confidence";
pub const PAGE_START: &str = "page_start";
pub const PAGE_END: &str = "page_end";
pub const MEDIA_TYPE: &str = "media_type";
const TAGS: &str = "tags";
/// `"key=value"` of each tag: a keyword list, filtered and faceted on.
pub const TAG_PAIRS: &str = "tag_pairs";
/// The folders of `source`, each ending with `/`: a keyword list, the folder filter.
pub const SOURCE_FOLDERS: &str = "source_folders";

/// A tag as `tag_pairs` stores it, and as facets report it.
pub fn tag_pair(key: &str, value: &str) -> String {
    format!("{key}={value}")
}

pub fn to_payload(p: &ChunkPayload) -> HashMap<String, Value> {
    let text = |s: &str| Value::from(s.to_owned());
    let int = |n: u32| Value::from(i64::from(n));
    let mut map = HashMap::from([
        (TENANT.to_owned(), text(&p.tenant)),
        (DOC_ID.to_owned(), text(&p.doc_id)),
        ("source".to_owned(), text(&p.source)),
        (CONTENT_SHA256.to_owned(), text(&p.content_sha256)),
        (CHUNK_INDEX.to_owned(), int(p.chunk_index)),
        (CHUNK_COUNT.to_owned(), int(p.chunk_count)),
        (PAGE_START.to_owned(), int(p.page_start)),
        (PAGE_END.to_owned(), int(p.page_end)),
        (MEDIA_TYPE.to_owned(), text(&p.media_type)),
        ("text".to_owned(), text(&p.text)),
        ("model".to_owned(), text(&p.model)),
        (PIPELINE_VERSION.to_owned(), text(&p.pipeline_version)),
    ]);
    // Optional fields are left out when empty, as in the embedded index's JSON.
    if let Some(label) = &p.page_label {
        map.insert(PAGE_LABEL.to_owned(), text(label));
    }
    if !p.ocr_pages.is_empty() {
        let pages: Vec<Value> = p.ocr_pages.iter().map(|&n| int(n)).collect();
        map.insert(OCR_PAGES.to_owned(), Value::from(pages));
    }
    if let Some(confidence) = p.ocr_confidence {
        map.insert(OCR_CONFIDENCE.to_owned(), int(u32::from(confidence)));
    }
    let folders: Vec<Value> = source_folders(&p.source).map(text).collect();
    map.insert(SOURCE_FOLDERS.to_owned(), Value::from(folders));
    if !p.tags.is_empty() {
        let fields = p.tags.iter().map(|(k, v)| (k.clone(), text(v))).collect();
        map.insert(
            TAGS.to_owned(),
            Value::from(Kind::StructValue(Struct { fields })),
        );
        let pairs: Vec<Value> = p
            .tags
            .iter()
            .map(|(k, v)| Value::from(tag_pair(k, v)))
            .collect();
        map.insert(TAG_PAIRS.to_owned(), Value::from(pairs));
    }
    map
}

/// Reads a payload written by [`to_payload`]; names the first field that is missing or of the
/// wrong type (a collection shared with another writer, say).
pub fn from_payload(map: &HashMap<String, Value>) -> Result<ChunkPayload, String> {
    Ok(ChunkPayload {
        tenant: string(map, TENANT)?,
        doc_id: string(map, DOC_ID)?,
        source: string(map, "source")?,
        content_sha256: string(map, CONTENT_SHA256)?,
        chunk_index: int(map, CHUNK_INDEX)?,
        chunk_count: int(map, CHUNK_COUNT)?,
        page_start: int(map, PAGE_START)?,
        page_end: int(map, PAGE_END)?,
        page_label: map
            .contains_key(PAGE_LABEL)
            .then(|| string(map, PAGE_LABEL))
            .transpose()?,
        ocr_pages: match map.get(OCR_PAGES).and_then(|v| v.kind.as_ref()) {
            None => Vec::new(),
            Some(Kind::ListValue(list)) => list
                .values
                .iter()
                .map(|v| match v.kind {
                    Some(Kind::IntegerValue(n)) => u32::try_from(n).ok(),
                    _ => None,
                })
                .collect::<Option<Vec<u32>>>()
                .ok_or_else(|| format!("payload field {OCR_PAGES:?} should be page numbers"))?,
            other => return Err(bad_field(OCR_PAGES, "a list", other)),
        },
        ocr_confidence: map
            .contains_key(OCR_CONFIDENCE)
            .then(|| int(map, OCR_CONFIDENCE).map(|c| u8::try_from(c).unwrap_or(100)))
            .transpose()?,
        // Points written before media types and tags existed have neither.
        media_type: match map.get(MEDIA_TYPE) {
            None => String::new(),
            Some(_) => string(map, MEDIA_TYPE)?,
        },
        tags: tags(map)?,
        text: string(map, "text")?,
        model: string(map, "model")?,
        pipeline_version: string(map, PIPELINE_VERSION)?,
    })
}

fn tags(map: &HashMap<String, Value>) -> Result<BTreeMap<String, String>, String> {
    match map.get(TAGS).and_then(|v| v.kind.as_ref()) {
        None => Ok(BTreeMap::new()),
        Some(Kind::StructValue(s)) => s
            .fields
            .iter()
            .map(|(k, v)| match &v.kind {
                Some(Kind::StringValue(s)) => Ok((k.clone(), s.clone())),
                _ => Err(format!("payload field {TAGS:?} should map tags to strings")),
            })
            .collect(),
        other => Err(bad_field(TAGS, "an object", other)),
    }
}

pub fn string(map: &HashMap<String, Value>, key: &str) -> Result<String, String> {
    match map.get(key).and_then(|v| v.kind.as_ref()) {
        Some(Kind::StringValue(s)) => Ok(s.clone()),
        other => Err(bad_field(key, "a string", other)),
    }
}

pub fn int(map: &HashMap<String, Value>, key: &str) -> Result<u32, String> {
    match map.get(key).and_then(|v| v.kind.as_ref()) {
        Some(Kind::IntegerValue(n)) => {
            u32::try_from(*n).map_err(|_| format!("payload field {key:?} is {n}, out of range"))
        }
        other => Err(bad_field(key, "an integer", other)),
    }
}

fn bad_field(key: &str, want: &str, got: Option<&Kind>) -> String {
    match got {
        None => format!("payload field {key:?} is missing"),
        Some(kind) => format!("payload field {key:?} should be {want}, is {kind:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ChunkPayload {
        ChunkPayload {
            tenant: "acme".into(),
            doc_id: "d1".into(),
            source: "s3://b/k.pdf".into(),
            content_sha256: "ab".repeat(32),
            chunk_index: 3,
            chunk_count: 9,
            page_start: 2,
            page_end: 4,
            page_label: None,
            ocr_pages: Vec::new(),
            ocr_confidence: None,
            media_type: "application/pdf".into(),
            tags: BTreeMap::new(),
            text: "héllo".into(),
            model: "m".into(),
            pipeline_version: "v1".into(),
        }
    }

    #[test]
    fn round_trips_every_field() {
        let p = sample();
        assert_eq!(from_payload(&to_payload(&p)).unwrap(), p);
        let scanned = ChunkPayload {
            page_label: Some("slide 2 – slide 3".into()),
            ocr_pages: vec![2, 3],
            ocr_confidence: Some(88),
            ..sample()
        };
        assert_eq!(from_payload(&to_payload(&scanned)).unwrap(), scanned);
        let tagged = ChunkPayload {
            tags: BTreeMap::from([
                ("team".into(), "legal".into()),
                ("year".into(), "2024 q1".into()),
            ]),
            ..sample()
        };
        assert_eq!(from_payload(&to_payload(&tagged)).unwrap(), tagged);
    }

    fn keywords(v: &Value) -> Vec<String> {
        match &v.kind {
            Some(Kind::ListValue(l)) => l
                .values
                .iter()
                .map(|v| match &v.kind {
                    Some(Kind::StringValue(s)) => s.clone(),
                    other => panic!("a string expected, got {other:?}"),
                })
                .collect(),
            other => panic!("a list expected, got {other:?}"),
        }
    }

    #[test]
    fn folders_and_tag_pairs_are_keyword_lists() {
        let p = ChunkPayload {
            source: "s3://b/reports/2024/k.pdf".into(),
            tags: BTreeMap::from([("team".into(), "legal".into()), ("y".into(), "1".into())]),
            ..sample()
        };
        let map = to_payload(&p);
        assert_eq!(
            keywords(&map[SOURCE_FOLDERS]),
            ["s3://b/", "s3://b/reports/", "s3://b/reports/2024/"]
        );
        assert_eq!(keywords(&map[TAG_PAIRS]), ["team=legal", "y=1"]);
        assert_eq!(
            map[MEDIA_TYPE].kind,
            Some(Kind::StringValue("application/pdf".into()))
        );
        let untagged = to_payload(&sample());
        assert!(!untagged.contains_key(TAG_PAIRS) && !untagged.contains_key(TAGS));
    }

    #[test]
    fn points_written_before_media_types_and_tags_still_read() {
        let mut map = to_payload(&sample());
        map.remove(MEDIA_TYPE);
        let read = from_payload(&map).unwrap();
        assert_eq!((read.media_type.as_str(), read.tags.len()), ("", 0));
        map.insert(TAGS.into(), Value::from(1_i64));
        assert!(
            from_payload(&map)
                .unwrap_err()
                .contains("should be an object")
        );
    }

    #[test]
    fn keyword_and_integer_fields_have_the_types_the_indexes_expect() {
        let map = to_payload(&sample());
        assert!(matches!(map[TENANT].kind, Some(Kind::StringValue(_))));
        assert!(matches!(map[DOC_ID].kind, Some(Kind::StringValue(_))));
        assert_eq!(map[CHUNK_INDEX].kind, Some(Kind::IntegerValue(3)));
    }

    #[test]
    fn names_a_missing_or_mistyped_field() {
        let mut map = to_payload(&sample());
        map.remove("text");
        assert_eq!(
            from_payload(&map).unwrap_err(),
            "payload field \"text\" is missing"
        );
        map.insert("text".into(), Value::from(1_i64));
        assert!(
            from_payload(&map)
                .unwrap_err()
                .contains("should be a string")
        );
        map.insert("text".into(), Value::from("t"));
        map.insert(CHUNK_INDEX.into(), Value::from(-1_i64));
        assert!(from_payload(&map).unwrap_err().contains("out of range"));
    }
}
