//! The one entry point a transport calls to run an operation: [`run`]. It
//! decides the path (a compiled plan, or async-graphql behind the guard),
//! learns plans from reads that ran without error, and serialises the
//! answer. The transport keeps what is its own: parsing the request,
//! persisted queries, authentication and the response cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use async_graphql::parser::types::OperationType;
use async_graphql::{Request, Response, ServerError, Variables};
use serde_json::{Map, Value};
use tracing::Instrument;

use super::{
    execute_with, known, learn_plan_under, learn_write_plan, loaders_for, AppSchema, Planned, Planner, WriteAccess,
};
use crate::store::Store;

/// One operation, as a transport hands it over.
#[derive(Debug, Default)]
pub struct Operation {
    pub query: String,
    pub operation_name: Option<String>,
    pub variables: Option<Map<String, Value>>,
    pub extensions: Option<Map<String, Value>>,
    /// The caller showed a valid write token.
    pub write_access: bool,
    /// The transport's request id, put on every error.
    pub request_id: Option<String>,
    /// The operation's label in metrics and traces.
    pub label: String,
    /// Where the transport keeps the counter of compiled answers under
    /// `label` between requests: registered here when a plan first answers
    /// under it, then only incremented (`None`: looked up by `label` each time).
    pub compiled_answers: Option<Arc<OnceLock<metrics::Counter>>>,
    /// The request's raw bytes, when the transport would look them up
    /// with [`Planner::prepared`] next time: a read a plan answers is then
    /// remembered under them. Only for a request whose bytes say all there
    /// is to it (no persisted query, no extensions).
    pub raw: Option<RawRequest>,
    /// When the request came: the operation's time limit runs from then,
    /// whichever path answers it (`None`: from when [`run`] is called).
    pub started: Option<Instant>,
}

/// The raw bytes of a request, as [`Operation::raw`] carries them.
#[derive(Debug)]
pub struct RawRequest {
    pub kind: super::RawKind,
    pub bytes: Box<[u8]>,
}

/// How an operation ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Outcome {
    /// Answered without errors.
    Ok,
    /// It ran, and the answer carries errors (a field error, the time limit).
    Error,
    /// Refused before it ran (parse, validation, a limit): a request error,
    /// whose answer has no `data` key.
    Refused,
}

impl Outcome {
    /// The label metrics use.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Refused => "refused",
        }
    }
}

/// What running an operation produced.
#[derive(Debug)]
pub struct Answered {
    /// The JSON answer.
    pub body: Vec<u8>,
    pub outcome: Outcome,
    /// A read answered without errors: the same document, variables and
    /// store generation give the same bytes, so a transport may keep them.
    pub cacheable: bool,
}

/// Whether an operation of `query` (the one `operation_name` picks) is a
/// mutation. A document that does not parse is not: running it reports why.
pub fn is_mutation(query: &str, operation_name: Option<&str>) -> bool {
    // A mutation needs the keyword; most documents skip the parse.
    mentions(query, "mutation") && operation_type(query, operation_name) == Some(OperationType::Mutation)
}

/// Whether `word` occurs in `text`: `str::contains` for a short text, without
/// its searcher's set-up (which costs more than the search on a document of
/// a few hundred bytes, and this runs for every read).
fn mentions(text: &str, word: &str) -> bool {
    let (text, word) = (text.as_bytes(), word.as_bytes());
    let Some(&first) = word.first() else { return true };
    text.iter()
        .enumerate()
        .any(|(i, &b)| b == first && text[i..].starts_with(word))
}

/// Whether the operation of `query` that `operation_name` picks is a
/// subscription (a document that does not parse is not).
pub fn is_subscription(query: &str, operation_name: Option<&str>) -> bool {
    mentions(query, "subscription") && operation_type(query, operation_name) == Some(OperationType::Subscription)
}

/// Operation types of the documents seen lately, by document text and
/// operation name: telling a write from a read means parsing the document,
/// which costs more than the rest of a small write, and clients send the
/// same few documents over and over. At most [`KINDS_BYTES`] of document
/// text is kept (all of it is dropped when a new one would pass that), and
/// no document longer than [`KINDS_LONGEST`].
#[derive(Default)]
struct Kinds {
    by_query: HashMap<String, Vec<Kind>>,
    bytes: usize,
}

/// An operation name in a document, and the type of the operation it picks
/// (`None`: the document does not parse, or has no such operation).
type Kind = (Option<String>, Option<OperationType>);

const KINDS_BYTES: usize = 1024 * 1024;
const KINDS_LONGEST: usize = 16 * 1024;

fn kinds() -> &'static Mutex<Kinds> {
    static KINDS: OnceLock<Mutex<Kinds>> = OnceLock::new();
    KINDS.get_or_init(Mutex::default)
}

fn operation_type(query: &str, operation_name: Option<&str>) -> Option<OperationType> {
    if query.len() > KINDS_LONGEST {
        return parse_operation_type(query, operation_name);
    }
    let known = kinds().lock().ok().and_then(|kinds| {
        kinds
            .by_query
            .get(query)?
            .iter()
            .find(|(name, _)| name.as_deref() == operation_name)
            .map(|(_, ty)| *ty)
    });
    if let Some(ty) = known {
        return ty;
    }
    let ty = parse_operation_type(query, operation_name);
    if let Ok(mut kinds) = kinds().lock() {
        let bytes = query.len() + operation_name.map_or(0, str::len);
        if kinds.bytes + bytes > KINDS_BYTES {
            *kinds = Kinds::default();
        }
        kinds.bytes += bytes;
        kinds
            .by_query
            .entry(query.to_owned())
            .or_default()
            .push((operation_name.map(str::to_owned), ty));
    }
    ty
}

fn parse_operation_type(query: &str, operation_name: Option<&str>) -> Option<OperationType> {
    let doc = async_graphql::parser::parse_query(query).ok()?;
    let op = match operation_name {
        Some(name) => {
            doc.operations
                .iter()
                .find(|(n, _)| n.map(|n| n.as_str()) == Some(name))?
                .1
        }
        None => doc.operations.iter().next()?.1,
    };
    Some(op.node.ty)
}

/// Runs one operation: from its compiled plan when the document has one
/// that covers this request, otherwise through async-graphql behind the
/// guard (learning a plan when a read runs without error). `planner`: the
/// schema's ([`Planner::of`]), built once by the transport; `None` when
/// compiled plans are off.
pub async fn run(schema: &AppSchema, planner: Option<&Planner>, mut operation: Operation) -> Answered {
    let started = *operation.started.get_or_insert_with(Instant::now);
    let write = is_mutation(&operation.query, operation.operation_name.as_deref());
    // An authorised write is noted as on its way until it is answered, so
    // that a group of writes about to be sealed may wait for it to join.
    let _coming = match (write && operation.write_access, schema.data::<Store>()) {
        (true, Some(store)) => Some(store.write_coming()),
        _ => None,
    };
    match planner {
        Some(planner) if !write => {
            if let Some(answered) = run_planned(planner, &operation, started) {
                return answered;
            }
        }
        Some(planner) if operation.write_access => {
            if let Some(answered) = run_write_planned(planner, &operation, started).await {
                return answered;
            }
        }
        _ => {}
    }
    // Boxed: async-graphql's execution is a future of many kilobytes, which
    // would otherwise make this one (and its callers') as large, to be moved
    // whole when a transport boxes it even though a plan answers.
    Box::pin(execute_operation(schema, operation, write)).await
}

/// [`run`] through async-graphql behind the guard.
async fn execute_operation(schema: &AppSchema, operation: Operation, write: bool) -> Answered {
    let Operation {
        query,
        operation_name,
        variables,
        extensions,
        write_access,
        request_id,
        label,
        compiled_answers: _,
        raw: _,
        started,
    } = operation;
    let mut request = Request::new(query.clone());
    if let Some(name) = &operation_name {
        request = request.operation_name(name.clone());
    }
    if let Some(vars) = &variables {
        request = request.variables(Variables::from_json(Value::Object(vars.clone())));
    }
    for (k, v) in extensions.into_iter().flatten() {
        if let Ok(v) = async_graphql::Value::from_json(v) {
            request.extensions.insert(k, v);
        }
    }
    if write_access {
        request = request.data(WriteAccess);
    }
    let request = request.data(loaders_for(schema));
    // The statistics the complexity is estimated under: a plan learned from
    // this run holds only while the store's are no higher.
    let known = known(schema);
    let stats = known.as_ref().map(|k| k.stats.clone());
    let started = started.unwrap_or_else(Instant::now);
    let response = execute_with(schema, request, request_id.as_deref(), known, started)
        .instrument(tracing::info_span!("operation", operation = %label))
        .await;
    let outcome = if is_request_error(&response) {
        Outcome::Refused
    } else if response.errors.is_empty() {
        Outcome::Ok
    } else {
        Outcome::Error
    };
    let Some(body) = serialise(&response, outcome) else {
        return Answered {
            body: UNSERIALISABLE.as_bytes().to_vec(),
            outcome: Outcome::Error,
            cacheable: false,
        };
    };
    if outcome == Outcome::Ok && !write {
        learn_plan_under(schema, &query, operation_name.as_deref(), variables.as_ref(), stats);
    } else if outcome == Outcome::Ok && write_access {
        learn_write_plan(schema, &query, operation_name.as_deref());
    }
    Answered {
        body,
        outcome,
        cacheable: outcome == Outcome::Ok && !write,
    }
}

/// The answer when a response cannot be written as JSON.
const UNSERIALISABLE: &str =
    r#"{"errors":[{"message":"could not serialise the response","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#;

/// The answer from the document's compiled plan, if it has one for this
/// request, which came at `started`.
fn run_planned(planner: &Planner, operation: &Operation, started: Instant) -> Option<Answered> {
    let planned = planner.answer(
        &operation.query,
        operation.operation_name.as_deref(),
        operation.variables.as_ref(),
        started,
    )?;
    Some(match planned {
        Planned::Answer(body) => {
            count_compiled(&operation.label, operation.compiled_answers.as_deref());
            if let (Some(raw), None) = (&operation.raw, &operation.extensions) {
                planner.remember_raw(
                    raw,
                    &operation.query,
                    operation.operation_name.as_deref(),
                    operation.variables.as_ref(),
                );
            }
            Answered {
                body,
                outcome: Outcome::Ok,
                cacheable: true,
            }
        }
        Planned::TimedOut(body) => Answered {
            body,
            outcome: Outcome::Error,
            cacheable: false,
        },
    })
}

/// The answer to a create from its document's write plan (`plan/write.rs`),
/// if it has one and the variables are ones it takes; `None` when the
/// request is left to async-graphql, which then runs it from the start
/// (nothing was written: a failed create keeps nothing).
async fn run_write_planned(planner: &Planner, operation: &Operation, started: Instant) -> Option<Answered> {
    let plan = planner
        .plans
        .write_plan(&operation.query, operation.operation_name.as_deref())?;
    let input = plan.input(operation.variables.as_ref())?;
    let create = super::mutation::create_planned(&planner.store, plan.kind, input);
    let left = (started + planner.guard.limits.timeout).saturating_duration_since(Instant::now());
    let entity = match tokio::time::timeout(left, create).await {
        Ok(Ok(entity)) => crate::read::cache::Entity::from(entity),
        Ok(Err(_)) => return None,
        Err(_) => {
            return Some(Answered {
                body: planner.timed_out_body()?,
                outcome: Outcome::Error,
                cacheable: false,
            })
        }
    };
    // The write is kept: from here on, the request is answered here.
    let body = match planner.planned(started, |reads| plan.answer(&entity, reads)) {
        Some(Planned::Answer(body)) => body,
        // A plan writes only scalars of the entity in hand, which cannot fail.
        _ => {
            tracing::error!(operation = %operation.label, "a write was kept but its answer could not be written");
            return Some(Answered {
                body: WRITTEN_UNANSWERED.as_bytes().to_vec(),
                outcome: Outcome::Error,
                cacheable: false,
            });
        }
    };
    count_compiled(&operation.label, operation.compiled_answers.as_deref());
    Some(Answered {
        body,
        outcome: Outcome::Ok,
        cacheable: false,
    })
}

/// The answer when a write was kept but its answer could not be written.
const WRITTEN_UNANSWERED: &str = r#"{"data":null,"errors":[{"message":"the write was kept, but its answer could not be written","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#;

/// Counts an answer a compiled plan wrote for the operation labelled
/// `label` (`diplograph_compiled_answers_total`), registering the counter
/// in `kept` the first time when the transport keeps it there.
pub fn count_compiled(label: &str, kept: Option<&OnceLock<metrics::Counter>>) {
    let counter = || metrics::counter!("diplograph_compiled_answers_total", "operation" => label.to_owned());
    match kept {
        Some(kept) => kept.get_or_init(counter).increment(1),
        None => counter().increment(1),
    }
}

/// A response whose errors all came before execution (parse or validation)
/// has no `data`; the spec calls that a request error.
fn is_request_error(response: &Response) -> bool {
    // A timeout stops an operation that did start: not a request error.
    let started = |e: &ServerError| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .is_some_and(|c| *c == async_graphql::Value::from("TIMEOUT"))
    };
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty() && !started(e))
}

#[derive(serde::Serialize)]
struct ErrorsOnly<'a> {
    errors: &'a [ServerError],
}

/// The response as JSON, fields in the order async-graphql resolved them (the
/// selection's). A request error has no `data` key at all.
fn serialise(response: &Response, outcome: Outcome) -> Option<Vec<u8>> {
    let body = if outcome == Outcome::Refused {
        serde_json::to_vec(&ErrorsOnly {
            errors: &response.errors,
        })
    } else {
        serde_json::to_vec(response)
    };
    body.map_err(|e| tracing::error!(error = %e, "could not serialise a response"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_finds_a_word_anywhere_as_contains_does() {
        for (text, word) in [
            ("mutation { a }", "mutation"),
            ("{ a } mutation", "mutation"),
            ("{ mutatio mutation }", "mutation"),
            ("{ mutatio }", "mutation"),
            ("mmutation", "mutation"),
            ("", "mutation"),
            ("mutatio", "mutation"),
            ("abc", ""),
        ] {
            assert_eq!(mentions(text, word), text.contains(word), "{word} in {text:?}");
        }
    }
}
