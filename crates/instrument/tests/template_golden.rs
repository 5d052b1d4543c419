//! Golden tests of the template transform: each `fixtures/<case>.{yaml,json}` with its
//! `<case>.params` (one `key=value` a line) must give `<case>.expected.{yaml,json}`.
//! `UPDATE_GOLDEN=1 cargo test -p lambdascope-instrument --test template_golden` rewrites them
//! (review the diff before committing).

use std::collections::BTreeMap;
use std::path::PathBuf;

use lambdascope_instrument::plan::{plan_instrument, FunctionConfig};
use lambdascope_instrument::runtime::Architecture;
use lambdascope_instrument::template::{
    parse_template, transform_text, TransformError, TransformParams,
};
use serde_yaml_ng::{Mapping, Value};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn params(case: &str) -> TransformParams {
    let text = std::fs::read_to_string(fixtures().join(format!("{case}.params"))).unwrap();
    let pairs: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    TransformParams::from_pairs(&pairs).unwrap()
}

fn golden(case: &str, ext: &str) -> (String, Vec<String>, Vec<String>) {
    let input = std::fs::read_to_string(fixtures().join(format!("{case}.{ext}"))).unwrap();
    let (out, report) = transform_text(&input, &params(case), &Mapping::new()).unwrap();
    let expected_path = fixtures().join(format!("{case}.expected.{ext}"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&expected_path, &out).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap();
    assert_eq!(
        out,
        expected,
        "{case}: output differs from {}",
        expected_path.display()
    );
    // Idempotent: transforming the output again changes nothing.
    let (again, _) = transform_text(&out, &params(case), &Mapping::new()).unwrap();
    assert_eq!(
        again, out,
        "{case}: a second transform changed the template"
    );
    (out, report.instrumented, report.warnings)
}

fn resource<'a>(template: &'a Value, id: &str) -> &'a Value {
    &template["Resources"][id]["Properties"]
}

#[test]
fn sam_template_with_globals_intrinsics_opt_out_and_other_runtimes() {
    let (out, instrumented, warnings) = golden("sam_globals", "yaml");
    assert_eq!(instrumented, ["Orders", "Billing"]);
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(warnings
        .iter()
        .any(|w| w.starts_with("Legacy: left alone (excluded)")));
    assert!(warnings
        .iter()
        .any(|w| w.contains("Frontend") && w.contains("nodejs20.x")));
    assert!(warnings
        .iter()
        .any(|w| w.contains("Worker") && w.contains("container image")));
    // Short-form tags survive as tags.
    assert!(out.contains("TABLE: !Ref OrdersTable") || out.contains("!Ref OrdersTable"));
    assert!(out.contains("Layers: !If"));
    // Date-like strings stay strings for YAML 1.1 loaders (PyYAML in the AWS and SAM CLIs).
    assert!(out.starts_with("AWSTemplateFormatVersion: '2010-09-09'\n"));
    assert!(out.contains("Value: !GetAtt Orders.Arn"));
    let (t, _) = parse_template(&out).unwrap();
    let orders = resource(&t, "Orders");
    assert_eq!(
        orders["Handler"],
        Value::from("lambdascope.handler.handler")
    );
    let vars = &orders["Environment"]["Variables"];
    assert_eq!(vars["DD_LAMBDA_HANDLER"], Value::from("app.handler")); // from Globals
    assert_eq!(vars["DD_SITE"], Value::from("datadoghq.eu"));
    assert_eq!(vars["DD_TAGS"], Value::from("team:orders"));
    assert!(
        vars.get("TABLE").is_none(),
        "Globals variables are inherited, not copied"
    );
    // arm64 from `!Ref Arch` (default), our layers in the deploying region and account.
    let layers = orders["Layers"].as_sequence().unwrap();
    assert_eq!(
        layers.len(),
        2,
        "Globals' SharedLayer comes first and is inherited: {layers:?}"
    );
    assert_eq!(
        layers[1]["Fn::Sub"],
        Value::from(
            "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:layer:Lambdascope-Extension-ARM:5"
        )
    );
    assert_eq!(orders["Tags"]["lambdascope_cli"], Value::from("v0.1.0"));
    let billing = resource(&t, "Billing");
    assert_eq!(
        billing["Environment"]["Variables"]["DD_LAMBDA_HANDLER"],
        Value::from("billing.main.lambda_handler")
    );
    assert_eq!(billing["Tags"]["team"], Value::from("billing"));
    // Untouched functions are as they were.
    assert!(resource(&t, "Legacy").get("Handler").is_none());
    assert_eq!(
        resource(&t, "Frontend")["Handler"],
        Value::from("index.handler")
    );
}

#[test]
fn plain_cloudformation_json_with_refs_existing_layers_and_exclude() {
    let (out, instrumented, warnings) = golden("cfn_plain", "json");
    assert_eq!(instrumented, ["Checkout"]);
    assert!(warnings
        .iter()
        .any(|w| w.starts_with("Skipped: left alone (excluded)")));
    assert!(warnings
        .iter()
        .any(|w| w.contains("GoFn") && w.contains("provided.al2023")));
    assert!(out.trim_start().starts_with('{'), "JSON in, JSON out");
    let t: serde_json::Value = serde_json::from_str(&out).unwrap();
    let checkout = &t["Resources"]["Checkout"]["Properties"];
    assert_eq!(checkout["Handler"], "datadog_lambda.handler.handler");
    // Datadog's old Python layer is replaced in place; the user's layer stays.
    assert_eq!(
        checkout["Layers"],
        serde_json::json!([
            "arn:aws:lambda:eu-west-1:111122223333:layer:pandas:7",
            "arn:aws:lambda:eu-west-1:464622532012:layer:Datadog-Python311:128",
            "arn:aws:lambda:eu-west-1:464622532012:layer:Datadog-Extension:100"
        ])
    );
    assert_eq!(
        checkout["Environment"]["Variables"]["DD_KMS_API_KEY"],
        "AQICAHhexample"
    );
    assert_eq!(checkout["Environment"]["Variables"]["DD_LOG_LEVEL"], "info");
    assert_eq!(
        checkout["FunctionName"],
        serde_json::json!({"Fn::Sub": "${AWS::StackName}-checkout"})
    );
    let tags = checkout["Tags"].as_array().unwrap();
    assert!(tags.contains(&serde_json::json!({"Key": "owner", "Value": "payments"})));
    assert!(tags.contains(&serde_json::json!({"Key": "lambdascope_cli", "Value": "v0.1.0"})));
    assert_eq!(
        t["Resources"]["Skipped"]["Properties"]["Handler"],
        "skip.handler"
    );
}

#[test]
fn short_form_yaml_tags_are_kept_and_datadog_layers_follow_the_stack_region() {
    let (out, _, _) = golden("cfn_short_tags", "yaml");
    assert!(out.contains("Role: !GetAtt ApiRole.Arn"), "{out}");
    assert!(
        out.contains("DB_HOST: !ImportValue shared-db-host"),
        "{out}"
    );
    assert!(
        out.contains("S3Bucket: !Sub ${AWS::AccountId}-artifacts"),
        "{out}"
    );
    assert!(out.contains("arn:aws:lambda:${AWS::Region}:464622532012:layer:Datadog-Python313:128"));
}

/// The transform gives a function exactly what `lambdascope lambda instrument` gives the same
/// function: both go through `plan_instrument`.
#[test]
fn transform_equals_the_cli_plan_for_the_same_function() {
    let template = "Resources:\n  Fn:\n    Type: AWS::Lambda::Function\n    Properties:\n      Runtime: python3.12\n      Handler: app.handler\n      Architectures: [arm64]\n      Environment:\n        Variables:\n          A: b\n      Layers:\n        - arn:aws:lambda:us-east-1:123456789012:layer:mine:2\n";
    let pairs = [
        "layers=datadog",
        "region=us-east-1",
        "apiKeySecretArn=arn:s",
        "service=svc",
        "env=dev",
        "tags=a:b",
    ];
    let params = TransformParams::from_pairs(&pairs).unwrap();
    let (out, _) = transform_text(template, &params, &Mapping::new()).unwrap();
    let (t, _) = parse_template(&out).unwrap();
    let props = resource(&t, "Fn");
    let function = FunctionConfig {
        arn: "Fn".into(),
        region: "us-east-1".into(),
        runtime: "python3.12".into(),
        handler: "app.handler".into(),
        architecture: Architecture::Arm64,
        env: BTreeMap::from([("A".to_string(), "b".to_string())]),
        layers: vec!["arn:aws:lambda:us-east-1:123456789012:layer:mine:2".into()],
        tags: BTreeMap::new(),
    };
    let plan = plan_instrument(&function, &params.options).unwrap();
    assert_eq!(props["Handler"].as_str(), Some(plan.after.handler.as_str()));
    let env: BTreeMap<String, String> =
        serde_yaml_ng::from_value(props["Environment"]["Variables"].clone()).unwrap();
    assert_eq!(env, plan.after.env);
    let layers: Vec<String> = serde_yaml_ng::from_value(props["Layers"].clone()).unwrap();
    assert_eq!(layers, plan.after.layers);
}

fn error(template: &str, pairs: &[&str]) -> String {
    let params = TransformParams::from_pairs(pairs).unwrap();
    let err: TransformError = transform_text(template, &params, &Mapping::new()).unwrap_err();
    err.to_string()
}

const ONE_FUNCTION: &str = "Resources:\n  Fn:\n    Type: AWS::Lambda::Function\n    Properties:\n      Runtime: RUNTIME\n      Handler: app.handler\n";

#[test]
fn bad_input_gets_clear_messages() {
    let dd = ["layers=datadog", "apiKeySecretArn=arn:s"];
    assert_eq!(
        error(&ONE_FUNCTION.replace("RUNTIME", "python3.7"), &dd),
        "can't instrument Fn: runtime `python3.7` is not supported (supported: python3.8 to python3.14, nodejs16.x to nodejs24.x with --layers datadog, provided.al2/provided.al2023)"
    );
    assert_eq!(
        error(&ONE_FUNCTION.replace("RUNTIME", "python3.12"), &["layers=datadog"]),
        "resource Fn: an extension layer is added but no API key is configured; set one of the parameters apiKeySecretArn, apiKeySsmArn, apiKmsKey or apiKey"
    );
    let malformed = error("Resources:\n  Fn: [unclosed\n", &dd);
    assert!(
        malformed.starts_with("the template is not valid YAML: "),
        "{malformed}"
    );
    assert!(malformed.contains("line"), "{malformed}");
    let malformed = error("{\"Resources\": {", &dd);
    assert!(
        malformed.starts_with("the template is not valid JSON: "),
        "{malformed}"
    );
    assert_eq!(
        error("AWSTemplateFormatVersion: '2010-09-09'\n", &dd),
        "the template has no Resources section (a mapping of logical ids to resources)"
    );
    assert_eq!(
        error("Resources:\n  Fn:\n    Type: AWS::Lambda::Function\n    Properties:\n      Handler: a.b\n", &dd),
        "resource Fn: Runtime is missing"
    );
    assert_eq!(
        error(&ONE_FUNCTION.replace("RUNTIME", "!GetAtt X.Y"), &dd),
        "resource Fn: Runtime must be a string or a Ref to a template parameter"
    );
    let globals = "Transform: AWS::Serverless-2016-10-31\nGlobals:\n  Function:\n    Layers:\n      - arn:aws:lambda:us-east-1:464622532012:layer:Datadog-Extension:90\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Runtime: python3.12\n      Handler: a.b\n";
    assert!(error(globals, &dd).contains("Globals.Function.Layers holds arn:aws:lambda:us-east-1:464622532012:layer:Datadog-Extension:90"));
}

#[test]
fn template_parameter_values_win_over_defaults() {
    let text = "Parameters:\n  Rt:\n    Type: String\n    Default: python3.12\nResources:\n  Fn:\n    Type: AWS::Lambda::Function\n    Properties:\n      Runtime: !Ref Rt\n      Handler: app.handler\n";
    let params =
        TransformParams::from_pairs(&["layers=datadog", "region=us-east-1", "apiKey=k"]).unwrap();
    let values: Mapping = serde_yaml_ng::from_str("Rt: python3.10").unwrap();
    let (out, _) = transform_text(text, &params, &values).unwrap();
    assert!(out.contains("layer:Datadog-Python310:128"), "{out}");
    assert!(out.contains("Runtime: !Ref Rt"), "{out}");
}
