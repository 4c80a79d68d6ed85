//! Paths between two entities (`Query.paths`): the shortest chains of
//! relations joining them, found by a breadth-first search run from both
//! ends at once over the relation indexes (through the read cache), each
//! side expanding a whole level at a time, the smaller frontier first.
//!
//! Why both ends: the entities within `h` steps of one grow roughly as the
//! mean degree to the power `h`; meeting in the middle reads about twice
//! that to the power `h / 2`. The work is bounded all the same: past a
//! budget of entities expanded (or of relation entries read, or past the
//! operation's time limit), the search stops and the answer says it was
//! cut short, with whatever paths it had found (all of the shortest
//! length), rather than failing.

use std::collections::BTreeSet;

use rustc_hash::FxHashMap;

use crate::model::{self, Id, Relation, RelationKind, Role};
use crate::read::cache::{Direct, Entity, Link};
use crate::read::ReadError;
use crate::store::Direction;

/// `maxHops` when the client gives none, and the most it may ask.
pub const DEFAULT_MAX_HOPS: i32 = 4;
pub const MAX_HOPS: i32 = 6;
/// `first` (paths listed) when the client gives none, and the most.
pub const DEFAULT_FIRST: i32 = 5;
pub const MAX_FIRST: i32 = 50;
/// `budget` (entities expanded) when the client gives none, and the most.
pub const DEFAULT_BUDGET: i32 = 5_000;
pub const MAX_BUDGET: i32 = 50_000;
/// Relation entries the search reads at most, whatever the budget: it
/// bounds the memory the two sides hold (an entry is an id and a step).
pub const MAX_ENTRIES: usize = 500_000;

/// The arguments of `Query.paths`, checked.
#[derive(Clone, Debug)]
pub struct PathArgs {
    pub from: Id,
    pub to: Id,
    pub max_hops: usize,
    /// The relations a step may follow.
    pub via: Vec<Relation>,
    pub first: usize,
    pub budget: usize,
    /// The operation's time limit: the search stops there as it does at
    /// its budget, cut short.
    pub deadline: Option<std::time::Instant>,
}

impl PathArgs {
    /// Checks the arguments as the client gave them; each error names its argument.
    pub fn parse(
        from: &str,
        to: &str,
        max_hops: Option<i32>,
        via: Option<&[RelationKind]>,
        first: Option<i32>,
        budget: Option<i32>,
    ) -> Result<PathArgs, ReadError> {
        let from = Id::parse(from).map_err(|e| ReadError::argument("from", e))?;
        let to = Id::parse(to).map_err(|e| ReadError::argument("to", e))?;
        let bounded = |name: &str, value: Option<i32>, default: i32, max: i32| match value.unwrap_or(default) {
            n if (1..=max).contains(&n) => Ok(n as usize),
            n => Err(ReadError::argument(
                name,
                format!("must be between 1 and {max}, got {n}"),
            )),
        };
        let max_hops = bounded("maxHops", max_hops, DEFAULT_MAX_HOPS, MAX_HOPS)?;
        let first = bounded("first", first, DEFAULT_FIRST, MAX_FIRST)?;
        let budget = bounded("budget", budget, DEFAULT_BUDGET, MAX_BUDGET)?;
        let via = match via {
            None => Relation::ALL
                .into_iter()
                .filter(|r| r.step_kind().0 != RelationKind::Cites)
                .collect(),
            Some([]) => return Err(ReadError::argument("via", "name at least one relation kind")),
            Some(kinds) => Relation::ALL
                .into_iter()
                .filter(|r| kinds.contains(&r.step_kind().0))
                .collect(),
        };
        Ok(PathArgs {
            from,
            to,
            max_hops,
            via,
            first,
            budget,
            deadline: None,
        })
    }
}

/// One step of a path, read from the node before it to the node after it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Step {
    pub relation: Relation,
    /// Whether the node before the step holds the relation (an event
    /// before its participant); false when it is the relation's target.
    pub from_holder: bool,
    /// The relation entry's payload: a participant's role, a ratification's date.
    pub payload: Vec<u8>,
}

impl Step {
    pub fn kind(&self) -> RelationKind {
        self.relation.step_kind().0
    }

    /// Whether the step reads in its kind's sense: the node before it
    /// `SIGNED` the node after it, rather than was signed by it.
    pub fn in_sense(&self) -> bool {
        self.relation.step_kind().1 == self.from_holder
    }

    /// The participant's role, for a step through an event's participants.
    pub fn role(&self) -> Option<Role> {
        if self.relation != Relation::EventParticipant {
            return None;
        }
        role_of(&self.payload)
    }

    /// The step in words, read from the node before it: "participated in
    /// as speaker", "signed by".
    pub fn phrase(&self) -> String {
        let (sense, other) = self.kind().phrases();
        let mut out = String::from(if self.in_sense() { sense } else { other });
        if let Some(role) = self.role() {
            if self.in_sense() {
                out.push_str(" as ");
            } else {
                // "had as participant" reads "had as speaker".
                out.truncate(out.len() - "participant".len());
            }
            out.push_str(&role.as_str().replace('_', " "));
        }
        out
    }

    /// The same step read the other way.
    fn reversed(&self) -> Step {
        Step {
            relation: self.relation,
            from_holder: !self.from_holder,
            payload: self.payload.clone(),
        }
    }
}

/// A participant's role from its relation entry's payload.
pub fn role_of(payload: &[u8]) -> Option<Role> {
    let name = std::str::from_utf8(payload).ok()?;
    Role::ALL.iter().copied().find(|r| r.as_str() == name)
}

/// A path: `nodes[0]` is `from`, the last node `to`, and `steps[i]` joins
/// `nodes[i]` to `nodes[i + 1]`.
#[derive(Clone, Debug)]
pub struct Path {
    pub nodes: Vec<Entity>,
    pub steps: Vec<Step>,
}

/// What a path search found.
#[derive(Clone, Debug)]
pub struct PathAnswer {
    /// The shortest paths (all of one length), in the order of the ids
    /// along them, at most `first`.
    pub paths: Vec<Path>,
    /// False when the budget ran out before the search finished: some of
    /// the shortest paths may be missing, or none be listed though one
    /// exists within `maxHops`. Those listed are always of the shortest
    /// length (a level is searched only once the one before it is done).
    pub complete: bool,
    /// Entities expanded (their relations read both ways).
    pub expanded: usize,
}

/// One side of the search: for every entity reached, its distance from
/// this side's end and the steps that reach it from the entities one step
/// nearer that end (each read in the path's direction, `from` to `to`).
struct Side {
    reached: FxHashMap<Id, (usize, Vec<(Id, Step)>)>,
    frontier: Vec<Id>,
    depth: usize,
    /// Whether this side starts at `to` (its steps are read backwards).
    toward_end: bool,
}

impl Side {
    fn new(start: &Id, toward_end: bool) -> Side {
        let mut reached = FxHashMap::default();
        reached.insert(start.clone(), (0, Vec::new()));
        Side {
            reached,
            frontier: vec![start.clone()],
            depth: 0,
            toward_end,
        }
    }
}

/// Every relation entry of `id` a step may follow, both ways: the step read
/// from `id` to the neighbour.
fn neighbours(direct: &Direct<'_>, id: &Id, via: &[Relation]) -> Result<Vec<(Id, Step)>, ReadError> {
    let mut out = Vec::new();
    let Some(entity) = direct.entity(id)? else {
        return Ok(out);
    };
    for edge in record(&entity).edges() {
        if via.contains(&edge.relation) {
            out.push((
                edge.to,
                Step {
                    relation: edge.relation,
                    from_holder: true,
                    payload: edge.payload,
                },
            ));
        }
    }
    for &relation in via.iter().filter(|r| r.target_kind() == id.kind()) {
        let link = Link {
            relation,
            direction: Direction::Backward,
            from: id.clone(),
        };
        for (holder, payload) in direct.link(&link)?.iter() {
            out.push((
                holder.clone(),
                Step {
                    relation,
                    from_holder: false,
                    payload: payload.clone(),
                },
            ));
        }
    }
    Ok(out)
}

/// The stored record of an entity the cache hands out, for its relations.
fn record(entity: &Entity) -> model::Entity {
    match entity {
        Entity::Actor(x) => model::Entity::Actor((**x).clone()),
        Entity::Event(x) => model::Entity::Event((**x).clone()),
        Entity::Treaty(x) => model::Entity::Treaty((**x).clone()),
        Entity::FundingAllocation(x) => model::Entity::Funding((**x).clone()),
        Entity::Place(x) => model::Entity::Place((**x).clone()),
        Entity::Source(x) => model::Entity::Source((**x).clone()),
    }
}

/// A step where the two sides met: from an entity `from`'s side reached to
/// one `to`'s side reached.
type Meeting = (Id, Step, Id);

/// The shortest paths from `args.from` to `args.to`.
pub fn find(direct: &Direct<'_>, args: &PathArgs) -> Result<PathAnswer, ReadError> {
    for (name, id) in [("from", &args.from), ("to", &args.to)] {
        if direct.entity(id)?.is_none() {
            return Err(ReadError::argument(name, format!("no entity has the id `{id}`")));
        }
    }
    let mut start = Side::new(&args.from, false);
    let mut end = Side::new(&args.to, true);
    let mut meetings: Vec<Meeting> = Vec::new();
    let mut expanded = 0;
    let mut entries = 0;
    let mut complete = true;
    if args.from == args.to {
        meetings.clear();
    } else {
        'levels: while start.depth + end.depth < args.max_hops && meetings.is_empty() {
            if start.frontier.is_empty() || end.frontier.is_empty() {
                break;
            }
            let (this, other) = if start.frontier.len() <= end.frontier.len() {
                (&mut start, &end)
            } else {
                (&mut end, &start)
            };
            let mut next = Vec::new();
            let mut frontier = std::mem::take(&mut this.frontier);
            frontier.sort();
            for id in &frontier {
                let late = expanded % 32 == 31 && args.deadline.is_some_and(|d| std::time::Instant::now() > d);
                if expanded >= args.budget || entries >= MAX_ENTRIES || late {
                    complete = false;
                    break 'levels;
                }
                expanded += 1;
                let found = neighbours(direct, id, &args.via)?;
                entries += found.len();
                for (neighbour, step) in found {
                    // The step as the path reads it, from `from` toward `to`.
                    let (before, step_in_path, after) = match this.toward_end {
                        false => (id.clone(), step, neighbour.clone()),
                        true => (neighbour.clone(), step.reversed(), id.clone()),
                    };
                    if other.reached.contains_key(&neighbour) {
                        meetings.push((before.clone(), step_in_path.clone(), after.clone()));
                    }
                    let depth = this.depth + 1;
                    let near = if this.toward_end { after } else { before };
                    match this.reached.get_mut(&neighbour) {
                        Some((d, via)) if *d == depth => via.push((near, step_in_path)),
                        Some(_) => {}
                        None => {
                            this.reached
                                .insert(neighbour.clone(), (depth, vec![(near, step_in_path)]));
                            next.push(neighbour);
                        }
                    }
                }
            }
            this.depth += 1;
            this.frontier = next;
        }
    }
    let mut found = Vec::new();
    if args.from == args.to {
        found.push((vec![args.from.clone()], Vec::new()));
    } else if !meetings.is_empty() {
        let walk = Walk::new(&start, &end, &args.to, meetings);
        walk.from(
            &args.from,
            &mut vec![args.from.clone()],
            &mut Vec::new(),
            false,
            args.first,
            &mut found,
        );
    }
    let mut paths = Vec::with_capacity(found.len());
    for (ids, steps) in found {
        let nodes: Vec<Entity> = direct.entities(&ids)?.into_iter().flatten().collect();
        if nodes.len() == ids.len() {
            paths.push(Path { nodes, steps });
        }
    }
    Ok(PathAnswer {
        paths,
        complete,
        expanded,
    })
}

/// The shortest paths the two sides hold, walked from `from` in the order
/// of the ids along them: every branch taken leads to `to`, so listing
/// `first` paths costs `first` walks, however many paths there are.
struct Walk<'s> {
    /// From an entity of `from`'s side, the steps onward to entities
    /// further from `from` that lead to a meeting, and the meetings
    /// themselves (flagged), sorted.
    onward: FxHashMap<Id, Vec<(Id, Step, bool)>>,
    /// From an entity of `to`'s side, the steps toward `to`, sorted.
    end: &'s Side,
    to: &'s Id,
}

impl<'s> Walk<'s> {
    fn new(start: &Side, end: &'s Side, to: &'s Id, meetings: Vec<Meeting>) -> Walk<'s> {
        let mut onward: FxHashMap<Id, Vec<(Id, Step, bool)>> = FxHashMap::default();
        let mut seen: BTreeSet<Id> = BTreeSet::new();
        let mut todo: Vec<Id> = Vec::new();
        for (before, step, after) in meetings {
            if seen.insert(before.clone()) {
                todo.push(before.clone());
            }
            onward.entry(before).or_default().push((after, step, true));
        }
        // Back from the meetings to `from`: only entities that lead to one.
        while let Some(id) = todo.pop() {
            let Some((_, via)) = start.reached.get(&id) else {
                continue;
            };
            for (near, step) in via {
                onward
                    .entry(near.clone())
                    .or_default()
                    .push((id.clone(), step.clone(), false));
                if seen.insert(near.clone()) {
                    todo.push(near.clone());
                }
            }
        }
        for steps in onward.values_mut() {
            steps.sort();
            steps.dedup();
        }
        Walk { onward, end, to }
    }

    /// Extends the path `ids`/`steps` (ending at `at`) to `to`, adding
    /// paths to `out` until it holds `first`.
    fn from(
        &self,
        at: &Id,
        ids: &mut Vec<Id>,
        steps: &mut Vec<Step>,
        past_meeting: bool,
        first: usize,
        out: &mut Vec<(Vec<Id>, Vec<Step>)>,
    ) {
        if out.len() >= first {
            return;
        }
        if at == self.to {
            out.push((ids.clone(), steps.clone()));
            return;
        }
        let mut options: Vec<(Id, Step, bool)> = match past_meeting {
            false => self.onward.get(at).cloned().unwrap_or_default(),
            true => self
                .end
                .reached
                .get(at)
                .map(|(_, via)| {
                    via.iter()
                        .map(|(next, step)| (next.clone(), step.clone(), true))
                        .collect()
                })
                .unwrap_or_default(),
        };
        if past_meeting {
            options.sort();
        }
        for (next, step, meets) in options {
            ids.push(next.clone());
            steps.push(step);
            self.from(&next, ids, steps, past_meeting || meets, first, out);
            ids.pop();
            steps.pop();
            if out.len() >= first {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_out_of_bounds_are_refused_naming_the_argument() {
        let parse = |hops, kinds: Option<&[RelationKind]>, first, budget| {
            PathArgs::parse("actor/a", "actor/b", hops, kinds, first, budget)
        };
        for (args, name) in [
            (parse(Some(0), None, None, None), "maxHops"),
            (parse(Some(7), None, None, None), "maxHops"),
            (parse(None, Some(&[]), None, None), "via"),
            (parse(None, None, Some(51), None), "first"),
            (parse(None, None, None, Some(0)), "budget"),
            (PathArgs::parse("nobody", "actor/b", None, None, None, None), "from"),
            (PathArgs::parse("actor/a", "", None, None, None, None), "to"),
        ] {
            match args {
                Err(ReadError::Argument { name: got, .. }) => assert_eq!(got, name),
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn without_via_every_relation_but_citing_a_source_is_followed() {
        let args = PathArgs::parse("actor/a", "actor/b", None, None, None, None).unwrap();
        assert_eq!(args.via.len(), Relation::ALL.len() - 1);
        assert!(!args.via.contains(&Relation::CitedSource));
        let args = PathArgs::parse("actor/a", "actor/b", None, Some(&[RelationKind::PartOf]), None, None).unwrap();
        assert_eq!(args.via, vec![Relation::EventPartOf, Relation::ActorPartOf]);
    }

    #[test]
    fn steps_read_in_words_from_the_node_before_them() {
        let step = |relation, from_holder, payload: &str| Step {
            relation,
            from_holder,
            payload: payload.as_bytes().to_vec(),
        };
        assert_eq!(
            step(Relation::EventParticipant, false, "speaker").phrase(),
            "participated in as speaker"
        );
        assert_eq!(
            step(Relation::EventParticipant, true, "speaker").phrase(),
            "had as speaker"
        );
        assert_eq!(step(Relation::TreatySignatory, true, "").phrase(), "signed by");
        assert_eq!(step(Relation::ActorPartOf, false, "").phrase(), "has as part");
        assert_eq!(step(Relation::EventRetractedBy, false, "").phrase(), "retracts");
    }
}
