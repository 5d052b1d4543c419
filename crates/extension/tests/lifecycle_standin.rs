//! The extension binary against a stand-in Lambda platform (a test fake, shared with the
//! benchmarks) where the real sandbox cannot reproduce the condition: a platform without the
//! Telemetry API (as the AWS RIE answers). The function must still be served and what can be
//! collected must still arrive.

#[path = "../benches/platform_standin.rs"]
#[allow(dead_code)]
mod platform_standin;
mod support;

use std::process::{Command, Stdio};

use platform_standin::StandIn;
use support::{Intake, API_KEY};

#[tokio::test(flavor = "multi_thread")]
async fn without_the_telemetry_api_invocations_proceed_and_metrics_still_arrive() {
    let intake = Intake::start().await;
    let standin = StandIn::start_with(true).await;
    let statsd_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{}", intake.port());
    let child = Command::new(env!("CARGO_BIN_EXE_lambdascope-extension"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", standin.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "no-telemetry")
        .env("DD_API_KEY", API_KEY)
        .env("DD_DD_URL", &url)
        .env("DD_LOGS_CONFIG_LOGS_DD_URL", &url)
        .env("DD_DOGSTATSD_PORT", statsd_port.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    standin.wait_next(1).await;
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 0..3 {
        // Short deadlines: without runtimeDone the end flush runs at the deadline.
        standin.invoke_within(&format!("req-{i}"), 1500);
        udp.send_to(b"standin.orders:1|c", ("127.0.0.1", statsd_port))
            .unwrap();
        standin.wait_next(i + 2).await;
    }
    standin.shutdown();
    let status = tokio::task::spawn_blocking(move || {
        let out = child.wait_with_output().unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    })
    .await
    .unwrap();
    assert!(status.0.success(), "exit {:?}: {}", status.0, status.1);
    assert!(
        status.1.contains("telemetry"),
        "the missing subscription is reported: {}",
        status.1
    );
    let sum = intake
        .eventually("orders", || async {
            let s = intake.series_sum("standin.orders").await;
            (s == 3.0, s)
        })
        .await;
    assert_eq!(sum, 3.0);
    assert_eq!(
        intake.sketch_count("aws.lambda.enhanced.invocations").await,
        3
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_in_the_extension_falls_back_to_only_calling_next() {
    let standin = StandIn::start_with(false).await;
    let statsd_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_lambdascope-extension"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", standin.addr.to_string())
        .env("DD_API_KEY", API_KEY)
        .env("DD_DD_URL", "http://127.0.0.1:9")
        .env("DD_DOGSTATSD_PORT", statsd_port.to_string())
        .env("LAMBDASCOPE_FAULT_INJECT", "panic-on-invoke")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    standin.wait_next(1).await;
    for i in 0..3 {
        standin.invoke(&format!("req-{i}"));
        // Every invoke is answered with another event/next: the function is never held up.
        standin.wait_next(i + 2).await;
    }
    standin.shutdown();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "exit {:?}: {text}", out.status);
    assert!(text.contains("the extension loop panicked"), "{text}");
    assert!(text.contains("only calling event/next"), "{text}");
}
