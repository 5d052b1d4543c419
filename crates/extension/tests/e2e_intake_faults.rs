//! End to end against a faulty intake: a fault-injecting proxy (a test fake) sits between the
//! extension and the real `lambdascope server`. Nothing that could be kept may be lost.

mod support;

use std::time::Duration;

use lambdascope_sandbox::{InvokeRequest, Sandbox, Status};
use support::fault_proxy::{Fault, FaultProxy};
use support::{extension_layer, function, unique, Intake, Lines};

async fn all_arrive(intake: &Intake, invocations: u64, request_ids: &[String]) {
    let orders = intake
        .eventually("every e2e.orders count", || async {
            let s = intake.series_sum("e2e.orders").await;
            (s == invocations as f64, s)
        })
        .await;
    assert_eq!(orders, invocations as f64);
    let n = intake
        .eventually("every invocation metric", || async {
            let n = intake.sketch_count("aws.lambda.enhanced.invocations").await;
            (n == invocations, n)
        })
        .await;
    assert_eq!(n, invocations);
    for id in request_ids {
        let logs = intake.logs(id).await;
        assert!(
            logs.iter().any(|l| l["message"]
                .as_str()
                .unwrap_or("")
                .contains("hello from the handler")),
            "logs of {id} missing"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_intake_answering_500_then_recovering_loses_nothing() {
    let intake = Intake::start().await;
    let proxy = FaultProxy::start(intake.port(), Fault::Status500).await;
    let layer = extension_layer("lambdascope");
    let mut config = function(
        &unique("e2e-500"),
        "app.handler",
        proxy.port,
        &[layer.path()],
    );
    config.timeout = Duration::from_secs(3);
    config
        .env
        .insert("DD_SERVERLESS_FLUSH_STRATEGY".into(), "end".into());
    let lines = Lines::default();
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
        assert_eq!(outcome.status, Status::Success, "{}", lines.text());
        ids.push(outcome.request_id);
    }
    assert!(
        proxy.failed.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "the fault was exercised"
    );
    proxy.set(Fault::Pass);
    let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    ids.push(outcome.request_id);
    sandbox.shutdown().await;
    all_arrive(&intake, 3, &ids).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_intake_down_until_shutdown_gets_everything_at_shutdown() {
    let intake = Intake::start().await;
    let proxy = FaultProxy::start(intake.port(), Fault::Down).await;
    let layer = extension_layer("lambdascope");
    let mut config = function(
        &unique("e2e-down"),
        "app.handler",
        proxy.port,
        &[layer.path()],
    );
    config.timeout = Duration::from_secs(3);
    config
        .env
        .insert("DD_SERVERLESS_FLUSH_STRATEGY".into(), "end".into());
    let lines = Lines::default();
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
        assert_eq!(outcome.status, Status::Success, "{}", lines.text());
        ids.push(outcome.request_id);
    }
    assert_eq!(
        proxy.forwarded.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    proxy.set(Fault::Pass);
    sandbox.shutdown().await;
    all_arrive(&intake, 3, &ids).await;
    assert!(
        lines.text().contains("flush failed; the payload is kept"),
        "{}",
        lines.text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_intake_does_not_delay_invocations_in_background_mode() {
    const DELAY: Duration = Duration::from_millis(700);
    let intake = Intake::start().await;
    let proxy = FaultProxy::start(intake.port(), Fault::Delay(DELAY)).await;
    let layer = extension_layer("lambdascope");
    let mut config = function(
        &unique("e2e-slow"),
        "app.handler",
        proxy.port,
        &[layer.path()],
    );
    config.timeout = Duration::from_secs(10);
    config.env.insert(
        "DD_SERVERLESS_FLUSH_STRATEGY".into(),
        "continuously,1".into(),
    );
    let lines = Lines::default();
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let mut ids = Vec::new();
    for _ in 0..4 {
        let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
        assert_eq!(outcome.status, Status::Success, "{}", lines.text());
        // The outcome, not a timing budget: the invocation did not wait for the intake.
        assert!(
            outcome.metrics.duration_ms < DELAY.as_secs_f64() * 1000.0,
            "invocation took {} ms: it waited for the slow intake",
            outcome.metrics.duration_ms
        );
        ids.push(outcome.request_id);
    }
    proxy.set(Fault::Pass);
    sandbox.shutdown().await;
    all_arrive(&intake, 4, &ids).await;
}
