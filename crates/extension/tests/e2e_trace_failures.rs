//! End to end, failures in traces: a handler that raises and one that times out, each with the
//! lambdascope library, in the sandbox, shipping to `lambdascope server`. The `aws.lambda` span
//! of each invocation says what went wrong.

mod support;

use std::time::Duration;

use lambdascope_sandbox::{FunctionConfig, InvokeRequest, Sandbox, Status};
use serde_json::Value;
use support::{extension_layer, functions_dir, library_layer, unique, Intake, Lines, API_KEY};

fn traced(name: &str, handler: &str, intake: u16, layers: &[&std::path::Path]) -> FunctionConfig {
    let mut config = FunctionConfig::new(
        name,
        functions_dir().join("traced"),
        "lambdascope.handler.handler",
    );
    let url = format!("http://host.lambdascope.internal:{intake}");
    for (k, v) in [
        ("DD_API_KEY", API_KEY.to_string()),
        ("DD_DD_URL", url.clone()),
        ("DD_LOGS_CONFIG_LOGS_DD_URL", url.clone()),
        ("DD_APM_DD_URL", url),
        ("DD_SERVERLESS_FLUSH_STRATEGY", "end".to_string()),
        ("DD_LAMBDA_HANDLER", handler.to_string()),
    ] {
        config.env.insert(k.to_string(), v);
    }
    config.layers = layers.iter().map(|p| p.to_path_buf()).collect();
    config
}

/// The `aws.lambda` span of `request_id`, found through the function's invocations.
async fn invocation_span(intake: &Intake, function: &str, request_id: &str) -> Value {
    intake
        .eventually("the invocation's aws.lambda span", || async {
            let page = intake
                .get(&format!("/api/functions/{function}/invocations"))
                .await;
            let trace_id = page["items"]
                .as_array()
                .and_then(|items| items.iter().find(|i| i["request_id"] == request_id))
                .and_then(|i| i["trace_id"].as_str().map(str::to_string));
            let Some(trace_id) = trace_id else {
                return (false, Value::Null);
            };
            let trace = intake.get(&format!("/api/traces/{trace_id}")).await;
            let span = trace["spans"]
                .as_array()
                .and_then(|s| {
                    s.iter().find(|s| {
                        s["name"] == "aws.lambda" && s["meta"]["request_id"] == request_id
                    })
                })
                .cloned();
            (span.is_some(), trace)
        })
        .await
}

fn find<'a>(trace: &'a Value, name: &str) -> &'a Value {
    trace["spans"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no {name} span in {trace}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exception_and_a_timeout_mark_their_invocation_spans() {
    let intake = Intake::start().await;
    let ext = extension_layer("lambdascope");
    let lib = library_layer();
    let layers = [ext.path(), lib.path()];

    let failing = unique("raises");
    let lines = Lines::default();
    let mut sandbox = Sandbox::start_with_log_sink(
        traced(&failing, "app.boom", intake.port(), &layers),
        Some(lines.sink()),
    )
    .await
    .unwrap();
    let out = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    assert_eq!(out.status, Status::Error, "{}", lines.text());
    sandbox.shutdown().await;
    let trace = invocation_span(&intake, &failing, &out.request_id).await;
    let lambda = find(&trace, "aws.lambda");
    assert_eq!(lambda["error"], true, "{lambda}");
    assert_eq!(lambda["meta"]["error.type"], "ValueError", "{lambda}");
    assert_eq!(lambda["meta"]["error.message"], "card declined", "{lambda}");
    assert!(
        lambda["meta"]["error.stack"]
            .as_str()
            .is_some_and(|s| s.contains("raise ValueError")),
        "{lambda}"
    );
    let user = find(&trace, "charge_card");
    assert_eq!(
        user["error"], true,
        "the user span records the exception too: {user}"
    );

    let slow = unique("times-out");
    let mut config = traced(&slow, "app.sleepy", intake.port(), &layers);
    config.timeout = Duration::from_secs(2);
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let out = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    assert_eq!(out.status, Status::Timeout, "{}", lines.text());
    sandbox.shutdown().await;
    let trace = invocation_span(&intake, &slow, &out.request_id).await;
    let lambda = find(&trace, "aws.lambda");
    assert_eq!(lambda["error"], true, "{lambda}");
    let reason = format!(
        "{} {}",
        lambda["meta"]["error.type"], lambda["meta"]["error.message"]
    );
    assert!(
        reason.to_lowercase().contains("time"),
        "the span names the timeout: {lambda}"
    );
}
