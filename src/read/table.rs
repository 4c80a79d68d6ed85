//! The field table: for every field of every object type reads reach, how
//! it is read (a scalar of the object, the entity an id names, the entities
//! a relation leads back to, a connection with its arguments). It is the one
//! place a read field's meaning is written: the GraphQL resolvers read
//! scalars and relations through it (`graphql/table.rs`), compiled plans
//! are compiled from it, and `tests/api/field_table.rs` fails for any
//! served field without an entry.

use crate::model::{self, EntityKind, Id, PartialDate, Relation};
use crate::read::asof::{HeldPosition, TreatyStatus};
use crate::read::cache::{Entity, Link};
use crate::read::paths::{Path, PathAnswer, Step};
use crate::read::responses::Way;
use crate::read::search::{SearchMatch, TextRange};
use crate::read::stats::{CoParticipant, Group, GroupKey};
use crate::store::Direction;

/// A sum of amounts in one currency (`totalAmount`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sum {
    /// Whole units of the currency.
    pub amount: u128,
    /// The ISO-4217 code.
    pub currency: String,
}

/// The sums of `amounts`, one per currency, in currency order.
pub fn sum_amounts<'a>(amounts: impl Iterator<Item = &'a crate::model::Money>) -> Vec<Sum> {
    let mut sums: std::collections::BTreeMap<String, u128> = std::collections::BTreeMap::new();
    for m in amounts {
        *sums.entry(m.currency.to_string()).or_default() += u128::from(m.amount);
    }
    sums.into_iter()
        .map(|(currency, amount)| Sum { amount, currency })
        .collect()
}

/// What a field is read from.
#[derive(Clone, Copy)]
pub enum Obj<'a> {
    Query,
    Entity(&'a Entity),
    Participant(&'a model::Participant),
    Ratification(&'a model::Ratification),
    Page(&'a Page<'a>),
    Edge(&'a [u8], &'a Entity),
    Money(&'a model::Money),
    Period(&'a PartialDate),
    /// A search hit: its score, its entity and the query it answers.
    Hit(f64, &'a Entity, &'a str),
    /// A post with its holder and tenure (`Position`, `PositionHolding`).
    Position(&'a HeldPosition),
    Participation((&'a Entity, model::Role)),
    Figure(&'a model::Figure),
    /// A sum of amounts in one currency.
    Sum(&'a Sum),
    // Group-by aggregations (issue 17): a group, its key, a co-participant.
    Group(&'a Group),
    GroupKey(&'a GroupKey),
    CoParticipant(&'a CoParticipant),
    /// Typed event links: a response, with the other event and its kind.
    Response((&'a Entity, model::ResponseKind)),
    // Search that forgives (issue 17): a hit's matches and their ranges.
    Match(&'a SearchMatch),
    Range(&'a TextRange),
    // Issue 17, paths and as-of views.
    PathSearch(&'a PathAnswer),
    Path(&'a Path),
    Step(&'a Step),
    TreatyStatus(&'a TreatyStatus),
}

/// A page of events with its listing keys.
pub struct Page<'a> {
    pub items: Vec<(&'a [u8], &'a Entity)>,
    pub has_prev: bool,
    pub has_next: bool,
    pub total: usize,
    /// `totalAmount`, for funding allocations when asked for.
    pub sums: Vec<Sum>,
}

/// The object types a plan writes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Ty {
    Query,
    /// An entity type: `Actor`, `Event`, and the rest.
    Entity(EntityKind),
    Participant,
    Ratification,
    EventConnection,
    EventEdge,
    ActorConnection,
    ActorEdge,
    TreatyConnection,
    TreatyEdge,
    PlaceConnection,
    PlaceEdge,
    FundingAllocationConnection,
    FundingAllocationEdge,
    PageInfo,
    Position,
    Participation,
    Figure,
    Money,
    Period,
    SearchHit,
    /// The `Node` interface: an entity of any type.
    Node,
    // Group-by aggregations (issue 17).
    EventStatsGroup,
    EventGroupKey,
    FundingStatsGroup,
    FundingGroupKey,
    CoParticipant,
    /// Typed event links: `EventResponse`.
    EventResponse,
    // Search that forgives (issue 17).
    SearchMatch,
    TextRange,
    // Issue 17, paths and as-of views.
    PathSearch,
    Path,
    PathStep,
    TreatyStatus,
    PositionHolding,
}

impl Ty {
    pub const ACTOR: Ty = Ty::Entity(EntityKind::Actor);
    pub const EVENT: Ty = Ty::Entity(EntityKind::Event);
    pub const TREATY: Ty = Ty::Entity(EntityKind::Treaty);
    pub const FUNDING: Ty = Ty::Entity(EntityKind::Funding);
    pub const PLACE: Ty = Ty::Entity(EntityKind::Place);
    pub const SOURCE: Ty = Ty::Entity(EntityKind::Source);

    /// Every type a plan writes but the entity types.
    const OTHERS: [Ty; 34] = [
        Ty::Query,
        Ty::Participant,
        Ty::Ratification,
        Ty::EventConnection,
        Ty::EventEdge,
        Ty::ActorConnection,
        Ty::ActorEdge,
        Ty::TreatyConnection,
        Ty::TreatyEdge,
        Ty::PlaceConnection,
        Ty::PlaceEdge,
        Ty::FundingAllocationConnection,
        Ty::FundingAllocationEdge,
        Ty::PageInfo,
        Ty::Position,
        Ty::Participation,
        Ty::Figure,
        Ty::Money,
        Ty::Period,
        Ty::SearchHit,
        Ty::Node,
        // Group-by aggregations (issue 17).
        Ty::EventStatsGroup,
        Ty::EventGroupKey,
        Ty::FundingStatsGroup,
        Ty::FundingGroupKey,
        Ty::CoParticipant,
        Ty::EventResponse,
        // Search that forgives (issue 17).
        Ty::SearchMatch,
        Ty::TextRange,
        // Issue 17, paths and as-of views.
        Ty::PathSearch,
        Ty::Path,
        Ty::PathStep,
        Ty::TreatyStatus,
        Ty::PositionHolding,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Ty::Query => "Query",
            Ty::Entity(kind) => kind.type_name(),
            Ty::Participant => "Participant",
            Ty::Ratification => "Ratification",
            Ty::EventConnection => "EventConnection",
            Ty::EventEdge => "EventEdge",
            Ty::ActorConnection => "ActorConnection",
            Ty::ActorEdge => "ActorEdge",
            Ty::TreatyConnection => "TreatyConnection",
            Ty::TreatyEdge => "TreatyEdge",
            Ty::PlaceConnection => "PlaceConnection",
            Ty::PlaceEdge => "PlaceEdge",
            Ty::FundingAllocationConnection => "FundingAllocationConnection",
            Ty::FundingAllocationEdge => "FundingAllocationEdge",
            Ty::Position => "Position",
            Ty::Participation => "Participation",
            Ty::Figure => "Figure",
            Ty::PageInfo => "PageInfo",
            Ty::Money => "Money",
            Ty::Period => "Period",
            Ty::SearchHit => "SearchHit",
            Ty::Node => "Node",
            // Group-by aggregations (issue 17).
            Ty::EventStatsGroup => "EventStatsGroup",
            Ty::EventGroupKey => "EventGroupKey",
            Ty::FundingStatsGroup => "FundingStatsGroup",
            Ty::FundingGroupKey => "FundingGroupKey",
            Ty::CoParticipant => "CoParticipant",
            Ty::EventResponse => "EventResponse",
            Ty::SearchMatch => "SearchMatch",
            Ty::TextRange => "TextRange",
            // Issue 17, paths and as-of views.
            Ty::PathSearch => "PathSearch",
            Ty::Path => "Path",
            Ty::PathStep => "PathStep",
            Ty::TreatyStatus => "TreatyStatus",
            Ty::PositionHolding => "PositionHolding",
        }
    }

    /// For a connection type, the types of its nodes and of its edges.
    pub fn connection(self) -> Option<(Ty, Ty)> {
        Some(match self {
            Ty::EventConnection => (Ty::EVENT, Ty::EventEdge),
            Ty::ActorConnection => (Ty::ACTOR, Ty::ActorEdge),
            Ty::TreatyConnection => (Ty::TREATY, Ty::TreatyEdge),
            Ty::PlaceConnection => (Ty::PLACE, Ty::PlaceEdge),
            Ty::FundingAllocationConnection => (Ty::FUNDING, Ty::FundingAllocationEdge),
            _ => return None,
        })
    }

    /// For an edge type, the type of its node.
    pub fn edge(self) -> Option<Ty> {
        Some(match self {
            Ty::EventEdge => Ty::EVENT,
            Ty::ActorEdge => Ty::ACTOR,
            Ty::TreatyEdge => Ty::TREATY,
            Ty::PlaceEdge => Ty::PLACE,
            Ty::FundingAllocationEdge => Ty::FUNDING,
            _ => return None,
        })
    }

    /// The kind of entity of an entity type.
    pub fn kind(self) -> Option<EntityKind> {
        match self {
            Ty::Entity(kind) => Some(kind),
            _ => None,
        }
    }

    /// Whether an entity is of this type.
    pub fn holds(self, entity: &Entity) -> bool {
        self.kind() == Some(entity.kind())
    }
}

/// A scalar field's value, borrowed from an entity.
pub enum Leaf<'a> {
    Str(&'a str),
    OptStr(Option<&'a str>),
    Strs(&'a [String]),
    Enum(&'static str),
    Date(Option<PartialDate>),
    Bool(bool),
    /// A string made for the answer (a number sent as a string, a day).
    Text(String),
    /// An `Int`, or null (group-by aggregations, issue 17).
    Int(Option<i64>),
    /// A list of dates (`Position.attestedOn`).
    Dates(&'a [PartialDate]),
}

/// Reads a scalar from an object; `None` if the object is of another type.
pub type LeafFn = for<'a> fn(Obj<'a>) -> Option<Leaf<'a>>;
/// Reads the id of the entity an object names in a field.
pub type OneFn = for<'a> fn(Obj<'a>) -> Option<Option<&'a Id>>;
/// Reads the ids an entity lists in a field.
pub type IdsFn = for<'a> fn(Obj<'a>) -> Option<&'a [Id]>;

/// What a field does, whatever its arguments and selection.
#[derive(Clone, Copy)]
pub enum Shape {
    Typename(Ty),
    Leaf(LeafFn),
    /// The entity an id field names; null if missing or of another type.
    One(OneFn, Ty),
    /// The entities a list of ids names, in order, without missing ones.
    Ids(IdsFn, Ty),
    /// The entities a relation leads back to, in key order.
    Follow(Relation, Ty),
    /// The events a relation leads back to, in chronological order.
    EventsByDate(Relation),
    /// `Place.events`: the events at a place and, unless `includeWithin` is
    /// false, at every place within it, in chronological order.
    PlaceEvents,
    Participants,
    Ratifications,
    Figures,
    Positions,
    /// `Actor.participations`, and a participation's event.
    Participations(Relation),
    ParticipationEvent,
    /// `FundingAllocation.amount`.
    Amount,
    /// `Event.period`.
    Period,
    /// `Actor.events`: a connection over the actor's events.
    ActorEvents(Relation),
    /// `Query.actor(id:)` and its kin.
    Lookup(EntityKind, Ty),
    /// `Query.events`: the chronological listing.
    AllEvents,
    /// `Query.node(id:)`: an entity of any type.
    NodeLookup,
    /// `Query.search` and its hits' two fields.
    Search,
    Score,
    HitNode,
    /// `Query.timeline`.
    Timeline,
    /// `Source.citedBy`: the entities of any type a relation leads back to.
    CitedBy(Relation),
    /// `Query.actors`, `Query.treaties`, `Query.places`, `Query.fundingAllocations`.
    Listing(EntityKind, Ty),
    /// `FundingAllocationConnection.totalAmount`.
    TotalAmount,
    /// `Query.nodes(ids:)`.
    NodesById,
    /// `Query._entities(representations:)`: the entities a federation
    /// gateway refers to, in the order asked.
    Entities,
    Nodes(Ty),
    Edges(Ty),
    EdgeNode(Ty),
    Cursor,
    TotalCount,
    PageInfo,
    HasNextPage,
    HasPreviousPage,
    StartCursor,
    EndCursor,
    // Group-by aggregations (issue 17).
    /// `Query.eventStats` and `Query.fundingStats`: the groups.
    EventStats,
    FundingStats,
    /// A group's `key`.
    GroupKey(Ty),
    /// A group's members: `events` or `fundingAllocations`, a connection.
    GroupMembers(Ty),
    /// `FundingStatsGroup.totalAmount`.
    GroupTotalAmount,
    /// `Actor.coParticipants`, and a co-participant's shared events.
    CoParticipants,
    SharedEvents,
    /// Typed event links: `Event.responds` and `Event.respondedBy`, with an
    /// optional `kind`, and a response's event.
    Responses(Way),
    ResponseEvent,
    // Search that forgives (issue 17).
    /// `SearchHit.matches`: the fields that hold the query's words.
    HitMatches,
    /// `SearchMatch.highlights`: where the matching words are in the snippet.
    Highlights,
    // Issue 17, paths and as-of views.
    /// `Query.paths`: the shortest paths between two entities.
    Paths,
    /// `PathSearch.paths`, `Path.nodes` and `Path.steps`.
    PathList,
    PathNodes,
    PathSteps,
    /// `Treaty.status(asOf:)`.
    TreatyStatus,
    /// `Query.positionHolders`, and a holding's post.
    PositionHolders,
    HeldPosition,
}

impl Shape {
    /// The type of the field's selection, for fields that have one.
    pub fn child(self) -> Option<Ty> {
        Some(match self {
            Shape::One(_, ty)
            | Shape::Ids(_, ty)
            | Shape::Follow(_, ty)
            | Shape::Lookup(_, ty)
            | Shape::Listing(_, ty)
            | Shape::Nodes(ty)
            | Shape::Edges(ty)
            | Shape::EdgeNode(ty) => ty,
            Shape::EventsByDate(_) | Shape::PlaceEvents | Shape::ParticipationEvent => Ty::EVENT,
            Shape::Participants => Ty::Participant,
            Shape::Ratifications => Ty::Ratification,
            Shape::Figures => Ty::Figure,
            Shape::Positions => Ty::Position,
            Shape::Participations(_) => Ty::Participation,
            Shape::ActorEvents(_) | Shape::AllEvents => Ty::EventConnection,
            Shape::PageInfo => Ty::PageInfo,
            Shape::Amount => Ty::Money,
            Shape::Timeline => Ty::EVENT,
            Shape::Search => Ty::SearchHit,
            Shape::NodeLookup | Shape::HitNode | Shape::CitedBy(_) | Shape::NodesById | Shape::Entities => Ty::Node,
            Shape::TotalAmount => Ty::Money,
            Shape::Period => Ty::Period,
            // Group-by aggregations (issue 17).
            Shape::EventStats => Ty::EventStatsGroup,
            Shape::FundingStats => Ty::FundingStatsGroup,
            Shape::GroupKey(ty) | Shape::GroupMembers(ty) => ty,
            Shape::GroupTotalAmount => Ty::Money,
            Shape::CoParticipants => Ty::CoParticipant,
            Shape::SharedEvents => Ty::EVENT,
            // Typed event links.
            Shape::Responses(_) => Ty::EventResponse,
            Shape::ResponseEvent => Ty::EVENT,
            Shape::HitMatches => Ty::SearchMatch,
            Shape::Highlights => Ty::TextRange,
            Shape::Paths => Ty::PathSearch,
            Shape::PathList => Ty::Path,
            Shape::PathNodes => Ty::Node,
            Shape::PathSteps => Ty::PathStep,
            Shape::TreatyStatus => Ty::TreatyStatus,
            Shape::PositionHolders => Ty::PositionHolding,
            Shape::HeldPosition => Ty::Position,
            _ => return None,
        })
    }
}

macro_rules! leaf {
    ($variant:ident, |$x:ident| $body:expr) => {
        Shape::Leaf(|obj| match obj {
            Obj::Entity(Entity::$variant(it)) => {
                let $x = &**it;
                Some($body)
            }
            _ => None,
        })
    };
}

macro_rules! one {
    ($variant:ident, |$x:ident| $body:expr, $ty:expr) => {
        Shape::One(
            |obj| match obj {
                Obj::Entity(Entity::$variant(it)) => {
                    let $x = &**it;
                    Some($body)
                }
                _ => None,
            },
            $ty,
        )
    };
}

macro_rules! ids {
    ($variant:ident, |$x:ident| $body:expr, $ty:expr) => {
        Shape::Ids(
            |obj| match obj {
                Obj::Entity(Entity::$variant(it)) => {
                    let $x = &**it;
                    Some($body.as_slice())
                }
                _ => None,
            },
            $ty,
        )
    };
}

/// A scalar of an object that is not an entity.
macro_rules! on {
    ($variant:ident, |$x:pat_param| $body:expr) => {
        Shape::Leaf(|obj| match obj {
            Obj::$variant($x) => Some($body),
            _ => None,
        })
    };
}

/// The entity an object that is not an entity names.
macro_rules! on_one {
    ($variant:ident, |$x:pat_param| $body:expr, $ty:expr) => {
        Shape::One(
            |obj| match obj {
                Obj::$variant($x) => Some($body),
                _ => None,
            },
            $ty,
        )
    };
}

/// Whether the field table has an entry for the field `field` of the
/// object type `type_name` (the tests hold the served schema to it).
pub fn in_field_table(type_name: &str, field: &str) -> bool {
    let entities = EntityKind::ALL.into_iter().map(Ty::Entity);
    entities
        .chain(Ty::OTHERS)
        .find(|ty| ty.name() == type_name)
        .is_some_and(|ty| shape(ty, field).is_some())
}

/// The field `name` of `parent`, if plans cover it.
pub fn shape(parent: Ty, name: &str) -> Option<Shape> {
    use Relation as R;
    if name == "__typename" {
        return Some(Shape::Typename(parent));
    }
    Some(match (parent, name) {
        (Ty::Query, "actor") => Shape::Lookup(EntityKind::Actor, Ty::ACTOR),
        (Ty::Query, "event") => Shape::Lookup(EntityKind::Event, Ty::EVENT),
        (Ty::Query, "treaty") => Shape::Lookup(EntityKind::Treaty, Ty::TREATY),
        (Ty::Query, "fundingAllocation") => Shape::Lookup(EntityKind::Funding, Ty::FUNDING),
        (Ty::Query, "place") => Shape::Lookup(EntityKind::Place, Ty::PLACE),
        (Ty::Query, "source") => Shape::Lookup(EntityKind::Source, Ty::SOURCE),
        (Ty::Query, "events") => Shape::AllEvents,
        (Ty::Query, "actors") => Shape::Listing(EntityKind::Actor, Ty::ActorConnection),
        (Ty::Query, "treaties") => Shape::Listing(EntityKind::Treaty, Ty::TreatyConnection),
        (Ty::Query, "places") => Shape::Listing(EntityKind::Place, Ty::PlaceConnection),
        (Ty::Query, "fundingAllocations") => Shape::Listing(EntityKind::Funding, Ty::FundingAllocationConnection),
        (Ty::Query, "nodes") => Shape::NodesById,
        (Ty::Query, "_entities") => Shape::Entities,
        (Ty::FundingAllocationConnection, "totalAmount") => Shape::TotalAmount,
        (Ty::Query, "node") => Shape::NodeLookup,
        (Ty::Query, "search") => Shape::Search,
        (Ty::Query, "timeline") => Shape::Timeline,
        (Ty::SearchHit, "score") => Shape::Score,
        (Ty::SearchHit, "node") => Shape::HitNode,
        (Ty::SOURCE, "citedBy") => Shape::CitedBy(R::CitedSource),

        (Ty::ACTOR, "id") => leaf!(Actor, |a| Leaf::Str(a.id.as_str())),
        (Ty::ACTOR, "name") => leaf!(Actor, |a| Leaf::Str(&a.name)),
        (Ty::ACTOR, "kind") => leaf!(Actor, |a| Leaf::Enum(a.kind.graphql_name())),
        (Ty::ACTOR, "aliases") => leaf!(Actor, |a| Leaf::Strs(&a.aliases)),
        (Ty::ACTOR, "summary") => leaf!(Actor, |a| Leaf::OptStr(a.summary.as_deref())),
        (Ty::ACTOR, "note") => leaf!(Actor, |a| Leaf::OptStr(a.note.as_deref())),
        (Ty::ACTOR, "partOf") => one!(Actor, |a| a.part_of.as_ref(), Ty::ACTOR),
        (Ty::ACTOR, "parts") => Shape::Follow(R::ActorPartOf, Ty::ACTOR),
        (Ty::ACTOR, "positionHolders") => Shape::Follow(R::ActorPositionIn, Ty::ACTOR),
        (Ty::ACTOR, "events") => Shape::ActorEvents(R::EventParticipant),
        (Ty::ACTOR, "treaties") => Shape::Follow(R::TreatyParty, Ty::TREATY),
        (Ty::ACTOR, "signedTreaties") => Shape::Follow(R::TreatySignatory, Ty::TREATY),
        (Ty::ACTOR, "ratifiedTreaties") => Shape::Follow(R::TreatyRatifier, Ty::TREATY),
        (Ty::ACTOR, "mediatedTreaties") => Shape::Follow(R::TreatyMediator, Ty::TREATY),
        (Ty::ACTOR, "fundingProvided") => Shape::Follow(R::FundingDonor, Ty::FUNDING),
        (Ty::ACTOR, "fundingReceived") => Shape::Follow(R::FundingRecipient, Ty::FUNDING),
        (Ty::ACTOR, "fundingAuthorized") => Shape::Follow(R::FundingAuthorizedBy, Ty::FUNDING),
        (Ty::ACTOR, "claimedFiguresIn") => Shape::Follow(R::EventFigureClaimant, Ty::EVENT),
        (Ty::ACTOR, "sources") => ids!(Actor, |a| a.sources, Ty::SOURCE),
        (Ty::ACTOR, "positions") => Shape::Positions,
        (Ty::ACTOR, "participations") => Shape::Participations(R::EventParticipant),

        (Ty::EVENT, "id") => leaf!(Event, |e| Leaf::Str(e.id.as_str())),
        (Ty::EVENT, "title") => leaf!(Event, |e| Leaf::Str(&e.title)),
        (Ty::EVENT, "kind") => leaf!(Event, |e| Leaf::Enum(e.kind.graphql_name())),
        (Ty::EVENT, "date") => leaf!(Event, |e| Leaf::Date(e.date)),
        (Ty::EVENT, "period") => Shape::Period,
        (Ty::EVENT, "summary") => leaf!(Event, |e| Leaf::OptStr(e.summary.as_deref())),
        (Ty::EVENT, "note") => leaf!(Event, |e| Leaf::OptStr(e.note.as_deref())),
        (Ty::EVENT, "place") => one!(Event, |e| e.place.as_ref(), Ty::PLACE),
        (Ty::EVENT, "participants") => Shape::Participants,
        (Ty::EVENT, "treaties") => ids!(Event, |e| e.treaties, Ty::TREATY),
        (Ty::EVENT, "fundingAllocations") => Shape::Follow(R::FundingEvent, Ty::FUNDING),
        (Ty::EVENT, "partOf") => one!(Event, |e| e.part_of.as_ref(), Ty::EVENT),
        (Ty::EVENT, "parts") => Shape::Follow(R::EventPartOf, Ty::EVENT),
        (Ty::EVENT, "after") => ids!(Event, |e| e.after, Ty::EVENT),
        (Ty::EVENT, "followedBy") => Shape::Follow(R::EventAfter, Ty::EVENT),
        (Ty::EVENT, "retractedBy") => one!(Event, |e| e.retracted_by.as_ref(), Ty::EVENT),
        (Ty::EVENT, "retracts") => Shape::Follow(R::EventRetractedBy, Ty::EVENT),
        (Ty::EVENT, "sources") => ids!(Event, |e| e.sources, Ty::SOURCE),
        (Ty::EVENT, "figures") => Shape::Figures,

        (Ty::TREATY, "id") => leaf!(Treaty, |t| Leaf::Str(t.id.as_str())),
        (Ty::TREATY, "name") => leaf!(Treaty, |t| Leaf::Str(&t.name)),
        (Ty::TREATY, "kind") => leaf!(Treaty, |t| Leaf::Enum(t.kind.graphql_name())),
        (Ty::TREATY, "aliases") => leaf!(Treaty, |t| Leaf::Strs(&t.aliases)),
        (Ty::TREATY, "citedOnly") => leaf!(Treaty, |t| Leaf::Bool(t.cited_only)),
        (Ty::TREATY, "summary") => leaf!(Treaty, |t| Leaf::OptStr(t.summary.as_deref())),
        (Ty::TREATY, "note") => leaf!(Treaty, |t| Leaf::OptStr(t.note.as_deref())),
        (Ty::TREATY, "signedOn") => leaf!(Treaty, |t| Leaf::Date(t.signed_on)),
        (Ty::TREATY, "enteredIntoForceOn") => leaf!(Treaty, |t| Leaf::Date(t.entered_into_force_on)),
        (Ty::TREATY, "provisions") => leaf!(Treaty, |t| Leaf::Strs(&t.provisions)),
        (Ty::TREATY, "signedAt") => one!(Treaty, |t| t.signed_at.as_ref(), Ty::PLACE),
        (Ty::TREATY, "parties") => ids!(Treaty, |t| t.parties, Ty::ACTOR),
        (Ty::TREATY, "signatories") => ids!(Treaty, |t| t.signatories, Ty::ACTOR),
        (Ty::TREATY, "ratifications") => Shape::Ratifications,
        (Ty::TREATY, "mediator") => one!(Treaty, |t| t.mediator.as_ref(), Ty::ACTOR),
        (Ty::TREATY, "basedOn") => one!(Treaty, |t| t.based_on.as_ref(), Ty::TREATY),
        (Ty::TREATY, "derivedTreaties") => Shape::Follow(R::TreatyBasedOn, Ty::TREATY),
        (Ty::TREATY, "events") => Shape::EventsByDate(R::EventTreaty),
        (Ty::TREATY, "fundingAllocations") => Shape::Follow(R::FundingBasis, Ty::FUNDING),
        (Ty::TREATY, "sources") => ids!(Treaty, |t| t.sources, Ty::SOURCE),

        (Ty::FUNDING, "id") => leaf!(FundingAllocation, |f| Leaf::Str(f.id.as_str())),
        (Ty::FUNDING, "title") => leaf!(FundingAllocation, |f| Leaf::Str(&f.title)),
        (Ty::FUNDING, "amount") => Shape::Amount,
        (Ty::FUNDING, "purpose") => leaf!(FundingAllocation, |f| Leaf::Str(&f.purpose)),
        (Ty::FUNDING, "date") => leaf!(FundingAllocation, |f| Leaf::Date(f.date)),
        (Ty::FUNDING, "note") => leaf!(FundingAllocation, |f| Leaf::OptStr(f.note.as_deref())),
        (Ty::FUNDING, "donor") => one!(FundingAllocation, |f| Some(&f.donor), Ty::ACTOR),
        (Ty::FUNDING, "recipient") => one!(FundingAllocation, |f| Some(&f.recipient), Ty::ACTOR),
        (Ty::FUNDING, "authorizedBy") => one!(FundingAllocation, |f| f.authorized_by.as_ref(), Ty::ACTOR),
        (Ty::FUNDING, "basis") => one!(FundingAllocation, |f| f.basis.as_ref(), Ty::TREATY),
        (Ty::FUNDING, "event") => one!(FundingAllocation, |f| f.event.as_ref(), Ty::EVENT),
        (Ty::FUNDING, "sources") => ids!(FundingAllocation, |f| f.sources, Ty::SOURCE),

        (Ty::PLACE, "id") => leaf!(Place, |p| Leaf::Str(p.id.as_str())),
        (Ty::PLACE, "name") => leaf!(Place, |p| Leaf::Str(&p.name)),
        (Ty::PLACE, "kind") => leaf!(Place, |p| Leaf::Enum(p.kind.graphql_name())),
        (Ty::PLACE, "aliases") => leaf!(Place, |p| Leaf::Strs(&p.aliases)),
        (Ty::PLACE, "summary") => leaf!(Place, |p| Leaf::OptStr(p.summary.as_deref())),
        (Ty::PLACE, "note") => leaf!(Place, |p| Leaf::OptStr(p.note.as_deref())),
        (Ty::PLACE, "within") => one!(Place, |p| p.within.as_ref(), Ty::PLACE),
        (Ty::PLACE, "contains") => Shape::Follow(R::PlaceWithin, Ty::PLACE),
        (Ty::PLACE, "events") => Shape::PlaceEvents,
        (Ty::PLACE, "treaties") => Shape::Follow(R::TreatySignedAt, Ty::TREATY),
        (Ty::PLACE, "sources") => ids!(Place, |p| p.sources, Ty::SOURCE),

        (Ty::SOURCE, "id") => leaf!(Source, |s| Leaf::Str(s.id.as_str())),
        (Ty::SOURCE, "document") => leaf!(Source, |s| Leaf::Str(&s.document)),
        (Ty::SOURCE, "kind") => leaf!(Source, |s| Leaf::Enum(s.kind.graphql_name())),
        (Ty::SOURCE, "section") => leaf!(Source, |s| Leaf::OptStr(s.section.as_deref())),
        (Ty::SOURCE, "url") => leaf!(Source, |s| Leaf::OptStr(s.url.as_deref())),
        (Ty::SOURCE, "note") => leaf!(Source, |s| Leaf::OptStr(s.note.as_deref())),

        (Ty::Participant, "actor") => on_one!(Participant, |p| Some(&p.actor), Ty::ACTOR),
        (Ty::Participant, "role") => on!(Participant, |p| Leaf::Enum(p.role.graphql_name())),
        (Ty::Ratification, "by") => on_one!(Ratification, |r| Some(&r.by), Ty::ACTOR),
        (Ty::Ratification, "date") => on!(Ratification, |r| Leaf::Date(r.date)),
        (Ty::Participation, "event") => Shape::ParticipationEvent,
        (Ty::Participation, "role") => on!(Participation, |(_, role)| Leaf::Enum(role.graphql_name())),
        (Ty::Position, "title") => on!(Position, |p| Leaf::Str(&p.position.title)),
        (Ty::Position, "from") => on!(Position, |p| Leaf::Date(p.position.from)),
        (Ty::Position, "to") => on!(Position, |p| Leaf::Date(p.position.to)),
        (Ty::Position, "note") => on!(Position, |p| Leaf::OptStr(p.position.note.as_deref())),
        (Ty::Position, "of") => on_one!(Position, |p| Some(&p.position.of), Ty::ACTOR),
        (Ty::Position, "tenure") => on!(Position, |p| Leaf::Enum(p.tenure.graphql_name())),
        (Ty::Position, "attestedOn") => on!(Position, |p| Leaf::Dates(&p.attested)),
        (Ty::Figure, "label") => on!(Figure, |f| Leaf::Str(&f.label)),
        // A BigInt: a decimal string.
        (Ty::Figure, "value") => on!(Figure, |f| Leaf::Text(f.value.to_string())),
        (Ty::Figure, "unit") => on!(Figure, |f| Leaf::Str(&f.unit)),
        (Ty::Figure, "claimedBy") => on_one!(Figure, |f| f.claimed_by.as_ref(), Ty::ACTOR),
        // A BigInt: a decimal string.
        (Ty::Money, "amount") => Shape::Leaf(|obj| match obj {
            Obj::Money(m) => Some(Leaf::Text(m.amount.to_string())),
            Obj::Sum(m) => Some(Leaf::Text(m.amount.to_string())),
            _ => None,
        }),
        (Ty::Money, "currency") => Shape::Leaf(|obj| match obj {
            Obj::Money(m) => Some(Leaf::Text(m.currency.to_string())),
            Obj::Sum(m) => Some(Leaf::Str(&m.currency)),
            _ => None,
        }),
        (Ty::Period, "precision") => on!(Period, |d| Leaf::Enum(d.precision().graphql_name())),
        (Ty::Period, "start") => on!(Period, |d| Leaf::Text(d.first_iso())),
        (Ty::Period, "end") => on!(Period, |d| Leaf::Text(d.last_iso())),

        // Issue 17, paths and as-of views.
        (Ty::Query, "paths") => Shape::Paths,
        (Ty::Query, "positionHolders") => Shape::PositionHolders,
        (Ty::TREATY, "status") => Shape::TreatyStatus,
        (Ty::PathSearch, "paths") => Shape::PathList,
        (Ty::PathSearch, "complete") => on!(PathSearch, |a| Leaf::Bool(a.complete)),
        (Ty::PathSearch, "expanded") => on!(PathSearch, |a| Leaf::Int(Some(a.expanded as i64))),
        (Ty::Path, "hops") => on!(Path, |p| Leaf::Int(Some(p.steps.len() as i64))),
        (Ty::Path, "nodes") => Shape::PathNodes,
        (Ty::Path, "steps") => Shape::PathSteps,
        (Ty::PathStep, "kind") => on!(Step, |s| Leaf::Enum(s.kind().graphql_name())),
        (Ty::PathStep, "reversed") => on!(Step, |s| Leaf::Bool(!s.in_sense())),
        (Ty::PathStep, "role") => on!(Step, |s| match s.role() {
            Some(role) => Leaf::Enum(role.graphql_name()),
            None => Leaf::OptStr(None),
        }),
        (Ty::PathStep, "phrase") => on!(Step, |s| Leaf::Text(s.phrase())),
        (Ty::TreatyStatus, "state") => on!(TreatyStatus, |t| Leaf::Enum(t.state.graphql_name())),
        (Ty::TreatyStatus, "signedOn") => on!(TreatyStatus, |t| Leaf::Date(t.signed_on)),
        (Ty::TreatyStatus, "ratifiedOn") => on!(TreatyStatus, |t| Leaf::Date(t.ratified_on)),
        (Ty::TreatyStatus, "enteredIntoForceOn") => on!(TreatyStatus, |t| Leaf::Date(t.in_force_on)),
        (Ty::PositionHolding, "holder") => on_one!(Position, |p| Some(p.holder.id()), Ty::ACTOR),
        (Ty::PositionHolding, "position") => Shape::HeldPosition,

        (connection, "nodes") if connection.connection().is_some() => Shape::Nodes(connection.connection()?.0),
        (connection, "edges") if connection.connection().is_some() => Shape::Edges(connection.connection()?.1),
        (connection, "pageInfo") if connection.connection().is_some() => Shape::PageInfo,
        (connection, "totalCount") if connection.connection().is_some() => Shape::TotalCount,
        (edge, "node") if edge.edge().is_some() => Shape::EdgeNode(edge.edge()?),
        (edge, "cursor") if edge.edge().is_some() => Shape::Cursor,
        (Ty::PageInfo, "hasNextPage") => Shape::HasNextPage,
        (Ty::PageInfo, "hasPreviousPage") => Shape::HasPreviousPage,
        (Ty::PageInfo, "startCursor") => Shape::StartCursor,
        (Ty::PageInfo, "endCursor") => Shape::EndCursor,

        // Group-by aggregations (issue 17).
        (Ty::Query, "eventStats") => Shape::EventStats,
        (Ty::Query, "fundingStats") => Shape::FundingStats,
        (Ty::EventStatsGroup, "key") => Shape::GroupKey(Ty::EventGroupKey),
        (Ty::EventStatsGroup | Ty::FundingStatsGroup, "count") => on!(Group, |g| Leaf::Int(Some(g.count() as i64))),
        (Ty::EventStatsGroup, "events") => Shape::GroupMembers(Ty::EventConnection),
        (Ty::FundingStatsGroup, "key") => Shape::GroupKey(Ty::FundingGroupKey),
        (Ty::FundingStatsGroup, "totalAmount") => Shape::GroupTotalAmount,
        (Ty::FundingStatsGroup, "fundingAllocations") => Shape::GroupMembers(Ty::FundingAllocationConnection),
        (Ty::EventGroupKey, "kind") => on!(GroupKey, |k| Leaf::OptStr(k.kind.map(|k| k.graphql_name()))),
        (Ty::EventGroupKey | Ty::FundingGroupKey, "year") => on!(GroupKey, |k| Leaf::Int(k.year.map(i64::from))),
        (Ty::EventGroupKey, "month") => on!(GroupKey, |k| Leaf::Date(k.month)),
        (Ty::EventGroupKey, "actor") => on_one!(GroupKey, |k| k.actor.as_ref(), Ty::ACTOR),
        (Ty::EventGroupKey, "role") => on!(GroupKey, |k| Leaf::OptStr(k.role.map(|r| r.graphql_name()))),
        (Ty::EventGroupKey, "place") => on_one!(GroupKey, |k| k.place.as_ref(), Ty::PLACE),
        (Ty::FundingGroupKey, "donor") => on_one!(GroupKey, |k| k.donor.as_ref(), Ty::ACTOR),
        (Ty::FundingGroupKey, "recipient") => on_one!(GroupKey, |k| k.recipient.as_ref(), Ty::ACTOR),
        (Ty::FundingGroupKey, "basis") => on_one!(GroupKey, |k| k.basis.as_ref(), Ty::TREATY),
        (Ty::FundingGroupKey, "authorizedBy") => on_one!(GroupKey, |k| k.authorized_by.as_ref(), Ty::ACTOR),
        (Ty::FundingGroupKey, "currency") => on!(GroupKey, |k| Leaf::OptStr(k.currency.as_deref())),
        (Ty::ACTOR, "coParticipants") => Shape::CoParticipants,
        (Ty::CoParticipant, "actor") => on_one!(CoParticipant, |c| Some(&c.actor), Ty::ACTOR),
        (Ty::CoParticipant, "count") => on!(CoParticipant, |c| Leaf::Int(Some(c.events.len() as i64))),
        (Ty::CoParticipant, "events") => Shape::SharedEvents,
        // Typed event links.
        (Ty::EVENT, "responds") => Shape::Responses(Way::Responds),
        (Ty::EVENT, "respondedBy") => Shape::Responses(Way::RespondedBy),
        (Ty::EventResponse, "kind") => on!(Response, |(_, kind)| Leaf::Enum(kind.graphql_name())),
        (Ty::EventResponse, "event") => Shape::ResponseEvent,
        // Search that forgives (issue 17).
        (Ty::SearchHit, "matches") => Shape::HitMatches,
        (Ty::SearchMatch, "field") => on!(Match, |m| Leaf::Enum(m.field.graphql_name())),
        (Ty::SearchMatch, "kind") => on!(Match, |m| Leaf::Enum(m.kind.graphql_name())),
        (Ty::SearchMatch, "snippet") => on!(Match, |m| Leaf::Str(&m.snippet)),
        (Ty::SearchMatch, "highlights") => Shape::Highlights,
        // Snippets are at most a few hundred characters: the offsets fit.
        (Ty::TextRange, "start") => on!(Range, |r| Leaf::Int(Some(r.start as i64))),
        (Ty::TextRange, "end") => on!(Range, |r| Leaf::Int(Some(r.end as i64))),
        _ => return None,
    })
}

/// Where `relation` leads back from an entity (relations are stored on
/// their holder and indexed from their target).
pub fn backward(relation: Relation, from: &Entity) -> Link {
    Link {
        relation,
        direction: Direction::Backward,
        from: from.id().clone(),
    }
}
