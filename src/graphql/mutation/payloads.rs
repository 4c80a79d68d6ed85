//! What mutations answer.

use async_graphql::{Result, SimpleObject, ID};

use crate::graphql::errors::internal;
use crate::graphql::types::{Actor, Event, FundingAllocation, Node, Place, Treaty};

/// The result of a delete.
#[derive(SimpleObject)]
pub struct DeletePayload {
    /// The id that was deleted.
    pub deleted_id: ID,
    /// Other entities a cascade changed (references removed) or deleted with it.
    pub cascaded: Vec<ID>,
}

macro_rules! payload {
    ($name:ident, $field:ident, $ty:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(SimpleObject)]
        pub struct $name {
            #[doc = "The entity after the change."]
            pub $field: $ty,
        }

        impl $name {
            pub(super) fn from_node(node: Node) -> Result<$name> {
                $ty::try_from(node)
                    .map(|x| $name { $field: x })
                    .map_err(|_| internal("wrong kind of entity"))
            }
        }
    };
}

payload!(
    ActorPayload,
    actor,
    Actor,
    "The result of creating or changing an actor."
);
payload!(
    EventPayload,
    event,
    Event,
    "The result of creating or changing an event."
);
payload!(
    TreatyPayload,
    treaty,
    Treaty,
    "The result of creating or changing a treaty."
);
payload!(
    FundingAllocationPayload,
    funding_allocation,
    FundingAllocation,
    "The result of creating or changing a funding allocation."
);
payload!(
    PlacePayload,
    place,
    Place,
    "The result of creating or changing a place."
);
