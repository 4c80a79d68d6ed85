//! Every sled tree the store uses, named in one place.
//!
//! A tree's name is part of the on-disk format: renaming one orphans its
//! data. Index trees are named after what they map (`actor_events`: actor →
//! its events).

use crate::model::{EntityKind, Relation};

/// Storage format version, recorded in the meta tree. Bump it whenever a
/// record layout, a key encoding or a tree name changes.
/// 6: entity trees hold packed blocks of records too (see `packed`), so a
/// sled page holds a hundred entities or more rather than about a dozen;
/// a store of format 5 or older has its entity trees packed when opened.
/// 5: the search tree also lists transliteration keys (`0x01 ‖ key ‖ …`)
/// and the words of provisions, figures, notes and source documents; a
/// store of format 4 or 3 is upgraded by rebuilding its search tree.
/// 4: writes go through the write-ahead log (`wal-*` beside the database),
/// which a build of format 3 would not read; records carry a checksum
/// (record layout 3).
/// 3: index trees hold packed blocks of entries (see `packed`).
/// 2: relations are indexed backward only (forward links are read from the
/// holding entity); the event kind index carries the chronological key; search
/// keys carry weight and name length, so a word lists in ranking order; date
/// trees are split by span class (day, month, year, longer).
pub const FORMAT_VERSION: u32 = 6;

pub const META: &str = "meta";

/// How many span classes the date trees are split into.
pub const SPAN_CLASS_COUNT: u8 = 4;

/// Entity trees: id → versioned record, packed into blocks (see `packed`).
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
        EventResponds => "event_responses",
    }
}

/// Dated entities by the period they cover: `first_day ‖ last_day ‖ id`,
/// one tree per span class (see [`super::keys::SPAN_CLASSES`]): single days
/// (and undated entities), months, years, and longer periods.
pub fn date_tree(kind: EntityKind, class: u8) -> Option<&'static str> {
    let names = match kind {
        EntityKind::Event => [
            "events_by_date",
            "events_by_date_month",
            "events_by_date_year",
            "events_by_date_long",
        ],
        EntityKind::Treaty => [
            "treaties_by_date",
            "treaties_by_date_month",
            "treaties_by_date_year",
            "treaties_by_date_long",
        ],
        EntityKind::Funding => [
            "funding_by_date",
            "funding_by_date_month",
            "funding_by_date_year",
            "funding_by_date_long",
        ],
        _ => return None,
    };
    names.get(class as usize).copied()
}

/// Entities by their sub-kind: `kind ‖ 0xff ‖ id`. Events are listed
/// chronologically, so theirs is `kind ‖ 0xff ‖ first_day ‖ last_day ‖ id`,
/// one tree per span class, like the date trees.
pub fn kind_tree(kind: EntityKind, class: u8) -> Option<&'static str> {
    match (kind, class) {
        (EntityKind::Actor, 0) => Some("actors_by_kind"),
        (EntityKind::Event, _) => [
            "events_by_kind",
            "events_by_kind_month",
            "events_by_kind_year",
            "events_by_kind_long",
        ]
        .get(class as usize)
        .copied(),
        (EntityKind::Treaty, 0) => Some("treaties_by_kind"),
        (EntityKind::Place, 0) => Some("places_by_kind"),
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
    /// A date tree: the kind and the span class.
    ByDate(EntityKind, u8),
    /// A kind tree: the kind and (events only) the span class.
    ByKind(EntityKind, u8),
    SearchTokens,
    EventSortKeys,
}

/// Whether a tree holds packed blocks (see [`super::packed`]) rather than
/// one record per key: every tree but the meta tree (entity trees too,
/// since format 6).
pub fn is_packed(tree: TreeRef) -> bool {
    !matches!(tree, TreeRef::Meta)
}

/// Whether a tree is an index: derived from the entities, so it can be
/// rebuilt from them.
pub fn is_index(tree: TreeRef) -> bool {
    !matches!(tree, TreeRef::Meta | TreeRef::Entity(_))
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
        for class in 0..SPAN_CLASS_COUNT {
            if let Some(name) = date_tree(kind, class) {
                out.push((TreeRef::ByDate(kind, class), name));
            }
            if let Some(name) = kind_tree(kind, class) {
                out.push((TreeRef::ByKind(kind, class), name));
            }
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
