//! Template transform throughput: a SAM template at CloudFormation's 500-resource limit (Python
//! functions with Globals, intrinsics and existing layers), YAML and JSON. Prints figures and the
//! ratio to the budget: the macro must answer far inside CloudFormation's macro timeout, so the
//! budget is 250 ms for the whole template (ratio < 1 is within budget).

use std::time::{Duration, Instant};

use lambdascope_instrument::template::{transform_text, TransformParams};
use serde_yaml_ng::Mapping;

const FUNCTIONS: usize = 500;
const BUDGET: Duration = Duration::from_millis(250);

fn template() -> String {
    let mut t = String::from(
        "Transform: AWS::Serverless-2016-10-31\nGlobals:\n  Function:\n    Runtime: python3.12\n    Handler: app.handler\n    Environment:\n      Variables:\n        TABLE: !Ref Table\nResources:\n",
    );
    for i in 0..FUNCTIONS {
        t.push_str(&format!(
            "  Fn{i}:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: src/fn{i}\n      Role: !GetAtt Role.Arn\n      Environment:\n        Variables:\n          QUEUE: !Sub 'q-${{AWS::Region}}-{i}'\n          N: {i}\n      Layers:\n        - arn:aws:lambda:us-east-1:111122223333:layer:shared:3\n        - arn:aws:lambda:us-east-1:464622532012:layer:Datadog-Python312:100\n"
        ));
    }
    t
}

fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let params = TransformParams::from_pairs(&[
        "layers=datadog",
        "apiKeySecretArn=arn:aws:secretsmanager:us-east-1:123456789012:secret:dd",
        "service=shop",
    ])
    .expect("params");
    let yaml = template();
    let values = Mapping::new();
    let (out, report) = transform_text(&yaml, &params, &values).expect("transform");
    assert_eq!(report.instrumented.len(), FUNCTIONS);
    let yaml_time = best_of(5, || {
        transform_text(&yaml, &params, &values).expect("transform");
    });
    let (parsed, _) = lambdascope_instrument::template::parse_template(&out).expect("parse");
    let json = serde_json::to_string(&parsed).expect("json");
    // JSON templates have no short-form tags, as CloudFormation hands them to the macro.
    let json_time = best_of(5, || {
        transform_text(&json, &params, &values).expect("transform");
    });
    for (name, time, bytes) in [
        ("YAML", yaml_time, yaml.len()),
        ("JSON (re-run on output)", json_time, json.len()),
    ] {
        println!(
            "transform {FUNCTIONS} functions, {name}, {} KB: {:.1} ms (budget {} ms, ratio {:.2})",
            bytes / 1024,
            time.as_secs_f64() * 1000.0,
            BUDGET.as_millis(),
            time.as_secs_f64() / BUDGET.as_secs_f64()
        );
    }
}
