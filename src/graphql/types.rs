//! The GraphQL object types: thin wrappers around the model's records, with
//! a resolver for every relation in both directions.

use std::sync::Arc;

use async_graphql::{ComplexObject, Context, Interface, Object, Result, SimpleObject, ID};

use super::connection::{self, EventConnection, PageArgs};
use super::errors::internal;
use super::filters::EventFilter;
use super::loaders::{Link, Loaders};
use super::memo::{Identified, Shared};
use super::scalars::{BigInt, Money, Period};
use crate::model::{self, ActorKind, EventKind, Id, PartialDate, PlaceKind, Relation, Role, TreatyKind};
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
        match entity {
            model::Entity::Actor(e) => Node::Actor(Actor(Arc::new(e))),
            model::Entity::Event(e) => Node::Event(Event(Arc::new(e))),
            model::Entity::Treaty(e) => Node::Treaty(Treaty(Arc::new(e))),
            model::Entity::Funding(e) => Node::FundingAllocation(FundingAllocation(Arc::new(e))),
            model::Entity::Place(e) => Node::Place(Place(Arc::new(e))),
            model::Entity::Source(e) => Node::Source(Source(Arc::new(e))),
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

/// The complexity multiplier of a list field without paging arguments: the
/// number of items such a list is assumed to hold.
pub const FAN_OUT: usize = 5;

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

/// Follows a relation and loads what it leads to.
async fn follow_all<T: TryFrom<Node>>(
    ctx: &Context<'_>,
    relation: Relation,
    direction: Direction,
    from: &Id,
) -> Result<Vec<T>> {
    let link = Link {
        relation,
        direction,
        from: from.clone(),
    };
    let nodes = loaders(ctx)?.nodes(link).await.map_err(internal)?;
    Ok(nodes.iter().cloned().filter_map(|n| T::try_from(n).ok()).collect())
}

fn sources_of<'a>(ids: &'a [Id]) -> impl Iterator<Item = Id> + 'a {
    ids.iter().cloned()
}

// ---- Actor ------------------------------------------------------------------

/// A state, an unrecognised republic, an international body, a government
/// body, a party, a news outlet, a group of people, or a person.
#[derive(Clone)]
pub struct Actor(pub Arc<model::Actor>);

/// A post an actor holds in another actor, such as "President" of Russia.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
pub struct Position {
    /// The title of the post, such as "Minister of Foreign Affairs".
    title: String,
    /// When the post was taken up, if the source says.
    from: Option<PartialDate>,
    /// When the post was left, if the source says.
    to: Option<PartialDate>,
    /// An editorial note on how this was read from the source.
    note: Option<String>,
    #[graphql(skip)]
    of_id: Id,
}

#[ComplexObject]
impl Position {
    /// The actor the post belongs to: a state, a ministry, a party.
    async fn of(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        load_one(ctx, Some(&self.of_id)).await
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
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The usual English name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What sort of actor this is.
    async fn kind(&self) -> ActorKind {
        self.0.kind
    }
    /// Other names and spellings (Kokoity, Kokoyty); search matches them too.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn aliases(&self) -> &[String] {
        &self.0.aliases
    }
    /// A short description in our own words.
    async fn summary(&self) -> Option<&str> {
        self.0.summary.as_deref()
    }
    /// An editorial note: how an ambiguity in the source was resolved.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// The larger actor this one belongs to (the State Duma to the Federal Assembly).
    async fn part_of(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        load_one(ctx, self.0.part_of.as_ref()).await
    }
    /// The actors that belong to this one (a state's ministries).
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn parts(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Actor>>> {
        follow_all(ctx, Relation::ActorPartOf, Direction::Backward, &self.0.id).await
    }
    /// Posts this actor holds, such as "President of Russia".
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn positions(&self) -> Vec<Position> {
        self.0
            .positions
            .iter()
            .map(|p| Position {
                title: p.title.clone(),
                from: p.from,
                to: p.to,
                note: p.note.clone(),
                of_id: p.of.clone(),
            })
            .collect()
    }
    /// People (or bodies) holding a post in this actor: the ministers of a ministry.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn position_holders(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Actor>>> {
        follow_all(ctx, Relation::ActorPositionIn, Direction::Backward, &self.0.id).await
    }
    /// Events this actor took part in, in chronological order (undated last),
    /// as a Relay connection that can be filtered and paged.
    #[graphql(complexity = "connection::complexity(child_complexity, first, last)")]
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
            relation: Relation::EventParticipant,
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
    /// Every event this actor took part in, with its role in each, in chronological order.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn participations(&self, ctx: &Context<'_>) -> Result<Vec<Participation>> {
        let targets = follow(ctx, Relation::EventParticipant, Direction::Backward, &self.0.id).await?;
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
        events.sort_by_key(|(e, _)| connection::event_sort_key(&e.0));
        Ok(events
            .into_iter()
            .map(|(event, role)| Participation { event, role })
            .collect())
    }
    /// Treaties and agreements this actor is a party to.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn treaties(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Treaty>>> {
        follow_all(ctx, Relation::TreatyParty, Direction::Backward, &self.0.id).await
    }
    /// Treaties and agreements this actor signed in person.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn signed_treaties(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Treaty>>> {
        follow_all(ctx, Relation::TreatySignatory, Direction::Backward, &self.0.id).await
    }
    /// Treaties this actor ratified (a legislature).
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn ratified_treaties(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Treaty>>> {
        follow_all(ctx, Relation::TreatyRatifier, Direction::Backward, &self.0.id).await
    }
    /// Agreements this actor brokered between others.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn mediated_treaties(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Treaty>>> {
        follow_all(ctx, Relation::TreatyMediator, Direction::Backward, &self.0.id).await
    }
    /// Funding this actor gave.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn funding_provided(&self, ctx: &Context<'_>) -> Result<Vec<FundingAllocation>> {
        follow_all(ctx, Relation::FundingDonor, Direction::Backward, &self.0.id).await
    }
    /// Funding this actor received.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn funding_received(&self, ctx: &Context<'_>) -> Result<Vec<FundingAllocation>> {
        follow_all(ctx, Relation::FundingRecipient, Direction::Backward, &self.0.id).await
    }
    /// Funding this actor authorised or instructed.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn funding_authorized(&self, ctx: &Context<'_>) -> Result<Vec<FundingAllocation>> {
        follow_all(ctx, Relation::FundingAuthorizedBy, Direction::Backward, &self.0.id).await
    }
    /// Events with a figure this actor claimed (such as a share of buildings destroyed).
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn claimed_figures_in(&self, ctx: &Context<'_>) -> Result<Vec<Event>> {
        follow_all(ctx, Relation::EventFigureClaimant, Direction::Backward, &self.0.id).await
    }
    /// Where the facts about this actor come from.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn sources(&self, ctx: &Context<'_>) -> Result<Vec<Source>> {
        load_all(ctx, sources_of(&self.0.sources)).await
    }
}

pub(super) fn role_from(payload: &[u8]) -> Option<Role> {
    let name = std::str::from_utf8(payload).ok()?;
    Role::ALL.iter().copied().find(|r| r.as_str() == name)
}

// ---- Event ------------------------------------------------------------------

/// Something that happened at a date or over a period: a military action, a
/// statement, a rally, a recognition, a decree, a visit, a signing…
#[derive(Clone)]
pub struct Event(pub Arc<model::Event>);

/// An actor taking part in an event, and the part it played.
#[derive(Clone)]
pub struct Participant {
    actor_id: Id,
    role: Role,
}

/// An actor taking part in an event, and the part it played.
#[Object]
impl Participant {
    /// The actor.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        load_one(ctx, Some(&self.actor_id)).await
    }
    /// The part it played.
    async fn role(&self) -> Role {
        self.role
    }
}

/// A labelled number stated in the source: 3,700 soldiers; 70 percent of housing.
#[derive(Clone)]
pub struct Figure(model::Figure);

/// A labelled number stated in the source: 3,700 soldiers; 70 percent of housing.
#[Object]
impl Figure {
    /// What is counted, such as "Russian soldiers deployed".
    async fn label(&self) -> &str {
        &self.0.label
    }
    /// The number, exact, as a decimal string.
    async fn value(&self) -> BigInt {
        BigInt::new(self.0.value as i128)
    }
    /// The unit: "soldiers", "percent", "days".
    async fn unit(&self) -> &str {
        &self.0.unit
    }
    /// Who stated the figure, when it is a claim rather than an established count.
    async fn claimed_by(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        load_one(ctx, self.0.claimed_by.as_ref()).await
    }
}

/// Something that happened at a date or over a period: a military action, a
/// statement, a rally, a recognition, a decree, a visit, a signing…
#[Object]
impl Event {
    /// The global id, such as `event/recognition-decrees`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// A short title in our own words.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// What sort of event this is.
    async fn kind(&self) -> EventKind {
        self.0.kind
    }
    /// When it happened, as precisely as the source says; null when the source gives no date.
    async fn date(&self) -> Option<PartialDate> {
        self.0.date
    }
    /// The exact first and last day the date covers, with its precision.
    async fn period(&self) -> Option<Period> {
        self.0.date.as_ref().map(Period::from)
    }
    /// Where it happened, if known.
    async fn place(&self, ctx: &Context<'_>) -> Result<Option<Shared<Place>>> {
        load_one(ctx, self.0.place.as_ref()).await
    }
    /// What happened, in our own words.
    async fn summary(&self) -> Option<&str> {
        self.0.summary.as_deref()
    }
    /// An editorial note: how an ambiguity in the source was resolved.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// Who took part, and in what role.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn participants(&self) -> Vec<Participant> {
        self.0
            .participants
            .iter()
            .map(|p| Participant {
                actor_id: p.actor.clone(),
                role: p.role,
            })
            .collect()
    }
    /// Treaties this event concerned (signed, ratified, invoked).
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn treaties(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Treaty>>> {
        load_all(ctx, self.0.treaties.iter().cloned()).await
    }
    /// Funding allocated in this event.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn funding_allocations(&self, ctx: &Context<'_>) -> Result<Vec<FundingAllocation>> {
        follow_all(ctx, Relation::FundingEvent, Direction::Backward, &self.0.id).await
    }
    /// Numbers stated about this event.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn figures(&self) -> Vec<Figure> {
        self.0.figures.iter().cloned().map(Figure).collect()
    }
    /// The larger event this one is part of (a visit within a war, a signing within a visit).
    async fn part_of(&self, ctx: &Context<'_>) -> Result<Option<Shared<Event>>> {
        load_one(ctx, self.0.part_of.as_ref()).await
    }
    /// The smaller events this one is made of.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn parts(&self, ctx: &Context<'_>) -> Result<Vec<Event>> {
        follow_all(ctx, Relation::EventPartOf, Direction::Backward, &self.0.id).await
    }
    /// For undated events: events the source says this one came after.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn after(&self, ctx: &Context<'_>) -> Result<Vec<Event>> {
        load_all(ctx, self.0.after.iter().cloned()).await
    }
    /// Events the source says came after this one.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn followed_by(&self, ctx: &Context<'_>) -> Result<Vec<Event>> {
        follow_all(ctx, Relation::EventAfter, Direction::Backward, &self.0.id).await
    }
    /// For a statement: the later event in which it was taken back.
    async fn retracted_by(&self, ctx: &Context<'_>) -> Result<Option<Shared<Event>>> {
        load_one(ctx, self.0.retracted_by.as_ref()).await
    }
    /// For a retraction: the statements it took back.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn retracts(&self, ctx: &Context<'_>) -> Result<Vec<Event>> {
        follow_all(ctx, Relation::EventRetractedBy, Direction::Backward, &self.0.id).await
    }
    /// Where the facts about this event come from.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn sources(&self, ctx: &Context<'_>) -> Result<Vec<Source>> {
        load_all(ctx, sources_of(&self.0.sources)).await
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
        load_one(ctx, Some(&self.0.by)).await
    }
    /// When it ratified, if known.
    async fn date(&self) -> Option<PartialDate> {
        self.0.date
    }
}

/// A treaty, agreement, ceasefire, partnership or exchange of notes, or an
/// instrument the source only cites (such as the UN Charter).
#[Object]
impl Treaty {
    /// The global id, such as `treaty/friendship-2008`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The name of the instrument.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What sort of instrument it is.
    async fn kind(&self) -> TreatyKind {
        self.0.kind
    }
    /// Other names it goes by.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn aliases(&self) -> &[String] {
        &self.0.aliases
    }
    /// True when the source only cites this instrument (the UN Charter),
    /// false when it was concluded within the story.
    async fn cited_only(&self) -> bool {
        self.0.cited_only
    }
    /// What it is, in our own words.
    async fn summary(&self) -> Option<&str> {
        self.0.summary.as_deref()
    }
    /// An editorial note: how an ambiguity in the source was resolved.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// When it was signed, as precisely as known.
    async fn signed_on(&self) -> Option<PartialDate> {
        self.0.signed_on
    }
    /// Where it was signed.
    async fn signed_at(&self, ctx: &Context<'_>) -> Result<Option<Shared<Place>>> {
        load_one(ctx, self.0.signed_at.as_ref()).await
    }
    /// The states or bodies bound by it.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn parties(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Actor>>> {
        load_all(ctx, self.0.parties.iter().cloned()).await
    }
    /// The people who signed it.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn signatories(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Actor>>> {
        load_all(ctx, self.0.signatories.iter().cloned()).await
    }
    /// Who ratified it, and when.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn ratifications(&self) -> Vec<Ratification> {
        self.0.ratifications.iter().cloned().map(Ratification).collect()
    }
    /// When it came into force.
    async fn entered_into_force_on(&self) -> Option<PartialDate> {
        self.0.entered_into_force_on
    }
    /// What it provides, each in a sentence of our own.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn provisions(&self) -> &[String] {
        &self.0.provisions
    }
    /// Who brokered it.
    async fn mediator(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        load_one(ctx, self.0.mediator.as_ref()).await
    }
    /// The treaty this one implements or rests on.
    async fn based_on(&self, ctx: &Context<'_>) -> Result<Option<Shared<Treaty>>> {
        load_one(ctx, self.0.based_on.as_ref()).await
    }
    /// Treaties and agreements that rest on this one.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn derived_treaties(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Treaty>>> {
        follow_all(ctx, Relation::TreatyBasedOn, Direction::Backward, &self.0.id).await
    }
    /// Events that concerned this treaty (its signing, ratification, invocation), in chronological order.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<Event>> {
        let mut events: Vec<Event> = follow_all(ctx, Relation::EventTreaty, Direction::Backward, &self.0.id).await?;
        events.sort_by_key(|e| connection::event_sort_key(&e.0));
        Ok(events)
    }
    /// Funding allocated on the basis of this treaty.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn funding_allocations(&self, ctx: &Context<'_>) -> Result<Vec<FundingAllocation>> {
        follow_all(ctx, Relation::FundingBasis, Direction::Backward, &self.0.id).await
    }
    /// Where the facts about this treaty come from.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn sources(&self, ctx: &Context<'_>) -> Result<Vec<Source>> {
        load_all(ctx, sources_of(&self.0.sources)).await
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
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// A short title in our own words.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// How much, exactly, in which currency.
    async fn amount(&self) -> Money {
        Money::from(&self.0.amount)
    }
    /// Who gave the money.
    async fn donor(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        load_one(ctx, Some(&self.0.donor)).await
    }
    /// Who received it.
    async fn recipient(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        load_one(ctx, Some(&self.0.recipient)).await
    }
    /// What it was for.
    async fn purpose(&self) -> &str {
        &self.0.purpose
    }
    /// When it was allocated, as precisely as known; null when the source gives no date.
    async fn date(&self) -> Option<PartialDate> {
        self.0.date
    }
    /// Who authorised or instructed it.
    async fn authorized_by(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        load_one(ctx, self.0.authorized_by.as_ref()).await
    }
    /// The treaty it rests on, where known.
    async fn basis(&self, ctx: &Context<'_>) -> Result<Option<Shared<Treaty>>> {
        load_one(ctx, self.0.basis.as_ref()).await
    }
    /// The event in which it was allocated.
    async fn event(&self, ctx: &Context<'_>) -> Result<Option<Shared<Event>>> {
        load_one(ctx, self.0.event.as_ref()).await
    }
    /// An editorial note: how an ambiguity in the source was resolved.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// Where the facts about this allocation come from.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn sources(&self, ctx: &Context<'_>) -> Result<Vec<Source>> {
        load_all(ctx, sources_of(&self.0.sources)).await
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
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The usual English name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// What sort of place this is.
    async fn kind(&self) -> PlaceKind {
        self.0.kind
    }
    /// Other names and spellings (Tskhinvali).
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn aliases(&self) -> &[String] {
        &self.0.aliases
    }
    /// A short description in our own words.
    async fn summary(&self) -> Option<&str> {
        self.0.summary.as_deref()
    }
    /// An editorial note: how an ambiguity in the source was resolved.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// The larger place this one lies within.
    async fn within(&self, ctx: &Context<'_>) -> Result<Option<Shared<Place>>> {
        load_one(ctx, self.0.within.as_ref()).await
    }
    /// Places that lie directly within this one.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn contains(&self, ctx: &Context<'_>) -> Result<Vec<Place>> {
        follow_all(ctx, Relation::PlaceWithin, Direction::Backward, &self.0.id).await
    }
    /// Events that happened here, in chronological order.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn events(&self, ctx: &Context<'_>) -> Result<Vec<Event>> {
        let mut events: Vec<Event> = follow_all(ctx, Relation::EventPlace, Direction::Backward, &self.0.id).await?;
        events.sort_by_key(|e| connection::event_sort_key(&e.0));
        Ok(events)
    }
    /// Treaties signed here.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn treaties(&self, ctx: &Context<'_>) -> Result<Vec<Shared<Treaty>>> {
        follow_all(ctx, Relation::TreatySignedAt, Direction::Backward, &self.0.id).await
    }
    /// Where the facts about this place come from.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn sources(&self, ctx: &Context<'_>) -> Result<Vec<Source>> {
        load_all(ctx, sources_of(&self.0.sources)).await
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
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The document, such as the Wikipedia article.
    async fn document(&self) -> &str {
        &self.0.document
    }
    /// The section of the document.
    async fn section(&self) -> Option<&str> {
        self.0.section.as_deref()
    }
    /// A link to the document, where it has one.
    async fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }
    /// An editorial note.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// Every entity that cites this source.
    #[graphql(complexity = "FAN_OUT * child_complexity + 1")]
    async fn cited_by(&self, ctx: &Context<'_>) -> Result<Vec<Node>> {
        let targets = follow(ctx, Relation::CitedSource, Direction::Backward, &self.0.id).await?;
        load_all(ctx, targets.iter().map(|(id, _)| id.clone())).await
    }
}

/// Parses an optional `PartialDate` argument given as a string.
pub(super) fn date_arg(name: &str, value: Option<&str>) -> Result<Option<PartialDate>> {
    value
        .map(|v| PartialDate::parse(v).map_err(|e| super::errors::bad_input(name, e.to_string())))
        .transpose()
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
