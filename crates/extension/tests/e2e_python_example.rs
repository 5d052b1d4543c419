//! End to end, the Python library's example (`examples/coffee-shop`, the installation guide's
//! custom span + custom metric handler written against lambdascope) behind an API Gateway event:
//! its spans, its metric and its logs reach `lambdascope server` correlated under one trace with
//! the inferred API Gateway span. Assertions read the server's query API.

mod support;

use std::path::Path;

use lambdascope_sandbox::{FunctionConfig, InvokeRequest, Sandbox, Status};
use serde_json::Value;
use support::{extension_layer, has_tag, library_layer, unique, Intake, Lines, API_KEY};

#[tokio::test(flavor = "multi_thread")]
async fn the_example_handler_is_one_trace_with_its_metric_and_logs() {
    let intake = Intake::start().await;
    let ext = extension_layer("lambdascope");
    let lib = library_layer();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/coffee-shop");
    let name = unique("coffee-shop");
    let mut config = FunctionConfig::new(&name, &example, "lambdascope.handler.handler");
    let url = format!("http://host.lambdascope.internal:{}", intake.port());
    for (k, v) in [
        ("DD_API_KEY", API_KEY.to_string()),
        ("DD_DD_URL", url.clone()),
        ("DD_LOGS_CONFIG_LOGS_DD_URL", url.clone()),
        ("DD_APM_DD_URL", url),
        ("DD_SERVERLESS_FLUSH_STRATEGY", "end".to_string()),
        ("DD_LAMBDA_HANDLER", "app.lambda_handler".to_string()),
    ] {
        config.env.insert(k.to_string(), v);
    }
    config.layers = vec![ext.path().to_path_buf(), lib.path().to_path_buf()];
    let event = std::fs::read(example.join("events/api-gateway.json")).unwrap();
    let lines = Lines::default();
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let out = sandbox.invoke(InvokeRequest::new(event)).await.unwrap();
    assert_eq!(out.status, Status::Success, "{}", lines.text());
    sandbox.shutdown().await;

    // The event's Datadog headers name the caller: trace 1234567890123456789, parent 987654321.
    let trace_id = "1234567890123456789";
    let trace = intake
        .eventually("the example's trace", || async {
            let t = intake.get(&format!("/api/traces/{trace_id}")).await;
            let n = t["spans"].as_array().map_or(0, Vec::len);
            (n >= 4, t)
        })
        .await;
    let spans = trace["spans"].as_array().unwrap();
    let span = |name: &str| -> &Value {
        spans
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no {name} span in {trace}"))
    };
    let apigw = span("aws.apigateway");
    let lambda = span("aws.lambda");
    let hello = span("hello.world");
    let wrapped = span("app.get_message");
    assert_eq!(apigw["parent_id"], "987654321");
    assert_eq!(lambda["parent_id"], apigw["span_id"]);
    assert_eq!(hello["parent_id"], lambda["span_id"]);
    assert_eq!(wrapped["parent_id"], lambda["span_id"]);
    assert_eq!(
        lambda["meta"]["customer.id"], "123456",
        "tags set on current_span() land on aws.lambda"
    );
    assert_eq!(lambda["meta"]["http.status_code"], "200");

    let sketches = intake
        .eventually("the custom metric", || async {
            let s = intake.sketches("coffee_house.order_value").await;
            (!s.is_empty(), s)
        })
        .await;
    assert!(
        sketches
            .iter()
            .any(|s| has_tag(s, "product:latte") && has_tag(s, "order:online")),
        "{sketches:?}"
    );

    let logs = intake
        .eventually("the function's logs", || async {
            let items = intake.logs(&out.request_id).await;
            let found = items.iter().any(|l| {
                l["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("brewing an order"))
            });
            (found, items)
        })
        .await;
    for text in ["Hello, World!", "brewing an order"] {
        let line = logs
            .iter()
            .find(|l| l["message"].as_str().is_some_and(|m| m.contains(text)))
            .unwrap_or_else(|| panic!("no log line {text:?} in {logs:?}"));
        assert_eq!(
            line["trace_id"], trace_id,
            "{text:?} is correlated with the trace: {line}"
        );
    }
}
