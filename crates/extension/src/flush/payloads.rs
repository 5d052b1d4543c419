//! Collected data → compressed intake payloads, one per endpoint (multi-shipping).

use lambdascope_wire::intake_logs::{self, LambdaContext, LogEntry, TraceContext};
use lambdascope_wire::{series, sketch_payload};

use crate::config::{Config, Endpoint};
use crate::intake::{compress, Payload, Signal};
use crate::logs::LogRecord;
use crate::metrics::{FunctionTags, MetricPayloads};

/// Log entries per payload, and uncompressed bytes per payload (Datadog's limits).
pub const MAX_LOGS_PER_PAYLOAD: usize = 1000;
pub const MAX_LOG_PAYLOAD_BYTES: usize = 5 * 1024 * 1024;

fn fan_out(signal: Signal, raw: &[u8], endpoints: &[Endpoint], level: i32, out: &mut Vec<Payload>) {
    let (body, _) = compress(raw, level);
    for endpoint in endpoints {
        out.push(Payload {
            signal,
            url: endpoint.url.clone(),
            api_key: endpoint.api_key.clone(),
            body: body.clone(),
            failed_flushes: 0,
        });
    }
}

/// The intake log entry (flat form) for one record.
pub fn log_entry(record: LogRecord, tags: &FunctionTags, arn: &str, ddtags: &str) -> LogEntry {
    let ddtags = match &record.tags {
        Some(extra) if !extra.is_empty() => format!("{ddtags},{extra}"),
        _ => ddtags.to_string(),
    };
    LogEntry {
        message: record.message,
        timestamp: Some(record.timestamp_ms),
        status: Some(record.status.to_string()),
        hostname: Some(arn.to_string()),
        service: Some(tags.service().to_string()),
        ddsource: Some("lambda".to_string()),
        ddtags: Some(ddtags),
        lambda: Some(LambdaContext {
            arn: Some(arn.to_string()),
            request_id: record.request_id,
        }),
        dd: record.trace_id.map(|trace_id| TraceContext {
            trace_id: Some(trace_id),
            span_id: record.span_id,
        }),
    }
}

/// Every payload of one flush.
pub fn build(
    config: &Config,
    tags: &FunctionTags,
    metrics: MetricPayloads,
    logs: Vec<LogRecord>,
) -> Vec<Payload> {
    let level = config.compression_level;
    let mut out = Vec::new();
    for p in &metrics.series {
        fan_out(
            Signal::Series,
            &series::encode(p),
            &config.series_endpoints,
            level,
            &mut out,
        );
    }
    for p in &metrics.sketches {
        fan_out(
            Signal::Sketches,
            &sketch_payload::encode(p),
            &config.sketches_endpoints,
            level,
            &mut out,
        );
    }
    if !logs.is_empty() {
        let arn = tags.arn();
        let ddtags = tags.all().join(",");
        let mut batch: Vec<LogEntry> = Vec::new();
        let mut bytes = 0usize;
        for record in logs {
            let size = record.message.len() + 300;
            if !batch.is_empty()
                && (batch.len() >= MAX_LOGS_PER_PAYLOAD || bytes + size > MAX_LOG_PAYLOAD_BYTES)
            {
                fan_out(
                    Signal::Logs,
                    &intake_logs::encode(&batch),
                    &config.logs_endpoints,
                    level,
                    &mut out,
                );
                batch.clear();
                bytes = 0;
            }
            bytes += size;
            batch.push(log_entry(record, tags, &arn, &ddtags));
        }
        fan_out(
            Signal::Logs,
            &intake_logs::encode(&batch),
            &config.logs_endpoints,
            level,
            &mut out,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Aggregator;

    #[test]
    fn payloads_fan_out_and_decode_with_the_shared_formats() {
        let (config, _) = Config::from_lookup(|k| match k {
            "DD_DD_URL" => Some("http://a:1".into()),
            "DD_LOGS_CONFIG_LOGS_DD_URL" => Some("http://a:1".into()),
            "DD_ADDITIONAL_ENDPOINTS" => Some(r#"{"http://b:2":["k2"]}"#.into()),
            "AWS_LAMBDA_FUNCTION_NAME" => Some("fn".into()),
            _ => None,
        });
        let tags = FunctionTags::new(&config);
        let mut agg = Aggregator::new(None);
        agg.ingest_datagram(b"c:1|c\nd:2|d", 1_700_000_000);
        let logs: Vec<LogRecord> = (0..1500)
            .map(|i| LogRecord {
                message: format!("line {i}"),
                timestamp_ms: 1_700_000_000_000,
                status: "info",
                request_id: Some("r".into()),
                trace_id: (i == 0).then(|| "42".into()),
                span_id: None,
                tags: None,
            })
            .collect();
        let payloads = build(&config, &tags, agg.take_payloads(&tags), logs);
        let count = |s: Signal| payloads.iter().filter(|p| p.signal == s).count();
        assert_eq!(count(Signal::Series), 2, "main + additional endpoint");
        assert_eq!(count(Signal::Sketches), 2);
        assert_eq!(count(Signal::Logs), 2, "1500 lines make two payloads");
        assert_eq!(payloads[1].api_key.as_deref(), Some("k2"));
        let logs = payloads.iter().find(|p| p.signal == Signal::Logs).unwrap();
        let raw = zstd::decode_all(&logs.body[..]).unwrap();
        let entries = intake_logs::decode(&raw).unwrap();
        assert_eq!(entries.len(), 1000);
        assert_eq!(entries[0].ddsource.as_deref(), Some("lambda"));
        assert_eq!(
            entries[0].lambda.as_ref().unwrap().request_id.as_deref(),
            Some("r")
        );
        assert_eq!(
            entries[0].dd.as_ref().unwrap().trace_id.as_deref(),
            Some("42")
        );
        assert_eq!(entries[0].tag("functionname"), Some("fn"));
        let sketches = payloads
            .iter()
            .find(|p| p.signal == Signal::Sketches)
            .unwrap();
        let decoded =
            sketch_payload::decode(&zstd::decode_all(&sketches.body[..]).unwrap()).unwrap();
        assert_eq!(decoded.sketches[0].metric, "d");
    }
}
