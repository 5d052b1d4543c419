//! The trace agent's state, independent of HTTP: what tracers sent, what the function's
//! library said at start/end of each invocation, what the platform said in telemetry, and
//! the spans built from all of it, waiting for the next flush.
//!
//! Every buffer is bounded; what does not fit is dropped and counted (DESIGN principle 1).
//! Spans of an invocation are built at flush time, once the invocation has ended, so that
//! an `aws.lambda` the tracer sent in the meantime is seen and ours is not duplicated.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use lambdascope_wire::agent_payload::{AgentPayload, Span, TracerPayload};
use lambdascope_wire::telemetry::{Status, TelemetryEvent, TelemetryRecord};
use lambdascope_wire::tracer_payload::{self, TraceApiVersion, TracePayloadError};
use lambdascope_wire::triggers::{self, InvocationFacts, Trigger};
use serde_json::Value;

use super::invocation_span::{
    self, build_cold_start_span, build_invocation_spans, plan_ids, ErrorFacts, IdSource,
    InvocationIds, InvocationRecord, Outcome, RandomIds, SpanOptions,
};
use super::processor::{agent_payload, TraceProcessor, TracerMeta};

/// Invocations remembered at once (the oldest finished ones go first).
const MAX_INVOCATIONS: usize = 64;
/// Spans waiting for a flush; more are dropped and counted.
pub const MAX_PENDING_SPANS: usize = 100_000;
/// `/v0.6/stats` bodies waiting for a flush.
const MAX_PENDING_STATS: usize = 64;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn ns(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// Counters for the extension's own health reporting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentCounters {
    pub spans_received: u64,
    pub payloads_rejected: u64,
    pub spans_dropped_full: u64,
    pub spans_dropped_processing: u64,
    pub invocation_spans_built: u64,
}

/// One invocation as seen from every side.
#[derive(Debug, Default)]
struct InvocationTrace {
    request_id: String,
    invoked_arn: String,
    deadline_ms: Option<u64>,
    xray: Option<String>,
    cold_start: bool,
    proactive_init: bool,
    start_ns: Option<i64>,
    end_ns: Option<i64>,
    event: Option<Value>,
    response: Option<Value>,
    trigger: Option<Trigger>,
    ids: Option<InvocationIds>,
    library_error: Option<ErrorFacts>,
    platform_outcome: Option<Outcome>,
    root_meta: BTreeMap<String, String>,
    root_metrics: BTreeMap<String, f64>,
    /// end-invocation or runtimeDone arrived.
    ended: bool,
    built: bool,
}

#[derive(Debug, Default)]
struct State {
    ids: Option<RandomIds>,
    invocations: VecDeque<InvocationTrace>,
    invokes_seen: u64,
    init_start_ns: Option<i64>,
    init_duration_ns: Option<i64>,
    pending: Vec<TracerPayload>,
    pending_spans: usize,
    stats: Vec<Bytes>,
    /// Request ids for which a tracer sent its own `aws.lambda` span.
    tracer_invocation_spans: Vec<(String, Span)>,
    counters: AgentCounters,
}

impl State {
    fn invocation(&mut self, request_id: &str) -> &mut InvocationTrace {
        if let Some(i) = self
            .invocations
            .iter()
            .position(|r| r.request_id == request_id)
        {
            return &mut self.invocations[i];
        }
        if self.invocations.len() >= MAX_INVOCATIONS {
            let victim = self.invocations.iter().position(|r| r.built).unwrap_or(0);
            self.invocations.remove(victim);
        }
        self.invocations.push_back(InvocationTrace {
            request_id: request_id.to_string(),
            ..Default::default()
        });
        self.invocations.back_mut().expect("just pushed")
    }

    /// The request a library call without a request id refers to: the latest not ended.
    fn current_request(&self) -> Option<String> {
        self.invocations
            .iter()
            .rev()
            .find(|r| !r.ended)
            .map(|r| r.request_id.clone())
    }

    fn next_ids(&mut self) -> &mut RandomIds {
        self.ids.get_or_insert_with(RandomIds::default)
    }
}

/// The trace agent's state; shared between the HTTP servers and the flush loop.
pub struct TraceAgent {
    processor: TraceProcessor,
    state: Mutex<State>,
    /// When the agent (the extension) started: a first invoke long after it is a proactive
    /// initialization, not a cold start a caller waited for.
    created: std::time::Instant,
}

/// As in the invocation tracker: a first invoke this long after start is proactive.
const PROACTIVE_INIT_AFTER: std::time::Duration = std::time::Duration::from_secs(10);

/// A malformed trace request, answered with 400.
#[derive(Debug, thiserror::Error)]
#[error("{error} ({traces_lost} traces lost)")]
pub struct RejectedTraces {
    pub error: TracePayloadError,
    /// Traces announced by the body's outer array (best effort; 0 when unreadable).
    pub traces_lost: usize,
}

impl TraceAgent {
    pub fn new(processor: TraceProcessor) -> Self {
        Self {
            processor,
            state: Mutex::new(State::default()),
            created: std::time::Instant::now(),
        }
    }

    pub fn counters(&self) -> AgentCounters {
        lock(&self.state).counters
    }

    pub fn processor(&self) -> &TraceProcessor {
        &self.processor
    }

    /// INVOKE from the Extensions API.
    pub fn on_invoke(
        &self,
        request_id: &str,
        deadline_ms: u64,
        invoked_arn: &str,
        xray: Option<&str>,
    ) {
        let mut state = lock(&self.state);
        state.invokes_seen += 1;
        let first = state.invokes_seen == 1;
        let proactive = first && self.created.elapsed() >= PROACTIVE_INIT_AFTER;
        let inv = state.invocation(request_id);
        inv.deadline_ms = Some(deadline_ms);
        inv.invoked_arn = invoked_arn.to_string();
        inv.xray = xray.map(str::to_string);
        inv.cold_start = first && !proactive;
        inv.proactive_init = proactive;
        inv.start_ns.get_or_insert(ns(SystemTime::now()));
    }

    /// Platform telemetry: start/end times, outcome, init timing.
    pub fn on_telemetry(&self, events: &[TelemetryEvent]) {
        let mut state = lock(&self.state);
        for event in events {
            let at = event.timestamp().map(ns);
            match &event.record {
                TelemetryRecord::InitStart(_) => state.init_start_ns = at,
                TelemetryRecord::InitReport(r) => {
                    state.init_duration_ns = Some((r.metrics.duration_ms * 1e6) as i64)
                }
                TelemetryRecord::Start(s) => {
                    let inv = state.invocation(&s.request_id);
                    if let Some(at) = at {
                        inv.start_ns = Some(at);
                    }
                }
                TelemetryRecord::RuntimeDone(r) => {
                    let inv = state.invocation(&r.request_id);
                    inv.ended = true;
                    if inv.end_ns.is_none() {
                        inv.end_ns = at;
                    }
                    inv.platform_outcome = platform_outcome(r.status, r.error_type.as_deref(), inv);
                }
                TelemetryRecord::Report(r) => {
                    let init = r.metrics.init_duration_ms.map(|ms| (ms * 1e6) as i64);
                    if state.init_duration_ns.is_none() {
                        state.init_duration_ns = init;
                    }
                    let inv = state.invocation(&r.request_id);
                    inv.ended = true;
                    if let Some(outcome) = platform_outcome(r.status, r.error_type.as_deref(), inv)
                    {
                        if outcome != Outcome::Success {
                            inv.platform_outcome = Some(outcome);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// `POST /lambda/start-invocation`: parse the event, extract the context, decide the ids
    /// and answer with them.
    pub fn start_invocation(
        &self,
        request_id: Option<&str>,
        body: &[u8],
    ) -> Vec<(&'static str, String)> {
        let mut state = lock(&self.state);
        let request_id = request_id
            .map(str::to_string)
            .or_else(|| state.current_request())
            .unwrap_or_else(|| "unknown".to_string());
        let settings = self.processor.settings().clone();
        let merge_xray = settings.merge_xray_traces;
        let event: Option<Value> = serde_json::from_slice(body).ok();
        let (invoked_arn, xray) = {
            let inv = state.invocation(&request_id);
            inv.start_ns.get_or_insert(ns(SystemTime::now()));
            (inv.invoked_arn.clone(), inv.xray.clone())
        };
        let facts = InvocationFacts {
            function_arn: &invoked_arn,
            request_id: &request_id,
        };
        let trigger = event
            .as_ref()
            .and_then(|e| triggers::parse(e, facts, &settings.trigger));
        let context = event
            .as_ref()
            .and_then(|e| triggers::extract_context(e, None, xray.as_deref(), &settings.extract))
            .or_else(|| {
                xray.as_deref()
                    .and_then(triggers::propagation::xray_context)
            });
        let now_secs = (ns(SystemTime::now()) / 1_000_000_000) as u64;
        let ids = plan_ids(
            trigger.as_ref(),
            context.as_ref(),
            merge_xray,
            now_secs,
            state.next_ids(),
        );
        let headers = invocation_span::start_invocation_headers(&ids);
        let inv = state.invocation(&request_id);
        // The event is only needed again for payload capture; events can be megabytes.
        inv.event = event.filter(|_| settings.capture_payload_depth.is_some());
        inv.trigger = trigger;
        inv.ids = Some(ids);
        headers
    }

    /// `POST /lambda/end-invocation`: the response and the library's error and root tags.
    pub fn end_invocation(
        &self,
        request_id: Option<&str>,
        body: &[u8],
        header: impl Fn(&str) -> Option<String>,
    ) {
        let mut state = lock(&self.state);
        let Some(request_id) = request_id
            .map(str::to_string)
            .or_else(|| state.current_request())
        else {
            return;
        };
        let inv = state.invocation(&request_id);
        // The response matters for its status code and for payload capture only.
        let capture = self.processor.settings().capture_payload_depth.is_some();
        inv.response = serde_json::from_slice(body)
            .ok()
            .filter(|v: &Value| !v.is_null())
            .map(|v| if capture { v } else { status_only(v) });
        inv.end_ns = Some(ns(SystemTime::now()));
        inv.ended = true;
        if header("x-datadog-invocation-error").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            let b64 = |v: String| {
                base64::engine::general_purpose::STANDARD
                    .decode(v.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
            };
            inv.library_error = Some(ErrorFacts {
                error_type: header("x-datadog-invocation-error-type"),
                message: header("x-datadog-invocation-error-msg"),
                stack: header("x-datadog-invocation-error-stack").and_then(b64),
            });
        }
        if let Some(tags) = header("x-lambdascope-span-tags") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(tags.trim())
                .ok();
            if let Some(v) = decoded.and_then(|b| serde_json::from_slice::<Value>(&b).ok()) {
                for (k, v) in v
                    .get("meta")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    if let Some(s) = v.as_str() {
                        inv.root_meta.insert(k.clone(), s.to_string());
                    }
                }
                for (k, v) in v
                    .get("metrics")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    if let Some(f) = v.as_f64() {
                        inv.root_metrics.insert(k.clone(), f);
                    }
                }
            }
        }
        // A library that made its own ids (universal instrumentation) says which they are.
        let parse = |k: &str| {
            header(k)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|&v| v != 0)
        };
        if let (Some(ids), Some(trace), Some(span)) = (
            inv.ids.as_mut(),
            parse("x-datadog-trace-id"),
            parse("x-datadog-span-id"),
        ) {
            ids.trace_id = trace;
            ids.span_id = span;
        }
    }

    /// The trace each invocation belongs to, once its ids are decided (at start-invocation or
    /// when its spans are built): the trace its logs are correlated with, whatever the X-Ray
    /// header or a log line suggested before.
    pub fn decided_trace_ids(&self) -> Vec<(String, String)> {
        lock(&self.state)
            .invocations
            .iter()
            .filter_map(|inv| {
                let ids = inv.ids.as_ref()?;
                Some((inv.request_id.clone(), ids.trace_id.to_string()))
            })
            .collect()
    }

    /// `/v0.4/traces`, `/v0.5/traces`: decode and process; returns the span count.
    pub fn receive_traces(
        &self,
        version: TraceApiVersion,
        content_type: Option<&str>,
        body: &[u8],
        tracer: &TracerMeta,
    ) -> Result<usize, RejectedTraces> {
        let traces = match tracer_payload::decode(version, content_type, body) {
            Ok(t) => t,
            Err(error) => {
                lock(&self.state).counters.payloads_rejected += 1;
                let traces_lost = header_count(body);
                return Err(RejectedTraces { error, traces_lost });
            }
        };
        let received: usize = traces.iter().map(Vec::len).sum();
        let tracer_spans: Vec<(String, Span)> = traces
            .iter()
            .flatten()
            .filter(|s| s.name == invocation_span::INVOCATION_SPAN)
            .filter_map(|s| Some((s.meta.get("request_id")?.clone(), s.clone())))
            .collect();
        let (payload, _drops) = self
            .processor
            .process(traces, tracer, ns(SystemTime::now()));
        let kept: usize = payload.chunks.iter().map(|c| c.spans.len()).sum();
        let mut state = lock(&self.state);
        state.counters.spans_received += received as u64;
        // Infrastructure spans, invalid spans and filtered traces.
        state.counters.spans_dropped_processing += received.saturating_sub(kept) as u64;
        state.tracer_invocation_spans.extend(tracer_spans);
        if state.pending_spans + kept > MAX_PENDING_SPANS {
            state.counters.spans_dropped_full += kept as u64;
        } else if kept > 0 {
            state.pending_spans += kept;
            state.pending.push(payload);
        }
        Ok(received)
    }

    /// `/v0.6/stats`: kept as is for forwarding.
    pub fn receive_stats(&self, body: Bytes) {
        let mut state = lock(&self.state);
        if state.stats.len() < MAX_PENDING_STATS {
            state.stats.push(body);
        }
    }

    pub fn take_stats(&self) -> Vec<Bytes> {
        std::mem::take(&mut lock(&self.state).stats)
    }

    /// Builds the spans of every ended invocation (all of them on the final flush, with a
    /// timeout outcome for those past their deadline) and returns everything pending.
    pub fn take_payload(&self, final_flush: bool) -> Option<AgentPayload> {
        let now = ns(SystemTime::now());
        let mut state = lock(&self.state);
        let state = &mut *state;
        let function = self.processor.function().clone();
        let settings = self.processor.settings();
        let options = SpanOptions {
            env: settings.env.as_deref(),
            version: settings.version.as_deref(),
            dd_service: settings.service.as_deref(),
            capture_payload_depth: settings.capture_payload_depth,
        };
        let mut own_spans: Vec<Span> = Vec::new();
        let (init_start, init_duration) = (state.init_start_ns, state.init_duration_ns);
        let mut ids_source = state.ids.take().unwrap_or_default();
        for inv in state
            .invocations
            .iter_mut()
            .filter(|i| !i.built && (i.ended || final_flush))
        {
            let Some(start_ns) = inv.start_ns else {
                continue;
            };
            let past_deadline = inv.deadline_ms.is_some_and(|d| now / 1_000_000 >= d as i64);
            let outcome = match (&inv.library_error, &inv.platform_outcome) {
                (_, Some(o @ (Outcome::Timeout { .. } | Outcome::OutOfMemory))) => o.clone(),
                (Some(e), _) => Outcome::Error(e.clone()),
                (None, Some(o)) => o.clone(),
                (None, None) if !inv.ended && past_deadline => Outcome::Timeout {
                    timeout_ms: inv
                        .deadline_ms
                        .map(|d| (d as i64 - start_ns / 1_000_000).max(0) as u64),
                },
                _ => Outcome::Success,
            };
            let end_ns = inv.end_ns.unwrap_or_else(|| {
                inv.deadline_ms
                    .map_or(now, |d| (d as i64 * 1_000_000).min(now))
            });
            let ids = inv.ids.clone().unwrap_or_else(|| {
                let xray = inv
                    .xray
                    .as_deref()
                    .and_then(triggers::propagation::xray_context);
                plan_ids(
                    None,
                    xray.as_ref(),
                    settings.merge_xray_traces,
                    (start_ns / 1_000_000_000) as u64,
                    &mut ids_source,
                )
            });
            let record = InvocationRecord {
                request_id: &inv.request_id,
                invoked_function_arn: if inv.invoked_arn.is_empty() {
                    &function.arn
                } else {
                    &inv.invoked_arn
                },
                start_ns,
                end_ns,
                cold_start: inv.cold_start,
                proactive_init: inv.proactive_init,
                event: inv.event.as_ref(),
                response: inv.response.as_ref(),
                outcome,
                root_meta: std::mem::take(&mut inv.root_meta),
                root_metrics: std::mem::take(&mut inv.root_metrics),
            };
            let mut spans =
                build_invocation_spans(&record, &function, inv.trigger.as_ref(), &ids, &options);
            if inv.cold_start {
                if let (Some(start), Some(duration)) = (init_start, init_duration) {
                    let id = ids_source.next_id();
                    spans.push(build_cold_start_span(
                        start,
                        duration,
                        &function,
                        &inv.request_id,
                        &ids,
                        id,
                    ));
                }
            }
            let theirs = state
                .tracer_invocation_spans
                .iter()
                .find(|(rid, _)| *rid == inv.request_id)
                .map(|(_, s)| s);
            own_spans.extend(invocation_span::dedup_against_tracer(spans, theirs));
            inv.built = true;
            inv.event = None;
            inv.response = None;
            state.counters.invocation_spans_built += 1;
        }
        state.ids = Some(ids_source);
        state.tracer_invocation_spans.retain(|(rid, _)| {
            state
                .invocations
                .iter()
                .any(|i| i.request_id == *rid && !i.built)
        });
        let mut payloads = std::mem::take(&mut state.pending);
        state.pending_spans = 0;
        if !own_spans.is_empty() {
            payloads.extend(self.processor.process_own(own_spans, now));
        }
        let payload = agent_payload(payloads, settings.env.as_deref());
        (!payload.tracer_payloads.is_empty()).then_some(payload)
    }
}

/// A response reduced to what span building reads without payload capture: `statusCode`.
fn status_only(response: Value) -> Value {
    match response.get("statusCode") {
        Some(code) => serde_json::json!({ "statusCode": code }),
        None => Value::Object(Default::default()),
    }
}

/// The platform's view of the outcome (`runtimeDone` / `report` status).
fn platform_outcome(
    status: Status,
    error_type: Option<&str>,
    inv: &InvocationTrace,
) -> Option<Outcome> {
    let oom = error_type.is_some_and(|t| t.contains("OutOfMemory"));
    Some(match status {
        Status::Success => Outcome::Success,
        Status::Timeout => Outcome::Timeout {
            timeout_ms: inv
                .deadline_ms
                .zip(inv.start_ns)
                .map(|(d, s)| (d as i64 - s / 1_000_000).max(0) as u64),
        },
        _ if oom => Outcome::OutOfMemory,
        Status::Error | Status::Failure => Outcome::Error(ErrorFacts {
            error_type: error_type.map(str::to_string),
            message: None,
            stack: None,
        }),
    })
}

/// The outer array length of a msgpack body, for "N traces lost" answers (best effort).
fn header_count(body: &[u8]) -> usize {
    match body.first() {
        Some(&b) if (0x90..=0x9f).contains(&b) => usize::from(b & 0x0f),
        Some(0xdc) if body.len() >= 3 => usize::from(u16::from_be_bytes([body[1], body[2]])),
        _ => 0,
    }
}

#[cfg(test)]
pub(crate) mod tests;
