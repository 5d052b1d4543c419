//! `datadog.trace.AgentPayload`: the protobuf body of `POST /api/v0.2/traces`.
//!
//! Hand-written `prost` structs with the field numbers of the Datadog Agent's
//! `agent_payload.proto`, `tracer_payload.proto` and `span.proto`:
//!
//! ```text
//! AgentPayload { string hostName = 1; string env = 2; repeated TracerPayload tracerPayloads = 5;
//!                map<string,string> tags = 6; string agentVersion = 7; double targetTPS = 8;
//!                double errorTPS = 9; bool rareSamplerEnabled = 10; string APMMode = 12; }
//! TracerPayload { string containerID = 1; languageName = 2; languageVersion = 3; tracerVersion = 4;
//!                 runtimeID = 5; repeated TraceChunk chunks = 6; map<string,string> tags = 7;
//!                 string env = 8; hostname = 9; appVersion = 10; APMMode = 11; }
//! TraceChunk { int32 priority = 1; string origin = 2; repeated Span spans = 3;
//!              map<string,string> tags = 4; bool droppedTrace = 5; }
//! Span { string service = 1; name = 2; resource = 3; uint64 traceID = 4; spanID = 5; parentID = 6;
//!        int64 start = 7 (ns since epoch); int64 duration = 8 (ns); int32 error = 9;
//!        map<string,string> meta = 10; map<string,double> metrics = 11; string type = 12;
//!        map<string,bytes> meta_struct = 13; repeated SpanLink spanLinks = 14; }
//! ```
//!
//! Field 11 (`idxTracerPayloads`, the new indexed form) is not modelled: prost skips it.
//! Trace ids are the low 64 bits; the high 64 bits of a 128-bit id travel as the hex
//! meta tag `_dd.p.tid`.

use std::collections::BTreeMap;

use prost::Message;

use crate::intake_error::IntakeDecodeError;

const FORMAT: &str = "AgentPayload (protobuf)";

#[derive(Clone, PartialEq, Message)]
pub struct AgentPayload {
    #[prost(string, tag = "1")]
    pub host_name: String,
    #[prost(string, tag = "2")]
    pub env: String,
    #[prost(message, repeated, tag = "5")]
    pub tracer_payloads: Vec<TracerPayload>,
    #[prost(btree_map = "string, string", tag = "6")]
    pub tags: BTreeMap<String, String>,
    #[prost(string, tag = "7")]
    pub agent_version: String,
    #[prost(double, tag = "8")]
    pub target_tps: f64,
    #[prost(double, tag = "9")]
    pub error_tps: f64,
    #[prost(bool, tag = "10")]
    pub rare_sampler_enabled: bool,
    #[prost(string, tag = "12")]
    pub apm_mode: String,
}

#[derive(Clone, PartialEq, Message)]
pub struct TracerPayload {
    #[prost(string, tag = "1")]
    pub container_id: String,
    #[prost(string, tag = "2")]
    pub language_name: String,
    #[prost(string, tag = "3")]
    pub language_version: String,
    #[prost(string, tag = "4")]
    pub tracer_version: String,
    #[prost(string, tag = "5")]
    pub runtime_id: String,
    #[prost(message, repeated, tag = "6")]
    pub chunks: Vec<TraceChunk>,
    #[prost(btree_map = "string, string", tag = "7")]
    pub tags: BTreeMap<String, String>,
    #[prost(string, tag = "8")]
    pub env: String,
    #[prost(string, tag = "9")]
    pub hostname: String,
    #[prost(string, tag = "10")]
    pub app_version: String,
    #[prost(string, tag = "11")]
    pub apm_mode: String,
}

/// Spans of one trace that travel together, with the trace's sampling priority.
#[derive(Clone, PartialEq, Message)]
pub struct TraceChunk {
    #[prost(int32, tag = "1")]
    pub priority: i32,
    #[prost(string, tag = "2")]
    pub origin: String,
    #[prost(message, repeated, tag = "3")]
    pub spans: Vec<Span>,
    #[prost(btree_map = "string, string", tag = "4")]
    pub tags: BTreeMap<String, String>,
    #[prost(bool, tag = "5")]
    pub dropped_trace: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct Span {
    #[prost(string, tag = "1")]
    pub service: String,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(string, tag = "3")]
    pub resource: String,
    #[prost(uint64, tag = "4")]
    pub trace_id: u64,
    #[prost(uint64, tag = "5")]
    pub span_id: u64,
    #[prost(uint64, tag = "6")]
    pub parent_id: u64,
    /// Nanoseconds since the Unix epoch.
    #[prost(int64, tag = "7")]
    pub start: i64,
    /// Nanoseconds.
    #[prost(int64, tag = "8")]
    pub duration: i64,
    #[prost(int32, tag = "9")]
    pub error: i32,
    #[prost(btree_map = "string, string", tag = "10")]
    pub meta: BTreeMap<String, String>,
    #[prost(btree_map = "string, double", tag = "11")]
    pub metrics: BTreeMap<String, f64>,
    #[prost(string, tag = "12")]
    pub r#type: String,
    #[prost(btree_map = "string, bytes", tag = "13")]
    pub meta_struct: BTreeMap<String, Vec<u8>>,
    #[prost(message, repeated, tag = "14")]
    pub span_links: Vec<SpanLink>,
}

#[derive(Clone, PartialEq, Message)]
pub struct SpanLink {
    #[prost(uint64, tag = "1")]
    pub trace_id: u64,
    #[prost(uint64, tag = "2")]
    pub trace_id_high: u64,
    #[prost(uint64, tag = "3")]
    pub span_id: u64,
    #[prost(btree_map = "string, string", tag = "4")]
    pub attributes: BTreeMap<String, String>,
    #[prost(string, tag = "5")]
    pub tracestate: String,
    #[prost(uint32, tag = "6")]
    pub flags: u32,
}

/// Encodes an agent payload (uncompressed protobuf).
pub fn encode(payload: &AgentPayload) -> Vec<u8> {
    payload.encode_to_vec()
}

/// Decodes an agent payload (already decompressed) and rejects spans without ids.
pub fn decode(body: &[u8]) -> Result<AgentPayload, IntakeDecodeError> {
    let payload = AgentPayload::decode(body).map_err(|source| IntakeDecodeError::Protobuf {
        format: FORMAT,
        source,
    })?;
    for tp in &payload.tracer_payloads {
        for chunk in &tp.chunks {
            for span in &chunk.spans {
                if span.trace_id == 0 || span.span_id == 0 {
                    return Err(IntakeDecodeError::invalid(
                        FORMAT,
                        format!(
                            "span {:?} has a zero trace_id or span_id; every span needs both",
                            span.name
                        ),
                    ));
                }
                if span.duration < 0 {
                    return Err(IntakeDecodeError::invalid(
                        FORMAT,
                        format!("span {:?} has a negative duration", span.name),
                    ));
                }
            }
        }
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span() -> Span {
        Span {
            service: "svc".into(),
            name: "aws.lambda".into(),
            resource: "fn".into(),
            trace_id: 42,
            span_id: 7,
            start: 1_700_000_000_000_000_000,
            duration: 5_000_000,
            meta: BTreeMap::from([("request_id".into(), "abc".into())]),
            metrics: BTreeMap::from([("_sampling_priority_v1".into(), 1.0)]),
            r#type: "serverless".into(),
            ..Default::default()
        }
    }

    #[test]
    fn round_trips() {
        let payload = AgentPayload {
            host_name: "h".into(),
            env: "prod".into(),
            tracer_payloads: vec![TracerPayload {
                language_name: "python".into(),
                chunks: vec![TraceChunk {
                    priority: 1,
                    origin: "lambda".into(),
                    spans: vec![span()],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            agent_version: "lambdascope".into(),
            ..Default::default()
        };
        let bytes = encode(&payload);
        assert_eq!(decode(&bytes).unwrap(), payload);
    }

    #[test]
    fn rejects_spans_without_ids() {
        let mut s = span();
        s.span_id = 0;
        let payload = AgentPayload {
            tracer_payloads: vec![TracerPayload {
                chunks: vec![TraceChunk {
                    spans: vec![s],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let err = decode(&encode(&payload)).unwrap_err();
        assert!(
            err.to_string().contains("zero trace_id or span_id"),
            "{err}"
        );
    }
}
