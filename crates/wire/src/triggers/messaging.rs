//! Messaging triggers: SQS (with SNS→SQS and EventBridge→SQS upstream spans), SNS and
//! EventBridge. All are asynchronous: the sender never waits for the function.

use serde_json::{json, Value};

use super::{
    at, first_record, number_at, rfc3339_ns, step_functions, str_at, truthy, InferredSpan,
    InferredSpanEnd, TriggerOptions,
};

/// The last `:` segment of an ARN (queue, topic names).
fn arn_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// The SQS span, preceded by the span of the service that fed the queue when the message
/// body shows one (an SNS notification, or an EventBridge event carrying `_datadog`). The
/// upstream span ends where the SQS span starts.
pub(super) fn sqs_spans(event: &Value, options: &TriggerOptions) -> Vec<InferredSpan> {
    let Some(record) = first_record(event) else {
        return Vec::new();
    };
    let source_arn = str_at(record, &["eventSourceARN"]).unwrap_or("");
    let queue = arn_name(source_arn).to_string();
    let service = options.service_name(&queue, "lambda_sqs", &queue, "sqs");
    let start = number_at(record, &["attributes", "SentTimestamp"]).and_then(super::millis_ns);
    let mut span = InferredSpan::new("aws.sqs", service, queue.clone(), start);
    span.tag("span.kind", Some("server"));
    span.tag("queuename", Some(queue));
    span.tag(
        "event_source_arn",
        Some(source_arn).filter(|a| !a.is_empty()),
    );
    span.tag("receipt_handle", str_at(record, &["receiptHandle"]));
    span.tag("sender_id", str_at(record, &["attributes", "SenderId"]));

    let mut spans = Vec::new();
    if let Some(mut upstream) = upstream_span(record, options) {
        if let Some(start) = start {
            upstream.end = InferredSpanEnd::At(start);
        }
        spans.push(upstream);
    }
    spans.push(span);
    spans
}

/// The message body parsed as JSON, when it is a JSON object.
pub(super) fn json_body(record: &Value) -> Option<Value> {
    let body: Value = serde_json::from_str(str_at(record, &["body"])?).ok()?;
    body.is_object().then_some(body)
}

/// An SNS notification delivered through SQS, rewrapped as an SNS record.
pub(super) fn sns_record_in_body(body: &Value) -> Option<Value> {
    let is_notification =
        str_at(body, &["Type"]) == Some("Notification") && at(body, &["TopicArn"]).is_some();
    is_notification.then(|| json!({"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": body}))
}

fn upstream_span(record: &Value, options: &TriggerOptions) -> Option<InferredSpan> {
    let body = json_body(record)?;
    if let Some(sns_record) = sns_record_in_body(&body) {
        return sns_span(&sns_record, options);
    }
    if truthy(at(&body, &["detail", "_datadog"])) {
        return eventbridge_span(&body, options);
    }
    None
}

/// The `aws.sns` span of one SNS record (`Records[0]`, or an SQS body rewrapped).
pub(super) fn sns_span(record: &Value, options: &TriggerOptions) -> Option<InferredSpan> {
    let message = at(record, &["Sns"])?;
    let topic_arn = str_at(message, &["TopicArn"]).unwrap_or("");
    let topic = arn_name(topic_arn).to_string();
    let service = options.service_name(&topic, "lambda_sns", &topic, "sns");
    let start = str_at(message, &["Timestamp"]).and_then(rfc3339_ns);
    let mut span = InferredSpan::new("aws.sns", service, topic.clone(), start);
    span.tag("span.kind", Some("server"));
    span.tag("topicname", Some(topic));
    span.tag("topic_arn", Some(topic_arn).filter(|a| !a.is_empty()));
    span.tag("message_id", str_at(message, &["MessageId"]));
    span.tag("type", str_at(message, &["Type"]));
    span.tag(
        "subject",
        str_at(message, &["Subject"]).filter(|s| !s.is_empty()),
    );
    Some(span)
}

/// The `aws.eventbridge` span. `time` has second precision; a Step Functions context in
/// `detail._datadog` gives the millisecond `State.EnteredTime` instead.
pub(super) fn eventbridge_span(event: &Value, options: &TriggerOptions) -> Option<InferredSpan> {
    let source = str_at(event, &["source"]).unwrap_or("");
    let service = options.service_name(source, "lambda_eventbridge", source, "eventbridge");
    let detail = at(event, &["detail"]).cloned().unwrap_or(Value::Null);
    let entered = step_functions::is_step_functions_context(&detail)
        .then(|| str_at(&detail, &["_datadog", "State", "EnteredTime"]))
        .flatten()
        .and_then(rfc3339_ns);
    let start = entered.or_else(|| str_at(event, &["time"]).and_then(rfc3339_ns));
    let mut span = InferredSpan::new("aws.eventbridge", service, source.to_string(), start);
    span.tag("span.kind", Some("server"));
    span.tag("detail_type", str_at(event, &["detail-type"]));
    Some(span)
}
