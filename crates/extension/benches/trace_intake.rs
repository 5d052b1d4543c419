//! Trace intake throughput on one core: tracer payload bytes → decoded spans → processed
//! `TracerPayload` (normalize, obfuscate, filter, stamp) → encoded `AgentPayload`.
//! Budget: ≥ 200k spans/s. Prints figures and the ratio; asserts nothing about time.

use std::collections::BTreeMap;
use std::time::Instant;

use lambdascope_extension::traces::processor::{
    agent_payload, FunctionFacts, TraceProcessor, TracerMeta,
};
use lambdascope_extension::traces::settings::TraceSettings;
use lambdascope_wire::agent_payload::{self as intake, Span};
use lambdascope_wire::tracer_payload::{self, TraceApiVersion};

const BUDGET_SPANS_PER_SEC: f64 = 200_000.0;

/// CPU time of this thread: the machine may be shared, so rates are also given per CPU
/// second actually used, which is what "on one core" means.
fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// A realistic Python request trace: a root and children with HTTP, DB and AWS tags.
fn trace(t: u64, spans: u64) -> Vec<Span> {
    (0..spans)
        .map(|i| {
            let mut meta = BTreeMap::from([
                ("component".to_string(), "requests".to_string()),
                ("span.kind".to_string(), "client".to_string()),
                ("http.method".to_string(), "GET".to_string()),
                (
                    "http.url".to_string(),
                    format!("https://api.example.com/orders/{t}?page={i}"),
                ),
                ("http.status_code".to_string(), "200".to_string()),
                ("_dd.p.tid".to_string(), "6553f10000000000".to_string()),
                ("language".to_string(), "python".to_string()),
                (
                    "runtime-id".to_string(),
                    "8d1c9a3e2f6b4d7a9c0e1f2a3b4c5d6e".to_string(),
                ),
            ]);
            if i == 0 {
                meta.insert("request_id".to_string(), format!("req-{t}"));
            }
            Span {
                service: "checkout".into(),
                name: if i == 0 {
                    "aws.lambda".into()
                } else {
                    "requests.request".into()
                },
                resource: format!("GET /orders/{t}"),
                trace_id: t + 1,
                span_id: t * 100 + i + 1,
                parent_id: if i == 0 { 0 } else { t * 100 + 1 },
                start: 1_700_000_000_000_000_000 + i as i64 * 1000,
                duration: 1_500_000,
                error: 0,
                meta,
                metrics: BTreeMap::from([
                    ("_sampling_priority_v1".to_string(), 1.0),
                    ("_dd.measured".to_string(), 1.0),
                    ("process_id".to_string(), 42.0),
                ]),
                r#type: "http".into(),
                ..Default::default()
            }
        })
        .collect()
}

fn run(
    label: &str,
    version: TraceApiVersion,
    content_type: Option<&str>,
    body: &[u8],
    processor: &TraceProcessor,
    rounds: usize,
) {
    let meta = TracerMeta {
        language: "python".into(),
        ..Default::default()
    };
    let mut spans = 0usize;
    let mut bytes_out = 0usize;
    let started = Instant::now();
    let cpu_started = thread_cpu_secs();
    for _ in 0..rounds {
        let traces =
            tracer_payload::decode(version, content_type, body).expect("bench payload decodes");
        spans += traces.iter().map(Vec::len).sum::<usize>();
        let (payload, _) = processor.process(traces, &meta, 1_700_000_000_000_000_000);
        bytes_out += intake::encode(&agent_payload(vec![payload], Some("prod"))).len();
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu = thread_cpu_secs() - cpu_started;
    let rate = spans as f64 / cpu;
    println!(
        "{label:<14} {spans:>7} spans, {cpu:>6.3} CPU s ({secs:>6.3} wall) = {rate:>8.0} spans/CPU-s (budget {BUDGET_SPANS_PER_SEC:.0}: {:.2}x; wall {:.0}/s)  body {} KiB -> protobuf {} KiB",
        rate / BUDGET_SPANS_PER_SEC,
        spans as f64 / secs,
        body.len() / 1024,
        bytes_out / rounds / 1024
    );
}

fn main() {
    let traces: Vec<Vec<Span>> = (0..200).map(|t| trace(t, 10)).collect();
    let mut settings = TraceSettings::default();
    settings.obfuscation.remove_query_string = true;
    let function = FunctionFacts {
        name: "checkout".into(),
        service: "checkout".into(),
        memory_mb: 1024,
        ..Default::default()
    };
    let processor = TraceProcessor::new(settings, function);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    println!(
        "trace intake, one core, {} spans per request body, {rounds} rounds",
        200 * 10
    );
    let v04 = tracer_payload::encode_v04(&traces);
    let v05 = tracer_payload::encode_v05(&traces);
    let json = serde_json::to_vec(&json_traces(&traces)).unwrap();
    run(
        "v0.4 msgpack",
        TraceApiVersion::V04,
        None,
        &v04,
        &processor,
        rounds,
    );
    run(
        "v0.5 msgpack",
        TraceApiVersion::V05,
        None,
        &v05,
        &processor,
        rounds,
    );
    run(
        "v0.4 JSON",
        TraceApiVersion::V04,
        Some("application/json"),
        &json,
        &processor,
        rounds,
    );
    let cpu_started = thread_cpu_secs();
    let mut n = 0;
    for _ in 0..rounds {
        n += tracer_payload::decode_v04(&v04)
            .unwrap()
            .iter()
            .map(Vec::len)
            .sum::<usize>();
    }
    let rate = n as f64 / (thread_cpu_secs() - cpu_started);
    println!(
        "{:<14} {n:>7} spans = {rate:>8.0} spans/CPU-s (decode only)",
        "v0.4 decode"
    );
}

fn json_traces(traces: &[Vec<Span>]) -> serde_json::Value {
    serde_json::Value::Array(
        traces
            .iter()
            .map(|t| {
                serde_json::Value::Array(
                    t.iter()
                        .map(|s| {
                            serde_json::json!({
                                "service": s.service, "name": s.name, "resource": s.resource,
                                "trace_id": s.trace_id, "span_id": s.span_id, "parent_id": s.parent_id,
                                "start": s.start, "duration": s.duration, "error": s.error,
                                "meta": s.meta, "metrics": s.metrics, "type": s.r#type,
                            })
                        })
                        .collect(),
                )
            })
            .collect(),
    )
}
