//! Extensions in the sandbox: registration, the INVOKE/SHUTDOWN events, every telemetry record type,
//! two sandboxes binding the same port, host access, and the memory limit.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;

use lambdascope_sandbox::{InvokeRequest, Isolation, Sandbox, Status};
use serde_json::Value;
use support::{fixtures, function, json, Lines};

fn free_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port().to_string()
}

fn checker_result(lines: &Lines) -> Value {
    let text = lines.text();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("CHECKER-RESULT "))
        .unwrap_or_else(|| panic!("the checker extension printed no result:\n{text}"));
    serde_json::from_str(line).unwrap()
}

async fn run_checker(isolation: Isolation) -> (Lines, Vec<lambdascope_sandbox::InvokeOutcome>) {
    run_checker_with(isolation, &[]).await
}

async fn run_checker_with(
    isolation: Isolation,
    env: &[(&str, &str)],
) -> (Lines, Vec<lambdascope_sandbox::InvokeOutcome>) {
    let (mut config, lines) = function("basic", "app.ok");
    for (k, v) in env {
        config.env.insert(k.to_string(), v.to_string());
    }
    config.layers.push(fixtures().join("layers/checker"));
    config.isolation = isolation;
    if isolation != Isolation::Namespaces && !config.env.contains_key("CHECKER_PORT") {
        // Possibly on the host's network (non-root machines): the default port may be taken.
        config.env.insert("CHECKER_PORT".into(), free_port());
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
    check_all_events(&lines, &outcomes);
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_2022_07_01_and_2025_01_29_work_too() {
    for schema in ["2022-07-01", "2025-01-29"] {
        let (lines, outcomes) =
            run_checker_with(Isolation::Auto, &[("CHECKER_SCHEMA", schema)]).await;
        check_all_events(&lines, &outcomes);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_reach_the_extension_as_objects() {
    let (lines, outcomes) =
        run_checker_with(Isolation::Auto, &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]).await;
    check_all_events(&lines, &outcomes);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_the_listener_keeps_refusing_is_reported_as_logs_dropped() {
    let (mut config, lines) = function("basic", "app.ok");
    config.layers.push(fixtures().join("layers/checker"));
    // 8 refusals: every attempt at the first batch fails, so it is dropped and counted.
    config.env.insert("CHECKER_REFUSE".into(), "8".into());
    config.env.insert("CHECKER_PORT".into(), free_port());
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut dropped = None;
    while dropped.is_none() && std::time::Instant::now() < deadline {
        let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
        assert_eq!(outcome.status, Status::Success);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        dropped = lines
            .text()
            .lines()
            .find_map(|l| l.strip_prefix("checker got logsDropped "))
            .map(|r| serde_json::from_str::<Value>(r).unwrap());
    }
    sandbox.shutdown().await;
    let dropped = dropped.expect("no platform.logsDropped within 60 s");
    assert!(
        dropped["droppedRecords"].as_u64().unwrap() >= 1,
        "{dropped}"
    );
    assert!(dropped["droppedBytes"].as_u64().unwrap() > 0, "{dropped}");
    assert!(dropped["reason"].as_str().is_some_and(|r| !r.is_empty()));
}

fn check_all_events(lines: &Lines, outcomes: &[lambdascope_sandbox::InvokeOutcome]) {
    let result = checker_result(lines);
    assert_eq!(result["ok"], true, "problems: {}", result["problems"]);
    let ids: Vec<&str> = result["invokes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["requestId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            outcomes[0].request_id.as_str(),
            outcomes[1].request_id.as_str()
        ]
    );
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
            result["types"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == kind),
            "missing {kind} in {}",
            result["types"]
        );
    }
    // The invoke lasts until the extension is back on `next` (it sleeps 50 ms per INVOKE).
    assert!(
        outcomes[1].metrics.duration_ms >= 50.0,
        "{:?}",
        outcomes[1].metrics
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn runtime_done_reaches_an_extension_before_it_returns_to_next() {
    // An extension that flushes at the end of an invoke waits for platform.runtimeDone; Lambda
    // sends it when the runtime is done, not after the extensions' tail.
    let (lines, outcomes) =
        run_checker_with(Isolation::Auto, &[("CHECKER_AWAIT_RUNTIME_DONE", "1")]).await;
    let result = checker_result(&lines);
    assert_eq!(result["ok"], true, "{result}");
    for outcome in &outcomes {
        let wanted = format!("checker saw runtimeDone before next {}", outcome.request_id);
        assert!(lines.text().contains(&wanted), "{wanted}\n{}", lines.text());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_deliveries_are_retried_and_init_events_replayed() {
    // The listener starts 300 ms after subscribing: the first deliveries are refused.
    let (lines, _) = run_checker_with(Isolation::Auto, &[("CHECKER_LISTEN_DELAY", "0.3")]).await;
    let result = checker_result(&lines);
    assert_eq!(result["ok"], true, "problems: {}", result["problems"]);
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
    config.env.insert("CHECKER_PORT".into(), free_port());
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
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nfrom host",
            );
        }
    });
    let (mut config, _) = function("basic", "app.fetch");
    config.isolation = Isolation::Namespaces;
    let url = format!("http://host.lambdascope.internal:{port}/x");
    config.env.insert("TARGET_URL".into(), url.clone());
    let mut sandbox = Sandbox::start(config).await.unwrap();
    let outcome = sandbox
        .invoke(InvokeRequest::new(
            serde_json::json!({ "url": url }).to_string(),
        ))
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
    assert!(
        outcome.metrics.max_memory_used_mb >= 120,
        "{:?}",
        outcome.metrics
    );
    assert!(sandbox.is_cold());
    let next = sandbox
        .invoke(InvokeRequest::new(r#"{"mb":10}"#))
        .await
        .unwrap();
    assert_eq!(next.status, Status::Success, "{next:?}");
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_extension_crashing_mid_invoke_fails_the_invoke_and_resets() {
    let (mut config, lines) = function("basic", "app.ok");
    config.layers.push(fixtures().join("layers/crasher"));
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    assert_eq!(outcome.status, Status::Failure, "{outcome:?}");
    assert_eq!(outcome.error_type.as_deref(), Some("Extension.Crash"));
    assert!(
        lines.text().contains("crasher got INVOKE"),
        "{}",
        lines.text()
    );
    assert!(sandbox.is_cold());
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sequential_namespaced_sandboxes_each_see_their_own_files() {
    // Namespaces are reused after a sandbox ends: each new sandbox must see only its own mounts.
    let dir = tempfile::tempdir().unwrap();
    for i in 0..4 {
        let code = dir.path().join(format!("code{i}"));
        std::fs::create_dir_all(&code).unwrap();
        std::fs::write(
            code.join("app.py"),
            format!(
                "import os\n\ndef handler(event, context):\n    return {{'task': sorted(os.listdir('/var/task')), 'opt': sorted(os.listdir('/opt')), 'tmp': sorted(os.listdir('/tmp')), 'n': {i}}}\n"
            ),
        )
        .unwrap();
        std::fs::write(code.join(format!("only_in_{i}.txt")), "x").unwrap();
        let mut config = lambdascope_sandbox::FunctionConfig::new("seq", &code, "app.handler");
        config.isolation = Isolation::Namespaces;
        if i % 2 == 1 {
            config.layers.push(fixtures().join("layers/checker"));
            config.env.insert("CHECKER_PORT".into(), "8125".into());
        }
        let mut sandbox = Sandbox::start(config).await.unwrap();
        let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
        assert_eq!(outcome.status, Status::Success, "{outcome:?}");
        let body = json(&outcome.payload);
        assert_eq!(body["n"], i);
        assert!(
            body["task"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f == &format!("only_in_{i}.txt")),
            "{body}"
        );
        assert_eq!(body["task"].as_array().unwrap().len(), 2, "{body}");
        let expected_opt = if i % 2 == 1 {
            serde_json::json!(["extensions"])
        } else {
            serde_json::json!([])
        };
        assert_eq!(body["opt"], expected_opt, "{body}");
        sandbox.shutdown().await;
        // Let the ended sandbox's tasks finish so that its namespaces can be reused.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
