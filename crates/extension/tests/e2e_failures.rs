//! End to end: what the user sees when the function fails — a timeout, an OOM kill by the
//! cgroup, Python's MemoryError, a runtime crash. Data produced before the failure must reach
//! the intake, and the failure must be counted.

mod support;

use std::time::Duration;

use lambdascope_sandbox::{InvokeOutcome, InvokeRequest, Sandbox, Status};
use serde_json::Value;
use support::{extension_layer, function, unique, Intake, Lines};

async fn run_one(
    intake: &Intake,
    handler: &str,
    payload: &str,
    tweak: impl FnOnce(&mut lambdascope_sandbox::FunctionConfig),
) -> (InvokeOutcome, Lines) {
    let layer = extension_layer("lambdascope");
    let mut config = function(&unique(handler), handler, intake.port(), &[layer.path()]);
    config.timeout = Duration::from_secs(3);
    tweak(&mut config);
    let lines = Lines::default();
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let outcome = sandbox
        .invoke(InvokeRequest::new(payload.to_string()))
        .await
        .unwrap();
    sandbox.shutdown().await;
    (outcome, lines)
}

async fn count(intake: &Intake, metric: &str, want: u64) -> u64 {
    intake
        .eventually(metric, || async {
            let n = intake.sketch_count(metric).await;
            (n == want, n)
        })
        .await
}

async fn request_logs(intake: &Intake, request_id: &str, needle: &str) -> Vec<Value> {
    intake
        .eventually(needle, || async {
            let logs = intake.logs(request_id).await;
            (
                logs.iter()
                    .any(|l| l["message"].as_str().unwrap_or("").contains(needle)),
                logs,
            )
        })
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_is_counted_and_its_data_is_not_lost() {
    let intake = Intake::start().await;
    let (outcome, lines) = run_one(&intake, "app.sleepy", r#"{"seconds": 30}"#, |_| {}).await;
    assert_eq!(outcome.status, Status::Timeout, "{}", lines.text());
    let logs = request_logs(&intake, &outcome.request_id, "Status: timeout").await;
    assert!(logs
        .iter()
        .any(|l| l["message"].as_str().unwrap().contains("going to sleep")));
    let report = logs
        .iter()
        .find(|l| l["message"].as_str().unwrap().starts_with("REPORT"))
        .unwrap();
    assert_eq!(report["status"], "error");
    assert_eq!(count(&intake, "aws.lambda.enhanced.timeouts", 1).await, 1);
    assert_eq!(count(&intake, "aws.lambda.enhanced.errors", 1).await, 1);
    assert_eq!(intake.series_sum("e2e.before_timeout").await, 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oom_kill_is_counted_once_and_its_data_is_not_lost() {
    let intake = Intake::start().await;
    let (outcome, lines) =
        run_one(&intake, "app.hog", r#"{"mb": 2048}"#, |c| c.memory_mb = 128).await;
    assert_ne!(outcome.status, Status::Success, "{}", lines.text());
    assert_eq!(
        outcome.error_type.as_deref(),
        Some("Runtime.OutOfMemory"),
        "{}",
        lines.text()
    );
    request_logs(&intake, &outcome.request_id, "allocating").await;
    assert_eq!(
        count(&intake, "aws.lambda.enhanced.out_of_memory", 1).await,
        1
    );
    assert_eq!(count(&intake, "aws.lambda.enhanced.errors", 1).await, 1);
    assert_eq!(intake.series_sum("e2e.before_oom").await, 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_memory_error_counts_as_out_of_memory() {
    let intake = Intake::start().await;
    let (outcome, lines) = run_one(&intake, "app.memory_error", "{}", |_| {}).await;
    assert_eq!(outcome.status, Status::Error, "{}", lines.text());
    let logs = request_logs(&intake, &outcome.request_id, "MemoryError").await;
    let line = logs
        .iter()
        .find(|l| l["message"].as_str().unwrap().contains("MemoryError"))
        .unwrap();
    assert_eq!(line["status"], "error");
    assert_eq!(
        count(&intake, "aws.lambda.enhanced.out_of_memory", 1).await,
        1
    );
    assert_eq!(count(&intake, "aws.lambda.enhanced.errors", 1).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_runtime_crash_is_an_error_and_its_data_is_not_lost() {
    let intake = Intake::start().await;
    let (outcome, lines) = run_one(&intake, "app.crash", "{}", |_| {}).await;
    assert_eq!(
        outcome.error_type.as_deref(),
        Some("Runtime.ExitError"),
        "{}",
        lines.text()
    );
    request_logs(&intake, &outcome.request_id, "about to crash").await;
    assert_eq!(count(&intake, "aws.lambda.enhanced.errors", 1).await, 1);
    assert_eq!(intake.series_sum("e2e.before_crash").await, 1.0);
    assert_eq!(count(&intake, "aws.lambda.enhanced.shutdowns", 1).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_100k_metrics_in_one_invocation_arrives_whole() {
    let intake = Intake::start().await;
    let (outcome, lines) = run_one(&intake, "app.burst", r#"{"lines": 100000}"#, |c| {
        c.timeout = Duration::from_secs(20)
    })
    .await;
    assert_eq!(outcome.status, Status::Success, "{}", lines.text());
    assert_eq!(outcome.payload.as_ref(), b"100000");
    let sum = intake
        .eventually("burst counts", || async {
            let s = intake.series_sum("e2e.burst.count").await;
            (s == 50_000.0, s)
        })
        .await;
    assert_eq!(sum, 50_000.0);
    assert_eq!(count(&intake, "e2e.burst.dist", 50_000).await, 50_000);
}
