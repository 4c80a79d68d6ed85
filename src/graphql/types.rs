//! The GraphQL object types: thin wrappers around the model's records, with
//! a resolver for every relation in both directions.

use std::sync::Arc;

use async_graphql::{Context, Interface, Object, Result, ID};

use super::connection::{self, EventConnection, PageArgs};
use super::cost;
use super::errors::internal;
use super::filters::EventFilter;
use super::loaders::Loaders;
use super::memo::{Identified, Shared};
use super::responses::{event_responses, EventResponse};
use super::scalars::{BigInt, Money, Period};
use super::table::{self, Obj, Ty};
use crate::model::{self, ActorKind, EventKind, Id, PartialDate, PlaceKind, Relation, ResponseKind, Role, TreatyKind};
use crate::read::cache::Entity;
use crate::read::cache::Link;
use crate::store::Direction;

/// Anything with a global id. Ids are human-readable (`actor/dmitry-medvedev`)
/// and stable; fetch any of them with `node(id:)`.
#[derive(Interface, Clone)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "The global id, `kind/slug`, such as `actor/dmitry-medvedev`."
))]
pub enum Node {
    Actor(Actor),
    Event(Event),
    Treaty(Treaty),
    FundingAllocation(FundingAllocation),
    Place(Place),
    Source(Source),
}

impl From<model::Entity> for Node {
    fn from(entity: model::Entity) -> Node {
        Node::from(Entity::from(entity))
    }
}

/// The GraphQL type of an entity the reads hand out (its record is shared).
impl From<Entity> for Node {
    fn from(entity: Entity) -> Node {
        match entity {
            Entity::Actor(e) => Node::Actor(Actor(e)),
            Entity::Event(e) => Node::Event(Event(e)),
            Entity::Treaty(e) => Node::Treaty(Treaty(e)),
            Entity::FundingAllocation(e) => Node::FundingAllocation(FundingAllocation(e)),
            Entity::Place(e) => Node::Place(Place(e)),
            Entity::Source(e) => Node::Source(Source(e)),
        }
    }
}

/// Typed views of a [`Node`]: `Actor::try_from(node)`.
macro_rules! node_variant {
    ($($variant:ident),+) => {$(
        impl TryFrom<Node> for $variant {
            type Error = ();
            fn try_from(node: Node) -> std::result::Result<$variant, ()> {
                match node {
                    Node::$variant(x) => Ok(x),
                    _ => Err(()),
                }
            }
        }
    )+};
}
node_variant!(Actor, Event, Treaty, FundingAllocation, Place, Source);

/// Each entity type as the reads' [`Entity`], to read through the field table.
macro_rules! as_node {
    ($($variant:ident),+) => {$(
        impl $variant {
            fn entity(&self) -> Entity {
                Entity::$variant(self.0.clone())
            }
        }
    )+};
}
as_node!(Actor, Event, Treaty, FundingAllocation, Place, Source);

// ---- loading helpers --------------------------------------------------------

/// The request's reads; an error once the operation's time is up.
pub(super) fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders> {
    if ctx.data_opt::<super::Deadline>().is_some_and(|d| d.passed()) {
        return Err("the operation ran out of time".into());
    }
    ctx.data::<Loaders>()
}

/// Loads entities of type `T` by id, keeping the order of `ids` and
/// dropping any that no longer exist.
pub(super) async fn load_all<T: TryFrom<Node>>(ctx: &Context<'_>, ids: impl IntoIterator<Item = Id>) -> Result<Vec<T>> {
    let ids: Vec<Id> = ids.into_iter().collect();
    let found = loaders(ctx)?.entities(&ids).await.map_err(internal)?;
    Ok(ids
        .iter()
        .filter_map(|id| found.get(id).cloned())
        .filter_map(|node| T::try_from(node).ok())
        .collect())
}

pub(super) async fn load_one<T: TryFrom<Node>>(ctx: &Context<'_>, id: Option<&Id>) -> Result<Option<T>> {
    let Some(id) = id else { return Ok(None) };
    let node = loaders(ctx)?.entity(id).await.map_err(internal)?;
    Ok(node.and_then(|n| T::try_from(n).ok()))
}

/// The ids (with payloads) a relation leads to from `from`.
pub(super) async fn follow(
    ctx: &Context<'_>,
    relation: Relation,
    direction: Direction,
    from: &Id,
) -> Result<Arc<Vec<(Id, Vec<u8>)>>> {
    let link = Link {
        relation,
        direction,
        from: from.clone(),
    };
    loaders(ctx)?.link(link).await.map_err(internal)
}

// ---- Actor ------------------------------------------------------------------

/// A state, an unrecognised republic, an international body, a government
/// body, a party, a news outlet, a group of people, or a person.
#[derive(Clone)]
pub struct Actor(pub Arc<model::Actor>);

/// A post an actor holds in another actor, such as "President" of Russia.
#[derive(Clone)]
pub struct Position(pub(crate) crate::read::asof::HeldPosition);

/// A post an actor holds in another actor, such as "President" of Russia.
#[Object]
impl Position {
    /// The title of the post, such as "Minister of Foreign Affairs".
    async fn title(&self) -> Result<String> {
        table::leaf(Ty::Position, "title", Obj::Position(&self.0))
    }
    /// When the post was taken up, if the source says.
    async fn from(&self) -> Result<Option<PartialDate>> {
        table::leaf(Ty::Position, "from", Obj::Position(&self.0))
    }
    /// When the post was left, if the source says.
    async fn to(&self) -> Result<Option<PartialDate>> {
        table::leaf(Ty::Position, "to", Obj::Position(&self.0))
    }
    /// An editorial note on how this was read from the source.
    async fn note(&self) -> Result<Option<String>> {
        table::leaf(Ty::Position, "note", Obj::Position(&self.0))
    }
    /// The actor the post belongs to: a state, a ministry, a party.
    async fn of(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        table::one(ctx, Ty::Position, "of", Obj::Position(&self.0)).await
    }
    /// Where the tenure comes from: `STATED` (the sources give `from` or `to`), `ATTESTED` (they
    /// give no dates; see `attestedOn`) or `UNKNOWN` (no dates and no dated event).
    async fn tenure(&self) -> Result<model::Tenure> {
        table::leaf(Ty::Position, "tenure", Obj::Position(&self.0))
    }
    /// For a post the sources give no dates for: the dates of the events its holder took part in,
    /// in order (the sources do not say in which capacity). `asOf` takes the post as held from the
    /// first to the last, an inference. Empty for a post with dates of its own.
    async fn attested_on(&self) -> Result<Vec<PartialDate>> {
        table::leaf(Ty::Position, "attestedOn", Obj::Position(&self.0))
    }
}

/// An event an actor took part in, with the part it played.
#[derive(Clone)]
pub struct Participation {
    event: Event,
    role: Role,
}

/// An event an actor took part in, with the part it played.
#[Object]
impl Participation {
    /// The event.
    async fn event(&self) -> &Event {
        &self.event
    }
    /// The part the actor played in it.
    async fn role(&self) -> Role {
        self.role
    }
}

/// A state, an unrecognised republic, an international body, a government
/// body, a party, a news outlet, a group of people, or a person.
#[Object]
impl Actor {
    /// The global id, such as `actor/dmitry-medvedev`.
    async fn id(&self) -> Result<ID> {
        table::leaf(Ty::ACTOR, "id", Obj::Entity(&self.entity()))
    }
    /// The usual English name.
    async fn name(&self) -> Result<String> {
        table::leaf(Ty::ACTOR, "name", Obj::Entity(&self.entity()))
    }
    /// What sort of actor this is.
    async fn kind(&self) -> Result<ActorKind> {
        table::leaf(Ty::ACTOR, "kind", Obj::Entity(&self.entity()))
    }
    /// Other names and spellings (Kokoity, Kokoyty); search matches them too.
    #[graphql(complexity = "cost::list(Ty::ACTOR, \"aliases\", child_complexity)")]
    async fn aliases(&self) -> Result<Vec<String>> {
        table::leaf(Ty::ACTOR, "aliases", Obj::Entity(&self.entity()))
    }
    /// A short description in our own words.
    async fn summary(&self) -> Result<Option<String>> {
        table::leaf(Ty::ACTOR, "summary", Obj::Entity(&self.entity()))
    }
    /// An editorial note: how an ambiguity in the source was resolved.
    async fn note(&self) -> Result<Option<String>> {
        table::leaf(Ty::ACTOR, "note", Obj::Entity(&self.entity()))
    }
    /// The larger actor this one belongs to (the State Duma to the Federal Assembly).
    async fn part_of(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        table::one(ctx, Ty::ACTOR, "partOf", Obj::Entity(&self.entity())).await
    }
    /// The actors that belong to this one (a state's ministries).
    #[graphql(complexity = "cost::list(Ty::ACTOR, \"parts\", child_complexity)")]
    async fn parts(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Actor>>> {
        table::many(ctx, Ty::ACTOR, "parts", &self.entity()).await
    }
    /// Posts this actor holds, such as "President of Russia"; with `asOf`, only those held on any
    /// day of that date (a post without dates counts between its first and last `attestedOn`).
    #[graphql(complexity = "cost::list(Ty::ACTOR, \"positions\", child_complexity)")]
    async fn positions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only posts held on any day of this date: `2008-08-26`, `2009-03`, `2009`.")] as_of: Option<
            PartialDate,
        >,
    ) -> Result<Vec<Position>> {
        super::asof::positions(ctx, &self.entity(), as_of).await
    }
    /// People (or bodies) holding a post in this actor: the ministers of a ministry.
    #[graphql(complexity = "cost::list(Ty::ACTOR, \"positionHolders\", child_complexity)")]
    async fn position_holders(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Actor>>> {
        table::many(ctx, Ty::ACTOR, "positionHolders", &self.entity()).await
    }
    /// Events this actor took part in, in chronological order (undated last),
    /// as a Relay connection that can be filtered and paged.
    #[graphql(
        complexity = "cost::page(Ty::ACTOR, \"events\", first, last, filter.as_ref().and_then(|f| f.kind), child_complexity)"
    )]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only events matching this filter.")] filter: Option<EventFilter>,
        #[graphql(desc = "Return the first n events (after `after`). Default 20, at most 100.")] first: Option<i32>,
        #[graphql(desc = "Return events after this cursor.")] after: Option<String>,
        #[graphql(desc = "Return the last n events (before `before`).")] last: Option<i32>,
        #[graphql(desc = "Return events before this cursor.")] before: Option<String>,
    ) -> Result<EventConnection> {
        let link = Link {
            relation: table::relation_of(Ty::ACTOR, "events")?,
            direction: Direction::Backward,
            from: self.0.id.clone(),
        };
        let events = loaders(ctx)?.sorted_events(link).await.map_err(internal)?;
        connection::events_among(
            ctx,
            &events,
            filter,
            PageArgs {
                first,
                after,
                last,
                before,
            },
        )
    }
    /// The actors that took part in events together with this one, each with
    /// the events they share: most shared events first, ties by id.
    #[graphql(complexity = "first.unwrap_or(10).clamp(1, 1_000_000) as usize * child_complexity + 1")]
    async fn co_participants(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many co-participants to return. Default 10, at most 100.")] first: Option<i32>,
        #[graphql(desc = "Only co-participants that played this role in the shared events.")] role: Option<Role>,
    ) -> Result<Vec<super::stats::CoParticipant>> {
        super::stats::co_participants(ctx, &self.entity(), first, role)
    }
    /// Every event this actor took part in, with its role in each, in chronological order.
    #[graphql(complexity = "cost::list(Ty::ACTOR, \"participations\", child_complexity)")]
    async fn participations(&self, ctx: &Context<'_>) -> Result<Vec<Participation>> {
        let relation = table::relation_of(Ty::ACTOR, "participations")?;
        let targets = follow(ctx, relation, Direction::Backward, &self.0.id).await?;
        let mut events: Vec<(Event, Role)> = Vec::new();
        let loaded: Vec<Event> = load_all(ctx, targets.iter().map(|(id, _)| id.clone())).await?;
        for event in loaded {
            let role = targets
                .iter()
                .find(|(id, _)| *id == event.0.id)
                .and_then(|(_, payload)| role_from(payload))
                .unwrap_or(Role::Participant);
            events.push((event, role));
        }
        events.sort_by_key(|(e, _)| crate::read::listing::event_sort_key(&e.0));
        Ok(events
            .into_iter()
            .map(|(event, role)| Participation { event, role })
            .collect())
    }
    /// Treaties and agreements this actor is a party to.
    #[graphql(complexity = "cost::list(Ty::ACTOR, \"treaties\", child_complexity)")]
    async fn treaties(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Treaty>>> {
        table::many(ctx, Ty::ACTOR, "treaties", &self.entity()).await
    }
    /// Treaties and agreements this actor signed in person.
    #[graphql(complexity = "cost::list(Ty::ACTOR, \"signedTreaties\", child_complexity)")]
    async fn signed_treaties(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Treaty>>> {
        table::many(ctx, Ty::ACTOR, "signedTreaties", &self.entity()).await
    }
    /// Treaties this actor ratified (a legislature).
    #[graphql(complexity = "cost::list(Ty::ACTOR, \"ratifiedTreaties\", child_complexity)")]
    async fn ratified_treaties(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Treaty>>> {
        table::many(ctx, Ty::ACTOR, "ratifiedTreaties", &self.entity()).await
    }
    /// Agreements this actor brokered between others.
    #[graphql(complexity = "cost::list(Ty::ACTOR, \"mediatedTreaties\", child_complexity)")]
    async fn mediated_treaties(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Treaty>>> {
        table::many(ctx, Ty::ACTOR, "mediatedTreaties", &self.entity()).await
    }
    /// Funding this actor gave.
    #[graphql(complexity = "cost::list(Ty::ACTOR, \"fundingProvided\", child_complexity)")]
    async fn funding_provided(&self, ctx: &Context<'_>) -> Result<Vec<FundingAllocation>> {
        table::many(ctx, Ty::ACTOR, "fundingProvided", &self.entity()).await
    }
    /// Funding this actor received.
    #[graphql(complexity = "cost::list(Ty::ACTOR, \"fundingReceived\", child_complexity)")]
    async fn funding_received(&self, ctx: &Context<'_>) -> Result<Vec<FundingAllocation>> {
        table::many(ctx, Ty::ACTOR, "fundingReceived", &self.entity()).await
    }
    /// Funding this actor authorised or instructed.
    #[graphql(complexity = "cost::list(Ty::ACTOR, \"fundingAuthorized\", child_complexity)")]
    async fn funding_authorized(&self, ctx: &Context<'_>) -> Result<Vec<FundingAllocation>> {
        table::many(ctx, Ty::ACTOR, "fundingAuthorized", &self.entity()).await
    }
    /// Events with a figure this actor claimed (such as a share of buildings destroyed).
    #[graphql(complexity = "cost::list(Ty::ACTOR, \"claimedFiguresIn\", child_complexity)")]
    async fn claimed_figures_in(&self, ctx: &Context<'_>) -> Result<Vec<Event>> {
        table::many(ctx, Ty::ACTOR, "claimedFiguresIn", &self.entity()).await
    }
    /// Where the facts about this actor come from.
    #[graphql(complexity = "cost::list(Ty::ACTOR, \"sources\", child_complexity)")]
    async fn sources(&self, ctx: &Context<'_>) -> Result<Vec<Source>> {
        table::many(ctx, Ty::ACTOR, "sources", &self.entity()).await
    }
}

pub(super) fn role_from(payload: &[u8]) -> Option<Role> {
    crate::read::paths::role_of(payload)
}

// ---- Event ------------------------------------------------------------------

/// Something that happened at a date or over a period: a military action, a
/// statement, a rally, a recognition, a decree, a visit, a signing…
#[derive(Clone)]
pub struct Event(pub Arc<model::Event>);

/// An actor taking part in an event, and the part it played.
#[derive(Clone)]
pub struct Participant(model::Participant);

/// An actor taking part in an event, and the part it played.
#[Object]
impl Participant {
    /// The actor.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        table::one(ctx, Ty::Participant, "actor", Obj::Participant(&self.0)).await
    }
    /// The part it played.
    async fn role(&self) -> Result<Role> {
        table::leaf(Ty::Participant, "role", Obj::Participant(&self.0))
    }
}

/// A labelled number stated in the source: 3,700 soldiers; 70 percent of housing.
#[derive(Clone)]
pub struct Figure(model::Figure);

/// A labelled number stated in the source: 3,700 soldiers; 70 percent of housing.
#[Object]
impl Figure {
    /// What is counted, such as "Russian soldiers deployed".
    async fn label(&self) -> Result<String> {
        table::leaf(Ty::Figure, "label", Obj::Figure(&self.0))
    }
    /// The number, exact, as a decimal string.
    async fn value(&self) -> Result<BigInt> {
        table::leaf(Ty::Figure, "value", Obj::Figure(&self.0))
    }
    /// The unit: "soldiers", "percent", "days".
    async fn unit(&self) -> Result<String> {
        table::leaf(Ty::Figure, "unit", Obj::Figure(&self.0))
    }
    /// Who stated the figure, when it is a claim rather than an established count.
    async fn claimed_by(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        table::one(ctx, Ty::Figure, "claimedBy", Obj::Figure(&self.0)).await
    }
}

/// Something that happened at a date or over a period: a military action, a
/// statement, a rally, a recognition, a decree, a visit, a signing…
#[Object]
impl Event {
    /// The global id, such as `event/recognition-decrees`.
    async fn id(&self) -> Result<ID> {
        table::leaf(Ty::EVENT, "id", Obj::Entity(&self.entity()))
    }
    /// A short title in our own words.
    async fn title(&self) -> Result<String> {
        table::leaf(Ty::EVENT, "title", Obj::Entity(&self.entity()))
    }
    /// What sort of event this is.
    async fn kind(&self) -> Result<EventKind> {
        table::leaf(Ty::EVENT, "kind", Obj::Entity(&self.entity()))
    }
    /// When it happened, as precisely as the source says; null when the source gives no date.
    async fn date(&self) -> Result<Option<PartialDate>> {
        table::leaf(Ty::EVENT, "date", Obj::Entity(&self.entity()))
    }
    /// The exact first and last day the date covers, with its precision.
    async fn period(&self) -> Option<Period> {
        self.0.date.as_ref().map(Period::from)
    }
    /// Where it happened, if known.
    async fn place(&self, ctx: &Context<'_>) -> Result<Option<Shared<Place>>> {
        table::one(ctx, Ty::EVENT, "place", Obj::Entity(&self.entity())).await
    }
    /// What happened, in our own words.
    async fn summary(&self) -> Result<Option<String>> {
        table::leaf(Ty::EVENT, "summary", Obj::Entity(&self.entity()))
    }
    /// An editorial note: how an ambiguity in the source was resolved.
    async fn note(&self) -> Result<Option<String>> {
        table::leaf(Ty::EVENT, "note", Obj::Entity(&self.entity()))
    }
    /// Who took part, and in what role.
    #[graphql(complexity = "cost::list(Ty::EVENT, \"participants\", child_complexity)")]
    async fn participants(&self) -> Vec<Participant> {
        self.0.participants.iter().map(|p| Participant(p.clone())).collect()
    }
    /// Treaties this event concerned (signed, ratified, invoked).
    #[graphql(complexity = "cost::list(Ty::EVENT, \"treaties\", child_complexity)")]
    async fn treaties(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Treaty>>> {
        table::many(ctx, Ty::EVENT, "treaties", &self.entity()).await
    }
    /// Funding allocated in this event.
    #[graphql(complexity = "cost::list(Ty::EVENT, \"fundingAllocations\", child_complexity)")]
    async fn funding_allocations(&self, ctx: &Context<'_>) -> Result<Vec<FundingAllocation>> {
        table::many(ctx, Ty::EVENT, "fundingAllocations", &self.entity()).await
    }
    /// Numbers stated about this event.
    #[graphql(complexity = "cost::list(Ty::EVENT, \"figures\", child_complexity)")]
    async fn figures(&self) -> Vec<Figure> {
        self.0.figures.iter().cloned().map(Figure).collect()
    }
    /// The larger event this one is part of (a visit within a war, a signing within a visit).
    async fn part_of(&self, ctx: &Context<'_>) -> Result<Option<Shared<Event>>> {
        table::one(ctx, Ty::EVENT, "partOf", Obj::Entity(&self.entity())).await
    }
    /// The smaller events this one is made of.
    #[graphql(complexity = "cost::list(Ty::EVENT, \"parts\", child_complexity)")]
    async fn parts(&self, ctx: &Context<'_>) -> Result<Vec<Event>> {
        table::many(ctx, Ty::EVENT, "parts", &self.entity()).await
    }
    /// For undated events: events the source says this one came after.
    #[graphql(complexity = "cost::list(Ty::EVENT, \"after\", child_complexity)")]
    async fn after(&self, ctx: &Context<'_>) -> Result<Vec<Event>> {
        table::many(ctx, Ty::EVENT, "after", &self.entity()).await
    }
    /// Events the source says came after this one.
    #[graphql(complexity = "cost::list(Ty::EVENT, \"followedBy\", child_complexity)")]
    async fn followed_by(&self, ctx: &Context<'_>) -> Result<Vec<Event>> {
        table::many(ctx, Ty::EVENT, "followedBy", &self.entity()).await
    }
    /// For a statement: the later event in which it was taken back.
    async fn retracted_by(&self, ctx: &Context<'_>) -> Result<Option<Shared<Event>>> {
        table::one(ctx, Ty::EVENT, "retractedBy", Obj::Entity(&self.entity())).await
    }
    /// For a retraction: the statements it took back.
    #[graphql(complexity = "cost::list(Ty::EVENT, \"retracts\", child_complexity)")]
    async fn retracts(&self, ctx: &Context<'_>) -> Result<Vec<Event>> {
        table::many(ctx, Ty::EVENT, "retracts", &self.entity()).await
    }
    /// Where the facts about this event come from.
    #[graphql(complexity = "cost::list(Ty::EVENT, \"sources\", child_complexity)")]
    async fn sources(&self, ctx: &Context<'_>) -> Result<Vec<Source>> {
        table::many(ctx, Ty::EVENT, "sources", &self.entity()).await
    }
    /// The earlier events this one answers, and how: the remark a denial
    /// denies, the recognition a condemnation condemns, the statement a
    /// retraction takes back. Ordered by the earlier event's date (undated last).
    #[graphql(complexity = "cost::list(Ty::EVENT, \"responds\", child_complexity)")]
    async fn responds(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only responses of this kind, such as `DENIES`.")] kind: Option<ResponseKind>,
    ) -> Result<Vec<EventResponse>> {
        event_responses(ctx, &self.entity(), "responds", kind)
    }
    /// The later events that answer this one, and how: the denials,
    /// condemnations and retractions it drew. Ordered by the later event's
    /// date (undated last).
    #[graphql(complexity = "cost::list(Ty::EVENT, \"respondedBy\", child_complexity)")]
    async fn responded_by(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only responses of this kind, such as `CONDEMNS`.")] kind: Option<ResponseKind>,
    ) -> Result<Vec<EventResponse>> {
        event_responses(ctx, &self.entity(), "respondedBy", kind)
    }
}

// ---- Treaty -----------------------------------------------------------------

/// A treaty, agreement, ceasefire, partnership or exchange of notes, or an
/// instrument the source only cites (such as the UN Charter).
#[derive(Clone)]
pub struct Treaty(pub Arc<model::Treaty>);

/// A ratification: who ratified a treaty, and when.
#[derive(Clone)]
pub struct Ratification(model::Ratification);

/// A ratification: who ratified a treaty, and when.
#[Object]
impl Ratification {
    /// The ratifying body, such as the State Duma.
    async fn by(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        table::one(ctx, Ty::Ratification, "by", Obj::Ratification(&self.0)).await
    }
    /// When it ratified, if known.
    async fn date(&self) -> Result<Option<PartialDate>> {
        table::leaf(Ty::Ratification, "date", Obj::Ratification(&self.0))
    }
}

/// A treaty, agreement, ceasefire, partnership or exchange of notes, or an
/// instrument the source only cites (such as the UN Charter).
#[Object]
impl Treaty {
    /// The global id, such as `treaty/friendship-2008`.
    async fn id(&self) -> Result<ID> {
        table::leaf(Ty::TREATY, "id", Obj::Entity(&self.entity()))
    }
    /// The name of the instrument.
    async fn name(&self) -> Result<String> {
        table::leaf(Ty::TREATY, "name", Obj::Entity(&self.entity()))
    }
    /// What sort of instrument it is.
    async fn kind(&self) -> Result<TreatyKind> {
        table::leaf(Ty::TREATY, "kind", Obj::Entity(&self.entity()))
    }
    /// Other names it goes by.
    #[graphql(complexity = "cost::list(Ty::TREATY, \"aliases\", child_complexity)")]
    async fn aliases(&self) -> Result<Vec<String>> {
        table::leaf(Ty::TREATY, "aliases", Obj::Entity(&self.entity()))
    }
    /// True when the source only cites this instrument (the UN Charter),
    /// false when it was concluded within the story.
    async fn cited_only(&self) -> Result<bool> {
        table::leaf(Ty::TREATY, "citedOnly", Obj::Entity(&self.entity()))
    }
    /// What it is, in our own words.
    async fn summary(&self) -> Result<Option<String>> {
        table::leaf(Ty::TREATY, "summary", Obj::Entity(&self.entity()))
    }
    /// An editorial note: how an ambiguity in the source was resolved.
    async fn note(&self) -> Result<Option<String>> {
        table::leaf(Ty::TREATY, "note", Obj::Entity(&self.entity()))
    }
    /// When it was signed, as precisely as known.
    async fn signed_on(&self) -> Result<Option<PartialDate>> {
        table::leaf(Ty::TREATY, "signedOn", Obj::Entity(&self.entity()))
    }
    /// Where it was signed.
    async fn signed_at(&self, ctx: &Context<'_>) -> Result<Option<Shared<Place>>> {
        table::one(ctx, Ty::TREATY, "signedAt", Obj::Entity(&self.entity())).await
    }
    /// The states or bodies bound by it.
    #[graphql(complexity = "cost::list(Ty::TREATY, \"parties\", child_complexity)")]
    async fn parties(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Actor>>> {
        table::many(ctx, Ty::TREATY, "parties", &self.entity()).await
    }
    /// The people who signed it.
    #[graphql(complexity = "cost::list(Ty::TREATY, \"signatories\", child_complexity)")]
    async fn signatories(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Actor>>> {
        table::many(ctx, Ty::TREATY, "signatories", &self.entity()).await
    }
    /// Who ratified it, and when.
    #[graphql(complexity = "cost::list(Ty::TREATY, \"ratifications\", child_complexity)")]
    async fn ratifications(&self) -> Vec<Ratification> {
        self.0.ratifications.iter().cloned().map(Ratification).collect()
    }
    /// When it came into force.
    async fn entered_into_force_on(&self) -> Result<Option<PartialDate>> {
        table::leaf(Ty::TREATY, "enteredIntoForceOn", Obj::Entity(&self.entity()))
    }
    /// What it provides, each in a sentence of our own.
    #[graphql(complexity = "cost::list(Ty::TREATY, \"provisions\", child_complexity)")]
    async fn provisions(&self) -> Result<Vec<String>> {
        table::leaf(Ty::TREATY, "provisions", Obj::Entity(&self.entity()))
    }
    /// Who brokered it.
    async fn mediator(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        table::one(ctx, Ty::TREATY, "mediator", Obj::Entity(&self.entity())).await
    }
    /// The treaty this one implements or rests on.
    async fn based_on(&self, ctx: &Context<'_>) -> Result<Option<Shared<Treaty>>> {
        table::one(ctx, Ty::TREATY, "basedOn", Obj::Entity(&self.entity())).await
    }
    /// Treaties and agreements that rest on this one.
    #[graphql(complexity = "cost::list(Ty::TREATY, \"derivedTreaties\", child_complexity)")]
    async fn derived_treaties(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Treaty>>> {
        table::many(ctx, Ty::TREATY, "derivedTreaties", &self.entity()).await
    }
    /// Events that concerned this treaty (its signing, ratification, invocation), in chronological order.
    #[graphql(complexity = "cost::list(Ty::TREATY, \"events\", child_complexity)")]
    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<Event>> {
        table::many(ctx, Ty::TREATY, "events", &self.entity()).await
    }
    /// Funding allocated on the basis of this treaty.
    #[graphql(complexity = "cost::list(Ty::TREATY, \"fundingAllocations\", child_complexity)")]
    async fn funding_allocations(&self, ctx: &Context<'_>) -> Result<Vec<FundingAllocation>> {
        table::many(ctx, Ty::TREATY, "fundingAllocations", &self.entity()).await
    }
    /// Where the facts about this treaty come from.
    #[graphql(complexity = "cost::list(Ty::TREATY, \"sources\", child_complexity)")]
    async fn sources(&self, ctx: &Context<'_>) -> Result<Vec<Source>> {
        table::many(ctx, Ty::TREATY, "sources", &self.entity()).await
    }
    /// How far the treaty had come by the end of a date (signed, ratified, in force), with the date
    /// of each step taken by then; without `asOf`, as far as the sources follow it.
    async fn status(
        &self,
        #[graphql(
            desc = "The date: `2008-12-01`, `2009-02`, `2009`. A step dated only by month or year \
                          counts once that whole period has passed."
        )]
        as_of: Option<PartialDate>,
    ) -> Result<super::asof::TreatyStatus> {
        super::asof::treaty_status(&self.entity(), as_of)
    }
}

// ---- FundingAllocation --------------------------------------------------------

/// Money one actor allocated to another, with its basis and authorisation.
#[derive(Clone)]
pub struct FundingAllocation(pub Arc<model::FundingAllocation>);

/// Money one actor allocated to another, with its basis and authorisation.
#[Object]
impl FundingAllocation {
    /// The global id, such as `funding/federal-budget-2009`.
    async fn id(&self) -> Result<ID> {
        table::leaf(Ty::FUNDING, "id", Obj::Entity(&self.entity()))
    }
    /// A short title in our own words.
    async fn title(&self) -> Result<String> {
        table::leaf(Ty::FUNDING, "title", Obj::Entity(&self.entity()))
    }
    /// How much, exactly, in which currency.
    async fn amount(&self) -> Money {
        Money::from(&self.0.amount)
    }
    /// Who gave the money.
    async fn donor(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        table::one(ctx, Ty::FUNDING, "donor", Obj::Entity(&self.entity())).await
    }
    /// Who received it.
    async fn recipient(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        table::one(ctx, Ty::FUNDING, "recipient", Obj::Entity(&self.entity())).await
    }
    /// What it was for.
    async fn purpose(&self) -> Result<String> {
        table::leaf(Ty::FUNDING, "purpose", Obj::Entity(&self.entity()))
    }
    /// When it was allocated, as precisely as known; null when the source gives no date.
    async fn date(&self) -> Result<Option<PartialDate>> {
        table::leaf(Ty::FUNDING, "date", Obj::Entity(&self.entity()))
    }
    /// Who authorised or instructed it.
    async fn authorized_by(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        table::one(ctx, Ty::FUNDING, "authorizedBy", Obj::Entity(&self.entity())).await
    }
    /// The treaty it rests on, where known.
    async fn basis(&self, ctx: &Context<'_>) -> Result<Option<Shared<Treaty>>> {
        table::one(ctx, Ty::FUNDING, "basis", Obj::Entity(&self.entity())).await
    }
    /// The event in which it was allocated.
    async fn event(&self, ctx: &Context<'_>) -> Result<Option<Shared<Event>>> {
        table::one(ctx, Ty::FUNDING, "event", Obj::Entity(&self.entity())).await
    }
    /// An editorial note: how an ambiguity in the source was resolved.
    async fn note(&self) -> Result<Option<String>> {
        table::leaf(Ty::FUNDING, "note", Obj::Entity(&self.entity()))
    }
    /// Where the facts about this allocation come from.
    #[graphql(complexity = "cost::list(Ty::FUNDING, \"sources\", child_complexity)")]
    async fn sources(&self, ctx: &Context<'_>) -> Result<Vec<Source>> {
        table::many(ctx, Ty::FUNDING, "sources", &self.entity()).await
    }
}

// ---- Place --------------------------------------------------------------------

/// A city, building, region, tunnel or base. Places nest: the Kremlin lies within Moscow.
#[derive(Clone)]
pub struct Place(pub Arc<model::Place>);

/// A city, building, region, tunnel or base. Places nest: the Kremlin lies within Moscow.
#[Object]
impl Place {
    /// The global id, such as `place/tskhinval`.
    async fn id(&self) -> Result<ID> {
        table::leaf(Ty::PLACE, "id", Obj::Entity(&self.entity()))
    }
    /// The usual English name.
    async fn name(&self) -> Result<String> {
        table::leaf(Ty::PLACE, "name", Obj::Entity(&self.entity()))
    }
    /// What sort of place this is.
    async fn kind(&self) -> Result<PlaceKind> {
        table::leaf(Ty::PLACE, "kind", Obj::Entity(&self.entity()))
    }
    /// Other names and spellings (Tskhinvali).
    #[graphql(complexity = "cost::list(Ty::PLACE, \"aliases\", child_complexity)")]
    async fn aliases(&self) -> Result<Vec<String>> {
        table::leaf(Ty::PLACE, "aliases", Obj::Entity(&self.entity()))
    }
    /// A short description in our own words.
    async fn summary(&self) -> Result<Option<String>> {
        table::leaf(Ty::PLACE, "summary", Obj::Entity(&self.entity()))
    }
    /// An editorial note: how an ambiguity in the source was resolved.
    async fn note(&self) -> Result<Option<String>> {
        table::leaf(Ty::PLACE, "note", Obj::Entity(&self.entity()))
    }
    /// The larger place this one lies within.
    async fn within(&self, ctx: &Context<'_>) -> Result<Option<Shared<Place>>> {
        table::one(ctx, Ty::PLACE, "within", Obj::Entity(&self.entity())).await
    }
    /// Places that lie directly within this one.
    #[graphql(complexity = "cost::list(Ty::PLACE, \"contains\", child_complexity)")]
    async fn contains(&self, ctx: &Context<'_>) -> Result<Vec<Place>> {
        table::many(ctx, Ty::PLACE, "contains", &self.entity()).await
    }
    /// Events that happened here, in chronological order (undated last). By default this
    /// includes the events at every place within this one, at any depth: Moscow's events
    /// include those at the Kremlin. Use `contains` to see those places.
    #[graphql(complexity = "cost::list(Ty::PLACE, \"events\", child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            default = true,
            desc = "Also the events at the places within this one, at any depth (the default); false for the events recorded at this very place only."
        )]
        include_within: bool,
    ) -> Result<Vec<Event>> {
        table::place_events(ctx, &self.entity(), include_within)
    }
    /// Treaties signed here.
    #[graphql(complexity = "cost::list(Ty::PLACE, \"treaties\", child_complexity)")]
    async fn treaties(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Treaty>>> {
        table::many(ctx, Ty::PLACE, "treaties", &self.entity()).await
    }
    /// Where the facts about this place come from.
    #[graphql(complexity = "cost::list(Ty::PLACE, \"sources\", child_complexity)")]
    async fn sources(&self, ctx: &Context<'_>) -> Result<Vec<Source>> {
        table::many(ctx, Ty::PLACE, "sources", &self.entity()).await
    }
}

// ---- Source ---------------------------------------------------------------------

/// Where facts come from: a document and a section of it.
#[derive(Clone)]
pub struct Source(pub Arc<model::Source>);

/// Where facts come from: a document and a section of it.
#[Object]
impl Source {
    /// The global id, such as `source/background`.
    async fn id(&self) -> Result<ID> {
        table::leaf(Ty::SOURCE, "id", Obj::Entity(&self.entity()))
    }
    /// The document, such as the Wikipedia article.
    async fn document(&self) -> Result<String> {
        table::leaf(Ty::SOURCE, "document", Obj::Entity(&self.entity()))
    }
    /// The section of the document.
    async fn section(&self) -> Result<Option<String>> {
        table::leaf(Ty::SOURCE, "section", Obj::Entity(&self.entity()))
    }
    /// A link to the document, where it has one.
    async fn url(&self) -> Result<Option<String>> {
        table::leaf(Ty::SOURCE, "url", Obj::Entity(&self.entity()))
    }
    /// An editorial note.
    async fn note(&self) -> Result<Option<String>> {
        table::leaf(Ty::SOURCE, "note", Obj::Entity(&self.entity()))
    }
    /// How directly the source states what is cited from it: `BODY` (the
    /// document's running text), `CAPTION` (a photo caption) or `INFERRED`
    /// (the seed's own inference, explained in the citing entity's `note`).
    /// A fact backed only by a caption or an inference is less certain than
    /// one the body text states.
    async fn kind(&self) -> Result<model::SourceKind> {
        table::leaf(Ty::SOURCE, "kind", Obj::Entity(&self.entity()))
    }
    /// Every entity that cites this source.
    #[graphql(complexity = "cost::list(Ty::SOURCE, \"citedBy\", child_complexity)")]
    async fn cited_by(&self, ctx: &Context<'_>) -> Result<Vec<Node>> {
        table::many(ctx, Ty::SOURCE, "citedBy", &self.entity()).await
    }
}

impl Node {
    pub fn global_id(&self) -> &Id {
        match self {
            Node::Actor(x) => &x.0.id,
            Node::Event(x) => &x.0.id,
            Node::Treaty(x) => &x.0.id,
            Node::FundingAllocation(x) => &x.0.id,
            Node::Place(x) => &x.0.id,
            Node::Source(x) => &x.0.id,
        }
    }
}

impl<T: TryFrom<Node>> TryFrom<Node> for Shared<T> {
    type Error = T::Error;

    fn try_from(node: Node) -> std::result::Result<Self, Self::Error> {
        T::try_from(node).map(Shared)
    }
}

macro_rules! identified {
    ($($ty:ident),*) => {$(
        impl Identified for $ty {
            fn memo_id(&self) -> &Id {
                &self.0.id
            }
        }
    )*};
}
identified!(Actor, Event, Treaty, FundingAllocation, Place, Source);
