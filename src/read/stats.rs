//! Group-by aggregations and co-participants: what `eventStats`,
//! `fundingStats` and `Actor.coParticipants` mean, apart from GraphQL.
//!
//! A grouping reads the members a filter selects (through the same
//! listings the root connections use), puts each member in the group of
//! every key it has (an event with several participants has one key per
//! participant when grouped by actor or role), and orders the groups by
//! their keys, dimension by dimension in the order asked, a missing value
//! (an undated member, an event without a place) after every present one.
//! Dates are never guessed: a member whose date does not name one year (or
//! one month) has no year (or month) in its key.

use std::cmp::Ordering;
use std::collections::HashMap;

use super::cache::{Direct, Entity};
use super::listing::{event_listing, funding_keyed, EventFilter, FundingFilter};
use super::page::{Limits, PageArgs};
use super::table::{backward, sum_amounts, Sum};
use super::ReadError;
use crate::model::{self, civil_from_days, EventKind, Id, PartialDate, Relation, Role};
use crate::store::Store;

/// Most members a grouping reads: past it the filter must narrow them.
/// Each member held costs its listing key (about 40 bytes) and a shared
/// record handle, so a grouping holds a few megabytes at most.
pub const MAX_MEMBERS: usize = 100_000;
/// Most memberships in all (a member counts once in each group it joins).
pub const MAX_MEMBERSHIPS: usize = 400_000;
/// Most groups one grouping answers with.
pub const MAX_GROUPS: usize = 10_000;
/// Co-participants returned when `first` is not given, and the most.
pub const DEFAULT_CO_PARTICIPANTS: i32 = 10;
pub const MAX_CO_PARTICIPANTS: i32 = 100;

/// A dimension members are grouped by: the union of the dimensions of
/// `eventStats` ([`EVENT_DIMS`]) and `fundingStats` ([`FUNDING_DIMS`]),
/// described in the schema. `Year` reads an event's or an allocation's date.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dim {
    Kind,
    Year,
    Month,
    Actor,
    Role,
    Place,
    Donor,
    Recipient,
    Basis,
    AuthorizedBy,
    Currency,
}

/// The key of a group: the value of each dimension grouped by; `None` for
/// a dimension not grouped by, or for a member without a value in it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct GroupKey {
    pub kind: Option<EventKind>,
    pub year: Option<i32>,
    /// A month-precision date, such as `2008-08`.
    pub month: Option<PartialDate>,
    pub actor: Option<Id>,
    pub role: Option<Role>,
    pub place: Option<Id>,
    pub donor: Option<Id>,
    pub recipient: Option<Id>,
    pub basis: Option<Id>,
    pub authorized_by: Option<Id>,
    pub currency: Option<String>,
}

/// One group: its key, its members in listing order (with their listing
/// keys, for paging; empty when the grouping was asked without them) and,
/// for funding, the sum of its amounts per currency.
pub struct Group {
    pub key: GroupKey,
    pub members: Vec<(Vec<u8>, Entity)>,
    pub sums: Vec<Sum>,
    /// How many members the group has (whether or not they were loaded).
    count: usize,
}

impl Group {
    /// How many members the group has.
    pub fn count(&self) -> usize {
        self.count
    }
}

/// An actor sharing events with another, and the events they share, in
/// chronological order.
pub struct CoParticipant {
    pub actor: Id,
    pub events: Vec<Entity>,
}

/// The dimensions `eventStats` takes.
pub const EVENT_DIMS: [Dim; 6] = [Dim::Kind, Dim::Year, Dim::Month, Dim::Actor, Dim::Role, Dim::Place];
/// The dimensions `fundingStats` takes.
pub const FUNDING_DIMS: [Dim; 6] = [
    Dim::Donor,
    Dim::Recipient,
    Dim::Year,
    Dim::Basis,
    Dim::AuthorizedBy,
    Dim::Currency,
];

/// Checks a `groupBy` list: at least one dimension, each once, each one
/// the field takes.
fn check_dims(by: &[Dim], allowed: &[Dim]) -> Result<(), ReadError> {
    if by.is_empty() {
        return Err(ReadError::argument(
            "groupBy",
            "name at least one dimension to group by",
        ));
    }
    for (i, dim) in by.iter().enumerate() {
        if !allowed.contains(dim) {
            return Err(ReadError::argument("groupBy", format!("{dim:?} does not apply here")));
        }
        if by[..i].contains(dim) {
            return Err(ReadError::argument("groupBy", format!("{dim:?} is listed twice")));
        }
    }
    Ok(())
}

/// The one year a date lies in; `None` when undated or spanning years.
fn year_of(date: Option<&PartialDate>) -> Option<i32> {
    let date = date?;
    let end = date.end().unwrap_or(date.start());
    (date.start().year == end.year).then_some(date.start().year)
}

/// The one month a date lies in; `None` when undated, dated only to a
/// year, or spanning months.
fn month_of(date: Option<&PartialDate>) -> Option<PartialDate> {
    let date = date?;
    let (start, end) = (date.start(), date.end().unwrap_or(date.start()));
    let month = start.month?;
    if end.year != start.year || end.month != Some(month) {
        return None;
    }
    PartialDate::parse(&format!("{:04}-{month:02}", start.year)).ok()
}

/// The keys of an event: one, or one per participant (actor and role as
/// grouped) when grouped by actor or role; an event without participants
/// has none for them.
fn event_keys(e: &model::Event, by: &[Dim]) -> Vec<GroupKey> {
    let mut base = GroupKey::default();
    for dim in by {
        match dim {
            Dim::Kind => base.kind = Some(e.kind),
            Dim::Year => base.year = year_of(e.date.as_ref()),
            Dim::Month => base.month = month_of(e.date.as_ref()),
            Dim::Place => base.place = e.place.clone(),
            _ => {}
        }
    }
    let (by_actor, by_role) = (by.contains(&Dim::Actor), by.contains(&Dim::Role));
    if !by_actor && !by_role {
        return vec![base];
    }
    let mut keys: Vec<GroupKey> = Vec::new();
    for p in &e.participants {
        let mut key = base.clone();
        if by_actor {
            key.actor = Some(p.actor.clone());
        }
        if by_role {
            key.role = Some(p.role);
        }
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    if keys.is_empty() {
        keys.push(base);
    }
    keys
}

fn funding_key(f: &model::FundingAllocation, by: &[Dim]) -> GroupKey {
    let mut key = GroupKey::default();
    for dim in by {
        match dim {
            Dim::Donor => key.donor = Some(f.donor.clone()),
            Dim::Recipient => key.recipient = Some(f.recipient.clone()),
            Dim::Year => key.year = year_of(f.date.as_ref()),
            Dim::Basis => key.basis = f.basis.clone(),
            Dim::AuthorizedBy => key.authorized_by = f.authorized_by.clone(),
            Dim::Currency => key.currency = Some(f.amount.currency.to_string()),
            _ => {}
        }
    }
    key
}

/// A key's value in one dimension, as it sorts.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Sorted<'a> {
    Number(i64),
    Text(&'a str),
}

fn sorted(key: &GroupKey, dim: Dim) -> Option<Sorted<'_>> {
    let position = |n: Option<usize>| n.map(|n| Sorted::Number(n as i64));
    match dim {
        Dim::Kind => position(key.kind.and_then(|k| EventKind::ALL.iter().position(|x| *x == k))),
        Dim::Role => position(key.role.and_then(|r| Role::ALL.iter().position(|x| *x == r))),
        Dim::Year => key.year.map(|y| Sorted::Number(i64::from(y))),
        Dim::Month => key.month.map(|m| Sorted::Number(i64::from(m.first_day()))),
        Dim::Actor => key.actor.as_ref().map(|id| Sorted::Text(id.as_str())),
        Dim::Place => key.place.as_ref().map(|id| Sorted::Text(id.as_str())),
        Dim::Donor => key.donor.as_ref().map(|id| Sorted::Text(id.as_str())),
        Dim::Recipient => key.recipient.as_ref().map(|id| Sorted::Text(id.as_str())),
        Dim::Basis => key.basis.as_ref().map(|id| Sorted::Text(id.as_str())),
        Dim::AuthorizedBy => key.authorized_by.as_ref().map(|id| Sorted::Text(id.as_str())),
        Dim::Currency => key.currency.as_deref().map(Sorted::Text),
    }
}

/// Orders keys dimension by dimension in the order grouped by, a missing
/// value after every present one.
fn compare(a: &GroupKey, b: &GroupKey, by: &[Dim]) -> Ordering {
    for dim in by {
        let order = match (sorted(a, *dim), sorted(b, *dim)) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

/// Puts members (in listing order) into the groups their keys name, and
/// orders the groups.
fn gather(
    members: Vec<(Vec<u8>, Entity)>,
    by: &[Dim],
    keys: impl Fn(&Entity) -> Vec<GroupKey>,
) -> Result<Vec<Group>, ReadError> {
    let mut index: HashMap<GroupKey, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut memberships = 0usize;
    for (key, member) in members {
        for group_key in keys(&member) {
            memberships += 1;
            if memberships > MAX_MEMBERSHIPS {
                return Err(ReadError::argument(
                    "filter",
                    format!("the grouping would hold more than {MAX_MEMBERSHIPS} memberships; narrow the filter"),
                ));
            }
            let slot = match index.get(&group_key) {
                Some(&slot) => slot,
                None => {
                    if groups.len() >= MAX_GROUPS {
                        return Err(too_many_groups());
                    }
                    index.insert(group_key.clone(), groups.len());
                    groups.push(Group {
                        key: group_key,
                        members: Vec::new(),
                        sums: Vec::new(),
                        count: 0,
                    });
                    groups.len() - 1
                }
            };
            groups[slot].members.push((key.clone(), member.clone()));
            groups[slot].count += 1;
        }
    }
    groups.sort_by(|a, b| compare(&a.key, &b.key, by));
    Ok(groups)
}

/// What a group's key holds when the grouping is by year and month only:
/// the year, and the month as (year, month).
type YearMonth = (Option<i32>, Option<(i32, u8)>);

/// The year and month of the event at `listing` (its chronological listing
/// key), each only when grouped by (`by_year`, `by_month`). `None` when the
/// key cannot tell the month: a period within January from its first day,
/// or within December to its last, may be dated only to a year at that end,
/// and such a date names no month (see [`month_of`]).
fn year_month_of_listing(listing: &[u8], by_year: bool, by_month: bool) -> Option<YearMonth> {
    let Some((first, last)) = crate::store::listing_days(listing) else {
        return Some((None, None));
    };
    let ((y1, m1, d1), (y2, m2, d2)) = (civil_from_days(first), civil_from_days(last));
    let year = (by_year && y1 == y2).then_some(y1);
    let month = match by_month && y1 == y2 && m1 == m2 {
        true if (m1 == 1 && d1 == 1) || (m2 == 12 && d2 == 31) => return None,
        true => Some((y1, m1)),
        false => None,
    };
    Some((year, month))
}

/// Counts the events of `keyed` (listing keys and ids) by group without
/// loading them, when the grouping is by year, month and (when the filter
/// names one) kind only, which their listing keys tell
/// ([`year_month_of_listing`]); the few whose keys cannot tell are loaded.
/// `None` when the grouping needs every event loaded. The groups come back
/// as [`gather`] makes them, without members.
fn count_by_listing(
    direct: &Direct<'_>,
    keyed: &[(Vec<u8>, Id)],
    by: &[Dim],
    kind: Option<EventKind>,
) -> Result<Option<Vec<Group>>, ReadError> {
    if !by
        .iter()
        .all(|d| matches!(d, Dim::Year | Dim::Month) || (*d == Dim::Kind && kind.is_some()))
    {
        return Ok(None);
    }
    let (by_year, by_month) = (by.contains(&Dim::Year), by.contains(&Dim::Month));
    let mut index: HashMap<YearMonth, usize> = HashMap::new();
    let mut counted: Vec<(YearMonth, usize)> = Vec::new();
    for (listing, id) in keyed {
        let year_month = match year_month_of_listing(listing, by_year, by_month) {
            Some(year_month) => year_month,
            None => match direct.entities(std::slice::from_ref(id))?.pop().flatten() {
                Some(Entity::Event(e)) => {
                    let month = month_of(e.date.as_ref()).map(|m| civil_from_days(m.first_day()));
                    (
                        year_of(e.date.as_ref()).filter(|_| by_year),
                        month.map(|(y, m, _)| (y, m)).filter(|_| by_month),
                    )
                }
                _ => continue,
            },
        };
        let slot = match index.get(&year_month) {
            Some(&slot) => slot,
            None => {
                if counted.len() >= MAX_GROUPS {
                    return Err(too_many_groups());
                }
                index.insert(year_month, counted.len());
                counted.push((year_month, 0));
                counted.len() - 1
            }
        };
        counted[slot].1 += 1;
    }
    let mut groups = Vec::with_capacity(counted.len());
    for ((year, month), count) in counted {
        let month = match month {
            Some((y, m)) => Some(
                PartialDate::parse(&format!("{y:04}-{m:02}"))
                    .map_err(|e| ReadError::argument("groupBy", format!("month {y:04}-{m:02}: {e}")))?,
            ),
            None => None,
        };
        let key = GroupKey {
            kind: kind.filter(|_| by.contains(&Dim::Kind)),
            year,
            month,
            ..GroupKey::default()
        };
        groups.push(Group {
            key,
            members: Vec::new(),
            sums: Vec::new(),
            count,
        });
    }
    groups.sort_by(|a, b| compare(&a.key, &b.key, by));
    Ok(Some(groups))
}

/// Too many groups for a grouping: the filter must narrow them, or the
/// grouping be by less.
fn too_many_groups() -> ReadError {
    ReadError::argument(
        "groupBy",
        format!("more than {MAX_GROUPS} groups; narrow the filter or group by less"),
    )
}

/// Too many members for a grouping: the filter must narrow them.
fn too_many() -> ReadError {
    ReadError::argument(
        "filter",
        format!("more than {MAX_MEMBERS} members to group; narrow the filter"),
    )
}

/// Loads the members a listing named, keeping its order. The read cache
/// serves those it holds but keeps none of the others: a grouping may read
/// up to [`MAX_MEMBERS`] entities at once.
fn load(direct: &Direct<'_>, keyed: Vec<(Vec<u8>, Id)>) -> Result<Vec<(Vec<u8>, Entity)>, ReadError> {
    let ids: Vec<&Id> = keyed.iter().map(|(_, id)| id).collect();
    let found = direct.entities_passing(&ids)?;
    Ok(keyed
        .into_iter()
        .zip(found)
        .filter_map(|((key, _), node)| Some((key, node?)))
        .collect())
}

/// `eventStats`: the events `filter` selects, grouped by `by`; with
/// `members`, each group holds its events (for `events`), else only its
/// count, and groups by year, month (and the filter's kind) are then
/// counted from the listing keys without loading the events.
pub fn event_groups(
    store: &Store,
    direct: &Direct<'_>,
    filter: &EventFilter,
    by: &[Dim],
    members: bool,
) -> Result<Vec<Group>, ReadError> {
    check_dims(by, &EVENT_DIMS)?;
    // One page of every match, one item more than the bound to learn
    // whether the bound is passed.
    let limit = MAX_MEMBERS + 1;
    let window = PageArgs {
        first: Some(limit as i32),
        ..PageArgs::default()
    }
    .window(Limits {
        default_page: limit,
        max_page: limit,
    })?;
    let (page, _) = event_listing(store, filter, &window, false)?;
    if page.items.len() > MAX_MEMBERS {
        return Err(too_many());
    }
    if !members {
        if let Some(groups) = count_by_listing(direct, &page.items, by, filter.kind)? {
            return Ok(groups);
        }
    }
    let members = load(direct, page.items)?;
    gather(members, by, |member| match member {
        Entity::Event(e) => event_keys(e, by),
        _ => Vec::new(),
    })
}

/// `fundingStats`: the allocations `filter` selects, grouped by `by`, each
/// group with its sums per currency.
pub fn funding_groups(
    store: &Store,
    direct: &Direct<'_>,
    filter: &FundingFilter,
    by: &[Dim],
) -> Result<Vec<Group>, ReadError> {
    check_dims(by, &FUNDING_DIMS)?;
    let keyed = funding_keyed(store, filter)?;
    if keyed.len() > MAX_MEMBERS {
        return Err(too_many());
    }
    let members = load(direct, keyed)?;
    let mut groups = gather(members, by, |member| match member {
        Entity::FundingAllocation(f) => vec![funding_key(f, by)],
        _ => Vec::new(),
    })?;
    for group in &mut groups {
        group.sums = sum_amounts(group.members.iter().filter_map(|(_, m)| match m {
            Entity::FundingAllocation(f) => Some(&f.amount),
            _ => None,
        }));
    }
    Ok(groups)
}

/// `Actor.coParticipants`: the actors that took part in events `actor`
/// took part in (in `role`, when given), each with the events shared, most
/// shared first, ties by id; the first `first` of them.
pub fn co_participants(
    direct: &Direct<'_>,
    actor: &Entity,
    first: Option<i32>,
    role: Option<Role>,
) -> Result<Vec<CoParticipant>, ReadError> {
    let first = first.unwrap_or(DEFAULT_CO_PARTICIPANTS);
    if !(0..=MAX_CO_PARTICIPANTS).contains(&first) {
        return Err(ReadError::argument(
            "first",
            format!("must be between 0 and {MAX_CO_PARTICIPANTS}, got {first}"),
        ));
    }
    let events = direct.sorted_events(&backward(Relation::EventParticipant, actor))?;
    let mut shared: HashMap<&Id, Vec<Entity>> = HashMap::new();
    for (_, node) in events.iter() {
        let Entity::Event(event) = node else { continue };
        let mut seen: Vec<&Id> = Vec::new();
        for p in &event.participants {
            if p.actor == *actor.id() || role.is_some_and(|r| r != p.role) || seen.contains(&&p.actor) {
                continue;
            }
            seen.push(&p.actor);
            shared.entry(&p.actor).or_default().push(node.clone());
        }
    }
    let mut found: Vec<CoParticipant> = shared
        .into_iter()
        .map(|(id, events)| CoParticipant {
            actor: id.clone(),
            events,
        })
        .collect();
    found.sort_by(|a, b| b.events.len().cmp(&a.events.len()).then_with(|| a.actor.cmp(&b.actor)));
    found.truncate(first as usize);
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Option<PartialDate> {
        Some(PartialDate::parse(s).unwrap())
    }

    #[test]
    fn a_date_names_a_year_or_a_month_only_when_it_lies_within_one() {
        assert_eq!(year_of(date("2008-08-26").as_ref()), Some(2008));
        assert_eq!(year_of(date("2009").as_ref()), Some(2009));
        assert_eq!(year_of(date("2008-08-07/2008-08-12").as_ref()), Some(2008));
        assert_eq!(year_of(date("2008-12/2009-01").as_ref()), None);
        assert_eq!(year_of(None), None);
        assert_eq!(month_of(date("2008-08-26").as_ref()), date("2008-08"));
        assert_eq!(month_of(date("2008-08-07/2008-08-12").as_ref()), date("2008-08"));
        assert_eq!(month_of(date("2009").as_ref()), None);
        assert_eq!(month_of(date("2008-08-30/2008-09-02").as_ref()), None);
    }

    #[test]
    fn keys_sort_dimension_by_dimension_with_missing_values_last() {
        let key = |year: Option<i32>, actor: Option<&str>| GroupKey {
            year,
            actor: actor.map(|a| Id::parse(a).unwrap()),
            ..GroupKey::default()
        };
        let mut keys = vec![
            key(None, Some("actor/a")),
            key(Some(2009), None),
            key(Some(2008), Some("actor/b")),
            key(Some(2009), Some("actor/a")),
            key(Some(2008), Some("actor/a")),
        ];
        keys.sort_by(|a, b| compare(a, b, &[Dim::Year, Dim::Actor]));
        assert_eq!(
            keys,
            vec![
                key(Some(2008), Some("actor/a")),
                key(Some(2008), Some("actor/b")),
                key(Some(2009), Some("actor/a")),
                key(Some(2009), None),
                key(None, Some("actor/a")),
            ]
        );
    }

    #[test]
    fn a_grouping_names_its_argument_when_its_dimensions_are_wrong() {
        for (by, why) in [
            (vec![], "at least one"),
            (vec![Dim::Year, Dim::Year], "twice"),
            (vec![Dim::Donor], "does not apply"),
        ] {
            match check_dims(&by, &EVENT_DIMS) {
                Err(ReadError::Argument { name, message }) => {
                    assert_eq!(name, "groupBy");
                    assert!(message.contains(why), "{message}");
                }
                other => panic!("{by:?} must be refused, got {other:?}"),
            }
        }
    }
}
