//! The root listings and what narrows them: filters, search and the
//! timeline. Filters arrive parsed (ids and dates checked, naming the
//! argument at fault); each listing reads the store's ordered indexes and
//! hands back listing keys and ids, for paging.

use std::collections::HashSet;

use std::sync::Arc;

use super::cache::{Direct, Entity, Link, SortedEvents};
use super::interval::{of_precision, DateWindow};
use super::page::{page_sorted, page_with, window_bounds, Page, Window};
use super::ReadError;
use crate::model::{self, ActorKind, EntityKind, EventKind, Id, PartialDate, Precision, Relation, TreatyKind};
use crate::store::{self, Direction, Keyed, PeriodScan, Store};

/// Most events `timeline` returns.
pub const MAX_TIMELINE: i32 = 1000;

/// Parses an id argument of the given kind (a full id or a bare slug).
pub fn id_arg(name: &str, kind: EntityKind, value: &str) -> Result<Id, ReadError> {
    Id::parse_as(kind, value).map_err(|e| ReadError::argument(name, e))
}

/// Parses an optional date argument: `2008`, `2008-08` or `2008-08-26`.
pub fn date_arg(name: &str, value: Option<&str>) -> Result<Option<PartialDate>, ReadError> {
    value
        .map(|v| PartialDate::parse(v).map_err(|e| ReadError::argument(name, e)))
        .transpose()
}

/// Keeps in `set` only what is also in `other` (or takes `other` if `set` is unconstrained).
pub fn narrow(set: &mut Option<HashSet<Id>>, other: impl IntoIterator<Item = Id>) {
    let other: HashSet<Id> = other.into_iter().collect();
    *set = Some(match set.take() {
        None => other,
        Some(current) => current.intersection(&other).cloned().collect(),
    });
}

/// The chronological listing key of an event held in memory.
pub fn event_sort_key(event: &model::Event) -> Vec<u8> {
    store::event_list_key(event.date.as_ref(), &event.id)
}

/// The entities holding `relation` to `to`.
fn related_ids(store: &Store, relation: Relation, to: &Id) -> Result<Vec<Id>, ReadError> {
    let mut map = store.related(relation, Direction::Backward, std::slice::from_ref(to))?;
    Ok(map
        .remove(to)
        .unwrap_or_default()
        .into_iter()
        .map(|(id, _)| id)
        .collect())
}

/// Narrows a list of actors. All given conditions must hold.
#[derive(Clone, Default)]
pub struct ActorFilter {
    /// Words the name or an alias contains (a word may be the start of a longer one).
    pub name: Option<String>,
    pub kind: Option<ActorKind>,
}

/// Narrows a list of events, its arguments parsed. All given conditions must hold.
#[derive(Clone, Default)]
pub struct EventFilter {
    /// The event's period overlaps this date or later (lies wholly on or after it, with `whole`).
    pub from: Option<PartialDate>,
    /// The event's period overlaps this date or earlier (lies wholly on or before it, with `whole`).
    pub to: Option<PartialDate>,
    /// `from` and `to` ask for the whole period, not just a day of it.
    pub whole: bool,
    /// Only dated events (`true`) or only undated ones (`false`).
    pub dated: Option<bool>,
    /// Only events dated with one of these precisions.
    pub precision: Option<Vec<Precision>>,
    pub kind: Option<EventKind>,
    /// An actor that took part.
    pub actor: Option<Id>,
    /// Where it happened: the place asked for and every place within it.
    pub places: Option<HashSet<Id>>,
}

/// Narrows a list of treaties. All given conditions must hold.
#[derive(Clone, Default)]
pub struct TreatyFilter {
    /// An actor party to it.
    pub party: Option<Id>,
    pub kind: Option<TreatyKind>,
    /// The window the signing date is tested against.
    pub signed: DateWindow,
    /// Only signed (`true`) or only unsigned, undated (`false`) treaties.
    pub dated: Option<bool>,
    /// Only treaties whose signing date has one of these precisions.
    pub precision: Option<Vec<Precision>>,
}

/// Narrows a list of funding allocations. All given conditions must hold.
#[derive(Clone, Default)]
pub struct FundingFilter {
    pub donor: Option<Id>,
    pub recipient: Option<Id>,
    /// The window the allocation's date is tested against.
    pub window: DateWindow,
    /// Only dated (`true`) or only undated (`false`) allocations.
    pub dated: Option<bool>,
    /// Only allocations dated with one of these precisions.
    pub precision: Option<Vec<Precision>>,
}

impl EventFilter {
    /// Whether an event held in memory passes the filter.
    pub fn matches(&self, e: &model::Event) -> bool {
        let (from, to) = (self.from.as_ref(), self.to.as_ref());
        let in_period = from.is_none() && to.is_none()
            || e.date.is_some_and(|d| match self.whole {
                true => d.lies_within(from, to),
                false => d.overlaps(from, to),
            });
        in_period
            && self.dated.is_none_or(|dated| e.date.is_some() == dated)
            && of_precision(self.precision.as_deref(), e.date.as_ref())
            && self.kind.is_none_or(|k| e.kind == k)
            && self
                .actor
                .as_ref()
                .is_none_or(|a| e.participants.iter().any(|p| &p.actor == a))
            && self
                .places
                .as_ref()
                .is_none_or(|places| e.place.as_ref().is_some_and(|p| places.contains(p)))
    }

    /// The scan of the chronological index that selects the filter's
    /// period, datedness and kind.
    fn scan(&self) -> PeriodScan<'_> {
        PeriodScan {
            from: self.from.as_ref(),
            to: self.to.as_ref(),
            whole: self.whole,
            dated: self.dated == Some(true),
            undated: self.dated == Some(false),
            subkind: self.kind.map(|k| k.as_str()),
            ..PeriodScan::default()
        }
    }
}

/// Most places a place filter or `Place.events` gathers: the place itself
/// and every place within it, at any depth.
pub const MAX_PLACES_WITHIN: usize = 10_000;

/// `place` and every place within it, at any depth, breadth first;
/// `contains` reads the places directly within one. The model refuses
/// `within` cycles, but the walk keeps what it has seen and stops past
/// [`MAX_PLACES_WITHIN`] all the same, naming the argument `arg`.
pub fn places_within(
    arg: &str,
    place: &Id,
    mut contains: impl FnMut(&Id) -> Result<Vec<Id>, store::StoreError>,
) -> Result<Vec<Id>, ReadError> {
    let mut seen: HashSet<Id> = HashSet::from([place.clone()]);
    let mut found = vec![place.clone()];
    let mut next = 0;
    while let Some(current) = found.get(next).cloned() {
        next += 1;
        for inner in contains(&current)? {
            if seen.insert(inner.clone()) {
                if found.len() >= MAX_PLACES_WITHIN {
                    return Err(ReadError::argument(
                        arg,
                        format!("more than {MAX_PLACES_WITHIN} places lie within `{place}`"),
                    ));
                }
                found.push(inner);
            }
        }
    }
    Ok(found)
}

/// The events at `place` in chronological order, with their listing keys,
/// and with `within` the events at every place within it too.
pub fn place_events(direct: &Direct<'_>, place: &Entity, within: bool) -> Result<SortedEvents, ReadError> {
    let at = |id: &Id| Link {
        relation: Relation::EventPlace,
        direction: Direction::Backward,
        from: id.clone(),
    };
    if !within {
        return Ok(direct.sorted_events(&at(place.id()))?);
    }
    let places = places_within("includeWithin", place.id(), |p| {
        let inner = direct.link(&Link {
            relation: Relation::PlaceWithin,
            direction: Direction::Backward,
            from: p.clone(),
        })?;
        Ok(inner.iter().map(|(id, _)| id.clone()).collect())
    })?;
    if places.len() == 1 {
        return Ok(direct.sorted_events(&at(place.id()))?);
    }
    let mut events = Vec::new();
    for p in &places {
        events.extend(direct.sorted_events(&at(p))?.iter().cloned());
    }
    // An event has one place, so the lists do not overlap.
    events.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Arc::new(events))
}

/// A page of the events matching `filter`, in listing order, and how many
/// match in all (0 unless `count` is set: counting reads every match).
pub fn event_listing(
    store: &Store,
    filter: &EventFilter,
    window: &Window,
    count: bool,
) -> Result<(Page, usize), ReadError> {
    let scan = filter.scan();
    if let Some(precisions) = &filter.precision {
        // The date indexes do not hold a date's precision: read the period's
        // events and keep those of the precisions asked for.
        let mut keyed = match filter.actor.is_none() && filter.places.is_none() {
            true => store.page_period(EntityKind::Event, &scan, usize::MAX)?,
            false => {
                let unfiltered = EventFilter {
                    precision: None,
                    ..filter.clone()
                };
                let (page, _) = event_listing(store, &unfiltered, &Window::everything(), false)?;
                page.items
            }
        };
        keyed = of_precisions(store, keyed, precisions)?;
        let total_count = keyed.len();
        return Ok((page_sorted(keyed, window), total_count));
    }
    if filter.actor.is_none() && filter.places.is_none() {
        // Period and kind are ranges of ordered indexes: read just the page.
        let page = page_with(window, |after, before, limit, from_end| {
            let scan = PeriodScan {
                after,
                before,
                from_end,
                ..scan
            };
            store.page_period(EntityKind::Event, &scan, limit)
        })?;
        let total_count = match (count, scan.is_everything()) {
            (false, _) => 0,
            (true, true) => store.count(EntityKind::Event)? as usize,
            (true, false) => store.count_period(EntityKind::Event, &scan)?,
        };
        return Ok((page, total_count));
    }
    // An actor's or a place's events are few: take them, then keep those
    // in the period and of the kind.
    let mut set: Option<HashSet<Id>> = None;
    if let Some(actor) = &filter.actor {
        narrow(&mut set, related_ids(store, Relation::EventParticipant, actor)?);
    }
    if let Some(places) = &filter.places {
        let mut there = Vec::new();
        for place in places {
            there.extend(related_ids(store, Relation::EventPlace, place)?);
        }
        narrow(&mut set, there);
    }
    let ids: Vec<Id> = set.unwrap_or_default().into_iter().collect();
    let mut keyed = store.list_keys(&ids)?;
    keyed.retain(|(key, _)| scan.admits(key));
    if let Some(kind) = scan.subkind {
        let mut kept = Vec::with_capacity(keyed.len());
        for (key, id) in keyed {
            if store.event_is_of_kind(kind, &key)? {
                kept.push((key, id));
            }
        }
        keyed = kept;
    }
    let total_count = keyed.len();
    Ok((page_sorted(keyed, window), total_count))
}

/// The entries of `keyed` whose entity's date has one of `precisions`.
fn of_precisions(store: &Store, keyed: Vec<Keyed>, precisions: &[Precision]) -> Result<Vec<Keyed>, ReadError> {
    let mut kept = Vec::with_capacity(keyed.len());
    for (key, id) in keyed {
        if of_precision(Some(precisions), store.get(&id)?.as_ref().and_then(model::Entity::date)) {
            kept.push((key, id));
        }
    }
    Ok(kept)
}

/// The page `window` selects among `events` (sorted, with their listing
/// keys) that pass `filter`, and how many pass in all.
pub fn window_among<'e>(
    events: &'e [(Vec<u8>, Entity)],
    filter: Option<&EventFilter>,
    window: &Window,
) -> (Page<(&'e [u8], &'e Entity)>, usize) {
    let pairs = |items: &'e [(Vec<u8>, Entity)]| items.iter().map(|(key, node)| (key.as_slice(), node));
    let Some(filter) = filter else {
        // Unfiltered, the page is a slice of the list: no copy of the rest.
        let (start, end) = window_bounds(events, |(k, _)| k.as_slice(), window);
        let page = Page {
            items: pairs(&events[start..end]).collect(),
            has_prev: start > 0,
            has_next: end < events.len(),
        };
        return (page, events.len());
    };
    let all: Vec<(&[u8], &Entity)> = pairs(events)
        .filter(|(_, node)| matches!(node, Entity::Event(e) if filter.matches(e)))
        .collect();
    let (start, end) = window_bounds(&all, |(k, _)| k, window);
    let page = Page {
        items: all[start..end].to_vec(),
        has_prev: start > 0,
        has_next: end < all.len(),
    };
    (page, all.len())
}

/// The arguments of `timeline`, parsed.
pub struct TimelineArgs {
    pub from: Option<PartialDate>,
    pub to: Option<PartialDate>,
    pub actor: Option<Id>,
    pub first: Option<i32>,
    /// Place undated events by their `after` hints (see [`place_undated`]).
    pub include_undated: bool,
}

impl TimelineArgs {
    /// The arguments as the client sent them, checked.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        actor: Option<&str>,
        first: Option<i32>,
        include_undated: bool,
    ) -> Result<TimelineArgs, ReadError> {
        Ok(TimelineArgs {
            from: date_arg("from", from)?,
            to: date_arg("to", to)?,
            actor: actor.map(|a| id_arg("actor", EntityKind::Actor, a)).transpose()?,
            first,
            include_undated,
        })
    }
}

/// The ids of the events `timeline` answers with, in order.
pub fn timeline_ids(store: &Store, args: TimelineArgs) -> Result<Vec<Id>, ReadError> {
    let first = args.first.unwrap_or(200);
    if !(0..=MAX_TIMELINE).contains(&first) {
        return Err(ReadError::argument(
            "first",
            format!("must be between 0 and {MAX_TIMELINE}, got {first}"),
        ));
    }
    let scan = PeriodScan {
        from: args.from.as_ref(),
        to: args.to.as_ref(),
        dated: true,
        ..PeriodScan::default()
    };
    let mut keyed = match &args.actor {
        None => store.page_period(EntityKind::Event, &scan, first as usize)?,
        Some(actor) => {
            let theirs = related_ids(store, Relation::EventParticipant, actor)?;
            let mut keyed = store.list_keys(&theirs)?;
            keyed.retain(|(key, _)| scan.admits(key));
            keyed
        }
    };
    keyed.truncate(first as usize);
    if !args.include_undated {
        return Ok(keyed.into_iter().map(|(_, id)| id).collect());
    }
    let mut placed = place_undated(store, keyed, &scan, args.actor.as_ref())?;
    placed.truncate(first as usize);
    Ok(placed)
}

/// How far `place_undated` follows hints from one event.
const MAX_HINT_DEPTH: usize = 32;

/// Where an undated event goes among dated ones.
enum Anchor {
    /// Right after this dated event (the latest it follows), `depth` hints away.
    After(model::Event, usize),
    /// Right before this dated event (the earliest that follows it), `depth` hints away.
    Before(model::Event, usize),
}

/// `dated` (a timeline's dated events with their listing keys, in order)
/// with the undated events their hints place among them: an undated event
/// goes right after the latest dated event it follows through `after`
/// hints (through other undated events, nearest first), or, when it
/// follows none, right before the earliest dated event that follows it
/// (farthest first). That dated event (its anchor) must lie in the
/// timeline's period (`scan`), though not in its answer: an actor's
/// undated statement answering an event the actor took no part in goes
/// where that event would be. Without `actor`, the undated events are
/// found from the answer's hints, so the work grows with the answer, not
/// with the store; with it, they are the actor's undated events.
/// Undated events whose hints reach no dated event stay out.
fn place_undated(
    store: &Store,
    dated: Vec<Keyed>,
    scan: &PeriodScan<'_>,
    actor: Option<&Id>,
) -> Result<Vec<Id>, ReadError> {
    let mut events: std::collections::HashMap<Id, Option<model::Event>> = std::collections::HashMap::new();
    let mut load = |id: &Id| -> Result<Option<model::Event>, ReadError> {
        if let Some(e) = events.get(id) {
            return Ok(e.clone());
        }
        let e = match store.get(id)? {
            Some(model::Entity::Event(e)) => Some(e),
            _ => None,
        };
        events.insert(id.clone(), e.clone());
        Ok(e)
    };
    let mut candidates: Vec<model::Event> = Vec::new();
    match actor {
        Some(actor) => {
            for id in related_ids(store, Relation::EventParticipant, actor)? {
                if let Some(e) = load(&id)?.filter(|e| e.date.is_none()) {
                    candidates.push(e);
                }
            }
        }
        None => {
            // Undated events within reach of the answer's hints, either way.
            let mut seen: HashSet<Id> = HashSet::new();
            for (_, id) in &dated {
                let mut frontier = vec![id.clone()];
                for _ in 0..MAX_HINT_DEPTH {
                    let mut next = Vec::new();
                    for at in &frontier {
                        let mut near = related_ids(store, Relation::EventAfter, at)?;
                        if let Some(e) = load(at)? {
                            near.extend(e.after);
                        }
                        for other in near {
                            if let Some(e) = load(&other)?.filter(|e| e.date.is_none()) {
                                if seen.insert(other.clone()) {
                                    candidates.push(e);
                                    next.push(other);
                                }
                            }
                        }
                    }
                    if next.is_empty() {
                        break;
                    }
                    frontier = next;
                }
            }
        }
    }
    // Every entry ordered by (listing key of its anchor or of itself, side,
    // order among those on the same side, id).
    let mut entries: Vec<(Vec<u8>, i8, i64, Id)> = dated.into_iter().map(|(key, id)| (key, 0, 0, id)).collect();
    let mut unplaced = Vec::new();
    for event in candidates {
        let (anchor, side, order) = match anchor_of(store, &event, &mut load)? {
            Some(Anchor::After(anchor, depth)) => (anchor, 1, depth as i64),
            Some(Anchor::Before(anchor, depth)) => (anchor, -1, -(depth as i64)),
            None => {
                unplaced.push(event);
                continue;
            }
        };
        let key = event_sort_key(&anchor);
        if scan.admits(&key) {
            entries.push((key, side, order, event.id));
        }
    }
    // An undated event that follows only undated ones goes right after the
    // one of them that was placed (a retraction after a remark placed by
    // what follows the remark).
    for _ in 0..MAX_HINT_DEPTH {
        let before = unplaced.len();
        unplaced.retain(|event| {
            let followed = entries
                .iter()
                .filter(|(_, side, _, id)| *side != 0 && event.after.contains(id))
                .max()
                .cloned();
            match followed {
                Some((key, side, order, _)) => {
                    entries.push((key, side, order + 1, event.id.clone()));
                    false
                }
                None => true,
            }
        });
        if unplaced.len() == before {
            break;
        }
    }
    entries.sort();
    Ok(entries.into_iter().map(|(_, _, _, id)| id).collect())
}

/// Where the hints of the undated `event` place it (see [`place_undated`]).
fn anchor_of(
    store: &Store,
    event: &model::Event,
    load: &mut impl FnMut(&Id) -> Result<Option<model::Event>, ReadError>,
) -> Result<Option<Anchor>, ReadError> {
    let mut seen: HashSet<Id> = HashSet::new();
    // The latest dated event it follows, through undated ones.
    let followed = dated_reach(event.after.clone(), &mut seen, load, |_, e| Ok(e.after.clone()), true)?;
    if let Some((anchor, depth)) = followed {
        return Ok(Some(Anchor::After(anchor, depth)));
    }
    // Else the earliest dated event that follows it, through undated ones.
    let followers = related_ids(store, Relation::EventAfter, &event.id)?;
    let following = dated_reach(
        followers,
        &mut seen,
        load,
        |id, _| related_ids(store, Relation::EventAfter, id),
        false,
    )?;
    Ok(following.map(|(anchor, depth)| Anchor::Before(anchor, depth)))
}

/// The latest (or, unless `latest`, the earliest) dated event reached from
/// `start` by hints, going on from undated events only (`beyond` gives the
/// next ones), with how many hints away it is.
fn dated_reach(
    start: Vec<Id>,
    seen: &mut HashSet<Id>,
    load: &mut impl FnMut(&Id) -> Result<Option<model::Event>, ReadError>,
    mut beyond: impl FnMut(&Id, &model::Event) -> Result<Vec<Id>, ReadError>,
    latest: bool,
) -> Result<Option<(model::Event, usize)>, ReadError> {
    let mut best: Option<(Vec<u8>, model::Event, usize)> = None;
    let mut frontier = start;
    for depth in 1..=MAX_HINT_DEPTH {
        let mut next = Vec::new();
        for id in frontier {
            if !seen.insert(id.clone()) {
                continue;
            }
            let Some(e) = load(&id)? else { continue };
            if e.date.is_none() {
                next.extend(beyond(&id, &e)?);
                continue;
            }
            let key = event_sort_key(&e);
            if best.as_ref().is_none_or(|(k, _, _)| (key > *k) == latest) {
                best = Some((key, e, depth));
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    Ok(best.map(|(_, e, depth)| (e, depth)))
}

/// The actors `filter` leaves, or `None` when it leaves them all.
pub fn actor_set(store: &Store, filter: &ActorFilter) -> Result<Option<HashSet<Id>>, ReadError> {
    let mut set: Option<HashSet<Id>> = None;
    if let Some(name) = &filter.name {
        if name.trim().is_empty() {
            return Err(ReadError::argument("filter.name", "must not be empty"));
        }
        let hits = store.search(name, 3)?;
        narrow(
            &mut set,
            hits.into_iter()
                .map(|(id, _)| id)
                .filter(|id| id.kind() == EntityKind::Actor),
        );
    }
    if let Some(kind) = filter.kind {
        narrow(&mut set, store.ids_of_subkind(EntityKind::Actor, kind.as_str())?);
    }
    Ok(set)
}

/// Narrows `set` to the `kind` entities whose date passes `window`, is
/// there or not as `dated` asks, and has one of `precisions`, when any is given.
fn narrow_to_period(
    set: &mut Option<HashSet<Id>>,
    store: &Store,
    kind: EntityKind,
    window: &DateWindow,
    dated: Option<bool>,
    precisions: Option<&[Precision]>,
) -> Result<(), ReadError> {
    if !window.is_set() && dated.is_none() && precisions.is_none() {
        return Ok(());
    }
    let scan = PeriodScan {
        from: window.from.as_ref(),
        to: window.to.as_ref(),
        whole: window.whole,
        dated: dated == Some(true) || precisions.is_some(),
        undated: dated == Some(false),
        ..PeriodScan::default()
    };
    let mut keyed = store.page_period(kind, &scan, usize::MAX)?;
    if let Some(precisions) = precisions {
        keyed = of_precisions(store, keyed, precisions)?;
    }
    narrow(set, keyed.into_iter().map(|(_, id)| id));
    Ok(())
}

/// The treaties `filter` leaves, or `None` when it leaves them all.
pub fn treaty_set(store: &Store, filter: &TreatyFilter) -> Result<Option<HashSet<Id>>, ReadError> {
    let mut set: Option<HashSet<Id>> = None;
    narrow_to_period(
        &mut set,
        store,
        EntityKind::Treaty,
        &filter.signed,
        filter.dated,
        filter.precision.as_deref(),
    )?;
    if let Some(kind) = filter.kind {
        narrow(&mut set, store.ids_of_subkind(EntityKind::Treaty, kind.as_str())?);
    }
    if let Some(party) = &filter.party {
        narrow(&mut set, related_ids(store, Relation::TreatyParty, party)?);
    }
    Ok(set)
}

/// The funding allocations `filter` leaves, in listing order.
pub fn funding_keyed(store: &Store, filter: &FundingFilter) -> Result<Vec<Keyed>, ReadError> {
    let mut set: Option<HashSet<Id>> = None;
    narrow_to_period(
        &mut set,
        store,
        EntityKind::Funding,
        &filter.window,
        filter.dated,
        filter.precision.as_deref(),
    )?;
    if let Some(donor) = &filter.donor {
        narrow(&mut set, related_ids(store, Relation::FundingDonor, donor)?);
    }
    if let Some(recipient) = &filter.recipient {
        narrow(&mut set, related_ids(store, Relation::FundingRecipient, recipient)?);
    }
    Ok(match set {
        Some(set) => store.list_keys(&set.into_iter().collect::<Vec<_>>())?,
        None => store.list(EntityKind::Funding, None, None, usize::MAX, false)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(n: usize) -> Id {
        Id::parse(&format!("place/p{n}")).unwrap()
    }

    #[test]
    fn the_walk_within_a_place_ends_on_a_cycle_and_keeps_each_place_once() {
        // p0 holds p1 and p2, p2 holds p0 again: a loop the model refuses,
        // which the walk must survive all the same.
        let found = places_within("filter.place", &place(0), |p| {
            Ok(match p.as_str() {
                "place/p0" => vec![place(1), place(2)],
                "place/p2" => vec![place(0), place(1)],
                _ => vec![],
            })
        })
        .unwrap();
        assert_eq!(found, vec![place(0), place(1), place(2)]);
    }

    #[test]
    fn the_walk_within_a_place_stops_past_its_bound_naming_the_argument() {
        // Each place holds the next one, without end.
        let walked = places_within("includeWithin", &place(0), |p| {
            let n: usize = p.as_str().trim_start_matches("place/p").parse().unwrap();
            Ok(vec![place(n + 1)])
        });
        match walked {
            Err(ReadError::Argument { name, message }) => {
                assert_eq!(name, "includeWithin");
                assert!(message.contains(&MAX_PLACES_WITHIN.to_string()), "{message}");
            }
            other => panic!("expected the bound to stop the walk, got {:?}", other.map(|v| v.len())),
        }
        // Exactly the bound is still answered.
        let found = places_within("filter.place", &place(0), |p| {
            let n: usize = p.as_str().trim_start_matches("place/p").parse().unwrap();
            Ok(if n + 1 < MAX_PLACES_WITHIN {
                vec![place(n + 1)]
            } else {
                vec![]
            })
        })
        .unwrap();
        assert_eq!(found.len(), MAX_PLACES_WITHIN);
    }
}
