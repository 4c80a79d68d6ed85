//! The as-of views' GraphQL types (issue 17): a treaty's status on a date,
//! and who held a post on a date. Their meaning is in `read::asof`.

use async_graphql::{Context, Object, Result, ID};

use super::errors::read_error;
use super::memo::Shared;
use super::table::{self, not_in_table, shape, Obj, Shape, Ty};
use super::types::{loaders, Actor, Position};
use crate::model::{PartialDate, TreatyState};
use crate::read::asof::{self, HeldPosition};
use crate::read::cache::Entity;
use crate::store::Store;

/// `Actor.positions(asOf:)`, as the field table reads it.
pub(super) async fn positions(ctx: &Context<'_>, actor: &Entity, as_of: Option<PartialDate>) -> Result<Vec<Position>> {
    let Some(Shape::Positions) = shape(Ty::ACTOR, "positions") else {
        return Err(not_in_table(Ty::ACTOR, "positions"));
    };
    let held = asof::positions(&loaders(ctx)?.direct(), actor, as_of.as_ref()).map_err(read_error)?;
    Ok(held.into_iter().map(Position).collect())
}

/// `Treaty.status(asOf:)`, as the field table reads it.
pub(super) fn treaty_status(treaty: &Entity, as_of: Option<PartialDate>) -> Result<TreatyStatus> {
    let (Some(Shape::TreatyStatus), Entity::Treaty(t)) = (shape(Ty::TREATY, "status"), treaty) else {
        return Err(not_in_table(Ty::TREATY, "status"));
    };
    Ok(TreatyStatus(asof::treaty_status(t, as_of.as_ref())))
}

/// `Query.positionHolders`, as the field table reads it.
pub(super) fn position_holders(
    ctx: &Context<'_>,
    title: &str,
    of: Option<&ID>,
    as_of: Option<PartialDate>,
) -> Result<Vec<PositionHolding>> {
    let Some(Shape::PositionHolders) = shape(Ty::Query, "positionHolders") else {
        return Err(not_in_table(Ty::Query, "positionHolders"));
    };
    let store = ctx.data::<Store>()?;
    let held = asof::position_holders(
        store,
        &loaders(ctx)?.direct(),
        title,
        of.map(|of| of.as_str()),
        as_of.as_ref(),
    )
    .map_err(read_error)?;
    Ok(held.into_iter().map(PositionHolding).collect())
}

/// How far a treaty had come by a date.
pub struct TreatyStatus(asof::TreatyStatus);

/// How far a treaty had come by a date: its state, and the date of each step taken by then (null
/// for a step not yet taken, or one the sources give no date for).
#[Object]
impl TreatyStatus {
    /// `PROPOSED`, `SIGNED`, `RATIFIED` (by every ratifier the sources record) or `IN_FORCE`.
    async fn state(&self) -> Result<TreatyState> {
        table::leaf(Ty::TreatyStatus, "state", Obj::TreatyStatus(&self.0))
    }
    /// When it was signed, if by then.
    async fn signed_on(&self) -> Result<Option<PartialDate>> {
        table::leaf(Ty::TreatyStatus, "signedOn", Obj::TreatyStatus(&self.0))
    }
    /// When the last ratification the sources record was made, if every one was made by then.
    async fn ratified_on(&self) -> Result<Option<PartialDate>> {
        table::leaf(Ty::TreatyStatus, "ratifiedOn", Obj::TreatyStatus(&self.0))
    }
    /// When it entered into force, if by then.
    async fn entered_into_force_on(&self) -> Result<Option<PartialDate>> {
        table::leaf(Ty::TreatyStatus, "enteredIntoForceOn", Obj::TreatyStatus(&self.0))
    }
}

/// A post and the actor holding it.
pub struct PositionHolding(HeldPosition);

/// A post and the actor holding it (`positionHolders`).
#[Object]
impl PositionHolding {
    /// Who holds the post.
    async fn holder(&self, ctx: &Context<'_>) -> Result<Option<Shared<Actor>>> {
        table::one(ctx, Ty::PositionHolding, "holder", Obj::Position(&self.0)).await
    }
    /// The post, with its dates or the dates it is attested on.
    async fn position(&self) -> Result<Position> {
        match shape(Ty::PositionHolding, "position") {
            Some(Shape::HeldPosition) => Ok(Position(self.0.clone())),
            _ => Err(not_in_table(Ty::PositionHolding, "position")),
        }
    }
}
