//! Bad input, bad keys, oversized bodies and concurrent writers: clear errors, and
//! nothing from a rejected payload is stored.

mod support;

use lambdascope_wire::agent_payload::{self, AgentPayload, Span, TraceChunk, TracerPayload};
use lambdascope_wire::intake_logs::{self, LambdaContext, LogEntry};
use support::{now_ms, request, zstd, TestServer, KEY};

fn count(server: &TestServer, table: &str) -> i64 {
    let db = rusqlite::Connection::open(server.dir.path().join("lambdascope.db")).unwrap();
    db.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

fn traces_body() -> Vec<u8> {
    let spans = (1..=50)
        .map(|i| Span {
            name: "work".into(),
            service: "svc".into(),
            trace_id: 9,
            span_id: i,
            start: now_ms() * 1_000_000,
            duration: 1000,
            ..Default::default()
        })
        .collect();
    agent_payload::encode(&AgentPayload {
        tracer_payloads: vec![TracerPayload {
            chunks: vec![TraceChunk {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

#[test]
fn bad_compression_is_400_and_stores_nothing() {
    let server = TestServer::start();
    let r = server.post("/api/v2/logs", Some("zstd"), b"this is not zstd");
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"].as_str().unwrap().contains("zstd"),
        "{}",
        r.text()
    );
    let r = server.post("/api/v2/logs", Some("gzip"), b"\x1f\x8b garbage");
    assert_eq!(r.status, 400);
    let r = server.post("/api/v2/logs", Some("br"), b"[]");
    assert_eq!(r.status, 415);
    assert_eq!(count(&server, "logs"), 0);
}

#[test]
fn truncated_protobuf_is_400_and_stores_nothing() {
    let server = TestServer::start();
    let body = traces_body();
    let r = server.post(
        "/api/v0.2/traces",
        Some("zstd"),
        &zstd(&body[..body.len() - 7]),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"].as_str().unwrap().contains("AgentPayload"),
        "{}",
        r.text()
    );
    assert_eq!(count(&server, "spans"), 0);
    let r = server.post("/api/beta/sketches", None, &[0x0a, 0xff, 0xff]);
    assert_eq!(r.status, 400);
    let r = server.post("/api/v0.2/stats", None, b"\xc1");
    assert_eq!(r.status, 400);
    assert_eq!(
        server
            .post("/api/v0.2/traces", Some("zstd"), &zstd(&body))
            .status,
        202
    );
    assert_eq!(count(&server, "spans"), 50);
}

#[test]
fn one_bad_item_rejects_the_whole_payload() {
    let server = TestServer::start();
    let ts = now_ms() / 1000;
    let body = format!(
        r#"{{"series":[{{"metric":"good","type":3,"points":[{{"timestamp":{ts},"value":1}}]}},{{"metric":"bad","type":42,"points":[]}}]}}"#
    );
    let r = server.post("/api/v2/series", None, body.as_bytes());
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("unknown metric type 42"));
    assert_eq!(count(&server, "metric_points"), 0);
    let r = server.post(
        "/api/v2/logs",
        None,
        br#"[{"message":"ok"},{"message":"x","timestamp":"never"}]"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(count(&server, "logs"), 0);
}

#[test]
fn keys_are_checked_everywhere() {
    let server = TestServer::start();
    let logs = br#"[{"message":"hi"}]"#;
    let wrong = request(
        server.addr,
        "POST",
        "/api/v2/logs",
        &[("DD-API-KEY", "nope")],
        logs,
    )
    .unwrap();
    assert_eq!(wrong.status, 403);
    let missing = request(server.addr, "POST", "/api/v2/logs", &[], logs).unwrap();
    assert_eq!(missing.status, 403);
    assert!(missing.json()["error"]
        .as_str()
        .unwrap()
        .contains("DD-API-KEY"));
    let lower = request(
        server.addr,
        "POST",
        "/api/v2/logs",
        &[("dd-api-key", KEY)],
        logs,
    )
    .unwrap();
    assert_eq!(lower.status, 202);
    let by_query = request(
        server.addr,
        "POST",
        &format!("/api/v2/logs?api_key={KEY}"),
        &[],
        logs,
    )
    .unwrap();
    assert_eq!(by_query.status, 202);
    assert_eq!(
        request(
            server.addr,
            "GET",
            "/api/v1/validate",
            &[("DD-API-KEY", KEY)],
            b""
        )
        .unwrap()
        .status,
        200
    );
    assert_eq!(
        request(
            server.addr,
            "GET",
            "/api/v1/validate",
            &[("DD-API-KEY", "x")],
            b""
        )
        .unwrap()
        .status,
        403
    );
    assert_eq!(
        request(server.addr, "GET", "/api/functions", &[], b"")
            .unwrap()
            .status,
        403
    );
    assert_eq!(count(&server, "logs"), 2);

    let open = TestServer::start_with(|c| c.open_query_api = true);
    assert_eq!(
        request(open.addr, "GET", "/api/functions", &[], b"")
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        request(open.addr, "POST", "/api/v2/logs", &[], logs)
            .unwrap()
            .status,
        403
    );
}

#[test]
fn oversized_bodies_are_413() {
    let server = TestServer::start_with(|c| {
        c.max_body_bytes = 4096;
        c.max_decompressed_bytes = 64 * 1024;
    });
    let big = format!(r#"[{{"message":"{}"}}]"#, "x".repeat(10_000));
    assert_eq!(
        server.post("/api/v2/logs", None, big.as_bytes()).status,
        413
    );
    // Small on the wire, too big once decompressed.
    let bomb = format!(r#"[{{"message":"{}"}}]"#, "y".repeat(200_000));
    let compressed = zstd(bomb.as_bytes());
    assert!(compressed.len() < 4096);
    let r = server.post("/api/v2/logs", Some("zstd"), &compressed);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(count(&server, "logs"), 0);
}

#[test]
fn bad_query_parameters_are_400_with_a_message() {
    let server = TestServer::start();
    for (path, needle) in [
        ("/api/functions?from=yesterday", "from="),
        ("/api/functions?from=20&to=10", "earlier"),
        ("/api/logs?limit=0", "limit="),
        ("/api/logs?cursor=garbage", "cursor"),
        ("/api/logs?trace_id=zz", "trace_id"),
        ("/api/functions/f/timeseries?metric=bogus", "invocations"),
        ("/api/functions/f/timeseries?step=-5", "step"),
        ("/api/functions/f/invocations?errors=maybe", "errors="),
        ("/api/metrics", "name is required"),
        ("/api/traces/not-an-id", "trace id"),
    ] {
        let r = server.get(path);
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        let msg = r.json()["error"].as_str().unwrap().to_owned();
        assert!(msg.contains(needle), "{path}: {msg}");
    }
    assert_eq!(server.get("/api/traces/12345").status, 404);
}

#[test]
fn concurrent_writers_lose_nothing() {
    let server = TestServer::start();
    let now = now_ms();
    let threads = 8;
    let payloads = 20;
    let per_payload = 50;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let server = &server;
            scope.spawn(move || {
                for p in 0..payloads {
                    let logs: Vec<LogEntry> = (0..per_payload)
                        .map(|i| {
                            let id = format!("req-{t}-{p}-{i}");
                            LogEntry {
                                message: format!("REPORT RequestId: {id}\tDuration: 10.00 ms\tBilled Duration: 10 ms\tMemory Size: 128 MB\tMax Memory Used: 30 MB"),
                                timestamp: Some(now - 30_000 + i as i64),
                                lambda: Some(LambdaContext {
                                    arn: Some("arn:aws:lambda:us-east-1:1:function:busy".into()),
                                    request_id: Some(id),
                                }),
                                ..Default::default()
                            }
                        })
                        .collect();
                    let r = server.post("/api/v2/logs", Some("zstd"), &zstd(&intake_logs::encode(&logs)));
                    assert_eq!(r.status, 202, "{}", r.text());
                }
            });
        }
    });
    let total = threads * payloads * per_payload;
    assert_eq!(count(&server, "logs"), total as i64);
    let f = &server.get_json(&format!(
        "/api/functions?from={}&to={}",
        now - 3_600_000,
        now + 60_000
    ))["functions"][0];
    assert_eq!(f["function"], "busy");
    assert_eq!(f["invocations"], total);
}

#[test]
fn extra_routes_mount_beside_the_api_without_a_key() {
    use axum::routing::get;
    let ui = axum::Router::new().route("/", get(|| async { "homepage" }));
    let server = TestServer::start_with(|c| c.extra_routes = Some(ui));
    let page = request(server.addr, "GET", "/", &[], b"").unwrap();
    assert_eq!((page.status, page.text().as_str()), (200, "homepage"));
    assert_eq!(
        request(server.addr, "GET", "/api/functions", &[], b"")
            .unwrap()
            .status,
        403
    );
    assert_eq!(server.get("/api/functions").status, 200);
}

/// Mutated golden payloads (bit flips, truncations, splices) are answered 202 or 400,
/// never a 5xx, and the server keeps serving afterwards.
#[test]
fn mutated_payloads_never_break_the_server() {
    let server = TestServer::start();
    let fixtures: [(&str, &[u8]); 6] = [
        ("/api/beta/sketches", include_bytes!("fixtures/sketches.pb")),
        ("/api/v0.2/traces", include_bytes!("fixtures/traces.pb")),
        ("/api/v0.2/stats", include_bytes!("fixtures/stats.msgpack")),
        ("/api/v2/series", include_bytes!("fixtures/series_v2.json")),
        ("/api/v1/series", include_bytes!("fixtures/series_v1.json")),
        ("/api/v2/logs", include_bytes!("fixtures/logs_agent.json")),
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (path, original) in fixtures {
        for _ in 0..60 {
            let mut body = original.to_vec();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % body.len().max(1);
                match next() % 3 {
                    0 => body[at] ^= 1 << (next() % 8),
                    1 => body.truncate(at),
                    _ => {
                        let from = (next() as usize) % original.len();
                        body.splice(at..at, original[from..].iter().copied().take(16));
                    }
                }
                if body.is_empty() {
                    break;
                }
            }
            let r = server.post(path, None, &body);
            assert!(
                r.status == 202 || r.status == 400,
                "{path}: {} {}",
                r.status,
                r.text()
            );
        }
    }
    assert_eq!(server.get("/api/functions").status, 200);
}
