//! Resolvers read through the field table ([`crate::read::table`]): the
//! scalars, entities and lists its entries say, as GraphQL values.

use async_graphql::resolver_utils::EnumType;
use async_graphql::{Context, Result};

use super::errors::internal;
use super::types::{loaders, Node};
use crate::model::{self, PartialDate, Relation};
use crate::read::cache::Entity;
use crate::read::listing::place_events as place_events_of;
pub use crate::read::table::in_field_table;
pub(crate) use crate::read::table::{backward, shape, Leaf, Obj, Shape, Ty};

pub(crate) fn not_in_table(parent: Ty, field: &str) -> async_graphql::Error {
    internal(format!(
        "{}.{field} has no relation entry in the field table",
        parent.name()
    ))
}

/// The entity the field `field` of `parent` names on `obj`, read as its
/// field-table entry says (an id the entity holds); null if there is none
/// or it is of another type.
pub(crate) async fn one<T: TryFrom<Node>>(
    ctx: &Context<'_>,
    parent: Ty,
    field: &str,
    obj: Obj<'_>,
) -> Result<Option<T>> {
    let Some(Shape::One(read, ty)) = shape(parent, field) else {
        return Err(not_in_table(parent, field));
    };
    let Some(id) = read(obj).ok_or_else(|| not_in_table(parent, field))? else {
        return Ok(None);
    };
    let found = loaders(ctx)?.direct().entity(id).map_err(internal)?;
    Ok(found
        .filter(|e| ty.holds(e))
        .and_then(|e| T::try_from(Node::from(e)).ok()))
}

/// The entities the field `field` of `parent` lists on `node`, read as its
/// field-table entry says: ids the entity holds (in their order), a
/// relation followed back (in key order, or by date for events).
pub(crate) async fn many<T: TryFrom<Node>>(
    ctx: &Context<'_>,
    parent: Ty,
    field: &str,
    node: &Entity,
) -> Result<Vec<T>> {
    let reads = loaders(ctx)?.direct();
    let (entities, ty): (Vec<Entity>, Option<Ty>) = match shape(parent, field) {
        Some(Shape::Ids(read, ty)) => {
            let ids = read(Obj::Entity(node)).ok_or_else(|| not_in_table(parent, field))?;
            (
                reads.entities(ids).map_err(internal)?.into_iter().flatten().collect(),
                Some(ty),
            )
        }
        Some(Shape::Follow(relation, ty)) => (
            reads.nodes(&backward(relation, node)).map_err(internal)?.to_vec(),
            Some(ty),
        ),
        Some(Shape::CitedBy(relation)) => (reads.nodes(&backward(relation, node)).map_err(internal)?.to_vec(), None),
        Some(Shape::EventsByDate(relation)) => {
            let events = reads.sorted_events(&backward(relation, node)).map_err(internal)?;
            (events.iter().map(|(_, e)| e.clone()).collect(), Some(Ty::EVENT))
        }
        _ => return Err(not_in_table(parent, field)),
    };
    Ok(entities
        .into_iter()
        .filter(|e| ty.is_none_or(|ty| ty.holds(e)))
        .filter_map(|e| T::try_from(Node::from(e)).ok())
        .collect())
}

/// `Place.events`, read as its field-table entry says: the events at the
/// place and, with `within`, at every place within it.
pub(crate) fn place_events(ctx: &Context<'_>, place: &Entity, within: bool) -> Result<Vec<super::types::Event>> {
    let Some(Shape::PlaceEvents) = shape(Ty::PLACE, "events") else {
        return Err(not_in_table(Ty::PLACE, "events"));
    };
    let events = place_events_of(&loaders(ctx)?.direct(), place, within).map_err(super::errors::read_error)?;
    Ok(events
        .iter()
        .filter_map(|(_, e)| match e {
            Entity::Event(e) => Some(super::types::Event(e.clone())),
            _ => None,
        })
        .collect())
}

/// The relation a connection or list over related entities follows, as the
/// field table has it.
pub(crate) fn relation_of(parent: Ty, field: &str) -> Result<Relation> {
    match shape(parent, field) {
        Some(Shape::ActorEvents(relation) | Shape::Participations(relation)) => Ok(relation),
        _ => Err(not_in_table(parent, field)),
    }
}

/// A scalar field's value as a resolver returns it.
pub(crate) trait FromLeaf: Sized {
    fn from_leaf(leaf: Leaf<'_>) -> Option<Self>;
}

impl FromLeaf for String {
    fn from_leaf(leaf: Leaf<'_>) -> Option<String> {
        match leaf {
            Leaf::Str(s) | Leaf::Enum(s) => Some(s.to_owned()),
            Leaf::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl FromLeaf for async_graphql::ID {
    fn from_leaf(leaf: Leaf<'_>) -> Option<async_graphql::ID> {
        String::from_leaf(leaf).map(async_graphql::ID)
    }
}

impl FromLeaf for Option<String> {
    fn from_leaf(leaf: Leaf<'_>) -> Option<Option<String>> {
        match leaf {
            Leaf::OptStr(s) => Some(s.map(str::to_owned)),
            other => String::from_leaf(other).map(Some),
        }
    }
}

impl FromLeaf for Vec<String> {
    fn from_leaf(leaf: Leaf<'_>) -> Option<Vec<String>> {
        match leaf {
            Leaf::Strs(items) => Some(items.to_vec()),
            _ => None,
        }
    }
}

impl FromLeaf for Option<PartialDate> {
    fn from_leaf(leaf: Leaf<'_>) -> Option<Option<PartialDate>> {
        match leaf {
            Leaf::Date(date) => Some(date),
            _ => None,
        }
    }
}

impl FromLeaf for bool {
    fn from_leaf(leaf: Leaf<'_>) -> Option<bool> {
        match leaf {
            Leaf::Bool(b) => Some(b),
            _ => None,
        }
    }
}

impl FromLeaf for super::scalars::BigInt {
    fn from_leaf(leaf: Leaf<'_>) -> Option<super::scalars::BigInt> {
        match leaf {
            Leaf::Text(digits) => digits.parse::<i128>().ok().map(super::scalars::BigInt::new),
            _ => None,
        }
    }
}

impl FromLeaf for Option<i32> {
    fn from_leaf(leaf: Leaf<'_>) -> Option<Option<i32>> {
        match leaf {
            Leaf::Int(n) => n.map(i32::try_from).transpose().ok(),
            _ => None,
        }
    }
}

impl FromLeaf for usize {
    fn from_leaf(leaf: Leaf<'_>) -> Option<usize> {
        match leaf {
            Leaf::Int(Some(n)) => usize::try_from(n).ok(),
            _ => None,
        }
    }
}

/// Enums come out of the table by their GraphQL names.
macro_rules! enum_from_leaf {
    ($($ty:ty),+) => {$(
        impl FromLeaf for $ty {
            fn from_leaf(leaf: Leaf<'_>) -> Option<$ty> {
                match leaf {
                    Leaf::Enum(name) => <$ty as EnumType>::items().iter().find(|i| i.name == name).map(|i| i.value),
                    _ => None,
                }
            }
        }

        /// An enum that may be null (a group key's kind or role).
        impl FromLeaf for Option<$ty> {
            fn from_leaf(leaf: Leaf<'_>) -> Option<Option<$ty>> {
                match leaf {
                    Leaf::OptStr(None) => Some(None),
                    Leaf::OptStr(Some(name)) | Leaf::Enum(name) => {
                        <$ty as EnumType>::items().iter().find(|i| i.name == name).map(|i| Some(i.value))
                    }
                    _ => None,
                }
            }
        }
    )+};
}
enum_from_leaf!(
    model::ActorKind,
    model::EventKind,
    model::TreatyKind,
    model::PlaceKind,
    model::SourceKind,
    model::Role,
    model::ResponseKind,
    model::SearchField,
    model::MatchKind,
    model::RelationKind,
    model::TreatyState,
    model::Tenure
);

impl FromLeaf for i32 {
    fn from_leaf(leaf: Leaf<'_>) -> Option<i32> {
        match leaf {
            Leaf::Int(Some(n)) => i32::try_from(n).ok(),
            _ => None,
        }
    }
}

impl FromLeaf for Vec<PartialDate> {
    fn from_leaf(leaf: Leaf<'_>) -> Option<Vec<PartialDate>> {
        match leaf {
            Leaf::Dates(dates) => Some(dates.to_vec()),
            _ => None,
        }
    }
}

/// A scalar field of an object, read as its field-table entry says.
pub(crate) fn leaf<T: FromLeaf>(parent: Ty, field: &str, obj: Obj<'_>) -> Result<T> {
    match shape(parent, field) {
        Some(Shape::Leaf(read)) => read(obj).and_then(T::from_leaf),
        _ => None,
    }
    .ok_or_else(|| not_in_table(parent, field))
}
