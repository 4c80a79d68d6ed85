//! The domain model: what the graph is made of.
//!
//! These records are both the seed-file format (JSON, with unknown fields
//! refused) and the on-disk format (postcard, behind a version byte written by
//! the store). Postcard is not self-describing, so records avoid serde
//! features that need it (`flatten`, `untagged`, `skip_serializing_if`), and
//! enum variants are only ever appended, never reordered.
//!
//! Relations are stored on one side only (an event lists its participants; an
//! actor does not list its events); [`Entity::edges`] names every relation an
//! entity holds, and the store derives the index trees for both directions
//! from it.

pub mod check;
mod date;
mod id;
mod money;
pub mod text;

pub use date::{civil_from_days, days_from_civil, DateError, DatePoint, PartialDate, Precision};
pub use id::{EntityKind, Id, IdError, MAX_ID_LEN};
pub use money::{Currency, Money, MoneyError};

use serde::{Deserialize, Serialize};

/// Declares a field-less enum with its snake_case wire names and GraphQL
/// descriptions, so seed files, storage and the API share one list.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, async_graphql::Enum)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The snake_case name used in seed files and index keys.
            pub fn as_str(self) -> &'static str {
                // serde_json's output for a unit variant is the quoted name.
                match self {
                    $($name::$variant => vocabulary!(@snake $variant)),+
                }
            }

            /// The SCREAMING_SNAKE_CASE name the GraphQL schema gives the value.
            pub fn graphql_name(self) -> &'static str {
                match self {
                    $($name::$variant => vocabulary!(@screaming $variant)),+
                }
            }
        }
    };
    (@screaming $variant:ident) => {{
        const NAME: &str = stringify!($variant);
        const BYTES: [u8; 64] = $crate::model::screaming_bytes(NAME);
        const LEN: usize = $crate::model::snake_len(NAME);
        // Settled at compile time, not checked as UTF-8 on every call.
        const SCREAMING: &str = match std::str::from_utf8(BYTES.split_at(LEN).0) { Ok(s) => s, Err(_) => NAME };
        SCREAMING
    }};
    (@snake $variant:ident) => {{
        const NAME: &str = stringify!($variant);
        const BYTES: [u8; 64] = $crate::model::snake_bytes(NAME);
        const LEN: usize = $crate::model::snake_len(NAME);
        // SAFETY-free: the bytes are ASCII produced from an identifier.
        const SNAKE: &str = match std::str::from_utf8(BYTES.split_at(LEN).0) { Ok(s) => s, Err(_) => NAME };
        SNAKE
    }};
}

/// Length of the snake_case form of a CamelCase identifier (compile time).
pub const fn snake_len(name: &str) -> usize {
    let b = name.as_bytes();
    let mut i = 0;
    let mut n = 0;
    while i < b.len() {
        if b[i].is_ascii_uppercase() && i > 0 {
            n += 1;
        }
        n += 1;
        i += 1;
    }
    n
}

/// The SCREAMING_SNAKE_CASE form of a CamelCase identifier, padded to 64
/// bytes (compile time).
pub const fn screaming_bytes(name: &str) -> [u8; 64] {
    let mut out = snake_bytes(name);
    let mut i = 0;
    while i < out.len() {
        out[i] = out[i].to_ascii_uppercase();
        i += 1;
    }
    out
}

/// The snake_case form of a CamelCase identifier, padded to 64 bytes (compile time).
pub const fn snake_bytes(name: &str) -> [u8; 64] {
    let b = name.as_bytes();
    let mut out = [0u8; 64];
    let mut i = 0;
    let mut n = 0;
    while i < b.len() {
        if b[i].is_ascii_uppercase() {
            if i > 0 {
                out[n] = b'_';
                n += 1;
            }
            out[n] = b[i].to_ascii_lowercase();
        } else {
            out[n] = b[i];
        }
        n += 1;
        i += 1;
    }
    out
}

vocabulary! {
    /// What sort of actor this is.
    ActorKind {
        /// A sovereign state recognised by most of the world, such as Russia or Georgia.
        State,
        /// A state that declared independence but that most states do not recognise, such as South Ossetia or Abkhazia.
        UnrecognisedState,
        /// A body of several states, such as the United Nations, NATO or the European Union.
        InternationalOrganisation,
        /// A government as a whole or its executive office, such as the Russian government.
        Government,
        /// A ministry or department, such as the Russian Ministry of Foreign Affairs.
        Ministry,
        /// A parliament or one of its chambers, such as the State Duma.
        Legislature,
        /// An army or military command, such as the Russian Armed Forces.
        ArmedForce,
        /// A border guard service.
        BorderGuard,
        /// A state agency other than a ministry, such as a prosecutor's office.
        Agency,
        /// An embassy or other diplomatic mission.
        DiplomaticMission,
        /// A political party.
        PoliticalParty,
        /// A news agency, broadcaster or newspaper.
        Media,
        /// A named person.
        Person,
        /// A group of people acting together: a population, a leadership, peacekeepers.
        Group,
    }
}

vocabulary! {
    /// What sort of event this is.
    EventKind {
        /// Fighting: an offensive, shelling, a war.
        MilitaryAction,
        /// Troops or border guards sent somewhere and stationed there.
        Deployment,
        /// Troops pulled back.
        Withdrawal,
        /// Something said in public: a declaration, a warning, a denial, a claim.
        Statement,
        /// An interview given to the press.
        Interview,
        /// A speech to a legislature or a nation.
        Address,
        /// A public gathering.
        Rally,
        /// A formal request to another party.
        Appeal,
        /// A motion or resolution passed by a legislature.
        Motion,
        /// Recognition of a state's independence.
        Recognition,
        /// A decree (ukaz), directive or instruction from an executive.
        Decree,
        /// A visit by an official.
        Visit,
        /// An appointment to a post.
        Appointment,
        /// An ambassador presenting letters of credence.
        Credentials,
        /// The signing of a treaty or agreement.
        Signing,
        /// The ratification of a treaty by a legislature.
        Ratification,
        /// A treaty coming into force.
        EntryIntoForce,
        /// Diplomatic relations established.
        EstablishmentOfRelations,
        /// Diplomatic relations severed.
        SeveringOfRelations,
        /// A declaration of independence or of status.
        Declaration,
        /// Criticism or condemnation of another party's act.
        Condemnation,
        /// A statement withdrawing an earlier statement.
        Retraction,
        /// A grant of money.
        Allocation,
        /// A ceremony opening a building or service.
        Opening,
        /// A meeting or talks between officials.
        Meeting,
        /// A policy carried out over time, such as granting citizenship.
        Policy,
        /// A long-running situation or conflict, the parent of smaller events.
        Conflict,
    }
}

vocabulary! {
    /// The part an actor played in an event.
    Role {
        /// Did the thing the event is about: launched the offensive, signed the decree.
        Actor,
        /// Was the object of the act: the one attacked, recognised, appointed to, criticised.
        Target,
        /// Said the words of a statement or interview.
        Speaker,
        /// Signed a document.
        Signatory,
        /// Is a party to an agreement made at the event.
        Party,
        /// Brokered or mediated between others.
        Mediator,
        /// Received visitors or hosted the event.
        Host,
        /// Travelled to the event.
        Visitor,
        /// Was addressed by an appeal, address or credentials.
        Addressee,
        /// Was appointed.
        Appointee,
        /// Published, broadcast or conducted an interview.
        Medium,
        /// Attended or took part without leading.
        Participant,
        /// Received money or help.
        Beneficiary,
        /// Voiced criticism of the act.
        Critic,
        /// Was affected: casualties, displaced residents, damaged property.
        Affected,
    }
}

vocabulary! {
    /// What sort of instrument a treaty is.
    TreatyKind {
        /// A treaty between states.
        Treaty,
        /// An agreement between states or their bodies.
        Agreement,
        /// An agreement to stop fighting.
        Ceasefire,
        /// A partnership between parties or organisations.
        Partnership,
        /// An exchange of diplomatic notes.
        ExchangeOfNotes,
        /// A founding charter, such as the Charter of the United Nations.
        Charter,
        /// A declaration of principles adopted by states.
        Declaration,
        /// The final act of a conference.
        FinalAct,
    }
}

vocabulary! {
    /// What sort of place this is.
    PlaceKind {
        /// A country or territory.
        Country,
        /// A region or province.
        Region,
        /// A city or town.
        City,
        /// A building or compound.
        Building,
        /// A military base.
        MilitaryBase,
        /// A road or rail tunnel.
        Tunnel,
        /// A geographic area spanning several countries, such as the South Caucasus.
        Area,
    }
}

vocabulary! {
    /// How directly a source states what is cited from it.
    SourceKind {
        /// The running text of the document: what it states outright.
        Body,
        /// A photo caption: stated, but only in passing, and sometimes at odds with the text.
        Caption,
        /// Not stated anywhere: the seed's own inference from the document, explained in the citing entity's `note`.
        Inferred,
    }
}

vocabulary! {
    /// The field of an entity a search word was found in.
    SearchField {
        /// The name of an actor, treaty or place.
        Name,
        /// The title of an event or a funding allocation.
        Title,
        /// One of the other names or spellings of an actor, treaty or place.
        Aliases,
        /// The one-line summary.
        Summary,
        /// What a funding allocation is for.
        Purpose,
        /// One of a treaty's provisions.
        Provisions,
        /// One of an event's figures: its label or its value ("3700").
        Figures,
        /// The editor's note on the entity.
        Note,
        /// The section of a source.
        Section,
        /// The document a source is.
        Document,
    }
}

vocabulary! {
    /// How a search word matched the words of a field, closest first.
    MatchKind {
        /// The word itself, ignoring case and accents.
        Exact,
        /// A longer word the search word begins ("medved" in "Medvedev").
        Prefix,
        /// Another romanisation of the same name ("Tskhinvali" for "Tskhinval", "Kokoyty" for "Kokoity"), or the name in Cyrillic.
        Transliteration,
        /// A word one typo away (two for words of eight letters or more): a letter added, dropped, replaced or two swapped.
        Typo,
    }
}

// Written out because `vocabulary!` fixes the derive list for every
// vocabulary, and only this one has a default (what older records mean).
#[allow(clippy::derivable_impls)]
impl Default for SourceKind {
    fn default() -> Self {
        SourceKind::Body
    }
}

vocabulary! {
    /// How an event answers an earlier one (see `Event.responds`).
    ResponseKind {
        /// Takes back an earlier statement of the same speaker. Read from the
        /// retracted statement's `retractedBy`, the one place a retraction is
        /// stored: `responds` in a seed file or a mutation never lists one.
        Retracts,
        /// Says that what an earlier statement claimed is not so.
        Denies,
        /// Says that an earlier event did happen as stated, such as a deployment completed.
        Confirms,
        /// Condemns or criticises an earlier act.
        Condemns,
        /// Calls on the author of an earlier act to undo it, such as to rescind a recognition.
        DemandsReversal,
        /// Dismisses the criticism an earlier statement made.
        RejectsCriticism,
        /// Welcomes or praises an earlier act.
        Welcomes,
        /// Takes up and backs what an earlier appeal asked for.
        Endorses,
        /// Carries out what an earlier instruction or decision ordered.
        Implements,
        /// Answers an earlier act with an act of its own against it, such as severing relations over a recognition.
        Counters,
    }
}

/// An earlier event an event answers, and how: a denial of a remark, a
/// condemnation of a recognition.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    /// The earlier event answered.
    pub event: Id,
    pub kind: ResponseKind,
}

/// A post held by a person (or a body), in or for another actor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    pub title: String,
    /// The actor the post belongs to (a state, ministry, party…).
    pub of: Id,
    #[serde(default)]
    pub from: Option<PartialDate>,
    #[serde(default)]
    pub to: Option<PartialDate>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    pub id: Id,
    pub name: String,
    pub kind: ActorKind,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub summary: Option<String>,
    /// The larger actor this one belongs to (a ministry to its state).
    #[serde(default)]
    pub part_of: Option<Id>,
    #[serde(default)]
    pub positions: Vec<Position>,
    #[serde(default)]
    pub sources: Vec<Id>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Participant {
    pub actor: Id,
    pub role: Role,
}

/// A labelled number: 3,700 soldiers; 70 percent of housing destroyed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    pub label: String,
    pub value: i64,
    pub unit: String,
    /// Who stated the figure, when it is a claim rather than an established count.
    #[serde(default)]
    pub claimed_by: Option<Id>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub id: Id,
    pub title: String,
    pub kind: EventKind,
    /// Absent when the source gives no date; never invented.
    #[serde(default)]
    pub date: Option<PartialDate>,
    #[serde(default)]
    pub place: Option<Id>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub participants: Vec<Participant>,
    #[serde(default)]
    pub treaties: Vec<Id>,
    /// The larger event this one is a part of.
    #[serde(default)]
    pub part_of: Option<Id>,
    /// Ordering hints for undated events: events this one came after.
    #[serde(default)]
    pub after: Vec<Id>,
    /// For statements: the later event in which the speaker took it back.
    #[serde(default)]
    pub retracted_by: Option<Id>,
    #[serde(default)]
    pub figures: Vec<Figure>,
    #[serde(default)]
    pub sources: Vec<Id>,
    #[serde(default)]
    pub note: Option<String>,
    /// Earlier events this one answers, and how (a denial, a condemnation).
    /// A retraction is not listed here: `retracted_by` on the retracted
    /// statement says it, and reads show it as a `retracts` response. Last
    /// in the record, after the fields of record layout 3, which had none
    /// (see [`legacy`]).
    #[serde(default)]
    pub responds: Vec<Response>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ratification {
    pub by: Id,
    #[serde(default)]
    pub date: Option<PartialDate>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Treaty {
    pub id: Id,
    pub name: String,
    pub kind: TreatyKind,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// True for instruments the source only cites (the UN Charter), as
    /// opposed to ones concluded within the story.
    #[serde(default)]
    pub cited_only: bool,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub signed_on: Option<PartialDate>,
    #[serde(default)]
    pub signed_at: Option<Id>,
    #[serde(default)]
    pub parties: Vec<Id>,
    #[serde(default)]
    pub signatories: Vec<Id>,
    #[serde(default)]
    pub ratifications: Vec<Ratification>,
    #[serde(default)]
    pub entered_into_force_on: Option<PartialDate>,
    #[serde(default)]
    pub provisions: Vec<String>,
    #[serde(default)]
    pub mediator: Option<Id>,
    /// A treaty this one implements or rests on.
    #[serde(default)]
    pub based_on: Option<Id>,
    #[serde(default)]
    pub sources: Vec<Id>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FundingAllocation {
    pub id: Id,
    pub title: String,
    pub amount: Money,
    pub donor: Id,
    pub recipient: Id,
    pub purpose: String,
    #[serde(default)]
    pub date: Option<PartialDate>,
    #[serde(default)]
    pub authorized_by: Option<Id>,
    /// The treaty the allocation rests on, where known.
    #[serde(default)]
    pub basis: Option<Id>,
    /// The event in which the allocation was made.
    #[serde(default)]
    pub event: Option<Id>,
    #[serde(default)]
    pub sources: Vec<Id>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    pub id: Id,
    pub name: String,
    pub kind: PlaceKind,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub within: Option<Id>,
    #[serde(default)]
    pub sources: Vec<Id>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Where a fact comes from: a document and a section of it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub id: Id,
    pub document: String,
    #[serde(default)]
    pub section: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// Body text, caption or inference. Last in the record, after the fields
    /// of record layout 1, which had none (see [`legacy`]).
    #[serde(default)]
    pub kind: SourceKind,
}

/// Every relation the graph holds. Each is stored on one entity (the `from`
/// side) and indexed by the store in both directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Relation {
    /// event → actor, with the participant's role.
    EventParticipant,
    /// event → place where it happened.
    EventPlace,
    /// event → treaty it concerned.
    EventTreaty,
    /// event → larger event it is part of.
    EventPartOf,
    /// event → earlier event it followed (ordering hint).
    EventAfter,
    /// statement → the event that retracted it.
    EventRetractedBy,
    /// event → actor who claimed one of its figures.
    EventFigureClaimant,
    /// actor → actor in which it holds a position.
    ActorPositionIn,
    /// actor → larger actor it belongs to.
    ActorPartOf,
    /// treaty → party.
    TreatyParty,
    /// treaty → signatory.
    TreatySignatory,
    /// treaty → ratifying actor.
    TreatyRatifier,
    /// treaty → mediator.
    TreatyMediator,
    /// treaty → place of signing.
    TreatySignedAt,
    /// treaty → treaty it rests on.
    TreatyBasedOn,
    /// funding → donor.
    FundingDonor,
    /// funding → recipient.
    FundingRecipient,
    /// funding → who authorised it.
    FundingAuthorizedBy,
    /// funding → treaty it rests on.
    FundingBasis,
    /// funding → event in which it was made.
    FundingEvent,
    /// place → larger place it lies within.
    PlaceWithin,
    /// any entity → source.
    CitedSource,
    /// event → earlier event it answers, with the kind of response (issue 17: typed event links).
    EventResponds,
}

impl Relation {
    pub const ALL: [Relation; 23] = [
        Relation::EventParticipant,
        Relation::EventPlace,
        Relation::EventTreaty,
        Relation::EventPartOf,
        Relation::EventAfter,
        Relation::EventRetractedBy,
        Relation::EventFigureClaimant,
        Relation::ActorPositionIn,
        Relation::ActorPartOf,
        Relation::TreatyParty,
        Relation::TreatySignatory,
        Relation::TreatyRatifier,
        Relation::TreatyMediator,
        Relation::TreatySignedAt,
        Relation::TreatyBasedOn,
        Relation::FundingDonor,
        Relation::FundingRecipient,
        Relation::FundingAuthorizedBy,
        Relation::FundingBasis,
        Relation::FundingEvent,
        Relation::PlaceWithin,
        Relation::CitedSource,
        Relation::EventResponds,
    ];

    /// The kind the relation points at (`None`: any kind, for sources' holders).
    pub fn target_kind(self) -> EntityKind {
        use Relation::*;
        match self {
            EventParticipant | EventFigureClaimant | ActorPositionIn | ActorPartOf | TreatyParty | TreatySignatory
            | TreatyRatifier | TreatyMediator | FundingDonor | FundingRecipient | FundingAuthorizedBy => {
                EntityKind::Actor
            }
            EventPlace | TreatySignedAt | PlaceWithin => EntityKind::Place,
            EventTreaty | TreatyBasedOn | FundingBasis => EntityKind::Treaty,
            EventPartOf | EventAfter | EventRetractedBy | FundingEvent | EventResponds => EntityKind::Event,
            CitedSource => EntityKind::Source,
        }
    }

    /// The seed field that holds the relation, for error messages.
    /// Whether the relation must never loop: nothing is part of, within,
    /// after, retracted by, answering or based on itself, directly or through others.
    /// Mutations refuse a write that would make such a cycle.
    pub fn is_acyclic(self) -> bool {
        use Relation::*;
        matches!(
            self,
            EventPartOf | EventAfter | EventRetractedBy | ActorPartOf | TreatyBasedOn | PlaceWithin | EventResponds
        )
    }

    pub fn field(self) -> &'static str {
        use Relation::*;
        match self {
            EventParticipant => "participants.actor",
            EventPlace => "place",
            EventTreaty => "treaties",
            EventPartOf => "part_of",
            EventAfter => "after",
            EventRetractedBy => "retracted_by",
            EventFigureClaimant => "figures.claimed_by",
            ActorPositionIn => "positions.of",
            ActorPartOf => "part_of",
            TreatyParty => "parties",
            TreatySignatory => "signatories",
            TreatyRatifier => "ratifications.by",
            TreatyMediator => "mediator",
            TreatySignedAt => "signed_at",
            TreatyBasedOn => "based_on",
            FundingDonor => "donor",
            FundingRecipient => "recipient",
            FundingAuthorizedBy => "authorized_by",
            FundingBasis => "basis",
            FundingEvent => "event",
            PlaceWithin => "within",
            CitedSource => "sources",
            EventResponds => "responds.event",
        }
    }
}

/// One relation instance: `from --relation--> to`, with a small payload
/// (the participant's role, the ratification date) kept in the index value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Edge {
    pub relation: Relation,
    pub to: Id,
    pub payload: Vec<u8>,
}

/// Any entity of the graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Entity {
    Actor(Actor),
    Event(Event),
    Treaty(Treaty),
    Funding(FundingAllocation),
    Place(Place),
    Source(Source),
}

fn edge(relation: Relation, to: &Id) -> Edge {
    Edge {
        relation,
        to: to.clone(),
        payload: Vec::new(),
    }
}

/// The search weight of a word in an entity's name or title; aliases weigh
/// 3, provisions and figures 2, summaries, purposes and notes 1.
pub const LABEL_WEIGHT: u8 = 4;

impl Entity {
    pub fn id(&self) -> &Id {
        match self {
            Entity::Actor(e) => &e.id,
            Entity::Event(e) => &e.id,
            Entity::Treaty(e) => &e.id,
            Entity::Funding(e) => &e.id,
            Entity::Place(e) => &e.id,
            Entity::Source(e) => &e.id,
        }
    }

    pub fn kind(&self) -> EntityKind {
        match self {
            Entity::Actor(_) => EntityKind::Actor,
            Entity::Event(_) => EntityKind::Event,
            Entity::Treaty(_) => EntityKind::Treaty,
            Entity::Funding(_) => EntityKind::Funding,
            Entity::Place(_) => EntityKind::Place,
            Entity::Source(_) => EntityKind::Source,
        }
    }

    /// The display name: a name or a title.
    pub fn label(&self) -> &str {
        match self {
            Entity::Actor(e) => &e.name,
            Entity::Event(e) => &e.title,
            Entity::Treaty(e) => &e.name,
            Entity::Funding(e) => &e.title,
            Entity::Place(e) => &e.name,
            Entity::Source(e) => e.section.as_deref().unwrap_or(&e.document),
        }
    }

    /// The date the entity is ordered by, where it has one.
    pub fn date(&self) -> Option<&PartialDate> {
        match self {
            Entity::Event(e) => e.date.as_ref(),
            Entity::Treaty(t) => t.signed_on.as_ref(),
            Entity::Funding(f) => f.date.as_ref(),
            _ => None,
        }
    }

    /// The kind value used by `*_by_kind` indexes, as its snake_case name.
    pub fn subkind(&self) -> Option<&'static str> {
        match self {
            Entity::Actor(e) => Some(e.kind.as_str()),
            Entity::Event(e) => Some(e.kind.as_str()),
            Entity::Treaty(e) => Some(e.kind.as_str()),
            Entity::Place(e) => Some(e.kind.as_str()),
            Entity::Funding(_) | Entity::Source(_) => None,
        }
    }

    /// Text worth searching: each field it is in, and its weight (names
    /// count most, see [`LABEL_WEIGHT`]). The search index and the matches a
    /// search hit reports both read this one list.
    pub fn search_text(&self) -> Vec<(SearchField, std::borrow::Cow<'_, str>, u8)> {
        use std::borrow::Cow;
        use SearchField as F;
        fn borrowed(field: SearchField, text: &str, weight: u8) -> (SearchField, Cow<'_, str>, u8) {
            (field, Cow::Borrowed(text), weight)
        }
        let mut out = Vec::new();
        let (label, aliases, summary, note): (SearchField, &[String], Option<&String>, Option<&String>) = match self {
            Entity::Actor(e) => (F::Name, &e.aliases, e.summary.as_ref(), e.note.as_ref()),
            Entity::Event(e) => (F::Title, &[], e.summary.as_ref(), e.note.as_ref()),
            Entity::Treaty(e) => (F::Name, &e.aliases, e.summary.as_ref(), e.note.as_ref()),
            Entity::Funding(e) => (F::Title, &[], None, e.note.as_ref()),
            Entity::Place(e) => (F::Name, &e.aliases, e.summary.as_ref(), e.note.as_ref()),
            Entity::Source(e) => (
                if e.section.is_some() { F::Section } else { F::Document },
                &[],
                None,
                e.note.as_ref(),
            ),
        };
        out.push(borrowed(label, self.label(), LABEL_WEIGHT));
        out.extend(aliases.iter().map(|a| borrowed(F::Aliases, a, 3)));
        match self {
            Entity::Treaty(t) => out.extend(t.provisions.iter().map(|p| borrowed(F::Provisions, p, 2))),
            Entity::Event(e) => out.extend(e.figures.iter().map(|f| {
                (
                    F::Figures,
                    Cow::Owned(format!("{}: {} {}", f.label, f.value, f.unit)),
                    2,
                )
            })),
            Entity::Funding(f) => out.push(borrowed(F::Purpose, &f.purpose, 1)),
            Entity::Source(s) if s.section.is_some() => out.push(borrowed(F::Document, &s.document, 1)),
            _ => {}
        }
        out.extend(summary.map(|s| borrowed(F::Summary, s, 1)));
        out.extend(note.map(|n| borrowed(F::Note, n, 1)));
        out
    }

    /// Every relation this entity holds, each pointing at another entity.
    pub fn edges(&self) -> Vec<Edge> {
        use Relation::*;
        let mut out = Vec::new();
        let sources = match self {
            Entity::Actor(a) => {
                out.extend(a.positions.iter().map(|p| edge(ActorPositionIn, &p.of)));
                out.extend(a.part_of.iter().map(|p| edge(ActorPartOf, p)));
                &a.sources
            }
            Entity::Event(e) => {
                out.extend(e.participants.iter().map(|p| Edge {
                    relation: EventParticipant,
                    to: p.actor.clone(),
                    payload: p.role.as_str().as_bytes().to_vec(),
                }));
                out.extend(e.place.iter().map(|p| edge(EventPlace, p)));
                out.extend(e.treaties.iter().map(|t| edge(EventTreaty, t)));
                out.extend(e.part_of.iter().map(|p| edge(EventPartOf, p)));
                out.extend(e.after.iter().map(|p| edge(EventAfter, p)));
                out.extend(e.retracted_by.iter().map(|p| edge(EventRetractedBy, p)));
                out.extend(e.responds.iter().map(|r| Edge {
                    relation: EventResponds,
                    to: r.event.clone(),
                    payload: r.kind.as_str().as_bytes().to_vec(),
                }));
                out.extend(
                    e.figures
                        .iter()
                        .filter_map(|f| f.claimed_by.as_ref())
                        .map(|c| edge(EventFigureClaimant, c)),
                );
                &e.sources
            }
            Entity::Treaty(t) => {
                out.extend(t.parties.iter().map(|p| edge(TreatyParty, p)));
                out.extend(t.signatories.iter().map(|p| edge(TreatySignatory, p)));
                out.extend(t.ratifications.iter().map(|r| Edge {
                    relation: TreatyRatifier,
                    to: r.by.clone(),
                    payload: r.date.map(|d| d.to_string().into_bytes()).unwrap_or_default(),
                }));
                out.extend(t.mediator.iter().map(|p| edge(TreatyMediator, p)));
                out.extend(t.signed_at.iter().map(|p| edge(TreatySignedAt, p)));
                out.extend(t.based_on.iter().map(|p| edge(TreatyBasedOn, p)));
                &t.sources
            }
            Entity::Funding(f) => {
                out.push(edge(FundingDonor, &f.donor));
                out.push(edge(FundingRecipient, &f.recipient));
                out.extend(f.authorized_by.iter().map(|p| edge(FundingAuthorizedBy, p)));
                out.extend(f.basis.iter().map(|p| edge(FundingBasis, p)));
                out.extend(f.event.iter().map(|p| edge(FundingEvent, p)));
                &f.sources
            }
            Entity::Place(p) => {
                out.extend(p.within.iter().map(|w| edge(PlaceWithin, w)));
                &p.sources
            }
            Entity::Source(_) => return out,
        };
        out.extend(sources.iter().map(|s| edge(CitedSource, s)));
        // One index entry per (relation, target): an actor holding two posts in
        // the same ministry is one edge. Keep the first payload seen.
        let mut seen = std::collections::HashSet::new();
        out.retain(|e| seen.insert((e.relation, e.to.clone())));
        out
    }
}

/// Who owns an entity: the seed files or a client writing through the API.
/// A re-seed replaces seed-owned entities and never touches API-owned ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Origin {
    Seed,
    Api,
}

/// An entity as the store keeps it: the entity and who owns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub origin: Origin,
    pub entity: Entity,
}

/// Record layouts older than the current one, kept so that stores written
/// by earlier builds still open. Postcard is not self-describing, so a field
/// added to a record cannot be defaulted on read: each old layout is spelt
/// out here and converted, with the new fields at their defaults.
pub mod legacy {
    use serde::{Deserialize, Serialize};

    use super::{
        Actor, Entity, Event, Figure, FundingAllocation, Id, Origin, PartialDate, Participant, Place, Record, Source,
        SourceKind, Treaty,
    };

    /// Layouts 2 and 3: an event had no `responds`; everything else is as now.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct RecordV3 {
        pub origin: Origin,
        pub entity: EntityV3,
    }

    /// [`Entity`] in layouts 2 and 3: the same variants, in the same order.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub enum EntityV3 {
        Actor(Actor),
        Event(EventV3),
        Treaty(Treaty),
        Funding(FundingAllocation),
        Place(Place),
        Source(Source),
    }

    /// [`Event`] in layouts 1 to 3, without `responds`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct EventV3 {
        pub id: Id,
        pub title: String,
        pub kind: super::EventKind,
        pub date: Option<PartialDate>,
        pub place: Option<Id>,
        pub summary: Option<String>,
        pub participants: Vec<Participant>,
        pub treaties: Vec<Id>,
        pub part_of: Option<Id>,
        pub after: Vec<Id>,
        pub retracted_by: Option<Id>,
        pub figures: Vec<Figure>,
        pub sources: Vec<Id>,
        pub note: Option<String>,
    }

    impl From<EventV3> for Event {
        fn from(old: EventV3) -> Event {
            Event {
                id: old.id,
                title: old.title,
                kind: old.kind,
                date: old.date,
                place: old.place,
                summary: old.summary,
                participants: old.participants,
                treaties: old.treaties,
                part_of: old.part_of,
                after: old.after,
                retracted_by: old.retracted_by,
                figures: old.figures,
                sources: old.sources,
                note: old.note,
                // Written before events had typed responses: they answered nothing.
                responds: Vec::new(),
            }
        }
    }

    impl From<RecordV3> for Record {
        fn from(old: RecordV3) -> Record {
            let entity = match old.entity {
                EntityV3::Actor(a) => Entity::Actor(a),
                EntityV3::Event(e) => Entity::Event(e.into()),
                EntityV3::Treaty(t) => Entity::Treaty(t),
                EntityV3::Funding(f) => Entity::Funding(f),
                EntityV3::Place(p) => Entity::Place(p),
                EntityV3::Source(s) => Entity::Source(s),
            };
            Record {
                origin: old.origin,
                entity,
            }
        }
    }

    /// Layout 1: a source had no `kind` (and an event no `responds`).
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct RecordV1 {
        pub origin: Origin,
        pub entity: EntityV1,
    }

    /// [`Entity`] in layout 1: the same variants, in the same order.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub enum EntityV1 {
        Actor(Actor),
        Event(EventV3),
        Treaty(Treaty),
        Funding(FundingAllocation),
        Place(Place),
        Source(SourceV1),
    }

    /// [`Source`] in layout 1.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct SourceV1 {
        pub id: Id,
        pub document: String,
        pub section: Option<String>,
        pub url: Option<String>,
        pub note: Option<String>,
    }

    impl From<RecordV1> for Record {
        fn from(old: RecordV1) -> Record {
            let entity = match old.entity {
                EntityV1::Actor(a) => Entity::Actor(a),
                EntityV1::Event(e) => Entity::Event(e.into()),
                EntityV1::Treaty(t) => Entity::Treaty(t),
                EntityV1::Funding(f) => Entity::Funding(f),
                EntityV1::Place(p) => Entity::Place(p),
                // Every source written before sources had a kind cited the body text.
                EntityV1::Source(s) => Entity::Source(Source {
                    id: s.id,
                    document: s.document,
                    section: s.section,
                    url: s.url,
                    note: s.note,
                    kind: SourceKind::Body,
                }),
            };
            Record {
                origin: old.origin,
                entity,
            }
        }
    }
}

impl Entity {
    /// This entity with every reference to `gone` removed, for a cascading
    /// delete. `None` when the entity cannot exist without it (a funding
    /// allocation whose donor or recipient is deleted goes too).
    pub fn without_reference(&self, gone: &Id) -> Option<Entity> {
        let keep = |id: &Id| id != gone;
        let keep_opt = |id: &mut Option<Id>| {
            if id.as_ref() == Some(gone) {
                *id = None;
            }
        };
        let mut out = self.clone();
        match &mut out {
            Entity::Actor(a) => {
                a.positions.retain(|p| keep(&p.of));
                keep_opt(&mut a.part_of);
                a.sources.retain(keep);
            }
            Entity::Event(e) => {
                e.participants.retain(|p| keep(&p.actor));
                keep_opt(&mut e.place);
                e.treaties.retain(keep);
                keep_opt(&mut e.part_of);
                e.after.retain(keep);
                keep_opt(&mut e.retracted_by);
                e.responds.retain(|r| keep(&r.event));
                for f in &mut e.figures {
                    keep_opt(&mut f.claimed_by);
                }
                e.sources.retain(keep);
            }
            Entity::Treaty(t) => {
                t.parties.retain(keep);
                t.signatories.retain(keep);
                t.ratifications.retain(|r| keep(&r.by));
                keep_opt(&mut t.mediator);
                keep_opt(&mut t.signed_at);
                keep_opt(&mut t.based_on);
                t.sources.retain(keep);
            }
            Entity::Funding(f) => {
                if &f.donor == gone || &f.recipient == gone {
                    return None;
                }
                keep_opt(&mut f.authorized_by);
                keep_opt(&mut f.basis);
                keep_opt(&mut f.event);
                f.sources.retain(keep);
            }
            Entity::Place(p) => {
                keep_opt(&mut p.within);
                p.sources.retain(keep);
            }
            Entity::Source(_) => {}
        }
        Some(out)
    }
}

// Issue 17, paths and as-of views: the vocabularies their answers use.

vocabulary! {
    /// A kind of step between two entities, named in one sense (`Sergey Lavrov SIGNED the exchange
    /// of notes`); a path step says whether it reads in that sense or the other (`signed by`).
    /// `PART_OF` covers actors and events, `BASED_ON` treaties and funding.
    RelationKind {
        /// An actor took part in an event, in a role.
        ParticipatedIn,
        /// An actor is a party to a treaty.
        PartyTo,
        /// An actor signed a treaty.
        Signed,
        /// An actor ratified a treaty.
        Ratified,
        /// An actor mediated a treaty.
        Mediated,
        /// An actor gave a funding allocation.
        Funded,
        /// An actor received a funding allocation.
        Received,
        /// An actor authorized a funding allocation.
        Authorized,
        /// An actor claimed one of an event's figures.
        ClaimedFigureIn,
        /// An event (a retraction) retracts an earlier statement.
        Retracts,
        /// A person holds a position in an actor (a state, a ministry).
        HoldsPositionIn,
        /// An actor belongs to a larger one; an event is part of a larger one.
        PartOf,
        /// An event took place at a place.
        LocatedAt,
        /// A treaty was signed at a place.
        SignedAt,
        /// A place lies within a larger one.
        Within,
        /// An event concerns a treaty.
        Concerns,
        /// A treaty rests on an earlier one; a funding allocation rests on a treaty.
        BasedOn,
        /// A funding allocation was made in an event.
        MadeIn,
        /// An event came after an earlier one (an ordering hint).
        After,
        /// An event responds to an earlier one (denies, confirms, condemns it...); a retraction
        /// is a `RETRACTS` step.
        Responds,
        /// An entity cites a source. Left out of paths unless `via` names it: shared sources
        /// connect nearly everything in two steps.
        Cites,
    }
}

vocabulary! {
    /// How far a treaty had come by a date.
    TreatyState {
        /// None of its recorded steps had been taken yet (or none is dated).
        Proposed,
        /// Signed, not yet ratified by every ratifier the sources record.
        Signed,
        /// Signed and ratified by every ratifier the sources record, not yet in force.
        Ratified,
        /// In force.
        InForce,
    }
}

vocabulary! {
    /// Where a position's tenure comes from.
    Tenure {
        /// The sources give its dates (`from`, `to`, or both).
        Stated,
        /// The sources give no dates; `attestedOn` lists the dates of the events the holder
        /// took part in, and the post is taken as held from the first to the last (an inference).
        Attested,
        /// The sources give no dates and the holder took part in no dated event.
        Unknown,
    }
}

impl Relation {
    /// The kind of step the relation is, and whether its holder is the
    /// subject of that kind's sense (`PART_OF`: the part holds it) or its
    /// target is (`SIGNED`: the treaty holds its signatories).
    pub fn step_kind(self) -> (RelationKind, bool) {
        use RelationKind as K;
        match self {
            Relation::EventParticipant => (K::ParticipatedIn, false),
            Relation::TreatyParty => (K::PartyTo, false),
            Relation::TreatySignatory => (K::Signed, false),
            Relation::TreatyRatifier => (K::Ratified, false),
            Relation::TreatyMediator => (K::Mediated, false),
            Relation::FundingDonor => (K::Funded, false),
            Relation::FundingRecipient => (K::Received, false),
            Relation::FundingAuthorizedBy => (K::Authorized, false),
            Relation::EventFigureClaimant => (K::ClaimedFigureIn, false),
            Relation::EventRetractedBy => (K::Retracts, false),
            Relation::ActorPositionIn => (K::HoldsPositionIn, true),
            Relation::ActorPartOf | Relation::EventPartOf => (K::PartOf, true),
            Relation::EventPlace => (K::LocatedAt, true),
            Relation::TreatySignedAt => (K::SignedAt, true),
            Relation::PlaceWithin => (K::Within, true),
            Relation::EventTreaty => (K::Concerns, true),
            Relation::TreatyBasedOn | Relation::FundingBasis => (K::BasedOn, true),
            Relation::FundingEvent => (K::MadeIn, true),
            Relation::EventAfter => (K::After, true),
            Relation::EventResponds => (K::Responds, true),
            Relation::CitedSource => (K::Cites, true),
        }
    }
}

impl RelationKind {
    /// How a step of this kind reads, in its sense and in the other.
    pub fn phrases(self) -> (&'static str, &'static str) {
        use RelationKind as K;
        match self {
            K::ParticipatedIn => ("participated in", "had as participant"),
            K::PartyTo => ("party to", "has as party"),
            K::Signed => ("signed", "signed by"),
            K::Ratified => ("ratified", "ratified by"),
            K::Mediated => ("mediated", "mediated by"),
            K::Funded => ("funded", "funded by"),
            K::Received => ("received", "received by"),
            K::Authorized => ("authorized", "authorized by"),
            K::ClaimedFigureIn => ("claimed a figure in", "has a figure claimed by"),
            K::Retracts => ("retracts", "retracted by"),
            K::HoldsPositionIn => ("holds a position in", "has as position holder"),
            K::PartOf => ("part of", "has as part"),
            K::LocatedAt => ("took place at", "place of"),
            K::SignedAt => ("signed at", "place of signing of"),
            K::Within => ("within", "contains"),
            K::Concerns => ("concerns", "concerned by"),
            K::BasedOn => ("based on", "basis of"),
            K::MadeIn => ("made in", "occasion of"),
            K::After => ("after", "followed by"),
            K::Responds => ("responds to", "responded to by"),
            K::Cites => ("cites", "cited by"),
        }
    }
}
