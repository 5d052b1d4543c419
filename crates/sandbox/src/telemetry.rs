//! Telemetry API `2022-07-01`: subscriptions, buffering and delivery of `platform.*`, `function` and
//! `extension` records to each subscriber's HTTP listener inside the sandbox.
//!
//! Each subscription gets a delivery task that batches by `maxItems` / `maxBytes` / `timeoutMs`
//! (the timer starts at the first buffered event) and POSTs JSON arrays, retrying a refused delivery
//! with backoff. Events emitted during init are kept and replayed to a subscriber that subscribes during
//! init. When a subscriber lags too far behind, records are dropped and reported as `platform.logsDropped`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use lambdascope_wire::extensions_api::{
    BufferingLimits, TelemetrySubscribeRequest, HEADER_EXTENSION_IDENTIFIER,
    TELEMETRY_SCHEMA_VERSIONS,
};
use lambdascope_wire::telemetry::{
    format_time, LogsDropped, TelemetryEvent, TelemetryRecord, TelemetrySubscription,
};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::api::{self, ApiResponse};
use crate::isolation::NetScope;
use crate::lifecycle::Ctx;
use crate::state::Phase;

/// A subscriber this far behind (queued bytes) starts losing records.
const MAX_QUEUED_BYTES: usize = 16 * 1024 * 1024;
/// Delivery attempts per batch before it is dropped and counted.
const DELIVERY_ATTEMPTS: u32 = 8;

enum Msg {
    Event(Value, usize),
    Flush(oneshot::Sender<()>),
}

struct Subscriber {
    extension: String,
    types: Vec<String>,
    schema: String,
    tx: mpsc::UnboundedSender<Msg>,
    queued: Arc<AtomicUsize>,
    dropped: Arc<DropCounter>,
}

#[derive(Default)]
struct DropCounter {
    records: AtomicU64,
    bytes: AtomicU64,
}

#[derive(Default)]
struct HubState {
    init_buffer: Option<Vec<TelemetryEvent>>,
    subscribers: Vec<Subscriber>,
}

/// Fans platform and log records out to the subscribers.
pub(crate) struct TelemetryHub {
    state: Mutex<HubState>,
    net: NetScope,
    json_logs: bool,
}

impl TelemetryHub {
    pub fn new(net: NetScope, json_logs: bool) -> TelemetryHub {
        TelemetryHub {
            state: Mutex::new(HubState::default()),
            net,
            json_logs,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts keeping events for replay (at the start of each init).
    pub fn open_init_buffer(&self) {
        self.lock().init_buffer = Some(Vec::new());
    }

    /// Subscriptions close with init; so does the replay buffer.
    pub fn close_init_buffer(&self) {
        self.lock().init_buffer = None;
    }

    pub fn emit(&self, record: TelemetryRecord) {
        let event = TelemetryEvent::at(SystemTime::now(), record);
        let mut state = self.lock();
        for sub in &state.subscribers {
            self.send(sub, &event);
        }
        if let Some(buffer) = state.init_buffer.as_mut() {
            buffer.push(event);
        }
    }

    fn send(&self, sub: &Subscriber, event: &TelemetryEvent) {
        if !sub.types.iter().any(|t| t == event.record.category()) {
            return;
        }
        let mut json = event.to_json();
        if self.json_logs && sub.schema != "2022-07-01" {
            structure_log_record(&mut json);
        }
        let size = json.to_string().len();
        if sub.queued.load(Ordering::Relaxed) + size > MAX_QUEUED_BYTES {
            sub.dropped.records.fetch_add(1, Ordering::Relaxed);
            sub.dropped.bytes.fetch_add(size as u64, Ordering::Relaxed);
            return;
        }
        sub.queued.fetch_add(size, Ordering::Relaxed);
        let _ = sub.tx.send(Msg::Event(json, size));
    }

    fn add(
        &self,
        extension: String,
        request: &TelemetrySubscribeRequest,
        limits: BufferingLimits,
        dest: Destination,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let sub = Subscriber {
            extension: extension.clone(),
            types: request.types.clone(),
            schema: request.schema_version.clone(),
            tx,
            queued: Arc::new(AtomicUsize::new(0)),
            dropped: Arc::new(DropCounter::default()),
        };
        tokio::spawn(deliver(
            rx,
            dest,
            limits,
            self.net.clone(),
            sub.queued.clone(),
            sub.dropped.clone(),
        ));
        let mut state = self.lock();
        state.subscribers.retain(|s| s.extension != extension);
        if let Some(buffer) = &state.init_buffer {
            for event in buffer {
                self.send(&sub, event);
            }
        }
        state.subscribers.push(sub);
    }

    /// Delivers everything buffered now; returns when every subscriber has tried.
    pub async fn flush(&self) {
        let waits: Vec<oneshot::Receiver<()>> = {
            let state = self.lock();
            state
                .subscribers
                .iter()
                .filter_map(|s| {
                    let (tx, rx) = oneshot::channel();
                    s.tx.send(Msg::Flush(tx)).ok().map(|_| rx)
                })
                .collect()
        };
        for wait in waits {
            let _ = wait.await;
        }
    }

    /// Ends every subscription (the environment is gone); their tasks deliver what is queued and stop.
    pub fn clear(&self) {
        self.lock().subscribers.clear();
    }
}

/// Schema `2022-12-13`+ with JSON logs: a JSON line becomes an object, other lines are wrapped.
fn structure_log_record(event: &mut Value) {
    let kind = event["type"].as_str().unwrap_or_default();
    if kind != "function" && kind != "extension" {
        return;
    }
    let Some(line) = event["record"].as_str().map(str::to_string) else {
        return;
    };
    event["record"] = match serde_json::from_str::<Value>(&line) {
        Ok(obj @ Value::Object(_)) => obj,
        _ => serde_json::json!({
            "timestamp": event["time"].clone(),
            "level": "INFO",
            "message": line,
        }),
    };
}

struct Destination {
    addr: SocketAddr,
    host: String,
    path: String,
}

/// `http://sandbox.localdomain:PORT[/path]` (also `sandbox`, `127.0.0.1`, `localhost`).
fn parse_destination(uri: &str) -> Result<Destination, String> {
    let rest = uri
        .strip_prefix("http://")
        .ok_or("destination.URI must start with http:// (HTTPS is not supported)")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("bad port in destination.URI {uri:?}"))?,
        ),
        None => (authority, 80),
    };
    if !["sandbox.localdomain", "sandbox", "127.0.0.1", "localhost"].contains(&host) {
        return Err(format!(
            "destination.URI host must be sandbox.localdomain, got {host:?}"
        ));
    }
    if port == 9001 {
        return Err("destination port 9001 is reserved".into());
    }
    Ok(Destination {
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        host: authority.to_string(),
        path,
    })
}

fn validation_error(message: &str) -> ApiResponse {
    api::error(StatusCode::BAD_REQUEST, "ValidationError", message)
}

/// `PUT /2022-07-01/telemetry`.
pub(crate) async fn subscribe(ctx: &Ctx, req: Request<Incoming>) -> ApiResponse {
    let id = api::header(&req, HEADER_EXTENSION_IDENTIFIER);
    let body = match api::read_body(req).await {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let name = {
        let inner = ctx.shared.lock();
        let Some(slot) = inner.extensions.iter().find(|e| Some(&e.id) == id.as_ref()) else {
            return api::error(
                StatusCode::FORBIDDEN,
                "Extension.UnknownExtensionIdentifier",
                "register before subscribing (Lambda-Extension-Identifier missing or unknown)",
            );
        };
        if inner.phase != Phase::Init {
            return api::error(
                StatusCode::FORBIDDEN,
                "Telemetry.SubscriptionClosed",
                "subscriptions are accepted during init only",
            );
        }
        slot.name.clone()
    };
    let request: TelemetrySubscribeRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return validation_error(&format!("bad subscription request: {e}")),
    };
    if !TELEMETRY_SCHEMA_VERSIONS.contains(&request.schema_version.as_str()) {
        return validation_error(&format!(
            "schemaVersion must be one of {TELEMETRY_SCHEMA_VERSIONS:?}"
        ));
    }
    if request.types.is_empty()
        || request
            .types
            .iter()
            .any(|t| !["platform", "function", "extension"].contains(&t.as_str()))
    {
        return validation_error(
            "types must be a non-empty subset of platform, function, extension",
        );
    }
    let limits = match request.buffering.unwrap_or_default().validate() {
        Ok(l) => l,
        Err(e) => return validation_error(&e),
    };
    if !request.destination.protocol.eq_ignore_ascii_case("HTTP") {
        return validation_error(
            "destination.protocol must be HTTP (TCP is not supported by lambdascope)",
        );
    }
    let dest = match parse_destination(request.destination.uri.as_deref().unwrap_or_default()) {
        Ok(d) => d,
        Err(e) => return validation_error(&e),
    };
    ctx.telemetry.add(name.clone(), &request, limits, dest);
    ctx.telemetry.emit(TelemetryRecord::TelemetrySubscription(
        TelemetrySubscription {
            name,
            state: "Subscribed".into(),
            types: request.types.clone(),
        },
    ));
    api::json(StatusCode::OK, &"OK")
}

async fn deliver(
    mut rx: mpsc::UnboundedReceiver<Msg>,
    dest: Destination,
    limits: BufferingLimits,
    net: NetScope,
    queued: Arc<AtomicUsize>,
    dropped: Arc<DropCounter>,
) {
    let timeout = Duration::from_millis(u64::from(limits.timeout_ms));
    let mut batch: Vec<Value> = Vec::new();
    let mut bytes = 0usize;
    let mut first_at: Option<tokio::time::Instant> = None;
    loop {
        let msg = match first_at {
            Some(t0) => match tokio::time::timeout_at(t0 + timeout, rx.recv()).await {
                Ok(m) => m,
                Err(_) => {
                    send_batch(&dest, &net, &mut batch, &dropped).await;
                    queued.fetch_sub(bytes, Ordering::Relaxed);
                    bytes = 0;
                    first_at = None;
                    continue;
                }
            },
            None => rx.recv().await,
        };
        let flush = match msg {
            None => {
                send_batch(&dest, &net, &mut batch, &dropped).await;
                return;
            }
            Some(Msg::Event(value, size)) => {
                batch.push(value);
                bytes += size;
                first_at.get_or_insert_with(tokio::time::Instant::now);
                batch.len() >= limits.max_items as usize || bytes >= limits.max_bytes as usize
            }
            Some(Msg::Flush(ack)) => {
                send_batch(&dest, &net, &mut batch, &dropped).await;
                queued.fetch_sub(bytes, Ordering::Relaxed);
                bytes = 0;
                first_at = None;
                let _ = ack.send(());
                false
            }
        };
        if flush {
            send_batch(&dest, &net, &mut batch, &dropped).await;
            queued.fetch_sub(bytes, Ordering::Relaxed);
            bytes = 0;
            first_at = None;
        }
    }
}

async fn send_batch(
    dest: &Destination,
    net: &NetScope,
    batch: &mut Vec<Value>,
    dropped: &DropCounter,
) {
    let records = dropped.records.swap(0, Ordering::Relaxed);
    if records > 0 {
        let event = TelemetryEvent::at(
            SystemTime::now(),
            TelemetryRecord::LogsDropped(LogsDropped {
                dropped_bytes: dropped.bytes.swap(0, Ordering::Relaxed),
                dropped_records: records,
                reason: "Consumer seems to have fallen behind as it has not acknowledged receipt of logs.".into(),
            }),
        );
        batch.insert(0, event.to_json());
    }
    if batch.is_empty() {
        return;
    }
    let body = Bytes::from(serde_json::to_vec(&batch).unwrap_or_default());
    let mut backoff = Duration::from_millis(25);
    for attempt in 1..=DELIVERY_ATTEMPTS {
        match post(dest, net, body.clone()).await {
            Ok(()) => {
                batch.clear();
                return;
            }
            Err(e) => {
                tracing::debug!(attempt, error = %e, "telemetry delivery failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(1000));
            }
        }
    }
    dropped
        .records
        .fetch_add(batch.len() as u64, Ordering::Relaxed);
    dropped
        .bytes
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    batch.clear();
}

async fn post(dest: &Destination, net: &NetScope, body: Bytes) -> Result<(), String> {
    let stream = net.connect(dest.addr).await.map_err(|e| e.to_string())?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = Request::post(&dest.path)
        .header("Host", &dest.host)
        .header("Content-Type", "application/json")
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let _ = resp.into_body().collect().await;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("listener answered {status}"))
    }
}

/// `time` as the Telemetry API writes it, for spans.
pub(crate) fn span_start(at: SystemTime) -> String {
    format_time(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_resolve_inside_the_sandbox_only() {
        let d = parse_destination("http://sandbox.localdomain:8080/telemetry").unwrap();
        assert_eq!(d.addr.port(), 8080);
        assert_eq!(d.path, "/telemetry");
        assert_eq!(parse_destination("http://sandbox:8999").unwrap().path, "/");
        assert!(parse_destination("http://example.com:80/").is_err());
        assert!(parse_destination("https://sandbox:443/").is_err());
        assert!(parse_destination("http://sandbox:9001/").is_err());
    }
}
