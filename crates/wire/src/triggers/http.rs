//! HTTP triggers: API Gateway REST (v1), HTTP (v2) and WebSocket APIs, Lambda Function URLs
//! and Application Load Balancers: `http.*` tags and inferred spans (ALB gets tags only).

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Map, Value};

use super::{
    at, millis_ns, number_at, scalar_text, str_at, EventSource, InferredSpan, InferredSpanEnd,
    TriggerOptions,
};

/// Header names of the authorizer hand-off (what an instrumented authorizer injects).
pub(super) const PARENT_SPAN_FINISH_TIME: &str = "x-datadog-parent-span-finish-time";
pub(super) const AUTHORIZING_REQUEST_ID: &str = "x-datadog-authorizing-requestid";

/// The request headers: `headers`, or the first value of each `multiValueHeaders` entry.
/// `null` or non-object headers are treated as none.
pub(super) fn headers(event: &Value) -> Option<Map<String, Value>> {
    if let Some(h) = at(event, &["headers"]).and_then(Value::as_object) {
        return Some(h.clone());
    }
    let multi = at(event, &["multiValueHeaders"])?.as_object()?;
    Some(
        multi
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_array()?.first()?.clone())))
            .collect(),
    )
}

/// A header value by case-insensitive name.
pub(super) fn header<'a>(headers: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.as_str())
}

/// The `http.*` (and `span.kind`) tags the `aws.lambda` span gets for an HTTP trigger.
pub(super) fn http_tags(event: &Value, source: EventSource) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    tags.insert("span.kind".to_string(), "server".to_string());
    let hdrs = headers(event).unwrap_or_default();
    let rc = at(event, &["requestContext"])
        .cloned()
        .unwrap_or(Value::Null);
    let (url, method, route) = if source == EventSource::Alb {
        let path = str_at(event, &["path"]);
        let url = header(&hdrs, "host").map(|host| {
            let proto = header(&hdrs, "x-forwarded-proto").unwrap_or("http");
            format!("{proto}://{host}{}", path.unwrap_or(""))
        });
        (
            url,
            str_at(event, &["httpMethod"]),
            path.map(str::to_string),
        )
    } else {
        let v2 = str_at(event, &["version"]) == Some("2.0") || source == EventSource::FunctionUrl;
        let (path, method) = if v2 {
            (
                str_at(&rc, &["http", "path"]),
                str_at(&rc, &["http", "method"]),
            )
        } else {
            (
                str_at(&rc, &["path"]).or_else(|| str_at(event, &["path"])),
                str_at(&rc, &["httpMethod"]).or_else(|| str_at(event, &["httpMethod"])),
            )
        };
        let url =
            str_at(&rc, &["domainName"]).map(|d| format!("https://{d}{}", path.unwrap_or("")));
        let route = match str_at(event, &["routeKey"]).and_then(|r| r.split_once(' ')) {
            Some((_, route)) => Some(route.to_string()),
            None => str_at(event, &["resource"]).map(str::to_string),
        };
        (url, method, route)
    };
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            tags.insert(k.to_string(), v);
        }
    };
    put("http.url", url);
    put("http.method", method.map(str::to_string));
    put("http.route", route);
    put("http.referer", header(&hdrs, "referer").map(str::to_string));
    if source == EventSource::Alb {
        put(
            "http.useragent",
            header(&hdrs, "user-agent").map(str::to_string),
        );
    }
    tags
}

/// The authorizer's injected `_datadog` data (base64 JSON), only when this request really
/// ran the authorizer: API Gateway caches authorizer results, and a cached result still
/// carries the old injection. `integrationLatency > 0`, or a matching authorizing request
/// id, tells a fresh one.
pub(super) fn injected_authorizer_data(event: &Value, is_http_api: bool) -> Option<Value> {
    let authorizer = at(event, &["requestContext", "authorizer"])?;
    let raw = if is_http_api {
        str_at(authorizer, &["lambda", "_datadog"])?
    } else {
        str_at(authorizer, &["_datadog"])?
    };
    let bytes = base64::engine::general_purpose::STANDARD.decode(raw).ok()?;
    let data: Value = serde_json::from_slice(&bytes).ok()?;
    if !data.is_object() {
        return None;
    }
    if number_at(authorizer, &["integrationLatency"]).unwrap_or(0.0) > 0.0 {
        return Some(data);
    }
    let request_id = str_at(event, &["requestContext", "requestId"])?;
    (str_at(&data, &[AUTHORIZING_REQUEST_ID]) == Some(request_id)).then_some(data)
}

/// `X-Amz-Invocation-Type: Event` makes an API Gateway integration asynchronous.
fn is_async_invocation(event: &Value) -> bool {
    headers(event).is_some_and(|h| header(&h, "X-Amz-Invocation-Type") == Some("Event"))
}

/// The route template when the route key has one (`GET /users/{id}`), else the raw path,
/// the resource path or the route key.
fn resource_path(event: &Value) -> String {
    let route_key = str_at(event, &["requestContext", "routeKey"]).unwrap_or("");
    if route_key.contains('{') {
        if let Some((_, path)) = route_key.split_once(' ') {
            return path.to_string();
        }
    }
    str_at(event, &["rawPath"])
        .filter(|s| !s.is_empty())
        .or_else(|| str_at(event, &["requestContext", "resourcePath"]).filter(|s| !s.is_empty()))
        .unwrap_or(route_key)
        .to_string()
}

fn api_service(rc: &Value, options: &TriggerOptions, generic: &str, fallback: &str) -> String {
    let api_id = str_at(rc, &["apiId"]).unwrap_or("");
    let domain = str_at(rc, &["domainName"]).unwrap_or("");
    options.service_name(api_id, generic, domain, fallback)
}

/// REST and WebSocket API spans: `aws.apigateway` / `aws.apigateway.websocket`, preceded
/// by an `aws.apigateway.authorizer` span when a fresh authorizer injected its finish time.
pub(super) fn api_gateway_spans(
    event: &Value,
    source: EventSource,
    options: &TriggerOptions,
) -> Vec<InferredSpan> {
    let Some(rc) = at(event, &["requestContext"]) else {
        return Vec::new();
    };
    let websocket = source == EventSource::ApiGatewayWebsocket;
    let domain = str_at(rc, &["domainName"]).unwrap_or("");
    let service = api_service(rc, options, "lambda_api_gateway", "apigateway");
    let request_time = number_at(rc, &["requestTimeEpoch"]).and_then(millis_ns);
    let (name, resource) = if websocket {
        let route = str_at(rc, &["routeKey"]).unwrap_or("").to_string();
        ("aws.apigateway.websocket", route)
    } else {
        let method = str_at(event, &["httpMethod"]).unwrap_or("");
        (
            "aws.apigateway",
            format!("{method} {}", resource_path(event)),
        )
    };
    let mut span = InferredSpan::new(name, service, resource.clone(), request_time);
    span.set_synchronous(!is_async_invocation(event));
    span.tag("span.kind", Some("server"));
    span.tag("apiid", str_at(rc, &["apiId"]));
    span.tag("apiname", str_at(rc, &["apiId"]));
    span.tag("stage", str_at(rc, &["stage"]));
    if websocket {
        span.tag("http.url", Some(format!("https://{domain}{resource}")));
        span.tag("endpoint", Some(resource));
        span.tag("connection_id", str_at(rc, &["connectionId"]));
        span.tag("event_type", str_at(rc, &["eventType"]));
        span.tag("message_direction", str_at(rc, &["messageDirection"]));
    } else {
        let path = str_at(event, &["path"]).unwrap_or("");
        span.tag("http.url", Some(format!("https://{domain}{path}")));
        span.tag("endpoint", Some(path));
        span.tag("http.method", str_at(event, &["httpMethod"]));
        span.tag("http.useragent", str_at(rc, &["identity", "userAgent"]));
    }
    let mut spans = Vec::new();
    if options.decode_authorizer_context {
        if let Some(authorizer) = authorizer_span(event, &span, request_time) {
            span.start_ns = authorizer.end_ns();
            spans.push(authorizer);
        }
    }
    spans.push(span);
    spans
}

/// The authorizer span runs from the injected parent finish time until API Gateway calls
/// the integration (`requestTimeEpoch + integrationLatency`), never ending before it starts.
fn authorizer_span(
    event: &Value,
    api_span: &InferredSpan,
    request_time_ns: Option<i64>,
) -> Option<InferredSpan> {
    let data = injected_authorizer_data(event, false)?;
    let start = number_at(&data, &[PARENT_SPAN_FINISH_TIME])? as i64;
    let latency_ms = number_at(
        event,
        &["requestContext", "authorizer", "integrationLatency"],
    )
    .unwrap_or(0.0);
    let integration_ns = request_time_ns
        .unwrap_or(0)
        .saturating_add((latency_ms * 1e6) as i64);
    let mut span = api_span.clone();
    span.name = "aws.apigateway.authorizer".to_string();
    span.meta
        .insert("operation_name".to_string(), span.name.clone());
    span.set_synchronous(true);
    span.start_ns = Some(start);
    span.end = InferredSpanEnd::At(start.max(integration_ns));
    Some(span)
}

impl InferredSpan {
    fn end_ns(&self) -> Option<i64> {
        match self.end {
            InferredSpanEnd::At(ns) => Some(ns),
            _ => None,
        }
    }
}

/// HTTP API (payload v2) span `aws.httpapi`; a fresh Lambda authorizer moves its start to
/// the authorizer's finish.
pub(super) fn http_api_span(event: &Value, options: &TriggerOptions) -> Option<InferredSpan> {
    let rc = at(event, &["requestContext"])?;
    let domain = str_at(rc, &["domainName"]).unwrap_or("");
    let method = str_at(rc, &["http", "method"]);
    let path = str_at(event, &["rawPath"]).unwrap_or("");
    let resource = format!("{} {}", method.unwrap_or(""), resource_path(event));
    let mut start = number_at(rc, &["timeEpoch"]).and_then(millis_ns);
    if options.decode_authorizer_context {
        if let Some(data) = injected_authorizer_data(event, true) {
            if let Some(finish) = number_at(&data, &[PARENT_SPAN_FINISH_TIME]) {
                start = Some(finish as i64);
            }
        }
    }
    let service = api_service(rc, options, "lambda_api_gateway", "apigateway");
    let mut span = InferredSpan::new("aws.httpapi", service, resource, start);
    span.set_synchronous(!is_async_invocation(event));
    span.tag("span.kind", Some("server"));
    span.tag("endpoint", Some(path));
    span.tag("http.url", Some(format!("https://{domain}{path}")));
    span.tag("http.method", method);
    span.tag("http.protocol", str_at(rc, &["http", "protocol"]));
    span.tag("http.source_ip", str_at(rc, &["http", "sourceIp"]));
    span.tag("http.useragent", str_at(rc, &["http", "userAgent"]));
    span.tag("apiid", str_at(rc, &["apiId"]));
    span.tag("apiname", str_at(rc, &["apiId"]));
    span.tag("stage", str_at(rc, &["stage"]));
    Some(span)
}

/// Function URL span `aws.lambda.url` (type `http`, always synchronous).
pub(super) fn function_url_span(event: &Value, options: &TriggerOptions) -> Option<InferredSpan> {
    let rc = at(event, &["requestContext"])?;
    let domain = str_at(rc, &["domainName"]).unwrap_or("");
    let method = str_at(rc, &["http", "method"]).unwrap_or("");
    let path = str_at(rc, &["http", "path"]).unwrap_or("");
    let start = number_at(rc, &["timeEpoch"]).and_then(millis_ns);
    let service = api_service(rc, options, "lambda_url", "lambda-url");
    let mut span = InferredSpan::new("aws.lambda.url", service, format!("{method} {path}"), start);
    span.span_type = "http".to_string();
    span.set_synchronous(true);
    span.tag("span.kind", Some("server"));
    span.tag("http.url", Some(format!("https://{domain}{path}")));
    span.tag("endpoint", Some(path));
    span.tag("http.method", Some(method).filter(|m| !m.is_empty()));
    Some(span)
}

/// True when the event has request headers worth handing to the propagator.
pub(super) fn has_headers(event: &Value) -> bool {
    event
        .as_object()
        .is_some_and(|o| o.contains_key("headers") || o.contains_key("multiValueHeaders"))
}

/// Header carrier values as plain strings (numbers are accepted, other values dropped).
pub(super) fn carrier(map: &Map<String, Value>) -> BTreeMap<String, String> {
    map.iter()
        .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), scalar_text(v)?)))
        .collect()
}
