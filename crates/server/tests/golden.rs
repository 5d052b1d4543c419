//! Golden payloads, written byte by byte from the documented schemas by
//! `tests/fixtures/make_golden.py` (not by our encoders), decode to the expected rows.

mod support;

use lambdascope_wire::sketch::key_for;
use lambdascope_wire::{agent_payload, intake_logs, series, sketch_payload, stats};
use support::TestServer;

const TS_MS: i64 = 1_700_000_000_000;
const TRACE_ID: u64 = 12_345_678_901_234_567_890;

const SKETCHES: &[u8] = include_bytes!("fixtures/sketches.pb");
const TRACES: &[u8] = include_bytes!("fixtures/traces.pb");
const STATS: &[u8] = include_bytes!("fixtures/stats.msgpack");
const SERIES_V2: &[u8] = include_bytes!("fixtures/series_v2.json");
const SERIES_V1: &[u8] = include_bytes!("fixtures/series_v1.json");
const LOGS_AGENT: &[u8] = include_bytes!("fixtures/logs_agent.json");
const LOGS_FLAT: &[u8] = include_bytes!("fixtures/logs_flat.json");

fn window() -> String {
    format!("from={}&to={}", TS_MS - 3_600_000, TS_MS + 3_600_000)
}

fn golden_server() -> TestServer {
    // The fixtures are from 2023: keep them out of the retention sweep's reach.
    TestServer::start_with(|c| c.retention = std::time::Duration::from_secs(100 * 365 * 86_400))
}

#[test]
fn wire_decoders_read_the_golden_bytes() {
    let s = sketch_payload::decode(SKETCHES).unwrap();
    let sketch = &s.sketches[0];
    assert_eq!(sketch.metric, "aws.lambda.enhanced.duration");
    assert_eq!(sketch.host, "golden-host");
    assert_eq!(sketch.tags, vec!["functionname:golden", "cold_start:true"]);
    let d = &sketch.dogsketches[0];
    assert_eq!(
        d.k,
        vec![
            key_for(1.0) as i32,
            key_for(2.0) as i32,
            key_for(4.0) as i32
        ]
    );
    assert_eq!(d.n, vec![1, 1, 2]);
    assert_eq!(
        sketch
            .metadata
            .as_ref()
            .unwrap()
            .origin
            .as_ref()
            .unwrap()
            .origin_service,
        473
    );

    let t = agent_payload::decode(TRACES).unwrap();
    assert_eq!(t.host_name, "golden-host");
    assert_eq!(t.agent_version, "7.50.0");
    let chunk = &t.tracer_payloads[0].chunks[0];
    assert_eq!(chunk.origin, "lambda");
    assert_eq!(chunk.spans[0].trace_id, TRACE_ID);
    assert_eq!(chunk.spans[0].meta["request_id"], "golden-req-1");
    assert_eq!(chunk.spans[0].metrics["_sampling_priority_v1"], 1.0);
    assert_eq!(chunk.spans[1].parent_id, 11);

    let st = stats::decode(STATS).unwrap();
    let g = &st.stats[0].stats[0].stats[0];
    assert_eq!((g.hits, g.errors, g.http_status_code), (40, 3, 200));
    assert_eq!(g.ok_summary.as_ref(), &[1, 2]);
    assert!(st.client_computed);

    let v2 = series::decode(SERIES_V2).unwrap();
    assert_eq!(v2.series[0].metric_type, series::MetricType::Count);
    assert_eq!(
        v2.series[0]
            .metadata
            .as_ref()
            .unwrap()
            .origin
            .unwrap()
            .origin_product_detail,
        472
    );
    assert_eq!(
        series::decode_v1(SERIES_V1).unwrap().series[0].host(),
        Some("golden-host")
    );

    let agent = intake_logs::decode(LOGS_AGENT).unwrap();
    assert!(agent[0]
        .message
        .starts_with("REPORT RequestId: golden-req-1"));
    assert_eq!(agent[0].timestamp, Some(TS_MS + 3002));
    let flat = intake_logs::decode(LOGS_FLAT).unwrap();
    assert_eq!(
        flat[0].dd.as_ref().unwrap().trace_id.as_deref(),
        Some("12345678901234567890")
    );
}

#[test]
fn golden_payloads_become_the_expected_rows() {
    let server = golden_server();
    for (path, body) in [
        ("/api/beta/sketches", SKETCHES),
        ("/api/v0.2/traces", TRACES),
        ("/api/v0.2/stats", STATS),
        ("/api/v2/series", SERIES_V2),
        ("/api/v1/series", SERIES_V1),
        ("/api/v2/logs", LOGS_AGENT),
        ("/api/v2/logs", LOGS_FLAT),
    ] {
        let r = server.post(path, None, body);
        assert_eq!(r.status, 202, "{path}: {}", r.text());
    }
    let w = window();

    let sketches = server.get_json(&format!(
        "/api/metrics?name=aws.lambda.enhanced.duration&tags=cold_start:true&{w}"
    ));
    let s = &sketches["sketches"][0];
    assert_eq!(
        (s["count"].as_u64(), s["min"].as_f64(), s["max"].as_f64()),
        (Some(4), Some(1.0), Some(4.0))
    );
    assert_eq!(s["sum"], 11.0);
    assert!((s["p50"].as_f64().unwrap() - 4.0).abs() / 4.0 < 0.02, "{s}");
    assert_eq!(s["ts_ms"], TS_MS);

    let trace = server.get_json(&format!("/api/traces/{TRACE_ID}"));
    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0]["trace_id"], TRACE_ID.to_string());
    assert_eq!(spans[0]["error"], true);
    assert_eq!(spans[0]["duration_ns"], 250_000_000);
    assert_eq!(spans[1]["name"], "dynamodb.query");
    assert_eq!(spans[1]["meta"]["aws.service"], "dynamodb");

    let inv = &server.get_json(&format!("/api/functions/golden/invocations?{w}"))["items"][0];
    assert_eq!(inv["request_id"], "golden-req-1");
    assert_eq!(inv["start_ms"], TS_MS);
    assert_eq!(inv["cold_start"], true);
    assert_eq!(inv["timeout"], true);
    assert_eq!(inv["error"], true);
    assert_eq!(inv["duration_ms"], 3001.5);
    assert_eq!(inv["billed_duration_ms"], 3002.0);
    assert_eq!(inv["memory_size_mb"], 512);
    assert_eq!(inv["max_memory_used_mb"], 77);
    assert_eq!(inv["init_duration_ms"], 410.0);
    assert_eq!(inv["trigger"], "sqs");
    assert_eq!(inv["architecture"], "arm64");
    assert_eq!(inv["trace_id"], TRACE_ID.to_string());
    let cost = 0.0000002 + 3.002 * 0.5 * 0.0000133334;
    assert!((inv["estimated_cost_usd"].as_f64().unwrap() - cost).abs() < 1e-12);

    let f = &server.get_json(&format!("/api/functions?{w}"))["functions"][0];
    assert_eq!(
        (
            f["function"].as_str(),
            f["invocations"].as_u64(),
            f["timeouts"].as_u64()
        ),
        (Some("golden"), Some(1), Some(1))
    );

    let orders = server.get_json(&format!(
        "/api/metrics?name=golden.orders&tags=env:test&{w}"
    ));
    let points: Vec<(i64, f64)> = orders["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["ts_ms"].as_i64().unwrap(), p["value"].as_f64().unwrap()))
        .collect();
    assert_eq!(points, vec![(TS_MS, 2.0), (TS_MS + 10_000, 5.0)]);
    let temp = server.get_json(&format!("/api/metrics?name=golden.temp&{w}"));
    assert_eq!(temp["points"][0]["value"], 21.5);
    assert_eq!(temp["points"][0]["type"], "gauge");

    let logs = server.get_json(&format!("/api/logs?request_id=golden-req-1&{w}"));
    let items = logs["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["status"], "error", "newest first: the REPORT line");
    assert_eq!(items[1]["status"], "warn");
    assert_eq!(items[1]["trace_id"], TRACE_ID.to_string());
    let found = server.get_json(&format!("/api/logs?q=took&function=golden&{w}"));
    assert_eq!(found["items"][0]["message"], "query took too long");

    let db = rusqlite::Connection::open(server.dir.path().join("lambdascope.db")).unwrap();
    let (hits, errors): (i64, i64) = db
        .query_row(
            "SELECT hits, errors FROM trace_stats WHERE service = 'golden-svc'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((hits, errors), (40, 3));
}
