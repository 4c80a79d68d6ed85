//! GraphQL over WebSocket at `/graphql`: both `graphql-transport-ws` and the
//! legacy `graphql-ws` (subscriptions-transport-ws) protocols.
//!
//! The protocol work is async-graphql's; this module is the transport and its
//! hygiene: a connection that never sends `connection_init` is closed with
//! 4408; each client IP may hold only so many connections and each
//! connection only so many subscriptions; the server pings to keep idle
//! connections alive; and a client that stops reading is disconnected
//! rather than buffered for.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use async_graphql::http::{WebSocket, WebSocketProtocols as Protocols, WsMessage};
use async_graphql::Data;
use futures_util::StreamExt;

use super::auth::Denied;
use super::AppState;
use crate::graphql::WriteAccess;

/// WebSocket limits and timings, from the settings.
#[derive(Clone, Debug)]
pub struct WsOptions {
    /// How long a client has to send `connection_init` before 4408.
    pub init_timeout: Duration,
    /// How often the server pings.
    pub keepalive: Duration,
    /// Live subscriptions per connection.
    pub max_subscriptions: usize,
    /// Open connections per client IP.
    pub max_connections_per_client: usize,
    /// How long one outgoing message may wait for a client that is not reading.
    pub send_timeout: Duration,
}

/// Open WebSocket connections per client IP, and the signal that closes
/// them all when the server stops.
pub struct Connections {
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    stopping: tokio::sync::watch::Sender<bool>,
}

impl Default for Connections {
    fn default() -> Connections {
        Connections {
            per_ip: Mutex::default(),
            stopping: tokio::sync::watch::channel(false).0,
        }
    }
}

/// One counted connection; uncounted when dropped.
struct Counted {
    connections: Arc<Connections>,
    ip: IpAddr,
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut map = self.connections.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl Connections {
    /// Sends every open connection a close frame (1001 Going Away), now and
    /// for any that opens later; used when the server stops.
    pub fn close_all(&self) {
        self.stopping.send_replace(true);
    }

    /// Open connections, all clients together.
    pub fn open(&self) -> usize {
        self.per_ip.lock().map(|m| m.values().sum()).unwrap_or(0)
    }

    fn admit(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Counted> {
        let mut map = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Counted {
            connections: self.clone(),
            ip,
        })
    }
}

/// Waits for SIGTERM or SIGINT (the ones actix-web stops on), then sends
/// every WebSocket subscriber a close frame, so the graceful stop does not
/// wait out its grace period for connections that never end by themselves.
pub async fn close_all_on_signal(connections: Arc<Connections>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!(open = connections.open(), "stopping: closing WebSocket connections");
    connections.close_all();
}

pub fn is_upgrade(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// The first protocol the client offers that we speak.
fn protocol(req: &HttpRequest) -> Option<Protocols> {
    req.headers()
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())?
        .split(',')
        .find_map(|p| p.trim().parse::<Protocols>().ok())
}

/// The upgrade's `Origin`, when a browser sent one that may not call the
/// API. Browsers do not apply CORS to WebSockets, so without this check any
/// page could open a subscription with its visitor's network position;
/// clients outside a browser send no `Origin` and are let in.
fn refused_origin<'a>(req: &'a HttpRequest, options: &super::HttpOptions) -> Option<&'a str> {
    let origin = req.headers().get(header::ORIGIN)?;
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    match origin.to_str() {
        Ok(origin) if super::origin_allowed(options, origin, host) => None,
        Ok(origin) => Some(origin),
        Err(_) => Some("(not text)"),
    }
}

pub async fn upgrade(req: HttpRequest, body: web::Payload, state: web::Data<AppState>) -> HttpResponse {
    if let Some(origin) = refused_origin(&req, &state.options) {
        return HttpResponse::Forbidden().body(format!(
            "a WebSocket from the origin {origin} is not allowed; the server lists the origins that may call it in --cors-origins"
        ));
    }
    let Some(protocol) = protocol(&req) else {
        return HttpResponse::BadRequest()
            .body("offer Sec-WebSocket-Protocol: graphql-transport-ws (or the legacy graphql-ws)");
    };
    let ip = req.peer_addr().map(|a| a.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let options = state.ws.clone();
    let Some(counted) = state.connections.admit(ip, options.max_connections_per_client) else {
        return HttpResponse::TooManyRequests().body(format!(
            "at most {} WebSocket connections per client",
            options.max_connections_per_client
        ));
    };
    let (mut response, session, messages) = match actix_ws::handle(&req, body) {
        Ok(parts) => parts,
        Err(e) => return HttpResponse::from_error(e),
    };
    if let Ok(value) = header::HeaderValue::from_str(protocol.sec_websocket_protocol()) {
        response.headers_mut().insert(header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    let state = state.into_inner();
    actix_web::rt::spawn(async move {
        serve(state, ip, protocol, session, messages, options).await;
        drop(counted);
    });
    response
}

async fn close(session: actix_ws::Session, code: u16, reason: &str) {
    // A close frame's payload is at most 125 bytes: 2 for the code, the
    // rest for the reason, cut at a character boundary.
    let mut end = reason.len().min(120);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let reason = &reason[..end];
    let _ = session
        .close(Some(CloseReason {
            code: CloseCode::Other(code),
            description: Some(reason.to_owned()),
        }))
        .await;
}

/// The `type` and `id` of a protocol message, without decoding the rest.
fn kind_and_id(text: &str) -> (String, Option<String>) {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "type", default)]
        kind: String,
        #[serde(default)]
        id: Option<String>,
    }
    serde_json::from_str::<Head>(text)
        .map(|h| (h.kind, h.id))
        .unwrap_or_default()
}

/// The refusal of a subscription beyond the connection's cap, in the protocol's words.
fn too_many(protocol: Protocols, id: &str, max: usize) -> String {
    let error = serde_json::json!({
        "message": format!("at most {max} live subscriptions per connection"),
        "extensions": { "code": "TOO_MANY_SUBSCRIPTIONS" },
    });
    let payload = match protocol {
        Protocols::GraphQLWS => serde_json::json!([error]),
        Protocols::SubscriptionsTransportWS => error,
    };
    serde_json::json!({ "id": id, "type": "error", "payload": payload }).to_string()
}

/// A subscribe (`subscribe`, or the legacy `start`) for the shared fan-out:
/// its operation.
struct SharedSubscribe {
    query: String,
    operation_name: Option<String>,
    variables: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The subscribe in `text`, when it carries a document (a persisted query
/// named only by its hash goes to async-graphql, which answers it).
fn shared_subscribe(text: &str) -> Option<SharedSubscribe> {
    #[derive(serde::Deserialize)]
    struct Message {
        #[serde(rename = "type")]
        kind: String,
        payload: Payload,
    }
    #[derive(serde::Deserialize)]
    struct Payload {
        query: String,
        #[serde(rename = "operationName", default)]
        operation_name: Option<String>,
        #[serde(default)]
        variables: Option<serde_json::Map<String, serde_json::Value>>,
    }
    let message: Message = serde_json::from_str(text).ok()?;
    if message.kind != "subscribe" && message.kind != "start" {
        return None;
    }
    Some(SharedSubscribe {
        query: message.payload.query,
        operation_name: message.payload.operation_name,
        variables: message.payload.variables,
    })
}

/// A result message for subscription `id` around `payload` (a GraphQL
/// response, already JSON), as async-graphql writes it: the payload's
/// bytes are the same for every subscriber of a shared run.
fn next_message(protocol: Protocols, id: &str, payload: &str) -> String {
    let kind = match protocol {
        Protocols::GraphQLWS => "next",
        Protocols::SubscriptionsTransportWS => "data",
    };
    let id = serde_json::to_string(id).unwrap_or_default();
    let mut out = String::with_capacity(payload.len() + id.len() + 40);
    out.push_str(r#"{"type":""#);
    out.push_str(kind);
    out.push_str(r#"","id":"#);
    out.push_str(&id);
    out.push_str(r#","payload":"#);
    out.push_str(payload);
    out.push('}');
    out
}

fn complete_message(id: &str) -> String {
    serde_json::json!({ "type": "complete", "id": id }).to_string()
}

/// The error a subscriber of a shared run gets when it fell behind.
fn lagged_message(protocol: Protocols, id: &str, missed: u64) -> String {
    let payload = serde_json::json!({
        "data": null,
        "errors": [{
            "message": format!("this subscription fell {missed} answers behind and was dropped; subscribe again"),
            "extensions": { "code": "SLOW_CONSUMER" },
        }],
    });
    next_message(protocol, id, &payload.to_string())
}

/// What a shared subscription hands the connection.
enum Shared {
    Next(Arc<str>),
    Lagged(u64),
    /// The run ended (its stream finished): the subscription is complete.
    End,
}

/// A subscriber's feed as a stream that says when it ends.
fn shared_stream(feed: crate::graphql::Feed) -> futures_util::stream::BoxStream<'static, Shared> {
    futures_util::stream::unfold(Some(feed), |feed| async move {
        let mut feed = feed?;
        Some(match feed.next().await {
            Some(crate::graphql::Fed::Next(text)) => (Shared::Next(text), Some(feed)),
            Some(crate::graphql::Fed::Lagged(missed)) => (Shared::Lagged(missed), None),
            None => (Shared::End, None),
        })
    })
    .boxed()
}

/// Largest message a client may send, in bytes, whether in one frame or in
/// fragments (reassembled up to this): a subscribe carries at most a query
/// and its variables, both bounded well below it.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// Bytes of client messages waiting for the protocol handler; past it, the
/// connection is not read until the handler catches up (backpressure, not a
/// close: a burst of subscribes up to the cap is always served).
const MAX_QUEUED_BYTES: usize = 1024 * 1024;

/// What the transport does with one client message.
enum Verdict {
    /// Hand it to the protocol handler.
    Pass,
    /// Answer it (a subscription beyond the cap), and go on.
    Answer(String),
    /// Close the connection with this code and reason.
    Close(u16, String),
}

/// Live operations of one connection, counted here (whatever the frame
/// type) in arrival order, so the one beyond the cap is the one refused.
struct Live {
    ids: HashSet<String>,
    max: usize,
    protocol: Protocols,
}

impl Live {
    fn judge(&mut self, text: &str) -> Verdict {
        let (kind, id) = kind_and_id(text);
        match (kind.as_str(), id) {
            ("subscribe" | "start", Some(id)) => {
                if self.ids.contains(&id) {
                    // graphql-transport-ws: an id already in use closes
                    // with 4409; the legacy protocol replaces the operation.
                    if self.protocol == Protocols::GraphQLWS {
                        return Verdict::Close(4409, format!("Subscriber for {id} already exists"));
                    }
                    return Verdict::Pass;
                }
                if self.ids.len() >= self.max {
                    return Verdict::Answer(too_many(self.protocol, &id, self.max));
                }
                self.ids.insert(id);
                Verdict::Pass
            }
            ("complete" | "stop", Some(id)) => {
                self.ids.remove(&id);
                Verdict::Pass
            }
            _ => Verdict::Pass,
        }
    }

    /// The server finished an operation (`complete` or `error`).
    fn ended(&mut self, text: &str) {
        if let (kind, Some(id)) = kind_and_id(text) {
            if kind == "complete" || kind == "error" {
                self.ids.remove(&id);
            }
        }
    }
}

/// The close code graphql-transport-ws specifies for what async-graphql
/// reports with a generic one.
fn spec_close_code(protocol: Protocols, code: u16) -> u16 {
    match (protocol, code) {
        // A message that is not one of the protocol's: 4400 Bad request.
        (Protocols::GraphQLWS, 1002) => 4400,
        // `subscribe` before `connection_ack`: 4401 Unauthorized.
        (Protocols::GraphQLWS, 1011) => 4401,
        _ => code,
    }
}

/// How sending one message went.
enum Delivery {
    Sent,
    /// The connection is gone.
    Gone,
    /// The client did not read it within the send timeout.
    Slow,
}

async fn deliver(session: &mut actix_ws::Session, text: String, timeout: Duration) -> Delivery {
    match tokio::time::timeout(timeout, session.text(text)).await {
        Ok(Ok(())) => Delivery::Sent,
        Ok(Err(_)) => Delivery::Gone,
        Err(_) => Delivery::Slow,
    }
}

async fn too_slow(session: actix_ws::Session) {
    tracing::warn!("WebSocket client stopped reading; disconnecting it");
    close(session, 1008, "client too slow").await;
}

/// Attaches the subscribe in `text` to its shared run, when the fan-out serves it.
fn join_shared(state: &AppState, text: &str) -> Option<futures_util::stream::BoxStream<'static, Shared>> {
    let subscribe = shared_subscribe(text)?;
    let label = state.labels.label(subscribe.operation_name.as_deref());
    let feed = crate::graphql::subscribe_shared(
        &state.schema,
        &subscribe.query,
        subscribe.operation_name.as_deref(),
        subscribe.variables.as_ref(),
        label,
    )?;
    Some(shared_stream(feed))
}

async fn serve(
    state: Arc<AppState>,
    ip: IpAddr,
    protocol: Protocols,
    mut session: actix_ws::Session,
    messages: actix_ws::MessageStream,
    options: WsOptions,
) {
    let mut messages = messages
        .max_frame_size(MAX_MESSAGE_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_MESSAGE_BYTES);
    let (to_graphql, from_client) = tokio::sync::mpsc::channel::<String>(16);
    let from_client = tokio_stream::wrappers::ReceiverStream::new(from_client);
    let initialised = Arc::new(AtomicBool::new(false));
    // Set when connection_init carried a bad token, to close with 4403 Forbidden.
    let forbidden = Arc::new(AtomicBool::new(false));
    let on_init = {
        let initialised = initialised.clone();
        let forbidden = forbidden.clone();
        let schema = state.schema.clone();
        let auth = state.auth.clone();
        move |payload: serde_json::Value| {
            initialised.store(true, Ordering::SeqCst);
            let mut data = Data::default();
            data.insert(crate::graphql::loaders_for(&schema));
            // Writes over the socket carry their token in connection_init:
            // { "authorization": "Bearer <token>" }. No token: read-only. A
            // wrong one is refused, and counts towards the client's limit.
            let header = payload
                .get("authorization")
                .or_else(|| payload.get("Authorization"))
                .and_then(|v| v.as_str());
            let result = match header.map(|h| auth.check(Some(h), ip)) {
                None | Some(Err(Denied::Disabled)) => Ok(data),
                Some(Ok(())) => {
                    data.insert(WriteAccess);
                    Ok(data)
                }
                Some(Err(Denied::Unauthorized)) => {
                    forbidden.store(true, Ordering::SeqCst);
                    Err(async_graphql::Error::new("the write token is not valid"))
                }
                Some(Err(Denied::TooMany { retry_after })) => {
                    forbidden.store(true, Ordering::SeqCst);
                    Err(async_graphql::Error::new(format!(
                        "too many failed attempts; retry in {retry_after} s"
                    )))
                }
            };
            futures_util::future::ready(result)
        }
    };
    let mut graphql = WebSocket::new(crate::graphql::Guarded(state.schema.clone()), from_client, protocol)
        .on_connection_init(on_init);
    let init_deadline = tokio::time::sleep(options.init_timeout);
    tokio::pin!(init_deadline);
    let mut ping = tokio::time::interval(options.keepalive);
    ping.tick().await;
    let mut stopping = state.connections.stopping.subscribe();
    stopping.mark_changed();
    let mut live = Live {
        ids: HashSet::new(),
        max: options.max_subscriptions,
        protocol,
    };
    // Subscriptions served by the shared fan-out, by id.
    let mut shared: tokio_stream::StreamMap<String, futures_util::stream::BoxStream<'static, Shared>> =
        tokio_stream::StreamMap::new();
    // Client messages on their way to the protocol handler, in order.
    let mut queue: VecDeque<String> = VecDeque::new();
    let mut queued_bytes = 0usize;
    loop {
        tokio::select! {
            incoming = messages.next(), if queued_bytes < MAX_QUEUED_BYTES => {
                let text = match incoming {
                    Some(Ok(AggregatedMessage::Text(text))) => text.to_string(),
                    // The protocols speak JSON text; a binary frame holding
                    // it is taken as text, and counted like it.
                    Some(Ok(AggregatedMessage::Binary(bytes))) => match String::from_utf8(bytes.to_vec()) {
                        Ok(text) => text,
                        Err(_) => {
                            close(session, 4400, "a binary message that is not UTF-8 text").await;
                            return;
                        }
                    },
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => continue,
                    Some(Err(actix_ws::ProtocolError::Overflow)) | Some(Err(actix_ws::ProtocolError::Io(_))) => {
                        let reason = format!("a message over {MAX_MESSAGE_BYTES} bytes");
                        close(session, 1009, &reason).await;
                        return;
                    }
                    Some(Ok(AggregatedMessage::Close(_))) | None | Some(Err(_)) => {
                        let _ = session.close(None).await;
                        return;
                    }
                };
                let (kind, id) = kind_and_id(&text);
                // An id async-graphql serves stays there (a legacy `start` replacing it).
                let held_by_graphql = id.as_ref().is_some_and(|id| live.ids.contains(id) && !shared.contains_key(id));
                match live.judge(&text) {
                    Verdict::Pass => {
                        match (kind.as_str(), id) {
                            ("subscribe" | "start", Some(id)) if !held_by_graphql => {
                                shared.remove(&id);
                                let ready = initialised.load(Ordering::SeqCst) && !forbidden.load(Ordering::SeqCst);
                                if let Some(feed) = ready.then(|| join_shared(&state, &text)).flatten() {
                                    shared.insert(id, feed);
                                    continue;
                                }
                            }
                            ("complete" | "stop", Some(id)) if shared.remove(&id).is_some() => {
                                // As async-graphql does for its own: the stop is confirmed.
                                match deliver(&mut session, complete_message(&id), options.send_timeout).await {
                                    Delivery::Sent => continue,
                                    Delivery::Gone => return,
                                    Delivery::Slow => return too_slow(session).await,
                                }
                            }
                            _ => {}
                        }
                        queued_bytes += text.len();
                        queue.push_back(text);
                    }
                    Verdict::Answer(answer) => {
                        if session.text(answer).await.is_err() {
                            return;
                        }
                    }
                    Verdict::Close(code, reason) => {
                        close(session, code, &reason).await;
                        return;
                    }
                }
            }
            permit = to_graphql.reserve(), if !queue.is_empty() => {
                let (Ok(permit), Some(text)) = (permit, queue.pop_front()) else { return };
                queued_bytes -= text.len();
                permit.send(text);
            }
            Some((id, item)) = shared.next(), if !shared.is_empty() => {
                let texts = match item {
                    Shared::Next(payload) => vec![next_message(protocol, &id, &payload)],
                    Shared::Lagged(missed) => {
                        shared.remove(&id);
                        live.ids.remove(&id);
                        vec![lagged_message(protocol, &id, missed), complete_message(&id)]
                    }
                    Shared::End => {
                        live.ids.remove(&id);
                        vec![complete_message(&id)]
                    }
                };
                for text in texts {
                    match deliver(&mut session, text, options.send_timeout).await {
                        Delivery::Sent => {}
                        Delivery::Gone => return,
                        Delivery::Slow => return too_slow(session).await,
                    }
                }
            }
            outgoing = graphql.next() => match outgoing {
                Some(WsMessage::Text(text)) => {
                    live.ended(&text);
                    match deliver(&mut session, text, options.send_timeout).await {
                        Delivery::Sent => {}
                        Delivery::Gone => return,
                        Delivery::Slow => return too_slow(session).await,
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let code = if forbidden.load(Ordering::SeqCst) { 4403 } else { spec_close_code(protocol, code) };
                    close(session, code, &reason).await;
                    return;
                }
                None => {
                    let _ = session.close(None).await;
                    return;
                }
            },
            _ = &mut init_deadline, if !initialised.load(Ordering::SeqCst) => {
                close(session, 4408, "Connection initialisation timeout").await;
                return;
            }
            changed = stopping.changed() => {
                if changed.is_ok() && !*stopping.borrow_and_update() {
                    continue;
                }
                // 1001 Going Away: the server is stopping; clients reconnect elsewhere or later.
                close(session, 1001, "the server is shutting down").await;
                return;
            }
            _ = ping.tick() => {
                if session.ping(b"").await.is_err() {
                    return;
                }
                if protocol == Protocols::SubscriptionsTransportWS && initialised.load(Ordering::SeqCst) {
                    // The legacy protocol's own keep-alive message.
                    if session.text(r#"{"type":"ka"}"#).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}
