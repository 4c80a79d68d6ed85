//! Typed event links (issue 17): `EventResponse`, an event answering
//! another with a kind, read through the field table and
//! [`crate::read::responses`].

use async_graphql::{Context, Object, Result};

use super::errors::internal;
use super::table::{self, Obj, Shape, Ty};
use super::types::{loaders, Event};
use crate::model::ResponseKind;
use crate::read::cache::Entity;
use crate::read::responses::responses;

/// One event answering another: how (a denial, a condemnation, a
/// retraction…), and the other event. Under `Event.responds` the event is
/// the earlier one answered; under `Event.respondedBy` it is the later one
/// that answers.
#[derive(Clone)]
pub struct EventResponse {
    event: Entity,
    kind: ResponseKind,
}

/// One event answering another: how (a denial, a condemnation, a
/// retraction…), and the other event. Under `Event.responds` the event is
/// the earlier one answered; under `Event.respondedBy` it is the later one
/// that answers.
#[Object]
impl EventResponse {
    /// How the later event answers the earlier one.
    async fn kind(&self) -> Result<ResponseKind> {
        table::leaf(Ty::EventResponse, "kind", Obj::Response((&self.event, self.kind)))
    }
    /// The other event: the one answered (under `responds`) or the one
    /// answering (under `respondedBy`).
    async fn event(&self) -> Result<Event> {
        match &self.event {
            Entity::Event(e) => Ok(Event(e.clone())),
            _ => Err(internal("a response leads to an event")),
        }
    }
}

/// `Event.responds` or `Event.respondedBy` (`field`), read as the field
/// table says: the responses in that direction, only of `kind` if given.
pub(super) fn event_responses(
    ctx: &Context<'_>,
    event: &Entity,
    field: &str,
    kind: Option<ResponseKind>,
) -> Result<Vec<EventResponse>> {
    let Some(Shape::Responses(way)) = table::shape(Ty::EVENT, field) else {
        return Err(internal(format!("Event.{field} has no entry in the field table")));
    };
    let found = responses(&loaders(ctx)?.direct(), event, way, kind).map_err(internal)?;
    Ok(found
        .into_iter()
        .map(|(event, kind)| EventResponse { event, kind })
        .collect())
}
