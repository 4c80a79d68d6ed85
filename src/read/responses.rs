//! Typed responses between events (issue 17: typed event links): the
//! earlier events an event answers (`Event.responds`) and the later ones
//! that answer it (`Event.respondedBy`), each with how (a denial, a
//! condemnation, a retraction…).
//!
//! A response is stored on the responding event (`responds`) and indexed
//! back from the event it answers, so both directions read one index
//! prefix or one record. A retraction is the one exception: it was stored
//! before responses had kinds, as `retracted_by` on the statement taken
//! back, and it stays stored there alone (the input check refuses a
//! `retracts` response), so `retractedBy` and a `retracts` response can
//! never disagree; reads here show it as a response of kind `RETRACTS`.

use crate::model::{Id, Relation, ResponseKind};
use crate::read::cache::{Direct, Entity};
use crate::read::listing::event_sort_key;
use crate::read::table::backward;
use crate::store::StoreError;

/// Which way responses are followed from an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Way {
    /// The earlier events this one answers (`Event.responds`).
    Responds,
    /// The later events that answer this one (`Event.respondedBy`).
    RespondedBy,
}

/// The kind a response's index entry carries as its payload.
pub fn kind_from(payload: &[u8]) -> Option<ResponseKind> {
    let name = std::str::from_utf8(payload).ok()?;
    ResponseKind::ALL.iter().copied().find(|k| k.as_str() == name)
}

/// The events `event` answers or is answered by, each with the kind of
/// response, only of `kind` when one is given; in chronological order of
/// the other event (undated last, then by id), then by kind.
pub fn responses(
    direct: &Direct<'_>,
    event: &Entity,
    way: Way,
    kind: Option<ResponseKind>,
) -> Result<Vec<(Entity, ResponseKind)>, StoreError> {
    let Entity::Event(e) = event else {
        return Ok(Vec::new());
    };
    let mut pairs: Vec<(Id, ResponseKind)> = Vec::new();
    match way {
        Way::Responds => {
            pairs.extend(e.responds.iter().map(|r| (r.event.clone(), r.kind)));
            // The statements this event took back name it in `retracted_by`.
            let retracted = direct.link(&backward(Relation::EventRetractedBy, event))?;
            pairs.extend(retracted.iter().map(|(id, _)| (id.clone(), ResponseKind::Retracts)));
        }
        Way::RespondedBy => {
            pairs.extend(e.retracted_by.iter().map(|id| (id.clone(), ResponseKind::Retracts)));
            let answers = direct.link(&backward(Relation::EventResponds, event))?;
            pairs.extend(
                answers
                    .iter()
                    .filter_map(|(id, payload)| Some((id.clone(), kind_from(payload)?))),
            );
        }
    }
    pairs.retain(|(_, k)| kind.is_none_or(|wanted| *k == wanted));
    let ids: Vec<Id> = pairs.iter().map(|(id, _)| id.clone()).collect();
    let found = direct.entities(&ids)?;
    let mut out: Vec<(Vec<u8>, Entity, ResponseKind)> = pairs
        .into_iter()
        .zip(found)
        .filter_map(|((_, k), node)| match node? {
            Entity::Event(other) => Some((event_sort_key(&other), Entity::Event(other), k)),
            _ => None,
        })
        .collect();
    out.sort_by(|a, b| (&a.0, a.2).cmp(&(&b.0, b.2)));
    Ok(out.into_iter().map(|(_, node, k)| (node, k)).collect())
}
