//! Trace-context extraction from an event, in the order of Datadog's Python library
//! (`extract_dd_trace_context`), with the X-Ray header as the fallback.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::Value;

use super::http::{carrier, has_headers, headers, injected_authorizer_data};
use super::messaging::{json_body, sns_record_in_body};
use super::propagation::{self, PropagationStyle};
use super::{at, detect, first_record, step_functions, str_at, EventSource};

/// Where a context was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextSource {
    /// Request headers (API Gateway, Function URL, ALB, AppSync `request.headers`).
    HttpHeaders,
    /// The `_datadog` an instrumented API Gateway Lambda authorizer injected.
    Authorizer,
    /// Lambda client context `custom` (synchronous Lambda→Lambda invokes).
    ClientContext,
    /// SQS or SNS `_datadog` message attribute (also when SNS or EventBridge fed SQS).
    MessageAttributes,
    /// EventBridge `detail._datadog`.
    EventBridge,
    /// `_datadog` inside Kinesis record data.
    Kinesis,
    /// Derived from a Step Functions context object.
    StepFunctions,
    /// SQS `AWSTraceHeader` padded by dd-trace-java.
    AwsTraceHeader,
    /// The Lambda X-Ray trace header (the fallback).
    Xray,
}

/// A trace context to continue: the parent of the first span the function's trace gets.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractedContext {
    /// Lower 64 bits of the trace id.
    pub trace_id: u64,
    /// Upper 64 bits (0 for 64-bit ids); also in `tags["_dd.p.tid"]` as hex.
    pub trace_id_high: u64,
    pub parent_id: u64,
    pub sampling_priority: Option<i32>,
    /// `_dd.p.*` propagated tags (and `_dd.parent_id` from W3C `tracestate`).
    pub tags: BTreeMap<String, String>,
    /// `x-datadog-origin` / W3C `o:`.
    pub origin: Option<String>,
    pub source: ContextSource,
    /// The header style that yielded it, for carrier-based contexts.
    pub style: Option<PropagationStyle>,
}

impl ExtractedContext {
    pub(crate) fn new(trace_id: u64, source: ContextSource) -> Self {
        Self {
            trace_id,
            trace_id_high: 0,
            parent_id: 0,
            sampling_priority: None,
            tags: BTreeMap::new(),
            origin: None,
            source,
            style: None,
        }
    }

    pub(crate) fn from_style(trace_id: u64, style: PropagationStyle) -> Self {
        let mut ctx = Self::new(trace_id, ContextSource::HttpHeaders);
        ctx.style = Some(style);
        ctx
    }

    /// A context is only used with a trace id, a parent id and a sampling decision.
    pub fn is_complete(&self) -> bool {
        self.trace_id != 0 && self.parent_id != 0 && self.sampling_priority.is_some()
    }

    fn located(mut self, source: ContextSource) -> Self {
        self.source = source;
        self
    }
}

/// Settings for extraction (from `DD_*` variables, read by the caller).
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractOptions {
    /// `DD_TRACE_PROPAGATION_STYLE_EXTRACT` (default `datadog,tracecontext`).
    pub styles: Vec<PropagationStyle>,
    /// `DD_DECODE_AUTHORIZER_CONTEXT` (default true).
    pub decode_authorizer_context: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        Self {
            styles: PropagationStyle::DEFAULT.to_vec(),
            decode_authorizer_context: true,
        }
    }
}

/// Extracts the context of an invocation.
///
/// - `event`: the invocation event (any JSON);
/// - `client_context`: the Lambda client context (`{"custom": {...}, ...}`) if known;
/// - `xray_header`: `_X_AMZN_TRACE_ID` / the INVOKE event's tracing value, if any.
///
/// Returns a complete context or `None`.
pub fn extract_context(
    event: &Value,
    client_context: Option<&Value>,
    xray_header: Option<&str>,
    options: &ExtractOptions,
) -> Option<ExtractedContext> {
    let from_event =
        from_event(event, client_context, options).filter(ExtractedContext::is_complete);
    from_event.or_else(|| xray_header.and_then(propagation::xray_context))
}

fn from_event(
    event: &Value,
    client_context: Option<&Value>,
    options: &ExtractOptions,
) -> Option<ExtractedContext> {
    let client = || from_client_context(client_context, &options.styles);
    let Some(obj) = event.as_object() else {
        return client();
    };
    if let Some(request) = obj.get("request") {
        return if request
            .as_object()
            .is_some_and(|r| r.contains_key("headers"))
        {
            from_http(request, false, false, options).or_else(client)
        } else {
            client()
        };
    }
    let source = detect(event);
    if has_headers(event) {
        let is_http_api = source == Some(EventSource::ApiGatewayHttp);
        return from_http(
            event,
            options.decode_authorizer_context,
            is_http_api,
            options,
        )
        .or_else(client);
    }
    match source {
        Some(EventSource::Sqs | EventSource::Sns) => {
            from_sqs_or_sns(event, &options.styles).or_else(client)
        }
        Some(EventSource::EventBridge) => from_eventbridge(event, &options.styles).or_else(client),
        Some(EventSource::Kinesis) => from_kinesis(event, &options.styles).or_else(client),
        Some(EventSource::StepFunctions) => step_functions::extract(event).or_else(client),
        _ => client(),
    }
}

/// A JSON object of carrier values through the propagator.
fn propagate(
    map: &Value,
    styles: &[PropagationStyle],
    source: ContextSource,
) -> Option<ExtractedContext> {
    let ctx = propagation::extract(&carrier(map.as_object()?), styles)?;
    Some(ctx.located(source))
}

fn from_client_context(
    client_context: Option<&Value>,
    styles: &[PropagationStyle],
) -> Option<ExtractedContext> {
    let custom = at(client_context?, &["custom"])?;
    let data = at(custom, &["_datadog"])
        .filter(|d| d.is_object())
        .unwrap_or(custom);
    propagate(data, styles, ContextSource::ClientContext)
}

/// Authorizer data first (only a fresh, complete one), then the request headers. Returns
/// `None` unless complete, so the caller falls through to the client context.
fn from_http(
    event: &Value,
    decode_authorizer: bool,
    is_http_api: bool,
    options: &ExtractOptions,
) -> Option<ExtractedContext> {
    if decode_authorizer {
        if let Some(data) = injected_authorizer_data(event, is_http_api) {
            if let Some(ctx) = propagate(&data, &options.styles, ContextSource::Authorizer) {
                if ctx.is_complete() {
                    return Some(ctx);
                }
            }
        }
    }
    let hdrs = headers(event)?;
    let ctx =
        propagation::extract(&carrier(&hdrs), &options.styles)?.located(ContextSource::HttpHeaders);
    ctx.is_complete().then_some(ctx)
}

/// A `_datadog` carrier that may be a Step Functions context instead of headers.
fn from_datadog_carrier(
    dd: &Value,
    styles: &[PropagationStyle],
    source: ContextSource,
) -> Option<ExtractedContext> {
    if step_functions::is_step_functions_context(dd) {
        if let Some(ctx) = step_functions::extract(dd) {
            return Some(ctx);
        }
    }
    propagate(dd, styles, source)
}

/// SQS and SNS: EventBridge→SQS `detail._datadog`, then the `_datadog` message attribute
/// (of the SNS notification when SNS fed the queue), then a padded `AWSTraceHeader`. Only
/// the first record counts.
fn from_sqs_or_sns(event: &Value, styles: &[PropagationStyle]) -> Option<ExtractedContext> {
    let original = first_record(event)?;
    let body = json_body(original);
    if let Some(dd) = body.as_ref().and_then(|b| at(b, &["detail", "_datadog"])) {
        if let Some(ctx) = from_datadog_carrier(dd, styles, ContextSource::MessageAttributes) {
            if ctx.is_complete() {
                return Some(ctx);
            }
        }
    }
    let sns_in_body = body.as_ref().and_then(sns_record_in_body);
    let record = sns_in_body.as_ref().unwrap_or(original);
    let attributes = match at(record, &["messageAttributes"]) {
        Some(a) if !a.is_null() => Some(a),
        _ => at(record, &["Sns", "MessageAttributes"]),
    };
    let payload = attributes
        .and_then(|a| at(a, &["_datadog"]))
        .filter(|p| !p.is_null());
    if let Some(payload) = payload {
        let kind = str_at(payload, &["Type"]).or_else(|| str_at(payload, &["dataType"]));
        let text = match kind {
            Some("Binary") => {
                let b64 =
                    str_at(payload, &["binaryValue"]).or_else(|| str_at(payload, &["Value"]))?;
                base64::engine::general_purpose::STANDARD.decode(b64).ok()?
            }
            Some("String") => str_at(payload, &["stringValue"])
                .or_else(|| str_at(payload, &["Value"]))?
                .as_bytes()
                .to_vec(),
            _ => return None,
        };
        let dd: Value = serde_json::from_slice(&text).ok()?;
        return from_datadog_carrier(&dd, styles, ContextSource::MessageAttributes);
    }
    let header = str_at(original, &["attributes", "AWSTraceHeader"])?;
    propagation::padded_aws_trace_header(header)
}

fn from_eventbridge(event: &Value, styles: &[PropagationStyle]) -> Option<ExtractedContext> {
    let dd = at(event, &["detail", "_datadog"]).filter(|d| d.is_object())?;
    from_datadog_carrier(dd, styles, ContextSource::EventBridge)
}

fn from_kinesis(event: &Value, styles: &[PropagationStyle]) -> Option<ExtractedContext> {
    let data = str_at(first_record(event)?, &["kinesis", "data"])?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .ok()?;
    let payload: Value = serde_json::from_slice(&bytes).ok()?;
    propagate(at(&payload, &["_datadog"])?, styles, ContextSource::Kinesis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opts() -> ExtractOptions {
        ExtractOptions::default()
    }

    #[test]
    fn client_context_custom_and_legacy_datadog() {
        let cc = json!({"custom": {"x-datadog-trace-id": "1", "x-datadog-parent-id": "2", "x-datadog-sampling-priority": "1"}});
        let ctx = extract_context(&json!({"any": 1}), Some(&cc), None, &opts()).unwrap();
        assert_eq!(
            (ctx.trace_id, ctx.source),
            (1, ContextSource::ClientContext)
        );
        let cc = json!({"custom": {"_datadog": {"x-datadog-trace-id": "3", "x-datadog-parent-id": "4", "x-datadog-sampling-priority": "2"}}});
        assert_eq!(
            extract_context(&json!([1, 2]), Some(&cc), None, &opts())
                .unwrap()
                .trace_id,
            3
        );
    }

    #[test]
    fn incomplete_contexts_fall_back_to_xray() {
        let event = json!({"headers": {"x-datadog-trace-id": "1", "x-datadog-parent-id": "2"}});
        let xray = "Root=1-5e272390-8c398be037738dc042009320;Parent=94ae789b969f1cc5;Sampled=1";
        let ctx = extract_context(&event, None, Some(xray), &opts()).unwrap();
        assert_eq!(ctx.source, ContextSource::Xray);
        assert!(extract_context(&event, None, None, &opts()).is_none());
    }

    #[test]
    fn null_headers_and_odd_shapes_are_tolerated() {
        for event in [
            json!({"headers": null}),
            json!({"headers": [1]}),
            json!({"request": 5}),
            json!(null),
            json!({"Records": null}),
            json!({"Records": [null]}),
        ] {
            assert!(
                extract_context(&event, None, None, &opts()).is_none(),
                "{event}"
            );
        }
    }
}
