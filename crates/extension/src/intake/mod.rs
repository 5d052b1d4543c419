//! The intake: endpoints, compression, the API key, and sending one payload with retries.

pub mod api_key;
pub mod aws;

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::http_client::HttpClient;

/// Attempts per payload within one flush.
pub const MAX_ATTEMPTS: u32 = 3;
/// First retry delay; doubled each time.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Which signal a payload carries (for logs and counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    Series,
    Sketches,
    Logs,
    /// AgentPayload protobuf to `/api/v0.2/traces`.
    Traces,
    /// Tracer stats (msgpack) forwarded to `/api/v0.2/stats`.
    TraceStats,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Series => "series",
            Signal::Sketches => "sketches",
            Signal::Logs => "logs",
            Signal::Traces => "traces",
            Signal::TraceStats => "trace stats",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Signal::Sketches | Signal::Traces => "application/x-protobuf",
            Signal::TraceStats => "application/msgpack",
            _ => "application/json",
        }
    }
}

/// A compressed body bound for one endpoint.
#[derive(Debug, Clone)]
pub struct Payload {
    pub signal: Signal,
    pub url: String,
    /// Key of an additional endpoint; `None` uses the resolved main key.
    pub api_key: Option<String>,
    pub body: Bytes,
    /// Flushes this payload has already failed in.
    pub failed_flushes: u32,
}

/// How sending one payload ended.
#[derive(Debug)]
pub enum SendOutcome {
    Sent,
    /// Worth trying again later (network, 5xx, 429, 403 key problems).
    Retry(String),
    /// The intake will never accept it (400, 413, ...): drop and count.
    Rejected(String),
}

/// zstd-compresses a body. Compression cannot fail on in-memory buffers, but if it did the
/// body would go uncompressed rather than be lost.
pub fn compress(raw: &[u8], level: i32) -> (Bytes, bool) {
    thread_local! {
        // One compression context per thread, reused: creating one costs more than
        // compressing a typical flush.
        static COMPRESSOR: std::cell::RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
            const { std::cell::RefCell::new(None) };
    }
    let compressed = COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().map(|(l, _)| *l) != Some(level) {
            *slot = zstd::bulk::Compressor::new(level).ok().map(|c| (level, c));
        }
        slot.as_mut().and_then(|(_, c)| c.compress(raw).ok())
    });
    match compressed {
        Some(c) => (Bytes::from(c), true),
        None => (Bytes::copy_from_slice(raw), false),
    }
}

/// Sends payloads with retries and backoff.
#[derive(Clone)]
pub struct IntakeClient {
    pub http: HttpClient,
    /// Upper bound for a single request (`DD_FLUSH_TIMEOUT`).
    pub request_timeout: Duration,
}

impl IntakeClient {
    pub async fn send(&self, payload: &Payload, main_key: &str, deadline: Instant) -> SendOutcome {
        let key = payload.api_key.as_deref().unwrap_or(main_key);
        let headers = [
            ("DD-API-KEY", key),
            ("Content-Type", payload.signal.content_type()),
            ("Content-Encoding", "zstd"),
            (
                "User-Agent",
                concat!("lambdascope-extension/", env!("CARGO_PKG_VERSION")),
            ),
        ];
        let mut backoff = FIRST_BACKOFF;
        let mut last = String::new();
        for attempt in 1..=MAX_ATTEMPTS {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let timeout = left.min(self.request_timeout);
            match self
                .http
                .send(
                    http::Method::POST,
                    &payload.url,
                    &headers,
                    payload.body.clone(),
                    Some(timeout),
                )
                .await
            {
                Ok(r) if (200..300).contains(&r.status) => return SendOutcome::Sent,
                Ok(r) if r.status == 403 || r.status == 401 => {
                    return SendOutcome::Retry(format!(
                        "{} answered {}: the API key was refused; check DD_API_KEY (data is kept for the next flush)",
                        payload.url, r.status
                    ));
                }
                Ok(r) if r.status == 408 || r.status == 429 || r.status >= 500 => {
                    last = format!("{} answered {}", payload.url, r.status);
                }
                Ok(r) => {
                    let body =
                        String::from_utf8_lossy(&r.body[..r.body.len().min(300)]).into_owned();
                    return SendOutcome::Rejected(format!(
                        "{} answered {}: {body}",
                        payload.url, r.status
                    ));
                }
                Err(err) => last = err.to_string(),
            }
            if attempt < MAX_ATTEMPTS {
                let pause = backoff.min(deadline.saturating_duration_since(Instant::now()));
                tokio::time::sleep(pause).await;
                backoff *= 2;
            }
        }
        SendOutcome::Retry(if last.is_empty() {
            "flush deadline reached".into()
        } else {
            last
        })
    }
}
