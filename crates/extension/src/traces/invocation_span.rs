//! The spans the extension builds for an invocation — the inferred trigger spans,
//! `aws.lambda`, and `aws.lambda.cold_start` — as pure functions of an invocation record.
//!
//! Ids are decided when the invocation starts ([`plan_ids`]), because the start-invocation
//! answer already tells the function's library which trace it is in and which span is its
//! parent ([`start_invocation_headers`]); the spans themselves are built when the
//! invocation's outcome is known ([`build_invocation_spans`]). When the function's tracer
//! built its own `aws.lambda` (Datadog's Python and Node libraries do), ours is dropped
//! ([`dedup_against_tracer`]).

use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};

use lambdascope_wire::agent_payload::Span;
use lambdascope_wire::triggers::{ContextSource, ExtractedContext, InferredSpanEnd, Trigger};
use serde_json::Value;

use super::payload_capture::flatten_into;
use super::processor::{FunctionFacts, SAMPLING_PRIORITY_KEY};

pub const INVOCATION_SPAN: &str = "aws.lambda";
pub const COLD_START_SPAN: &str = "aws.lambda.cold_start";
/// `AUTO_KEEP`: the priority of traces the extension starts itself.
pub const AUTO_KEEP: i32 = 1;

/// A source of span and trace ids.
pub trait IdSource {
    /// A non-zero 63-bit id.
    fn next_id(&mut self) -> u64;
}

/// Random ids: splitmix64 seeded from the OS-randomized hasher keys (no extra dependency,
/// no unsafe, different in every process).
#[derive(Debug, Clone)]
pub struct RandomIds {
    state: u64,
}

impl Default for RandomIds {
    fn default() -> Self {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(std::process::id().into());
        Self { state: h.finish() }
    }
}

impl IdSource for RandomIds {
    fn next_id(&mut self) -> u64 {
        loop {
            self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            let id = (z ^ (z >> 31)) >> 1;
            if id != 0 {
                return id;
            }
        }
    }
}

/// The ids of one invocation's spans, decided at start.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationIds {
    pub trace_id: u64,
    pub trace_id_high: u64,
    /// The `aws.lambda` span.
    pub span_id: u64,
    /// The parent of `aws.lambda`: the last inferred span, or the upstream parent.
    pub parent_id: u64,
    /// One per inferred span of the trigger, outermost first.
    pub inferred_span_ids: Vec<u64>,
    /// The parent of the outermost span (the extracted context's span, or 0).
    pub upstream_parent_id: u64,
    pub sampling_priority: i32,
    /// `_dd.p.*` tags the trace carries (including `_dd.p.tid`).
    pub propagated_tags: BTreeMap<String, String>,
    /// The context came from X-Ray and was merged (`DD_MERGE_XRAY_TRACES`).
    pub xray_parent: bool,
}

/// Decides the ids: continue the extracted context (an X-Ray context only when merging
/// X-Ray traces), else start a new 128-bit trace (upper half = start second, as Datadog
/// tracers do).
pub fn plan_ids(
    trigger: Option<&Trigger>,
    context: Option<&ExtractedContext>,
    merge_xray_traces: bool,
    now_unix_secs: u64,
    ids: &mut impl IdSource,
) -> InvocationIds {
    let context = context.filter(|c| c.source != ContextSource::Xray || merge_xray_traces);
    let (trace_id, trace_id_high, upstream, priority, mut tags) = match context {
        Some(c) => (
            c.trace_id,
            c.trace_id_high,
            c.parent_id,
            c.sampling_priority.unwrap_or(AUTO_KEEP),
            c.tags
                .iter()
                .filter(|(k, _)| k.starts_with("_dd.p."))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        None => (
            ids.next_id(),
            (now_unix_secs & 0xFFFF_FFFF) << 32,
            0,
            AUTO_KEEP,
            BTreeMap::new(),
        ),
    };
    if trace_id_high != 0 {
        tags.entry("_dd.p.tid".to_string())
            .or_insert_with(|| format!("{trace_id_high:016x}"));
    }
    let n_inferred = trigger.map_or(0, |t| t.inferred.len());
    let inferred_span_ids: Vec<u64> = (0..n_inferred).map(|_| ids.next_id()).collect();
    InvocationIds {
        trace_id,
        trace_id_high,
        span_id: ids.next_id(),
        parent_id: inferred_span_ids.last().copied().unwrap_or(upstream),
        inferred_span_ids,
        upstream_parent_id: upstream,
        sampling_priority: priority,
        propagated_tags: tags,
        xray_parent: context.is_some_and(|c| c.source == ContextSource::Xray),
    }
}

/// The answer headers of `POST /lambda/start-invocation`: the trace the function is in and
/// the span (`aws.lambda`) its spans are children of.
pub fn start_invocation_headers(ids: &InvocationIds) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("x-datadog-trace-id", ids.trace_id.to_string()),
        ("x-datadog-parent-id", ids.span_id.to_string()),
        (
            "x-datadog-sampling-priority",
            ids.sampling_priority.to_string(),
        ),
    ];
    if !ids.propagated_tags.is_empty() {
        let tags: Vec<String> = ids
            .propagated_tags
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        headers.push(("x-datadog-tags", tags.join(",")));
    }
    headers
}

/// An error reported by the function's library (`x-datadog-invocation-error*` headers of
/// end-invocation) or by the platform.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ErrorFacts {
    pub error_type: Option<String>,
    pub message: Option<String>,
    pub stack: Option<String>,
}

/// How the invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Success,
    /// The handler raised (library headers) or runtimeDone said `error`/`failure`.
    Error(ErrorFacts),
    /// The platform stopped the function at its deadline.
    Timeout {
        timeout_ms: Option<u64>,
    },
    /// The function ran out of memory.
    OutOfMemory,
}

/// Everything known about one invocation when its spans are built.
#[derive(Debug, Clone)]
pub struct InvocationRecord<'a> {
    pub request_id: &'a str,
    /// `context.invoked_function_arn` (may carry a qualifier).
    pub invoked_function_arn: &'a str,
    /// ns since the epoch: INVOKE / platform.start.
    pub start_ns: i64,
    /// ns since the epoch: runtimeDone or end-invocation (the deadline on a timeout).
    pub end_ns: i64,
    pub cold_start: bool,
    pub proactive_init: bool,
    pub event: Option<&'a Value>,
    /// `None` when the function returned nothing the extension saw (error, timeout).
    pub response: Option<&'a Value>,
    pub outcome: Outcome,
    /// Tags the library set on its stand-in for `aws.lambda` (`x-lambdascope-span-tags`).
    pub root_meta: BTreeMap<String, String>,
    pub root_metrics: BTreeMap<String, f64>,
}

/// Settings that shape the spans.
#[derive(Debug, Clone, Default)]
pub struct SpanOptions<'a> {
    pub env: Option<&'a str>,
    pub version: Option<&'a str>,
    /// `DD_SERVICE`, for `peer.service` on inferred spans.
    pub dd_service: Option<&'a str>,
    /// `DD_CAPTURE_LAMBDA_PAYLOAD_MAX_DEPTH` when capture is on.
    pub capture_payload_depth: Option<usize>,
}

/// `arn:aws:lambda:r:a:function:name[:qualifier]` → (lower-cased unqualified ARN, version).
pub fn split_function_arn(arn: &str) -> (String, String) {
    let lower = arn.to_lowercase();
    let parts: Vec<&str> = lower.split(':').collect();
    if parts.len() > 7 {
        (parts[..7].join(":"), parts[7].to_string())
    } else {
        (lower, "$LATEST".to_string())
    }
}

/// `http.status_code` for HTTP triggers: the response's `statusCode`, 502 when there was
/// no response, 200 for any other response.
pub fn http_status_code(trigger: Option<&Trigger>, response: Option<&Value>) -> Option<String> {
    if !trigger?.source.is_http() {
        return None;
    }
    Some(match response {
        None | Some(Value::Null) => "502".to_string(),
        Some(r) => match r.get("statusCode") {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => "200".to_string(),
        },
    })
}

fn error_tags(outcome: &Outcome, meta: &mut BTreeMap<String, String>) -> bool {
    let (kind, message, stack) = match outcome {
        Outcome::Success => return false,
        Outcome::Error(e) => (e.error_type.clone(), e.message.clone(), e.stack.clone()),
        Outcome::Timeout { timeout_ms } => (
            Some("Timeout".to_string()),
            Some(match timeout_ms {
                Some(ms) => format!("Task timed out after {:.2} seconds", *ms as f64 / 1000.0),
                None => "Task timed out".to_string(),
            }),
            None,
        ),
        Outcome::OutOfMemory => (
            Some("Runtime.OutOfMemory".to_string()),
            Some("The function ran out of memory".to_string()),
            None,
        ),
    };
    for (key, value) in [
        ("error.type", kind),
        ("error.message", message),
        ("error.stack", stack),
    ] {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            meta.insert(key.to_string(), v);
        }
    }
    true
}

/// Builds the inferred spans (outermost first) and `aws.lambda` for one invocation.
pub fn build_invocation_spans(
    record: &InvocationRecord<'_>,
    function: &FunctionFacts,
    trigger: Option<&Trigger>,
    ids: &InvocationIds,
    options: &SpanOptions<'_>,
) -> Vec<Span> {
    let status = http_status_code(trigger, record.response);
    let mut spans = Vec::new();
    let inferred = trigger.map(|t| t.inferred.as_slice()).unwrap_or_default();
    let mut parent = ids.upstream_parent_id;
    for (inf, &span_id) in inferred.iter().zip(&ids.inferred_span_ids) {
        let start = inf.start_ns.unwrap_or(record.start_ns);
        let end = match inf.end {
            InferredSpanEnd::WithInvocation => record.end_ns,
            InferredSpanEnd::AtInvocationStart => record.start_ns,
            InferredSpanEnd::At(ns) => ns,
        };
        let mut meta = inf.meta.clone();
        if let Some(code) = &status {
            meta.insert("http.status_code".to_string(), code.clone());
        }
        if let Some(route) = trigger.and_then(|t| t.tags.get("http.route")) {
            meta.insert("http.route".to_string(), route.clone());
        }
        if let Some(arn) = trigger.and_then(|t| t.arn.clone()) {
            meta.insert("dd_resource_key".to_string(), arn);
        }
        if let Some(service) = options.dd_service {
            meta.insert("peer.service".to_string(), service.to_string());
        }
        spans.push(Span {
            service: inf.service.clone(),
            name: inf.name.clone(),
            resource: inf.resource.clone(),
            trace_id: ids.trace_id,
            span_id,
            parent_id: parent,
            start,
            duration: end.saturating_sub(start).max(0),
            meta,
            metrics: inf.metrics.clone(),
            r#type: inf.span_type.clone(),
            ..Default::default()
        });
        parent = span_id;
    }
    spans.push(lambda_span(record, function, trigger, ids, options, status));
    // The local root carries the trace-level facts.
    if let Some(root) = spans.first_mut() {
        root.metrics.insert(
            SAMPLING_PRIORITY_KEY.to_string(),
            f64::from(ids.sampling_priority),
        );
        for (k, v) in &ids.propagated_tags {
            root.meta.insert(k.clone(), v.clone());
        }
    }
    spans
}

fn lambda_span(
    record: &InvocationRecord<'_>,
    function: &FunctionFacts,
    trigger: Option<&Trigger>,
    ids: &InvocationIds,
    options: &SpanOptions<'_>,
    status: Option<String>,
) -> Span {
    let (function_arn, function_version) = split_function_arn(record.invoked_function_arn);
    let mut meta: BTreeMap<String, String> = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        meta.insert(k.to_string(), v);
    };
    put("span.kind", "server".into());
    put("span.name", INVOCATION_SPAN.into());
    put("cold_start", record.cold_start.to_string());
    put("function_arn", function_arn);
    put("function_version", function_version);
    put("request_id", record.request_id.into());
    put("resource_names", function.name.clone());
    put("functionname", function.name.to_lowercase());
    put("memorysize", function.memory_mb.to_string());
    if let Some(runtime) = &function.runtime {
        put("runtime", runtime.clone());
    }
    if record.proactive_init {
        put("proactive_initialization", "true".into());
    }
    if ids.xray_parent {
        put("_dd.parent_source", "xray".into());
    }
    if let Some(env) = options.env {
        put("env", env.into());
    }
    if let Some(version) = options.version {
        put("version", version.into());
    }
    if let Some(t) = trigger {
        meta.extend(t.tags.clone());
    }
    if let Some(depth) = options.capture_payload_depth {
        if let Some(event) = record.event {
            flatten_into("function.request", event, depth, &mut meta);
        }
        if let Some(response) = record.response {
            flatten_into("function.response", response, depth, &mut meta);
        }
    }
    meta.extend(record.root_meta.clone());
    let mut error = error_tags(&record.outcome, &mut meta);
    if let Some(code) = status {
        error |= code.len() == 3 && code.starts_with('5');
        meta.insert("http.status_code".to_string(), code);
    }
    Span {
        service: function.service.clone(),
        name: INVOCATION_SPAN.to_string(),
        resource: function.name.clone(),
        trace_id: ids.trace_id,
        span_id: ids.span_id,
        parent_id: ids.parent_id,
        start: record.start_ns,
        duration: record.end_ns.saturating_sub(record.start_ns).max(0),
        error: i32::from(error),
        meta,
        metrics: record.root_metrics.clone(),
        r#type: "serverless".to_string(),
        ..Default::default()
    }
}

/// `aws.lambda.cold_start`: the init phase (initStart → initReport), a child of
/// `aws.lambda` in the same trace.
pub fn build_cold_start_span(
    init_start_ns: i64,
    init_duration_ns: i64,
    function: &FunctionFacts,
    request_id: &str,
    ids: &InvocationIds,
    span_id: u64,
) -> Span {
    let meta = BTreeMap::from([
        ("request_id".to_string(), request_id.to_string()),
        ("functionname".to_string(), function.name.to_lowercase()),
        ("cold_start".to_string(), "true".to_string()),
        ("resource_names".to_string(), function.name.clone()),
    ]);
    Span {
        service: function.service.clone(),
        name: COLD_START_SPAN.to_string(),
        resource: function.name.clone(),
        trace_id: ids.trace_id,
        span_id,
        parent_id: ids.span_id,
        start: init_start_ns,
        duration: init_duration_ns.max(0),
        meta,
        r#type: "serverless".to_string(),
        ..Default::default()
    }
}

/// The `aws.lambda` span a tracer sent for this request, if any.
pub fn tracer_invocation_span<'a>(
    spans: impl IntoIterator<Item = &'a Span>,
    request_id: &str,
) -> Option<&'a Span> {
    spans.into_iter().find(|s| {
        s.name == INVOCATION_SPAN && s.meta.get("request_id").is_none_or(|rid| rid == request_id)
    })
}

/// Our spans, minus what the tracer already built: when it sent its own `aws.lambda`, ours
/// and our inferred spans go (the tracer infers its own), and a cold-start span moves under
/// the tracer's `aws.lambda`.
pub fn dedup_against_tracer(own: Vec<Span>, tracer_span: Option<&Span>) -> Vec<Span> {
    let Some(theirs) = tracer_span else {
        return own;
    };
    own.into_iter()
        .filter(|s| s.name == COLD_START_SPAN)
        .map(|mut s| {
            s.trace_id = theirs.trace_id;
            s.parent_id = theirs.span_id;
            s
        })
        .collect()
}

#[cfg(test)]
mod tests;
