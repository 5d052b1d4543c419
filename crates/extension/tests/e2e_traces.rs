//! End to end, traces: the extension binary in the sandbox beside a real Python function
//! (awslambdaric) using the lambdascope library, shipping AgentPayloads to a real
//! `lambdascope server`. Assertions read the server's query API: what a user would see.

mod support;

use std::path::Path;

use lambdascope_sandbox::{FunctionConfig, InvokeRequest, Sandbox, Status};
use serde_json::{json, Value};
use support::{extension_layer, functions_dir, library_layer, unique, Intake, Lines, API_KEY};

fn traced_function(
    name: &str,
    handler: &str,
    intake_port: u16,
    layers: &[&Path],
) -> FunctionConfig {
    let mut config = FunctionConfig::new(
        name,
        functions_dir().join("traced"),
        "lambdascope.handler.handler",
    );
    let url = format!("http://host.lambdascope.internal:{intake_port}");
    for (k, v) in [
        ("DD_API_KEY", API_KEY.to_string()),
        ("DD_DD_URL", url.clone()),
        ("DD_LOGS_CONFIG_LOGS_DD_URL", url.clone()),
        ("DD_APM_DD_URL", url),
        ("DD_ENV", "e2e".to_string()),
        ("DD_LOG_LEVEL", "debug".to_string()),
        ("DD_SERVERLESS_FLUSH_STRATEGY", "end".to_string()),
        ("DD_LAMBDA_HANDLER", handler.to_string()),
        ("LAMBDASCOPE_EXTENSION", "1".to_string()),
    ] {
        config.env.insert(k.to_string(), v);
    }
    config.layers = layers.iter().map(|p| p.to_path_buf()).collect();
    config.timeout = std::time::Duration::from_secs(10);
    config
}

fn span<'a>(trace: &'a Value, name: &str) -> &'a Value {
    trace["spans"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == name))
        .unwrap_or_else(|| panic!("no {name} span in {trace}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_gateway_request_becomes_one_trace_with_inferred_invocation_and_user_spans() {
    let intake = Intake::start().await;
    let ext = extension_layer("lambdascope");
    let lib = library_layer();
    let name = unique("e2e-traces");
    let config = traced_function(
        &name,
        "app.handler",
        intake.port(),
        &[ext.path(), lib.path()],
    );
    let lines = Lines::default();
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let event = json!({
        "resource": "/coffee", "path": "/coffee", "httpMethod": "POST", "status": 503,
        "headers": {"x-datadog-trace-id": "4242424242", "x-datadog-parent-id": "17", "x-datadog-sampling-priority": "1"},
        "requestContext": {"stage": "prod", "apiId": "cafe1", "domainName": "cafe1.execute-api.us-east-1.amazonaws.com",
                           "requestTimeEpoch": 1700000000000u64, "resourcePath": "/coffee", "httpMethod": "POST",
                           "path": "/prod/coffee", "identity": {"userAgent": "e2e"}}
    });
    let out = sandbox
        .invoke(InvokeRequest::new(event.to_string()))
        .await
        .unwrap();
    assert_eq!(out.status, Status::Success, "{}", lines.text());
    sandbox.shutdown().await;

    let trace = intake
        .eventually("the trace of the request", || async {
            let t = intake.get("/api/traces/4242424242").await;
            let n = t["spans"].as_array().map_or(0, Vec::len);
            (n >= 3, t)
        })
        .await;
    let apigw = span(&trace, "aws.apigateway");
    let lambda = span(&trace, "aws.lambda");
    let user = span(&trace, "get_coffee");
    assert_eq!(apigw["parent_id"], "17", "the caller's span is the parent");
    assert_eq!(
        apigw["service"],
        "cafe1.execute-api.us-east-1.amazonaws.com"
    );
    assert_eq!(apigw["resource"], "POST /coffee");
    assert_eq!(lambda["parent_id"], apigw["span_id"]);
    assert_eq!(
        user["parent_id"], lambda["span_id"],
        "user spans hang under aws.lambda"
    );
    assert_eq!(user["meta"]["customer"], "c-1");
    assert_eq!(
        lambda["error"], true,
        "a 503 response marks the invocation as an error"
    );
    assert_eq!(lambda["meta"]["http.status_code"], "503");
    assert_eq!(
        lambda["meta"]["function_trigger.event_source"],
        "api-gateway"
    );
    assert_eq!(lambda["meta"]["cold_start"], "true");
    assert_eq!(lambda["meta"]["request_id"], out.request_id.as_str());
    assert_eq!(lambda["type"], "serverless");
    assert!(trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["meta"]["_dd.origin"] == "lambda"));
    // Only one aws.lambda: the library's stand-in is not a second span.
    let lambdas = trace["spans"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == "aws.lambda")
        .count();
    assert_eq!(lambdas, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_without_a_library_still_gets_its_invocation_span_from_telemetry() {
    let intake = Intake::start().await;
    let ext = extension_layer("lambdascope");
    let name = unique("e2e-traces-plain");
    let mut config = traced_function(&name, "plain.handler", intake.port(), &[ext.path()]);
    config.handler = "plain.handler".into();
    config.env.remove("LAMBDASCOPE_EXTENSION");
    let lines = Lines::default();
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let out = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    assert_eq!(out.status, Status::Success, "{}", lines.text());
    sandbox.shutdown().await;
    let spans = intake
        .eventually("the aws.lambda span", || async {
            let s = intake.get("/api/spans?name=aws.lambda&limit=10").await;
            let found = s["items"].as_array().is_some_and(|i| {
                i.iter()
                    .any(|s| s["meta"]["request_id"] == out.request_id.as_str())
            });
            (found, s)
        })
        .await;
    let lambda = spans["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["meta"]["request_id"] == out.request_id.as_str())
        .unwrap();
    assert_eq!(lambda["error"], false);
    assert_eq!(lambda["meta"]["functionname"], name.to_lowercase().as_str());
    assert_eq!(lambda["resource"], name.as_str());
}
