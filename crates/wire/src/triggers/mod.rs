//! Lambda event sources ("triggers"): what invoked the function, the tags that say so,
//! the spans inferred for the managed service in front of it, and the trace context the
//! event carries.
//!
//! Everything here is a pure function of the event JSON plus a few invocation facts. Events
//! are user data of any shape: an unknown shape, a list, `null` headers or a body that is not
//! JSON yields *no trigger* (or no context), never an error and never a panic, because a
//! parse failure must not cost the invocation its span.
//!
//! The rules (detection order, tag names, span names, services, resources, start times,
//! sync/async) follow Datadog's Python library so that traces look the same in either
//! backend; `python-library-anchor.md` §4 lists them.

use std::collections::BTreeMap;
use std::time::UNIX_EPOCH;

use serde_json::Value;

mod arn;
pub mod context;
mod http;
mod messaging;
pub mod propagation;
pub mod step_functions;
mod streams;

pub use context::{extract_context, ContextSource, ExtractOptions, ExtractedContext};
pub use propagation::PropagationStyle;

/// The event source families the detector knows, with the HTTP sub-types that change the
/// inferred span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventSource {
    ApiGatewayRest,
    ApiGatewayHttp,
    ApiGatewayWebsocket,
    /// `requestContext.stage` is set but the event matches none of the three API shapes.
    ApiGatewayOther,
    FunctionUrl,
    Alb,
    CloudWatchLogs,
    EventBridge,
    CloudWatchEvents,
    StepFunctions,
    DynamoDb,
    Kinesis,
    S3,
    Sns,
    Sqs,
    CloudFront,
}

impl EventSource {
    /// The value of the `function_trigger.event_source` tag.
    pub fn tag_value(self) -> &'static str {
        match self {
            Self::ApiGatewayRest
            | Self::ApiGatewayHttp
            | Self::ApiGatewayWebsocket
            | Self::ApiGatewayOther => "api-gateway",
            Self::FunctionUrl => "lambda-function-url",
            Self::Alb => "application-load-balancer",
            Self::CloudWatchLogs => "cloudwatch-logs",
            Self::EventBridge => "eventbridge",
            Self::CloudWatchEvents => "cloudwatch-events",
            Self::StepFunctions => "states",
            Self::DynamoDb => "dynamodb",
            Self::Kinesis => "kinesis",
            Self::S3 => "s3",
            Self::Sns => "sns",
            Self::Sqs => "sqs",
            Self::CloudFront => "cloudfront",
        }
    }

    /// HTTP triggers get `http.*` tags and their response status on the spans.
    pub fn is_http(self) -> bool {
        matches!(
            self,
            Self::ApiGatewayRest
                | Self::ApiGatewayHttp
                | Self::ApiGatewayWebsocket
                | Self::ApiGatewayOther
                | Self::FunctionUrl
                | Self::Alb
        )
    }
}

/// What invoked the function, as tags and inferred spans.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    pub source: EventSource,
    /// `function_trigger.event_source_arn`, when the event (or the function ARN) gives one.
    pub arn: Option<String>,
    /// Tags for the `aws.lambda` span: `function_trigger.*` and, for HTTP triggers, `http.*`.
    pub tags: BTreeMap<String, String>,
    /// Spans for the services in front of the function, outermost first: each is the parent
    /// of the next, and the last one is the parent of `aws.lambda`.
    pub inferred: Vec<InferredSpan>,
}

/// When an inferred span ends; the invocation-span builder resolves it to a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InferredSpanEnd {
    /// Synchronous callers (API Gateway, Function URL) wait for the response: the span ends
    /// with `aws.lambda`.
    WithInvocation,
    /// Asynchronous sources (queues, streams, buses) only deliver: the span ends where
    /// `aws.lambda` starts.
    AtInvocationStart,
    /// A fixed end in ns since the epoch (an upstream SNS/EventBridge span ends where the
    /// SQS span starts; an authorizer ends when API Gateway calls the integration).
    At(i64),
}

/// A span for a managed service the function cannot instrument, inferred from the event.
#[derive(Debug, Clone, PartialEq)]
pub struct InferredSpan {
    pub name: String,
    pub service: String,
    pub resource: String,
    /// `web` for most, `http` for Function URLs.
    pub span_type: String,
    /// ns since the epoch; `None` when the event has no usable timestamp (the builder then
    /// starts the span with `aws.lambda`).
    pub start_ns: Option<i64>,
    pub end: InferredSpanEnd,
    pub meta: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
}

impl InferredSpan {
    fn new(name: &str, service: String, resource: String, start_ns: Option<i64>) -> Self {
        let mut meta = BTreeMap::new();
        meta.insert("operation_name".to_string(), name.to_string());
        meta.insert("resource_names".to_string(), resource.clone());
        meta.insert("_dd.origin".to_string(), "lambda".to_string());
        meta.insert("_inferred_span.tag_source".to_string(), "self".to_string());
        let mut metrics = BTreeMap::new();
        metrics.insert("_dd._inferred_span".to_string(), 1.0);
        let mut span = Self {
            name: name.to_string(),
            service,
            resource,
            span_type: "web".to_string(),
            start_ns,
            end: InferredSpanEnd::AtInvocationStart,
            meta,
            metrics,
        };
        span.set_synchronous(false);
        span
    }

    /// True when the span ends at the start of `aws.lambda` (the caller did not wait).
    pub fn is_async(&self) -> bool {
        self.meta
            .get("_inferred_span.synchronicity")
            .map(String::as_str)
            == Some("async")
    }

    fn set_synchronous(&mut self, sync: bool) {
        let (value, end) = if sync {
            ("sync", InferredSpanEnd::WithInvocation)
        } else {
            ("async", InferredSpanEnd::AtInvocationStart)
        };
        self.meta.insert(
            "_inferred_span.synchronicity".to_string(),
            value.to_string(),
        );
        self.end = end;
    }

    /// Sets a tag when the value exists; absent event fields leave no empty tags behind.
    fn tag(&mut self, key: &str, value: Option<impl Into<String>>) {
        if let Some(v) = value {
            self.meta.insert(key.to_string(), v.into());
        }
    }
}

/// Settings that change trigger parsing (from `DD_*` variables, read by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerOptions {
    /// `DD_SERVICE_MAPPING`: specific keys (api id, queue, topic, stream, table, bucket,
    /// source) and generic keys (`lambda_api_gateway`, `lambda_sqs`, ...) to service names.
    pub service_mapping: BTreeMap<String, String>,
    /// `DD_TRACE_AWS_SERVICE_REPRESENTATION_ENABLED` (default true): when false, inferred
    /// spans use the generic service names (`sqs`, `sns`, ...).
    pub aws_service_representation: bool,
    /// `DD_DECODE_AUTHORIZER_CONTEXT` (default true): read the authorizer's `_datadog`.
    pub decode_authorizer_context: bool,
}

impl Default for TriggerOptions {
    fn default() -> Self {
        Self {
            service_mapping: BTreeMap::new(),
            aws_service_representation: true,
            decode_authorizer_context: true,
        }
    }
}

impl TriggerOptions {
    /// Parses `DD_SERVICE_MAPPING` (`key1:service1,key2:service2`); entries that are not
    /// exactly one `key:value` pair, or that map a key to itself, are ignored.
    pub fn parse_service_mapping(value: &str) -> BTreeMap<String, String> {
        let mut mapping = BTreeMap::new();
        for entry in value.split(',') {
            let parts: Vec<&str> = entry.split(':').collect();
            if let [key, service] = parts.as_slice() {
                let (key, service) = (key.trim(), service.trim());
                if !key.is_empty() && !service.is_empty() && key != service {
                    mapping.insert(key.to_string(), service.to_string());
                }
            }
        }
        mapping
    }

    /// The service of an inferred span: the mapping for the specific key, then for the
    /// generic key; the fallback when AWS service representation is off; else the name
    /// taken from the event (or the fallback when that is empty).
    fn service_name(
        &self,
        specific: &str,
        generic: &str,
        extracted: &str,
        fallback: &str,
    ) -> String {
        if let Some(mapped) = self
            .service_mapping
            .get(specific)
            .or_else(|| self.service_mapping.get(generic))
        {
            return mapped.clone();
        }
        if !self.aws_service_representation {
            return fallback.to_string();
        }
        let extracted = extracted.trim();
        if extracted.is_empty() {
            fallback.to_string()
        } else {
            extracted.to_string()
        }
    }
}

/// Facts about the invocation that tags and spans need besides the event.
#[derive(Debug, Clone, Copy, Default)]
pub struct InvocationFacts<'a> {
    /// The invoked function ARN (the region and account of built ARNs come from it).
    pub function_arn: &'a str,
    pub request_id: &'a str,
}

/// Detects the event source (`parse_event_source`): the checks run in order and a later
/// match overrides an earlier one; only a Function URL returns early. `None` for events
/// that are not a JSON object or match no rule.
pub fn detect(event: &Value) -> Option<EventSource> {
    let obj = event.as_object()?;
    let mut source = None;
    let request_context = obj.get("requestContext");
    if let Some(rc) = request_context.filter(|rc| truthy(rc.get("stage"))) {
        let domain = str_at(rc, &["domainName"]).unwrap_or("");
        if domain.split('.').nth(1) == Some("lambda-url") {
            return Some(EventSource::FunctionUrl);
        }
        source = Some(if truthy(obj.get("httpMethod")) {
            EventSource::ApiGatewayRest
        } else if truthy(obj.get("routeKey")) {
            EventSource::ApiGatewayHttp
        } else if truthy(rc.get("messageDirection")) {
            EventSource::ApiGatewayWebsocket
        } else {
            EventSource::ApiGatewayOther
        });
    }
    if request_context.is_some_and(|rc| truthy(rc.get("elb"))) {
        source = Some(EventSource::Alb);
    }
    if truthy(obj.get("awslogs")) {
        source = Some(EventSource::CloudWatchLogs);
    }
    if truthy(obj.get("detail-type")) {
        source = Some(EventSource::EventBridge);
    }
    let detail_categories = obj
        .get("detail")
        .and_then(|d| d.get("EventCategories"))
        .is_some_and(|c| truthy(Some(c)));
    if str_at(event, &["source"]) == Some("aws.events") || detail_categories {
        source = Some(EventSource::CloudWatchEvents);
    }
    if step_functions::is_step_functions_context(event) {
        source = Some(EventSource::StepFunctions);
    }
    if let Some(record) = first_record(event) {
        let es = str_at(record, &["eventSource"]).or_else(|| str_at(record, &["EventSource"]));
        match es {
            Some("aws:dynamodb") => source = Some(EventSource::DynamoDb),
            Some("aws:kinesis") => source = Some(EventSource::Kinesis),
            Some("aws:s3") => source = Some(EventSource::S3),
            Some("aws:sns") => source = Some(EventSource::Sns),
            Some("aws:sqs") => source = Some(EventSource::Sqs),
            _ => {}
        }
        if truthy(record.get("cf")) {
            source = Some(EventSource::CloudFront);
        }
    }
    source
}

/// Parses a raw request body (what `/lambda/start-invocation` receives). A body that is not
/// JSON yields `None`.
pub fn parse_body(
    body: &[u8],
    facts: InvocationFacts<'_>,
    options: &TriggerOptions,
) -> Option<Trigger> {
    let event: Value = serde_json::from_slice(body).ok()?;
    parse(&event, facts, options)
}

/// Detects the trigger and builds its tags and inferred spans. `None` for an unknown event.
pub fn parse(
    event: &Value,
    facts: InvocationFacts<'_>,
    options: &TriggerOptions,
) -> Option<Trigger> {
    let source = detect(event)?;
    let arn = arn::event_source_arn(event, source, facts.function_arn);
    let mut tags = BTreeMap::new();
    tags.insert(
        "function_trigger.event_source".to_string(),
        source.tag_value().to_string(),
    );
    if let Some(arn) = &arn {
        tags.insert("function_trigger.event_source_arn".to_string(), arn.clone());
    }
    if source.is_http() {
        tags.extend(http::http_tags(event, source));
    }
    let mut inferred = match source {
        EventSource::ApiGatewayRest | EventSource::ApiGatewayWebsocket => {
            http::api_gateway_spans(event, source, options)
        }
        EventSource::ApiGatewayHttp => http::http_api_span(event, options).into_iter().collect(),
        EventSource::FunctionUrl => http::function_url_span(event, options)
            .into_iter()
            .collect(),
        EventSource::Sqs => messaging::sqs_spans(event, options),
        EventSource::Sns => first_record(event)
            .and_then(|r| messaging::sns_span(r, options))
            .into_iter()
            .collect(),
        EventSource::EventBridge => messaging::eventbridge_span(event, options)
            .into_iter()
            .collect(),
        EventSource::Kinesis => streams::kinesis_span(event, options).into_iter().collect(),
        EventSource::DynamoDb => streams::dynamodb_span(event, options).into_iter().collect(),
        EventSource::S3 => streams::s3_span(event, options).into_iter().collect(),
        _ => Vec::new(),
    };
    if !facts.request_id.is_empty() {
        for span in &mut inferred {
            span.meta
                .insert("request_id".to_string(), facts.request_id.to_string());
        }
    }
    Some(Trigger {
        source,
        arn,
        tags,
        inferred,
    })
}

// ---- small tolerant JSON accessors shared by the source parsers ----

/// Python truthiness of an optional JSON value: absent, null, false, 0, "" , [] and {} are false.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// The value at a path of object keys, if every step is an object holding the key.
fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter()
        .try_fold(v, |cur, key| cur.as_object()?.get(*key))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path)?.as_str()
}

/// A scalar rendered as a tag value (strings as-is, numbers and booleans as text).
fn scalar_at(v: &Value, path: &[&str]) -> Option<String> {
    scalar_text(at(v, path)?)
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A number or numeric string as f64 (event timestamps come as either).
fn number_at(v: &Value, path: &[&str]) -> Option<f64> {
    match at(v, path)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `Records[0]`, the record every rule looks at (batches are described by their first).
fn first_record(event: &Value) -> Option<&Value> {
    at(event, &["Records"])?.as_array()?.first()
}

/// An RFC 3339 UTC timestamp (`2024-01-02T03:04:05.678Z` or without fraction) in ns.
fn rfc3339_ns(s: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339_weak(s.trim_end_matches('Z')).ok()?;
    i64::try_from(t.duration_since(UNIX_EPOCH).ok()?.as_nanos()).ok()
}

/// Epoch milliseconds (number or string) in ns, rounded to the microsecond so that
/// float noise does not leak into the span start.
fn millis_ns(ms: f64) -> Option<i64> {
    let us = (ms * 1e3).round();
    (us.is_finite() && us > 0.0 && us < (i64::MAX / 1000) as f64).then(|| us as i64 * 1000)
}

/// Epoch seconds (possibly fractional) in ns, rounded to the microsecond.
fn seconds_ns(s: f64) -> Option<i64> {
    let us = (s * 1e6).round();
    (us.is_finite() && us > 0.0 && us < (i64::MAX / 1000) as f64).then(|| us as i64 * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn service_mapping_ignores_malformed_entries() {
        let m =
            TriggerOptions::parse_service_mapping(" q1 : svc1 ,bad,a:b:c,x:x,:y,lambda_sqs:queues");
        assert_eq!(m.len(), 2);
        assert_eq!(m["q1"], "svc1");
        assert_eq!(m["lambda_sqs"], "queues");
    }

    #[test]
    fn non_objects_are_no_trigger() {
        for v in [json!(null), json!([1, 2]), json!("x"), json!(3), json!({})] {
            assert_eq!(detect(&v), None);
        }
        assert!(parse_body(
            b"not json",
            InvocationFacts::default(),
            &TriggerOptions::default()
        )
        .is_none());
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339_ns("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
        assert_eq!(rfc3339_ns("1970-01-01T00:00:02Z"), Some(2_000_000_000));
        assert_eq!(rfc3339_ns("yesterday"), None);
    }
}
