//! Mutations: create, update and delete every kind of entity, and the
//! relation edits clients need. Input is validated exactly like seed data
//! (the same parser and checks), and each mutation is one store commit:
//! entity and index entries in one transaction, flushed before the answer.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use serde::Serialize;
use serde_json::{Map, Value};

use super::errors::{bad_input, internal};
use super::scalars::BigInt;
use super::types::{Actor, Event, FundingAllocation, Node, Place, Treaty};
use crate::model::{self, text, ActorKind, Entity, EntityKind, EventKind, Id, Origin, PlaceKind, Role, TreatyKind};
use crate::store::{Change, Committed, Store, StoreError};

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

fn require_write(ctx: &Context<'_>) -> Result<()> {
    use async_graphql::ErrorExtensions;
    ctx.data_opt::<WriteAccess>().map(|_| ()).ok_or_else(|| {
        async_graphql::Error::new("writes need `Authorization: Bearer <token>` with a configured write token")
            .extend_with(|_, e| e.set("code", "UNAUTHENTICATED"))
    })
}

/// `positions[0].part_of` → `positions[0].partOf`: seed paths in GraphQL spelling.
fn camel(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut upper = false;
    for c in path.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Longest text a field of mutation input may hold, in characters, by the
/// field's name (as in seed files); fields not listed get [`DEFAULT_TEXT_LIMIT`].
/// Documented in the README ("Writes").
pub const TEXT_LIMITS: &[(&str, usize)] = &[
    ("name", 300),
    ("title", 300),
    ("aliases", 300),
    ("label", 300),
    ("unit", 100),
    ("summary", 10_000),
    ("note", 10_000),
    ("provisions", 2_000),
    ("purpose", 2_000),
    ("section", 1_000),
];

/// Longest text of any other field (ids, dates, amounts are checked further on their own).
pub const DEFAULT_TEXT_LIMIT: usize = 1_000;

/// Whether `c` may be stored: no control characters but newline and tab,
/// and no bidirectional overrides or isolates (which can make stored text
/// read differently from what it holds).
fn allowed_char(c: char) -> bool {
    if c == '\n' || c == '\t' {
        return true;
    }
    !(c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c))
}

/// Checks every string of mutation input (seed-format JSON) against its
/// field's length limit and for refused characters; the error names the
/// field (`input.summary`, `input.positions[0].title`).
fn check_text(value: &Value, path: &str, field: &str) -> Result<()> {
    match value {
        Value::String(text) => {
            let limit = TEXT_LIMITS
                .iter()
                .find(|(name, _)| *name == field)
                .map_or(DEFAULT_TEXT_LIMIT, |(_, n)| *n);
            let chars = text.chars().count();
            if chars > limit {
                return Err(bad_input(
                    path,
                    format!("is {chars} characters long; the limit is {limit}"),
                ));
            }
            if let Some((at, c)) = text.chars().enumerate().find(|(_, c)| !allowed_char(*c)) {
                return Err(bad_input(
                    path,
                    format!(
                        "holds the control character U+{:04X} at character {at}; only newline and tab are allowed",
                        c as u32
                    ),
                ));
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_text(item, &format!("{path}[{i}]"), field)),
        Value::Object(map) => map
            .iter()
            .try_for_each(|(key, item)| check_text(item, &format!("{path}.{}", camel(key)), key)),
        _ => Ok(()),
    }
}

/// Turns a JSON value in seed format into a checked entity, or a
/// `BAD_USER_INPUT` error naming the input field at fault.
fn parse(kind: EntityKind, value: &Value) -> Result<Entity> {
    check_text(value, "input", "")?;
    let entity = crate::model::check::parse_entity(kind, value).map_err(|(field, message)| {
        let path = format!("input.{}", camel(field.as_deref().unwrap_or("")));
        bad_input(path.trim_end_matches('.'), message)
    })?;
    if let Some((field, message)) = crate::model::check::check_entity(&entity).into_iter().next() {
        return Err(bad_input(&format!("input.{}", camel(&field)), message));
    }
    Ok(entity)
}

fn store_error(err: StoreError) -> async_graphql::Error {
    use async_graphql::ErrorExtensions;
    match err {
        StoreError::MissingReference { field, target, .. } => {
            bad_input(&format!("input.{}", camel(field)), format!("`{target}` does not exist"))
        }
        StoreError::AlreadyExists { id } => bad_input("input.id", format!("{id} already exists")),
        e @ StoreError::Cycle { field, .. } => bad_input(&format!("input.{}", camel(field)), e.to_string()),
        StoreError::NotFound { id } => async_graphql::Error::new(format!("{id} does not exist"))
            .extend_with(|_, e| e.set("code", super::NOT_FOUND)),
        e @ StoreError::Unavailable { .. } => {
            async_graphql::Error::new(e.to_string()).extend_with(|_, x| x.set("code", STORAGE_UNAVAILABLE))
        }
        e @ StoreError::Referenced { .. } => {
            async_graphql::Error::new(e.to_string()).extend_with(|_, x| x.set("code", CONFLICT))
        }
        other => internal(other),
    }
}

fn store<'a>(ctx: &Context<'a>) -> Result<&'a Store> {
    ctx.data::<Store>()
}

/// Runs a write on the blocking pool: it waits for a disk flush.
async fn run_write<T: Send + 'static>(
    store: &Store,
    write: impl FnOnce(Store) -> std::result::Result<T, StoreError> + Send + 'static,
) -> Result<T> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || write(store))
        .await
        .map_err(internal)?
        .map_err(store_error)
}

async fn commit(ctx: &Context<'_>, changes: Vec<Change>) -> Result<std::sync::Arc<Committed>> {
    run_write(store(ctx)?, move |s| s.commit(&changes)).await
}

/// The ids a new entity may take when none is given: a slug of its name,
/// then the slug with `-2`, `-3`, … (the store takes the first free one).
fn candidate_ids(kind: EntityKind, name: &str) -> Result<Vec<Id>> {
    let folded = text::fold(name);
    let mut slug: String = folded
        .split(' ')
        .map(|w| w.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    slug.truncate(60);
    let slug = slug.trim_end_matches('-').to_owned();
    let base = if slug.is_empty() {
        kind.prefix().to_owned()
    } else {
        slug
    };
    (1..1000)
        .map(|n| {
            let candidate = if n == 1 { base.clone() } else { format!("{base}-{n}") };
            Id::new(kind, &candidate).map_err(|e| bad_input("input.id", e))
        })
        .collect()
}

fn to_map<T: Serialize>(input: &T) -> Result<Map<String, Value>> {
    match serde_json::to_value(input).map_err(internal)? {
        Value::Object(map) => Ok(map),
        _ => Err(internal("input did not serialise to an object")),
    }
}

/// Creates an entity of `kind` from its input, checked like seed data.
/// Without a given id, the id is chosen under the store's write lock, so
/// concurrent creates of the same name all succeed.
async fn create(
    ctx: &Context<'_>,
    kind: EntityKind,
    given: Option<&ID>,
    name: &str,
    fields: Map<String, Value>,
) -> Result<Node> {
    require_write(ctx)?;
    let build = move |id: Id| {
        let mut value = fields;
        value.remove("id");
        value.insert("id".into(), Value::String(id.to_string()));
        parse(kind, &Value::Object(value)).map_err(EditError::Input)
    };
    let candidates = match given {
        Some(given) => vec![Id::parse_as(kind, given.as_str()).map_err(|e| bad_input("input.id", e))?],
        None => candidate_ids(kind, name)?,
    };
    if given.is_some() {
        // A given id is taken as it is: `AlreadyExists` if it is not free.
        let entity = build(candidates[0].clone()).map_err(EditError::into_error)?;
        commit(
            ctx,
            vec![Change::Create {
                entity: entity.clone(),
                origin: Origin::Api,
            }],
        )
        .await?;
        return Ok(Node::from(entity));
    }
    let store = store(ctx)?.clone();
    let outcome = tokio::task::spawn_blocking(move || store.create_fresh(candidates, build))
        .await
        .map_err(internal)?;
    match outcome {
        Ok((_, entity)) => Ok(Node::from(entity)),
        Err(e) => Err(e.into_error()),
    }
}

fn entity_json(entity: &Entity) -> Result<Map<String, Value>> {
    match entity {
        Entity::Actor(e) => to_map(e),
        Entity::Event(e) => to_map(e),
        Entity::Treaty(e) => to_map(e),
        Entity::Funding(e) => to_map(e),
        Entity::Place(e) => to_map(e),
        Entity::Source(e) => to_map(e),
    }
}

/// Why an edit failed: in the store, or in the input.
enum EditError {
    Store(StoreError),
    Input(async_graphql::Error),
}

impl EditError {
    fn into_error(self) -> async_graphql::Error {
        match self {
            EditError::Store(e) => store_error(e),
            EditError::Input(e) => e,
        }
    }
}

impl From<StoreError> for EditError {
    fn from(e: StoreError) -> EditError {
        EditError::Store(e)
    }
}

/// Re-checks an edited entity exactly like seed data.
fn revalidate(entity: Entity) -> Result<Entity> {
    let value = entity_json(&entity)?;
    parse(entity.kind(), &Value::Object(value))
}

/// Applies `edit` to the current state of `id` and commits it, under the
/// store's write lock so that concurrent edits never lose one another.
async fn modify(
    ctx: &Context<'_>,
    kind: EntityKind,
    id: &ID,
    edit: impl FnOnce(Entity) -> Result<Entity> + Send + 'static,
) -> Result<Node> {
    require_write(ctx)?;
    let id = Id::parse_as(kind, id.as_str()).map_err(|e| bad_input("id", e))?;
    let store = store(ctx)?.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        store.modify(&id, |current| {
            edit(current).and_then(revalidate).map_err(EditError::Input)
        })
    })
    .await
    .map_err(internal)?;
    match outcome {
        Ok((_, entity)) => Ok(Node::from(entity)),
        Err(EditError::Store(e)) => Err(store_error(e)),
        Err(EditError::Input(e)) => Err(e),
    }
}

/// Applies a partial update: fields given replace the current ones (lists
/// are replaced whole); fields left out keep their value.
async fn update(ctx: &Context<'_>, kind: EntityKind, id: &ID, patch: Map<String, Value>) -> Result<Node> {
    modify(ctx, kind, id, move |current| {
        let mut value = entity_json(&current)?;
        for (k, v) in patch {
            value.insert(k, v);
        }
        parse(kind, &Value::Object(value))
    })
    .await
}

/// Fails with `BAD_USER_INPUT` naming `field` unless `id` exists.
fn ensure_exists(ctx: &Context<'_>, field: &str, id: &Id) -> Result<()> {
    match store(ctx)?.get_record(id).map_err(internal)? {
        Some(_) => Ok(()),
        None => Err(bad_input(field, format!("`{id}` does not exist"))),
    }
}

async fn delete(ctx: &Context<'_>, kind: EntityKind, id: &ID, cascade: bool) -> Result<DeletePayload> {
    require_write(ctx)?;
    let id = Id::parse_as(kind, id.as_str()).map_err(|e| bad_input("id", e))?;
    let target = id.clone();
    let committed = run_write(store(ctx)?, move |s| s.delete(&target, cascade)).await?;
    Ok(DeletePayload {
        deleted_id: ID(id.to_string()),
        cascaded: committed
            .changes
            .iter()
            .filter(|c| c.id != id)
            .map(|c| ID(c.id.to_string()))
            .collect(),
    })
}

fn id_ref(field: &str, kind: EntityKind, id: &ID) -> Result<Id> {
    Id::parse_as(kind, id.as_str()).map_err(|e| bad_input(field, e))
}

// ---- inputs -------------------------------------------------------------------

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
    pub date: Option<model::PartialDate>,
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
    pub date: Option<String>,
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

// ---- payloads -------------------------------------------------------------------

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
            fn from_node(node: Node) -> Result<$name> {
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

/// Writes. Every mutation needs `Authorization: Bearer <token>`; each is
/// one transaction, flushed to disk before the answer.
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
        let fields = to_map(&input)?;
        ActorPayload::from_node(create(ctx, EntityKind::Actor, input.id.as_ref(), &input.name, fields).await?)
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
        let fields = to_map(&input)?;
        EventPayload::from_node(create(ctx, EntityKind::Event, input.id.as_ref(), &input.title, fields).await?)
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
        let fields = to_map(&input)?;
        TreatyPayload::from_node(create(ctx, EntityKind::Treaty, input.id.as_ref(), &input.name, fields).await?)
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
        let fields = to_map(&input)?;
        FundingAllocationPayload::from_node(
            create(ctx, EntityKind::Funding, input.id.as_ref(), &input.title, fields).await?,
        )
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
        let fields = to_map(&input)?;
        PlacePayload::from_node(create(ctx, EntityKind::Place, input.id.as_ref(), &input.name, fields).await?)
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

#[cfg(test)]
mod tests {
    #[test]
    fn seed_paths_are_spelled_the_graphql_way() {
        assert_eq!(super::camel("positions[0].part_of"), "positions[0].partOf");
        assert_eq!(super::camel("entered_into_force_on"), "enteredIntoForceOn");
    }
}
