//! Compiled queries: a read's JSON answer written straight from the store's
//! entities, without async-graphql's per-field futures and value tree.
//!
//! A document is compiled only after async-graphql has run it once without
//! an error. By then it has passed parsing, validation and every limit, and
//! those depend on the document alone: page sizes must be written in the
//! document, and the variables a plan takes (ids, cursors, search words,
//! event filters) change no limit. A plan covers the entities, their
//! relations and lists, the `Node` interface, the connections, `search` and
//! `timeline`; a document that uses anything else (directives, funding
//! totals, `nodes(ids:)`, introspection) stays with async-graphql.
//!
//! Whatever would make async-graphql report an error (an id or a cursor it
//! refuses, a page over the limit, a failed read) makes a plan give up and
//! leave the request to async-graphql, so every error keeps a single source
//! and a plan's answer is always the one async-graphql would give. The tests
//! in `tests/api/plans.rs` compare the two over every entity of the seed.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, Field as FieldNode, OperationType, Selection, SelectionSet, Type,
};
use async_graphql::resolver_utils::EnumType;
use async_graphql::{InputType, Name, Positioned, ID};
use async_graphql_value::Value;
use rustc_hash::FxHashMap;
use serde_json::{Map, Value as Json};

use super::connection::{
    self, event_sort_key, hex, listing_page, page_sorted, page_with, window_among, Limits, PageArgs, ParsedEventFilter,
    Window,
};
use super::filters::{ActorFilter, EventFilter, FundingFilter, TreatyFilter};
use super::loaders::{Direct, Link, ReadCache};
use super::query::{
    actor_set, event_listing, funding_keyed, search_hits, sum_amounts, timeline_ids, treaty_set, TimelineArgs,
};
use super::scalars::Money;
use super::types::{role_from, Node};
use crate::model::{self, EntityKind, Id, PartialDate, Relation};
use crate::store::{Direction, Keyed, Store};

/// Plans the server keeps at most; past that it starts over.
const MAX_PLANS: usize = 1000;

/// Plans one document keeps at most, one per combination of the values its
/// `@include`/`@skip` variables take.
const MAX_VARIANTS: usize = 16;

/// Sets of page sizes one document remembers as accepted.
const MAX_PROVEN: usize = 8;

/// What was learned of one document, per operation name: what plans need
/// of it, or `None` when plans cannot answer it (so it is not looked at again).
type Learned = Vec<(Option<String>, Option<Arc<Document>>)>;

/// The plans learned so far, by document text.
#[derive(Default)]
pub struct Plans(Mutex<FxHashMap<String, Learned>>);

impl Plans {
    fn get(&self, query: &str, operation: Option<&str>) -> Option<Option<Arc<Document>>> {
        let known = self.0.lock().ok()?;
        known
            .get(query)?
            .iter()
            .find(|(op, _)| op.as_deref() == operation)
            .map(|(_, doc)| doc.clone())
    }

    /// Whether the document was looked at before (whether or not plans can answer it).
    pub fn knows(&self, query: &str, operation: Option<&str>) -> bool {
        self.get(query, operation).is_some()
    }

    /// Learns from a run of `doc` that async-graphql just finished without
    /// error: what plans need of the document, the first time; and, every
    /// time, that its page sizes (the values of its `Int` variables) passed
    /// the complexity limit.
    pub fn learn(
        &self,
        query: &str,
        operation: Option<&str>,
        doc: Option<&ExecutableDocument>,
        variables: Option<&Map<String, Json>>,
    ) {
        let learned = match self.get(query, operation) {
            Some(learned) => learned,
            None => {
                let Some(doc) = doc else { return };
                let learned = Document::new(doc, operation).map(Arc::new);
                let Ok(mut known) = self.0.lock() else { return };
                if known.len() >= MAX_PLANS {
                    known.clear();
                }
                known
                    .entry(query.to_owned())
                    .or_default()
                    .push((operation.map(str::to_owned), learned.clone()));
                learned
            }
        };
        if let Some(document) = learned {
            if let Ok(sizes) = document.sizes(variables) {
                document.prove(sizes);
            }
        }
    }

    /// The answer to a read, when its document has a plan and the plan sees
    /// it through; `None` leaves the request to async-graphql.
    pub fn answer(
        &self,
        query: &str,
        operation: Option<&str>,
        variables: Option<&Map<String, Json>>,
        reads: Reads<'_>,
    ) -> Run<Vec<u8>> {
        let document = self.get(query, operation).flatten().ok_or(GiveUp::Unsure)?;
        document.answer(variables, reads)
    }

    /// Whether plans can answer the document at all (learned before).
    pub fn covers(&self, query: &str, operation: Option<&str>) -> Option<bool> {
        self.get(query, operation).map(|doc| doc.is_some())
    }
}

/// What plans keep of a document they can answer.
pub struct Document {
    doc: ExecutableDocument,
    operation: Option<String>,
    variables: Vec<Variable>,
    /// The `Boolean` variables its `@include`/`@skip` directives read.
    switches: Vec<Name>,
    /// A plan per combination of switch values (a bit each), compiled when
    /// first asked for; `None` when that combination cannot be planned.
    variants: Mutex<Vec<(u64, Option<Arc<Plan>>)>>,
    /// Page sizes (the values of the `Int` variables, in order) async-graphql
    /// ran the document with, without error.
    proven: Mutex<Vec<Vec<Option<i64>>>>,
}

/// The operation of a document, as a request names it.
fn operation_of<'d>(
    doc: &'d ExecutableDocument,
    operation: Option<&str>,
) -> Option<&'d async_graphql::parser::types::OperationDefinition> {
    let op = match (&doc.operations, operation) {
        (DocumentOperations::Single(op), None) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
        _ => return None,
    };
    Some(&op.node)
}

impl Document {
    fn new(doc: &ExecutableDocument, operation: Option<&str>) -> Option<Document> {
        let op = operation_of(doc, operation)?;
        if op.ty != OperationType::Query || !op.directives.is_empty() {
            return None;
        }
        let mut variables = Vec::new();
        for def in &op.variable_definitions {
            let def = &def.node;
            if !def.directives.is_empty() {
                return None;
            }
            variables.push(Variable {
                name: def.name.node.clone(),
                ty: def.var_type.node.clone(),
                default: def.default_value.as_ref().map(|v| v.node.clone()),
            });
        }
        let mut switches = Vec::new();
        switches_in(doc, &op.selection_set.node, &mut switches, 0)?;
        if switches.len() > 6 {
            return None;
        }
        Some(Document {
            doc: doc.clone(),
            operation: operation.map(str::to_owned),
            variables,
            switches,
            variants: Mutex::new(Vec::new()),
            proven: Mutex::new(Vec::new()),
        })
    }

    /// The values of the `Int` variables: the page sizes, which set the
    /// query's complexity.
    fn sizes(&self, given: Option<&Map<String, Json>>) -> Run<Vec<Option<i64>>> {
        let mut sizes = Vec::new();
        for variable in self.variables.iter().filter(|v| v.is_int()) {
            let value = match given.and_then(|g| g.get(variable.name.as_str())) {
                Some(json) => json.as_i64(),
                None => match &variable.default {
                    Some(async_graphql_value::ConstValue::Number(n)) => n.as_i64(),
                    _ => None,
                },
            };
            sizes.push(value);
        }
        Ok(sizes)
    }

    /// Remembers page sizes async-graphql accepted, keeping only sets no
    /// other set covers.
    fn prove(&self, sizes: Vec<Option<i64>>) {
        let Ok(mut proven) = self.proven.lock() else { return };
        if proven.iter().any(|p| covered(&sizes, p)) {
            return;
        }
        proven.retain(|p| !covered(p, &sizes));
        if proven.len() >= MAX_PROVEN {
            proven.remove(0);
        }
        proven.push(sizes);
    }

    fn answer(&self, variables: Option<&Map<String, Json>>, reads: Reads<'_>) -> Run<Vec<u8>> {
        for variable in &self.variables {
            let given = variables.and_then(|v| v.get(variable.name.as_str()));
            let defaulted = given.is_none() && variable.default.is_some();
            if !defaulted && !coercible(&variable.ty, given) {
                return Err(GiveUp::Unsure);
            }
        }
        // Complexity grows with every page size, so sizes no larger than
        // ones async-graphql accepted are within the limit too.
        let sizes = self.sizes(variables)?;
        if !self
            .proven
            .lock()
            .map_err(|_| GiveUp::Unsure)?
            .iter()
            .any(|p| covered(&sizes, p))
        {
            return Err(GiveUp::Unsure);
        }
        let plan = self.variant(variables)?;
        plan.run(variables, &self.variables, reads)
    }

    /// The plan for the switch values `variables` give.
    fn variant(&self, variables: Option<&Map<String, Json>>) -> Run<Arc<Plan>> {
        let mut on = FxHashMap::default();
        let mut mask = 0u64;
        for (i, name) in self.switches.iter().enumerate() {
            let value = match variables.and_then(|v| v.get(name.as_str())) {
                Some(Json::Bool(b)) => *b,
                Some(_) => return Err(GiveUp::Unsure),
                None => match self
                    .variables
                    .iter()
                    .find(|v| v.name == *name)
                    .and_then(|v| v.default.as_ref())
                {
                    Some(async_graphql_value::ConstValue::Boolean(b)) => *b,
                    _ => return Err(GiveUp::Unsure),
                },
            };
            if value {
                mask |= 1 << i;
            }
            on.insert(name.clone(), value);
        }
        let mut variants = self.variants.lock().map_err(|_| GiveUp::Unsure)?;
        if let Some((_, plan)) = variants.iter().find(|(m, _)| *m == mask) {
            return plan.clone().ok_or(GiveUp::Unsure);
        }
        if variants.len() >= MAX_VARIANTS {
            return Err(GiveUp::Unsure);
        }
        let plan = compile(&self.doc, self.operation.as_deref(), &on).map(Arc::new);
        variants.push((mask, plan.clone()));
        plan.ok_or(GiveUp::Unsure)
    }
}

/// Whether every page size in `sizes` is at most the one in `proven`.
fn covered(sizes: &[Option<i64>], proven: &[Option<i64>]) -> bool {
    sizes.len() == proven.len()
        && sizes.iter().zip(proven).all(|(s, p)| match (s, p) {
            (Some(s), Some(p)) => s <= p,
            (s, p) => s == p,
        })
}

/// Collects the variables `@include`/`@skip` read in a selection and the
/// fragments it spreads; `None` for any other directive.
fn switches_in(doc: &ExecutableDocument, set: &SelectionSet, out: &mut Vec<Name>, nesting: usize) -> Option<()> {
    if nesting > MAX_FRAGMENT_NESTING * 4 {
        return None;
    }
    for item in &set.items {
        for directive in item.node.directives() {
            let directive = &directive.node;
            if !matches!(directive.name.node.as_str(), "include" | "skip") {
                return None;
            }
            if let Some(Value::Variable(name)) = directive.get_argument("if").map(|v| &v.node) {
                if !out.contains(name) {
                    out.push(name.clone());
                }
            }
        }
        match &item.node {
            Selection::Field(field) => switches_in(doc, &field.node.selection_set.node, out, nesting + 1)?,
            Selection::InlineFragment(inline) => switches_in(doc, &inline.node.selection_set.node, out, nesting + 1)?,
            Selection::FragmentSpread(spread) => {
                let fragment = &doc.fragments.get(&spread.node.fragment_name.node)?.node;
                if !fragment.directives.is_empty() {
                    return None;
                }
                switches_in(doc, &fragment.selection_set.node, out, nesting + 1)?
            }
        }
    }
    Some(())
}

/// Whether a JSON variable value is one async-graphql coerces to `ty`
/// without complaint (when unsure, no: the request is left to it).
fn coercible(ty: &Type, value: Option<&Json>) -> bool {
    let value = match value {
        None | Some(Json::Null) => return ty.nullable,
        Some(value) => value,
    };
    match &ty.base {
        BaseType::List(inner) => match value {
            Json::Array(items) => items.iter().all(|item| coercible(inner, Some(item))),
            _ => false,
        },
        BaseType::Named(name) => match name.as_str() {
            "Int" => value.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            "Boolean" => value.is_boolean(),
            "String" | "ID" => value.is_string(),
            other => input_registry().input_value(other, value),
        },
    }
}

/// The input types of the schema, to check variables of enum and input
/// object types against.
struct InputRegistry(async_graphql::registry::Registry);

fn input_registry() -> &'static InputRegistry {
    static REGISTRY: std::sync::OnceLock<InputRegistry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = async_graphql::registry::Registry::default();
        <super::QueryRoot as async_graphql::OutputType>::create_type_info(&mut registry);
        InputRegistry(registry)
    })
}

impl InputRegistry {
    fn input_value(&self, type_name: &str, value: &Json) -> bool {
        use async_graphql::registry::MetaType;
        match (self.0.types.get(type_name), value) {
            (Some(MetaType::Enum { enum_values, .. }), Json::String(s)) => enum_values.contains_key(s.as_str()),
            (
                Some(MetaType::InputObject {
                    input_fields,
                    oneof: false,
                    ..
                }),
                Json::Object(fields),
            ) => {
                fields.keys().all(|k| input_fields.contains_key(k.as_str()))
                    && input_fields.values().all(|field| {
                        let given = fields.get(field.name.as_str());
                        if given.is_none() && field.default_value.is_some() {
                            return true;
                        }
                        Type::new(&field.ty).is_some_and(|ty| coercible(&ty, given))
                    })
            }
            _ => false,
        }
    }
}

/// What a plan reads from, and until when.
pub struct Reads<'a> {
    pub store: &'a Store,
    pub cache: &'a ReadCache,
    pub limits: Limits,
    /// The operation's time limit: a plan that runs past it stops.
    pub deadline: Instant,
}

/// A document compiled for one operation.
pub struct Plan {
    root: Sel,
    /// The size of the last answer, to size the next one's buffer.
    size: AtomicUsize,
}

/// Why a plan did not answer.
#[derive(Debug, PartialEq)]
pub enum GiveUp {
    /// The request is left to async-graphql.
    Unsure,
    /// The operation's time ran out.
    TimedOut,
}

type Run<T = ()> = Result<T, GiveUp>;

impl<E: std::error::Error> From<E> for GiveUp {
    fn from(_: E) -> GiveUp {
        GiveUp::Unsure
    }
}

// ---- what a plan knows of the schema ----------------------------------------

/// The object types a plan writes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    Query,
    Actor,
    Event,
    Treaty,
    FundingAllocation,
    Place,
    Source,
    Participant,
    Ratification,
    EventConnection,
    EventEdge,
    ActorConnection,
    ActorEdge,
    TreatyConnection,
    TreatyEdge,
    PlaceConnection,
    PlaceEdge,
    FundingAllocationConnection,
    FundingAllocationEdge,
    PageInfo,
    Position,
    Participation,
    Figure,
    Money,
    Period,
    SearchHit,
    /// The `Node` interface: an entity of any type.
    Node,
}

impl Ty {
    /// Every type a plan writes.
    const ALL: [Ty; 27] = [
        Ty::Query,
        Ty::Actor,
        Ty::Event,
        Ty::Treaty,
        Ty::FundingAllocation,
        Ty::Place,
        Ty::Source,
        Ty::Participant,
        Ty::Ratification,
        Ty::EventConnection,
        Ty::EventEdge,
        Ty::ActorConnection,
        Ty::ActorEdge,
        Ty::TreatyConnection,
        Ty::TreatyEdge,
        Ty::PlaceConnection,
        Ty::PlaceEdge,
        Ty::FundingAllocationConnection,
        Ty::FundingAllocationEdge,
        Ty::PageInfo,
        Ty::Position,
        Ty::Participation,
        Ty::Figure,
        Ty::Money,
        Ty::Period,
        Ty::SearchHit,
        Ty::Node,
    ];

    fn name(self) -> &'static str {
        match self {
            Ty::Query => "Query",
            Ty::Actor => "Actor",
            Ty::Event => "Event",
            Ty::Treaty => "Treaty",
            Ty::FundingAllocation => "FundingAllocation",
            Ty::Place => "Place",
            Ty::Source => "Source",
            Ty::Participant => "Participant",
            Ty::Ratification => "Ratification",
            Ty::EventConnection => "EventConnection",
            Ty::EventEdge => "EventEdge",
            Ty::ActorConnection => "ActorConnection",
            Ty::ActorEdge => "ActorEdge",
            Ty::TreatyConnection => "TreatyConnection",
            Ty::TreatyEdge => "TreatyEdge",
            Ty::PlaceConnection => "PlaceConnection",
            Ty::PlaceEdge => "PlaceEdge",
            Ty::FundingAllocationConnection => "FundingAllocationConnection",
            Ty::FundingAllocationEdge => "FundingAllocationEdge",
            Ty::Position => "Position",
            Ty::Participation => "Participation",
            Ty::Figure => "Figure",
            Ty::PageInfo => "PageInfo",
            Ty::Money => "Money",
            Ty::Period => "Period",
            Ty::SearchHit => "SearchHit",
            Ty::Node => "Node",
        }
    }

    /// For a connection type, the types of its nodes and of its edges.
    fn connection(self) -> Option<(Ty, Ty)> {
        Some(match self {
            Ty::EventConnection => (Ty::Event, Ty::EventEdge),
            Ty::ActorConnection => (Ty::Actor, Ty::ActorEdge),
            Ty::TreatyConnection => (Ty::Treaty, Ty::TreatyEdge),
            Ty::PlaceConnection => (Ty::Place, Ty::PlaceEdge),
            Ty::FundingAllocationConnection => (Ty::FundingAllocation, Ty::FundingAllocationEdge),
            _ => return None,
        })
    }

    /// For an edge type, the type of its node.
    fn edge(self) -> Option<Ty> {
        Some(match self {
            Ty::EventEdge => Ty::Event,
            Ty::ActorEdge => Ty::Actor,
            Ty::TreatyEdge => Ty::Treaty,
            Ty::PlaceEdge => Ty::Place,
            Ty::FundingAllocationEdge => Ty::FundingAllocation,
            _ => return None,
        })
    }

    /// The kind of entity of an entity type.
    fn kind(self) -> Option<EntityKind> {
        Some(match self {
            Ty::Actor => EntityKind::Actor,
            Ty::Event => EntityKind::Event,
            Ty::Treaty => EntityKind::Treaty,
            Ty::FundingAllocation => EntityKind::Funding,
            Ty::Place => EntityKind::Place,
            Ty::Source => EntityKind::Source,
            _ => return None,
        })
    }

    /// Whether an entity is of this type.
    fn holds(self, node: &Node) -> bool {
        matches!(
            (self, node),
            (Ty::Actor, Node::Actor(_))
                | (Ty::Event, Node::Event(_))
                | (Ty::Treaty, Node::Treaty(_))
                | (Ty::FundingAllocation, Node::FundingAllocation(_))
                | (Ty::Place, Node::Place(_))
                | (Ty::Source, Node::Source(_))
        )
    }
}

/// A scalar field's value, borrowed from an entity.
enum Leaf<'a> {
    Str(&'a str),
    OptStr(Option<&'a str>),
    Strs(&'a [String]),
    Enum(&'static str),
    Date(Option<PartialDate>),
    Bool(bool),
    /// A string made for the answer (a number sent as a string, a day).
    Text(String),
}

/// Reads a scalar from an object; `None` if the object is of another type.
type LeafFn = for<'a> fn(Obj<'a>) -> Option<Leaf<'a>>;
/// Reads the id of the entity an object names in a field.
type OneFn = for<'a> fn(Obj<'a>) -> Option<Option<&'a Id>>;
/// Reads the ids an entity lists in a field.
type IdsFn = for<'a> fn(Obj<'a>) -> Option<&'a [Id]>;

/// What a field does, whatever its arguments and selection.
#[derive(Clone, Copy)]
enum Shape {
    Typename(Ty),
    Leaf(LeafFn),
    /// The entity an id field names; null if missing or of another type.
    One(OneFn, Ty),
    /// The entities a list of ids names, in order, without missing ones.
    Ids(IdsFn, Ty),
    /// The entities a relation leads back to, in key order.
    Follow(Relation, Ty),
    /// The events a relation leads back to, in chronological order.
    EventsByDate(Relation),
    Participants,
    Ratifications,
    Figures,
    Positions,
    /// `Actor.participations`, and a participation's event.
    Participations,
    ParticipationEvent,
    /// `FundingAllocation.amount`.
    Amount,
    /// `Event.period`.
    Period,
    /// `Actor.events`: a connection over the actor's events.
    ActorEvents,
    /// `Query.actor(id:)` and its kin.
    Lookup(EntityKind, Ty),
    /// `Query.events`: the chronological listing.
    AllEvents,
    /// `Query.node(id:)`: an entity of any type.
    NodeLookup,
    /// `Query.search` and its hits' two fields.
    Search,
    Score,
    HitNode,
    /// `Query.timeline`.
    Timeline,
    /// `Source.citedBy`: entities of any type.
    CitedBy,
    /// `Query.actors`, `Query.treaties`, `Query.places`, `Query.fundingAllocations`.
    Listing(EntityKind, Ty),
    /// `FundingAllocationConnection.totalAmount`.
    TotalAmount,
    /// `Query.nodes(ids:)`.
    NodesById,
    Nodes(Ty),
    Edges(Ty),
    EdgeNode(Ty),
    Cursor,
    TotalCount,
    PageInfo,
    HasNextPage,
    HasPreviousPage,
    StartCursor,
    EndCursor,
}

impl Shape {
    /// The type of the field's selection, for fields that have one.
    fn child(self) -> Option<Ty> {
        Some(match self {
            Shape::One(_, ty)
            | Shape::Ids(_, ty)
            | Shape::Follow(_, ty)
            | Shape::Lookup(_, ty)
            | Shape::Listing(_, ty)
            | Shape::Nodes(ty)
            | Shape::Edges(ty)
            | Shape::EdgeNode(ty) => ty,
            Shape::EventsByDate(_) | Shape::ParticipationEvent => Ty::Event,
            Shape::Participants => Ty::Participant,
            Shape::Ratifications => Ty::Ratification,
            Shape::Figures => Ty::Figure,
            Shape::Positions => Ty::Position,
            Shape::Participations => Ty::Participation,
            Shape::ActorEvents | Shape::AllEvents => Ty::EventConnection,
            Shape::PageInfo => Ty::PageInfo,
            Shape::Amount => Ty::Money,
            Shape::Timeline => Ty::Event,
            Shape::Search => Ty::SearchHit,
            Shape::NodeLookup | Shape::HitNode | Shape::CitedBy | Shape::NodesById => Ty::Node,
            Shape::TotalAmount => Ty::Money,
            Shape::Period => Ty::Period,
            _ => return None,
        })
    }
}

/// The GraphQL name of an enum value.
fn enum_name<T: EnumType + PartialEq>(value: T) -> &'static str {
    T::items().iter().find(|i| i.value == value).map_or("", |i| i.name)
}

macro_rules! leaf {
    ($variant:ident, |$x:ident| $body:expr) => {
        Shape::Leaf(|obj| match obj {
            Obj::Node(Node::$variant(it)) => {
                let $x = &*it.0;
                Some($body)
            }
            _ => None,
        })
    };
}

macro_rules! one {
    ($variant:ident, |$x:ident| $body:expr, $ty:expr) => {
        Shape::One(
            |obj| match obj {
                Obj::Node(Node::$variant(it)) => {
                    let $x = &*it.0;
                    Some($body)
                }
                _ => None,
            },
            $ty,
        )
    };
}

macro_rules! ids {
    ($variant:ident, |$x:ident| $body:expr, $ty:expr) => {
        Shape::Ids(
            |obj| match obj {
                Obj::Node(Node::$variant(it)) => {
                    let $x = &*it.0;
                    Some($body.as_slice())
                }
                _ => None,
            },
            $ty,
        )
    };
}

/// A scalar of an object that is not an entity.
macro_rules! on {
    ($variant:ident, |$x:pat_param| $body:expr) => {
        Shape::Leaf(|obj| match obj {
            Obj::$variant($x) => Some($body),
            _ => None,
        })
    };
}

/// The entity an object that is not an entity names.
macro_rules! on_one {
    ($variant:ident, |$x:pat_param| $body:expr, $ty:expr) => {
        Shape::One(
            |obj| match obj {
                Obj::$variant($x) => Some($body),
                _ => None,
            },
            $ty,
        )
    };
}

/// Whether the field table has an entry for the field `field` of the
/// object type `type_name` (the tests hold the served schema to it).
pub fn in_field_table(type_name: &str, field: &str) -> bool {
    Ty::ALL
        .iter()
        .find(|ty| ty.name() == type_name)
        .is_some_and(|&ty| shape(ty, field).is_some())
}

/// The field `name` of `parent`, if plans cover it.
fn shape(parent: Ty, name: &str) -> Option<Shape> {
    use Relation as R;
    if name == "__typename" {
        return Some(Shape::Typename(parent));
    }
    Some(match (parent, name) {
        (Ty::Query, "actor") => Shape::Lookup(EntityKind::Actor, Ty::Actor),
        (Ty::Query, "event") => Shape::Lookup(EntityKind::Event, Ty::Event),
        (Ty::Query, "treaty") => Shape::Lookup(EntityKind::Treaty, Ty::Treaty),
        (Ty::Query, "fundingAllocation") => Shape::Lookup(EntityKind::Funding, Ty::FundingAllocation),
        (Ty::Query, "place") => Shape::Lookup(EntityKind::Place, Ty::Place),
        (Ty::Query, "source") => Shape::Lookup(EntityKind::Source, Ty::Source),
        (Ty::Query, "events") => Shape::AllEvents,
        (Ty::Query, "actors") => Shape::Listing(EntityKind::Actor, Ty::ActorConnection),
        (Ty::Query, "treaties") => Shape::Listing(EntityKind::Treaty, Ty::TreatyConnection),
        (Ty::Query, "places") => Shape::Listing(EntityKind::Place, Ty::PlaceConnection),
        (Ty::Query, "fundingAllocations") => Shape::Listing(EntityKind::Funding, Ty::FundingAllocationConnection),
        (Ty::Query, "nodes") => Shape::NodesById,
        (Ty::FundingAllocationConnection, "totalAmount") => Shape::TotalAmount,
        (Ty::Query, "node") => Shape::NodeLookup,
        (Ty::Query, "search") => Shape::Search,
        (Ty::Query, "timeline") => Shape::Timeline,
        (Ty::SearchHit, "score") => Shape::Score,
        (Ty::SearchHit, "node") => Shape::HitNode,
        (Ty::Source, "citedBy") => Shape::CitedBy,

        (Ty::Actor, "id") => leaf!(Actor, |a| Leaf::Str(a.id.as_str())),
        (Ty::Actor, "name") => leaf!(Actor, |a| Leaf::Str(&a.name)),
        (Ty::Actor, "kind") => leaf!(Actor, |a| Leaf::Enum(enum_name(a.kind))),
        (Ty::Actor, "aliases") => leaf!(Actor, |a| Leaf::Strs(&a.aliases)),
        (Ty::Actor, "summary") => leaf!(Actor, |a| Leaf::OptStr(a.summary.as_deref())),
        (Ty::Actor, "note") => leaf!(Actor, |a| Leaf::OptStr(a.note.as_deref())),
        (Ty::Actor, "partOf") => one!(Actor, |a| a.part_of.as_ref(), Ty::Actor),
        (Ty::Actor, "parts") => Shape::Follow(R::ActorPartOf, Ty::Actor),
        (Ty::Actor, "positionHolders") => Shape::Follow(R::ActorPositionIn, Ty::Actor),
        (Ty::Actor, "events") => Shape::ActorEvents,
        (Ty::Actor, "treaties") => Shape::Follow(R::TreatyParty, Ty::Treaty),
        (Ty::Actor, "signedTreaties") => Shape::Follow(R::TreatySignatory, Ty::Treaty),
        (Ty::Actor, "ratifiedTreaties") => Shape::Follow(R::TreatyRatifier, Ty::Treaty),
        (Ty::Actor, "mediatedTreaties") => Shape::Follow(R::TreatyMediator, Ty::Treaty),
        (Ty::Actor, "fundingProvided") => Shape::Follow(R::FundingDonor, Ty::FundingAllocation),
        (Ty::Actor, "fundingReceived") => Shape::Follow(R::FundingRecipient, Ty::FundingAllocation),
        (Ty::Actor, "fundingAuthorized") => Shape::Follow(R::FundingAuthorizedBy, Ty::FundingAllocation),
        (Ty::Actor, "claimedFiguresIn") => Shape::Follow(R::EventFigureClaimant, Ty::Event),
        (Ty::Actor, "sources") => ids!(Actor, |a| a.sources, Ty::Source),
        (Ty::Actor, "positions") => Shape::Positions,
        (Ty::Actor, "participations") => Shape::Participations,

        (Ty::Event, "id") => leaf!(Event, |e| Leaf::Str(e.id.as_str())),
        (Ty::Event, "title") => leaf!(Event, |e| Leaf::Str(&e.title)),
        (Ty::Event, "kind") => leaf!(Event, |e| Leaf::Enum(enum_name(e.kind))),
        (Ty::Event, "date") => leaf!(Event, |e| Leaf::Date(e.date)),
        (Ty::Event, "period") => Shape::Period,
        (Ty::Event, "summary") => leaf!(Event, |e| Leaf::OptStr(e.summary.as_deref())),
        (Ty::Event, "note") => leaf!(Event, |e| Leaf::OptStr(e.note.as_deref())),
        (Ty::Event, "place") => one!(Event, |e| e.place.as_ref(), Ty::Place),
        (Ty::Event, "participants") => Shape::Participants,
        (Ty::Event, "treaties") => ids!(Event, |e| e.treaties, Ty::Treaty),
        (Ty::Event, "fundingAllocations") => Shape::Follow(R::FundingEvent, Ty::FundingAllocation),
        (Ty::Event, "partOf") => one!(Event, |e| e.part_of.as_ref(), Ty::Event),
        (Ty::Event, "parts") => Shape::Follow(R::EventPartOf, Ty::Event),
        (Ty::Event, "after") => ids!(Event, |e| e.after, Ty::Event),
        (Ty::Event, "followedBy") => Shape::Follow(R::EventAfter, Ty::Event),
        (Ty::Event, "retractedBy") => one!(Event, |e| e.retracted_by.as_ref(), Ty::Event),
        (Ty::Event, "retracts") => Shape::Follow(R::EventRetractedBy, Ty::Event),
        (Ty::Event, "sources") => ids!(Event, |e| e.sources, Ty::Source),
        (Ty::Event, "figures") => Shape::Figures,

        (Ty::Treaty, "id") => leaf!(Treaty, |t| Leaf::Str(t.id.as_str())),
        (Ty::Treaty, "name") => leaf!(Treaty, |t| Leaf::Str(&t.name)),
        (Ty::Treaty, "kind") => leaf!(Treaty, |t| Leaf::Enum(enum_name(t.kind))),
        (Ty::Treaty, "aliases") => leaf!(Treaty, |t| Leaf::Strs(&t.aliases)),
        (Ty::Treaty, "citedOnly") => leaf!(Treaty, |t| Leaf::Bool(t.cited_only)),
        (Ty::Treaty, "summary") => leaf!(Treaty, |t| Leaf::OptStr(t.summary.as_deref())),
        (Ty::Treaty, "note") => leaf!(Treaty, |t| Leaf::OptStr(t.note.as_deref())),
        (Ty::Treaty, "signedOn") => leaf!(Treaty, |t| Leaf::Date(t.signed_on)),
        (Ty::Treaty, "enteredIntoForceOn") => leaf!(Treaty, |t| Leaf::Date(t.entered_into_force_on)),
        (Ty::Treaty, "provisions") => leaf!(Treaty, |t| Leaf::Strs(&t.provisions)),
        (Ty::Treaty, "signedAt") => one!(Treaty, |t| t.signed_at.as_ref(), Ty::Place),
        (Ty::Treaty, "parties") => ids!(Treaty, |t| t.parties, Ty::Actor),
        (Ty::Treaty, "signatories") => ids!(Treaty, |t| t.signatories, Ty::Actor),
        (Ty::Treaty, "ratifications") => Shape::Ratifications,
        (Ty::Treaty, "mediator") => one!(Treaty, |t| t.mediator.as_ref(), Ty::Actor),
        (Ty::Treaty, "basedOn") => one!(Treaty, |t| t.based_on.as_ref(), Ty::Treaty),
        (Ty::Treaty, "derivedTreaties") => Shape::Follow(R::TreatyBasedOn, Ty::Treaty),
        (Ty::Treaty, "events") => Shape::EventsByDate(R::EventTreaty),
        (Ty::Treaty, "fundingAllocations") => Shape::Follow(R::FundingBasis, Ty::FundingAllocation),
        (Ty::Treaty, "sources") => ids!(Treaty, |t| t.sources, Ty::Source),

        (Ty::FundingAllocation, "id") => leaf!(FundingAllocation, |f| Leaf::Str(f.id.as_str())),
        (Ty::FundingAllocation, "title") => leaf!(FundingAllocation, |f| Leaf::Str(&f.title)),
        (Ty::FundingAllocation, "amount") => Shape::Amount,
        (Ty::FundingAllocation, "purpose") => leaf!(FundingAllocation, |f| Leaf::Str(&f.purpose)),
        (Ty::FundingAllocation, "date") => leaf!(FundingAllocation, |f| Leaf::Date(f.date)),
        (Ty::FundingAllocation, "note") => leaf!(FundingAllocation, |f| Leaf::OptStr(f.note.as_deref())),
        (Ty::FundingAllocation, "donor") => one!(FundingAllocation, |f| Some(&f.donor), Ty::Actor),
        (Ty::FundingAllocation, "recipient") => one!(FundingAllocation, |f| Some(&f.recipient), Ty::Actor),
        (Ty::FundingAllocation, "authorizedBy") => one!(FundingAllocation, |f| f.authorized_by.as_ref(), Ty::Actor),
        (Ty::FundingAllocation, "basis") => one!(FundingAllocation, |f| f.basis.as_ref(), Ty::Treaty),
        (Ty::FundingAllocation, "event") => one!(FundingAllocation, |f| f.event.as_ref(), Ty::Event),
        (Ty::FundingAllocation, "sources") => ids!(FundingAllocation, |f| f.sources, Ty::Source),

        (Ty::Place, "id") => leaf!(Place, |p| Leaf::Str(p.id.as_str())),
        (Ty::Place, "name") => leaf!(Place, |p| Leaf::Str(&p.name)),
        (Ty::Place, "kind") => leaf!(Place, |p| Leaf::Enum(enum_name(p.kind))),
        (Ty::Place, "aliases") => leaf!(Place, |p| Leaf::Strs(&p.aliases)),
        (Ty::Place, "summary") => leaf!(Place, |p| Leaf::OptStr(p.summary.as_deref())),
        (Ty::Place, "note") => leaf!(Place, |p| Leaf::OptStr(p.note.as_deref())),
        (Ty::Place, "within") => one!(Place, |p| p.within.as_ref(), Ty::Place),
        (Ty::Place, "contains") => Shape::Follow(R::PlaceWithin, Ty::Place),
        (Ty::Place, "events") => Shape::EventsByDate(R::EventPlace),
        (Ty::Place, "treaties") => Shape::Follow(R::TreatySignedAt, Ty::Treaty),
        (Ty::Place, "sources") => ids!(Place, |p| p.sources, Ty::Source),

        (Ty::Source, "id") => leaf!(Source, |s| Leaf::Str(s.id.as_str())),
        (Ty::Source, "document") => leaf!(Source, |s| Leaf::Str(&s.document)),
        (Ty::Source, "section") => leaf!(Source, |s| Leaf::OptStr(s.section.as_deref())),
        (Ty::Source, "url") => leaf!(Source, |s| Leaf::OptStr(s.url.as_deref())),
        (Ty::Source, "note") => leaf!(Source, |s| Leaf::OptStr(s.note.as_deref())),

        (Ty::Participant, "actor") => on_one!(Participant, |p| Some(&p.actor), Ty::Actor),
        (Ty::Participant, "role") => on!(Participant, |p| Leaf::Enum(enum_name(p.role))),
        (Ty::Ratification, "by") => on_one!(Ratification, |r| Some(&r.by), Ty::Actor),
        (Ty::Ratification, "date") => on!(Ratification, |r| Leaf::Date(r.date)),
        (Ty::Participation, "event") => Shape::ParticipationEvent,
        (Ty::Participation, "role") => on!(Participation, |(_, role)| Leaf::Enum(enum_name(role))),
        (Ty::Position, "title") => on!(Position, |p| Leaf::Str(&p.title)),
        (Ty::Position, "from") => on!(Position, |p| Leaf::Date(p.from)),
        (Ty::Position, "to") => on!(Position, |p| Leaf::Date(p.to)),
        (Ty::Position, "note") => on!(Position, |p| Leaf::OptStr(p.note.as_deref())),
        (Ty::Position, "of") => on_one!(Position, |p| Some(&p.of), Ty::Actor),
        (Ty::Figure, "label") => on!(Figure, |f| Leaf::Str(&f.label)),
        // A BigInt: a decimal string.
        (Ty::Figure, "value") => on!(Figure, |f| Leaf::Text(f.value.to_string())),
        (Ty::Figure, "unit") => on!(Figure, |f| Leaf::Str(&f.unit)),
        (Ty::Figure, "claimedBy") => on_one!(Figure, |f| f.claimed_by.as_ref(), Ty::Actor),
        // A BigInt: a decimal string.
        (Ty::Money, "amount") => Shape::Leaf(|obj| match obj {
            Obj::Money(m) => Some(Leaf::Text(m.amount.to_string())),
            Obj::Sum(m) => Some(Leaf::Text(m.amount.0.to_string())),
            _ => None,
        }),
        (Ty::Money, "currency") => Shape::Leaf(|obj| match obj {
            Obj::Money(m) => Some(Leaf::Text(m.currency.to_string())),
            Obj::Sum(m) => Some(Leaf::Str(&m.currency)),
            _ => None,
        }),
        (Ty::Period, "precision") => on!(Period, |d| Leaf::Enum(enum_name(d.precision()))),
        (Ty::Period, "start") => on!(Period, |d| Leaf::Text(d.first_iso())),
        (Ty::Period, "end") => on!(Period, |d| Leaf::Text(d.last_iso())),

        (connection, "nodes") if connection.connection().is_some() => Shape::Nodes(connection.connection()?.0),
        (connection, "edges") if connection.connection().is_some() => Shape::Edges(connection.connection()?.1),
        (connection, "pageInfo") if connection.connection().is_some() => Shape::PageInfo,
        (connection, "totalCount") if connection.connection().is_some() => Shape::TotalCount,
        (edge, "node") if edge.edge().is_some() => Shape::EdgeNode(edge.edge()?),
        (edge, "cursor") if edge.edge().is_some() => Shape::Cursor,
        (Ty::PageInfo, "hasNextPage") => Shape::HasNextPage,
        (Ty::PageInfo, "hasPreviousPage") => Shape::HasPreviousPage,
        (Ty::PageInfo, "startCursor") => Shape::StartCursor,
        (Ty::PageInfo, "endCursor") => Shape::EndCursor,
        _ => return None,
    })
}

// ---- compiling ----------------------------------------------------------------

/// One field of a selection: its response key, already JSON, and what it writes.
struct Field {
    key: String,
    shape: Shape,
    /// The arguments as written; variables are read at run time.
    args: Vec<(Name, Value)>,
    /// The selection, for a field of an object type.
    sel: Sel,
    /// The selection per entity type, for a field of the `Node` interface.
    variants: Box<[(Ty, Sel)]>,
}

impl Field {
    fn is_leaf(&self) -> bool {
        self.sel.is_empty() && self.variants.is_empty()
    }
}

type Sel = Box<[Field]>;

/// The types that implement `Node`.
const ENTITY_TYPES: [Ty; 6] = [
    Ty::Actor,
    Ty::Event,
    Ty::Treaty,
    Ty::FundingAllocation,
    Ty::Place,
    Ty::Source,
];

/// Fragments nest this deep at most (validation refuses cycles already).
const MAX_FRAGMENT_NESTING: usize = 32;

fn compile(doc: &ExecutableDocument, operation: Option<&str>, switches: &FxHashMap<Name, bool>) -> Option<Plan> {
    let op = operation_of(doc, operation)?;
    let compiler = Compiler { doc, switches };
    let root = compiler.selection(Ty::Query, &[&op.selection_set.node])?;
    Some(Plan {
        root,
        size: AtomicUsize::new(4096),
    })
}

/// A variable of the operation: its name, type and default value.
struct Variable {
    name: Name,
    ty: Type,
    default: Option<async_graphql_value::ConstValue>,
}

impl Variable {
    fn is_int(&self) -> bool {
        matches!(&self.ty.base, BaseType::Named(name) if name == "Int")
    }
}

struct Compiler<'a> {
    doc: &'a ExecutableDocument,
    /// The values of the variables `@include`/`@skip` read.
    switches: &'a FxHashMap<Name, bool>,
}

/// The field nodes that share one response key, in document order.
type ByKey<'d> = Vec<(Name, Vec<&'d FieldNode>)>;

impl<'d> Compiler<'d> {
    /// The fields of `ty` that a list of selection sets (one field's, or
    /// several fields' merged under one key) asks for, in answer order.
    fn selection(&self, ty: Ty, sets: &[&'d SelectionSet]) -> Option<Sel> {
        let mut keyed = ByKey::new();
        for set in sets {
            self.gather(ty, set, 0, &mut keyed)?;
        }
        keyed.iter().map(|(_, nodes)| self.field(ty, nodes)).collect()
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
    fn field(&self, parent: Ty, nodes: &[&'d FieldNode]) -> Option<Field> {
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
        Some(Field {
            key: json_key(first.response_key().node.as_str()),
            shape,
            args: arguments(shape, &first.arguments)?,
            sel,
            variants,
        })
    }
}

/// A field's arguments, if the plan knows them all. A page size from a
/// variable is checked against sizes async-graphql accepted before the plan
/// runs ([`Document::answer`]).
fn arguments(shape: Shape, args: &[(Positioned<Name>, Positioned<Value>)]) -> Option<Vec<(Name, Value)>> {
    const PAGE: &[&str] = &["first", "last", "after", "before", "filter"];
    let known: &[&str] = match shape {
        Shape::Lookup(..) | Shape::NodeLookup => &["id"],
        Shape::NodesById => &["ids"],
        Shape::AllEvents | Shape::ActorEvents | Shape::Listing(..) => PAGE,
        Shape::Search => &["query", "first"],
        Shape::Timeline => &["from", "to", "actor", "first"],
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
fn json_key(key: &str) -> String {
    let mut out = serde_json::to_string(key).unwrap_or_default();
    out.push(':');
    out
}

// ---- running --------------------------------------------------------------------

/// What a field is read from.
#[derive(Clone, Copy)]
enum Obj<'a> {
    Query,
    Node(&'a Node),
    Participant(&'a model::Participant),
    Ratification(&'a model::Ratification),
    Page(&'a Page<'a>),
    Edge(&'a [u8], &'a Node),
    Money(&'a model::Money),
    Period(&'a PartialDate),
    Hit(f64, &'a Node),
    Position(&'a model::Position),
    Participation((&'a Node, model::Role)),
    Figure(&'a model::Figure),
    /// A sum of amounts in one currency.
    Sum(&'a Money),
}

/// A page of events with its listing keys.
struct Page<'a> {
    items: Vec<(&'a [u8], &'a Node)>,
    has_prev: bool,
    has_next: bool,
    total: usize,
    /// `totalAmount`, for funding allocations when asked for.
    sums: Vec<Money>,
}

/// The totals a connection carries.
struct Totals {
    count: usize,
    sums: Vec<Money>,
}

impl Totals {
    fn count(count: usize) -> Totals {
        Totals {
            count,
            sums: Vec::new(),
        }
    }
}

/// A page of keys and ids, borrowed.
fn borrowed(page: &connection::Page) -> connection::Page<&Keyed> {
    connection::Page {
        items: page.items.iter().collect(),
        has_prev: page.has_prev,
        has_next: page.has_next,
    }
}

/// Most ids `nodes(ids:)` takes.
const MAX_NODE_IDS: usize = 100;

impl Plan {
    fn run(&self, variables: Option<&Map<String, Json>>, defaults: &[Variable], reads: Reads<'_>) -> Run<Vec<u8>> {
        let mut writer = Writer {
            direct: Direct::new(reads.store, reads.cache),
            store: reads.store,
            limits: reads.limits,
            variables,
            defaults,
            out: Vec::with_capacity(self.size.load(Ordering::Relaxed)),
            written: FxHashMap::default(),
            deadline: reads.deadline,
            objects: 0,
        };
        writer.out.extend_from_slice(b"{\"data\":");
        writer.object(&self.root, Obj::Query)?;
        writer.out.push(b'}');
        self.size.store(writer.out.len(), Ordering::Relaxed);
        Ok(writer.out)
    }
}

struct Writer<'a> {
    direct: Direct<'a>,
    store: &'a Store,
    limits: Limits,
    variables: Option<&'a Map<String, Json>>,
    /// The operation's variables, for their default values.
    defaults: &'a [Variable],
    out: Vec<u8>,
    /// Entity subtrees already written, by selection and entity id: where
    /// they lie in `out`. The same entity under the same field of the query
    /// always reads the same, so a repeat is a copy.
    written: FxHashMap<usize, FxHashMap<Id, (usize, usize)>>,
    /// When the operation's time is up.
    deadline: Instant,
    /// Objects written so far; the clock is read every so many.
    objects: u32,
}

fn link(relation: Relation, from: &Node) -> Link {
    Link {
        relation,
        direction: Direction::Backward,
        from: from.global_id().clone(),
    }
}

impl Writer<'_> {
    fn object(&mut self, sel: &[Field], obj: Obj<'_>) -> Run {
        self.objects = self.objects.wrapping_add(1);
        if self.objects.is_multiple_of(256) && Instant::now() > self.deadline {
            return Err(GiveUp::TimedOut);
        }
        // As async-graphql answers an object none of whose fields apply to
        // its type (`node(id:) { ... on Actor { name } }` on an event).
        if sel.is_empty() {
            return self.null();
        }
        self.out.push(b'{');
        for (i, field) in sel.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.out.extend_from_slice(field.key.as_bytes());
            self.field(field, obj)?;
        }
        self.out.push(b'}');
        Ok(())
    }

    fn field(&mut self, field: &Field, obj: Obj<'_>) -> Run {
        let sel = &field.sel;
        match (field.shape, obj) {
            (Shape::Typename(ty), _) => self.string(ty.name()),
            (Shape::Leaf(read), _) => self.leaf(read(obj).ok_or(GiveUp::Unsure)?),
            (Shape::One(read, ty), _) => self.one(read(obj).ok_or(GiveUp::Unsure)?, ty, sel),
            (Shape::Ids(read, ty), _) => {
                let nodes = self.direct.entities(read(obj).ok_or(GiveUp::Unsure)?)?;
                self.list(sel, nodes.iter().flatten().filter(|n| ty.holds(n)))
            }
            (Shape::Follow(relation, ty), Obj::Node(node)) => {
                let nodes = self.direct.nodes(&link(relation, node))?;
                self.list(sel, nodes.iter().filter(|n| ty.holds(n)))
            }
            (Shape::EventsByDate(relation), Obj::Node(node)) => {
                let events = self.direct.sorted_events(&link(relation, node))?;
                self.list(sel, events.iter().map(|(_, e)| e))
            }
            (Shape::Participants, Obj::Node(Node::Event(event))) => {
                self.array(&event.0.participants, |w, p| w.object(sel, Obj::Participant(p)))
            }
            (Shape::Ratifications, Obj::Node(Node::Treaty(treaty))) => {
                self.array(&treaty.0.ratifications, |w, r| w.object(sel, Obj::Ratification(r)))
            }
            (Shape::Figures, Obj::Node(Node::Event(event))) => {
                self.array(&event.0.figures, |w, f| w.object(sel, Obj::Figure(f)))
            }
            (Shape::Positions, Obj::Node(Node::Actor(actor))) => {
                self.array(&actor.0.positions, |w, p| w.object(sel, Obj::Position(p)))
            }
            (Shape::Participations, Obj::Node(node)) => self.participations(sel, node),
            (Shape::ParticipationEvent, Obj::Participation((event, _))) => self.entity(sel, event),
            (Shape::Amount, Obj::Node(Node::FundingAllocation(f))) => self.object(sel, Obj::Money(&f.0.amount)),
            (Shape::Period, Obj::Node(Node::Event(e))) => match &e.0.date {
                Some(date) => self.object(sel, Obj::Period(date)),
                None => self.null(),
            },
            (Shape::ActorEvents, Obj::Node(node @ Node::Actor(_))) => {
                let window = self.window(field)?;
                let filter = self.filter(field)?;
                let events = self.direct.sorted_events(&link(Relation::EventParticipant, node))?;
                let (page, total) = window_among(&events, filter.as_ref(), &window);
                let page = Page {
                    items: page.items,
                    has_prev: page.has_prev,
                    has_next: page.has_next,
                    total,
                    sums: Vec::new(),
                };
                self.object(sel, Obj::Page(&page))
            }
            (Shape::Lookup(kind, ty), Obj::Query) => {
                let id: ID = self.arg(field, "id")?;
                let id = Id::parse_as(kind, id.as_str()).map_err(|_| GiveUp::Unsure)?;
                self.one(Some(&id), ty, sel)
            }
            (Shape::NodeLookup, Obj::Query) => {
                let id: ID = self.arg(field, "id")?;
                let id = Id::parse(id.as_str()).map_err(|_| GiveUp::Unsure)?;
                match self.direct.entity(&id)? {
                    Some(node) => self.any_entity(field, &node),
                    None => self.null(),
                }
            }
            (Shape::Search, Obj::Query) => {
                let query: String = self.arg(field, "query")?;
                let hits = search_hits(self.store, &query, self.arg(field, "first")?).map_err(|_| GiveUp::Unsure)?;
                let ids: Vec<Id> = hits.iter().map(|(id, _)| id.clone()).collect();
                let nodes = self.direct.entities(&ids)?;
                let found: Vec<(f64, Node)> = hits
                    .iter()
                    .zip(nodes)
                    .filter_map(|((_, score), node)| Some((*score, node?)))
                    .collect();
                self.array(&found, |w, (score, node)| w.object(sel, Obj::Hit(*score, node)))
            }
            (Shape::Score, Obj::Hit(score, _)) => {
                serde_json::to_writer(&mut self.out, &score)?;
                Ok(())
            }
            (Shape::HitNode, Obj::Hit(_, node)) => self.any_entity(field, node),
            (Shape::Timeline, Obj::Query) => {
                let args = TimelineArgs {
                    from: self.arg(field, "from")?,
                    to: self.arg(field, "to")?,
                    actor: self.arg(field, "actor")?,
                    first: self.arg(field, "first")?,
                };
                let ids = timeline_ids(self.store, args).map_err(|_| GiveUp::Unsure)?;
                let nodes = self.direct.entities(&ids)?;
                self.list(sel, nodes.iter().flatten().filter(|n| Ty::Event.holds(n)))
            }
            (Shape::CitedBy, Obj::Node(node)) => {
                let nodes = self.direct.nodes(&link(Relation::CitedSource, node))?;
                self.out.push(b'[');
                for (i, node) in nodes.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.any_entity(field, node)?;
                }
                self.out.push(b']');
                Ok(())
            }
            (Shape::AllEvents, Obj::Query) => self.all_events(field),
            (Shape::Nodes(_), Obj::Page(page)) => self.list(sel, page.items.iter().map(|(_, n)| *n)),
            (Shape::Edges(_), Obj::Page(page)) => self.array(&page.items, |w, (k, n)| w.object(sel, Obj::Edge(k, n))),
            (Shape::EdgeNode(_), Obj::Edge(_, node)) => self.entity(sel, node),
            (Shape::Listing(kind, _), Obj::Query) => self.listing(field, kind),
            (Shape::NodesById, Obj::Query) => self.nodes_by_id(field),
            (Shape::TotalAmount, Obj::Page(page)) => self.array(&page.sums, |w, m| w.object(sel, Obj::Sum(m))),
            (Shape::Cursor, Obj::Edge(key, _)) => self.string(&hex(key)),
            (Shape::TotalCount, Obj::Page(page)) => {
                write!(self.out, "{}", page.total)?;
                Ok(())
            }
            (Shape::PageInfo, Obj::Page(_)) => self.object(sel, obj),
            (Shape::HasNextPage, Obj::Page(page)) => self.leaf(Leaf::Bool(page.has_next)),
            (Shape::HasPreviousPage, Obj::Page(page)) => self.leaf(Leaf::Bool(page.has_prev)),
            (Shape::StartCursor, Obj::Page(page)) => self.cursor(page.items.first().map(|(k, _)| *k)),
            (Shape::EndCursor, Obj::Page(page)) => self.cursor(page.items.last().map(|(k, _)| *k)),
            _ => Err(GiveUp::Unsure),
        }
    }

    /// `Query.events` without a filter: the chronological listing, read a page at a time.
    fn all_events(&mut self, field: &Field) -> Run {
        let window = self.window(field)?;
        let wants_total = field.sel.iter().any(|f| matches!(f.shape, Shape::TotalCount));
        if let Some(filter) = self.filter(field)? {
            let (page, total) = event_listing(self.store, &filter, &window, wants_total).map_err(|_| GiveUp::Unsure)?;
            return self.page(field, Ty::Event, borrowed(&page), Totals::count(total));
        }
        // The page borrows from the listing the read cache holds.
        let mut listing = None;
        let page = page_with(&window, |after, before, limit, from_end| {
            Ok(listing
                .insert(self.direct.event_page(after, before, limit, from_end)?)
                .iter()
                .collect())
        })
        .map_err(|_| GiveUp::Unsure)?;
        let total = if wants_total {
            self.store.count(EntityKind::Event)? as usize
        } else {
            0
        };
        self.page(field, Ty::Event, page, Totals::count(total))
    }

    /// `Query.actors`, `Query.treaties`, `Query.places` or
    /// `Query.fundingAllocations`: a page of the listing by id, filtered.
    fn listing(&mut self, field: &Field, kind: EntityKind) -> Run {
        let window = self.window(field)?;
        let ty = ENTITY_TYPES
            .into_iter()
            .find(|t| t.kind() == Some(kind))
            .ok_or(GiveUp::Unsure)?;
        if kind == EntityKind::Funding {
            let filter = self.arg::<Option<FundingFilter>>(field, "filter")?;
            let keyed = funding_keyed(self.store, filter.unwrap_or_default()).map_err(|_| GiveUp::Unsure)?;
            let mut totals = Totals::count(keyed.len());
            if field.sel.iter().any(|f| matches!(f.shape, Shape::TotalAmount)) {
                let ids: Vec<Id> = keyed.iter().map(|(_, id)| id.clone()).collect();
                let all = self.direct.entities(&ids)?;
                totals.sums = sum_amounts(all.iter().flatten().filter_map(|n| match n {
                    Node::FundingAllocation(f) => Some(&f.0.amount),
                    _ => None,
                }));
            }
            let page = page_sorted(keyed, &window);
            return self.page(field, ty, borrowed(&page), totals);
        }
        let set = match kind {
            EntityKind::Actor => actor_set(
                self.store,
                self.arg::<Option<ActorFilter>>(field, "filter")?.unwrap_or_default(),
            ),
            EntityKind::Treaty => treaty_set(
                self.store,
                self.arg::<Option<TreatyFilter>>(field, "filter")?.unwrap_or_default(),
            ),
            _ => Ok(None),
        }
        .map_err(|_| GiveUp::Unsure)?;
        let (page, total) = listing_page(self.store, kind, set, &window).map_err(|_| GiveUp::Unsure)?;
        self.page(field, ty, borrowed(&page), Totals::count(total))
    }

    /// `Query.nodes(ids:)`: entities of any type in the order asked, null
    /// for each id that matches none.
    fn nodes_by_id(&mut self, field: &Field) -> Run {
        let asked: Vec<ID> = self.arg(field, "ids")?;
        if asked.len() > MAX_NODE_IDS {
            return Err(GiveUp::Unsure);
        }
        let ids = asked
            .iter()
            .map(|id| Id::parse(id.as_str()).map_err(|_| GiveUp::Unsure))
            .collect::<Run<Vec<Id>>>()?;
        let found = self.direct.entities(&ids)?;
        self.array(&found, |w, node| match node {
            Some(node) => w.any_entity(field, node),
            None => w.null(),
        })
    }

    /// `Actor.participations`: the actor's events with its role in each, in
    /// chronological order.
    fn participations(&mut self, sel: &[Field], node: &Node) -> Run {
        let targets = self.direct.link(&link(Relation::EventParticipant, node))?;
        let ids: Vec<Id> = targets.iter().map(|(id, _)| id.clone()).collect();
        let events = self.direct.entities(&ids)?;
        let mut found: Vec<(Vec<u8>, Node, model::Role)> = Vec::new();
        for event in events.into_iter().flatten() {
            let Node::Event(e) = &event else { continue };
            let role = targets
                .iter()
                .find(|(id, _)| *id == e.0.id)
                .and_then(|(_, payload)| role_from(payload))
                .unwrap_or(model::Role::Participant);
            found.push((event_sort_key(&e.0), event.clone(), role));
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        self.array(&found, |w, (_, event, role)| {
            w.object(sel, Obj::Participation((event, *role)))
        })
    }

    /// Writes a page of a listing of `ty`, given its keys and ids.
    fn page(&mut self, field: &Field, ty: Ty, keyed: connection::Page<&Keyed>, totals: Totals) -> Run {
        let ids: Vec<Id> = keyed.items.iter().map(|(_, id)| id.clone()).collect();
        let nodes = self.direct.entities(&ids)?;
        let loaded: Vec<(&[u8], Node)> = keyed
            .items
            .iter()
            .zip(nodes)
            .filter_map(|((key, _), node)| Some((key.as_slice(), node.filter(|n| ty.holds(n))?)))
            .collect();
        let page = Page {
            items: loaded.iter().map(|(key, node)| (*key, node)).collect(),
            has_prev: keyed.has_prev,
            has_next: keyed.has_next,
            total: totals.count,
            sums: totals.sums,
        };
        self.object(&field.sel, Obj::Page(&page))
    }

    /// An argument of `field` as async-graphql would hand it to the
    /// resolver: variables filled in, then parsed as the argument's type.
    fn arg<T: InputType>(&self, field: &Field, name: &str) -> Run<T> {
        let value = match field.args.iter().find(|(n, _)| n.as_str() == name) {
            None => None,
            Some((_, value)) => Some(value.clone().into_const_with(|var| self.variable(&var))?),
        };
        T::parse(value).map_err(|_| GiveUp::Unsure)
    }

    fn variable(&self, name: &Name) -> Run<async_graphql::Value> {
        match self.variables.and_then(|v| v.get(name.as_str())) {
            Some(json) => Ok(async_graphql::Value::from_json(json.clone())?),
            None => Ok(self
                .defaults
                .iter()
                .find(|v| v.name == *name)
                .and_then(|v| v.default.clone())
                .unwrap_or(async_graphql::Value::Null)),
        }
    }

    fn window(&self, field: &Field) -> Run<Window> {
        if field.args.is_empty() {
            return PageArgs::default()
                .window_within(self.limits)
                .map_err(|_| GiveUp::Unsure);
        }
        PageArgs {
            first: self.arg(field, "first")?,
            last: self.arg(field, "last")?,
            after: self.arg(field, "after")?,
            before: self.arg(field, "before")?,
        }
        .window_within(self.limits)
        .map_err(|_| GiveUp::Unsure)
    }

    fn filter(&self, field: &Field) -> Run<Option<ParsedEventFilter>> {
        match self.arg::<Option<EventFilter>>(field, "filter")? {
            None => Ok(None),
            Some(filter) => ParsedEventFilter::parse(Some(filter))
                .map(Some)
                .map_err(|_| GiveUp::Unsure),
        }
    }

    /// An entity under a field of the `Node` interface, with the selection
    /// for its type.
    fn any_entity(&mut self, field: &Field, node: &Node) -> Run {
        let (_, sel) = field
            .variants
            .iter()
            .find(|(ty, _)| ty.holds(node))
            .ok_or(GiveUp::Unsure)?;
        self.entity(sel, node)
    }

    fn one(&mut self, id: Option<&Id>, ty: Ty, sel: &[Field]) -> Run {
        let Some(id) = id else { return self.null() };
        // Written before, so it exists and is of the type: copy it unread.
        if self.copy(sel, id) {
            return Ok(());
        }
        match self.direct.entity(id)?.filter(|n| ty.holds(n)) {
            Some(node) => self.entity(sel, &node),
            None => self.null(),
        }
    }

    /// Copies the subtree `sel` of entity `id` if it was written before.
    fn copy(&mut self, sel: &[Field], id: &Id) -> bool {
        let written = self.written.get(&(sel.as_ptr() as usize)).and_then(|w| w.get(id));
        match written {
            Some(&(start, end)) => {
                self.out.extend_from_within(start..end);
                true
            }
            None => false,
        }
    }

    fn entity(&mut self, sel: &[Field], node: &Node) -> Run {
        // Scalars alone are as cheap to write again as to look up.
        if sel.iter().all(Field::is_leaf) {
            return self.object(sel, Obj::Node(node));
        }
        let id = node.global_id();
        if self.copy(sel, id) {
            return Ok(());
        }
        let start = self.out.len();
        self.object(sel, Obj::Node(node))?;
        let end = self.out.len();
        self.written
            .entry(sel.as_ptr() as usize)
            .or_default()
            .insert(id.clone(), (start, end));
        Ok(())
    }

    fn list<'n>(&mut self, sel: &[Field], nodes: impl Iterator<Item = &'n Node>) -> Run {
        self.out.push(b'[');
        for (i, node) in nodes.enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.entity(sel, node)?;
        }
        self.out.push(b']');
        Ok(())
    }

    fn array<T>(&mut self, items: &[T], mut write: impl FnMut(&mut Self, &T) -> Run) -> Run {
        self.out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write(self, item)?;
        }
        self.out.push(b']');
        Ok(())
    }

    fn leaf(&mut self, leaf: Leaf<'_>) -> Run {
        match leaf {
            Leaf::Str(s) | Leaf::OptStr(Some(s)) | Leaf::Enum(s) => self.string(s),
            Leaf::OptStr(None) | Leaf::Date(None) => self.null(),
            Leaf::Strs(items) => self.array(items, |w, s| w.string(s)),
            Leaf::Date(Some(date)) => self.string(&date.to_string()),
            Leaf::Text(text) => self.string(&text),
            Leaf::Bool(b) => {
                self.out.extend_from_slice(if b { b"true" } else { b"false" });
                Ok(())
            }
        }
    }

    fn cursor(&mut self, key: Option<&[u8]>) -> Run {
        match key {
            Some(key) => self.string(&hex(key)),
            None => self.null(),
        }
    }

    fn string(&mut self, s: &str) -> Run {
        json_string(&mut self.out, s)
    }

    fn null(&mut self) -> Run {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
}

/// Writes a JSON string, escaped as serde_json escapes it (quotes,
/// backslashes and control characters; nothing else), so that answers match
/// async-graphql's byte for byte.
fn json_string(out: &mut Vec<u8>, s: &str) -> Run {
    // Checked a chunk at a time without stopping early, which compiles to
    // vector instructions; most strings need no escape at all.
    let clean = |chunk: &[u8]| {
        !chunk
            .iter()
            .fold(false, |dirty, &b| dirty | (b < 0x20) | (b == b'"') | (b == b'\\'))
    };
    if s.as_bytes().chunks(32).all(clean) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return Ok(());
    }
    serde_json::to_writer(out, s)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for s in [
            "",
            "plain",
            "Russia–South Ossetia «relations»",
            "a \"quote\" and a \\ backslash",
            "tab\tnew line\ncarriage\r",
            "\u{0}\u{1f}\u{7f}\u{80}",
            "emoji 🇷🇺 and </script>",
        ] {
            let mut out = Vec::new();
            assert!(json_string(&mut out, s).is_ok());
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(s).unwrap(),
                "{s:?}"
            );
        }
    }
}
