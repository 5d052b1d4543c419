//! End to end: the extension binary in the lambdascope sandbox beside a real Python function
//! (awslambdaric), shipping to a real `lambdascope server`. Assertions read the server's
//! query API, i.e. what a user would see.

mod support;

use lambdascope_sandbox::{InvokeRequest, Sandbox, Status};
use serde_json::Value;
use support::{extension_layer, function, has_tag, unique, Intake, Lines};

const ENHANCED_ALWAYS: [&str; 11] = [
    "invocations",
    "duration",
    "billed_duration",
    "runtime_duration",
    "post_runtime_duration",
    "init_duration",
    "max_memory_used",
    "memorysize",
    "estimated_cost",
    "produced_bytes",
    "shutdowns",
];

fn message(item: &Value) -> &str {
    item["message"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_custom_metrics_and_enhanced_metrics_reach_the_intake() {
    let intake = Intake::start().await;
    let layer = extension_layer("lambdascope");
    let name = unique("e2e-basic");
    let mut config = function(&name, "app.handler", intake.port(), &[layer.path()]);
    config
        .env
        .insert("DD_SERVERLESS_FLUSH_STRATEGY".into(), "end".into());
    let lines = Lines::default();
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let first = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    let second = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    assert_eq!(first.status, Status::Success, "{}", lines.text());
    assert_eq!(second.status, Status::Success);
    sandbox.shutdown().await;

    // Logs, with request id and status.
    let logs = intake
        .eventually("REPORT of the second invocation", || async {
            let logs = intake.logs(&second.request_id).await;
            (logs.iter().any(|l| message(l).starts_with("REPORT")), logs)
        })
        .await;
    let hello = logs
        .iter()
        .find(|l| message(l).contains("hello from the handler"))
        .expect("print line");
    assert_eq!(hello["status"], "info");
    let error = logs
        .iter()
        .find(|l| message(l).contains("an error line"))
        .expect("error line");
    assert_eq!(error["status"], "error");
    let warning = logs
        .iter()
        .find(|l| message(l).contains("a warning line"))
        .expect("warning line");
    assert_eq!(warning["status"], "warn");
    assert!(logs
        .iter()
        .any(|l| message(l).starts_with("START RequestId:")));
    assert!(logs
        .iter()
        .any(|l| message(l).starts_with("END RequestId:")));
    let first_logs = intake.logs(&first.request_id).await;
    let report = first_logs
        .iter()
        .find(|l| message(l).starts_with("REPORT"))
        .expect("first REPORT");
    assert!(
        message(report).contains("Init Duration:"),
        "{}",
        message(report)
    );

    // Custom metrics: counts summed over both invocations, every type accepted.
    assert_eq!(intake.series_sum("e2e.orders").await, 2.0);
    let orders = intake.metric("e2e.orders").await;
    let point = &orders["points"][0];
    for tag in [
        "shop:berlin",
        "env:e2e",
        "region:us-east-1",
        "account_id:123456789012",
        "architecture:x86_64",
    ] {
        assert!(has_tag(point, tag), "{tag} missing: {point}");
    }
    assert!(
        has_tag(point, &format!("functionname:{}", name.to_lowercase())),
        "{point}"
    );
    assert_eq!(intake.sketch_count("e2e.latency").await, 4);
    assert_eq!(
        intake.sketch_count("e2e.timer").await,
        4,
        "ms with @0.5 counts twice"
    );
    assert_eq!(intake.sketch_count("e2e.hist").await, 2);
    let temp = intake.metric("e2e.temp").await;
    assert_eq!(temp["points"][0]["value"], 21.0);
    assert_eq!(temp["points"][0]["type"], "gauge");
    assert!(intake.metric("e2e.users").await["points"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["value"] == 2.0));

    // Enhanced metrics.
    for metric in ENHANCED_ALWAYS {
        let full = format!("aws.lambda.enhanced.{metric}");
        assert!(
            !intake.sketches(&full).await.is_empty(),
            "{full} missing: {}\n{}",
            intake.metric(&full).await,
            lines.text()
        );
    }
    let invocations = intake.sketches("aws.lambda.enhanced.invocations").await;
    let cold: u64 = invocations
        .iter()
        .filter(|s| has_tag(s, "cold_start:true"))
        .map(|s| s["count"].as_u64().unwrap())
        .sum();
    let warm: u64 = invocations
        .iter()
        .filter(|s| has_tag(s, "cold_start:false"))
        .map(|s| s["count"].as_u64().unwrap())
        .sum();
    assert_eq!((cold, warm), (1, 1), "{invocations:?}");
    let durations = intake.sketches("aws.lambda.enhanced.duration").await;
    let reported_max = first.metrics.duration_ms.max(second.metrics.duration_ms) / 1000.0;
    let seen_max = durations
        .iter()
        .filter_map(|s| s["max"].as_f64())
        .fold(0.0, f64::max);
    assert!(
        (seen_max - reported_max).abs() <= reported_max / 100.0 + 1e-9,
        "duration {seen_max} vs report {reported_max}"
    );
    let memory = intake.sketches("aws.lambda.enhanced.memorysize").await;
    assert_eq!(memory[0]["max"], 128.0);
    let billed = intake.sketches("aws.lambda.enhanced.billed_duration").await;
    let billed_max = billed
        .iter()
        .filter_map(|s| s["max"].as_f64())
        .fold(0.0, f64::max);
    let reported_billed = first
        .metrics
        .billed_duration_ms
        .max(second.metrics.billed_duration_ms) as f64
        / 1000.0;
    assert!((billed_max - reported_billed).abs() <= reported_billed / 100.0 + 1e-9);
    assert!(intake
        .sketches("aws.lambda.enhanced.errors")
        .await
        .is_empty());

    // The server derives one invocation row per request from the REPORT lines (the contract).
    let rows = intake
        .eventually("invocation rows", || async {
            let page = intake
                .get(&format!("/api/functions/{name}/invocations"))
                .await;
            let items = page["items"].as_array().cloned().unwrap_or_default();
            (items.len() == 2, items)
        })
        .await;
    let row = |id: &str| {
        rows.iter()
            .find(|r| r["request_id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(row(&first.request_id)["cold_start"], true, "{rows:?}");
    assert_eq!(row(&second.request_id)["cold_start"], false);
    let reported = row(&second.request_id)["duration_ms"].as_f64().unwrap();
    assert!(
        (reported - second.metrics.duration_ms).abs() < 0.01,
        "{reported} vs {}",
        second.metrics.duration_ms
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_formatted_logs_keep_their_level_and_request_id() {
    let intake = Intake::start().await;
    let layer = extension_layer("lambdascope");
    let mut config = function(
        &unique("e2e-json"),
        "app.handler",
        intake.port(),
        &[layer.path()],
    );
    config.timeout = std::time::Duration::from_secs(3);
    config
        .env
        .insert("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into());
    let lines = Lines::default();
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    assert_eq!(outcome.status, Status::Success, "{}", lines.text());
    sandbox.shutdown().await;
    let logs = intake
        .eventually("the JSON error line", || async {
            let logs = intake.logs(&outcome.request_id).await;
            (
                logs.iter().any(|l| message(l).contains("an error line")),
                logs,
            )
        })
        .await;
    let error = logs
        .iter()
        .find(|l| message(l).contains("an error line"))
        .unwrap();
    assert_eq!(error["status"], "error", "{error}");
    let printed = logs
        .iter()
        .find(|l| message(l) == "hello from the handler")
        .expect("print line as text");
    assert_eq!(printed["status"], "info");
}
