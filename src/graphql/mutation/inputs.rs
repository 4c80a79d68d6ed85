//! The input objects of every mutation. Each serialises to the seed's JSON
//! shape, so the seed parser checks it.

use async_graphql::{InputObject, ID};
use serde::Serialize;

use crate::graphql::scalars::BigInt;
use crate::model::{ActorKind, EventKind, PartialDate, PlaceKind, ResponseKind, Role, TreatyKind};

/// A post held by a person, as input.
#[derive(InputObject, Serialize, Clone)]
pub struct PositionInput {
    /// The title of the post, such as "Minister of Foreign Affairs".
    pub title: String,
    /// The actor the post belongs to (a full id, `actor/russia`).
    pub of: ID,
    /// When the post was taken up: `2008`, `2008-05` or `2008-05-07`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// When the post was left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// An editorial note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A new actor.
#[derive(InputObject, Serialize)]
pub struct CreateActorInput {
    /// The id to use (`actor/x` or `x`); made from the name when left out.
    #[serde(skip)]
    pub id: Option<ID>,
    /// The usual English name; must not be empty.
    pub name: String,
    /// What sort of actor this is.
    pub kind: ActorKind,
    /// Other names and spellings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aliases: Option<Vec<String>>,
    /// A short description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The larger actor this one belongs to (a full actor id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_of: Option<ID>,
    /// Posts this actor holds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub positions: Option<Vec<PositionInput>>,
    /// Source ids the facts come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<ID>>,
    /// An editorial note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The input of a create: what it creates, the id it gives (if any) and
/// the text an id is made from when it gives none.
pub trait CreateInput: async_graphql::InputType + Serialize + Send + 'static {
    const KIND: crate::model::EntityKind;
    fn given_id(&self) -> Option<&ID>;
    fn label(&self) -> &str;
}

macro_rules! create_input {
    ($input:ty, $kind:ident, $label:ident) => {
        impl CreateInput for $input {
            const KIND: crate::model::EntityKind = crate::model::EntityKind::$kind;
            fn given_id(&self) -> Option<&ID> {
                self.id.as_ref()
            }
            fn label(&self) -> &str {
                &self.$label
            }
        }
    };
}

create_input!(CreateActorInput, Actor, name);
create_input!(CreateEventInput, Event, title);
create_input!(CreateTreatyInput, Treaty, name);
create_input!(CreateFundingAllocationInput, Funding, title);
create_input!(CreatePlaceInput, Place, name);

/// Changes to an actor; fields left out keep their value, lists are replaced whole.
#[derive(InputObject, Serialize)]
pub struct UpdateActorInput {
    /// A new name; must not be empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<ActorKind>,
    /// New aliases (replacing the old list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aliases: Option<Vec<String>>,
    /// A new description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// A new parent actor (a full actor id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_of: Option<ID>,
    /// New positions (replacing the old list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub positions: Option<Vec<PositionInput>>,
    /// New sources (replacing the old list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<ID>>,
    /// A new editorial note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An actor taking part in an event, as input.
#[derive(InputObject, Serialize, Clone)]
pub struct ParticipantInput {
    /// The actor (a full id, `actor/russia`).
    pub actor: ID,
    /// The part it played.
    pub role: Role,
}

/// A labelled number, as input.
#[derive(InputObject, Serialize, Clone)]
pub struct FigureInput {
    /// What is counted.
    pub label: String,
    /// The number (a whole number, as a string or an Int).
    pub value: BigInt,
    /// The unit: "soldiers", "percent".
    pub unit: String,
    /// Who stated the figure, if it is a claim (a full actor id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<ID>,
}

/// An earlier event an event answers, and how, as input (typed event links).
#[derive(InputObject, Serialize, Clone)]
pub struct ResponseInput {
    /// The earlier event answered (a full event id); not the event itself.
    pub event: ID,
    /// How it is answered. Not `RETRACTS`: set `retractedBy` on the retracted statement instead.
    pub kind: ResponseKind,
}

/// A new event.
#[derive(InputObject, Serialize)]
pub struct CreateEventInput {
    /// The id to use (`event/x` or `x`); made from the title when left out.
    #[serde(skip)]
    pub id: Option<ID>,
    /// A short title; must not be empty.
    pub title: String,
    /// What sort of event this is.
    pub kind: EventKind,
    /// When it happened: `2008`, `2009-03`, `2008-08-26` or `2008-08-07/2008-08-08`. Leave out if unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<PartialDate>,
    /// Where it happened (a full place id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub place: Option<ID>,
    /// What happened.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Who took part, and how.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participants: Option<Vec<ParticipantInput>>,
    /// Treaties it concerned (full ids).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub treaties: Option<Vec<ID>>,
    /// The larger event it is part of (a full id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_of: Option<ID>,
    /// Events it came after (ordering hints for undated events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Vec<ID>>,
    /// For a statement: the event that retracted it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retracted_by: Option<ID>,
    /// Numbers stated about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub figures: Option<Vec<FigureInput>>,
    /// Earlier events it answers, and how (one response per event; no loops).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responds: Option<Vec<ResponseInput>>,
    /// Source ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<ID>>,
    /// An editorial note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Changes to an event; fields left out keep their value, lists are replaced whole.
#[derive(InputObject, Serialize)]
pub struct UpdateEventInput {
    /// A new title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A new kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<EventKind>,
    /// A new date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<PartialDate>,
    /// A new place (a full place id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub place: Option<ID>,
    /// A new summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// New participants (replacing the old list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participants: Option<Vec<ParticipantInput>>,
    /// New treaties (replacing the old list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub treaties: Option<Vec<ID>>,
    /// A new parent event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_of: Option<ID>,
    /// New ordering hints (replacing the old list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Vec<ID>>,
    /// A new retraction link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retracted_by: Option<ID>,
    /// New figures (replacing the old list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub figures: Option<Vec<FigureInput>>,
    /// New responses to earlier events (replacing the old list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responds: Option<Vec<ResponseInput>>,
    /// New sources (replacing the old list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<ID>>,
    /// A new editorial note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A ratification, as input.
#[derive(InputObject, Serialize, Clone)]
pub struct RatificationInput {
    /// The ratifying body (a full actor id).
    pub by: ID,
    /// When it ratified, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
}

/// A new treaty or agreement.
#[derive(InputObject, Serialize)]
pub struct CreateTreatyInput {
    /// The id to use (`treaty/x` or `x`); made from the name when left out.
    #[serde(skip)]
    pub id: Option<ID>,
    /// Its name; must not be empty.
    pub name: String,
    /// What sort of instrument it is.
    pub kind: TreatyKind,
    /// Other names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aliases: Option<Vec<String>>,
    /// True if it is only cited, not concluded within the story.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cited_only: Option<bool>,
    /// What it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// When it was signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_on: Option<String>,
    /// Where it was signed (a full place id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_at: Option<ID>,
    /// Parties (full actor ids).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parties: Option<Vec<ID>>,
    /// Signatories (full actor ids).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signatories: Option<Vec<ID>>,
    /// Ratifications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratifications: Option<Vec<RatificationInput>>,
    /// When it came into force.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entered_into_force_on: Option<String>,
    /// What it provides, a sentence each.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisions: Option<Vec<String>>,
    /// Who brokered it (a full actor id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mediator: Option<ID>,
    /// The treaty it rests on (a full treaty id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub based_on: Option<ID>,
    /// Source ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<ID>>,
    /// An editorial note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Changes to a treaty; fields left out keep their value, lists are replaced whole.
#[derive(InputObject, Serialize)]
pub struct UpdateTreatyInput {
    /// A new name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<TreatyKind>,
    /// New aliases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aliases: Option<Vec<String>>,
    /// Whether it is only cited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cited_only: Option<bool>,
    /// A new summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// A new signing date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_on: Option<String>,
    /// A new signing place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_at: Option<ID>,
    /// New parties.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parties: Option<Vec<ID>>,
    /// New signatories.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signatories: Option<Vec<ID>>,
    /// New ratifications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratifications: Option<Vec<RatificationInput>>,
    /// A new entry-into-force date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entered_into_force_on: Option<String>,
    /// New provisions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provisions: Option<Vec<String>>,
    /// A new mediator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mediator: Option<ID>,
    /// A new basis treaty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub based_on: Option<ID>,
    /// New sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<ID>>,
    /// A new editorial note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An amount of money, as input.
#[derive(InputObject, Serialize, Clone)]
pub struct MoneyInput {
    /// A positive whole number of currency units (a string or an Int).
    pub amount: BigInt,
    /// An ISO-4217 code such as `RUB`.
    pub currency: String,
}

/// A new funding allocation.
#[derive(InputObject, Serialize)]
pub struct CreateFundingAllocationInput {
    /// The id to use (`funding/x` or `x`); made from the title when left out.
    #[serde(skip)]
    pub id: Option<ID>,
    /// A short title.
    pub title: String,
    /// How much.
    pub amount: MoneyInput,
    /// Who gave it (a full actor id).
    pub donor: ID,
    /// Who received it (a full actor id).
    pub recipient: ID,
    /// What it was for.
    pub purpose: String,
    /// When it was allocated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Who authorised it (a full actor id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorized_by: Option<ID>,
    /// The treaty it rests on (a full treaty id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<ID>,
    /// The event in which it was allocated (a full event id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<ID>,
    /// Source ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<ID>>,
    /// An editorial note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Changes to a funding allocation; fields left out keep their value.
#[derive(InputObject, Serialize)]
pub struct UpdateFundingAllocationInput {
    /// A new title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A new amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<MoneyInput>,
    /// A new donor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub donor: Option<ID>,
    /// A new recipient.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<ID>,
    /// A new purpose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// A new date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// A new authoriser.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorized_by: Option<ID>,
    /// A new basis treaty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<ID>,
    /// A new event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<ID>,
    /// New sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<ID>>,
    /// A new editorial note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A new place.
#[derive(InputObject, Serialize)]
pub struct CreatePlaceInput {
    /// The id to use (`place/x` or `x`); made from the name when left out.
    #[serde(skip)]
    pub id: Option<ID>,
    /// Its name.
    pub name: String,
    /// What sort of place it is.
    pub kind: PlaceKind,
    /// Other names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aliases: Option<Vec<String>>,
    /// A short description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// The larger place it lies within (a full place id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within: Option<ID>,
    /// Source ids.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<ID>>,
    /// An editorial note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Changes to a place; fields left out keep their value.
#[derive(InputObject, Serialize)]
pub struct UpdatePlaceInput {
    /// A new name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A new kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<PlaceKind>,
    /// New aliases.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aliases: Option<Vec<String>>,
    /// A new description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// A new enclosing place.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within: Option<ID>,
    /// New sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<ID>>,
    /// A new editorial note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Adds or re-roles a participant of an event.
#[derive(InputObject)]
pub struct AddParticipantInput {
    /// The event (an id or bare slug).
    pub event: ID,
    /// The actor (an id or bare slug).
    pub actor: ID,
    /// The part it played; replaces the role if the actor already takes part.
    pub role: Role,
}

/// Removes a participant from an event.
#[derive(InputObject)]
pub struct RemoveParticipantInput {
    /// The event (an id or bare slug).
    pub event: ID,
    /// The actor to remove (an id or bare slug).
    pub actor: ID,
}

/// Records a ratification of a treaty.
#[derive(InputObject)]
pub struct AddRatificationInput {
    /// The treaty (an id or bare slug).
    pub treaty: ID,
    /// The ratifying body (an id or bare slug).
    pub by: ID,
    /// When, if known: `2008-10-29`, `2008-10` or `2008`.
    pub date: Option<String>,
}

/// Sets the treaty a funding allocation rests on.
#[derive(InputObject)]
pub struct LinkFundingToTreatyInput {
    /// The funding allocation (an id or bare slug).
    pub funding_allocation: ID,
    /// The treaty (an id or bare slug).
    pub treaty: ID,
}

/// Sets where an event happened.
#[derive(InputObject)]
pub struct LinkEventToPlaceInput {
    /// The event (an id or bare slug).
    pub event: ID,
    /// The place (an id or bare slug).
    pub place: ID,
}
