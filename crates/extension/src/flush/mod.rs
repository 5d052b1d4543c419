//! Flushing: when (strategy) and how (payload building, parallel sends, redrive).
//!
//! Every flush sends all signals in parallel. A payload that still fails after its retries
//! is kept in a bounded redrive queue and sent again first at the next flush (and at
//! shutdown). What the bound forces out is counted and reported, never silently lost.

pub mod payloads;
pub mod strategy;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use strategy::{FlushAction, FlushScheduler, FlushStrategy};

use crate::config::Config;
use crate::intake::api_key::ApiKeyResolver;
use crate::intake::{IntakeClient, Payload, SendOutcome};

/// Compressed bytes kept for redrive at most.
pub const MAX_REDRIVE_BYTES: usize = 16 * 1024 * 1024;

/// Totals since start, for reports and tests.
#[derive(Debug, Default)]
pub struct FlushCounters {
    pub flushes: AtomicU64,
    pub payloads_sent: AtomicU64,
    pub payloads_redriven: AtomicU64,
    pub payloads_dropped: AtomicU64,
    pub payloads_rejected: AtomicU64,
}

/// Sends what the collectors hand it.
pub struct Flusher {
    intake: IntakeClient,
    api_key: ApiKeyResolver,
    redrive: Mutex<VecDeque<Payload>>,
    in_flight: AtomicBool,
    idle: tokio::sync::Notify,
    pub counters: FlushCounters,
}

impl Flusher {
    pub fn new(intake: IntakeClient, api_key: ApiKeyResolver) -> Self {
        Flusher {
            intake,
            api_key,
            redrive: Mutex::new(VecDeque::new()),
            in_flight: AtomicBool::new(false),
            idle: tokio::sync::Notify::new(),
            counters: FlushCounters::default(),
        }
    }

    /// True while a flush is running (a background flush skips if one still is).
    pub fn busy(&self) -> bool {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Waits (until `deadline`) for a running flush to finish; true if none is running.
    pub async fn wait_idle(&self, deadline: Instant) -> bool {
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            if !self.busy() {
                return true;
            }
            if tokio::time::timeout_at(deadline.into(), idle)
                .await
                .is_err()
            {
                return !self.busy();
            }
        }
    }

    fn done(&self) {
        self.in_flight.store(false, Ordering::Release);
        self.idle.notify_waiters();
    }

    pub fn redrive_len(&self) -> usize {
        self.redrive.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn keep(&self, mut payloads: Vec<Payload>) {
        let mut queue = self.redrive.lock().unwrap_or_else(|e| e.into_inner());
        for p in payloads.iter_mut() {
            p.failed_flushes += 1;
        }
        queue.extend(payloads);
        let mut bytes: usize = queue.iter().map(|p| p.body.len()).sum();
        let mut dropped = 0u64;
        while bytes > MAX_REDRIVE_BYTES {
            let Some(oldest) = queue.pop_front() else {
                break;
            };
            bytes -= oldest.body.len();
            dropped += 1;
        }
        if dropped > 0 {
            self.counters
                .payloads_dropped
                .fetch_add(dropped, Ordering::Relaxed);
            tracing::warn!(
                dropped,
                total_dropped = self.counters.payloads_dropped.load(Ordering::Relaxed),
                "redrive buffer full: dropped the oldest payloads"
            );
        }
    }

    /// Sends `fresh` (plus everything awaiting redrive) in parallel until `deadline`.
    pub async fn flush(self: &Arc<Self>, fresh: Vec<Payload>, deadline: Instant) {
        self.in_flight.store(true, Ordering::Release);
        self.counters.flushes.fetch_add(1, Ordering::Relaxed);
        let mut payloads: Vec<Payload> = {
            let mut queue = self.redrive.lock().unwrap_or_else(|e| e.into_inner());
            queue.drain(..).collect()
        };
        let redriven = payloads.len() as u64;
        payloads.extend(fresh);
        if payloads.is_empty() {
            self.done();
            return;
        }
        // Resolving the key may call AWS: it must not outlive the flush deadline either.
        let key = match tokio::time::timeout_at(deadline.into(), self.api_key.get()).await {
            Ok(Ok(key)) => key,
            Ok(Err(_)) | Err(_) => {
                // Logged once by the resolver; keep everything for a later flush.
                self.keep(payloads);
                self.done();
                return;
            }
        };
        self.counters
            .payloads_redriven
            .fetch_add(redriven, Ordering::Relaxed);
        let mut tasks = tokio::task::JoinSet::new();
        for payload in payloads {
            let intake = self.intake.clone();
            let key = key.clone();
            tasks.spawn(async move {
                let outcome = intake.send(&payload, &key, deadline).await;
                (payload, outcome)
            });
        }
        let mut failed = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let Ok((payload, outcome)) = joined else {
                continue;
            };
            match outcome {
                SendOutcome::Sent => {
                    self.counters.payloads_sent.fetch_add(1, Ordering::Relaxed);
                }
                SendOutcome::Retry(reason) => {
                    tracing::warn!(signal = payload.signal.name(), %reason, "flush failed; the payload is kept for the next flush");
                    failed.push(payload);
                }
                SendOutcome::Rejected(reason) => {
                    self.counters
                        .payloads_rejected
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::error!(signal = payload.signal.name(), %reason, "the intake rejected a payload; it is dropped");
                }
            }
        }
        if !failed.is_empty() {
            self.keep(failed);
        }
        self.done();
    }
}

/// Builds the intake client, key resolver and flusher from the configuration.
pub fn flusher_from_config(config: &Config, http: crate::http_client::HttpClient) -> Flusher {
    let intake = IntakeClient {
        http: http.clone(),
        request_timeout: config.flush_timeout,
    };
    let api_key = ApiKeyResolver::new(
        config.api_key.clone(),
        http,
        config.function.region.clone(),
        config.function.name.clone(),
        |k| std::env::var(k).ok(),
    );
    Flusher::new(intake, api_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApiKeySource;
    use crate::http_client::HttpClient;
    use crate::intake::Signal;
    use bytes::Bytes;
    use std::time::Duration;

    fn payload(bytes: usize) -> Payload {
        Payload {
            signal: Signal::Logs,
            url: "http://127.0.0.1:9/api/v2/logs".into(),
            api_key: None,
            body: Bytes::from(vec![0u8; bytes]),
            failed_flushes: 0,
        }
    }

    #[tokio::test]
    async fn without_a_key_payloads_are_kept_within_the_bound() {
        let http = HttpClient::default();
        let resolver = ApiKeyResolver::new(
            ApiKeySource::Missing,
            http.clone(),
            "us-east-1".into(),
            "f".into(),
            |_| None,
        );
        let flusher = Arc::new(Flusher::new(
            IntakeClient {
                http,
                request_timeout: Duration::from_secs(1),
            },
            resolver,
        ));
        let deadline = Instant::now() + Duration::from_secs(1);
        flusher
            .flush(vec![payload(1024), payload(1024)], deadline)
            .await;
        assert_eq!(
            flusher.redrive_len(),
            2,
            "kept for a flush where the key resolves"
        );
        let big: Vec<Payload> = (0..20).map(|_| payload(1024 * 1024)).collect();
        flusher.flush(big, deadline).await;
        let kept_bytes: usize = flusher
            .redrive
            .lock()
            .unwrap()
            .iter()
            .map(|p| p.body.len())
            .sum();
        assert!(kept_bytes <= MAX_REDRIVE_BYTES);
        assert!(flusher.counters.payloads_dropped.load(Ordering::Relaxed) >= 6);
        assert!(!flusher.busy());
    }

    #[tokio::test]
    async fn an_unreachable_intake_keeps_payloads_for_redrive() {
        let http = HttpClient::default();
        let resolver = ApiKeyResolver::new(
            ApiKeySource::Plain("k".into()),
            http.clone(),
            "us-east-1".into(),
            "f".into(),
            |_| None,
        );
        let flusher = Arc::new(Flusher::new(
            IntakeClient {
                http,
                request_timeout: Duration::from_millis(200),
            },
            resolver,
        ));
        flusher
            .flush(vec![payload(10)], Instant::now() + Duration::from_secs(2))
            .await;
        assert_eq!(flusher.redrive_len(), 1);
        assert_eq!(flusher.redrive.lock().unwrap()[0].failed_flushes, 1);
        assert!(flusher.wait_idle(Instant::now()).await);
    }
}
