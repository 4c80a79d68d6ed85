//! The GraphQL schema. It knows nothing of HTTP and nothing of sled: it reads
//! through [`crate::store::Store`], and HTTP hands it requests.

// Issue 17: paths and as-of views.
mod asof;
mod connection;
mod cost;
mod errors;
mod fanout;
mod federation;
mod filters;
mod guard;
mod introspection;
mod key;
mod loaders;
mod memo;
mod mutation;
mod operation;
mod paths;
mod plan;
mod query;
mod responses;
mod scalars;
mod search;
mod stats;
mod subscription;
mod table;
mod types;

use std::sync::Arc;

use async_graphql::{Request, Response, Schema};

pub use crate::read::cache::ReadCache;
pub use connection::Limits;
pub use errors::{BAD_USER_INPUT, INTERNAL_SERVER_ERROR, NOT_FOUND};
pub use fanout::{subscribe_shared, Fanout, Fed, Feed};
pub use guard::{tokens, QueryLimits, Token, TokenKind};
pub use introspection::SCHEMA_DESCRIPTION;
pub use key::operation_key;
pub use loaders::Loaders;
pub use mutation::{MutationRoot, WriteAccess};
pub use operation::{count_compiled, is_mutation, is_subscription, run, Answered, Operation, Outcome, RawRequest};
pub use plan::{Prepared, RawKind, MAX_RAW_REQUEST};
pub use query::QueryRoot;
pub use subscription::SubscriptionRoot;
pub use table::in_field_table;

use crate::store::Store;

pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Everything that shapes the schema's behaviour, set once at start-up.
#[derive(Clone, Debug, Default)]
pub struct SchemaOptions {
    pub pages: Limits,
    pub limits: QueryLimits,
    /// "Did you mean …" hints in validation errors; off by default, since
    /// they let anyone map a schema with introspection turned off.
    pub suggestions: bool,
    /// Answer reads whose document has run before from a compiled plan
    /// ([`answer_compiled`]) rather than through async-graphql.
    pub compiled_plans: bool,
}

/// Builds the schema once, at start-up; every worker shares it.
pub fn build_schema(store: Store, options: SchemaOptions) -> AppSchema {
    let mut builder = described(Schema::build(QueryRoot, MutationRoot, SubscriptionRoot))
        .data(store)
        .data(Arc::new(ReadCache::default()))
        .data(Arc::new(Fanout::default()))
        .data(options.pages)
        .limit_depth(options.limits.max_depth)
        .limit_complexity(options.limits.max_complexity)
        .data(Arc::new(guard::Guard::new(options.limits.clone())));
    if !options.suggestions {
        builder = builder.disable_suggestions();
    }
    if options.compiled_plans {
        builder = builder.data(Arc::new(plan::Plans::default()));
    }
    if !options.limits.introspection {
        builder = builder.disable_introspection();
    }
    builder.finish()
}

/// Runs one operation behind the guard: refused before it runs if it breaks
/// a limit, stopped at the time limit, every error given a code. Attach the
/// request's loaders ([`loaders_for`]) first.
pub async fn execute(schema: &AppSchema, request: Request, request_id: Option<&str>) -> Response {
    execute_with(schema, request, request_id, known(schema), std::time::Instant::now()).await
}

/// What the cost estimate knows of the store now: its statistics (as of
/// its current generation) and the page limits.
fn known(schema: &AppSchema) -> Option<cost::Known> {
    let store = schema.data::<Store>()?;
    let stats = store.stats_snapshot();
    let stats = stats
        .map_err(|e| tracing::error!(error = %e, "could not read the store statistics"))
        .ok()?;
    Some(cost::Known {
        stats,
        pages: schema.data::<Limits>().copied().unwrap_or_default(),
    })
}

/// [`execute`], estimating the query's complexity with `known`, with the
/// time limit running from `started` (when the request came).
async fn execute_with(
    schema: &AppSchema,
    request: Request,
    request_id: Option<&str>,
    known: Option<cost::Known>,
    started: std::time::Instant,
) -> Response {
    let mut request = request
        .data(memo::SubtreeMemo::default())
        .data(federation::Prefetched::default());
    let Some(guard) = schema.data::<Arc<guard::Guard>>().cloned() else {
        return schema.execute(request).await;
    };
    // Kept when the operation asks for `__schema`, to put our description in.
    let mut introspects = None;
    match guard.check(&request.query) {
        Ok(doc) => {
            if let Some(missing) = guard::missing_variable(&doc, request.operation_name.as_deref(), &request.variables)
            {
                return guard.refused(missing, request_id);
            }
            if request.query.contains("__schema") {
                introspects = Some((doc.clone(), request.operation_name.clone()));
            }
            request.set_parsed_query(doc)
        }
        Err(refusal) => return guard.refused(refusal, request_id),
    }
    // Reads never wait, so an operation may run to its end in one poll,
    // past any timer: every read checks the deadline, and fails once it
    // has passed, so the rest of the operation ends at once.
    let deadline = Deadline(started + guard.limits.timeout);
    let request = request.data(deadline);
    // Validation, which adds up the complexity, runs inside `schema.execute`.
    let run = tokio::time::timeout_at(deadline.0.into(), schema.execute(request));
    let mut response = match cost::with_known(known, run).await {
        Ok(_) if deadline.passed() => Response::from_errors(vec![guard.timed_out()]),
        Ok(response) => response,
        Err(_) => Response::from_errors(vec![guard.timed_out()]),
    };
    if let Some((doc, operation)) = introspects {
        introspection::describe(&doc, operation.as_deref(), &mut response);
    }
    guard.finish(&mut response, request_id);
    response
}

/// When the operation's time is up.
#[derive(Clone, Copy)]
pub(crate) struct Deadline(std::time::Instant);

impl Deadline {
    pub(crate) fn passed(self) -> bool {
        std::time::Instant::now() > self.0
    }
}

/// What a compiled plan made of a read.
pub enum Planned {
    /// The response body.
    Answer(Vec<u8>),
    /// The operation ran out of time: the body of the error response.
    TimedOut(Vec<u8>),
}

/// [`Planner::answer`] for a request that comes now, with the schema's
/// planner looked up for the occasion: for callers that hold no [`Planner`]
/// (tests). A transport builds its planner once and hands it to [`run`].
pub fn answer_compiled(
    schema: &AppSchema,
    query: &str,
    operation: Option<&str>,
    variables: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Option<Planned> {
    Planner::of(schema)?.answer(query, operation, variables, std::time::Instant::now())
}

/// What answering a read from its compiled plan needs of the schema, looked
/// up in its data once, at start-up, rather than per request (each lookup
/// hashes a type id: the handful a planned read needs cost about as much
/// as writing a short answer's keys).
#[derive(Clone)]
pub struct Planner {
    plans: Arc<plan::Plans>,
    store: Store,
    cache: Arc<ReadCache>,
    limits: Limits,
    guard: Arc<guard::Guard>,
}

impl Planner {
    /// The schema's, or `None` when compiled plans are off.
    pub fn of(schema: &AppSchema) -> Option<Planner> {
        Some(Planner {
            plans: schema.data::<Arc<plan::Plans>>()?.clone(),
            store: schema.data::<Store>()?.clone(),
            cache: schema.data::<Arc<ReadCache>>()?.clone(),
            limits: schema.data::<Limits>().copied().unwrap_or_default(),
            guard: schema.data::<Arc<guard::Guard>>()?.clone(),
        })
    }

    /// The answer to a read from its document's compiled plan, or `None`
    /// when the document has no plan (yet) or the plan leaves this request
    /// to [`execute`]. `started`: when the request came, from which its time
    /// limit runs.
    pub fn answer(
        &self,
        query: &str,
        operation: Option<&str>,
        variables: Option<&serde_json::Map<String, serde_json::Value>>,
        started: std::time::Instant,
    ) -> Option<Planned> {
        self.planned(started, |reads| self.plans.answer(query, operation, variables, reads))
    }

    /// Remembers a read a plan just answered under the raw bytes it came
    /// as, for [`Planner::prepared`] to find next time.
    pub(crate) fn remember_raw(
        &self,
        raw: &RawRequest,
        query: &str,
        operation: Option<&str>,
        variables: Option<&serde_json::Map<String, serde_json::Value>>,
    ) {
        self.plans
            .remember_raw(raw.kind, &raw.bytes, query, operation, variables);
    }

    /// The request a compiled plan answered before under these raw bytes (a
    /// POST body, a GET query string; see [`Operation::raw`]), if any: answer
    /// it with [`Planner::answer_prepared`], without parsing the bytes.
    pub fn prepared(&self, kind: RawKind, raw: &[u8]) -> Option<Arc<Prepared>> {
        self.plans.prepared(kind, raw)
    }

    /// The answer to a request found by [`Planner::prepared`], or `None`
    /// when its plan leaves it to [`execute`] (then run it as any other).
    /// `started`: when the request came, from which its time limit runs.
    pub fn answer_prepared(&self, prepared: &Prepared, started: std::time::Instant) -> Option<Planned> {
        self.planned(started, |reads| self.plans.answer_prepared(prepared, reads))
    }

    /// What `answer` made of a read, given what a plan reads from.
    fn planned(
        &self,
        started: std::time::Instant,
        answer: impl FnOnce(plan::Reads<'_>) -> plan::Run<Vec<u8>>,
    ) -> Option<Planned> {
        let stats = self
            .store
            .stats_snapshot()
            .map_err(|e| tracing::error!(error = %e, "could not read the store statistics"))
            .ok();
        let reads = plan::Reads {
            store: &self.store,
            cache: &self.cache,
            limits: self.limits,
            deadline: started + self.guard.limits.timeout,
            stats,
        };
        match answer(reads) {
            Ok(body) => Some(Planned::Answer(body)),
            Err(plan::GiveUp::Unsure) => None,
            Err(plan::GiveUp::TimedOut) => self.timed_out_body().map(Planned::TimedOut),
        }
    }

    /// The body of the answer to an operation that ran out of time.
    fn timed_out_body(&self) -> Option<Vec<u8>> {
        let mut response = Response::from_errors(vec![self.guard.timed_out()]);
        self.guard.finish(&mut response, None);
        serde_json::to_vec(&response).ok()
    }
}

/// Learns from a read that [`execute`] just ran without an error (see
/// `plan.rs` for why that run matters): compiles the document the first
/// time, and notes the page sizes it ran with.
pub fn learn_plan(
    schema: &AppSchema,
    query: &str,
    operation: Option<&str>,
    variables: Option<&serde_json::Map<String, serde_json::Value>>,
) {
    let stats = known(schema).map(|k| k.stats);
    learn_plan_under(schema, query, operation, variables, stats);
}

/// [`learn_plan`] for a read whose complexity was estimated under `stats`.
fn learn_plan_under(
    schema: &AppSchema,
    query: &str,
    operation: Option<&str>,
    variables: Option<&serde_json::Map<String, serde_json::Value>>,
    stats: Option<Arc<crate::store::Stats>>,
) {
    let (Some(plans), Some(guard)) = (schema.data::<Arc<plan::Plans>>(), schema.data::<Arc<guard::Guard>>()) else {
        return;
    };
    if plans.knows(query, operation) {
        plans.learn(query, operation, None, variables, stats);
        return;
    }
    if let Ok(doc) = guard.check(query) {
        plans.learn(query, operation, Some(&doc), variables, stats);
    }
}

/// Learns from a write that async-graphql just ran without error: its
/// document's write plan (`plan/write.rs`), the first time it is met.
fn learn_write_plan(schema: &AppSchema, query: &str, operation: Option<&str>) {
    let (Some(plans), Some(guard)) = (schema.data::<Arc<plan::Plans>>(), schema.data::<Arc<guard::Guard>>()) else {
        return;
    };
    plans.learn_write(query, operation, || guard.check(query).ok());
}

/// The schema behind the guard, for transports that drive async-graphql
/// themselves (the WebSocket protocols): every operation and subscription
/// is checked before it starts.
#[derive(Clone)]
pub struct Guarded(pub AppSchema);

impl async_graphql::Executor for Guarded {
    async fn execute(&self, request: Request) -> Response {
        execute(&self.0, request, None).await
    }

    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<async_graphql::Data>>,
    ) -> futures_util::stream::BoxStream<'static, Response> {
        use futures_util::StreamExt;
        let Some(guard) = self.0.data::<Arc<guard::Guard>>().cloned() else {
            return self
                .0
                .execute_stream_with_session_data(request, session_data.unwrap_or_default());
        };
        match guard.check(&request.query) {
            Ok(doc) => request.set_parsed_query(doc),
            Err(refusal) => {
                return futures_util::stream::once(futures_util::future::ready(guard.refused(refusal, None))).boxed()
            }
        }
        self.0
            .execute_stream_with_session_data(request, session_data.unwrap_or_default())
            .map(move |mut response| {
                guard.finish(&mut response, None);
                response
            })
            .boxed()
    }
}

/// The per-request reads for a request on `schema`, sharing its read cache.
pub fn loaders_for(schema: &AppSchema) -> Loaders {
    let store = schema.data::<Store>().expect("the schema is built with its store");
    Loaders::with_cache(store, schema.data::<Arc<ReadCache>>().cloned())
}

/// The store's write counter: it moves only after a write is on disk, so a
/// cached answer keyed on it is never older than the last acknowledged write.
pub fn generation(schema: &AppSchema) -> u64 {
    schema.data::<Store>().map_or(0, Store::current_generation)
}

/// Whether the graph can serve reads and take writes, as `/ready` says.
pub enum Readiness {
    /// A seed is fully loaded (its content hash) and writes reach the disk.
    Ready { seed: String },
    /// The store holds no complete seed (its state).
    NotSeeded(String),
    /// Writes cannot reach the disk (why).
    Unwritable(String),
    /// The store could not be read.
    Unavailable,
}

/// Checks readiness. After a disk fault this writes a probe and flushes:
/// call it off the async workers.
pub fn readiness(schema: &AppSchema) -> Readiness {
    let Some(store) = schema.data::<Store>() else {
        return Readiness::Unavailable;
    };
    if let Err(reason) = store.writable() {
        return Readiness::Unwritable(reason.to_string());
    }
    match store.seed_state() {
        Ok(crate::store::SeedState::Loaded { hash }) => Readiness::Ready { seed: hash },
        Ok(other) => Readiness::NotSeeded(format!("{other:?}")),
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed");
            Readiness::Unavailable
        }
    }
}

/// The store's counters, for `/metrics`.
pub struct StoreCounters {
    pub reads: u64,
    pub writes: u64,
    pub storage_errors: u64,
    /// Groups of writes sealed (each landed with one log sync, or refused).
    pub write_groups: u64,
    /// Syncs of the write-ahead log.
    pub log_syncs: u64,
    /// Bytes the read cache's entries hold.
    pub read_cache_bytes: usize,
    /// Bytes the search vocabulary (typo search) holds.
    pub vocabulary_bytes: usize,
}

pub fn store_counters(schema: &AppSchema) -> StoreCounters {
    let read_cache_bytes = schema.data::<Arc<ReadCache>>().map_or(0, |cache| cache.bytes());
    schema.data::<Store>().map_or(
        StoreCounters {
            reads: 0,
            writes: 0,
            storage_errors: 0,
            write_groups: 0,
            log_syncs: 0,
            read_cache_bytes,
            vocabulary_bytes: 0,
        },
        |store| StoreCounters {
            reads: store.reads(),
            writes: store.writes(),
            storage_errors: store.storage_errors(),
            write_groups: store.sealed_groups().groups,
            log_syncs: store.log_syncs(),
            read_cache_bytes,
            vocabulary_bytes: store.vocabulary_bytes(),
        },
    )
}

/// The SDL clients and codegen read (the public schema, without the
/// federation fields a gateway uses); `schema.graphql` holds a copy, and
/// `GET /graphql/schema.graphql` serves it.
pub fn sdl() -> String {
    federation::public(&served_sdl())
}

/// The public SDL for `GET /graphql/schema.graphql`, printed once; `None`
/// when introspection is off, since the SDL tells as much as introspection.
pub fn public_sdl(schema: &AppSchema) -> Option<&'static str> {
    static SDL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let guard = schema.data::<Arc<guard::Guard>>()?;
    guard.limits.introspection.then(|| SDL.get_or_init(sdl).as_str())
}

/// async-graphql's SDL of the schema served, federation fields included.
fn served_sdl() -> String {
    described(Schema::build(QueryRoot, MutationRoot, SubscriptionRoot))
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}

/// The Apollo Federation v2 subgraph SDL (`diplograph schema --federation`):
/// what `Query._service { sdl }` answers a gateway, with `@key(fields: "id")`
/// on every entity type.
pub fn subgraph_sdl() -> String {
    described(Schema::build(QueryRoot, MutationRoot, SubscriptionRoot))
        .finish()
        .sdl_with_options(federation::subgraph_options())
}

/// Descriptions for the generic Relay types, which cannot carry doc comments.
fn described(
    builder: async_graphql::SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot>,
) -> async_graphql::SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    use connection::*;
    builder
        .override_output_type_description::<ActorConnection>(
            "A page of actors, with cursors to page on and the total count.",
        )
        .override_output_type_description::<EventConnection>(
            "A page of events, with cursors to page on and the total count.",
        )
        .override_output_type_description::<TreatyConnection>(
            "A page of treaties, with cursors to page on and the total count.",
        )
        .override_output_type_description::<PlaceConnection>(
            "A page of places, with cursors to page on and the total count.",
        )
        .override_output_type_description::<FundingAllocationConnection>(
            "A page of funding allocations, with cursors, the total count and the total amount per currency.",
        )
}
