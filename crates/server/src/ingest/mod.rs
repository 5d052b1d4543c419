//! Turns decoded intake payloads into store rows, deriving per-invocation facts.
//!
//! Invocations come from two places (see `CONTRACT-intake.md`): the platform REPORT
//! line shipped as a log entry, and the `aws.lambda` span. Each yields an
//! [`InvocationFacts`] keyed by request id; the store merges them.

pub mod report;

use lambdascope_wire::agent_payload::{AgentPayload, Span};
use lambdascope_wire::intake_logs::LogEntry;
use lambdascope_wire::series::SeriesPayload;
use lambdascope_wire::sketch::AgentSketch;
use lambdascope_wire::sketch_payload::SketchPayload;
use lambdascope_wire::stats::StatsPayload;
use lambdascope_wire::IntakeDecodeError;

use crate::store::{
    InvocationFacts, LogRow, MetricSeriesRow, SketchRow, SpanRow, StatsRow, WriteBatch,
};

pub fn series(payload: SeriesPayload) -> WriteBatch {
    let mut batch = WriteBatch::default();
    for s in payload.series {
        if s.points.is_empty() {
            continue;
        }
        batch.series.push(MetricSeriesRow {
            host: s.host().map(str::to_owned),
            metric_type: s.metric_type.as_str(),
            points: s
                .points
                .iter()
                .map(|p| (p.timestamp.saturating_mul(1000), p.value))
                .collect(),
            name: s.metric,
            tags: s.tags,
        });
    }
    batch
}

pub fn sketches(payload: SketchPayload) -> Result<WriteBatch, IntakeDecodeError> {
    let mut batch = WriteBatch::default();
    for s in payload.sketches {
        let host = (!s.host.is_empty()).then(|| s.host.clone());
        for d in &s.dogsketches {
            batch.sketches.push(SketchRow {
                name: s.metric.clone(),
                ts_ms: d.ts.saturating_mul(1000),
                tags: s.tags.clone(),
                host: host.clone(),
                sketch: AgentSketch::from_dogsketch(d)?,
            });
        }
    }
    Ok(batch)
}

pub fn traces(payload: AgentPayload) -> WriteBatch {
    let mut batch = WriteBatch::default();
    for tracer in payload.tracer_payloads {
        for chunk in tracer.chunks {
            for span in chunk.spans {
                if let Some(facts) = invocation_from_span(&span) {
                    batch.invocations.push(facts);
                }
                batch.spans.push(SpanRow {
                    trace_id: span.trace_id,
                    span_id: span.span_id,
                    parent_id: span.parent_id,
                    name: span.name,
                    service: span.service,
                    resource: span.resource,
                    span_type: span.r#type,
                    start_ns: span.start,
                    duration_ns: span.duration,
                    error: span.error != 0,
                    meta: span.meta,
                    metrics: span.metrics,
                });
            }
        }
    }
    batch
}

fn invocation_from_span(span: &Span) -> Option<InvocationFacts> {
    if span.name != "aws.lambda" {
        return None;
    }
    let meta = |k: &str| {
        span.meta
            .get(k)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let request_id = meta("request_id")?;
    let function = meta("functionname")
        .or_else(|| meta("function_arn").and_then(report::function_from_arn))
        .or((!span.resource.is_empty()).then_some(span.resource.as_str()));
    let error_type = meta("error.type").or(meta("error.kind"));
    let lower = error_type.map(str::to_ascii_lowercase).unwrap_or_default();
    Some(InvocationFacts {
        request_id: request_id.to_owned(),
        function: function.map(str::to_owned),
        start_ms: Some(span.start.div_euclid(1_000_000)),
        start_from_span: true,
        cold_start: meta("cold_start").map(|v| v == "true"),
        span_duration_ms: Some(span.duration as f64 / 1e6),
        error: Some(span.error != 0),
        timeout: Some(lower.contains("timeout")),
        oom: Some(lower.contains("outofmemory") || lower == "memoryerror"),
        error_type: error_type.map(str::to_owned),
        trace_id: Some(span.trace_id),
        trigger: meta("function_trigger.event_source").map(str::to_owned),
        architecture: meta("architecture").map(str::to_owned),
        ..InvocationFacts::default()
    })
}

pub fn stats(payload: StatsPayload) -> WriteBatch {
    let mut batch = WriteBatch::default();
    for client in payload.stats {
        let env = if client.env.is_empty() {
            payload.agent_env.clone()
        } else {
            client.env.clone()
        };
        for bucket in client.stats {
            for g in bucket.stats {
                batch.stats.push(StatsRow {
                    bucket_start_ns: bucket.start as i64,
                    bucket_duration_ns: bucket.duration as i64,
                    env: env.clone(),
                    service: g.service,
                    name: g.name,
                    resource: g.resource,
                    span_type: g.r#type,
                    http_status_code: g.http_status_code,
                    hits: g.hits,
                    errors: g.errors,
                    top_level_hits: g.top_level_hits,
                    duration_ns: g.duration,
                });
            }
        }
    }
    batch
}

/// Finds `dd.trace_id=123` / `"dd.trace_id": "123"` in a message the tracer decorated.
fn trace_id_in_message(message: &str) -> Option<u64> {
    let at = message.find("dd.trace_id")?;
    let rest = message[at + "dd.trace_id".len()..].trim_start_matches(['=', '"', ':', ' ']);
    let digits: &str = &rest[..rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len())];
    digits.parse().ok().filter(|&t| t != 0)
}

pub fn logs(entries: Vec<LogEntry>, now_ms: i64) -> WriteBatch {
    let mut batch = WriteBatch::default();
    for entry in entries {
        let arn = entry.lambda.as_ref().and_then(|l| l.arn.as_deref());
        let function = entry
            .tag("functionname")
            .or_else(|| arn.and_then(report::function_from_arn))
            .or_else(|| {
                entry
                    .hostname
                    .as_deref()
                    .and_then(report::function_from_arn)
            })
            .map(str::to_owned);
        let mut request_id = entry.lambda.as_ref().and_then(|l| l.request_id.clone());
        let trace_id = entry
            .dd
            .as_ref()
            .and_then(|d| d.trace_id.as_deref())
            .and_then(|t| t.trim().parse::<u64>().ok())
            .filter(|&t| t != 0)
            .or_else(|| trace_id_in_message(&entry.message));
        let ts_ms = entry.timestamp.unwrap_or(now_ms);
        if let Some(r) = report::parse(&entry.message) {
            request_id.get_or_insert_with(|| r.request_id.clone());
            let start_ms = ts_ms - r.duration_ms.unwrap_or(0.0).round() as i64;
            batch.invocations.push(InvocationFacts {
                request_id: r.request_id.clone(),
                function: function.clone(),
                start_ms: Some(start_ms),
                start_from_span: false,
                cold_start: Some(r.init_ms.is_some()),
                duration_ms: r.duration_ms,
                billed_ms: r.billed_ms,
                memory_mb: r.memory_mb,
                max_memory_mb: r.max_memory_mb,
                init_ms: r.init_ms,
                error: Some(r.is_error()),
                timeout: Some(r.is_timeout()),
                oom: Some(r.is_oom()),
                error_type: r.error_type.clone(),
                trace_id,
                architecture: entry.tag("architecture").map(str::to_owned),
                ..InvocationFacts::default()
            });
        }
        let tags: Vec<String> = entry.tags().map(str::to_owned).collect();
        batch.logs.push(LogRow {
            ts_ms,
            status: entry
                .status
                .as_deref()
                .map(str::to_ascii_lowercase)
                .unwrap_or_else(|| "info".into()),
            message: entry.message,
            service: entry.service,
            hostname: entry.hostname,
            source: entry.ddsource,
            tags,
            function,
            request_id,
            trace_id,
        });
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_in_messages() {
        assert_eq!(
            trace_id_in_message("[dd.trace_id=123 dd.span_id=4] hi"),
            Some(123)
        );
        assert_eq!(trace_id_in_message(r#"{"dd.trace_id": "987"}"#), Some(987));
        assert_eq!(trace_id_in_message("no ids"), None);
    }
}
