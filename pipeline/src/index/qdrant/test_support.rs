//! Readable views of built requests and sample points, for the request builders' tests.

use std::collections::BTreeMap;

use qdrant_client::qdrant::Condition;
use qdrant_client::qdrant::condition::ConditionOneOf;
use qdrant_client::qdrant::r#match::MatchValue;
use uuid::Uuid;

use crate::index::{ChunkPayload, Filter, Point};

/// (key, value) of each `must` field condition, for readable assertions.
pub fn fields(conds: &[Condition]) -> Vec<(String, String)> {
    conds
        .iter()
        .filter_map(|c| match &c.condition_one_of {
            Some(ConditionOneOf::Field(f)) => {
                let v = match f.r#match.as_ref()?.match_value.as_ref()? {
                    MatchValue::Keyword(s) => s.clone(),
                    MatchValue::Integer(n) => n.to_string(),
                    MatchValue::Keywords(k) => format!("any of {}", k.strings.join(",")),
                    other => format!("{other:?}"),
                };
                Some((f.key.clone(), v))
            }
            _ => None,
        })
        .collect()
}

pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect()
}

pub fn point(i: u32) -> Point {
    Point {
        id: Uuid::from_u128(u128::from(i)),
        vector: vec![0.5; 4],
        payload: ChunkPayload {
            tenant: "t".into(),
            doc_id: "d".into(),
            source: "s".into(),
            content_sha256: "c".into(),
            chunk_index: i,
            chunk_count: 10,
            page_start: 1,
            page_end: 1,
            media_type: "text/plain".into(),
            text: format!("invoice {i} paid"),
            model: "m".into(),
            pipeline_version: "p".into(),
            ..ChunkPayload::default()
        },
    }
}

/// (key, gte, lte) of each `must` range condition.
pub fn ranges(conds: &[Condition]) -> Vec<(String, Option<f64>, Option<f64>)> {
    conds
        .iter()
        .filter_map(|c| match &c.condition_one_of {
            Some(ConditionOneOf::Field(f)) => {
                let r = f.range.as_ref()?;
                Some((f.key.clone(), r.gte, r.lte))
            }
            _ => None,
        })
        .collect()
}

pub fn full_filter() -> Filter {
    Filter {
        tenant: "acme".into(),
        doc_id: Some("d1".into()),
        source_prefix: Some("s3://b/My Reports/".into()),
        media_types: vec!["application/pdf".into(), "text/html".into()],
        pages: Some((3, 7)),
        tags: BTreeMap::from([
            ("team".into(), "legal".into()),
            ("year".into(), "2024".into()),
        ]),
    }
}
