//! The `LambdaScopeServerless` CloudFormation macro: CloudFormation sends the template (after
//! earlier transforms such as `AWS::Serverless-2016-10-31`) and the macro's parameters; the macro
//! answers with the template instrumented by [`lambdascope_instrument::template`], the same rules
//! as `lambdascope lambda instrument` and `lambdascope cfn transform`.
//!
//! This module is the protocol, free of the Lambda runtime so it is tested directly; `main.rs`
//! serves it with `lambda_runtime` as a `provided.al2023` function (binary `bootstrap`).

use lambdascope_instrument::template::{transform_template, TransformParams};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What CloudFormation sends a macro function.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MacroRequest {
    pub request_id: String,
    /// The whole template (a template-level `Transform`), as JSON with long-form intrinsics.
    pub fragment: Value,
    #[serde(default)]
    pub template_parameter_values: Map<String, Value>,
    /// The `Parameters` given in the template's `Transform` entry.
    #[serde(default)]
    pub params: Map<String, Value>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub transform_id: Option<String>,
}

/// What a macro function answers; `status` is `success` or `failure` (CloudFormation then fails
/// the change set and shows `errorMessage`).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MacroResponse {
    pub request_id: String,
    pub status: String,
    pub fragment: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// Transforms the fragment. Failures become a `failure` response with the transform's message,
/// never a crashed function: CloudFormation shows that message to the user.
pub fn handle(request: MacroRequest) -> MacroResponse {
    let MacroRequest {
        request_id,
        fragment,
        template_parameter_values,
        mut params,
        region,
        ..
    } = request;
    // Like Datadog's macro, layer ARNs are written for the stack's region unless given.
    if let Some(region) = region {
        params
            .entry("region".to_string())
            .or_insert(Value::String(region));
    }
    let result = (|| {
        let params = TransformParams::from_map(&params)?;
        let mut template: serde_yaml_ng::Value =
            serde_json::from_value(fragment.clone()).map_err(|e| {
                lambdascope_instrument::template::TransformError::Malformed {
                    format: "JSON",
                    reason: e.to_string(),
                }
            })?;
        let values: serde_yaml_ng::Mapping =
            serde_json::from_value(Value::Object(template_parameter_values)).unwrap_or_default();
        let report = transform_template(&mut template, &params, &values)?;
        Ok::<_, lambdascope_instrument::template::TransformError>((template, report))
    })();
    match result.and_then(|(template, report)| {
        let fragment = serde_json::to_value(&template).map_err(|e| {
            lambdascope_instrument::template::TransformError::Malformed {
                format: "JSON",
                reason: e.to_string(),
            }
        })?;
        Ok((fragment, report))
    }) {
        Ok((fragment, report)) => {
            for warning in &report.warnings {
                tracing::warn!(%warning, "left a function alone");
            }
            tracing::info!(instrumented = ?report.instrumented, "transformed");
            MacroResponse {
                request_id,
                status: "success".into(),
                fragment,
                error_message: None,
            }
        }
        Err(err) => MacroResponse {
            request_id,
            status: "failure".into(),
            fragment,
            error_message: Some(err.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(params: Value) -> MacroRequest {
        serde_json::from_value(json!({
            "region": "eu-west-1",
            "accountId": "123456789012",
            "requestId": "req-1",
            "transformId": "123456789012::LambdaScopeServerless",
            "params": params,
            "templateParameterValues": {"Rt": "python3.12"},
            "fragment": {
                "Parameters": {"Rt": {"Type": "String", "Default": "python3.9"}},
                "Resources": {
                    "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
                        "Runtime": {"Ref": "Rt"}, "Handler": "app.handler",
                        "Role": {"Fn::GetAtt": ["Role", "Arn"]}}}
                }
            }
        }))
        .unwrap()
    }

    #[test]
    fn success_returns_the_instrumented_fragment_for_the_stack_region() {
        let response = handle(request(
            json!({"layers": "datadog", "apiKeySecretArn": "arn:s"}),
        ));
        assert_eq!(response.status, "success");
        assert_eq!(response.request_id, "req-1");
        let props = &response.fragment["Resources"]["Fn"]["Properties"];
        assert_eq!(props["Handler"], "datadog_lambda.handler.handler");
        assert_eq!(
            props["Layers"][0],
            "arn:aws:lambda:eu-west-1:464622532012:layer:Datadog-Python312:128"
        );
        assert_eq!(props["Role"], json!({"Fn::GetAtt": ["Role", "Arn"]}));
    }

    #[test]
    fn failure_carries_the_message_and_the_untouched_fragment() {
        let original = request(json!({})).fragment;
        let response = handle(request(json!({"layers": "datadog"})));
        assert_eq!(response.status, "failure");
        assert_eq!(response.fragment, original);
        assert!(response
            .error_message
            .unwrap()
            .contains("no API key is configured"));
        let response = handle(request(
            json!({"layers": "datadog", "apiKey": "k", "bogus": 1}),
        ));
        assert!(response
            .error_message
            .unwrap()
            .contains("unknown parameter \"bogus\""));
    }
}
