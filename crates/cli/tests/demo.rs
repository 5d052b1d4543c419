//! `lambdascope demo` end to end: it runs the example functions with the real extension and
//! library in sandboxes and fills the store the homepage reads. Checked through the query API of a
//! server reopened on the demo's data directory. Needs the extension binary next to the CLI (the
//! test command builds every binary first).

use std::process::Command;

use lambdascope_server::{Server, ServerConfig};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_fills_the_homepage_with_its_three_functions() {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lambdascope"))
        .args([
            "demo",
            "--duration",
            "25s",
            "--exit",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run lambdascope demo");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "demo failed:\n{stderr}");
    let url = String::from_utf8_lossy(&output.stdout);
    assert!(
        url.trim().starts_with("http://127.0.0.1:"),
        "the demo prints the homepage URL: {url}"
    );

    let mut config = ServerConfig::new(data.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.api_keys = vec!["test".into()];
    config.open_query_api = true;
    let server = Server::start(config).await.unwrap();
    let body = reqwest_get(server.addr().port(), "/api/functions").await;
    let functions = body["functions"].as_array().expect("functions");
    let get = |name: &str| {
        functions
            .iter()
            .find(|f| f["function"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {body}\n{stderr}"))
    };
    let api = get("orders-api");
    let worker = get("orders-worker");
    let report = get("nightly-report");
    for f in [api, worker, report] {
        assert!(f["invocations"].as_u64().unwrap() >= 1, "{f}");
        assert!(
            f["cold_starts"].as_u64().unwrap() >= 1,
            "every function starts cold: {f}"
        );
        assert!(f["p50_duration_ms"].as_f64().unwrap() > 0.0, "{f}");
    }
    let total: u64 = functions
        .iter()
        .map(|f| f["invocations"].as_u64().unwrap())
        .sum();
    assert!(
        total >= 20,
        "about a minute of traffic compressed to 25 s: {total} invocations"
    );
    server.shutdown().await.unwrap();
}

/// A GET with the query API open (a tiny HTTP/1.1 client: the CLI has no HTTP client crate).
async fn reqwest_get(port: u16, path: &str) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let from = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        - 3_600_000;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!(
        "GET {path}?from={from} HTTP/1.1\r\nHost: 127.0.0.1\r\nDD-API-KEY: test\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}
