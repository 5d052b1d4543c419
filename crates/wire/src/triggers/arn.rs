//! `function_trigger.event_source_arn`: taken from the event where it carries one, built
//! otherwise (for API Gateway, Function URLs and CloudFront the region and account come
//! from the invoked function's ARN, not from the event).

use std::io::Read;

use base64::Engine;
use serde_json::Value;

use super::{at, first_record, str_at, EventSource};

/// The parts of `arn:{partition}:lambda:{region}:{account}:function:{name}[:{qualifier}]`.
struct FunctionArn<'a> {
    region: &'a str,
    account: &'a str,
    name: &'a str,
    qualifier: Option<&'a str>,
}

fn parse_function_arn(arn: &str) -> Option<FunctionArn<'_>> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() < 7 || parts[0] != "arn" {
        return None;
    }
    Some(FunctionArn {
        region: parts[3],
        account: parts[4],
        name: parts[6],
        qualifier: parts.get(7).copied(),
    })
}

/// `aws-us-gov` for `us-gov-*`, `aws-cn` for `cn-*`, else `aws`.
pub(super) fn partition(region: &str) -> &'static str {
    if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("cn-") {
        "aws-cn"
    } else {
        "aws"
    }
}

pub(super) fn event_source_arn(
    event: &Value,
    source: EventSource,
    function_arn: &str,
) -> Option<String> {
    let record = first_record(event);
    let given = record
        .and_then(|r| str_at(r, &["eventSourceARN"]).or_else(|| str_at(r, &["eventSourceArn"])))
        .or_else(|| str_at(event, &["eventSourceARN"]));
    if let Some(arn) = given.filter(|a| !a.is_empty()) {
        return Some(arn.to_string());
    }
    let function = parse_function_arn(function_arn);
    let built = match source {
        EventSource::S3 => record
            .and_then(|r| str_at(r, &["s3", "bucket", "arn"]))
            .map(str::to_string),
        EventSource::Sns => record
            .and_then(|r| str_at(r, &["Sns", "TopicArn"]))
            .map(str::to_string),
        EventSource::CloudFront => {
            let f = function?;
            let distribution =
                record.and_then(|r| str_at(r, &["cf", "config", "distributionId"]))?;
            Some(format!(
                "arn:{}:cloudfront::{}:distribution/{distribution}",
                partition(f.region),
                f.account
            ))
        }
        EventSource::FunctionUrl => {
            let f = function?;
            let mut arn = format!(
                "arn:{}:lambda:{}:{}:url:{}",
                partition(f.region),
                f.region,
                f.account,
                f.name
            );
            if let Some(q) = f.qualifier {
                arn.push(':');
                arn.push_str(q);
            }
            Some(arn)
        }
        EventSource::ApiGatewayRest
        | EventSource::ApiGatewayHttp
        | EventSource::ApiGatewayWebsocket
        | EventSource::ApiGatewayOther => {
            let f = function?;
            let api_id = str_at(event, &["requestContext", "apiId"])?;
            let stage = str_at(event, &["requestContext", "stage"])?;
            Some(format!(
                "arn:{}:apigateway:{}::/restapis/{api_id}/stages/{stage}",
                partition(f.region),
                f.region
            ))
        }
        EventSource::Alb => {
            str_at(event, &["requestContext", "elb", "targetGroupArn"]).map(str::to_string)
        }
        EventSource::CloudWatchLogs => {
            let f = function?;
            let data = str_at(event, &["awslogs", "data"])?;
            let group = cloudwatch_log_group(data)?;
            Some(format!(
                "arn:{}:logs:{}:{}:log-group:{group}",
                partition(f.region),
                f.region,
                f.account
            ))
        }
        EventSource::CloudWatchEvents => at(event, &["resources"])
            .and_then(Value::as_array)
            .and_then(|r| r.first())
            .and_then(Value::as_str)
            .map(str::to_string),
        EventSource::StepFunctions => step_functions_arn(event),
        EventSource::EventBridge
        | EventSource::DynamoDb
        | EventSource::Kinesis
        | EventSource::Sqs => None,
    };
    built.filter(|a| !a.is_empty())
}

/// `StateMachine.Id`, under `Payload` and/or `_datadog` when the context is wrapped.
fn step_functions_arn(event: &Value) -> Option<String> {
    let inner = at(event, &["Payload"]).unwrap_or(event);
    let inner = at(inner, &["_datadog"]).unwrap_or(inner);
    str_at(inner, &["StateMachine", "Id"]).map(str::to_string)
}

/// The `logGroup` of a CloudWatch Logs subscription payload (base64 of gzipped JSON).
/// Bounded: a payload that inflates past 8 MiB is not read further.
fn cloudwatch_log_group(data: &str) -> Option<String> {
    let gz = base64::engine::general_purpose::STANDARD
        .decode(data)
        .ok()?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .take(8 << 20)
        .read_to_end(&mut json)
        .ok()?;
    let v: Value = serde_json::from_slice(&json).ok()?;
    str_at(&v, &["logGroup"]).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions() {
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("eu-west-1"), "aws");
    }

    #[test]
    fn function_arn_parts() {
        let f =
            parse_function_arn("arn:aws:lambda:us-east-1:123456789012:function:fn:prod").unwrap();
        assert_eq!(
            (f.region, f.account, f.name, f.qualifier),
            ("us-east-1", "123456789012", "fn", Some("prod"))
        );
        assert!(parse_function_arn("nonsense").is_none());
    }
}
