//! Realistic data for a few functions, sent through the server's real intake endpoints with
//! the `wire` encoders: platform and user log lines (with REPORT lines), `aws.lambda` span
//! trees (inferred trigger span, cold-start load span, user spans), enhanced and custom metrics.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use lambdascope_wire::agent_payload::{self, AgentPayload, Span, TraceChunk, TracerPayload};
use lambdascope_wire::intake_logs::{self, LambdaContext, LogEntry, TraceContext};
use lambdascope_wire::series::{self, MetricType, Point, Series, SeriesPayload};

use super::http;

/// The error line the log search must find.
pub const KNOWN_ERROR_LINE: &str = "payment declined for order 4242";

pub struct FunctionSpec {
    pub name: &'static str,
    pub runtime: &'static str,
    pub memory_mb: i64,
    pub arch: &'static str,
    pub trigger: &'static str,
    /// Minutes before now of the first invocation; one invocation per `every_min` after it.
    pub first_min_ago: i64,
    pub every_min: i64,
    pub invocations: usize,
    pub cold: &'static [usize],
    pub errors: &'static [usize],
    pub timeouts: &'static [usize],
    pub base_ms: f64,
    pub max_memory_mb: i64,
}

pub const FUNCTIONS: &[FunctionSpec] = &[
    FunctionSpec {
        name: "checkout-api",
        runtime: "python3.12",
        memory_mb: 512,
        arch: "x86_64",
        trigger: "api-gateway",
        first_min_ago: 40,
        every_min: 3,
        invocations: 12,
        cold: &[0],
        errors: &[7, 9],
        timeouts: &[],
        base_ms: 48.0,
        max_memory_mb: 141,
    },
    FunctionSpec {
        name: "image-resizer",
        runtime: "python3.11",
        memory_mb: 1024,
        arch: "arm64",
        trigger: "s3",
        first_min_ago: 50,
        every_min: 8,
        invocations: 6,
        cold: &[0, 3],
        errors: &[],
        timeouts: &[],
        base_ms: 820.0,
        max_memory_mb: 968,
    },
    FunctionSpec {
        name: "billing-cron",
        runtime: "python3.12",
        memory_mb: 256,
        arch: "x86_64",
        trigger: "eventbridge",
        first_min_ago: 45,
        every_min: 10,
        invocations: 4,
        cold: &[0],
        errors: &[],
        timeouts: &[2],
        base_ms: 310.0,
        max_memory_mb: 88,
    },
    // Only inside ranges of 4 hours and more.
    FunctionSpec {
        name: "nightly-report",
        runtime: "python3.12",
        memory_mb: 2048,
        arch: "arm64",
        trigger: "eventbridge",
        first_min_ago: 180,
        every_min: 5,
        invocations: 3,
        cold: &[0],
        errors: &[],
        timeouts: &[],
        base_ms: 2400.0,
        max_memory_mb: 1210,
    },
];

/// One seeded invocation, for tests that open it.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub function: &'static str,
    pub request_id: String,
    pub trace_id: u64,
    pub error: bool,
}

fn post(addr: SocketAddr, key: &str, path: &str, content_type: &str, body: &[u8]) {
    let r = http::request(
        addr,
        "POST",
        path,
        &[("DD-API-KEY", key), ("Content-Type", content_type)],
        body,
    )
    .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    assert!(
        (200..300).contains(&r.status),
        "POST {path} answered {}: {}",
        r.status,
        r.text()
    );
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[allow(clippy::too_many_arguments)] // one span: its ids, names and timing
fn span(
    trace_id: u64,
    span_id: u64,
    parent_id: u64,
    name: &str,
    service: &str,
    resource: &str,
    start_ms: f64,
    dur_ms: f64,
) -> Span {
    Span {
        service: service.into(),
        name: name.into(),
        resource: resource.into(),
        trace_id,
        span_id,
        parent_id,
        start: (start_ms * 1e6) as i64,
        duration: (dur_ms * 1e6) as i64,
        r#type: "custom".into(),
        ..Span::default()
    }
}

/// Sends one log line of `function`, stamped now.
pub fn post_log(addr: SocketAddr, key: &str, function: &str, message: &str) {
    let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{function}");
    let entry = LogEntry {
        message: message.into(),
        timestamp: Some(now_ms()),
        status: Some("info".into()),
        hostname: Some(arn.clone()),
        service: Some(function.into()),
        ddsource: Some("lambda".into()),
        lambda: Some(LambdaContext {
            arn: Some(arn),
            request_id: None,
        }),
        ..LogEntry::default()
    };
    post(
        addr,
        key,
        "/api/v2/logs",
        "application/json",
        &intake_logs::encode(&[entry]),
    );
}

/// Sends everything; returns the invocations it made.
pub fn seed(addr: SocketAddr, key: &str) -> Vec<Seeded> {
    let now = now_ms();
    let mut seeded = Vec::new();
    let mut logs = Vec::new();
    let mut spans = Vec::new();
    let mut metric_series = Vec::new();
    for (f_index, f) in FUNCTIONS.iter().enumerate() {
        let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{}", f.name);
        let tags = vec![
            format!("functionname:{}", f.name),
            format!("runtime:{}", f.runtime),
            format!("memorysize:{}", f.memory_mb),
            format!("architecture:{}", f.arch),
            "region:us-east-1".to_owned(),
            "account_id:123456789012".to_owned(),
            "env:prod".to_owned(),
            format!("service:{}", f.name),
        ];
        let ddtags = tags.join(",");
        for i in 0..f.invocations {
            let n = (f_index * 100 + i) as u64;
            let request_id = format!(
                "{:08x}-{:04x}-4{:03x}-8000-{:012x}",
                0x5eed_0000 + n,
                f_index,
                i,
                n
            );
            let trace_id = 7_000_000_000_000_000_000 + n * 7919;
            let cold = f.cold.contains(&i);
            let error = f.errors.contains(&i);
            let timeout = f.timeouts.contains(&i);
            let start = (now - (f.first_min_ago - f.every_min * i as i64) * 60_000) as f64 + 1234.0;
            let init_ms = if cold {
                Some(380.0 + 37.0 * i as f64)
            } else {
                None
            };
            let duration = if timeout {
                3000.0
            } else {
                f.base_ms * (1.0 + (i % 5) as f64 * 0.18)
            };
            let root_id = n * 10 + 1;
            let lambda_id = n * 10 + 2;
            let mut tree = Vec::new();
            // The inferred span of the trigger wraps the function.
            let mut inferred = span(
                trace_id,
                root_id,
                0,
                &format!("aws.{}", f.trigger.replace('-', "")),
                &format!("{}-trigger", f.name),
                &format!("{} event", f.trigger),
                start - 6.0,
                duration + 11.0,
            );
            inferred
                .meta
                .insert("_inferred_span.tag_source".into(), "self".into());
            inferred
                .meta
                .insert("_inferred_span.synchronicity".into(), "sync".into());
            inferred.r#type = "web".into();
            tree.push(inferred);
            let mut lambda = span(
                trace_id,
                lambda_id,
                root_id,
                "aws.lambda",
                f.name,
                f.name,
                start,
                duration,
            );
            lambda.r#type = "serverless".into();
            let meta: BTreeMap<String, String> = [
                ("request_id", request_id.clone()),
                ("cold_start", cold.to_string()),
                ("function_arn", arn.clone()),
                ("functionname", f.name.to_owned()),
                ("function_trigger.event_source", f.trigger.to_owned()),
                ("architecture", f.arch.to_owned()),
                ("runtime", f.runtime.to_owned()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            lambda.meta = meta;
            if error {
                lambda.error = 1;
                lambda
                    .meta
                    .insert("error.type".into(), "PaymentDeclined".into());
                lambda
                    .meta
                    .insert("error.message".into(), KNOWN_ERROR_LINE.into());
            }
            if timeout {
                lambda.error = 1;
                lambda
                    .meta
                    .insert("error.type".into(), "Task timed out".into());
            }
            tree.push(lambda);
            let mut t = start + 1.0;
            if let Some(init) = init_ms {
                let load = span(
                    trace_id,
                    n * 10 + 3,
                    lambda_id,
                    "aws.lambda.load",
                    f.name,
                    "handler",
                    t,
                    init.min(duration * 0.3),
                );
                t += load.duration as f64 / 1e6;
                tree.push(load);
            }
            let db = span(
                trace_id,
                n * 10 + 4,
                lambda_id,
                "postgres.query",
                f.name,
                "SELECT * FROM orders WHERE id = $1",
                t + 2.0,
                duration * 0.22,
            );
            tree.push(db);
            let mut call = span(
                trace_id,
                n * 10 + 5,
                lambda_id,
                "requests.request",
                f.name,
                "POST payments.example.com/charge",
                t + 4.0 + duration * 0.25,
                duration * 0.5,
            );
            call.meta.insert(
                "http.url".into(),
                "https://payments.example.com/charge".into(),
            );
            call.meta.insert(
                "http.status_code".into(),
                if error { "402" } else { "200" }.into(),
            );
            if error {
                call.error = 1;
                call.meta
                    .insert("error.message".into(), "402 Payment Required".into());
            }
            tree.push(call);
            spans.extend(tree);

            let line = |ts: f64, status: &str, message: String, with_trace: bool| LogEntry {
                message,
                timestamp: Some(ts as i64),
                status: Some(status.into()),
                hostname: Some(arn.clone()),
                service: Some(f.name.into()),
                ddsource: Some("lambda".into()),
                ddtags: Some(ddtags.clone()),
                lambda: Some(LambdaContext {
                    arn: Some(arn.clone()),
                    request_id: Some(request_id.clone()),
                }),
                dd: with_trace.then(|| TraceContext {
                    trace_id: Some(trace_id.to_string()),
                    span_id: Some(lambda_id.to_string()),
                }),
            };
            logs.push(line(
                start,
                "info",
                format!("START RequestId: {request_id} Version: $LATEST"),
                false,
            ));
            logs.push(line(
                start + 3.0,
                "info",
                format!("handling order {} from {}", 4200 + i, f.trigger),
                true,
            ));
            if error {
                let msg = if i == f.errors[0] {
                    KNOWN_ERROR_LINE.to_owned()
                } else {
                    "card expired for order 4301".to_owned()
                };
                logs.push(line(start + duration * 0.8, "error", msg, true));
            }
            if timeout {
                logs.push(line(
                    start + duration,
                    "error",
                    format!("Task timed out after {:.2} seconds", duration / 1000.0),
                    false,
                ));
            }
            logs.push(line(
                start + duration + 1.0,
                "info",
                format!("END RequestId: {request_id}"),
                false,
            ));
            let mut report = format!(
                "REPORT RequestId: {request_id}\tDuration: {duration:.2} ms\tBilled Duration: {:.0} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
                duration.ceil(),
                f.memory_mb,
                f.max_memory_mb - (i as i64 % 3) * 7
            );
            if let Some(init) = init_ms {
                report.push_str(&format!("\tInit Duration: {init:.2} ms"));
            }
            if timeout {
                report.push_str("\tStatus: timeout");
            }
            logs.push(line(start + duration + 2.0, "info", report, false));

            let ts = (start / 1000.0) as i64;
            let mut with_cold = tags.clone();
            with_cold.push(format!("cold_start:{cold}"));
            metric_series.push(Series {
                metric: "aws.lambda.enhanced.invocations".into(),
                metric_type: MetricType::Count,
                points: vec![Point {
                    timestamp: ts,
                    value: 1.0,
                }],
                tags: with_cold.clone(),
                ..Series::default()
            });
            if let Some(init) = init_ms {
                metric_series.push(Series {
                    metric: "aws.lambda.enhanced.init_duration".into(),
                    metric_type: MetricType::Gauge,
                    points: vec![Point {
                        timestamp: ts,
                        value: init / 1000.0,
                    }],
                    tags: tags.clone(),
                    ..Series::default()
                });
            }
            metric_series.push(Series {
                metric: "aws.lambda.enhanced.post_runtime_duration".into(),
                metric_type: MetricType::Gauge,
                points: vec![Point {
                    timestamp: ts,
                    value: 3.0 + (i % 4) as f64 * 2.5,
                }],
                tags: tags.clone(),
                ..Series::default()
            });
            if f.name == "checkout-api" {
                metric_series.push(Series {
                    metric: "checkout.orders".into(),
                    metric_type: MetricType::Count,
                    points: vec![Point {
                        timestamp: ts,
                        value: (i % 4 + 1) as f64,
                    }],
                    tags: vec![
                        "functionname:checkout-api".into(),
                        format!("payment:{}", if i % 2 == 0 { "card" } else { "wallet" }),
                    ],
                    ..Series::default()
                });
            }
            seeded.push(Seeded {
                function: f.name,
                request_id,
                trace_id,
                error: error || timeout,
            });
        }
    }
    let payload = AgentPayload {
        host_name: "lambdascope-ui-test".into(),
        env: "prod".into(),
        tracer_payloads: vec![TracerPayload {
            language_name: "python".into(),
            chunks: vec![TraceChunk {
                priority: 1,
                spans,
                ..TraceChunk::default()
            }],
            ..TracerPayload::default()
        }],
        ..AgentPayload::default()
    };
    post(
        addr,
        key,
        "/api/v0.2/traces",
        "application/x-protobuf",
        &agent_payload::encode(&payload),
    );
    post(
        addr,
        key,
        "/api/v2/logs",
        "application/json",
        &intake_logs::encode(&logs),
    );
    post(
        addr,
        key,
        "/api/v2/series",
        "application/json",
        &series::encode(&SeriesPayload {
            series: metric_series,
        }),
    );
    seeded
}
