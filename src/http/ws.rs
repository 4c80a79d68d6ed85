//! GraphQL over WebSocket at `/graphql`: both `graphql-transport-ws` and the
//! legacy `graphql-ws` (subscriptions-transport-ws) protocols.
//!
//! The protocol work is async-graphql's; this module is the transport and its
//! hygiene: a connection that never sends `connection_init` is closed with
//! 4408; each client IP may hold only so many connections and each
//! connection only so many subscriptions; the server pings to keep idle
//! connections alive; and a client that stops reading is disconnected
//! rather than buffered for.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{CloseCode, CloseReason, Message};
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

/// Open WebSocket connections per client IP.
#[derive(Default)]
pub struct Connections(Mutex<HashMap<IpAddr, usize>>);

/// One counted connection; uncounted when dropped.
struct Counted {
    connections: Arc<Connections>,
    ip: IpAddr,
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut map = self.connections.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl Connections {
    fn admit(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Counted> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
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

pub async fn upgrade(req: HttpRequest, body: web::Payload, state: web::Data<AppState>) -> HttpResponse {
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

async fn serve(
    state: Arc<AppState>,
    ip: IpAddr,
    protocol: Protocols,
    mut session: actix_ws::Session,
    mut messages: actix_ws::MessageStream,
    options: WsOptions,
) {
    let (to_graphql, from_client) = futures_channel::mpsc::channel::<String>(16);
    let initialised = Arc::new(AtomicBool::new(false));
    // Set when connection_init carried a bad token, to close with 4403 Forbidden.
    let forbidden = Arc::new(AtomicBool::new(false));
    let on_init = {
        let initialised = initialised.clone();
        let forbidden = forbidden.clone();
        let store = state.store.clone();
        let schema = state.schema.clone();
        let auth = state.auth.clone();
        move |payload: serde_json::Value| {
            initialised.store(true, Ordering::SeqCst);
            let mut data = Data::default();
            data.insert(crate::graphql::loaders_for(&schema, &store));
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
    let mut to_graphql = to_graphql;
    // Live operations of this connection, counted here in arrival order so
    // the one beyond the cap is the one refused.
    let mut live: HashSet<String> = HashSet::new();
    loop {
        tokio::select! {
            incoming = messages.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let (kind, id) = kind_and_id(&text);
                    match (kind.as_str(), id) {
                        ("subscribe" | "start", Some(id)) => {
                            if live.len() >= options.max_subscriptions && !live.contains(&id) {
                                if session.text(too_many(protocol, &id, options.max_subscriptions)).await.is_err() {
                                    return;
                                }
                                continue;
                            }
                            live.insert(id);
                        }
                        ("complete" | "stop", Some(id)) => {
                            live.remove(&id);
                        }
                        _ => {}
                    }
                    if to_graphql.try_send(text.to_string()).is_err() {
                        close(session, 1008, "too many messages in flight").await;
                        return;
                    }
                }
                Some(Ok(Message::Binary(bytes))) => {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    if to_graphql.try_send(text).is_err() {
                        close(session, 1008, "too many messages in flight").await;
                        return;
                    }
                }
                Some(Ok(Message::Ping(bytes))) => {
                    if session.pong(&bytes).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    let _ = session.close(None).await;
                    return;
                }
                Some(Ok(_)) => {}
            },
            outgoing = graphql.next() => match outgoing {
                Some(WsMessage::Text(text)) => {
                    if let (kind @ ("complete" | "error"), Some(id)) = {
                        let (k, id) = kind_and_id(&text);
                        (if k == "complete" { "complete" } else if k == "error" { "error" } else { "" }, id)
                    } {
                        let _ = kind;
                        live.remove(&id);
                    }
                    match tokio::time::timeout(options.send_timeout, session.text(text)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return,
                        Err(_) => {
                            tracing::warn!("WebSocket client stopped reading; disconnecting it");
                            close(session, 1008, "client too slow").await;
                            return;
                        }
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let code = if forbidden.load(Ordering::SeqCst) { 4403 } else { code };
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
