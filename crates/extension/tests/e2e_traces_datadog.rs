//! Compatibility, traces: Datadog's real `datadog-lambda` + `ddtrace` (PyPI, pinned in
//! tests/layers/datadog-lambda-requirements.txt) beside the extension installed as
//! `extensions/datadog-agent`. ddtrace sends msgpack to 8126 and builds `aws.lambda` and
//! the inferred span itself; the trace must reach the intake whole, with one `aws.lambda`.

mod support;

use std::time::Duration;

use lambdascope_sandbox::{FunctionConfig, InvokeRequest, Sandbox, Status};
use serde_json::json;
use support::{extension_layer, functions_dir, pip_layer, unique, Intake, Lines, API_KEY};

#[tokio::test(flavor = "multi_thread")]
async fn ddtrace_spans_reach_the_intake_with_a_single_invocation_span() {
    let ddl = tokio::task::spawn_blocking(|| {
        pip_layer("datadog-lambda-requirements.txt", "datadog_lambda")
    })
    .await
    .unwrap();
    let intake = Intake::start().await;
    let ext = extension_layer("datadog-agent");
    let mut config = FunctionConfig::new(
        unique("e2e-ddtrace"),
        functions_dir().join("ddtraced"),
        "datadog_lambda.handler.handler",
    );
    let url = format!("http://host.lambdascope.internal:{}", intake.port());
    for (k, v) in [
        ("DD_API_KEY", API_KEY),
        ("DD_DD_URL", url.as_str()),
        ("DD_LOGS_CONFIG_LOGS_DD_URL", url.as_str()),
        ("DD_APM_DD_URL", url.as_str()),
        ("DD_LAMBDA_HANDLER", "app.handler"),
        ("DD_TRACE_ENABLED", "true"),
        ("DD_SERVERLESS_FLUSH_STRATEGY", "end"),
    ] {
        config.env.insert(k.into(), v.into());
    }
    config.layers = vec![ddl, ext.path().to_path_buf()];
    config.timeout = Duration::from_secs(30);
    config.memory_mb = 512;
    let lines = Lines::default();
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let event = json!({
        "version": "2.0", "routeKey": "GET /brew", "rawPath": "/brew", "rawQueryString": "",
        "headers": {"x-datadog-trace-id": "5151515151", "x-datadog-parent-id": "23", "x-datadog-sampling-priority": "1"},
        "requestContext": {"apiId": "brew1", "domainName": "brew1.execute-api.us-east-1.amazonaws.com", "stage": "$default",
                           "http": {"method": "GET", "path": "/brew", "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4", "userAgent": "e2e"},
                           "requestId": "r", "routeKey": "GET /brew", "timeEpoch": 1700000000000u64},
        "isBase64Encoded": false
    });
    let out = sandbox
        .invoke(InvokeRequest::new(event.to_string()))
        .await
        .unwrap();
    assert_eq!(out.status, Status::Success, "{}", lines.text());
    sandbox.shutdown().await;

    let trace = intake
        .eventually("the ddtrace trace", || async {
            let t = intake.get("/api/traces/5151515151").await;
            let has_work = t["spans"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s["name"] == "compat.work"));
            (has_work, t)
        })
        .await;
    let spans = trace["spans"].as_array().unwrap();
    let names: Vec<&str> = spans.iter().filter_map(|s| s["name"].as_str()).collect();
    let lambdas: Vec<_> = spans.iter().filter(|s| s["name"] == "aws.lambda").collect();
    assert_eq!(
        lambdas.len(),
        1,
        "one aws.lambda, not ours and ddtrace's: {names:?}\n{}",
        lines.text()
    );
    let work = spans.iter().find(|s| s["name"] == "compat.work").unwrap();
    assert_eq!(work["meta"]["customer"], "c-2");
    assert_eq!(work["parent_id"], lambdas[0]["span_id"]);
    assert_eq!(lambdas[0]["meta"]["request_id"], out.request_id.as_str());
    assert!(spans.iter().all(|s| s["meta"]["_dd.origin"] == "lambda"));
}
