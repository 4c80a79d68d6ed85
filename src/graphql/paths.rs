//! The paths' GraphQL types (issue 17): `Query.paths` answers a
//! `PathSearch`. Their meaning is in `read::paths`.

use std::sync::Arc;

use async_graphql::{Context, Object, Result, ID};

use super::errors::read_error;
use super::table::{self, not_in_table, shape, Obj, Shape, Ty};
use super::types::{loaders, Node};
use crate::model::{RelationKind, Role};
use crate::read::paths::{self, PathAnswer, PathArgs};

/// `Query.paths`, as the field table reads it.
pub(super) fn find(
    ctx: &Context<'_>,
    from: &ID,
    to: &ID,
    max_hops: i32,
    via: Option<&[RelationKind]>,
    first: i32,
    budget: i32,
) -> Result<PathSearch> {
    let Some(Shape::Paths) = shape(Ty::Query, "paths") else {
        return Err(not_in_table(Ty::Query, "paths"));
    };
    let mut args = PathArgs::parse(from, to, Some(max_hops), via, Some(first), Some(budget)).map_err(read_error)?;
    args.deadline = ctx.data_opt::<super::Deadline>().map(|d| d.0);
    let answer = paths::find(&loaders(ctx)?.direct(), &args).map_err(read_error)?;
    Ok(PathSearch(Arc::new(answer)))
}

/// What a path search found.
pub struct PathSearch(Arc<PathAnswer>);

/// What a path search found: the shortest paths, and whether the search finished.
#[Object]
impl PathSearch {
    /// The shortest paths (all of one length, the fewest steps there are), ordered by the ids
    /// along them, at most `first`. Empty when none was found within `maxHops`.
    async fn paths(&self) -> Result<Vec<Path>> {
        match shape(Ty::PathSearch, "paths") {
            Some(Shape::PathList) => Ok((0..self.0.paths.len()).map(|i| Path(self.0.clone(), i)).collect()),
            _ => Err(not_in_table(Ty::PathSearch, "paths")),
        }
    }
    /// False when the search was cut short by its budget (or the operation's time limit): some of
    /// the shortest paths may be missing, or none be listed though one exists. Raise `budget` or
    /// narrow `via` to finish.
    async fn complete(&self) -> Result<bool> {
        table::leaf(Ty::PathSearch, "complete", Obj::PathSearch(&self.0))
    }
    /// How many entities the search expanded (read every relation of, both ways).
    async fn expanded(&self) -> Result<i32> {
        table::leaf(Ty::PathSearch, "expanded", Obj::PathSearch(&self.0))
    }
}

/// One path of an answer.
pub struct Path(Arc<PathAnswer>, usize);

impl Path {
    fn path(&self) -> &paths::Path {
        &self.0.paths[self.1]
    }
}

/// A chain of entities from `from` to `to`: `nodes` and `steps` alternate, `steps[i]` joining
/// `nodes[i]` to `nodes[i + 1]`.
#[Object]
impl Path {
    /// The number of steps.
    async fn hops(&self) -> Result<i32> {
        table::leaf(Ty::Path, "hops", Obj::Path(self.path()))
    }
    /// The entities along the path, from `from` to `to`; use inline fragments for their fields.
    #[graphql(complexity = "(paths::MAX_HOPS as usize + 1) * child_complexity + 1")]
    async fn nodes(&self) -> Result<Vec<Node>> {
        match shape(Ty::Path, "nodes") {
            Some(Shape::PathNodes) => Ok(self.path().nodes.iter().cloned().map(Node::from).collect()),
            _ => Err(not_in_table(Ty::Path, "nodes")),
        }
    }
    /// The steps, each read from the node before it to the node after it.
    async fn steps(&self) -> Result<Vec<PathStep>> {
        match shape(Ty::Path, "steps") {
            Some(Shape::PathSteps) => Ok((0..self.path().steps.len())
                .map(|i| PathStep(self.0.clone(), self.1, i))
                .collect()),
            _ => Err(not_in_table(Ty::Path, "steps")),
        }
    }
}

/// One step of a path.
pub struct PathStep(Arc<PathAnswer>, usize, usize);

impl PathStep {
    fn step(&self) -> &paths::Step {
        &self.0.paths[self.1].steps[self.2]
    }
}

/// One step of a path: a relation between the node before it and the node after it.
#[Object]
impl PathStep {
    /// The kind of relation, named in one sense: `SIGNED` (an actor signed a treaty).
    async fn kind(&self) -> Result<RelationKind> {
        table::leaf(Ty::PathStep, "kind", Obj::Step(self.step()))
    }
    /// False when the node before the step is the subject of `kind` (Sergey Lavrov `SIGNED` the
    /// notes); true when it reads the other way (the notes were signed by Sergey Lavrov).
    async fn reversed(&self) -> Result<bool> {
        table::leaf(Ty::PathStep, "reversed", Obj::Step(self.step()))
    }
    /// The participant's role, for a `PARTICIPATED_IN` step; null otherwise.
    async fn role(&self) -> Result<Option<Role>> {
        table::leaf(Ty::PathStep, "role", Obj::Step(self.step()))
    }
    /// The step in words, read from the node before it: "participated in as speaker",
    /// "has as part", "signed by".
    async fn phrase(&self) -> Result<String> {
        table::leaf(Ty::PathStep, "phrase", Obj::Step(self.step()))
    }
}
