//! What tracers send to a trace agent: `/v0.4/traces` (msgpack, or JSON with
//! `Content-Type: application/json`) and `/v0.5/traces` (msgpack with a string table),
//! decoded into the intake [`Span`](crate::agent_payload::Span) so that a span has one type
//! from the tracer to the intake.
//!
//! Decoding never panics: malformed input is a [`TracePayloadError`] saying where and
//! what, fit for a 400 answer. The encoders exist for tests, benchmarks and clients.

use std::collections::BTreeMap;

use crate::agent_payload::Span;

mod json;
mod msgpack;

/// Traces as sent: each inner vector is one trace (usually one chunk of it).
pub type Traces = Vec<Vec<Span>>;

/// Why a tracer payload was rejected.
#[derive(Debug, thiserror::Error)]
pub enum TracePayloadError {
    #[error("tracer payload is truncated at byte {offset}; the client sent an incomplete body")]
    Truncated { offset: usize },
    #[error("tracer payload: expected {expected} at byte {offset}, found msgpack {found}")]
    UnexpectedType {
        expected: &'static str,
        found: String,
        offset: usize,
    },
    #[error("tracer payload: a string before byte {offset} is not valid UTF-8")]
    InvalidUtf8 { offset: usize },
    #[error("tracer payload nests deeper than 64 levels at byte {offset}")]
    TooDeep { offset: usize },
    #[error(
        "tracer payload has unread bytes from byte {offset}; one body holds one array of traces"
    )]
    TrailingBytes { offset: usize },
    #[error(
        "v0.5 tracer payload refers to string {index} but its string table has {table_len} entries"
    )]
    BadStringIndex { index: u64, table_len: usize },
    #[error("tracer payload: {0}")]
    Invalid(String),
    #[error("tracer payload is not a JSON array of traces of span objects: {0}")]
    Json(#[from] serde_json::Error),
}

/// The trace endpoint versions a trace agent accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceApiVersion {
    V04,
    V05,
}

/// Decodes a body by endpoint version and `Content-Type` (JSON only for v0.4).
pub fn decode(
    version: TraceApiVersion,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Traces, TracePayloadError> {
    let is_json = content_type.is_some_and(|c| {
        c.trim()
            .to_ascii_lowercase()
            .starts_with("application/json")
    });
    match version {
        TraceApiVersion::V04 if is_json => decode_v04_json(body),
        TraceApiVersion::V04 => decode_v04(body),
        TraceApiVersion::V05 => decode_v05(body),
    }
}

/// `/v0.4/traces` msgpack.
pub fn decode_v04(body: &[u8]) -> Result<Traces, TracePayloadError> {
    msgpack::decode_v04(body)
}

/// `/v0.5/traces` msgpack.
pub fn decode_v05(body: &[u8]) -> Result<Traces, TracePayloadError> {
    msgpack::decode_v05(body)
}

/// `/v0.4/traces` JSON: the same shape as msgpack v0.4. Numbers may be integers or floats;
/// `null` fields are treated as absent.
pub fn decode_v04_json(body: &[u8]) -> Result<Traces, TracePayloadError> {
    json::decode_v04_json(body)
}

/// Encodes traces as `/v0.4/traces` msgpack (what ddtrace sends).
pub fn encode_v04(traces: &[Vec<Span>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(traces.iter().map(Vec::len).sum::<usize>() * 256);
    let w = &mut out;
    // Writes into a Vec cannot fail.
    rmp::encode::write_array_len(w, traces.len() as u32).ok();
    for trace in traces {
        rmp::encode::write_array_len(w, trace.len() as u32).ok();
        for s in trace {
            rmp::encode::write_map_len(w, 12).ok();
            for (k, v) in [
                ("service", &s.service),
                ("name", &s.name),
                ("resource", &s.resource),
                ("type", &s.r#type),
            ] {
                rmp::encode::write_str(w, k).ok();
                rmp::encode::write_str(w, v).ok();
            }
            for (k, v) in [
                ("trace_id", s.trace_id),
                ("span_id", s.span_id),
                ("parent_id", s.parent_id),
            ] {
                rmp::encode::write_str(w, k).ok();
                rmp::encode::write_uint(w, v).ok();
            }
            for (k, v) in [
                ("start", s.start),
                ("duration", s.duration),
                ("error", i64::from(s.error)),
            ] {
                rmp::encode::write_str(w, k).ok();
                rmp::encode::write_sint(w, v).ok();
            }
            rmp::encode::write_str(w, "meta").ok();
            write_str_map(w, &s.meta);
            rmp::encode::write_str(w, "metrics").ok();
            rmp::encode::write_map_len(w, s.metrics.len() as u32).ok();
            for (k, v) in &s.metrics {
                rmp::encode::write_str(w, k).ok();
                rmp::encode::write_f64(w, *v).ok();
            }
        }
    }
    out
}

fn write_str_map(w: &mut Vec<u8>, map: &BTreeMap<String, String>) {
    rmp::encode::write_map_len(w, map.len() as u32).ok();
    for (k, v) in map {
        rmp::encode::write_str(w, k).ok();
        rmp::encode::write_str(w, v).ok();
    }
}

/// Encodes traces as `/v0.5/traces` msgpack (string table + 12-element span arrays).
pub fn encode_v05(traces: &[Vec<Span>]) -> Vec<u8> {
    let mut table: Vec<&str> = vec![""];
    let mut index: BTreeMap<&str, u32> = BTreeMap::from([("", 0)]);
    // Two passes: collect the strings, then write spans by index.
    for trace in traces {
        for s in trace {
            let strings = [&s.service, &s.name, &s.resource, &s.r#type]
                .into_iter()
                .chain(s.meta.iter().flat_map(|(k, v)| [k, v]))
                .chain(s.metrics.keys());
            for st in strings {
                if !index.contains_key(st.as_str()) {
                    index.insert(st.as_str(), table.len() as u32);
                    table.push(st.as_str());
                }
            }
        }
    }
    let idx = |s: &str| u64::from(index[s]);
    let mut out = Vec::new();
    let w = &mut out;
    rmp::encode::write_array_len(w, 2).ok();
    rmp::encode::write_array_len(w, table.len() as u32).ok();
    for s in &table {
        rmp::encode::write_str(w, s).ok();
    }
    rmp::encode::write_array_len(w, traces.len() as u32).ok();
    for trace in traces {
        rmp::encode::write_array_len(w, trace.len() as u32).ok();
        for s in trace {
            rmp::encode::write_array_len(w, 12).ok();
            for st in [&s.service, &s.name, &s.resource] {
                rmp::encode::write_uint(w, idx(st)).ok();
            }
            for v in [s.trace_id, s.span_id, s.parent_id] {
                rmp::encode::write_uint(w, v).ok();
            }
            for v in [s.start, s.duration, i64::from(s.error)] {
                rmp::encode::write_sint(w, v).ok();
            }
            rmp::encode::write_map_len(w, s.meta.len() as u32).ok();
            for (k, v) in &s.meta {
                rmp::encode::write_uint(w, idx(k)).ok();
                rmp::encode::write_uint(w, idx(v)).ok();
            }
            rmp::encode::write_map_len(w, s.metrics.len() as u32).ok();
            for (k, v) in &s.metrics {
                rmp::encode::write_uint(w, idx(k)).ok();
                rmp::encode::write_f64(w, *v).ok();
            }
            rmp::encode::write_uint(w, idx(&s.r#type)).ok();
        }
    }
    out
}

#[cfg(test)]
mod tests;
