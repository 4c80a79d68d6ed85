//! Compiling a document into a plan: the spec's CollectFields over the
//! field table, with `@include`/`@skip` settled by the switch values the
//! plan is for.

use std::sync::atomic::AtomicUsize;
use std::sync::OnceLock;

use async_graphql::parser::types::{BaseType, ExecutableDocument, Field as FieldNode, Selection, SelectionSet, Type};
use async_graphql::{Name, Positioned};
use async_graphql_value::Value;
use rustc_hash::FxHashMap;

use super::{operation_of, Plan};
use crate::graphql::table::{shape, Shape, Ty};
use crate::model::Id;
use crate::read::page::Window;

/// One field of a selection: its response key, already JSON, and what it writes.
pub(super) struct Field {
    /// What the answer has before the field's value: `{` for the first
    /// field of an object, `,` for the others, then `"key":`. A field whose
    /// value is the same in every answer (`__typename`) has it here too.
    pub(super) key: Box<[u8]>,
    /// `key` followed by zeros to [`PADDED_KEY`] bytes, when it fits: a
    /// copy of a fixed size is a few moves where a copy of any size is a
    /// call, and the answer is cut back to `key`'s length after it.
    pub(super) padded: Option<[u8; PADDED_KEY]>,
    /// Whether `key` holds the value as well.
    pub(super) whole: bool,
    pub(super) shape: Shape,
    /// The arguments as written; variables are read at run time.
    pub(super) args: Vec<(Name, Value)>,
    /// The selection, for a field of an object type.
    pub(super) sel: Sel,
    /// The selection per entity type, for a field of the `Node` interface.
    pub(super) variants: Box<[(Ty, Sel)]>,
    /// Whether the arguments are written in the document, no variable
    /// among them: then what they read as is the same in every answer.
    pub(super) literal: bool,
    /// The id a lookup (`actor(id:)`, `node(id:)`) asks for, when it is
    /// written in the document and well-formed.
    pub(super) id: Option<Id>,
    /// The checked paging arguments of a connection field whose arguments
    /// are literal, once read (page limits are the server's, fixed).
    pub(super) window: OnceLock<Window>,
}

pub(super) type Sel = Box<[Field]>;

/// How long a field's key may be to be copied as a fixed-size block.
pub(super) const PADDED_KEY: usize = 32;

/// The types that implement `Node`.
pub(super) const ENTITY_TYPES: [Ty; 6] = [Ty::ACTOR, Ty::EVENT, Ty::TREATY, Ty::FUNDING, Ty::PLACE, Ty::SOURCE];

/// Fragments nest this deep at most (validation refuses cycles already).
pub(super) const MAX_FRAGMENT_NESTING: usize = 32;

pub(super) fn compile(
    doc: &ExecutableDocument,
    operation: Option<&str>,
    switches: &FxHashMap<Name, bool>,
) -> Option<Plan> {
    let op = operation_of(doc, operation)?;
    let compiler = Compiler { doc, switches };
    let root = compiler.selection(Ty::Query, &[&op.selection_set.node])?;
    Some(Plan {
        root,
        size: AtomicUsize::new(4096),
    })
}

/// The selection of an entity of type `ty` that a write answers with (see
/// `write.rs`): compiled as a read's would be, with no `@include`/`@skip`
/// variables; `None` unless every field it asks for is `__typename` or a
/// scalar of the entity in hand, which can be written without reading the
/// store and without a reason to give up once the write is kept.
pub(super) fn entity_selection(doc: &ExecutableDocument, ty: Ty, set: &SelectionSet) -> Option<Sel> {
    let switches = FxHashMap::default();
    let compiler = Compiler {
        doc,
        switches: &switches,
    };
    let sel = compiler.selection(ty, &[set])?;
    let scalars = sel
        .iter()
        .all(|field| matches!(field.shape, Shape::Typename(_) | Shape::Leaf(_)) && field.args.is_empty());
    (scalars && !sel.is_empty()).then_some(sel)
}

/// A variable of the operation: its name, type and default value.
pub(super) struct Variable {
    pub(super) name: Name,
    pub(super) ty: Type,
    pub(super) default: Option<async_graphql_value::ConstValue>,
}

impl Variable {
    pub(super) fn is_int(&self) -> bool {
        matches!(&self.ty.base, BaseType::Named(name) if name == "Int")
    }
}

pub(super) struct Compiler<'a> {
    doc: &'a ExecutableDocument,
    /// The values of the variables `@include`/`@skip` read.
    switches: &'a FxHashMap<Name, bool>,
}

/// The field nodes that share one response key, in document order.
pub(super) type ByKey<'d> = Vec<(Name, Vec<&'d FieldNode>)>;

impl<'d> Compiler<'d> {
    /// The fields of `ty` that a list of selection sets (one field's, or
    /// several fields' merged under one key) asks for, in answer order.
    fn selection(&self, ty: Ty, sets: &[&'d SelectionSet]) -> Option<Sel> {
        let mut keyed = ByKey::new();
        for set in sets {
            self.gather(ty, set, 0, &mut keyed)?;
        }
        keyed
            .iter()
            .enumerate()
            .map(|(i, (_, nodes))| self.field(ty, nodes, if i == 0 { b'{' } else { b',' }))
            .collect()
    }

    /// Whether a selection's `@include`/`@skip` directives keep it.
    fn kept(&self, directives: &[Positioned<async_graphql::parser::types::Directive>]) -> Option<bool> {
        let mut kept = true;
        for directive in directives {
            let directive = &directive.node;
            let value = match &directive.get_argument("if")?.node {
                Value::Boolean(b) => *b,
                Value::Variable(name) => *self.switches.get(name)?,
                _ => return None,
            };
            match directive.name.node.as_str() {
                "include" => kept &= value,
                "skip" => kept &= !value,
                _ => return None,
            }
        }
        Some(kept)
    }

    /// Flattens a selection set and the fragments that apply to `ty` into
    /// field nodes by response key, as the spec's CollectFields does: a key
    /// takes its place where it first appears, and every field under it
    /// merges its selection.
    fn gather(&self, ty: Ty, set: &'d SelectionSet, nesting: usize, out: &mut ByKey<'d>) -> Option<()> {
        if nesting > MAX_FRAGMENT_NESTING {
            return None;
        }
        for item in &set.items {
            if !self.kept(item.node.directives())? {
                continue;
            }
            let (condition, fragment) = match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let key = field.response_key().node.clone();
                    match out.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, nodes)) => nodes.push(field),
                        None => out.push((key, vec![field])),
                    }
                    continue;
                }
                Selection::FragmentSpread(spread) => {
                    let fragment = &self.doc.fragments.get(&spread.node.fragment_name.node)?.node;
                    if !fragment.directives.is_empty() {
                        return None;
                    }
                    (
                        Some(&fragment.type_condition.node.on.node),
                        &fragment.selection_set.node,
                    )
                }
                Selection::InlineFragment(inline) => (
                    inline.node.type_condition.as_ref().map(|c| &c.node.on.node),
                    &inline.node.selection_set.node,
                ),
            };
            let entity = ENTITY_TYPES.contains(&ty);
            match condition.map(|on| on.as_str()) {
                None => {}
                Some(on) if on == ty.name() || (entity && on == "Node") => {}
                // Under `Node`, a fragment on another entity type is for
                // entities of that type only.
                Some(on) if entity && ENTITY_TYPES.iter().any(|t| t.name() == on) => continue,
                Some(_) => return None,
            }
            self.gather(ty, fragment, nesting + 1, out)?;
        }
        Some(())
    }

    /// One response key of `parent`: the fields under it (validation made
    /// them the same field with the same arguments) and their selections merged.
    /// `before` is the byte that comes before it in its object.
    fn field(&self, parent: Ty, nodes: &[&'d FieldNode], before: u8) -> Option<Field> {
        let first = nodes.first()?;
        let shape = shape(parent, first.name.node.as_str())?;
        let sets: Vec<&SelectionSet> = nodes.iter().map(|n| &n.selection_set.node).collect();
        let asked = sets.iter().any(|set| !set.items.is_empty());
        let (sel, variants) = match shape.child() {
            None if !asked => (Sel::default(), Box::default()),
            Some(_) if !asked => return None,
            None => return None,
            Some(Ty::Node) => {
                let variants = ENTITY_TYPES
                    .iter()
                    .map(|&ty| Some((ty, self.selection(ty, &sets)?)))
                    .collect::<Option<_>>()?;
                (Sel::default(), variants)
            }
            Some(child) => (self.selection(child, &sets)?, Box::default()),
        };
        let mut key = vec![before];
        key.extend_from_slice(json_key(first.response_key().node.as_str()).as_bytes());
        let whole = match shape {
            Shape::Typename(ty) => {
                key.extend_from_slice(serde_json::to_string(ty.name()).ok()?.as_bytes());
                true
            }
            _ => false,
        };
        let args = arguments(shape, &first.arguments)?;
        let literal = args.iter().all(|(_, value)| value.clone().into_const().is_some());
        let id = match (shape, args.first()) {
            (Shape::Lookup(kind, _), Some((_, Value::String(id)))) => Id::parse_as(kind, id).ok(),
            (Shape::NodeLookup, Some((_, Value::String(id)))) => Id::parse(id).ok(),
            _ => None,
        };
        let padded = (key.len() <= PADDED_KEY).then(|| {
            let mut padded = [0; PADDED_KEY];
            padded[..key.len()].copy_from_slice(&key);
            padded
        });
        Some(Field {
            padded,
            key: key.into(),
            whole,
            shape,
            args,
            sel,
            variants,
            literal,
            id,
            window: OnceLock::new(),
        })
    }
}

/// A field's arguments, if the plan knows them all. A page size from a
/// variable is checked against sizes async-graphql accepted before the plan
/// runs ([`Document::answer`]).
pub(super) fn arguments(shape: Shape, args: &[(Positioned<Name>, Positioned<Value>)]) -> Option<Vec<(Name, Value)>> {
    const PAGE: &[&str] = &["first", "last", "after", "before", "filter"];
    let known: &[&str] = match shape {
        Shape::Lookup(..) | Shape::NodeLookup => &["id"],
        Shape::NodesById => &["ids"],
        Shape::Entities => &["representations"],
        Shape::AllEvents | Shape::ActorEvents(_) | Shape::Listing(..) => PAGE,
        Shape::Search => &["query", "first"],
        Shape::Timeline => &["from", "to", "actor", "first", "includeUndated"],
        Shape::PlaceEvents => &["includeWithin"],
        // Group-by aggregations (issue 17).
        Shape::EventStats | Shape::FundingStats => &["filter", "groupBy"],
        Shape::GroupMembers(_) => &["first", "last", "after", "before"],
        Shape::CoParticipants => &["first", "role"],
        // Typed event links.
        Shape::Responses(_) => &["kind"],
        Shape::Paths => &["from", "to", "maxHops", "via", "first", "budget"],
        Shape::Positions | Shape::TreatyStatus => &["asOf"],
        Shape::PositionHolders => &["title", "of", "asOf"],
        _ => &[],
    };
    args.iter()
        .map(|(name, value)| {
            let name = name.node.as_str();
            known.contains(&name).then(|| (Name::new(name), value.node.clone()))
        })
        .collect()
}

/// `"key":`, as it goes into the answer.
pub(super) fn json_key(key: &str) -> String {
    let mut out = serde_json::to_string(key).unwrap_or_default();
    out.push(':');
    out
}
