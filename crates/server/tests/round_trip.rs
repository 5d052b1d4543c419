//! Every intake format, encoded by `lambdascope-wire`, accepted over HTTP and read
//! back through the query API.

mod support;

use std::collections::BTreeMap;

use lambdascope_wire::agent_payload::{self, AgentPayload, Span, TraceChunk, TracerPayload};
use lambdascope_wire::intake_logs::{self, LambdaContext, LogEntry, TraceContext};
use lambdascope_wire::series::{self, MetricType, Point, Resource, Series, SeriesPayload};
use lambdascope_wire::sketch::AgentSketch;
use lambdascope_wire::sketch_payload::{self, Sketch, SketchPayload};
use lambdascope_wire::stats::{
    self, ClientGroupedStats, ClientStatsBucket, ClientStatsPayload, StatsPayload,
};
use support::{gzip, now_ms, zstd, TestServer};

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:hello";

fn window(now: i64) -> String {
    format!("from={}&to={}", now - 3_600_000, now + 60_000)
}

#[test]
fn series_v2_and_v1_are_queryable_by_name_and_tags() {
    let server = TestServer::start();
    let now = now_ms();
    let ts = now / 1000 - 30;
    let payload = SeriesPayload {
        series: vec![
            Series {
                metric: "orders.placed".into(),
                metric_type: MetricType::Count,
                points: vec![
                    Point {
                        timestamp: ts,
                        value: 3.0,
                    },
                    Point {
                        timestamp: ts + 10,
                        value: 4.0,
                    },
                ],
                tags: vec!["functionname:hello".into(), "env:prod".into()],
                resources: vec![Resource {
                    name: "h1".into(),
                    resource_type: "host".into(),
                }],
                interval: Some(10),
                ..Series::default()
            },
            Series {
                metric: "orders.placed".into(),
                metric_type: MetricType::Count,
                points: vec![Point {
                    timestamp: ts,
                    value: 100.0,
                }],
                tags: vec!["functionname:other".into()],
                ..Series::default()
            },
        ],
    };
    let r = server.post(
        "/api/v2/series",
        Some("zstd"),
        &zstd(&series::encode(&payload)),
    );
    assert_eq!(r.status, 202, "{}", r.text());

    let v1 = format!(
        r#"{{"series":[{{"metric":"queue.depth","points":[[{ts},7.5]],"type":"gauge","host":"h2","tags":["q:jobs"]}}]}}"#
    );
    let r = server.post("/api/v1/series", Some("gzip"), &gzip(v1.as_bytes()));
    assert_eq!(r.status, 202, "{}", r.text());

    let body = server.get_json(&format!(
        "/api/metrics?name=orders.placed&tags=functionname:hello&{}",
        window(now)
    ));
    let values: Vec<f64> = body["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .collect();
    assert_eq!(values, vec![3.0, 4.0]);
    assert_eq!(body["points"][0]["type"], "count");
    assert_eq!(body["points"][0]["host"], "h1");
    assert_eq!(body["points"][0]["ts_ms"], ts * 1000);

    let all = server.get_json(&format!("/api/metrics?name=orders.placed&{}", window(now)));
    assert_eq!(all["points"].as_array().unwrap().len(), 3);

    let gauge = server.get_json(&format!(
        "/api/metrics?name=queue.depth&tags=q:jobs&{}",
        window(now)
    ));
    assert_eq!(gauge["points"][0]["value"], 7.5);
    assert_eq!(gauge["points"][0]["type"], "gauge");
}

#[test]
fn sketches_keep_their_distribution() {
    let server = TestServer::start();
    let now = now_ms();
    let mut sketch = AgentSketch::new();
    for v in 1..=1000 {
        sketch.insert(v as f64);
    }
    let payload = SketchPayload {
        sketches: vec![Sketch {
            metric: "aws.lambda.enhanced.duration".into(),
            host: "h".into(),
            tags: vec!["functionname:hello".into(), "cold_start:false".into()],
            dogsketches: vec![sketch.to_dogsketch(now / 1000 - 5)],
            ..Default::default()
        }],
        metadata: None,
    };
    let r = server.post(
        "/api/beta/sketches",
        Some("zstd"),
        &zstd(&sketch_payload::encode(&payload)),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let body = server.get_json(&format!(
        "/api/metrics?name=aws.lambda.enhanced.duration&tags=cold_start:false&{}",
        window(now)
    ));
    let s = &body["sketches"][0];
    assert_eq!(s["count"], 1000);
    assert_eq!(s["min"], 1.0);
    assert_eq!(s["max"], 1000.0);
    let p99 = s["p99"].as_f64().unwrap();
    assert!((p99 - 990.0).abs() / 990.0 < 0.02, "p99 {p99}");
    let p50 = s["p50"].as_f64().unwrap();
    assert!((p50 - 500.0).abs() / 500.0 < 0.02, "p50 {p50}");
}

fn lambda_span(trace_id: u64, start_ns: i64) -> Span {
    Span {
        service: "hello-svc".into(),
        name: "aws.lambda".into(),
        resource: "hello".into(),
        trace_id,
        span_id: 1001,
        parent_id: 0,
        start: start_ns,
        duration: 118_000_000,
        error: 1,
        meta: BTreeMap::from([
            ("request_id".into(), "req-1".into()),
            ("cold_start".into(), "true".into()),
            ("function_arn".into(), ARN.into()),
            ("functionname".into(), "hello".into()),
            ("function_trigger.event_source".into(), "api-gateway".into()),
            ("error.type".into(), "ValueError".into()),
            ("error.message".into(), "bad input".into()),
        ]),
        metrics: BTreeMap::from([("_sampling_priority_v1".into(), 1.0)]),
        r#type: "serverless".into(),
        ..Default::default()
    }
}

#[test]
fn span_and_report_merge_into_one_invocation_with_cost_and_logs() {
    let server = TestServer::start();
    let now = now_ms();
    let trace_id = 0x1234_5678_9abc_def0u64;
    let start_ns = (now - 10_000) * 1_000_000;
    let child = Span {
        service: "hello-svc".into(),
        name: "requests.request".into(),
        resource: "GET /users".into(),
        trace_id,
        span_id: 1002,
        parent_id: 1001,
        start: start_ns + 5_000_000,
        duration: 40_000_000,
        r#type: "http".into(),
        ..Default::default()
    };
    let traces = AgentPayload {
        host_name: "h".into(),
        env: "prod".into(),
        tracer_payloads: vec![TracerPayload {
            language_name: "python".into(),
            chunks: vec![TraceChunk {
                priority: 1,
                origin: "lambda".into(),
                spans: vec![lambda_span(trace_id, start_ns), child],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = server.post(
        "/api/v0.2/traces",
        Some("zstd"),
        &zstd(&agent_payload::encode(&traces)),
    );
    assert_eq!(r.status, 202, "{}", r.text());

    let report = "REPORT RequestId: req-1\tDuration: 120.00 ms\tBilled Duration: 121 ms\tMemory Size: 256 MB\tMax Memory Used: 80 MB\tInit Duration: 300.10 ms";
    let lambda = Some(LambdaContext {
        arn: Some(ARN.into()),
        request_id: Some("req-1".into()),
    });
    let logs = vec![
        LogEntry {
            message: format!("handling request [dd.trace_id={trace_id} dd.span_id=1001]"),
            timestamp: Some(now - 9_950),
            status: Some("INFO".into()),
            hostname: Some(ARN.into()),
            service: Some("hello-svc".into()),
            ddsource: Some("lambda".into()),
            ddtags: Some("functionname:hello,env:prod,architecture:x86_64".into()),
            lambda: lambda.clone(),
            dd: None,
        },
        LogEntry {
            message: "something failed".into(),
            timestamp: Some(now - 9_930),
            status: Some("error".into()),
            ddtags: Some("functionname:hello".into()),
            lambda: lambda.clone(),
            dd: Some(TraceContext {
                trace_id: Some(trace_id.to_string()),
                span_id: None,
            }),
            ..Default::default()
        },
        LogEntry {
            message: report.into(),
            timestamp: Some(now - 9_880),
            ddtags: Some("functionname:hello,architecture:x86_64".into()),
            lambda,
            ..Default::default()
        },
    ];
    let r = server.post(
        "/api/v2/logs",
        Some("zstd"),
        &zstd(&intake_logs::encode(&logs)),
    );
    assert_eq!(r.status, 202, "{}", r.text());

    // The trace.
    let trace = server.get_json(&format!("/api/traces/{trace_id}"));
    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0]["name"], "aws.lambda");
    assert_eq!(spans[0]["meta"]["cold_start"], "true");
    assert_eq!(spans[1]["parent_id"], "1001");
    let by_hex = server.get_json(&format!("/api/traces/{trace_id:032x}"));
    assert_eq!(by_hex["spans"].as_array().unwrap().len(), 2);
    let listed = server.get_json(&format!(
        "/api/spans?service=hello-svc&name=requests.request&{}",
        window(now)
    ));
    assert_eq!(listed["items"][0]["resource"], "GET /users");

    // The homepage row.
    let functions = server.get_json(&format!("/api/functions?{}", window(now)));
    let f = &functions["functions"][0];
    assert_eq!(f["function"], "hello");
    assert_eq!(f["invocations"], 1);
    assert_eq!(f["errors"], 1);
    assert_eq!(f["error_rate"], 1.0);
    assert_eq!(f["cold_starts"], 1);
    assert_eq!(f["max_memory_used_mb"], 80);
    let p50 = f["p50_duration_ms"].as_f64().unwrap();
    assert!(
        (p50 - 120.0).abs() / 120.0 < 0.01,
        "REPORT duration wins over the span's: {p50}"
    );
    let expected_cost = 0.0000002 + 0.121 * 0.25 * 0.0000166667;
    assert!((f["estimated_cost_usd"].as_f64().unwrap() - expected_cost).abs() < 1e-12);

    // The invocation row carries facts from both sources.
    let inv = server.get_json("/api/functions/hello/invocations?errors=true&cold_starts=true");
    let row = &inv["items"][0];
    assert_eq!(row["request_id"], "req-1");
    assert_eq!(row["trace_id"], trace_id.to_string());
    assert_eq!(row["trigger"], "api-gateway");
    assert_eq!(row["error_type"], "ValueError");
    assert_eq!(row["duration_ms"], 120.0);
    assert_eq!(row["init_duration_ms"], 300.1);
    assert_eq!(
        row["start_ms"],
        now - 10_000,
        "the span's start wins over the REPORT's estimate"
    );
    let none = server.get_json("/api/functions/hello/invocations?timeouts=true");
    assert!(none["items"].as_array().unwrap().is_empty());

    // Logs by trace id (from the message text and from dd.trace_id), by request, by text, by status.
    let by_trace = server.get_json(&format!("/api/logs?trace_id={trace_id}&{}", window(now)));
    assert_eq!(by_trace["items"].as_array().unwrap().len(), 2);
    let by_request = server.get_json(&format!(
        "/api/logs?request_id=req-1&function=hello&{}",
        window(now)
    ));
    assert_eq!(by_request["items"].as_array().unwrap().len(), 3);
    let by_text = server.get_json(&format!("/api/logs?q=handling%20request&{}", window(now)));
    assert_eq!(by_text["items"].as_array().unwrap().len(), 1);
    assert_eq!(by_text["items"][0]["status"], "info");
    let errors = server.get_json(&format!("/api/logs?status=error&{}", window(now)));
    assert_eq!(errors["items"][0]["message"], "something failed");

    // The timeseries counts the invocation once.
    let series = server.get_json(&format!(
        "/api/functions/hello/timeseries?metric=invocations&step=60000&{}",
        window(now)
    ));
    let total: f64 = series["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_f64().unwrap())
        .sum();
    assert_eq!(total, 1.0);
}

#[test]
fn timeouts_and_out_of_memory_are_errors() {
    let server = TestServer::start();
    let now = now_ms();
    let entry = |id: &str, tail: &str, ts: i64| {
        LogEntry {
        message: format!("REPORT RequestId: {id}\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB{tail}"),
        timestamp: Some(ts),
        lambda: Some(LambdaContext { arn: Some(ARN.into()), request_id: Some(id.into()) }),
        ddtags: Some("architecture:arm64".into()),
        ..Default::default()
    }
    };
    let logs = vec![
        entry("t-1", "\tStatus: timeout", now - 5000),
        entry(
            "o-1",
            "\tStatus: error\tError Type: Runtime.OutOfMemory",
            now - 4000,
        ),
    ];
    assert_eq!(
        server
            .post("/api/v2/logs", None, &intake_logs::encode(&logs))
            .status,
        202
    );
    let f = &server.get_json(&format!("/api/functions?{}", window(now)))["functions"][0];
    assert_eq!(f["invocations"], 2);
    assert_eq!(f["errors"], 2);
    assert_eq!(f["timeouts"], 1);
    assert_eq!(
        f["out_of_memory"], 2,
        "max memory used == memory size counts as OOM too"
    );
    let arm_cost = 2.0 * (0.0000002 + 3.0 * 0.125 * 0.0000133334);
    assert!((f["estimated_cost_usd"].as_f64().unwrap() - arm_cost).abs() < 1e-12);
    let timeouts = server.get_json("/api/functions/hello/invocations?timeouts=true");
    assert_eq!(timeouts["items"][0]["request_id"], "t-1");
    assert_eq!(timeouts["items"][0]["architecture"], "arm64");
}

#[test]
fn stats_payloads_are_stored() {
    let server = TestServer::start();
    let payload = StatsPayload {
        agent_hostname: "h".into(),
        agent_env: "prod".into(),
        stats: vec![ClientStatsPayload {
            service: "hello-svc".into(),
            stats: vec![ClientStatsBucket {
                start: (now_ms() as u64) * 1_000_000,
                duration: 10_000_000_000,
                stats: vec![ClientGroupedStats {
                    service: "hello-svc".into(),
                    name: "aws.lambda".into(),
                    resource: "hello".into(),
                    hits: 12,
                    errors: 2,
                    duration: 1_200_000_000,
                    top_level_hits: 12,
                    ..Default::default()
                }],
                agent_time_shift: 0,
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    let r = server.post(
        "/api/v0.2/stats",
        Some("gzip"),
        &gzip(&stats::encode(&payload)),
    );
    assert_eq!(r.status, 202, "{}", r.text());
    let db = rusqlite::Connection::open(server.dir.path().join("lambdascope.db")).unwrap();
    let (hits, errors, env): (i64, i64, String) = db
        .query_row("SELECT hits, errors, env FROM trace_stats", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((hits, errors, env.as_str()), (12, 2, "prod"));
}

#[test]
fn cursors_walk_every_log_exactly_once() {
    let server = TestServer::start();
    let now = now_ms();
    let logs: Vec<LogEntry> = (0..250)
        .map(|i| LogEntry {
            message: format!("line {i}"),
            timestamp: Some(now - 100_000 + (i / 3) as i64), // ties on purpose
            ..Default::default()
        })
        .collect();
    assert_eq!(
        server
            .post(
                "/api/v2/logs",
                Some("zstd"),
                &zstd(&intake_logs::encode(&logs))
            )
            .status,
        202
    );
    let mut seen = std::collections::BTreeSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/api/logs?limit=100&{}", window(now));
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = server.get_json(&path);
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            assert!(
                seen.insert(item["message"].as_str().unwrap().to_owned()),
                "duplicate {item}"
            );
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 250);
    assert_eq!(pages, 3);
}
