//! The macro's `bootstrap` runs as a `provided.al2023` function in the lambdascope sandbox and
//! answers a real CloudFormation macro request (the shape CloudFormation sends after the SAM
//! transform) with the instrumented fragment.

use lambdascope_sandbox::{FunctionConfig, InvokeRequest, Sandbox, Status};
use serde_json::{json, Value};

fn macro_function() -> (FunctionConfig, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_bootstrap"),
        dir.path().join("bootstrap"),
    )
    .unwrap();
    let mut config = FunctionConfig::new("lambdascope-macro", dir.path(), "bootstrap");
    config.runtime = "provided.al2023".into();
    config.memory_mb = 256;
    config.timeout = std::time::Duration::from_secs(10);
    config.region = "eu-west-1".into();
    (config, dir)
}

/// A request as CloudFormation sends it for a template-level `Transform`.
fn macro_request(params: Value) -> String {
    json!({
        "region": "eu-west-1",
        "accountId": "123456789012",
        "requestId": "5f0e8b7e-5e3c-4b4b-9f5e-2b1f5f8c9d10",
        "transformId": "123456789012::LambdaScopeServerless",
        "params": params,
        "templateParameterValues": {"Stage": "prod"},
        "fragment": {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Parameters": {"Stage": {"Type": "String"}},
            "Resources": {
                "OrdersRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}},
                "Orders": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Code": {"S3Bucket": "artifacts", "S3Key": "orders.zip"},
                        "Handler": "app.handler",
                        "Role": {"Fn::GetAtt": ["OrdersRole", "Arn"]},
                        "Runtime": "python3.12",
                        "Architectures": ["arm64"],
                        "Environment": {"Variables": {"STAGE": {"Ref": "Stage"}}},
                        "Tags": [{"Key": "lambda:createdBy", "Value": "SAM"}]
                    }
                },
                "Frontend": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {"Code": {"ZipFile": "x"}, "Handler": "index.handler", "Runtime": "nodejs20.x",
                                   "Role": {"Fn::GetAtt": ["OrdersRole", "Arn"]}}
                }
            }
        }
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn macro_runs_in_the_sandbox_and_returns_the_instrumented_fragment() {
    let (config, _dir) = macro_function();
    let mut sandbox = Sandbox::start(config).await.unwrap();

    let params = json!({"layers": "datadog", "site": "datadoghq.eu",
        "apiKeySecretArn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:dd", "service": "shop"});
    let outcome = sandbox
        .invoke(InvokeRequest::new(macro_request(params)))
        .await
        .unwrap();
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
    let response: Value = serde_json::from_slice(&outcome.payload).unwrap();
    assert_eq!(response["status"], "success", "{response}");
    assert_eq!(
        response["requestId"],
        "5f0e8b7e-5e3c-4b4b-9f5e-2b1f5f8c9d10"
    );
    let orders = &response["fragment"]["Resources"]["Orders"]["Properties"];
    assert_eq!(orders["Handler"], "datadog_lambda.handler.handler");
    assert_eq!(
        orders["Layers"],
        json!([
            "arn:aws:lambda:eu-west-1:464622532012:layer:Datadog-Python312-ARM:128",
            "arn:aws:lambda:eu-west-1:464622532012:layer:Datadog-Extension-ARM:100"
        ])
    );
    let vars = &orders["Environment"]["Variables"];
    assert_eq!(vars["STAGE"], json!({"Ref": "Stage"}));
    assert_eq!(vars["DD_LAMBDA_HANDLER"], "app.handler");
    assert_eq!(vars["DD_SITE"], "datadoghq.eu");
    assert_eq!(vars["DD_SERVICE"], "shop");
    assert_eq!(
        response["fragment"]["Resources"]["Frontend"]["Properties"]["Handler"],
        "index.handler"
    );

    // A bad request is a `failure` answer with the message, not a crashed function.
    let outcome = sandbox
        .invoke(InvokeRequest::new(macro_request(
            json!({"layers": "datadog"}),
        )))
        .await
        .unwrap();
    assert_eq!(outcome.status, Status::Success, "{outcome:?}");
    let response: Value = serde_json::from_slice(&outcome.payload).unwrap();
    assert_eq!(response["status"], "failure");
    assert!(response["errorMessage"]
        .as_str()
        .unwrap()
        .contains("resource Orders: an extension layer is added but no API key is configured"));
    assert!(
        outcome.log_tail.contains("REPORT RequestId:"),
        "{}",
        outcome.log_tail
    );
    sandbox.shutdown().await;
}
