//! Extensions in the sandbox: registration, the INVOKE/SHUTDOWN events, every telemetry record type,
//! two sandboxes binding the same port, host access, and the memory limit.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;

use lambdascope_sandbox::{InvokeRequest, Isolation, Sandbox, Status};
use serde_json::Value;
use support::{fixtures, function, json, Lines};

fn checker_result(lines: &Lines) -> Value {
    let text = lines.text();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("CHECKER-RESULT "))
        .unwrap_or_else(|| panic!("the checker extension printed no result:\n{text}"));
    serde_json::from_str(line).unwrap()
}

async fn run_checker(isolation: Isolation) -> (Lines, Vec<lambdascope_sandbox::InvokeOutcome>) {
    let (mut config, lines) = function("basic", "app.ok");
    config.layers.push(fixtures().join("layers/checker"));
    config.isolation = isolation;
    if isolation == Isolation::Host {
        // On the host's network the default port may be taken: use a free one.
        let free = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        config.env.insert("CHECKER_PORT".into(), free.to_string());
    }
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let mut outcomes = Vec::new();
    for i in 0..2 {
        let outcome = sandbox
            .invoke(InvokeRequest::new(format!(r#"{{"n":{i}}}"#)))
            .await
            .unwrap();
        assert_eq!(outcome.status, Status::Success, "{outcome:?}");
        outcomes.push(outcome);
    }
    sandbox.shutdown().await;
    (lines, outcomes)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_extension_gets_every_event_and_telemetry_record() {
    let (lines, outcomes) = run_checker(Isolation::Auto).await;
    let result = checker_result(&lines);
    assert_eq!(result["ok"], true, "problems: {}", result["problems"]);
    let ids: Vec<&str> = result["invokes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["requestId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [outcomes[0].request_id.as_str(), outcomes[1].request_id.as_str()]);
    assert_eq!(result["shutdown"]["shutdownReason"], "spindown");
    assert_eq!(result["registration"]["accountId"], "123456789012");
    for kind in [
        "platform.initStart",
        "platform.initRuntimeDone",
        "platform.initReport",
        "platform.start",
        "platform.runtimeDone",
        "platform.report",
        "platform.extension",
        "platform.telemetrySubscription",
        "function",
        "extension",
    ] {
        assert!(
            result["types"].as_array().unwrap().iter().any(|t| t == kind),
            "missing {kind} in {}",
            result["types"]
        );
    }
    // The invoke lasts until the extension is back on `next` (it sleeps 50 ms per INVOKE).
    assert!(outcomes[1].metrics.duration_ms >= 50.0, "{:?}", outcomes[1].metrics);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_checker_passes_in_host_isolation_too() {
    let (lines, _) = run_checker(Isolation::Host).await;
    let result = checker_result(&lines);
    assert_eq!(result["ok"], true, "problems: {}", result["problems"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_sandboxes_bind_the_same_extension_port() {
    let ((a, _), (b, _)) = tokio::join!(
        run_checker(Isolation::Namespaces),
        run_checker(Isolation::Namespaces)
    );
    for lines in [a, b] {
        let result = checker_result(&lines);
        assert_eq!(result["ok"], true, "problems: {}", result["problems"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_sends_shutdown_with_reason_timeout() {
    let (mut config, lines) = function("basic", "app.sleepy");
    config.layers.push(fixtures().join("layers/checker"));
    config.timeout = std::time::Duration::from_secs(1);
    config.env.insert("CHECKER_PORT".into(), "8126".into());
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let outcome = sandbox
        .invoke(InvokeRequest::new(r#"{"seconds":30}"#))
        .await
        .unwrap();
    assert_eq!(outcome.status, Status::Timeout);
    let result = checker_result(&lines);
    assert_eq!(result["shutdown"]["shutdownReason"], "timeout");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_function_reaches_the_host_as_host_lambdascope_internal() {
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in server.incoming().take(1) {
            let mut stream = stream.unwrap();
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nfrom host");
        }
    });
    let (mut config, _) = function("basic", "app.fetch");
    config.isolation = Isolation::Namespaces;
    let url = format!("http://host.lambdascope.internal:{port}/x");
    config.env.insert("TARGET_URL".into(), url.clone());
    let mut sandbox = Sandbox::start(config).await.unwrap();
    let outcome = sandbox
        .invoke(InvokeRequest::new(serde_json::json!({ "url": url }).to_string()))
        .await
        .unwrap();
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
    assert_eq!(json(&outcome.payload), Value::from("from host"));
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn namespaces_give_lambda_paths_and_names() {
    let (mut config, _) = function("basic", "app.env");
    config.isolation = Isolation::Namespaces;
    config.layers.push(fixtures().join("layers/checker"));
    config.env.insert("CHECKER_PORT".into(), "8124".into());
    let mut sandbox = Sandbox::start(config).await.unwrap();
    let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    let body = json(&outcome.payload);
    assert_eq!(body["cwd"], "/var/task");
    assert_eq!(body["env"]["LAMBDA_TASK_ROOT"], "/var/task");
    assert_eq!(body["env"]["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
    assert_eq!(body["resolved"]["sandbox.localdomain"], "127.0.0.1");
    assert_eq!(body["resolved"]["host.lambdascope.internal"], "127.0.0.254");
    assert_eq!(body["opt"], serde_json::json!(["extensions"]));
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exceeding_the_memory_size_is_an_out_of_memory_kill() {
    let (config, _) = function("basic", "app.hog");
    let mut sandbox = Sandbox::start(config).await.unwrap();
    let outcome = sandbox
        .invoke(InvokeRequest::new(r#"{"mb":600}"#))
        .await
        .unwrap();
    if !std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists()
        && !std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
    {
        eprintln!("no cgroup memory controller here: the limit is not enforced");
        return;
    }
    assert_eq!(outcome.status, Status::Failure, "{outcome:?}");
    assert_eq!(outcome.error_type.as_deref(), Some("Runtime.OutOfMemory"));
    assert!(outcome.metrics.max_memory_used_mb >= 120, "{:?}", outcome.metrics);
    assert!(sandbox.is_cold());
    let next = sandbox.invoke(InvokeRequest::new(r#"{"mb":10}"#)).await.unwrap();
    assert_eq!(next.status, Status::Success, "{next:?}");
    sandbox.shutdown().await;
}
