//! How long a list field can be, from what the store knows: the bound a
//! query's cost estimate multiplies a list's items by.
//!
//! Every list field's bound comes from its field-table entry (a relation
//! followed back is bounded by the most holders any one target has; a list
//! an entity holds by the longest such list in the store), so a field's
//! meaning and its cost cannot drift apart. The bound is an upper bound of
//! what reading the field returns for any entity, because the statistics
//! behind it are (see [`crate::store::Stats`]).

use crate::model::{EntityKind, Relation};
use crate::read::responses::Way;
use crate::read::search::MAX_MATCHES;
use crate::read::table::{shape, Shape, Ty};
use crate::store::{Fan, Stats};

/// What bounds how many items a list field returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// The longest list of this kind any one entity has.
    Longest(Fan),
    /// Every entity of a kind: a root listing, `Place.events` with the
    /// places within (which may be every event), the timeline.
    All(EntityKind),
    /// Items from two lists at once: an event's responses are those it
    /// stores and the retractions indexed back to it (`responds`), or those
    /// indexed back to it and the retraction it names (`respondedBy`).
    Both(Fan, Fan),
    /// A length the read itself never exceeds (a hit's matches).
    AtMost(u64),
}

/// The bound of the list field `field` of `parent`; `None` for a field that
/// is not a list of objects the table knows (a scalar list costs nothing
/// per item).
pub fn bound(parent: Ty, field: &str) -> Option<Bound> {
    use Relation as R;
    let longest = |fan| Some(Bound::Longest(fan));
    match shape(parent, field)? {
        Shape::Follow(relation, _)
        | Shape::EventsByDate(relation)
        | Shape::ActorEvents(relation)
        | Shape::CitedBy(relation)
        | Shape::Participations(relation) => longest(Fan::Holders(relation)),
        Shape::Participants => longest(Fan::Held(R::EventParticipant)),
        Shape::Ratifications => longest(Fan::Held(R::TreatyRatifier)),
        Shape::Positions => longest(Fan::Held(R::ActorPositionIn)),
        Shape::Figures => longest(Fan::Figures),
        // Lists of ids an entity holds: the relation each one is indexed as.
        Shape::Ids(..) => longest(Fan::Held(match field {
            "sources" => R::CitedSource,
            "treaties" => R::EventTreaty,
            "after" => R::EventAfter,
            "parties" => R::TreatyParty,
            "signatories" => R::TreatySignatory,
            _ => return None,
        })),
        Shape::Responses(Way::Responds) => Some(Bound::Both(
            Fan::Held(R::EventResponds),
            Fan::Holders(R::EventRetractedBy),
        )),
        Shape::Responses(Way::RespondedBy) => Some(Bound::Both(
            Fan::Holders(R::EventResponds),
            Fan::Held(R::EventRetractedBy),
        )),
        // The events two actors share are among either one's events.
        Shape::SharedEvents => longest(Fan::Holders(R::EventParticipant)),
        Shape::HitMatches => Some(Bound::AtMost(MAX_MATCHES as u64)),
        Shape::PlaceEvents | Shape::Timeline | Shape::AllEvents => Some(Bound::All(EntityKind::Event)),
        Shape::Listing(kind, _) => Some(Bound::All(kind)),
        _ => None,
    }
}

impl Bound {
    /// The most items the list can hold now.
    pub fn most(self, stats: &Stats) -> u64 {
        match self {
            Bound::Longest(fan) => stats.longest(fan),
            Bound::All(kind) => stats.count(kind),
            Bound::Both(one, other) => stats.longest(one).saturating_add(stats.longest(other)),
            Bound::AtMost(n) => n,
        }
    }
}
