//! The trace and lifecycle APIs over real sockets on ephemeral loopback ports.

use std::sync::Arc;

use lambdascope_wire::agent_payload::Span;
use lambdascope_wire::tracer_payload;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::traces::agent::tests::agent;

/// A minimal HTTP/1.1 client: one request per connection; returns status, headers, body.
async fn call(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    (status, headers, body.to_string())
}

fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn start() -> (Arc<TraceAgent>, u16, u16, Arc<Notify>) {
    let agent = Arc::new(agent());
    let trace_listener = bind_loopback(0).await.unwrap();
    let lifecycle_listener = bind_loopback(0).await.unwrap();
    let trace_port = trace_listener.local_addr().unwrap().port();
    let lifecycle_port = lifecycle_listener.local_addr().unwrap().port();
    let flush = Arc::new(Notify::new());
    tokio::spawn(serve_trace_api(trace_listener, agent.clone()));
    tokio::spawn(serve_lifecycle_api(
        lifecycle_listener,
        agent.clone(),
        flush.clone(),
    ));
    (agent, trace_port, lifecycle_port, flush)
}

#[tokio::test]
async fn trace_api_endpoints() {
    let (agent, port, _, _) = start().await;
    let (status, _, body) = call(port, "GET", "/info", &[], b"").await;
    assert_eq!(status, 200);
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(info["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e == "/v0.5/traces"));

    let span = Span {
        trace_id: 1,
        span_id: 2,
        name: "db.query".into(),
        service: "svc".into(),
        start: 1_700_000_000_000_000_000,
        ..Default::default()
    };
    let v04 = tracer_payload::encode_v04(&[vec![span.clone()]]);
    let v05 = tracer_payload::encode_v05(&[vec![span]]);
    let meta = [
        ("Content-Type", "application/msgpack"),
        ("Datadog-Meta-Lang", "python"),
    ];
    let (status, _, body) = call(port, "PUT", "/v0.4/traces", &meta, &v04).await;
    assert_eq!((status, body.contains("rate_by_service")), (200, true));
    let (status, _, _) = call(port, "POST", "/v0.5/traces", &meta, &v05).await;
    assert_eq!(status, 200);
    let (status, _, body) = call(port, "PUT", "/v0.4/traces", &meta, &v04[..v04.len() - 3]).await;
    assert_eq!(status, 400);
    assert!(
        body.contains("truncated") && body.contains("1 traces lost"),
        "{body}"
    );
    let (status, _, _) = call(port, "PUT", "/v0.6/stats", &[], b"\x80").await;
    assert_eq!(status, 200);
    let (status, _, _) = call(port, "GET", "/v0.7/nothing", &[], b"").await;
    assert_eq!(status, 404);

    let payload = agent.take_payload(false).unwrap();
    assert_eq!(payload.tracer_payloads.len(), 2);
    assert_eq!(payload.tracer_payloads[0].language_name, "python");
    assert_eq!(agent.take_stats().len(), 1);
    assert_eq!(agent.counters().payloads_rejected, 1);
}

#[tokio::test]
async fn lifecycle_api_round_trip() {
    let (agent, _, port, flush) = start().await;
    let (status, _, _) = call(port, "GET", "/lambda/hello", &[], b"").await;
    assert_eq!(status, 200);
    agent.on_invoke(
        "req-9",
        u64::MAX / 2,
        "arn:aws:lambda:us-east-1:1:function:checkout",
        None,
    );
    let event = br#"{"Records":[{"eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-1:1:orders","attributes":{"SentTimestamp":"1700000000000"},"messageAttributes":{"_datadog":{"dataType":"String","stringValue":"{\"x-datadog-trace-id\":\"41\",\"x-datadog-parent-id\":\"42\",\"x-datadog-sampling-priority\":\"1\"}"}}}]}"#;
    let rid = [(REQUEST_ID_HEADER, "req-9")];
    let (status, headers, _) = call(port, "POST", "/lambda/start-invocation", &rid, event).await;
    assert_eq!(status, 200);
    assert_eq!(get(&headers, "x-datadog-trace-id"), Some("41"));
    assert!(get(&headers, "x-datadog-parent-id").is_some());
    let (status, _, _) = call(
        port,
        "POST",
        "/lambda/end-invocation",
        &rid,
        b"{\"ok\":true}",
    )
    .await;
    assert_eq!(status, 200);
    let waiter = tokio::spawn(async move { flush.notified().await });
    tokio::task::yield_now().await;
    let (status, _, _) = call(port, "POST", "/lambda/flush", &[], b"").await;
    assert_eq!(status, 200);
    waiter.await.unwrap();
    let payload = agent.take_payload(false).unwrap();
    let spans: Vec<&Span> = payload
        .tracer_payloads
        .iter()
        .flat_map(|t| &t.chunks)
        .flat_map(|c| &c.spans)
        .collect();
    let sqs = spans.iter().find(|s| s.name == "aws.sqs").unwrap();
    assert_eq!(
        (sqs.trace_id, sqs.parent_id, sqs.service.as_str()),
        (41, 42, "orders")
    );
    assert!(spans
        .iter()
        .any(|s| s.name == "aws.lambda" && s.parent_id == sqs.span_id));
    let (status, _, _) = call(port, "DELETE", "/lambda/start-invocation", &[], b"").await;
    assert_eq!(status, 404);
}
