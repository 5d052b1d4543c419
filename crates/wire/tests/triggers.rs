//! Trigger detection, trigger tags, inferred spans and trace-context extraction over the
//! event fixtures in `tests/events/` (public AWS event shapes, plus odd ones).

use lambdascope_wire::triggers::{
    self, extract_context, ContextSource, EventSource, ExtractOptions, InferredSpan,
    InferredSpanEnd, InvocationFacts, PropagationStyle, Trigger, TriggerOptions,
};
use serde_json::Value;

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:my-fn:prod";

fn event(name: &str) -> Value {
    let path = format!("{}/tests/events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn facts() -> InvocationFacts<'static> {
    InvocationFacts {
        function_arn: FUNCTION_ARN,
        request_id: "req-1",
    }
}

fn trigger(name: &str) -> Trigger {
    triggers::parse(&event(name), facts(), &TriggerOptions::default())
        .unwrap_or_else(|| panic!("{name}: no trigger"))
}

fn tag<'a>(t: &'a Trigger, key: &str) -> Option<&'a str> {
    t.tags.get(key).map(String::as_str)
}

fn meta<'a>(s: &'a InferredSpan, key: &str) -> Option<&'a str> {
    s.meta.get(key).map(String::as_str)
}

fn only_span(t: &Trigger) -> &InferredSpan {
    assert_eq!(t.inferred.len(), 1, "{:?}", t.inferred);
    &t.inferred[0]
}

fn assert_inferred_common(s: &InferredSpan, sync: bool) {
    assert_eq!(meta(s, "_dd.origin"), Some("lambda"));
    assert_eq!(meta(s, "_inferred_span.tag_source"), Some("self"));
    assert_eq!(
        meta(s, "_inferred_span.synchronicity"),
        Some(if sync { "sync" } else { "async" })
    );
    assert_eq!(meta(s, "request_id"), Some("req-1"));
    assert_eq!(s.metrics.get("_dd._inferred_span"), Some(&1.0));
}

fn ctx(name: &str) -> Option<triggers::ExtractedContext> {
    extract_context(&event(name), None, None, &ExtractOptions::default())
}

#[test]
fn api_gateway_rest() {
    let t = trigger("api-gateway-rest");
    assert_eq!(t.source, EventSource::ApiGatewayRest);
    assert_eq!(
        tag(&t, "function_trigger.event_source"),
        Some("api-gateway")
    );
    assert_eq!(
        tag(&t, "function_trigger.event_source_arn"),
        Some("arn:aws:apigateway:us-east-1::/restapis/abc123/stages/prod")
    );
    assert_eq!(
        tag(&t, "http.url"),
        Some("https://abc123.execute-api.us-east-1.amazonaws.com/prod/users/42")
    );
    assert_eq!(tag(&t, "http.method"), Some("GET"));
    assert_eq!(tag(&t, "http.route"), Some("/users/{id}"));
    assert_eq!(tag(&t, "http.referer"), Some("https://example.com/page"));
    assert_eq!(tag(&t, "span.kind"), Some("server"));
    let s = only_span(&t);
    assert_inferred_common(s, true);
    assert_eq!(
        (s.name.as_str(), s.service.as_str()),
        (
            "aws.apigateway",
            "abc123.execute-api.us-east-1.amazonaws.com"
        )
    );
    assert_eq!(s.resource, "GET /users/{id}");
    assert_eq!(s.span_type, "web");
    assert_eq!(s.start_ns, Some(1_583_798_639_428_000_000));
    assert_eq!(s.end, InferredSpanEnd::WithInvocation);
    assert_eq!(
        meta(s, "http.url"),
        Some("https://abc123.execute-api.us-east-1.amazonaws.com/users/42")
    );
    assert_eq!(meta(s, "endpoint"), Some("/users/42"));
    assert_eq!(meta(s, "apiid"), Some("abc123"));
    assert_eq!(meta(s, "stage"), Some("prod"));
    assert_eq!(meta(s, "http.useragent"), Some("curl/8.0"));

    let c = ctx("api-gateway-rest").unwrap();
    assert_eq!(
        (c.trace_id, c.parent_id, c.sampling_priority),
        (12345678901234567890, 987654321, Some(1))
    );
    assert_eq!(c.trace_id_high, 0x66bcb5eb00000000);
    assert_eq!(c.tags.get("_dd.p.dm").map(String::as_str), Some("-0"));
    assert_eq!(c.source, ContextSource::HttpHeaders);
}

#[test]
fn api_gateway_authorizer_span_and_context() {
    let t = trigger("api-gateway-rest-authorizer");
    assert_eq!(t.inferred.len(), 2);
    let (auth, api) = (&t.inferred[0], &t.inferred[1]);
    assert_eq!(auth.name, "aws.apigateway.authorizer");
    assert_eq!(auth.start_ns, Some(1_583_798_639_400_000_000));
    // requestTimeEpoch + integrationLatency (171 ms)
    let integration = 1_583_798_639_428_000_000 + 171_000_000;
    assert_eq!(auth.end, InferredSpanEnd::At(integration));
    assert_eq!(api.name, "aws.apigateway");
    assert_eq!(api.start_ns, Some(integration));
    let c = ctx("api-gateway-rest-authorizer").unwrap();
    assert_eq!(
        (c.trace_id, c.parent_id, c.source),
        (111, 222, ContextSource::Authorizer)
    );

    // A cached authorizer result (no latency, other request id) is ignored: headers win.
    let t = trigger("api-gateway-rest-cached-authorizer");
    assert_eq!(t.inferred.len(), 1);
    assert_eq!(t.inferred[0].start_ns, Some(1_583_798_639_428_000_000));
    let c = ctx("api-gateway-rest-cached-authorizer").unwrap();
    assert_eq!((c.trace_id, c.source), (999, ContextSource::HttpHeaders));

    // Authorizer decoding can be turned off.
    let opts = TriggerOptions {
        decode_authorizer_context: false,
        ..Default::default()
    };
    let t = triggers::parse(&event("api-gateway-rest-authorizer"), facts(), &opts).unwrap();
    assert_eq!(t.inferred.len(), 1);
    let x = ExtractOptions {
        decode_authorizer_context: false,
        ..Default::default()
    };
    assert_eq!(
        extract_context(&event("api-gateway-rest-authorizer"), None, None, &x)
            .unwrap()
            .trace_id,
        999
    );
}

#[test]
fn api_gateway_async_invocation() {
    let s = only_span(&trigger("api-gateway-async")).clone();
    assert_inferred_common(&s, false);
    assert_eq!(s.end, InferredSpanEnd::AtInvocationStart);
}

#[test]
fn http_api_with_traceparent() {
    let t = trigger("http-api");
    assert_eq!(t.source, EventSource::ApiGatewayHttp);
    assert_eq!(
        tag(&t, "function_trigger.event_source_arn"),
        Some("arn:aws:apigateway:us-east-1::/restapis/r3pmxmplak/stages/$default")
    );
    assert_eq!(
        tag(&t, "http.url"),
        Some("https://r3pmxmplak.execute-api.us-east-2.amazonaws.com/users/42")
    );
    assert_eq!(tag(&t, "http.route"), Some("/users/{id}"));
    assert_eq!(tag(&t, "http.referer"), Some("https://ref.example"));
    let s = only_span(&t);
    assert_inferred_common(s, true);
    assert_eq!(
        (s.name.as_str(), s.resource.as_str()),
        ("aws.httpapi", "GET /users/{id}")
    );
    assert_eq!(s.start_ns, Some(1_583_817_383_220_000_000));
    assert_eq!(meta(s, "http.protocol"), Some("HTTP/1.1"));
    assert_eq!(meta(s, "http.source_ip"), Some("205.255.255.176"));
    let c = ctx("http-api").unwrap();
    assert_eq!(
        (c.trace_id, c.parent_id, c.sampling_priority),
        (0xcafe, 0xbeef, Some(2))
    );
    assert_eq!(c.origin.as_deref(), Some("rum"));
    assert_eq!(c.style, Some(PropagationStyle::TraceContext));
    // With only the Datadog style, the W3C headers are not read.
    let dd_only = ExtractOptions {
        styles: vec![PropagationStyle::Datadog],
        ..Default::default()
    };
    assert!(extract_context(&event("http-api"), None, None, &dd_only).is_none());
}

#[test]
fn websocket() {
    let t = trigger("websocket-message");
    assert_eq!(t.source, EventSource::ApiGatewayWebsocket);
    let s = only_span(&t);
    assert_eq!(
        (s.name.as_str(), s.resource.as_str()),
        ("aws.apigateway.websocket", "$default")
    );
    assert_eq!(meta(s, "connection_id"), Some("Fc5SzcoYGjQCJlg="));
    assert_eq!(meta(s, "event_type"), Some("MESSAGE"));
    assert_eq!(meta(s, "message_direction"), Some("IN"));
    assert_eq!(s.start_ns, Some(1_583_817_383_220_000_000));
}

#[test]
fn function_url() {
    let t = trigger("function-url");
    assert_eq!(
        tag(&t, "function_trigger.event_source"),
        Some("lambda-function-url")
    );
    assert_eq!(
        tag(&t, "function_trigger.event_source_arn"),
        Some("arn:aws:lambda:us-east-1:123456789012:url:my-fn:prod")
    );
    assert_eq!(
        tag(&t, "http.url"),
        Some("https://a8hyhsshac.lambda-url.eu-south-1.amazonaws.com/orders")
    );
    assert_eq!(tag(&t, "http.method"), Some("POST"));
    let s = only_span(&t);
    assert_inferred_common(s, true);
    assert_eq!(
        (s.name.as_str(), s.span_type.as_str(), s.resource.as_str()),
        ("aws.lambda.url", "http", "POST /orders")
    );
    assert_eq!(s.service, "a8hyhsshac.lambda-url.eu-south-1.amazonaws.com");
    assert_eq!(s.start_ns, Some(1_659_687_279_885_000_000));
    assert_eq!(ctx("function-url").unwrap().trace_id, 5);
}

#[test]
fn alb_tags_only() {
    let t = trigger("alb");
    assert_eq!(
        tag(&t, "function_trigger.event_source"),
        Some("application-load-balancer")
    );
    assert_eq!(
        tag(&t, "function_trigger.event_source_arn"),
        Some("arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/lambda-xyz/123abc")
    );
    assert_eq!(
        tag(&t, "http.url"),
        Some("https://lambda-alb-123578498.us-east-2.elb.amazonaws.com/lambda")
    );
    assert_eq!(tag(&t, "http.route"), Some("/lambda"));
    assert_eq!(tag(&t, "http.useragent"), Some("Mozilla/5.0"));
    assert!(t.inferred.is_empty());
    assert_eq!(ctx("alb").unwrap().trace_id, 77);

    let t = trigger("alb-multi-value-headers");
    assert_eq!(tag(&t, "http.url"), Some("http://alb.example.com/submit"));
    assert_eq!(tag(&t, "http.useragent"), Some("agent/1"));
    assert_eq!(
        ctx("alb-multi-value-headers").unwrap().sampling_priority,
        Some(2)
    );
}

#[test]
fn sqs_batch_uses_first_record() {
    let t = trigger("sqs");
    assert_eq!(tag(&t, "function_trigger.event_source"), Some("sqs"));
    assert_eq!(
        tag(&t, "function_trigger.event_source_arn"),
        Some("arn:aws:sqs:eu-west-1:601427279990:InferredSpansQueueNode")
    );
    assert!(!t.tags.contains_key("http.url"));
    let s = only_span(&t);
    assert_inferred_common(s, false);
    assert_eq!(
        (s.name.as_str(), s.service.as_str(), s.resource.as_str()),
        (
            "aws.sqs",
            "InferredSpansQueueNode",
            "InferredSpansQueueNode"
        )
    );
    assert_eq!(s.start_ns, Some(1_634_662_094_538_000_000));
    assert_eq!(meta(s, "receipt_handle"), Some("AQEB-handle-m1"));
    assert_eq!(meta(s, "sender_id"), Some("AROAYFZYFVZBZ7EXAMPLE:sender"));
    let c = ctx("sqs").unwrap();
    assert_eq!(
        (c.trace_id, c.parent_id, c.source),
        (
            2684756524522091840,
            7431398482019833808,
            ContextSource::MessageAttributes
        )
    );
}

#[test]
fn sqs_aws_trace_header() {
    let c = ctx("sqs-aws-trace-header").unwrap();
    assert_eq!(
        (c.trace_id, c.parent_id, c.sampling_priority),
        (0x1234567890abcdef, 0x0123456789abcdef, Some(1))
    );
    assert_eq!(c.source, ContextSource::AwsTraceHeader);
    // A genuine X-Ray header (no padding) is not a Datadog context.
    assert!(ctx("sqs-xray-trace-header").is_none());
}

#[test]
fn sns_to_sqs_upstream_span() {
    let t = trigger("sns-to-sqs");
    assert_eq!(t.inferred.len(), 2);
    let (sns, sqs) = (&t.inferred[0], &t.inferred[1]);
    assert_eq!(sns.name, "aws.sns");
    assert_eq!(sns.resource, "serverlessTracingTopicPy");
    assert_eq!(sns.start_ns, Some(1_643_638_421_637_000_000));
    assert_eq!(sns.end, InferredSpanEnd::At(1_643_638_421_702_000_000));
    assert_eq!(sqs.name, "aws.sqs");
    let c = ctx("sns-to-sqs").unwrap();
    assert_eq!(
        (c.trace_id, c.parent_id),
        (4948377316357291421, 6746998015037429512)
    );
}

#[test]
fn sns() {
    let t = trigger("sns");
    assert_eq!(
        tag(&t, "function_trigger.event_source_arn"),
        Some("arn:aws:sns:sa-east-1:601427279990:serverlessTracingTopicPy")
    );
    let s = only_span(&t);
    assert_inferred_common(s, false);
    assert_eq!(
        (s.service.as_str(), s.resource.as_str()),
        ("serverlessTracingTopicPy", "serverlessTracingTopicPy")
    );
    assert_eq!(meta(s, "subject"), Some("Order placed"));
    assert_eq!(meta(s, "type"), Some("Notification"));
    assert_eq!(
        meta(s, "message_id"),
        Some("87056a47-f506-5d77-908b-303605d3b197")
    );
    assert_eq!(ctx("sns").unwrap().trace_id, 11);
}

#[test]
fn eventbridge_and_eventbridge_to_sqs() {
    let t = trigger("eventbridge");
    assert_eq!(
        tag(&t, "function_trigger.event_source"),
        Some("eventbridge")
    );
    assert!(!t.tags.contains_key("function_trigger.event_source_arn"));
    let s = only_span(&t);
    assert_inferred_common(s, false);
    assert_eq!(
        (s.name.as_str(), s.service.as_str(), s.resource.as_str()),
        ("aws.eventbridge", "my.event", "my.event")
    );
    assert_eq!(s.start_ns, Some(1_643_040_010_000_000_000));
    assert_eq!(meta(s, "detail_type"), Some("UserSignUp"));
    let c = ctx("eventbridge").unwrap();
    assert_eq!(
        (c.trace_id, c.source),
        (5827606813695714842, ContextSource::EventBridge)
    );

    let t = trigger("eventbridge-to-sqs");
    assert_eq!(
        t.inferred
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["aws.eventbridge", "aws.sqs"]
    );
    assert_eq!(
        ctx("eventbridge-to-sqs").unwrap().trace_id,
        5827606813695714842
    );

    let t = trigger("eventbridge-custom-no-context");
    assert_eq!(only_span(&t).service, "shop.orders");
    assert!(ctx("eventbridge-custom-no-context").is_none());
}

#[test]
fn kinesis() {
    let t = trigger("kinesis");
    assert_eq!(
        tag(&t, "function_trigger.event_source_arn"),
        Some("arn:aws:kinesis:eu-west-1:601427279990:stream/kinesisStream")
    );
    let s = only_span(&t);
    assert_inferred_common(s, false);
    assert_eq!(
        (s.service.as_str(), s.resource.as_str()),
        ("kinesisStream", "kinesisStream")
    );
    assert_eq!(meta(s, "shardid"), Some("shardId-000000000002"));
    assert_eq!(meta(s, "partition_key"), Some("partitionkey"));
    assert_eq!(s.start_ns, Some(1_643_638_425_163_000_000));
    let c = ctx("kinesis").unwrap();
    assert_eq!(
        (c.trace_id, c.parent_id, c.source),
        (
            4948377316357291421,
            2876253380018681026,
            ContextSource::Kinesis
        )
    );
    assert!(ctx("kinesis-not-json").is_none());
    assert_eq!(only_span(&trigger("kinesis-not-json")).resource, "s2");
}

#[test]
fn dynamodb() {
    let t = trigger("dynamodb");
    assert_eq!(tag(&t, "function_trigger.event_source"), Some("dynamodb"));
    let s = only_span(&t);
    assert_inferred_common(s, false);
    assert_eq!(
        (s.service.as_str(), s.resource.as_str()),
        ("ExampleTableWithStream", "ExampleTableWithStream")
    );
    assert_eq!(meta(s, "size_bytes"), Some("26"));
    assert_eq!(meta(s, "stream_view_type"), Some("NEW_AND_OLD_IMAGES"));
    assert_eq!(meta(s, "event_name"), Some("INSERT"));
    assert_eq!(s.start_ns, Some(1_428_537_600_000_000_000));
}

#[test]
fn s3() {
    let t = trigger("s3");
    assert_eq!(
        tag(&t, "function_trigger.event_source_arn"),
        Some("arn:aws:s3:::example-bucket")
    );
    let s = only_span(&t);
    assert_inferred_common(s, false);
    assert_eq!(
        (s.service.as_str(), s.resource.as_str()),
        ("example-bucket", "example-bucket")
    );
    assert_eq!(meta(s, "object_key"), Some("test/key"));
    assert_eq!(meta(s, "object_size"), Some("1024"));
    assert_eq!(
        meta(s, "object_etag"),
        Some("0123456789abcdef0123456789abcdef")
    );
    assert_eq!(s.start_ns, Some(1_673_094_896_789_000_000));
}

#[test]
fn sources_without_inferred_spans() {
    let t = trigger("cloudwatch-logs");
    assert_eq!(
        tag(&t, "function_trigger.event_source"),
        Some("cloudwatch-logs")
    );
    assert_eq!(
        tag(&t, "function_trigger.event_source_arn"),
        Some("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/testLogGroup")
    );
    assert!(t.inferred.is_empty());
    let t = trigger("cloudwatch-logs-corrupt");
    assert_eq!(t.source, EventSource::CloudWatchLogs);
    assert!(t.arn.is_none());

    let t = trigger("cloudwatch-events-scheduled");
    assert_eq!(
        tag(&t, "function_trigger.event_source"),
        Some("cloudwatch-events")
    );
    assert_eq!(
        tag(&t, "function_trigger.event_source_arn"),
        Some("arn:aws:events:us-east-1:123456789012:rule/my-schedule")
    );
    assert!(t.inferred.is_empty());

    let t = trigger("cloudfront");
    assert_eq!(tag(&t, "function_trigger.event_source"), Some("cloudfront"));
    assert_eq!(
        tag(&t, "function_trigger.event_source_arn"),
        Some("arn:aws:cloudfront::123456789012:distribution/EDFDVBD6EXAMPLE")
    );
    assert!(t.inferred.is_empty());
}

// Expected ids computed with Python's `_deterministic_sha256_hash` rules (sha256, one 64-bit
// word with its top bit cleared) over the fixture's execution ARNs.
#[test]
fn step_functions_contexts() {
    let t = trigger("step-functions-legacy");
    assert_eq!(tag(&t, "function_trigger.event_source"), Some("states"));
    assert_eq!(
        tag(&t, "function_trigger.event_source_arn"),
        Some("arn:aws:states:sa-east-1:425362996713:stateMachine:abhinav-activity-state-machine")
    );
    assert!(t.inferred.is_empty());
    let c = ctx("step-functions-legacy").unwrap();
    assert_eq!(
        (c.trace_id, c.parent_id, c.sampling_priority),
        (435175499815315247, 3929055471293792800, Some(1))
    );
    assert_eq!(c.tags["_dd.p.tid"], "3e7a89d1b7310603");
    assert_eq!(c.source, ContextSource::StepFunctions);

    let c = ctx("step-functions-v1-root").unwrap();
    assert_eq!(
        (c.trace_id, c.parent_id),
        (7521993447513033552, 3813788878574874639)
    );
    assert_eq!(c.tags["_dd.p.tid"], "50be3b0c58330b7a");

    let c = ctx("step-functions-lambda-root").unwrap();
    assert_eq!(
        (c.trace_id, c.parent_id),
        (5821803790426892636, 3929055471293792800)
    );
    assert_eq!(
        (c.tags["_dd.p.tid"].as_str(), c.trace_id_high),
        ("672a7cb100000000", 0x672a7cb100000000)
    );
}

#[test]
fn service_mapping_and_representation() {
    let opts = TriggerOptions {
        service_mapping: TriggerOptions::parse_service_mapping(
            "InferredSpansQueueNode:orders-queue,lambda_sns:all-topics",
        ),
        ..Default::default()
    };
    let t = triggers::parse(&event("sqs"), facts(), &opts).unwrap();
    assert_eq!(t.inferred[0].service, "orders-queue");
    let t = triggers::parse(&event("sns"), facts(), &opts).unwrap();
    assert_eq!(t.inferred[0].service, "all-topics");
    let opts = TriggerOptions {
        aws_service_representation: false,
        ..Default::default()
    };
    for (name, service) in [
        ("sqs", "sqs"),
        ("sns", "sns"),
        ("kinesis", "kinesis"),
        ("dynamodb", "dynamodb"),
        ("s3", "s3"),
        ("eventbridge", "eventbridge"),
    ] {
        let t = triggers::parse(&event(name), facts(), &opts).unwrap();
        assert_eq!(t.inferred.last().unwrap().service, service, "{name}");
    }
}

#[test]
fn odd_events_never_fail() {
    for name in [
        "odd-list",
        "odd-records-not-objects",
        "odd-unknown",
        "odd-empty-records",
    ] {
        assert!(
            triggers::parse(&event(name), facts(), &TriggerOptions::default()).is_none(),
            "{name}"
        );
        assert!(ctx(name).is_none(), "{name}");
    }
    // Recognised, but fields are missing or null: tags still come out, nothing panics.
    let t = trigger("odd-null-headers");
    assert_eq!(t.source, EventSource::ApiGatewayRest);
    assert_eq!(only_span(&t).start_ns, None);
    assert!(ctx("odd-null-headers").is_none());
    let t = trigger("odd-sqs-missing-fields");
    assert_eq!(t.source, EventSource::Sqs);
    assert!(t.arn.is_none());
    assert!(ctx("odd-sqs-missing-fields").is_none());
    assert!(ctx("odd-binary-attribute-garbage").is_none());
}
