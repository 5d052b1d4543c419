//! The trace pipeline inside the running extension: built from the configuration, served
//! on the loopback ports, drained into intake payloads at every flush.

use std::sync::Arc;

use lambdascope_wire::agent_payload;
use tokio::sync::Notify;

use super::agent::TraceAgent;
use super::processor::{FunctionFacts, TraceProcessor};
use super::server::{
    bind_loopback, serve_lifecycle_api, serve_trace_api, LIFECYCLE_API_PORT, TRACE_API_PORT,
};
use super::settings::TraceSettings;
use crate::config::{Config, TRACES_PATH};
use crate::intake::{compress, Payload, Signal};

const STATS_PATH: &str = "/api/v0.2/stats";

/// The trace agent for this function, with settings read from the environment.
pub fn agent_from_env(config: &Config) -> TraceAgent {
    let (settings, warnings) = TraceSettings::from_lookup(|k| std::env::var(k).ok());
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    TraceAgent::new(TraceProcessor::new(
        settings.clone(),
        function_facts(config, &settings),
    ))
}

/// The function facts spans are stamped with.
pub fn function_facts(config: &Config, settings: &TraceSettings) -> FunctionFacts {
    let name = config.function.name.clone();
    let runtime = std::env::var("AWS_EXECUTION_ENV")
        .ok()
        .and_then(|e| e.strip_prefix("AWS_Lambda_").map(str::to_string));
    FunctionFacts {
        service: settings.service.clone().unwrap_or_else(|| name.clone()),
        name,
        region: config.function.region.clone(),
        memory_mb: config.function.memory_mb,
        runtime,
        ..Default::default()
    }
}

fn port_from_env(vars: &[&str], default: u16) -> u16 {
    vars.iter()
        .find_map(|k| std::env::var(k).ok()?.trim().parse().ok())
        .unwrap_or(default)
}

/// Binds and serves the trace API (`DD_APM_RECEIVER_PORT` / `DD_TRACE_AGENT_PORT`, default
/// 8126) and the lifecycle API (`LAMBDASCOPE_LIFECYCLE_PORT`, default 8124) on 127.0.0.1.
/// A port that cannot be bound turns that API off with a warning; nothing else stops.
pub async fn start_servers(agent: Arc<TraceAgent>, flush_requests: Arc<Notify>) {
    let trace_port = port_from_env(
        &["DD_APM_RECEIVER_PORT", "DD_TRACE_AGENT_PORT"],
        TRACE_API_PORT,
    );
    match bind_loopback(trace_port).await {
        Ok(listener) => {
            tokio::spawn(serve_trace_api(listener, agent.clone()));
        }
        Err(err) => {
            tracing::warn!(%err, port = trace_port, "trace API is off: cannot bind 127.0.0.1; tracer spans will not be collected")
        }
    }
    let lifecycle_port = port_from_env(&["LAMBDASCOPE_LIFECYCLE_PORT"], LIFECYCLE_API_PORT);
    match bind_loopback(lifecycle_port).await {
        Ok(listener) => {
            tokio::spawn(serve_lifecycle_api(listener, agent, flush_requests));
        }
        Err(err) => {
            tracing::warn!(%err, port = lifecycle_port, "lifecycle API is off: cannot bind 127.0.0.1; invocation spans come from telemetry only")
        }
    }
}

/// Everything the trace agent holds, as compressed intake payloads: one AgentPayload per
/// traces endpoint, and the tracers' stats forwarded to `/api/v0.2/stats`.
pub fn payloads(agent: &TraceAgent, config: &Config, final_flush: bool) -> Vec<Payload> {
    let mut out = Vec::new();
    if let Some(payload) = agent.take_payload(final_flush) {
        let (body, _) = compress(&agent_payload::encode(&payload), config.compression_level);
        for endpoint in &config.traces_endpoints {
            out.push(Payload {
                signal: Signal::Traces,
                url: endpoint.url.clone(),
                api_key: endpoint.api_key.clone(),
                body: body.clone(),
                failed_flushes: 0,
            });
        }
    }
    for stats in agent.take_stats() {
        let (body, _) = compress(&stats, config.compression_level);
        for endpoint in &config.traces_endpoints {
            out.push(Payload {
                signal: Signal::TraceStats,
                url: endpoint.url.replace(TRACES_PATH, STATS_PATH),
                api_key: endpoint.api_key.clone(),
                body: body.clone(),
                failed_flushes: 0,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::processor::TracerMeta;
    use lambdascope_wire::tracer_payload::{self, TraceApiVersion};

    #[test]
    fn traces_and_stats_fan_out_to_every_trace_endpoint() {
        let (config, _) = Config::from_lookup(|k| match k {
            "DD_APM_DD_URL" => Some("http://a:1".into()),
            "DD_APM_ADDITIONAL_ENDPOINTS" => Some(r#"{"http://b:2":["k2"]}"#.into()),
            "AWS_LAMBDA_FUNCTION_NAME" => Some("fn".into()),
            _ => None,
        });
        let agent = TraceAgent::new(TraceProcessor::new(
            TraceSettings::default(),
            function_facts(&config, &TraceSettings::default()),
        ));
        assert!(payloads(&agent, &config, false).is_empty());
        let span = lambdascope_wire::agent_payload::Span {
            trace_id: 1,
            span_id: 2,
            name: "work".into(),
            start: 1_700_000_000_000_000_000,
            ..Default::default()
        };
        let body = tracer_payload::encode_v04(&[vec![span]]);
        agent
            .receive_traces(TraceApiVersion::V04, None, &body, &TracerMeta::default())
            .unwrap();
        agent.receive_stats(bytes::Bytes::from_static(b"\x80"));
        let out = payloads(&agent, &config, false);
        let urls: Vec<(Signal, &str)> = out.iter().map(|p| (p.signal, p.url.as_str())).collect();
        assert_eq!(
            urls,
            [
                (Signal::Traces, "http://a:1/api/v0.2/traces"),
                (Signal::Traces, "http://b:2/api/v0.2/traces"),
                (Signal::TraceStats, "http://a:1/api/v0.2/stats"),
                (Signal::TraceStats, "http://b:2/api/v0.2/stats"),
            ]
        );
        assert_eq!(out[1].api_key.as_deref(), Some("k2"));
        let raw = zstd::decode_all(&out[0].body[..]).unwrap();
        let decoded = agent_payload::decode(&raw).unwrap();
        assert_eq!(decoded.tracer_payloads[0].chunks[0].spans[0].service, "fn");
    }
}
