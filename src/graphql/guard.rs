//! Refuses hostile queries before they cost anything, and gives every error
//! a code.
//!
//! The checks run in order of cost: the raw text (length, tokens) before
//! parsing; the parsed document (aliases, root fields, directives,
//! introspection, total selections with fragments expanded) before
//! validation, whose overlapping-fields rule is quadratic in the worst case;
//! depth and complexity in async-graphql's validation; a time limit on
//! execution.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Duration;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::Name;
use async_graphql::{Response, ServerError, Value};
use lru::LruCache;

/// Query limits, each configurable; the defaults are documented in the README.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryLimits {
    /// Deepest nesting of selections (GraphiQL's introspection query needs 15).
    pub max_depth: usize,
    /// Highest complexity: each field costs 1, a list multiplies by the most
    /// items it can return (see `graphql/cost.rs`). The estimate is an upper
    /// bound, not a guess: the default is set so the clients' documents and
    /// the benchmarks' queries pass at the seed and at a million generated
    /// entities, and every hostile case stays refused by orders of magnitude.
    pub max_complexity: usize,
    /// Most aliases in one document.
    pub max_aliases: usize,
    /// Most root fields in one operation.
    pub max_root_fields: usize,
    /// Most directives on one field.
    pub max_directives: usize,
    /// Longest query text, in characters.
    pub max_query_chars: usize,
    /// Most lexical tokens in the query text.
    pub max_tokens: usize,
    /// Most selections once fragments are expanded (guards against fragment bombs).
    pub max_selections: usize,
    /// Whether `__schema` and `__type` may be queried.
    pub introspection: bool,
    /// Longest time one operation may run.
    pub timeout: Duration,
}

impl Default for QueryLimits {
    fn default() -> QueryLimits {
        QueryLimits {
            max_depth: 15,
            max_complexity: 50_000,
            max_aliases: 30,
            max_root_fields: 20,
            max_directives: 5,
            max_query_chars: 20_000,
            max_tokens: 5_000,
            max_selections: 5_000,
            introspection: true,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why a query was refused, as an error code (also the `reason` label of the
/// refused-query metric).
pub fn refusal(code: &'static str, message: impl Into<String>) -> ServerError {
    metrics::counter!("diplograph_refused_queries_total", "reason" => code).increment(1);
    let mut err = ServerError::new(message, None);
    let mut ext = async_graphql::ErrorExtensionValues::default();
    ext.set("code", code);
    err.extensions = Some(ext);
    err
}

/// The request error for a variable the operation requires (of a non-null
/// type, without a default) that the request does not give, as the spec's
/// CoerceVariableValues raises it. async-graphql would run the operation and
/// fail the field that reads the variable with an error that says nothing
/// of the cause. `None` when every required variable is given, or when the
/// request names no operation of the document (async-graphql says so).
pub fn missing_variable(
    doc: &ExecutableDocument,
    operation: Option<&str>,
    variables: &async_graphql::Variables,
) -> Option<ServerError> {
    use async_graphql::parser::types::DocumentOperations;
    let op = match (&doc.operations, operation) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name)?,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
        _ => return None,
    };
    let def = op.node.variable_definitions.iter().find(|def| {
        let def = &def.node;
        !def.var_type.node.nullable && def.default_value.is_none() && !variables.contains_key(&def.name.node)
    })?;
    let mut err = refusal(
        crate::graphql::errors::BAD_USER_INPUT,
        format!(
            "the variable `${}` of type `{}` was not given",
            def.node.name.node, def.node.var_type.node
        ),
    );
    err.locations = vec![def.pos];
    Some(err)
}

/// What kind of lexical token a [`Token`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A name, or a number (the two are told apart by their first character).
    Word,
    /// A string or block string, quotes and escapes included, as written.
    String,
    /// `!`, `$`, `(`, `...` and the other punctuators, and any other character.
    Punctuator,
}

/// One lexical token of a GraphQL document, as written in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'q> {
    pub kind: TokenKind,
    pub text: &'q str,
}

/// The GraphQL lexer: the tokens of `query`, skipping whitespace, commas and
/// comments. It never fails: what the parser would refuse still comes out
/// as tokens (an unterminated string runs to the end of its line, or of the
/// document for a block string), so it can count and key any text. The
/// guard counts with it, and the response cache keys on it.
pub fn tokens(query: &str) -> impl Iterator<Item = Token<'_>> {
    let bytes = query.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            match bytes[i] {
                b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
                // A byte-order mark is ignored like whitespace.
                0xEF if bytes[i..].starts_with("\u{feff}".as_bytes()) => i += 3,
                b'#' => {
                    while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                        i += 1;
                    }
                }
                _ => break,
            }
        }
        if i >= bytes.len() {
            return None;
        }
        let start = i;
        let b = bytes[i];
        let kind = if b == b'"' {
            if bytes[i..].starts_with(b"\"\"\"") {
                // A block string ends at the first `"""` not escaped as `\"""`.
                i += 3;
                loop {
                    if i >= bytes.len() {
                        break;
                    }
                    if bytes[i..].starts_with(b"\\\"\"\"") {
                        i += 4;
                    } else if bytes[i..].starts_with(b"\"\"\"") {
                        i += 3;
                        break;
                    } else {
                        i += 1;
                    }
                }
            } else {
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\n' | b'\r' => break,
                        _ => i += 1,
                    }
                }
            }
            TokenKind::String
        } else if bytes[i..].starts_with(b"...") {
            i += 3;
            TokenKind::Punctuator
        } else if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            i += 1;
            // Names and numbers (with their fraction and exponent).
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric()
                    || bytes[i] == b'_'
                    || (bytes[i] == b'.' && !bytes[i..].starts_with(b"..."))
                    || ((bytes[i] == b'-' || bytes[i] == b'+') && matches!(bytes[i - 1], b'e' | b'E')))
            {
                i += 1;
            }
            TokenKind::Word
        } else {
            // One character, whole (a stray non-ASCII one included).
            i += query[i..].chars().next().map_or(1, char::len_utf8);
            TokenKind::Punctuator
        };
        let end = i.min(bytes.len());
        Some(Token {
            kind,
            text: &query[start..end],
        })
    })
}

/// Counts tokens, stopping once past `max`.
fn count_tokens(query: &str, max: usize) -> usize {
    tokens(query).take(max.saturating_add(1)).count()
}

/// Measures a parsed document: aliases and directives as written, root
/// fields and selections with fragments expanded (cycles are left to validation).
struct Survey<'a> {
    doc: &'a ExecutableDocument,
    cycle: Option<String>,
    aliases: usize,
    max_directives: usize,
    introspection: bool,
    selections: usize,
    budget: usize,
    /// The first misuse of `__typename` (async-graphql's validation skips
    /// that field): its message and where it is.
    typename: Option<(String, async_graphql::Pos)>,
}

impl<'a> Survey<'a> {
    fn new(doc: &'a ExecutableDocument, budget: usize) -> Survey<'a> {
        Survey {
            doc,
            cycle: None,
            aliases: 0,
            max_directives: 0,
            introspection: false,
            selections: 0,
            budget,
            typename: None,
        }
    }

    /// Validates `__typename` like any field: it takes no arguments, and
    /// only `@include`/`@skip` with a Boolean `if` (a literal or a declared
    /// variable).
    fn check_typename(&mut self, f: &async_graphql::parser::types::Field) {
        use async_graphql_value::Value as V;
        if self.typename.is_some() {
            return;
        }
        let at = f.name.pos;
        if let Some((name, _)) = f.arguments.first() {
            self.typename = Some((
                format!("`__typename` takes no arguments, but `{}` is given", name.node),
                at,
            ));
            return;
        }
        for directive in &f.directives {
            let d = &directive.node;
            let name = d.name.node.as_str();
            if name != "include" && name != "skip" {
                self.typename = Some((format!("unknown directive `@{name}`"), directive.pos));
                return;
            }
            let message = match d.arguments.as_slice() {
                [(arg, value)] if arg.node == "if" => match &value.node {
                    V::Boolean(_) => None,
                    V::Variable(var) if self.declared(var) => None,
                    V::Variable(var) => Some(format!("variable `${var}` is not defined")),
                    other => Some(format!("`@{name}(if:)` takes a Boolean, not `{other}`")),
                },
                _ => Some(format!("`@{name}` takes exactly one argument, `if: Boolean!`")),
            };
            if let Some(message) = message {
                self.typename = Some((message, directive.pos));
                return;
            }
        }
    }

    fn declared(&self, var: &Name) -> bool {
        self.doc
            .operations
            .iter()
            .any(|(_, op)| op.node.variable_definitions.iter().any(|v| v.node.name.node == *var))
    }

    /// Counts what is written, once per occurrence in the text.
    fn written(&mut self, set: &SelectionSet) {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let f = &f.node;
                    if f.alias.is_some() {
                        self.aliases += 1;
                    }
                    self.max_directives = self.max_directives.max(f.directives.len());
                    // `_service` hands a federation gateway the whole SDL.
                    if matches!(f.name.node.as_str(), "__schema" | "__type" | "_service") {
                        self.introspection = true;
                    }
                    if f.name.node == "__typename" {
                        self.check_typename(f);
                    }
                    self.written(&f.selection_set.node);
                }
                Selection::InlineFragment(inline) => {
                    self.max_directives = self.max_directives.max(inline.node.directives.len());
                    self.written(&inline.node.selection_set.node);
                }
                Selection::FragmentSpread(spread) => {
                    self.max_directives = self.max_directives.max(spread.node.directives.len());
                }
            }
        }
    }

    /// Counts selections with fragments expanded; stops once over budget.
    /// A fragment spread inside its own expansion is a cycle: noted, not followed.
    fn expanded(&mut self, set: &SelectionSet, stack: &mut Vec<Name>) {
        for item in &set.items {
            if self.selections > self.budget {
                return;
            }
            self.selections += 1;
            match &item.node {
                Selection::Field(f) => self.expanded(&f.node.selection_set.node, stack),
                Selection::InlineFragment(inline) => self.expanded(&inline.node.selection_set.node, stack),
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if stack.contains(name) {
                        self.cycle = Some(name.to_string());
                        continue;
                    }
                    if let Some(fragment) = self.doc.fragments.get(name) {
                        stack.push(name.clone());
                        self.expanded(&fragment.node.selection_set.node, stack);
                        stack.pop();
                    }
                }
            }
        }
    }

    /// Root fields of one selection set, with root-level fragments expanded;
    /// shares the selection budget, so a fragment bomb at the root stops too.
    fn root_fields(&mut self, set: &SelectionSet, stack: &mut Vec<Name>) -> usize {
        let mut n = 0;
        for item in &set.items {
            if self.selections > self.budget {
                break;
            }
            self.selections += 1;
            n += match &item.node {
                Selection::Field(_) => 1,
                Selection::InlineFragment(inline) => self.root_fields(&inline.node.selection_set.node, stack),
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    match self.doc.fragments.get(name) {
                        Some(fragment) if !stack.contains(name) => {
                            stack.push(name.clone());
                            let k = self.root_fields(&fragment.node.selection_set.node, stack);
                            stack.pop();
                            k
                        }
                        _ => 0,
                    }
                }
            };
        }
        n
    }
}

fn check_document(doc: &ExecutableDocument, limits: &QueryLimits) -> Result<(), ServerError> {
    let mut survey = Survey::new(doc, limits.max_selections);
    for (_, op) in doc.operations.iter() {
        survey.written(&op.node.selection_set.node);
        let roots = survey.root_fields(&op.node.selection_set.node, &mut Vec::new());
        if roots > limits.max_root_fields {
            return Err(refusal(
                "TOO_MANY_ROOT_FIELDS",
                format!(
                    "an operation selects {roots} root fields; the limit is {}",
                    limits.max_root_fields
                ),
            ));
        }
        survey.expanded(&op.node.selection_set.node, &mut Vec::new());
    }
    for (_, fragment) in doc.fragments.iter() {
        survey.written(&fragment.node.selection_set.node);
    }
    if let Some((message, at)) = survey.typename {
        let mut err = refusal("GRAPHQL_VALIDATION_FAILED", message);
        err.locations = vec![at];
        return Err(err);
    }
    if let Some(name) = survey.cycle {
        return Err(refusal(
            "GRAPHQL_VALIDATION_FAILED",
            format!("fragment `{name}` spreads itself (directly or through other fragments); fragments must not form a cycle"),
        ));
    }
    if survey.aliases > limits.max_aliases {
        return Err(refusal(
            "TOO_MANY_ALIASES",
            format!(
                "the document has {} aliases; the limit is {}",
                survey.aliases, limits.max_aliases
            ),
        ));
    }
    if survey.max_directives > limits.max_directives {
        return Err(refusal(
            "TOO_MANY_DIRECTIVES",
            format!(
                "a field has {} directives; the limit is {}",
                survey.max_directives, limits.max_directives
            ),
        ));
    }
    if survey.selections > limits.max_selections {
        return Err(refusal(
            "QUERY_TOO_COMPLEX",
            format!("the document expands to more than {} selections", limits.max_selections),
        ));
    }
    if survey.introspection && !limits.introspection {
        return Err(refusal(
            "INTROSPECTION_DISABLED",
            "introspection (__schema, __type, and _service, the federation SDL) is disabled on this server",
        ));
    }
    Ok(())
}

/// Longest error message sent to a client; longer ones are cut.
const MAX_MESSAGE: usize = 400;

/// Gives every error a code and keeps messages short.
fn finish_errors(response: &mut Response, request_id: Option<&str>) {
    for err in &mut response.errors {
        let has_code = err.extensions.as_ref().is_some_and(|e| e.get("code").is_some());
        if !has_code {
            let code = if err.path.is_empty() {
                "GRAPHQL_VALIDATION_FAILED"
            } else if err.message.starts_with("Failed to parse \"") || err.message.starts_with("Expected input type \"")
            {
                // An argument async-graphql could not parse as its input
                // type (a variable of the wrong shape that validation let
                // through, such as a string for an input object).
                crate::graphql::errors::BAD_USER_INPUT
            } else {
                "INTERNAL_SERVER_ERROR"
            };
            err.extensions.get_or_insert_with(Default::default).set("code", code);
        }
        let internal = err
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .is_some_and(|c| *c == Value::from("INTERNAL_SERVER_ERROR"));
        if internal {
            if let Some(id) = request_id {
                err.message = format!("internal error; quote request id {id} to the operator");
                err.extensions.get_or_insert_with(Default::default).set("requestId", id);
            }
        }
        if err.message.len() > MAX_MESSAGE {
            let mut cut = MAX_MESSAGE;
            while !err.message.is_char_boundary(cut) {
                cut -= 1;
            }
            err.message.truncate(cut);
            err.message.push_str("… (truncated)");
        }
    }
}

/// The guard, as an async-graphql extension.
/// Documents parsed and checked once, reused by later requests with the same text.
const DOCUMENT_CACHE: usize = 512;

/// Most errors one response carries; the rest are summarised.
const MAX_ERRORS: usize = 20;

/// The guard: the limits and a cache of checked documents. Built once with
/// the schema. It runs around async-graphql rather than as an extension, so
/// resolvers keep async-graphql's fast path (an extension, even one that
/// hooks nothing per field, wraps every field's resolution).
pub struct Guard {
    pub limits: QueryLimits,
    documents: Mutex<LruCache<String, ExecutableDocument>>,
}

impl Guard {
    pub fn new(limits: QueryLimits) -> Guard {
        let n = NonZeroUsize::new(DOCUMENT_CACHE).unwrap_or(NonZeroUsize::MIN);
        Guard {
            limits,
            documents: Mutex::new(LruCache::new(n)),
        }
    }

    /// Checks a query's text and shape before anything runs, and returns its
    /// parsed document. The document is parsed here, not by async-graphql,
    /// whose own parse step walks every fragment expansion without a budget
    /// before any check could run (a fragment bomb of a few hundred tokens
    /// would pin a worker for minutes).
    pub fn check(&self, query: &str) -> Result<ExecutableDocument, ServerError> {
        if let Some(doc) = self.documents.lock().ok().and_then(|mut d| d.get(query).cloned()) {
            return Ok(doc);
        }
        let limits = &self.limits;
        let chars = query.chars().count();
        if chars > limits.max_query_chars {
            return Err(refusal(
                "QUERY_TOO_LARGE",
                format!(
                    "the query is {chars} characters long; the limit is {}",
                    limits.max_query_chars
                ),
            ));
        }
        let tokens = count_tokens(query, limits.max_tokens);
        if tokens > limits.max_tokens {
            return Err(refusal(
                "QUERY_TOO_LARGE",
                format!("the query has more than {} tokens", limits.max_tokens),
            ));
        }
        let doc = async_graphql::parser::parse_query(query).map_err(|e| {
            let message = e.to_string();
            if message.contains("recursion limit") {
                refusal(
                    "QUERY_TOO_DEEP",
                    format!("the query is nested too deep (limit {} levels)", limits.max_depth),
                )
            } else {
                let mut err = refusal("GRAPHQL_PARSE_FAILED", message);
                err.locations = e.positions().collect();
                err
            }
        })?;
        check_document(&doc, limits)?;
        if let Ok(mut docs) = self.documents.lock() {
            docs.put(query.to_owned(), doc.clone());
        }
        Ok(doc)
    }

    /// Gives every error of a response a code (naming validation refusals
    /// such as `QUERY_TOO_COMPLEX`), caps their number and length, and turns
    /// internal errors into an opaque message quoting the request id.
    pub fn finish(&self, response: &mut Response, request_id: Option<&str>) {
        let limits = &self.limits;
        for e in &mut response.errors {
            if e.extensions.as_ref().is_some_and(|x| x.get("code").is_some()) {
                continue;
            }
            if !e.path.is_empty() {
                continue;
            }
            // Errors before execution without a code come from async-graphql's validation.
            let code = match e.message.as_str() {
                "Query is too complex." => "QUERY_TOO_COMPLEX",
                "Query is nested too deep." => "QUERY_TOO_DEEP",
                m if m.starts_with("The recursion depth of the query") => "QUERY_TOO_DEEP",
                // A value of the wrong shape for an argument or a variable.
                m if m.starts_with("Invalid value for argument") => "BAD_USER_INPUT",
                _ => "GRAPHQL_VALIDATION_FAILED",
            };
            if code == "QUERY_TOO_COMPLEX" {
                e.message = format!(
                    "the query is too complex (limit {}); ask for smaller pages or fewer nested lists",
                    limits.max_complexity
                );
            } else if code == "QUERY_TOO_DEEP" {
                e.message = format!("the query is nested too deep (limit {} levels)", limits.max_depth);
            }
            metrics::counter!("diplograph_refused_queries_total", "reason" => code).increment(1);
            e.extensions.get_or_insert_with(Default::default).set("code", code);
        }
        if response.errors.len() > MAX_ERRORS {
            let more = response.errors.len() - MAX_ERRORS;
            response.errors.truncate(MAX_ERRORS);
            let code = response.errors[0]
                .extensions
                .as_ref()
                .and_then(|e| e.get("code").cloned())
                .unwrap_or(Value::from("GRAPHQL_VALIDATION_FAILED"));
            let mut summary = ServerError::new(format!("… and {more} more errors"), None);
            summary
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", code);
            response.errors.push(summary);
        }
        finish_errors(response, request_id);
    }

    /// A response refusing the request with `error`, codes and all.
    pub fn refused(&self, error: ServerError, request_id: Option<&str>) -> Response {
        let mut response = Response::from_errors(vec![error]);
        self.finish(&mut response, request_id);
        response
    }

    pub fn timed_out(&self) -> ServerError {
        refusal(
            "TIMEOUT",
            format!(
                "the operation ran longer than the limit of {} ms and was stopped",
                self.limits.timeout.as_millis()
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(query: &str) -> Vec<&str> {
        tokens(query).map(|t| t.text).collect()
    }

    #[test]
    fn the_lexer_knows_escaped_triple_quotes_in_block_strings() {
        assert_eq!(
            texts(r#"{ a(s: """x \""" y""") b }"#),
            ["{", "a", "(", "s", ":", r#""""x \""" y""""#, ")", "b", "}"]
        );
        assert_eq!(
            texts(r#"{ a(s: "x\"y") }"#),
            ["{", "a", "(", "s", ":", r#""x\"y""#, ")", "}"]
        );
        assert_eq!(
            texts("query($x: Float = -1.5e+3) { ...F }"),
            ["query", "(", "$", "x", ":", "Float", "=", "-1.5e+3", ")", "{", "...", "F", "}"]
        );
        assert_eq!(texts("{ a } # comment\n"), ["{", "a", "}"]);
        assert_eq!(texts("{ é }"), ["{", "é", "}"]);
    }

    #[test]
    fn tokens_are_counted_like_the_lexer_would() {
        assert_eq!(count_tokens("{ a }", 100), 3);
        assert_eq!(count_tokens("query Q($x: Int = 3) { a(b: \"s t\") ...F }", 100), 20);
        assert_eq!(count_tokens("# only a comment", 100), 0);
    }
}
