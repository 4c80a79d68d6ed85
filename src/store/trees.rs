//! Every sled tree the store uses, named in one place.
//!
//! A tree's name is part of the on-disk format: renaming one orphans its
//! data. Index trees are named after what they map (`actor_events`: actor →
//! its events).

use crate::model::{EntityKind, Relation};

/// Storage format version, recorded in the meta tree. Bump it whenever a
/// record layout, a key encoding or a tree name changes.
/// 2: relations are indexed backward only (forward links are read from the
/// holding entity); the event kind index carries the chronological key; search
/// keys carry weight and name length, so a word lists in ranking order.
pub const FORMAT_VERSION: u32 = 2;

pub const META: &str = "meta";

/// Entity trees: id → versioned record.
pub fn entity_tree(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Actor => "actors",
        EntityKind::Event => "events",
        EntityKind::Treaty => "treaties",
        EntityKind::Funding => "funding",
        EntityKind::Place => "places",
        EntityKind::Source => "sources",
    }
}

/// The index tree of a relation, from the target back to the holders
/// (to → from). There is no forward tree: the holding entity lists its own
/// links, so a forward tree would only repeat it (and double a load's writes).
pub fn relation_tree(relation: Relation) -> &'static str {
    use Relation::*;
    match relation {
        EventParticipant => "actor_events",
        EventPlace => "place_events",
        EventTreaty => "treaty_events",
        EventPartOf => "event_parts",
        EventAfter => "event_followed_by",
        EventRetractedBy => "event_retracts",
        EventFigureClaimant => "actor_claimed_figures",
        ActorPositionIn => "org_position_holders",
        ActorPartOf => "actor_parts",
        TreatyParty => "actor_treaties",
        TreatySignatory => "actor_signed_treaties",
        TreatyRatifier => "actor_ratified_treaties",
        TreatyMediator => "actor_mediated_treaties",
        TreatySignedAt => "place_treaties",
        TreatyBasedOn => "treaty_derived",
        FundingDonor => "actor_funding_given",
        FundingRecipient => "actor_funding_received",
        FundingAuthorizedBy => "actor_funding_authorized",
        FundingBasis => "treaty_funding",
        FundingEvent => "event_funding",
        PlaceWithin => "place_children",
        CitedSource => "source_entities",
    }
}

/// Dated entities by the period they cover: `first_day ‖ last_day ‖ id`.
pub fn date_tree(kind: EntityKind) -> Option<&'static str> {
    match kind {
        EntityKind::Event => Some("events_by_date"),
        EntityKind::Treaty => Some("treaties_by_date"),
        EntityKind::Funding => Some("funding_by_date"),
        _ => None,
    }
}

/// Entities by their sub-kind: `kind ‖ 0xff ‖ id`.
pub fn kind_tree(kind: EntityKind) -> Option<&'static str> {
    match kind {
        EntityKind::Actor => Some("actors_by_kind"),
        EntityKind::Event => Some("events_by_kind"),
        EntityKind::Treaty => Some("treaties_by_kind"),
        EntityKind::Place => Some("places_by_kind"),
        _ => None,
    }
}

/// Folded search tokens: `token ‖ 0xff ‖ id` → weight.
pub const SEARCH_TOKENS: &str = "search_tokens";

/// Event id → its 8-byte chronological sort key (`first_day ‖ last_day`), so
/// a filtered set of events can be ordered without decoding them.
pub const EVENT_SORT_KEYS: &str = "event_sort_keys";

/// The position of each tree in the store's tree list, so a transaction over
/// the whole list can address any tree by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TreeRef {
    Meta,
    Entity(EntityKind),
    Backward(Relation),
    ByDate(EntityKind),
    ByKind(EntityKind),
    SearchTokens,
    EventSortKeys,
}

/// Every tree the store opens, in a fixed order.
pub fn all_trees() -> Vec<(TreeRef, &'static str)> {
    let mut out = vec![(TreeRef::Meta, META)];
    for kind in EntityKind::ALL {
        out.push((TreeRef::Entity(kind), entity_tree(kind)));
    }
    for relation in Relation::ALL {
        out.push((TreeRef::Backward(relation), relation_tree(relation)));
    }
    for kind in EntityKind::ALL {
        if let Some(name) = date_tree(kind) {
            out.push((TreeRef::ByDate(kind), name));
        }
        if let Some(name) = kind_tree(kind) {
            out.push((TreeRef::ByKind(kind), name));
        }
    }
    out.push((TreeRef::SearchTokens, SEARCH_TOKENS));
    out.push((TreeRef::EventSortKeys, EVENT_SORT_KEYS));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_names_are_unique() {
        let trees = all_trees();
        let mut names: Vec<_> = trees.iter().map(|(_, n)| *n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), trees.len());
    }
}
