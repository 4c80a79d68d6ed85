//! From input to store commit: the input check (the seed parser and model
//! checks, with GraphQL paths in errors), ids made from names, and the
//! create, update and delete steps under the store's pipeline lock.

use async_graphql::{Context, Result, ID};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::graphql::errors::{bad_input, internal};
use crate::graphql::types::Node;
use crate::model::{text, Entity, EntityKind, Id, Origin};
use crate::store::{Change, Store, StoreError};

use super::{CreateInput, DeletePayload, WriteAccess, CONFLICT, STORAGE_UNAVAILABLE};

pub(super) fn require_write(ctx: &Context<'_>) -> Result<()> {
    use async_graphql::ErrorExtensions;
    ctx.data_opt::<WriteAccess>().map(|_| ()).ok_or_else(|| {
        async_graphql::Error::new("writes need `Authorization: Bearer <token>` with a configured write token")
            .extend_with(|_, e| e.set("code", "UNAUTHENTICATED"))
    })
}

/// `positions[0].part_of` → `positions[0].partOf`: seed paths in GraphQL spelling.
pub(super) fn camel(path: &str) -> String {
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
pub(super) fn allowed_char(c: char) -> bool {
    if c == '\n' || c == '\t' {
        return true;
    }
    !(c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c))
}

/// Checks every string of mutation input (seed-format JSON) against its
/// field's length limit and for refused characters; the error names the
/// field (`input.summary`, `input.positions[0].title`).
pub(super) fn check_text(value: &Value, path: &str, field: &str) -> Result<()> {
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
pub(super) fn parse(kind: EntityKind, value: &Value) -> Result<Entity> {
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

pub(super) fn store_error(err: StoreError) -> async_graphql::Error {
    use async_graphql::ErrorExtensions;
    match err {
        StoreError::MissingReference { field, target, .. } => {
            bad_input(&format!("input.{}", camel(field)), format!("`{target}` does not exist"))
        }
        StoreError::AlreadyExists { id } => bad_input("input.id", format!("{id} already exists")),
        e @ StoreError::Cycle { field, .. } => bad_input(&format!("input.{}", camel(field)), e.to_string()),
        StoreError::NotFound { id } => async_graphql::Error::new(format!("{id} does not exist"))
            .extend_with(|_, e| e.set("code", crate::graphql::NOT_FOUND)),
        e @ StoreError::Unavailable { .. } => {
            async_graphql::Error::new(e.to_string()).extend_with(|_, x| x.set("code", STORAGE_UNAVAILABLE))
        }
        e @ StoreError::Referenced { .. } => {
            async_graphql::Error::new(e.to_string()).extend_with(|_, x| x.set("code", CONFLICT))
        }
        other => internal(other),
    }
}

pub(super) fn store<'a>(ctx: &Context<'a>) -> Result<&'a Store> {
    ctx.data::<Store>()
}

/// Runs a write on the blocking pool: it waits for a disk flush.
pub(super) async fn run_write<T: Send + 'static>(
    store: &Store,
    write: impl FnOnce(Store) -> std::result::Result<T, StoreError> + Send + 'static,
) -> Result<T> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || write(store))
        .await
        .map_err(internal)?
        .map_err(store_error)
}

/// The ids a new entity may take when none is given: a slug of its name,
/// then the slug with `-2`, `-3`, … (the store takes the first free one).
pub(super) fn candidate_ids(kind: EntityKind, name: &str) -> Result<Vec<Id>> {
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

pub(super) fn to_map<T: Serialize>(input: &T) -> Result<Map<String, Value>> {
    match serde_json::to_value(input).map_err(internal)? {
        Value::Object(map) => Ok(map),
        _ => Err(internal("input did not serialise to an object")),
    }
}

/// Creates an entity of `kind` from its input, checked like seed data.
/// Without a given id, the id is chosen under the store's pipeline lock, so
/// concurrent creates of the same name all succeed.
pub(super) async fn create<T: CreateInput>(ctx: &Context<'_>, input: T) -> Result<Node> {
    require_write(ctx)?;
    create_in(store(ctx)?, input).await.map(Node::from)
}

/// [`create`] in `store`, once the write token has been checked.
pub(super) async fn create_in<T: CreateInput>(store: &Store, input: T) -> Result<Entity> {
    let kind = T::KIND;
    let fields = to_map(&input)?;
    let given = input.given_id();
    let name = input.label();
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
        let changes = vec![Change::Create {
            entity: entity.clone(),
            origin: Origin::Api,
        }];
        store.commit_async(changes).await.map_err(store_error)?;
        return Ok(entity);
    }
    match store.create_fresh_async(candidates, build).await {
        Ok((_, entity)) => Ok(entity),
        Err(e) => Err(e.into_error()),
    }
}

pub(super) fn entity_json(entity: &Entity) -> Result<Map<String, Value>> {
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
pub(super) enum EditError {
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
pub(super) fn revalidate(entity: Entity) -> Result<Entity> {
    let value = entity_json(&entity)?;
    parse(entity.kind(), &Value::Object(value))
}

/// Applies `edit` to the current state of `id` and commits it, under the
/// store's pipeline lock so that concurrent edits never lose one another.
pub(super) async fn modify(
    ctx: &Context<'_>,
    kind: EntityKind,
    id: &ID,
    edit: impl FnOnce(Entity) -> Result<Entity> + Send + 'static,
) -> Result<Node> {
    require_write(ctx)?;
    let id = Id::parse_as(kind, id.as_str()).map_err(|e| bad_input("id", e))?;
    let outcome = store(ctx)?
        .modify_async(id, |current| {
            edit(current).and_then(revalidate).map_err(EditError::Input)
        })
        .await;
    match outcome {
        Ok((_, entity)) => Ok(Node::from(entity)),
        Err(EditError::Store(e)) => Err(store_error(e)),
        Err(EditError::Input(e)) => Err(e),
    }
}

/// Applies a partial update: fields given replace the current ones (lists
/// are replaced whole); fields left out keep their value.
pub(super) async fn update(ctx: &Context<'_>, kind: EntityKind, id: &ID, patch: Map<String, Value>) -> Result<Node> {
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
pub(super) fn ensure_exists(ctx: &Context<'_>, field: &str, id: &Id) -> Result<()> {
    match store(ctx)?.get_record(id).map_err(internal)? {
        Some(_) => Ok(()),
        None => Err(bad_input(field, format!("`{id}` does not exist"))),
    }
}

pub(super) async fn delete(ctx: &Context<'_>, kind: EntityKind, id: &ID, cascade: bool) -> Result<DeletePayload> {
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

pub(super) fn id_ref(field: &str, kind: EntityKind, id: &ID) -> Result<Id> {
    Id::parse_as(kind, id.as_str()).map_err(|e| bad_input(field, e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn seed_paths_are_spelled_the_graphql_way() {
        assert_eq!(super::camel("positions[0].part_of"), "positions[0].partOf");
        assert_eq!(super::camel("entered_into_force_on"), "enteredIntoForceOn");
    }
}
