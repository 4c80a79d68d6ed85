//! Mutations: create, update and delete every kind of entity, and the
//! relation edits clients need. Input is validated exactly like seed data
//! (the same parser and checks), and each mutation is one store commit:
//! entity and index entries in one transaction, in the write-ahead log and
//! synced before the answer (writes arriving together share one sync).
//!
//! `inputs.rs` holds the input objects, `writes.rs` turns them into checked
//! entities and store commits, `payloads.rs` the answers; this file is the
//! root type, one short method per mutation.

mod inputs;
mod payloads;
mod writes;

use async_graphql::{Context, Object, Result, ID};

use super::errors::{bad_input, internal};
use crate::model::{self, Entity, EntityKind};

pub use inputs::*;
pub use payloads::*;
use writes::*;

/// Proof, put in the request data by the HTTP layer, that the request
/// carried a valid write token. Mutations refuse to run without it.
#[derive(Clone, Copy, Debug)]
pub struct WriteAccess;

/// Error code for a write the disk cannot take now (full, failing, or under
/// the free-space floor); nothing of it is kept, and writes resume by
/// themselves once the disk has room.
pub const STORAGE_UNAVAILABLE: &str = "STORAGE_UNAVAILABLE";

/// Error code for a delete refused because other entities refer to the target.
pub const CONFLICT: &str = "CONFLICT";

/// The create a write plan answers (`graphql/plan/write.rs`): `input`, a
/// value of `kind`'s create input type, parsed and written by the same
/// functions as the mutation's resolver; the caller has checked the write
/// token. An error means nothing was written.
pub(crate) async fn create_planned(
    store: &crate::store::Store,
    kind: EntityKind,
    input: async_graphql::Value,
) -> Result<Entity> {
    fn parsed<T: async_graphql::InputType>(input: async_graphql::Value) -> Result<T> {
        T::parse(Some(input)).map_err(|e| async_graphql::Error::new(e.into_server_error(Default::default()).message))
    }
    match kind {
        EntityKind::Actor => create_in(store, parsed::<CreateActorInput>(input)?).await,
        EntityKind::Event => create_in(store, parsed::<CreateEventInput>(input)?).await,
        EntityKind::Treaty => create_in(store, parsed::<CreateTreatyInput>(input)?).await,
        EntityKind::Funding => create_in(store, parsed::<CreateFundingAllocationInput>(input)?).await,
        EntityKind::Place => create_in(store, parsed::<CreatePlaceInput>(input)?).await,
        EntityKind::Source => Err(internal("sources are not created by mutations")),
    }
}

/// Writes. Every mutation needs `Authorization: Bearer <token>`; each is
/// one transaction, synced to the write-ahead log before the answer.
pub struct MutationRoot;

/// Writes: create, change and delete entities, and edit their relations.
/// Every mutation needs `Authorization: Bearer <token>` with a configured
/// write token; each is one transaction, on disk before the answer.
#[Object(name = "Mutation")]
impl MutationRoot {
    /// Creates an actor. References must exist; the id is made from the name unless given.
    async fn create_actor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new actor.")] input: CreateActorInput,
    ) -> Result<ActorPayload> {
        ActorPayload::from_node(create(ctx, input).await?)
    }

    /// Changes an actor: fields given replace the current ones.
    async fn update_actor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The actor (an id or bare slug).")] id: ID,
        #[graphql(desc = "The changes.")] input: UpdateActorInput,
    ) -> Result<ActorPayload> {
        ActorPayload::from_node(update(ctx, EntityKind::Actor, &id, to_map(&input)?).await?)
    }

    /// Deletes an actor. Refused while others refer to it, unless `cascade`
    /// removes those references too (and funding it gave or received).
    async fn delete_actor(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The actor (an id or bare slug).")] id: ID,
        #[graphql(desc = "Also remove every reference to it.", default = false)] cascade: bool,
    ) -> Result<DeletePayload> {
        delete(ctx, EntityKind::Actor, &id, cascade).await
    }

    /// Creates an event. References must exist; the id is made from the title unless given.
    async fn create_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new event.")] input: CreateEventInput,
    ) -> Result<EventPayload> {
        EventPayload::from_node(create(ctx, input).await?)
    }

    /// Changes an event: fields given replace the current ones.
    async fn update_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event (an id or bare slug).")] id: ID,
        #[graphql(desc = "The changes.")] input: UpdateEventInput,
    ) -> Result<EventPayload> {
        EventPayload::from_node(update(ctx, EntityKind::Event, &id, to_map(&input)?).await?)
    }

    /// Deletes an event. Refused while others refer to it, unless `cascade`.
    async fn delete_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event (an id or bare slug).")] id: ID,
        #[graphql(desc = "Also remove every reference to it.", default = false)] cascade: bool,
    ) -> Result<DeletePayload> {
        delete(ctx, EntityKind::Event, &id, cascade).await
    }

    /// Creates a treaty. References must exist; the id is made from the name unless given.
    async fn create_treaty(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new treaty.")] input: CreateTreatyInput,
    ) -> Result<TreatyPayload> {
        TreatyPayload::from_node(create(ctx, input).await?)
    }

    /// Changes a treaty: fields given replace the current ones.
    async fn update_treaty(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The treaty (an id or bare slug).")] id: ID,
        #[graphql(desc = "The changes.")] input: UpdateTreatyInput,
    ) -> Result<TreatyPayload> {
        TreatyPayload::from_node(update(ctx, EntityKind::Treaty, &id, to_map(&input)?).await?)
    }

    /// Deletes a treaty. Refused while others refer to it, unless `cascade`.
    async fn delete_treaty(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The treaty (an id or bare slug).")] id: ID,
        #[graphql(desc = "Also remove every reference to it.", default = false)] cascade: bool,
    ) -> Result<DeletePayload> {
        delete(ctx, EntityKind::Treaty, &id, cascade).await
    }

    /// Creates a funding allocation. The amount must be a positive whole number.
    async fn create_funding_allocation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new allocation.")] input: CreateFundingAllocationInput,
    ) -> Result<FundingAllocationPayload> {
        FundingAllocationPayload::from_node(create(ctx, input).await?)
    }

    /// Changes a funding allocation: fields given replace the current ones.
    async fn update_funding_allocation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The allocation (an id or bare slug).")] id: ID,
        #[graphql(desc = "The changes.")] input: UpdateFundingAllocationInput,
    ) -> Result<FundingAllocationPayload> {
        FundingAllocationPayload::from_node(update(ctx, EntityKind::Funding, &id, to_map(&input)?).await?)
    }

    /// Deletes a funding allocation.
    async fn delete_funding_allocation(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The allocation (an id or bare slug).")] id: ID,
        #[graphql(desc = "Also remove every reference to it.", default = false)] cascade: bool,
    ) -> Result<DeletePayload> {
        delete(ctx, EntityKind::Funding, &id, cascade).await
    }

    /// Creates a place. The id is made from the name unless given.
    async fn create_place(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new place.")] input: CreatePlaceInput,
    ) -> Result<PlacePayload> {
        PlacePayload::from_node(create(ctx, input).await?)
    }

    /// Changes a place: fields given replace the current ones.
    async fn update_place(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The place (an id or bare slug).")] id: ID,
        #[graphql(desc = "The changes.")] input: UpdatePlaceInput,
    ) -> Result<PlacePayload> {
        PlacePayload::from_node(update(ctx, EntityKind::Place, &id, to_map(&input)?).await?)
    }

    /// Deletes a place. Refused while others refer to it, unless `cascade`.
    async fn delete_place(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The place (an id or bare slug).")] id: ID,
        #[graphql(desc = "Also remove every reference to it.", default = false)] cascade: bool,
    ) -> Result<DeletePayload> {
        delete(ctx, EntityKind::Place, &id, cascade).await
    }

    /// Adds an actor to an event with a role (or changes its role).
    async fn add_participant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Who, where, and how.")] input: AddParticipantInput,
    ) -> Result<EventPayload> {
        require_write(ctx)?;
        let actor = id_ref("input.actor", EntityKind::Actor, &input.actor)?;
        ensure_exists(ctx, "input.actor", &actor)?;
        let role = input.role;
        let node = modify(ctx, EntityKind::Event, &input.event, move |entity| {
            let Entity::Event(mut event) = entity else {
                return Err(internal("event id led to another kind"));
            };
            match event.participants.iter_mut().find(|p| p.actor == actor) {
                Some(p) => p.role = role,
                None => event.participants.push(model::Participant { actor, role }),
            }
            Ok(Entity::Event(event))
        })
        .await?;
        EventPayload::from_node(node)
    }

    /// Removes an actor from an event.
    async fn remove_participant(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Who, and from which event.")] input: RemoveParticipantInput,
    ) -> Result<EventPayload> {
        require_write(ctx)?;
        let actor = id_ref("input.actor", EntityKind::Actor, &input.actor)?;
        let node = modify(ctx, EntityKind::Event, &input.event, move |entity| {
            let Entity::Event(mut event) = entity else {
                return Err(internal("event id led to another kind"));
            };
            let before = event.participants.len();
            event.participants.retain(|p| p.actor != actor);
            if event.participants.len() == before {
                return Err(bad_input(
                    "input.actor",
                    format!("{actor} does not take part in {}", event.id),
                ));
            }
            Ok(Entity::Event(event))
        })
        .await?;
        EventPayload::from_node(node)
    }

    /// Records that a body ratified a treaty (replacing an earlier record by the same body).
    async fn add_ratification(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which treaty, by whom, when.")] input: AddRatificationInput,
    ) -> Result<TreatyPayload> {
        require_write(ctx)?;
        let by = id_ref("input.by", EntityKind::Actor, &input.by)?;
        ensure_exists(ctx, "input.by", &by)?;
        let date = input
            .date
            .as_deref()
            .map(|d| model::PartialDate::parse(d).map_err(|e| bad_input("input.date", e)))
            .transpose()?;
        let node = modify(ctx, EntityKind::Treaty, &input.treaty, move |entity| {
            let Entity::Treaty(mut treaty) = entity else {
                return Err(internal("treaty id led to another kind"));
            };
            treaty.ratifications.retain(|r| r.by != by);
            treaty.ratifications.push(model::Ratification { by, date });
            Ok(Entity::Treaty(treaty))
        })
        .await?;
        TreatyPayload::from_node(node)
    }

    /// Sets the treaty a funding allocation rests on.
    async fn link_funding_to_treaty(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The allocation and the treaty.")] input: LinkFundingToTreatyInput,
    ) -> Result<FundingAllocationPayload> {
        require_write(ctx)?;
        let treaty = id_ref("input.treaty", EntityKind::Treaty, &input.treaty)?;
        ensure_exists(ctx, "input.treaty", &treaty)?;
        let node = modify(ctx, EntityKind::Funding, &input.funding_allocation, move |entity| {
            let Entity::Funding(mut funding) = entity else {
                return Err(internal("funding id led to another kind"));
            };
            funding.basis = Some(treaty);
            Ok(Entity::Funding(funding))
        })
        .await?;
        FundingAllocationPayload::from_node(node)
    }

    /// Sets where an event happened.
    async fn link_event_to_place(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The event and the place.")] input: LinkEventToPlaceInput,
    ) -> Result<EventPayload> {
        require_write(ctx)?;
        let place = id_ref("input.place", EntityKind::Place, &input.place)?;
        ensure_exists(ctx, "input.place", &place)?;
        let node = modify(ctx, EntityKind::Event, &input.event, move |entity| {
            let Entity::Event(mut event) = entity else {
                return Err(internal("event id led to another kind"));
            };
            event.place = Some(place);
            Ok(Entity::Event(event))
        })
        .await?;
        EventPayload::from_node(node)
    }
}
