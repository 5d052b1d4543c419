//! Compatibility: the same extension binary installed as `extensions/datadog-agent`, beside
//! Datadog's real `datadog-lambda` package (pinned in tests/layers/datadog-lambda-requirements.txt,
//! installed from PyPI into a layer's `python/`). `lambda_metric` detects the extension by that
//! file name and sends DogStatsD; the metrics must reach the intake.

mod support;

use std::time::Duration;

use lambdascope_sandbox::{FunctionConfig, InvokeRequest, Sandbox, Status};
use support::{extension_layer, functions_dir, has_tag, pip_layer, unique, Intake, Lines, API_KEY};

#[tokio::test(flavor = "multi_thread")]
async fn datadog_lambda_metrics_reach_the_intake_through_the_extension_named_datadog_agent() {
    let ddl = tokio::task::spawn_blocking(|| {
        pip_layer("datadog-lambda-requirements.txt", "datadog_lambda")
    })
    .await
    .unwrap();
    let intake = Intake::start().await;
    let ext = extension_layer("datadog-agent");
    let mut config = FunctionConfig::new(
        unique("e2e-compat"),
        functions_dir().join("ddcompat"),
        "app.handler",
    );
    let url = format!("http://host.lambdascope.internal:{}", intake.port());
    for (k, v) in [
        ("DD_API_KEY", API_KEY),
        ("DD_DD_URL", url.as_str()),
        ("DD_LOGS_CONFIG_LOGS_DD_URL", url.as_str()),
        ("DD_TRACE_ENABLED", "false"),
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
    let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    assert_eq!(outcome.status, Status::Success, "{}", lines.text());
    sandbox.shutdown().await;

    let orders = intake
        .eventually("compat.orders", || async {
            let s = intake.sketches("compat.orders").await;
            (!s.is_empty(), s)
        })
        .await;
    assert_eq!(orders[0]["count"], 1);
    assert_eq!(orders[0]["sum"], 3.0);
    assert!(has_tag(&orders[0], "product:widget"), "{}", orders[0]);
    assert!(
        orders[0]["tags"].as_array().unwrap().iter().any(|t| t
            .as_str()
            .unwrap()
            .starts_with("dd_lambda_layer:datadog-python")),
        "datadog-lambda's own tag is kept: {}",
        orders[0]
    );
    assert_eq!(intake.sketch_count("compat.latency").await, 1);
    assert_eq!(
        intake.sketch_count("aws.lambda.enhanced.invocations").await,
        1
    );
    let logs = intake.logs(&outcome.request_id).await;
    assert!(logs.iter().any(|l| l["message"]
        .as_str()
        .unwrap_or("")
        .contains("compat handler done")));
}
