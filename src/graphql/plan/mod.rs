//! Compiled queries: a read's JSON answer written straight from the store's
//! entities, without async-graphql's per-field futures and value tree.
//!
//! A document is compiled only after async-graphql has run it once without
//! an error. By then it has passed parsing, validation and every limit, and
//! those depend on the document alone: page sizes must be written in the
//! document, and the variables a plan takes (ids, cursors, search words,
//! event filters) change no limit. A plan covers the entities, their
//! relations and lists, the `Node` interface, the connections, `search`,
//! `timeline`, `nodes(ids:)` and a federation gateway's
//! `_entities(representations:)`; a document that uses anything else
//! (directives other than `@include`/`@skip`, introspection, `_service`)
//! stays with async-graphql.
//!
//! Whatever would make async-graphql report an error (an id or a cursor it
//! refuses, a page over the limit, a failed read) makes a plan give up and
//! leave the request to async-graphql, so every error keeps a single source
//! and a plan's answer is always the one async-graphql would give. The tests
//! in `tests/api/plans.rs` compare the two over every entity of the seed.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet, Type,
};
use async_graphql::Name;
use async_graphql_value::Value;
use rustc_hash::FxHashMap;
use serde_json::{Map, Value as Json};

use super::connection::Limits;
use crate::read::cache::ReadCache;
use crate::store::{Stats, Store};

mod compile;
mod run;
mod write;

use compile::Sel;
use compile::{compile, Variable, MAX_FRAGMENT_NESTING};
pub use write::WritePlan;

/// Plans the server keeps at most; past that it starts over.
const MAX_PLANS: usize = 1000;

/// Plans one document keeps at most, one per combination of the values its
/// `@include`/`@skip` variables take.
const MAX_VARIANTS: usize = 16;

/// Sets of page sizes one document remembers as accepted.
const MAX_PROVEN: usize = 8;

/// What was learned of one document, per operation name: what plans need
/// of it (a read's [`Document`], a [`WritePlan`]), or `None` when plans
/// cannot answer it (so it is not looked at again).
type ByOperation<T> = Vec<(Option<String>, Option<Arc<T>>)>;
type Learned = ByOperation<Document>;
type LearnedWrites = ByOperation<WritePlan>;

/// The plans learned so far, by document text, and the requests they
/// answered by their raw bytes.
#[derive(Default)]
pub struct Plans {
    known: Mutex<FxHashMap<String, Learned>>,
    raw: Mutex<RawMemo>,
    /// Write plans, by document text and operation name (`None`: the
    /// document was looked at and cannot be planned).
    writes: Mutex<FxHashMap<String, LearnedWrites>>,
}

/// Bytes of requests (and of what they decode to) the raw memo keeps at
/// most; past that it starts over.
const RAW_MEMO_BYTES: usize = 4 * 1024 * 1024;

/// Requests longer than this are not remembered by their raw bytes.
pub const MAX_RAW_REQUEST: usize = 16 * 1024;

/// The raw bytes of a request, by how they came: the same bytes over GET
/// and POST are different requests.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RawKind {
    /// A POST body.
    Post,
    /// A GET query string.
    Get,
}

/// Requests a plan answered, by their raw bytes, with what answering them
/// again needs already decoded.
#[derive(Default)]
struct RawMemo {
    post: FxHashMap<Box<[u8]>, Arc<Prepared>>,
    get: FxHashMap<Box<[u8]>, Arc<Prepared>>,
    /// Sum of [`Prepared::cost`] over the entries.
    bytes: usize,
}

impl RawMemo {
    fn map(&self, kind: RawKind) -> &FxHashMap<Box<[u8]>, Arc<Prepared>> {
        match kind {
            RawKind::Post => &self.post,
            RawKind::Get => &self.get,
        }
    }
}

/// A request a plan answered, remembered by its raw bytes: its document,
/// its variables as decoded, the plan for their `@include`/`@skip` values
/// and its page sizes, so the same bytes are answered again without
/// parsing them, looking the document up or checking the variables (all of
/// which give the same result for the same bytes). Whether the page sizes
/// are still within what async-graphql accepted is checked every time,
/// since that depends on the store's statistics.
pub struct Prepared {
    document: Arc<Document>,
    variables: Option<Map<String, Json>>,
    sizes: Vec<Option<i64>>,
    plan: Arc<Plan>,
    /// What the entry counts against [`RAW_MEMO_BYTES`].
    cost: usize,
}

impl Prepared {
    /// The operation name the request gave.
    pub fn operation_name(&self) -> Option<&str> {
        self.document.operation.as_deref()
    }
}

/// What was learned of `query`'s operation `operation` (reads or writes):
/// `None` if it was never looked at, `Some(None)` if it cannot be planned.
fn learned<'m, T>(
    map: &'m FxHashMap<String, ByOperation<T>>,
    query: &str,
    operation: Option<&str>,
) -> Option<&'m Option<Arc<T>>> {
    map.get(query)?
        .iter()
        .find(|(op, _)| op.as_deref() == operation)
        .map(|(_, learned)| learned)
}

impl Plans {
    fn get(&self, query: &str, operation: Option<&str>) -> Option<Option<Arc<Document>>> {
        learned(&*self.known.lock().ok()?, query, operation).cloned()
    }

    /// The write plan for a document's operation, if one was learned.
    pub fn write_plan(&self, query: &str, operation: Option<&str>) -> Option<Arc<WritePlan>> {
        learned(&*self.writes.lock().ok()?, query, operation)?.clone()
    }

    /// Learns from a write that async-graphql just ran without error: the
    /// document's write plan, the first time it is met.
    /// `doc` gives the parsed document, asked for only then.
    pub fn learn_write(&self, query: &str, operation: Option<&str>, doc: impl FnOnce() -> Option<ExecutableDocument>) {
        let Ok(mut writes) = self.writes.lock() else { return };
        if learned(&writes, query, operation).is_some() {
            return;
        }
        let Some(doc) = doc() else { return };
        if writes.len() >= MAX_PLANS {
            writes.clear();
        }
        let plan = WritePlan::compile(&doc, operation).map(Arc::new);
        writes
            .entry(query.to_owned())
            .or_default()
            .push((operation.map(str::to_owned), plan));
    }

    /// Whether the document was looked at before (whether or not plans can answer it).
    pub fn knows(&self, query: &str, operation: Option<&str>) -> bool {
        self.get(query, operation).is_some()
    }

    /// Learns from a run of `doc` that async-graphql just finished without
    /// error: what plans need of the document, the first time; and, every
    /// time, that its page sizes (the values of its `Int` variables) passed
    /// the complexity limit under the store statistics `stats` (those its
    /// validation estimated with).
    pub fn learn(
        &self,
        query: &str,
        operation: Option<&str>,
        doc: Option<&ExecutableDocument>,
        variables: Option<&Map<String, Json>>,
        stats: Option<Arc<Stats>>,
    ) {
        let learned = match self.get(query, operation) {
            Some(learned) => learned,
            None => {
                let Some(doc) = doc else { return };
                let learned = Document::new(doc, operation).map(Arc::new);
                let Ok(mut known) = self.known.lock() else { return };
                if known.len() >= MAX_PLANS {
                    known.clear();
                    // What the raw memo keeps goes with the plans.
                    if let Ok(mut raw) = self.raw.lock() {
                        *raw = RawMemo::default();
                    }
                }
                known
                    .entry(query.to_owned())
                    .or_default()
                    .push((operation.map(str::to_owned), learned.clone()));
                learned
            }
        };
        if let Some(document) = learned {
            document.prove(document.sizes(variables), stats);
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

    /// Remembers a request that a plan just answered by its raw bytes
    /// (see [`Prepared`]); the same bytes are then answered by
    /// [`Plans::answer_raw`].
    pub fn remember_raw(
        &self,
        kind: RawKind,
        raw: &[u8],
        query: &str,
        operation: Option<&str>,
        variables: Option<&Map<String, Json>>,
    ) {
        if raw.len() > MAX_RAW_REQUEST {
            return;
        }
        let Some(document) = self.get(query, operation).flatten() else {
            return;
        };
        if !document.coerces(variables) {
            return;
        }
        let Ok(plan) = document.variant(variables) else {
            return;
        };
        let variables = variables.cloned();
        // The key, the decoded variables (which may hold several times
        // their bytes: a list of digits is a `Json` per digit) and the entry.
        let cost = raw.len() + variables.as_ref().map_or(0, held_bytes) + 128;
        let prepared = Arc::new(Prepared {
            sizes: document.sizes(variables.as_ref()),
            document,
            variables,
            plan,
            cost,
        });
        let Ok(mut memo) = self.raw.lock() else { return };
        if memo.bytes + cost > RAW_MEMO_BYTES {
            *memo = RawMemo::default();
        }
        let map = match kind {
            RawKind::Post => &mut memo.post,
            RawKind::Get => &mut memo.get,
        };
        if let Some(old) = map.insert(raw.into(), prepared) {
            memo.bytes -= old.cost;
        }
        memo.bytes += cost;
    }

    /// The request remembered under these raw bytes, if a plan answered
    /// them before.
    pub fn prepared(&self, kind: RawKind, raw: &[u8]) -> Option<Arc<Prepared>> {
        self.raw.lock().ok()?.map(kind).get(raw).cloned()
    }

    /// The answer to a request remembered by its raw bytes ([`Plans::prepared`]),
    /// when its plan sees it through; `None` leaves it to async-graphql.
    pub fn answer_prepared(&self, prepared: &Prepared, reads: Reads<'_>) -> Run<Vec<u8>> {
        let document = &prepared.document;
        if !document.proven(&prepared.sizes, reads.stats.as_ref()) {
            return Err(GiveUp::Unsure);
        }
        prepared
            .plan
            .run(prepared.variables.as_ref(), &document.variables, reads)
    }
}

/// The heap bytes a decoded variables map holds, counted node by node
/// (each `Json` inline, strings and keys by capacity, a map entry's own
/// overhead), for the raw memo's byte bound.
fn held_bytes(variables: &Map<String, Json>) -> usize {
    fn value(v: &Json) -> usize {
        std::mem::size_of::<Json>()
            + match v {
                Json::String(s) => s.capacity(),
                Json::Array(items) => items.iter().map(value).sum(),
                Json::Object(map) => held_bytes(map),
                _ => 0,
            }
    }
    const ENTRY: usize = 32;
    variables.iter().map(|(k, v)| ENTRY + k.capacity() + value(v)).sum()
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
    /// ran the document with, without error, and under which statistics.
    proven: Mutex<Proven>,
}

/// Page sizes proven within the complexity limit, and the store statistics
/// they were proven under: a list's estimate grows with the statistics
/// (see `graphql/cost.rs`), so the proofs hold while no statistic is higher.
#[derive(Default)]
struct Proven {
    sizes: Vec<Vec<Option<i64>>>,
    under: Option<Arc<Stats>>,
}

impl Proven {
    /// Whether the proofs hold under `now`; if so they are kept under it.
    fn hold_under(&mut self, now: Option<&Arc<Stats>>) -> bool {
        match (now, &self.under) {
            (None, None) => true,
            (Some(now), Some(under)) if Arc::ptr_eq(now, under) => true,
            (Some(now), Some(under)) if now.within(under) => {
                self.under = Some(now.clone());
                true
            }
            _ => false,
        }
    }
}

/// The operation of a document, as a request names it.
pub(super) fn operation_of<'d>(
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
            proven: Mutex::new(Proven::default()),
        })
    }

    /// The values of the `Int` variables: the page sizes, which set the
    /// query's complexity.
    fn sizes(&self, given: Option<&Map<String, Json>>) -> Vec<Option<i64>> {
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
        sizes
    }

    /// Remembers page sizes async-graphql accepted under `stats`, keeping
    /// only sets no other set covers (and none proven under higher statistics).
    fn prove(&self, sizes: Vec<Option<i64>>, stats: Option<Arc<Stats>>) {
        let Ok(mut proven) = self.proven.lock() else { return };
        if !proven.hold_under(stats.as_ref()) {
            proven.sizes.clear();
            proven.under = stats;
        }
        let proven = &mut proven.sizes;
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
        if !self.coerces(variables) || !self.proven(&self.sizes(variables), reads.stats.as_ref()) {
            return Err(GiveUp::Unsure);
        }
        let plan = self.variant(variables)?;
        plan.run(variables, &self.variables, reads)
    }

    /// Whether async-graphql takes these variables without complaint.
    fn coerces(&self, variables: Option<&Map<String, Json>>) -> bool {
        self.variables.iter().all(|variable| {
            let given = variables.and_then(|v| v.get(variable.name.as_str()));
            let defaulted = given.is_none() && variable.default.is_some();
            defaulted || coercible(&variable.ty, given)
        })
    }

    /// Whether page sizes are within the complexity limit under the store's
    /// statistics `now`: complexity grows with every page size and every
    /// statistic, so sizes no larger than ones async-graphql accepted,
    /// under statistics no higher, are within it too.
    fn proven(&self, sizes: &[Option<i64>], now: Option<&Arc<Stats>>) -> bool {
        let Ok(mut proven) = self.proven.lock() else {
            return false;
        };
        proven.hold_under(now) && proven.sizes.iter().any(|p| covered(sizes, p))
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
            // As the scalar parses it (`graphql/scalars.rs`).
            "PartialDate" => value
                .as_str()
                .is_some_and(|s| crate::model::PartialDate::parse(s).is_ok()),
            // A federation representation: any value.
            "_Any" => true,
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
        // The inputs of the creates write plans answer.
        <super::MutationRoot as async_graphql::OutputType>::create_type_info(&mut registry);
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
#[derive(Clone)]
pub struct Reads<'a> {
    pub store: &'a Store,
    pub cache: &'a ReadCache,
    pub limits: Limits,
    /// The operation's time limit: a plan that runs past it stops.
    pub deadline: Instant,
    /// The store's statistics now, which the query's cost estimate depends on.
    pub stats: Option<Arc<Stats>>,
}

/// A document compiled for one operation.
pub struct Plan {
    root: Sel,
    /// The size of the last answer, to size the next one's buffer.
    size: std::sync::atomic::AtomicUsize,
}

/// Why a plan did not answer.
#[derive(Debug, PartialEq)]
pub enum GiveUp {
    /// The request is left to async-graphql.
    Unsure,
    /// The operation's time ran out.
    TimedOut,
}

pub(crate) type Run<T = ()> = Result<T, GiveUp>;

impl<E: std::error::Error> From<E> for GiveUp {
    fn from(_: E) -> GiveUp {
        GiveUp::Unsure
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_is_counted_by_what_it_holds_decoded_not_by_its_bytes() {
        // 8,000 one-digit items: about 16 KB of request bytes, a `Json`
        // each once decoded.
        let raw = format!("{{\"ids\":[{}]}}", vec!["1"; 8000].join(","));
        let variables: Map<String, Json> = serde_json::from_str(&raw).unwrap();
        let held = held_bytes(&variables);
        assert!(
            held >= 8000 * std::mem::size_of::<Json>(),
            "{held} bytes counted for 8,000 decoded values"
        );
        assert!(
            held > 4 * raw.len(),
            "{held} bytes counted for {} request bytes",
            raw.len()
        );
        let text: Map<String, Json> = serde_json::from_str(r#"{"id":"actor/eduard-kokoity"}"#).unwrap();
        assert!(held_bytes(&text) >= "actor/eduard-kokoity".len() + std::mem::size_of::<Json>());
    }
}
