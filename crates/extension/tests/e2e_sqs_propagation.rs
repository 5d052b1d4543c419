//! End to end, trace propagation across functions: a function sends an SQS message with boto3 to a
//! real AWS API emulator (moto server); the lambdascope library injects the trace context into the
//! message; a second function consumes that message (as Lambda's SQS event source would deliver it)
//! and the extension continues the same trace. Assertions read the server's query API.

mod support;

use std::path::Path;
use std::process::Command;

use lambdascope_sandbox::{FunctionConfig, InvokeRequest, Sandbox, Status};
use serde_json::{json, Value};
use support::moto::{test_python, Moto};
use support::{
    extension_layer, functions_dir, library_layer, pip_layer, unique, Intake, Lines, API_KEY,
};

fn function(name: &str, handler: &str, intake: u16, moto: u16, layers: &[&Path]) -> FunctionConfig {
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
        (
            "MOTO_URL",
            format!("http://host.lambdascope.internal:{moto}"),
        ),
    ] {
        config.env.insert(k.to_string(), v);
    }
    config.layers = layers.iter().map(|p| p.to_path_buf()).collect();
    config.timeout = std::time::Duration::from_secs(20);
    config
}

/// Receives the queue's message from moto (with its attributes) as Lambda's SQS event source
/// would, and shapes it into the SQS event Lambda delivers.
fn receive_as_sqs_event(moto: &Moto, queue: &str) -> Value {
    let script = r#"
import json, sys, boto3
sqs = boto3.client("sqs", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
url = sqs.get_queue_url(QueueName=sys.argv[2])["QueueUrl"]
out = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"], WaitTimeSeconds=5)
print(json.dumps(out.get("Messages", [])))
"#;
    let output = Command::new(test_python())
        .args(["-c", script, &moto.url(), queue])
        .output()
        .expect("run python with boto3 (scripts/setup installs it)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let messages: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(messages.len(), 1, "the producer's message is in the queue");
    let m = &messages[0];
    let attributes: serde_json::Map<String, Value> = m["MessageAttributes"]
        .as_object()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                json!({"stringValue": v["StringValue"], "dataType": v["DataType"],
                       "stringListValues": [], "binaryListValues": []}),
            )
        })
        .collect();
    json!({"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m["Attributes"], "messageAttributes": attributes, "md5OfBody": m["MD5OfBody"],
        "eventSource": "aws:sqs", "awsRegion": "us-east-1",
        "eventSourceARN": format!("arn:aws:sqs:us-east-1:123456789012:{queue}")
    }]})
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sqs_message_sent_by_one_function_continues_its_trace_in_the_consumer() {
    let intake = Intake::start().await;
    let moto = Moto::start();
    let ext = extension_layer("lambdascope");
    let lib = library_layer();
    let boto3 = pip_layer("boto3-requirements.txt", "boto3");
    let layers = [ext.path(), lib.path(), boto3.as_path()];
    let producer_name = unique("producer");
    let consumer_name = unique("consumer");
    let queue = unique("orders");

    let lines = Lines::default();
    let producer = function(
        &producer_name,
        "orders.produce",
        intake.port(),
        moto.port,
        &layers,
    );
    let mut sandbox = Sandbox::start_with_log_sink(producer, Some(lines.sink()))
        .await
        .unwrap();
    let out = sandbox
        .invoke(InvokeRequest::new(json!({"queue": queue}).to_string()))
        .await
        .unwrap();
    assert_eq!(out.status, Status::Success, "{}", lines.text());
    sandbox.shutdown().await;

    let event = receive_as_sqs_event(&moto, &queue);
    let carrier: Value = serde_json::from_str(
        event["Records"][0]["messageAttributes"]["_datadog"]["stringValue"]
            .as_str()
            .expect("the library put a _datadog attribute on the message"),
    )
    .unwrap();
    let trace_id = carrier["x-datadog-trace-id"].as_str().unwrap().to_string();
    let publish_parent = carrier["x-datadog-parent-id"].as_str().unwrap().to_string();

    let consumer = function(
        &consumer_name,
        "orders.consume",
        intake.port(),
        moto.port,
        &layers,
    );
    let mut sandbox = Sandbox::start_with_log_sink(consumer, Some(lines.sink()))
        .await
        .unwrap();
    let out = sandbox
        .invoke(InvokeRequest::new(event.to_string()))
        .await
        .unwrap();
    assert_eq!(out.status, Status::Success, "{}", lines.text());
    sandbox.shutdown().await;

    let trace = intake
        .eventually("one trace across both functions", || async {
            let t = intake.get(&format!("/api/traces/{trace_id}")).await;
            let names: Vec<String> = t["spans"]
                .as_array()
                .map(|s| {
                    s.iter()
                        .filter_map(|s| s["name"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let done = names.iter().any(|n| n == "orders.consume")
                && names.iter().any(|n| n == "orders.publish");
            (done, t)
        })
        .await;
    let spans = trace["spans"].as_array().unwrap();
    let find = |pred: &dyn Fn(&Value) -> bool| -> &Value {
        spans
            .iter()
            .find(|s| pred(s))
            .unwrap_or_else(|| panic!("span missing in {trace}"))
    };
    let producer_lambda =
        find(&|s| s["name"] == "aws.lambda" && s["meta"]["functionname"] == producer_name.as_str());
    let publish = find(&|s| s["name"] == "orders.publish");
    let send = find(&|s| s["name"] == "aws.request" && s["meta"]["aws.operation"] == "SendMessage");
    let consumer_lambda =
        find(&|s| s["name"] == "aws.lambda" && s["meta"]["functionname"] == consumer_name.as_str());
    let consume = find(&|s| s["name"] == "orders.consume");
    assert_eq!(publish["parent_id"], producer_lambda["span_id"]);
    assert_eq!(send["parent_id"], publish["span_id"]);
    assert_eq!(
        send["span_id"],
        publish_parent.as_str(),
        "the message carries the SendMessage span"
    );
    // The consumer continues from the message: through the inferred SQS span when there is one.
    let inferred = spans.iter().find(|s| s["name"] == "aws.sqs");
    match inferred {
        Some(sqs) => {
            assert_eq!(sqs["parent_id"], send["span_id"]);
            assert_eq!(consumer_lambda["parent_id"], sqs["span_id"]);
        }
        None => assert_eq!(consumer_lambda["parent_id"], send["span_id"]),
    }
    assert_eq!(consume["parent_id"], consumer_lambda["span_id"]);
    assert_eq!(
        consumer_lambda["meta"]["function_trigger.event_source"],
        "sqs"
    );
}
