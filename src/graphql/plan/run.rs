//! Running a plan: the JSON answer written straight from the store's
//! entities, through the shared read cache.

use std::borrow::Cow;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::Instant;

use async_graphql::{InputType, Name, ID};
use rustc_hash::FxHashMap;
use serde_json::{Map, Value as Json};

use super::compile::{Field, Variable, ENTITY_TYPES};
use super::{GiveUp, Plan, Reads, Run};
use crate::graphql::filters::{ActorFilter, EventFilter, FundingFilter, TreatyFilter};
use crate::graphql::stats::{dims, EventGroup, FundingGroup};
use crate::graphql::table::{backward, Leaf, Obj, Shape, Ty};
use crate::graphql::types::role_from;
use crate::model::{self, EntityKind, Id, PartialDate, Relation, RelationKind};
use crate::read::asof;
use crate::read::cache::{Direct, Entity};
use crate::read::listing::{
    self, actor_set, event_listing, event_sort_key, funding_keyed, place_events, timeline_ids, treaty_set,
    window_among, TimelineArgs,
};
use crate::read::page::{self, listing_page, page_sorted, page_with, Limits, PageArgs, Window};
use crate::read::paths::{self, PathArgs};
use crate::read::responses::responses;
use crate::read::search::{matches, search_hits};
use crate::read::stats::{co_participants, event_groups, funding_groups};
use crate::read::table::{sum_amounts, Page, Sum};
use crate::store::{Keyed, Store};

/// The totals a connection carries.
struct Totals {
    count: usize,
    sums: Vec<Sum>,
}

impl Totals {
    fn count(count: usize) -> Totals {
        Totals {
            count,
            sums: Vec::new(),
        }
    }
}

/// A page of keys and ids, borrowed.
fn borrowed(page: &page::Page) -> page::Page<&Keyed> {
    page::Page {
        items: page.items.iter().collect(),
        has_prev: page.has_prev,
        has_next: page.has_next,
    }
}

/// Most ids `nodes(ids:)` takes.
const MAX_NODE_IDS: usize = 100;

impl Plan {
    pub(super) fn run(
        &self,
        variables: Option<&Map<String, Json>>,
        defaults: &[Variable],
        reads: Reads<'_>,
    ) -> Run<Vec<u8>> {
        let mut writer = Writer {
            direct: Direct::new(reads.store, reads.cache),
            store: reads.store,
            limits: reads.limits,
            variables,
            defaults,
            out: Vec::with_capacity(self.size.load(Ordering::Relaxed)),
            written: Vec::new(),
            deadline: reads.deadline,
            objects: 0,
            within: 0,
        };
        writer.out.extend_from_slice(b"{\"data\":");
        writer.object(&self.root, Obj::Query)?;
        writer.out.push(b'}');
        self.size.store(writer.out.len(), Ordering::Relaxed);
        Ok(writer.out)
    }
}

/// Writes `node`'s object under `sel` at the end of `out`: the entity a
/// write answers with (`write.rs`), whose selection holds scalars only.
pub(super) fn entity_object(out: Vec<u8>, sel: &[Field], node: &Entity, reads: Reads<'_>) -> Run<Vec<u8>> {
    let mut writer = Writer {
        direct: Direct::new(reads.store, reads.cache),
        store: reads.store,
        limits: reads.limits,
        variables: None,
        defaults: &[],
        out,
        written: Vec::new(),
        deadline: reads.deadline,
        objects: 0,
        within: 0,
    };
    writer.object(sel, Obj::Entity(node))?;
    Ok(writer.out)
}

/// Where an entity's subtree lies in the answer: from, to.
type Span = (usize, usize);

/// An entity as a key of [`Written::by_id`]: by its id, held without
/// copying it (the entity is shared, its id would be a new string).
struct ById(Entity);

impl std::hash::Hash for ById {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.id().hash(state)
    }
}

impl PartialEq for ById {
    fn eq(&self, other: &ById) -> bool {
        self.0.id() == other.0.id()
    }
}

impl Eq for ById {}

impl std::borrow::Borrow<Id> for ById {
    fn borrow(&self) -> &Id {
        self.0.id()
    }
}

/// The entity subtrees written under one selection, found again either way
/// they are met: by id where a field gives only the id (a participant's
/// actor, which is then not read at all), and by the address of the record
/// where the entity is in hand (the items of a list), which hashes one word
/// where an id hashes and compares a string. One entity read from the read
/// cache twice is the same record (it hands out the one it holds), and each
/// entry holds the record, so its address names no other entity while the
/// answer is written; a record read again after the cache started over is
/// only written again, the same bytes.
#[derive(Default)]
struct Written {
    by_id: FxHashMap<ById, Span>,
    by_address: FxHashMap<usize, (Entity, Span)>,
}

/// Room a [`Written`] map is given when first used: growing it from
/// nothing rehashes it at 3, 7, 14, 28 entries and so on, which cost more
/// than the copies saved on the nested benchmark query (60 entities).
const WRITTEN_ROOM: usize = 64;

/// Keeps where an entity was written in `map`, making room first if it has none.
fn note<K: std::hash::Hash + Eq, V>(map: &mut FxHashMap<K, V>, key: K, value: V) {
    if map.capacity() == 0 {
        map.reserve(WRITTEN_ROOM);
    }
    map.insert(key, value);
}

/// The address of an entity's record, which [`Written::by_address`] keys on.
fn address(node: &Entity) -> usize {
    match node {
        Entity::Actor(x) => std::sync::Arc::as_ptr(x) as usize,
        Entity::Event(x) => std::sync::Arc::as_ptr(x) as usize,
        Entity::Treaty(x) => std::sync::Arc::as_ptr(x) as usize,
        Entity::FundingAllocation(x) => std::sync::Arc::as_ptr(x) as usize,
        Entity::Place(x) => std::sync::Arc::as_ptr(x) as usize,
        Entity::Source(x) => std::sync::Arc::as_ptr(x) as usize,
    }
}

struct Writer<'a> {
    direct: Direct<'a>,
    store: &'a Store,
    limits: Limits,
    variables: Option<&'a Map<String, Json>>,
    /// The operation's variables, for their default values.
    defaults: &'a [Variable],
    out: Vec<u8>,
    /// Entity subtrees already written, by selection and entity: where
    /// they lie in `out`. The same entity under the same field of the query
    /// always reads the same, so a repeat is a copy.
    /// A query has few such selections: they are looked for in order.
    written: Vec<(*const Field, Written)>,
    /// When the operation's time is up.
    deadline: Instant,
    /// Objects written so far; the clock is read every so many.
    objects: u32,
    /// How many entities the one being written lies under.
    within: u32,
}

impl Writer<'_> {
    fn object(&mut self, sel: &[Field], obj: Obj<'_>) -> Run {
        self.objects = self.objects.wrapping_add(1);
        if self.objects.is_multiple_of(256) && Instant::now() > self.deadline {
            return Err(GiveUp::TimedOut);
        }
        // As async-graphql answers an object none of whose fields apply to
        // its type (`node(id:) { ... on Actor { name } }` on an event).
        if sel.is_empty() {
            return self.null();
        }
        for field in sel {
            match &field.padded {
                Some(padded) => {
                    let end = self.out.len() + field.key.len();
                    self.out.extend_from_slice(padded);
                    self.out.truncate(end);
                }
                None => self.out.extend_from_slice(&field.key),
            }
            if !field.whole {
                match field.shape {
                    // The most common field, written without the call to
                    // `field` and its dispatch on the shape and the object.
                    Shape::Leaf(read) => self.leaf(read(obj).ok_or(GiveUp::Unsure)?)?,
                    _ => self.field(field, obj)?,
                }
            }
        }
        self.out.push(b'}');
        Ok(())
    }

    fn field(&mut self, field: &Field, obj: Obj<'_>) -> Run {
        let sel = &field.sel;
        match (field.shape, obj) {
            (Shape::Typename(ty), _) => self.string(ty.name()),
            (Shape::Leaf(read), _) => self.leaf(read(obj).ok_or(GiveUp::Unsure)?),
            (Shape::One(read, ty), _) => self.one(read(obj).ok_or(GiveUp::Unsure)?, ty, sel),
            (Shape::Ids(read, ty), _) => {
                let nodes = self.direct.entities(read(obj).ok_or(GiveUp::Unsure)?)?;
                self.list(sel, nodes.iter().flatten().filter(|n| ty.holds(n)))
            }
            (Shape::Follow(relation, ty), Obj::Entity(node)) => {
                let nodes = self.direct.nodes(&backward(relation, node))?;
                self.list(sel, nodes.iter().filter(|n| ty.holds(n)))
            }
            (Shape::EventsByDate(relation), Obj::Entity(node)) => {
                let events = self.direct.sorted_events(&backward(relation, node))?;
                self.list(sel, events.iter().map(|(_, e)| e))
            }
            (Shape::PlaceEvents, Obj::Entity(node)) => {
                // Absent, the argument takes its default; present, it must
                // be a Boolean (a null is async-graphql's error to report).
                let within = match field.args.iter().any(|(name, _)| name == "includeWithin") {
                    true => self.arg::<bool>(field, "includeWithin")?,
                    false => true,
                };
                let events = place_events(&self.direct, node, within).map_err(|_| GiveUp::Unsure)?;
                self.list(sel, events.iter().map(|(_, e)| e))
            }
            (Shape::Participants, Obj::Entity(Entity::Event(event))) => {
                self.array(&event.participants, |w, p| w.object(sel, Obj::Participant(p)))
            }
            (Shape::Ratifications, Obj::Entity(Entity::Treaty(treaty))) => {
                self.array(&treaty.ratifications, |w, r| w.object(sel, Obj::Ratification(r)))
            }
            (Shape::Figures, Obj::Entity(Entity::Event(event))) => {
                self.array(&event.figures, |w, f| w.object(sel, Obj::Figure(f)))
            }
            (Shape::Positions, Obj::Entity(node @ Entity::Actor(_))) => {
                let as_of = self.arg::<Option<PartialDate>>(field, "asOf")?;
                let held = asof::positions(&self.direct, node, as_of.as_ref()).map_err(|_| GiveUp::Unsure)?;
                self.array(&held, |w, p| w.object(sel, Obj::Position(p)))
            }
            (Shape::Participations(relation), Obj::Entity(node)) => self.participations(sel, relation, node),
            (Shape::ParticipationEvent, Obj::Participation((event, _))) => self.entity(sel, event),
            (Shape::Amount, Obj::Entity(Entity::FundingAllocation(f))) => self.object(sel, Obj::Money(&f.amount)),
            (Shape::Period, Obj::Entity(Entity::Event(e))) => match &e.date {
                Some(date) => self.object(sel, Obj::Period(date)),
                None => self.null(),
            },
            (Shape::ActorEvents(relation), Obj::Entity(node @ Entity::Actor(_))) => {
                let window = self.window(field)?;
                let filter = self.filter(field)?;
                let events = self.direct.sorted_events(&backward(relation, node))?;
                let (page, total) = window_among(&events, filter.as_ref(), &window);
                let page = Page {
                    items: page.items,
                    has_prev: page.has_prev,
                    has_next: page.has_next,
                    total,
                    sums: Vec::new(),
                };
                self.object(sel, Obj::Page(&page))
            }
            (Shape::Lookup(_, ty), Obj::Query) if field.id.is_some() => self.one(field.id.as_ref(), ty, sel),
            (Shape::Lookup(kind, ty), Obj::Query) => {
                let id: ID = self.arg(field, "id")?;
                let id = Id::parse_as(kind, id.as_str()).map_err(|_| GiveUp::Unsure)?;
                self.one(Some(&id), ty, sel)
            }
            (Shape::NodeLookup, Obj::Query) => {
                let id = match &field.id {
                    Some(id) => Cow::Borrowed(id),
                    None => {
                        let id: ID = self.arg(field, "id")?;
                        Cow::Owned(Id::parse(id.as_str()).map_err(|_| GiveUp::Unsure)?)
                    }
                };
                match self.direct.entity(&id)? {
                    Some(node) => self.any_entity(field, &node),
                    None => self.null(),
                }
            }
            (Shape::Search, Obj::Query) => {
                let query: String = self.arg(field, "query")?;
                let hits = search_hits(self.store, &query, self.arg(field, "first")?).map_err(|_| GiveUp::Unsure)?;
                let ids: Vec<Id> = hits.iter().map(|(id, _)| id.clone()).collect();
                let nodes = self.direct.entities(&ids)?;
                let found: Vec<(f64, Entity)> = hits
                    .iter()
                    .zip(nodes)
                    .filter_map(|((_, score), node)| Some((*score, node?)))
                    .collect();
                self.array(&found, |w, (score, node)| w.object(sel, Obj::Hit(*score, node, &query)))
            }
            (Shape::Score, Obj::Hit(score, ..)) => {
                serde_json::to_writer(&mut self.out, &score)?;
                Ok(())
            }
            (Shape::HitNode, Obj::Hit(_, node, _)) => self.any_entity(field, node),
            (Shape::HitMatches, Obj::Hit(_, node, query)) => {
                self.array(&matches(node, query), |w, m| w.object(sel, Obj::Match(m)))
            }
            (Shape::Highlights, Obj::Match(m)) => self.array(&m.highlights, |w, r| w.object(sel, Obj::Range(r))),
            (Shape::Timeline, Obj::Query) => {
                let args = TimelineArgs::parse(
                    self.arg::<Option<String>>(field, "from")?.as_deref(),
                    self.arg::<Option<String>>(field, "to")?.as_deref(),
                    self.arg::<Option<ID>>(field, "actor")?.as_ref().map(|a| a.as_str()),
                    self.arg(field, "first")?,
                    self.arg::<Option<bool>>(field, "includeUndated")?.unwrap_or(false),
                )
                .map_err(|_| GiveUp::Unsure)?;
                let ids = timeline_ids(self.store, args).map_err(|_| GiveUp::Unsure)?;
                let nodes = self.direct.entities(&ids)?;
                self.list(sel, nodes.iter().flatten().filter(|n| Ty::EVENT.holds(n)))
            }
            (Shape::CitedBy(relation), Obj::Entity(node)) => {
                let nodes = self.direct.nodes(&backward(relation, node))?;
                self.out.push(b'[');
                for (i, node) in nodes.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.any_entity(field, node)?;
                }
                self.out.push(b']');
                Ok(())
            }
            (Shape::AllEvents, Obj::Query) => self.all_events(field),
            (Shape::Nodes(_), Obj::Page(page)) => self.list(sel, page.items.iter().map(|(_, n)| *n)),
            (Shape::Edges(_), Obj::Page(page)) => self.array(&page.items, |w, (k, n)| w.object(sel, Obj::Edge(k, n))),
            (Shape::EdgeNode(_), Obj::Edge(_, node)) => self.entity(sel, node),
            (Shape::Listing(kind, _), Obj::Query) => self.listing(field, kind),
            (Shape::NodesById, Obj::Query) => self.nodes_by_id(field),
            (Shape::Entities, Obj::Query) => self.entities(field),
            (Shape::TotalAmount, Obj::Page(page)) => self.array(&page.sums, |w, m| w.object(sel, Obj::Sum(m))),
            (Shape::Cursor, Obj::Edge(key, _)) => self.cursor(Some(key)),
            (Shape::TotalCount, Obj::Page(page)) => {
                write!(self.out, "{}", page.total)?;
                Ok(())
            }
            (Shape::PageInfo, Obj::Page(_)) => self.object(sel, obj),
            // Group-by aggregations (issue 17).
            (Shape::EventStats | Shape::FundingStats, Obj::Query) => self.stats(field),
            (Shape::GroupKey(_), Obj::Group(group)) => self.object(sel, Obj::GroupKey(&group.key)),
            (Shape::GroupMembers(_), Obj::Group(group)) => {
                let window = self.window(field)?;
                let (page, total) = window_among(&group.members, None, &window);
                let page = Page {
                    items: page.items,
                    has_prev: page.has_prev,
                    has_next: page.has_next,
                    total,
                    sums: group.sums.clone(),
                };
                self.object(sel, Obj::Page(&page))
            }
            (Shape::GroupTotalAmount, Obj::Group(group)) => self.array(&group.sums, |w, m| w.object(sel, Obj::Sum(m))),
            (Shape::CoParticipants, Obj::Entity(node @ Entity::Actor(_))) => {
                let role = self.arg::<Option<model::Role>>(field, "role")?;
                let found =
                    co_participants(&self.direct, node, self.arg(field, "first")?, role).map_err(|_| GiveUp::Unsure)?;
                self.array(&found, |w, c| w.object(sel, Obj::CoParticipant(c)))
            }
            (Shape::SharedEvents, Obj::CoParticipant(c)) => self.list(sel, c.events.iter()),
            (Shape::HasNextPage, Obj::Page(page)) => self.leaf(Leaf::Bool(page.has_next)),
            (Shape::HasPreviousPage, Obj::Page(page)) => self.leaf(Leaf::Bool(page.has_prev)),
            (Shape::StartCursor, Obj::Page(page)) => self.cursor(page.items.first().map(|(k, _)| *k)),
            (Shape::EndCursor, Obj::Page(page)) => self.cursor(page.items.last().map(|(k, _)| *k)),
            // Typed event links.
            (Shape::Responses(way), Obj::Entity(node)) => {
                let kind = self.arg::<Option<model::ResponseKind>>(field, "kind")?;
                let found = responses(&self.direct, node, way, kind)?;
                self.array(&found, |w, (event, kind)| w.object(sel, Obj::Response((event, *kind))))
            }
            (Shape::ResponseEvent, Obj::Response((event, _))) => self.entity(sel, event),
            // Issue 17, paths and as-of views.
            (Shape::Paths, Obj::Query) => {
                let args = PathArgs::parse(
                    self.arg::<ID>(field, "from")?.as_str(),
                    self.arg::<ID>(field, "to")?.as_str(),
                    Some(self.arg_or(field, "maxHops", paths::DEFAULT_MAX_HOPS)?),
                    self.arg::<Option<Vec<RelationKind>>>(field, "via")?.as_deref(),
                    Some(self.arg_or(field, "first", paths::DEFAULT_FIRST)?),
                    Some(self.arg_or(field, "budget", paths::DEFAULT_BUDGET)?),
                )
                .map_err(|_| GiveUp::Unsure)?;
                let args = PathArgs {
                    deadline: Some(self.deadline),
                    ..args
                };
                let answer = paths::find(&self.direct, &args).map_err(|_| GiveUp::Unsure)?;
                self.object(sel, Obj::PathSearch(&answer))
            }
            (Shape::PathList, Obj::PathSearch(answer)) => self.array(&answer.paths, |w, p| w.object(sel, Obj::Path(p))),
            (Shape::PathNodes, Obj::Path(path)) => self.array(&path.nodes, |w, node| w.any_entity(field, node)),
            (Shape::PathSteps, Obj::Path(path)) => self.array(&path.steps, |w, step| w.object(sel, Obj::Step(step))),
            (Shape::TreatyStatus, Obj::Entity(Entity::Treaty(treaty))) => {
                let as_of = self.arg::<Option<PartialDate>>(field, "asOf")?;
                let status = asof::treaty_status(treaty, as_of.as_ref());
                self.object(sel, Obj::TreatyStatus(&status))
            }
            (Shape::PositionHolders, Obj::Query) => {
                let title: String = self.arg(field, "title")?;
                let of = self.arg::<Option<ID>>(field, "of")?;
                let as_of = self.arg::<Option<PartialDate>>(field, "asOf")?;
                let held = asof::position_holders(
                    self.store,
                    &self.direct,
                    &title,
                    of.as_ref().map(|of| of.as_str()),
                    as_of.as_ref(),
                )
                .map_err(|_| GiveUp::Unsure)?;
                self.array(&held, |w, p| w.object(sel, Obj::Position(p)))
            }
            (Shape::HeldPosition, Obj::Position(_)) => self.object(sel, obj),
            _ => Err(GiveUp::Unsure),
        }
    }

    /// `Query.events` without a filter: the chronological listing, read a page at a time.
    fn all_events(&mut self, field: &Field) -> Run {
        let window = self.window(field)?;
        let wants_total = field.sel.iter().any(|f| matches!(f.shape, Shape::TotalCount));
        if let Some(filter) = self.filter(field)? {
            let (page, total) = event_listing(self.store, &filter, &window, wants_total).map_err(|_| GiveUp::Unsure)?;
            return self.page(field, Ty::EVENT, borrowed(&page), Totals::count(total));
        }
        // The page borrows from the listing the read cache holds.
        let mut listing = None;
        let page = page_with(&window, |after, before, limit, from_end| {
            Ok(listing
                .insert(self.direct.event_page(after, before, limit, from_end)?)
                .iter()
                .collect())
        })
        .map_err(|_| GiveUp::Unsure)?;
        let total = if wants_total {
            self.store.count(EntityKind::Event)? as usize
        } else {
            0
        };
        self.page(field, Ty::EVENT, page, Totals::count(total))
    }

    /// `Query.actors`, `Query.treaties`, `Query.places` or
    /// `Query.fundingAllocations`: a page of the listing by id, filtered.
    fn listing(&mut self, field: &Field, kind: EntityKind) -> Run {
        let window = self.window(field)?;
        let ty = ENTITY_TYPES
            .into_iter()
            .find(|t| t.kind() == Some(kind))
            .ok_or(GiveUp::Unsure)?;
        if kind == EntityKind::Funding {
            let filter = self.arg::<Option<FundingFilter>>(field, "filter")?;
            let filter = filter.unwrap_or_default().parse().map_err(|_| GiveUp::Unsure)?;
            let keyed = funding_keyed(self.store, &filter).map_err(|_| GiveUp::Unsure)?;
            let mut totals = Totals::count(keyed.len());
            if field.sel.iter().any(|f| matches!(f.shape, Shape::TotalAmount)) {
                let ids: Vec<Id> = keyed.iter().map(|(_, id)| id.clone()).collect();
                let all = self.direct.entities(&ids)?;
                totals.sums = sum_amounts(all.iter().flatten().filter_map(|n| match n {
                    Entity::FundingAllocation(f) => Some(&f.amount),
                    _ => None,
                }));
            }
            let page = page_sorted(keyed, &window);
            return self.page(field, ty, borrowed(&page), totals);
        }
        let set = match kind {
            EntityKind::Actor => {
                let filter = self.arg::<Option<ActorFilter>>(field, "filter")?.unwrap_or_default();
                filter.parse().and_then(|f| actor_set(self.store, &f))
            }
            EntityKind::Treaty => {
                let filter = self.arg::<Option<TreatyFilter>>(field, "filter")?.unwrap_or_default();
                filter.parse().and_then(|f| treaty_set(self.store, &f))
            }
            _ => Ok(None),
        }
        .map_err(|_| GiveUp::Unsure)?;
        let (page, total) = listing_page(self.store, kind, set, &window).map_err(|_| GiveUp::Unsure)?;
        self.page(field, ty, borrowed(&page), Totals::count(total))
    }

    /// `Query.eventStats` or `Query.fundingStats`: the groups, each written
    /// with the field's selection.
    fn stats(&mut self, field: &Field) -> Run {
        let groups = if matches!(field.shape, Shape::EventStats) {
            let by: Vec<EventGroup> = self.arg(field, "groupBy")?;
            let filter = self.filter(field)?.unwrap_or_default();
            // Without `events` asked for, a group's events need not be loaded.
            let members = field.sel.iter().any(|f| matches!(f.shape, Shape::GroupMembers(_)));
            event_groups(self.store, &self.direct, &filter, &dims(by), members)
        } else {
            let by: Vec<FundingGroup> = self.arg(field, "groupBy")?;
            let filter = self.arg::<Option<FundingFilter>>(field, "filter")?;
            let filter = filter.unwrap_or_default().parse().map_err(|_| GiveUp::Unsure)?;
            funding_groups(self.store, &self.direct, &filter, &dims(by))
        }
        .map_err(|_| GiveUp::Unsure)?;
        self.array(&groups, |w, g| w.object(&field.sel, Obj::Group(g)))
    }

    /// `Query.nodes(ids:)`: entities of any type in the order asked, null
    /// for each id that matches none.
    fn nodes_by_id(&mut self, field: &Field) -> Run {
        let asked: Vec<ID> = self.arg(field, "ids")?;
        if asked.len() > MAX_NODE_IDS {
            return Err(GiveUp::Unsure);
        }
        let ids = asked
            .iter()
            .map(|id| Id::parse(id.as_str()).map_err(|_| GiveUp::Unsure))
            .collect::<Run<Vec<Id>>>()?;
        let found = self.direct.entities(&ids)?;
        self.array(&found, |w, node| match node {
            Some(node) => w.any_entity(field, node),
            None => w.null(),
        })
    }

    /// `Query._entities(representations:)`: the entity each representation
    /// names, null where there is none, all read at once. A representation
    /// async-graphql would refuse (not an object, an unknown type, no id,
    /// an id of another type) leaves the request to it.
    fn entities(&mut self, field: &Field) -> Run {
        let asked: Vec<async_graphql::Any> = self.arg(field, crate::graphql::federation::REPRESENTATIONS)?;
        let ids = asked
            .iter()
            .map(|r| crate::graphql::federation::represented(&r.0).ok_or(GiveUp::Unsure))
            .collect::<Run<Vec<Id>>>()?;
        let found = self.direct.entities(&ids)?;
        self.array(&found, |w, node| match node {
            Some(node) => w.any_entity(field, node),
            None => w.null(),
        })
    }

    /// `Actor.participations`: the actor's events with its role in each, in
    /// chronological order.
    fn participations(&mut self, sel: &[Field], relation: Relation, node: &Entity) -> Run {
        let targets = self.direct.link(&backward(relation, node))?;
        let ids: Vec<&Id> = targets.iter().map(|(id, _)| id).collect();
        let events = self.direct.entities(&ids)?;
        let mut found: Vec<(Vec<u8>, Entity, model::Role)> = Vec::new();
        for event in events.into_iter().flatten() {
            let Entity::Event(e) = &event else { continue };
            let role = targets
                .iter()
                .find(|(id, _)| *id == e.id)
                .and_then(|(_, payload)| role_from(payload))
                .unwrap_or(model::Role::Participant);
            found.push((event_sort_key(e), event.clone(), role));
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        self.array(&found, |w, (_, event, role)| {
            w.object(sel, Obj::Participation((event, *role)))
        })
    }

    /// Writes a page of a listing of `ty`, given its keys and ids.
    fn page(&mut self, field: &Field, ty: Ty, keyed: page::Page<&Keyed>, totals: Totals) -> Run {
        let ids: Vec<&Id> = keyed.items.iter().map(|(_, id)| id).collect();
        let nodes = self.direct.entities(&ids)?;
        let loaded: Vec<(&[u8], Entity)> = keyed
            .items
            .iter()
            .zip(nodes)
            .filter_map(|((key, _), node)| Some((key.as_slice(), node.filter(|n| ty.holds(n))?)))
            .collect();
        let page = Page {
            items: loaded.iter().map(|(key, node)| (*key, node)).collect(),
            has_prev: keyed.has_prev,
            has_next: keyed.has_next,
            total: totals.count,
            sums: totals.sums,
        };
        self.object(&field.sel, Obj::Page(&page))
    }

    /// An argument of `field` as async-graphql would hand it to the
    /// resolver: variables filled in, then parsed as the argument's type.
    fn arg<T: InputType>(&self, field: &Field, name: &str) -> Run<T> {
        let value = match field.args.iter().find(|(n, _)| n.as_str() == name) {
            None => None,
            Some((_, value)) => Some(value.clone().into_const_with(|var| self.variable(&var))?),
        };
        T::parse(value).map_err(|_| GiveUp::Unsure)
    }

    /// An `Int` argument with a default: the default when the field does
    /// not name it (a null, or a variable not given, is left to async-graphql).
    fn arg_or(&self, field: &Field, name: &str, default: i32) -> Run<i32> {
        match field.args.iter().any(|(n, _)| n.as_str() == name) {
            true => self.arg(field, name),
            false => Ok(default),
        }
    }

    fn variable(&self, name: &Name) -> Run<async_graphql::Value> {
        match self.variables.and_then(|v| v.get(name.as_str())) {
            Some(json) => Ok(async_graphql::Value::from_json(json.clone())?),
            None => Ok(self
                .defaults
                .iter()
                .find(|v| v.name == *name)
                .and_then(|v| v.default.clone())
                .unwrap_or(async_graphql::Value::Null)),
        }
    }

    /// A connection field's checked paging arguments: read once for
    /// arguments written in the document, every time for variables.
    fn window<'f>(&self, field: &'f Field) -> Run<Cow<'f, Window>> {
        if let Some(window) = field.window.get() {
            return Ok(Cow::Borrowed(window));
        }
        let window = if field.args.is_empty() {
            PageArgs::default().window(self.limits)
        } else {
            PageArgs {
                first: self.arg(field, "first")?,
                last: self.arg(field, "last")?,
                after: self.arg(field, "after")?,
                before: self.arg(field, "before")?,
            }
            .window(self.limits)
        }
        .map_err(|_| GiveUp::Unsure)?;
        if field.literal {
            return Ok(Cow::Borrowed(field.window.get_or_init(|| window)));
        }
        Ok(Cow::Owned(window))
    }

    fn filter(&self, field: &Field) -> Run<Option<listing::EventFilter>> {
        match self.arg::<Option<EventFilter>>(field, "filter")? {
            None => Ok(None),
            Some(filter) => filter.parse(self.store).map(Some).map_err(|_| GiveUp::Unsure),
        }
    }

    /// An entity under a field of the `Entity` interface, with the selection
    /// for its type.
    fn any_entity(&mut self, field: &Field, node: &Entity) -> Run {
        let (_, sel) = field
            .variants
            .iter()
            .find(|(ty, _)| ty.holds(node))
            .ok_or(GiveUp::Unsure)?;
        self.entity(sel, node)
    }

    fn one(&mut self, id: Option<&Id>, ty: Ty, sel: &[Field]) -> Run {
        let Some(id) = id else { return self.null() };
        if self.within == 0 {
            return match self.direct.entity(id)?.filter(|n| ty.holds(n)) {
                Some(node) => self.entity(sel, &node),
                None => self.null(),
            };
        }
        // Written before, so it exists and is of the type: copy it unread.
        let at = self.memo(sel);
        if let Some(&span) = self.written[at].1.by_id.get(id) {
            self.out.extend_from_within(span.0..span.1);
            return Ok(());
        }
        match self.direct.entity(id)?.filter(|n| ty.holds(n)) {
            Some(node) => {
                let span = self.write_entity(sel, &node)?;
                note(&mut self.written[at].1.by_id, ById(node), span);
                Ok(())
            }
            None => self.null(),
        }
    }

    /// Where the subtrees written under `sel` are kept (see [`Written`]).
    fn memo(&mut self, sel: &[Field]) -> usize {
        match self.written.iter().position(|(at, _)| *at == sel.as_ptr()) {
            Some(at) => at,
            None => {
                self.written.push((sel.as_ptr(), Written::default()));
                self.written.len() - 1
            }
        }
    }

    /// Writes an entity's subtree; returns where it lies.
    fn write_entity(&mut self, sel: &[Field], node: &Entity) -> Run<Span> {
        let start = self.out.len();
        self.within += 1;
        let written = self.object(sel, Obj::Entity(node));
        self.within -= 1;
        written?;
        Ok((start, self.out.len()))
    }

    /// An entity in hand. An entity under no other (the items of a root
    /// field) is seldom met twice: only those under another entity are kept
    /// for a copy. Those are, even with only scalars selected: copying a
    /// title object again costs about a third of writing it (`{`, the key,
    /// the field's dispatch, the string's escape check, `}`).
    fn entity(&mut self, sel: &[Field], node: &Entity) -> Run {
        if self.within == 0 {
            return self.write_entity(sel, node).map(drop);
        }
        let at = self.memo(sel);
        let key = address(node);
        if let Some((_, span)) = self.written[at].1.by_address.get(&key) {
            let span = *span;
            self.out.extend_from_within(span.0..span.1);
            return Ok(());
        }
        let span = self.write_entity(sel, node)?;
        note(&mut self.written[at].1.by_address, key, (node.clone(), span));
        Ok(())
    }

    fn list<'n>(&mut self, sel: &[Field], nodes: impl Iterator<Item = &'n Entity>) -> Run {
        self.out.push(b'[');
        for (i, node) in nodes.enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.entity(sel, node)?;
        }
        self.out.push(b']');
        Ok(())
    }

    fn array<T>(&mut self, items: &[T], mut write: impl FnMut(&mut Self, &T) -> Run) -> Run {
        self.out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write(self, item)?;
        }
        self.out.push(b']');
        Ok(())
    }

    fn leaf(&mut self, leaf: Leaf<'_>) -> Run {
        match leaf {
            Leaf::Str(s) | Leaf::OptStr(Some(s)) | Leaf::Enum(s) => self.string(s),
            Leaf::OptStr(None) | Leaf::Date(None) => self.null(),
            Leaf::Strs(items) => self.array(items, |w, s| w.string(s)),
            Leaf::Date(Some(date)) => self.date(&date),
            Leaf::Text(text) => self.string(&text),
            Leaf::Int(None) => self.null(),
            Leaf::Int(Some(n)) => {
                write!(self.out, "{n}")?;
                Ok(())
            }
            Leaf::Bool(b) => {
                self.out.extend_from_slice(if b { b"true" } else { b"false" });
                Ok(())
            }
            Leaf::Dates(dates) => self.array(dates, |w, d| w.date(d)),
        }
    }

    fn cursor(&mut self, key: Option<&[u8]>) -> Run {
        match key {
            Some(key) => {
                self.out.push(b'"');
                crate::read::cursor::encode_into(key, &mut self.out);
                self.out.push(b'"');
                Ok(())
            }
            None => self.null(),
        }
    }

    fn string(&mut self, s: &str) -> Run {
        json_string(&mut self.out, s)
    }

    /// A date as a JSON string: its text is digits, `-` and `/`, which JSON
    /// never escapes.
    fn date(&mut self, date: &PartialDate) -> Run {
        self.out.push(b'"');
        date.write_text(&mut self.out);
        self.out.push(b'"');
        Ok(())
    }

    fn null(&mut self) -> Run {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
}

/// Writes a JSON string, escaped as serde_json escapes it (quotes,
/// backslashes and control characters; nothing else), so that answers match
/// async-graphql's byte for byte.
fn json_string(out: &mut Vec<u8>, s: &str) -> Run {
    if !needs_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return Ok(());
    }
    serde_json::to_writer(out, s)?;
    Ok(())
}

/// Whether a string holds a byte JSON escapes: a quote, a backslash or a
/// control character. Sixteen bytes at a time (the compiler makes each a
/// few vector instructions; stopping after each keeps it from mixing bytes
/// of different words); most strings need no escape at all.
fn needs_escape(bytes: &[u8]) -> bool {
    fn special(b: u8) -> bool {
        (b < 0x20) | (b == b'"') | (b == b'\\')
    }
    fn any<const N: usize>(word: &[u8; N]) -> bool {
        word.iter().fold(false, |dirty, &b| dirty | special(b))
    }
    // The last word overlaps the others when the length is not a multiple.
    if let Some(last) = bytes.last_chunk::<16>() {
        let (words, _) = bytes.as_chunks::<16>();
        return words.iter().any(any) || any(last);
    }
    if let (Some(first), Some(last)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
        return any(first) | any(last);
    }
    // Short enum values and names ("PERSON", "Kokoity") come this way often.
    if let (Some(first), Some(last)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        return any(first) | any(last);
    }
    bytes.iter().any(|&b| special(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_escape_is_found_wherever_it_lies() {
        for len in 0..50 {
            let plain = "é".repeat(len / 2) + &"a".repeat(len % 2);
            assert!(!needs_escape(plain.as_bytes()), "{plain:?}");
            for at in 0..len {
                for special in [b'"', b'\\', 0, 0x1f] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = special;
                    assert!(needs_escape(&bytes), "{special} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for s in [
            "",
            "plain",
            "Russia–South Ossetia «relations»",
            "a \"quote\" and a \\ backslash",
            "tab\tnew line\ncarriage\r",
            "\u{0}\u{1f}\u{7f}\u{80}",
            "emoji 🇷🇺 and </script>",
            "a longer title with no escape at all, but more than eight bytes",
            "eight by\"tes then a quote",
            "sixteen bytes ok\\",
            "\u{1f}eight by",
            "seven b\u{7f}\u{80}\u{ff}",
            "Ünïcödé ÿ \u{2028} \u{a0} ok",
        ] {
            let mut out = Vec::new();
            assert!(json_string(&mut out, s).is_ok());
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap(),
                "{s:?}"
            );
            assert_eq!(
                needs_escape(s.as_bytes()),
                serde_json::to_string(s).unwrap().len() != s.len() + 2,
                "{s:?}"
            );
        }
    }
}
