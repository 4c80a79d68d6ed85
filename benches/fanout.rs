//! The subscription fan-out client for `benches/run.sh`: many subscribers
//! of one subscription on one server, a steady stream of writes, and how
//! long each write takes to reach each subscriber.
//!
//!     fanout <host:port> <write-token> <subscribers> <per-connection> <writes-per-second> <seconds>
//!
//! Opens `subscribers / per-connection` WebSocket connections
//! (graphql-transport-ws), each with `per-connection` subscriptions to the
//! same `entityChanged` selection; waits until every subscriber has seen a
//! probe write; then creates actors at the given rate for the given time
//! over HTTP. Delivery latency runs from just before a write is sent to
//! its arrival at a subscriber. Prints one line:
//!
//!     FANOUT subscribers writes_acknowledged delivered lost p50_ms p99_ms max_ms
//!
//! `lost` counts (acknowledged write, subscriber) pairs never delivered
//! within five seconds of the last write. Built by `cargo bench --no-run`;
//! `cargo bench` itself passes `--bench`, which is ignored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

const SUBSCRIPTION: &str =
    "subscription FanoutBench { entityChanged { change id generation node { id ... on Actor { name } } } }";
const CREATE_ACTOR: &str = "mutation($input: CreateActorInput!) { createActor(input: $input) { actor { id } } }";

/// When each write was sent, by actor id.
type Sent = Arc<Mutex<HashMap<String, Instant>>>;

/// What the subscribers saw: per write id, how many deliveries; and every latency.
#[derive(Default)]
struct Seen {
    deliveries: HashMap<String, usize>,
    latencies_ms: Vec<f64>,
    /// Per probe write id, how many subscribers saw it.
    probes: HashMap<String, usize>,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let [address, token, subscribers, per_connection, rate, seconds] = args.as_slice() else {
        eprintln!(
            "usage: fanout <host:port> <write-token> <subscribers> <per-connection> <writes-per-second> <seconds>"
        );
        return;
    };
    let number = |s: &String, what: &str| s.parse::<usize>().unwrap_or_else(|_| panic!("{what} must be a number"));
    let subscribers = number(subscribers, "subscribers");
    let per_connection = number(per_connection, "per-connection").max(1);
    let rate = number(rate, "writes-per-second").max(1);
    let seconds = number(seconds, "seconds");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run(
        address.clone(),
        token.clone(),
        subscribers,
        per_connection,
        rate,
        seconds,
    ));
}

async fn run(address: String, token: String, subscribers: usize, per_connection: usize, rate: usize, seconds: usize) {
    let sent: Sent = Arc::default();
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let run_id = std::process::id();
    let mut tasks = Vec::new();
    let mut left = subscribers;
    while left > 0 {
        let here = left.min(per_connection);
        left -= here;
        let (sent, seen, address) = (sent.clone(), seen.clone(), address.clone());
        let mut request = format!("ws://{address}/graphql").into_client_request().expect("a URL");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (mut ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("WebSocket upgrade");
        ws.send(Message::Text(
            json!({ "type": "connection_init", "payload": {} }).to_string(),
        ))
        .await
        .expect("connection_init");
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) if text.contains("connection_ack") => break,
                Some(Ok(_)) => {}
                other => panic!("no connection_ack: {other:?}"),
            }
        }
        for i in 0..here {
            let subscribe = json!({ "id": i.to_string(), "type": "subscribe",
                                    "payload": { "query": SUBSCRIPTION, "operationName": "FanoutBench" } });
            ws.send(Message::Text(subscribe.to_string())).await.expect("subscribe");
        }
        tasks.push(tokio::spawn(async move {
            while let Some(Ok(message)) = ws.next().await {
                let Message::Text(text) = message else { continue };
                let arrived = Instant::now();
                let Ok(message) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let Some(id) = message["payload"]["data"]["entityChanged"]["id"].as_str() else {
                    continue;
                };
                let mut seen = seen.lock().unwrap();
                if id.contains("/fanout-probe-") {
                    *seen.probes.entry(id.to_owned()).or_default() += 1;
                    continue;
                }
                let Some(at) = sent.lock().unwrap().get(id).copied() else {
                    continue;
                };
                seen.latencies_ms
                    .push(arrived.duration_since(at).as_secs_f64() * 1000.0);
                *seen.deliveries.entry(id.to_owned()).or_default() += 1;
            }
        }));
    }

    let client = reqwest::Client::new();
    let create = |id: String| {
        let client = client.clone();
        let (address, token) = (address.clone(), token.clone());
        async move {
            let body = json!({ "query": CREATE_ACTOR,
                               "variables": { "input": { "id": id, "name": "Fanout", "kind": "GROUP" } } });
            let response = client
                .post(format!("http://{address}/graphql"))
                .header("authorization", format!("Bearer {token}"))
                .json(&body)
                .send()
                .await
                .ok()?;
            let answer: Value = response.json().await.ok()?;
            answer.get("errors").is_none().then_some(())
        }
    };

    // Every subscriber is live once it has seen a probe.
    let deadline = Instant::now() + Duration::from_secs(60);
    for probe in 0.. {
        let id = format!("actor/fanout-probe-{run_id}-{probe}");
        create(id.clone()).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if seen.lock().unwrap().probes.get(&id).copied().unwrap_or(0) >= subscribers {
            break;
        }
        assert!(Instant::now() < deadline, "not every subscriber went live within 60 s");
    }

    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut acknowledged = Vec::new();
    let end = Instant::now() + Duration::from_secs(seconds as u64);
    let mut n = 0;
    while Instant::now() < end {
        ticker.tick().await;
        let id = format!("actor/fanout-{run_id}-{n}");
        n += 1;
        sent.lock().unwrap().insert(id.clone(), Instant::now());
        if create(id.clone()).await.is_some() {
            acknowledged.push(id);
        }
    }
    let expected = acknowledged.len() * subscribers;
    let wait_until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < wait_until {
        let delivered: usize = {
            let seen = seen.lock().unwrap();
            acknowledged
                .iter()
                .map(|id| seen.deliveries.get(id).copied().unwrap_or(0))
                .sum()
        };
        if delivered >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut seen = seen.lock().unwrap();
    let delivered: usize = acknowledged
        .iter()
        .map(|id| seen.deliveries.get(id).copied().unwrap_or(0).min(subscribers))
        .sum();
    seen.latencies_ms.sort_by(f64::total_cmp);
    let percentile = |p: f64| {
        let all = &seen.latencies_ms;
        if all.is_empty() {
            return f64::NAN;
        }
        all[((all.len() - 1) as f64 * p).round() as usize]
    };
    println!(
        "FANOUT {subscribers} {} {delivered} {} {:.2} {:.2} {:.2}",
        acknowledged.len(),
        expected - delivered,
        percentile(0.50),
        percentile(0.99),
        percentile(1.0)
    );
    for task in tasks {
        task.abort();
    }
}
