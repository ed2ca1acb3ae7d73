//! Qdrant's answers read back into the index's types: hits with their payloads, the server's
//! fused list in the client-side order.

use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::{PointId, ScoredPoint};
use uuid::Uuid;

use super::payload;
use crate::index::SearchHit;
use crate::{Error, Result};

pub(super) fn bad_payload(collection: &str) -> impl Fn(String) -> Error + '_ {
    move |e| {
        Error::index(
            format!("Qdrant collection {collection:?} holds a point docfleet did not write: {e}"),
            false,
        )
    }
}

pub(super) fn hits(collection: &str, points: &[ScoredPoint]) -> Result<Vec<SearchHit>> {
    points
        .iter()
        .map(|p| {
            let payload = payload::from_payload(&p.payload).map_err(bad_payload(collection))?;
            let id = uuid_of(p.id.as_ref()).ok_or_else(|| {
                bad_payload(collection)(format!("point id {:?} is not a UUID", p.id))
            })?;
            Ok(SearchHit {
                id,
                score: p.score,
                payload,
            })
        })
        .collect()
}

/// The server's fused list as the client-side fusion would give it: scores times the common
/// weight ([`requests::server_rrf_k`]), best first, ties by id, at most `top_k`.
pub(super) fn server_fused(mut fused: Vec<SearchHit>, weight: f32, top_k: usize) -> Vec<SearchHit> {
    for h in &mut fused {
        h.score *= weight;
    }
    fused.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    fused.truncate(top_k);
    fused
}

pub(super) fn uuid_of(id: Option<&PointId>) -> Option<Uuid> {
    match id?.point_id_options.as_ref()? {
        PointIdOptions::Uuid(s) => Uuid::parse_str(s).ok(),
        PointIdOptions::Num(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_uuid_point_ids_are_ours() {
        let u = Uuid::from_u128(7);
        assert_eq!(uuid_of(Some(&u.to_string().into())), Some(u));
        assert_eq!(uuid_of(Some(&5_u64.into())), None);
        assert_eq!(uuid_of(None), None);
    }
}
