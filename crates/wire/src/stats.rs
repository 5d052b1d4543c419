//! `StatsPayload`: the msgpack body of `POST /api/v0.2/stats` (APM trace stats).
//!
//! Encoded as msgpack maps with the Agent's Go field names (PascalCase), as
//! libdatadog's `to_vec_named` produces them:
//!
//! ```text
//! StatsPayload { AgentHostname, AgentEnv, Stats: [ClientStatsPayload], AgentVersion,
//!                ClientComputed, SplitPayload }
//! ClientStatsPayload { Hostname, Env, Version, Stats: [ClientStatsBucket], Lang, TracerVersion,
//!                      RuntimeID, Sequence, AgentAggregation, Service, ContainerID, Tags,
//!                      GitCommitSha, ImageTag }
//! ClientStatsBucket { Start (ns), Duration (ns), Stats: [ClientGroupedStats], AgentTimeShift }
//! ClientGroupedStats { Service, Name, Resource, HTTPStatusCode, Type, DBType, Hits, Errors,
//!                      Duration (ns), OkSummary (bin), ErrorSummary (bin), Synthetics,
//!                      TopLevelHits, SpanKind, PeerTags, IsTraceRoot }
//! ```
//!
//! Every field is optional on decode, and lower-case/snake-case spellings are accepted
//! too, because tracers differ. `OkSummary`/`ErrorSummary` are opaque sketch bytes kept
//! as they came.

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::intake_error::IntakeDecodeError;

const FORMAT: &str = "StatsPayload (msgpack)";

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StatsPayload {
    #[serde(alias = "agentHostname", alias = "agent_hostname")]
    pub agent_hostname: String,
    #[serde(alias = "agentEnv", alias = "agent_env")]
    pub agent_env: String,
    #[serde(alias = "stats")]
    pub stats: Vec<ClientStatsPayload>,
    #[serde(alias = "agentVersion", alias = "agent_version")]
    pub agent_version: String,
    #[serde(alias = "clientComputed", alias = "client_computed")]
    pub client_computed: bool,
    #[serde(alias = "splitPayload", alias = "split_payload")]
    pub split_payload: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ClientStatsPayload {
    #[serde(alias = "hostname")]
    pub hostname: String,
    #[serde(alias = "env")]
    pub env: String,
    #[serde(alias = "version")]
    pub version: String,
    #[serde(alias = "stats")]
    pub stats: Vec<ClientStatsBucket>,
    #[serde(alias = "lang")]
    pub lang: String,
    #[serde(alias = "tracerVersion", alias = "tracer_version")]
    pub tracer_version: String,
    #[serde(rename = "RuntimeID", alias = "runtimeID", alias = "runtime_id")]
    pub runtime_id: String,
    #[serde(alias = "sequence")]
    pub sequence: u64,
    #[serde(alias = "agentAggregation", alias = "agent_aggregation")]
    pub agent_aggregation: String,
    #[serde(alias = "service")]
    pub service: String,
    #[serde(rename = "ContainerID", alias = "containerID", alias = "container_id")]
    pub container_id: String,
    #[serde(alias = "tags")]
    pub tags: Vec<String>,
    #[serde(alias = "git_commit_sha")]
    pub git_commit_sha: String,
    #[serde(alias = "image_tag")]
    pub image_tag: String,
}

/// A time bucket of aggregated span stats.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ClientStatsBucket {
    /// Bucket start, ns since the epoch.
    #[serde(alias = "start")]
    pub start: u64,
    /// Bucket length, ns.
    #[serde(alias = "duration")]
    pub duration: u64,
    #[serde(alias = "stats")]
    pub stats: Vec<ClientGroupedStats>,
    #[serde(alias = "agentTimeShift", alias = "agent_time_shift")]
    pub agent_time_shift: i64,
}

/// Stats for spans grouped by service, name, resource, status code and type.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ClientGroupedStats {
    #[serde(alias = "service")]
    pub service: String,
    #[serde(alias = "name")]
    pub name: String,
    #[serde(alias = "resource")]
    pub resource: String,
    #[serde(
        rename = "HTTPStatusCode",
        alias = "HTTP_status_code",
        alias = "http_status_code"
    )]
    pub http_status_code: u32,
    #[serde(alias = "type")]
    pub r#type: String,
    #[serde(rename = "DBType", alias = "DB_type", alias = "db_type")]
    pub db_type: String,
    #[serde(alias = "hits")]
    pub hits: u64,
    #[serde(alias = "errors")]
    pub errors: u64,
    /// Total duration of the grouped spans, ns.
    #[serde(alias = "duration")]
    pub duration: u64,
    #[serde(alias = "okSummary", alias = "ok_summary")]
    pub ok_summary: ByteBuf,
    #[serde(alias = "errorSummary", alias = "error_summary")]
    pub error_summary: ByteBuf,
    #[serde(alias = "synthetics")]
    pub synthetics: bool,
    #[serde(alias = "topLevelHits", alias = "top_level_hits")]
    pub top_level_hits: u64,
    #[serde(alias = "span_kind")]
    pub span_kind: String,
    #[serde(alias = "peer_tags")]
    pub peer_tags: Vec<String>,
    #[serde(alias = "is_trace_root")]
    pub is_trace_root: Option<bool>,
}

/// Encodes a stats payload as named msgpack (uncompressed).
pub fn encode(payload: &StatsPayload) -> Vec<u8> {
    rmp_serde::to_vec_named(payload).expect("stats payload always serializes")
}

/// Decodes a stats payload (already decompressed).
pub fn decode(body: &[u8]) -> Result<StatsPayload, IntakeDecodeError> {
    let payload: StatsPayload =
        rmp_serde::from_slice(body).map_err(|source| IntakeDecodeError::Msgpack {
            format: FORMAT,
            source,
        })?;
    for client in &payload.stats {
        for bucket in &client.stats {
            if let Some(g) = bucket.stats.iter().find(|g| g.errors > g.hits) {
                return Err(IntakeDecodeError::invalid(
                    FORMAT,
                    format!(
                        "group {}/{} reports {} errors out of {} hits",
                        g.service, g.name, g.errors, g.hits
                    ),
                ));
            }
        }
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StatsPayload {
        StatsPayload {
            agent_hostname: "h".into(),
            agent_env: "prod".into(),
            stats: vec![ClientStatsPayload {
                hostname: "h".into(),
                env: "prod".into(),
                lang: "python".into(),
                stats: vec![ClientStatsBucket {
                    start: 1_700_000_000_000_000_000,
                    duration: 10_000_000_000,
                    stats: vec![ClientGroupedStats {
                        service: "svc".into(),
                        name: "aws.lambda".into(),
                        resource: "fn".into(),
                        http_status_code: 200,
                        hits: 10,
                        errors: 1,
                        duration: 123_456,
                        ok_summary: ByteBuf::from(vec![1, 2, 3]),
                        top_level_hits: 10,
                        ..Default::default()
                    }],
                    agent_time_shift: 0,
                }],
                ..Default::default()
            }],
            agent_version: "lambdascope".into(),
            client_computed: true,
            split_payload: false,
        }
    }

    #[test]
    fn round_trips_with_go_field_names() {
        let bytes = encode(&sample());
        let text = String::from_utf8_lossy(&bytes);
        for name in [
            "AgentHostname",
            "HTTPStatusCode",
            "TopLevelHits",
            "OkSummary",
            "RuntimeID",
        ] {
            assert!(text.contains(name), "missing {name}");
        }
        assert_eq!(decode(&bytes).unwrap(), sample());
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode(&[0xc1, 0x00]).is_err());
        assert!(decode(b"not msgpack").is_err());
    }
}
