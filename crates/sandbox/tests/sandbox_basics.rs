//! Real awslambdaric handlers in the sandbox: success, errors, timeouts, crashes, limits.

mod support;

use std::time::Duration;

use lambdascope_sandbox::{InvokeRequest, Isolation, Sandbox, Status};
use serde_json::Value;
use support::{function, json};

#[tokio::test(flavor = "multi_thread")]
async fn success_returns_the_handler_result_with_lambda_context() {
    let (config, lines) = function("basic", "app.ok");
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let outcome = sandbox
        .invoke(InvokeRequest {
            client_context: Some(r#"{"custom":{"k":"v"},"env":{},"client":{}}"#.into()),
            cognito_identity: Some(
                r#"{"cognitoIdentityId":"id-1","cognitoIdentityPoolId":"pool-1"}"#.into(),
            ),
            trace_id: Some(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into(),
            ),
            ..InvokeRequest::new(r#"{"name":"world"}"#)
        })
        .await
        .unwrap();
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
    assert_eq!(outcome.function_error, None);
    let body = json(&outcome.payload);
    assert_eq!(body["echo"]["name"], "world");
    assert_eq!(body["request_id"], outcome.request_id.as_str());
    assert_eq!(body["memory"], "128");
    assert!(
        body["trace"].as_str().unwrap().starts_with("Root=1-"),
        "{body}"
    );
    let remaining = body["remaining_ms"].as_i64().unwrap();
    assert!(remaining > 0 && remaining <= 3000, "{remaining}");
    assert!(outcome.metrics.init_duration_ms.is_some());
    assert!(outcome.metrics.max_memory_used_mb > 0);
    assert!(
        outcome.log_tail.contains("hello from ok"),
        "{}",
        outcome.log_tail
    );
    assert!(outcome
        .log_tail
        .contains(&format!("START RequestId: {}", outcome.request_id)));
    assert!(outcome.log_tail.contains("REPORT RequestId:"));
    let second = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    assert_eq!(second.status, Status::Success);
    assert_eq!(
        second.metrics.init_duration_ms, None,
        "a warm invoke has no init"
    );
    sandbox.shutdown().await;
    let all = lines.text();
    assert!(
        all.contains("[INFO]") && all.contains("logged at info"),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_raised_exception_is_an_unhandled_function_error() {
    let (config, _) = function("basic", "app.boom");
    let mut sandbox = Sandbox::start(config).await.unwrap();
    let outcome = sandbox
        .invoke(InvokeRequest::new(r#"{"x":1}"#))
        .await
        .unwrap();
    assert_eq!(outcome.status, Status::Error);
    assert_eq!(outcome.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(outcome.error_type.as_deref(), Some("ValueError"));
    let body = json(&outcome.payload);
    assert_eq!(body["errorType"], "ValueError");
    assert_eq!(body["errorMessage"], r#"kaboom: {"x": 1}"#);
    assert!(body["stackTrace"].is_array());
    // The environment stays warm after a handled error.
    assert!(!sandbox.is_cold());
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_error_fails_init_and_every_invoke() {
    let (config, lines) = function("broken", "app.handler");
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    assert_eq!(outcome.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(outcome.status, Status::Error);
    let body = json(&outcome.payload);
    assert_eq!(body["errorType"], "RuntimeError", "{body}");
    assert_eq!(body["errorMessage"], "init explodes");
    assert!(lines.text().contains("INIT_REPORT"), "{}", lines.text());
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_resets_the_environment_and_the_next_invoke_is_cold() {
    let (mut config, _) = function("basic", "app.sleepy");
    config.timeout = Duration::from_secs(1);
    let mut sandbox = Sandbox::start(config).await.unwrap();
    let outcome = sandbox
        .invoke(InvokeRequest::new(r#"{"seconds":30}"#))
        .await
        .unwrap();
    assert_eq!(outcome.status, Status::Timeout);
    assert_eq!(outcome.error_type.as_deref(), Some("Sandbox.Timedout"));
    let body = json(&outcome.payload);
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Task timed out after 1.00 seconds"),
        "{body}"
    );
    assert!(
        outcome.log_tail.contains("Status: timeout"),
        "{}",
        outcome.log_tail
    );
    assert!(sandbox.is_cold());
    let next = sandbox
        .invoke(InvokeRequest::new(r#"{"seconds":0}"#))
        .await
        .unwrap();
    assert_eq!(next.status, Status::Success, "{next:?}");
    assert_eq!(json(&next.payload), Value::from("woke up"));
    assert!(
        next.metrics.init_duration_ms.is_some(),
        "the invoke after a timeout is a cold start"
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runtime_that_exits_mid_invoke_is_a_failure() {
    let (config, _) = function("basic", "app.die");
    let mut sandbox = Sandbox::start(config).await.unwrap();
    let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    assert_eq!(outcome.status, Status::Failure);
    assert_eq!(outcome.error_type.as_deref(), Some("Runtime.ExitError"));
    let body = json(&outcome.payload);
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Runtime exited with error: exit status 3"),
        "{body}"
    );
    assert!(outcome.log_tail.contains("about to exit"));
    assert!(sandbox.is_cold());
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_response_over_6_mib_is_refused() {
    let (config, _) = function("basic", "app.big");
    let mut sandbox = Sandbox::start(config).await.unwrap();
    let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    assert_eq!(outcome.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        outcome.error_type.as_deref(),
        Some("Function.ResponseSizeTooLarge"),
        "{outcome:?}"
    );
    assert!(outcome.payload.len() < 1024);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_log_format_writes_json_records() {
    let (mut config, lines) = function("basic", "app.ok");
    config
        .env
        .insert("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into());
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    assert_eq!(outcome.status, Status::Success);
    sandbox.shutdown().await;
    let records: Vec<Value> = lines
        .text()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let info = records
        .iter()
        .find(|r| r["message"] == "logged at info")
        .unwrap_or_else(|| panic!("no JSON log record in {}", lines.text()));
    assert_eq!(info["level"], "INFO");
    assert_eq!(info["requestId"], outcome.request_id.as_str());
    assert!(records.iter().any(|r| r["type"] == "platform.report"
        && r["record"]["requestId"] == outcome.request_id.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn host_isolation_runs_the_function_on_host_paths() {
    let (mut config, _) = function("basic", "app.env");
    config.isolation = Isolation::Host;
    config
        .env
        .insert("TARGET".into(), "http://host.lambdascope.internal:9".into());
    let mut sandbox = Sandbox::start(config).await.unwrap();
    assert_eq!(sandbox.isolation(), Isolation::Host);
    let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    let body = json(&outcome.payload);
    assert_eq!(body["env"]["TARGET"], "http://127.0.0.1:9");
    let root = body["env"]["LAMBDA_TASK_ROOT"].as_str().unwrap();
    assert_ne!(root, "/var/task");
    assert_eq!(
        body["env"]["AWS_LAMBDA_RUNTIME_API"]
            .as_str()
            .unwrap()
            .split(':')
            .next(),
        Some("127.0.0.1")
    );
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_apis_refuse_bad_calls_with_lambdas_error_codes() {
    let (config, _) = function("basic", "app.probe");
    let mut sandbox = Sandbox::start(config).await.unwrap();
    let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
    let body = json(&outcome.payload);
    let expect = [
        ("unknown_id", 400, "InvalidRequestID"),
        ("init_error_late", 403, "InvalidStateTransition"),
        ("next_no_id", 403, "Extension.MissingExtensionIdentifier"),
        ("next_bad_id", 403, "Extension.InvalidExtensionIdentifier"),
        ("register_late", 403, "Extension.RegistrationClosed"),
        ("register_no_name", 403, "Extension.InvalidExtensionName"),
        (
            "subscribe_unknown",
            403,
            "Extension.UnknownExtensionIdentifier",
        ),
    ];
    for (key, status, error_type) in expect {
        assert_eq!(body[key][0], status, "{key}: {}", body[key]);
        assert_eq!(
            body[key][1]["errorType"], error_type,
            "{key}: {}",
            body[key]
        );
    }
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runtime_that_is_not_installed_runs_on_python3_with_a_warning() {
    // python3.14 is not installed on the test machines; the sandbox substitutes python3.
    let (mut config, _) = function("basic", "app.env");
    config.runtime = "python3.14".into();
    let mut sandbox = Sandbox::start(config).await.unwrap();
    let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
    let body = json(&outcome.payload);
    assert_eq!(body["env"]["AWS_EXECUTION_ENV"], "AWS_Lambda_python3.14");
    sandbox.shutdown().await;
}
