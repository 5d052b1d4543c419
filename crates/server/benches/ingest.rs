//! Sustained ingest through the HTTP intake into SQLite, and `/api/functions`
//! latency over one hour holding 1M invocations. Prints figures and the ratio to
//! each budget; asserts nothing. Run with `bench/server.sh`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lambdascope_server::store::InvocationFacts;
use lambdascope_server::store::WriteBatch;
use lambdascope_wire::agent_payload::{self, AgentPayload, Span, TraceChunk, TracerPayload};
use lambdascope_wire::intake_logs::{self, LambdaContext, LogEntry};
use lambdascope_wire::series::{self, MetricType, Point, Series, SeriesPayload};
use support::{now_ms, request, zstd, TestServer, KEY};

const CLIENTS: usize = 3;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds this process (server and clients) has used, from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    let ticks = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(14) + ticks(15)) / 100.0
}

/// Sends every body (pre-encoded) from `CLIENTS` threads; returns (wall, cpu) seconds.
fn send_all(server: &TestServer, path: &str, bodies: &[Vec<u8>]) -> (f64, f64) {
    let cpu_before = cpu_seconds();
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..CLIENTS {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(body) = bodies.get(i) else { break };
                let headers = [("DD-API-KEY", KEY), ("Content-Encoding", "zstd")];
                let r = request(server.addr, "POST", path, &headers, body).unwrap();
                assert_eq!(r.status, 202, "{}", r.text());
            });
        }
    });
    (started.elapsed().as_secs_f64(), cpu_seconds() - cpu_before)
}

/// Prints the wall-clock rate against the budget, and the rate per CPU-second used by
/// this process (server + clients), which stays meaningful on a busy shared machine.
fn report(what: &str, count: usize, (seconds, cpu): (f64, f64), budget_per_s: f64) {
    let rate = count as f64 / seconds;
    println!(
        "{what:<28} {count:>9} in {seconds:>6.2} s = {rate:>10.0}/s   budget >= {budget_per_s:>8.0}/s   ratio {:.2}x   ({:.0}/s per CPU-second, {cpu:.1} CPU-s)",
        rate / budget_per_s,
        count as f64 / cpu.max(0.01)
    );
}

fn span_bodies(payloads: usize, per: usize, now: i64) -> Vec<Vec<u8>> {
    (0..payloads)
        .map(|p| {
            let spans = (0..per)
                .map(|i| {
                    let id = (p * per + i) as u64 + 1;
                    Span {
                        service: "bench-svc".into(),
                        name: if i % 10 == 0 {
                            "aws.lambda".into()
                        } else {
                            "http.request".into()
                        },
                        resource: format!("GET /items/{}", i % 50),
                        trace_id: (id / 10) + 1,
                        span_id: id,
                        parent_id: if i % 10 == 0 { 0 } else { id - (id % 10) },
                        start: (now - 60_000) * 1_000_000 + id as i64 * 1000,
                        duration: 1_500_000,
                        meta: BTreeMap::from([
                            ("http.method".into(), "GET".into()),
                            ("http.status_code".into(), "200".into()),
                            ("env".into(), "bench".into()),
                            ("functionname".into(), format!("fn-{}", p % 20)),
                        ]),
                        metrics: BTreeMap::from([("_sampling_priority_v1".into(), 1.0)]),
                        r#type: "web".into(),
                        ..Default::default()
                    }
                })
                .collect();
            let payload = AgentPayload {
                tracer_payloads: vec![TracerPayload {
                    chunks: vec![TraceChunk {
                        spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            };
            zstd(&agent_payload::encode(&payload))
        })
        .collect()
}

fn log_bodies(payloads: usize, per: usize, now: i64) -> Vec<Vec<u8>> {
    (0..payloads)
        .map(|p| {
            let logs: Vec<LogEntry> = (0..per)
                .map(|i| LogEntry {
                    message: format!(
                        "processed order {} for customer {} in {} ms",
                        p * per + i,
                        i % 97,
                        i % 300
                    ),
                    timestamp: Some(now - 60_000 + i as i64),
                    status: Some("info".into()),
                    hostname: Some("arn:aws:lambda:us-east-1:1:function:bench".into()),
                    service: Some("bench-svc".into()),
                    ddsource: Some("lambda".into()),
                    ddtags: Some("functionname:bench,env:bench,region:us-east-1".into()),
                    lambda: Some(LambdaContext {
                        arn: Some("arn:aws:lambda:us-east-1:1:function:bench".into()),
                        request_id: Some(format!("req-{p}-{}", i / 10)),
                    }),
                    dd: None,
                })
                .collect();
            zstd(&intake_logs::encode(&logs))
        })
        .collect()
}

fn series_bodies(payloads: usize, series_per: usize, points_per: usize, now: i64) -> Vec<Vec<u8>> {
    (0..payloads)
        .map(|p| {
            let series = (0..series_per)
                .map(|s| Series {
                    metric: format!("bench.metric.{}", s % 25),
                    metric_type: MetricType::Gauge,
                    points: (0..points_per)
                        .map(|i| Point {
                            timestamp: now / 1000 - 600 + i as i64,
                            value: (p + s + i) as f64,
                        })
                        .collect(),
                    tags: vec![
                        format!("functionname:fn-{}", s % 20),
                        "env:bench".into(),
                        format!("shard:{p}"),
                    ],
                    ..Series::default()
                })
                .collect();
            zstd(&series::encode(&SeriesPayload { series }))
        })
        .collect()
}

/// 1M invocations over the last hour across 100 functions, written through the store.
fn populate_invocations(server: &TestServer, total: usize, now: i64) -> f64 {
    let store = server.server.as_ref().unwrap().store();
    let started = Instant::now();
    let batch_size = 2000;
    let span_ms = 3_600_000.0 / total as f64;
    for b in 0..total.div_ceil(batch_size) {
        let mut batch = WriteBatch::default();
        for i in b * batch_size..((b + 1) * batch_size).min(total) {
            let duration = 20.0 + (i % 500) as f64;
            batch.invocations.push(InvocationFacts {
                request_id: format!("inv-{i}"),
                function: Some(format!("function-{:03}", i % 100)),
                start_ms: Some(now - 3_600_000 + (i as f64 * span_ms) as i64),
                cold_start: Some(i % 50 == 0),
                duration_ms: Some(duration),
                billed_ms: Some(duration.ceil()),
                memory_mb: Some(256),
                max_memory_mb: Some(60 + (i % 40) as i64),
                error: Some(i % 97 == 0),
                timeout: Some(false),
                oom: Some(false),
                ..InvocationFacts::default()
            });
        }
        store.write(batch).unwrap();
    }
    started.elapsed().as_secs_f64()
}

/// Where log ingest time goes: decompress + decode + derive rows, then the store write.
fn breakdown_logs(server: &TestServer, bodies: &[Vec<u8>], now: i64) {
    let lines = bodies.len() * 1000;
    let started = Instant::now();
    let batches: Vec<WriteBatch> = bodies
        .iter()
        .map(|b| {
            let plain = zstd::stream::decode_all(&b[..]).unwrap();
            lambdascope_server::ingest::logs(intake_logs::decode(&plain).unwrap(), now)
        })
        .collect();
    let decode = started.elapsed().as_secs_f64();
    let store = server.server.as_ref().unwrap().store();
    let started = Instant::now();
    for b in batches {
        store.write(b).unwrap();
    }
    let write = started.elapsed().as_secs_f64();
    println!(
        "  breakdown: decode {:.0} lines/s, store write {:.0} lines/s (single thread each)",
        lines as f64 / decode,
        lines as f64 / write
    );
}

fn main() {
    let server = TestServer::start_with(|c| c.retention = Duration::from_secs(30 * 86_400));
    let now = now_ms();
    println!("lambdascope server ingest benchmark ({CLIENTS} HTTP clients, zstd bodies, SQLite WAL + synchronous=NORMAL)");

    let (payloads, per) = (env_usize("BENCH_SPAN_PAYLOADS", 200), 1000);
    let bodies = span_bodies(payloads, per, now);
    report(
        "spans via /api/v0.2/traces",
        payloads * per,
        send_all(&server, "/api/v0.2/traces", &bodies),
        50_000.0,
    );

    let (payloads, per) = (env_usize("BENCH_LOG_PAYLOADS", 300), 1000);
    let bodies = log_bodies(payloads, per, now);
    if std::env::var_os("BENCH_BREAKDOWN").is_some() {
        breakdown_logs(&server, &bodies[..bodies.len().min(30)], now);
    }
    report(
        "log lines via /api/v2/logs",
        payloads * per,
        send_all(&server, "/api/v2/logs", &bodies),
        100_000.0,
    );

    let (payloads, series_per, points_per) = (env_usize("BENCH_SERIES_PAYLOADS", 100), 500, 10);
    let bodies = series_bodies(payloads, series_per, points_per, now);
    report(
        "points via /api/v2/series",
        payloads * series_per * points_per,
        send_all(&server, "/api/v2/series", &bodies),
        200_000.0,
    );

    let invocations = env_usize("BENCH_INVOCATIONS", 1_000_000);
    let seconds = populate_invocations(&server, invocations, now);
    println!("{:<28} {invocations:>9} in {seconds:>6.2} s = {:>10.0}/s   (store upserts + rollups, no budget)", "invocations stored", invocations as f64 / seconds);

    let path = format!("/api/functions?from={}&to={}", now - 3_600_000, now + 1);
    let first = server.get_json(&path);
    let functions = first["functions"].as_array().unwrap();
    let counted: u64 = functions
        .iter()
        .map(|f| f["invocations"].as_u64().unwrap())
        .sum();
    let mut samples: Vec<f64> = (0..25)
        .map(|_| {
            let started = Instant::now();
            let r = server.get(&path);
            assert_eq!(r.status, 200);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = samples[samples.len() / 2];
    let p95 = samples[samples.len() * 95 / 100];
    println!(
        "/api/functions (1 h, {} functions, {counted} invocations): median {median:.1} ms, p95 {p95:.1} ms   budget <= 50 ms   ratio {:.2}x (budget/median)",
        functions.len(),
        50.0 / median
    );
}
