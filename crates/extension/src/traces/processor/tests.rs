use lambdascope_wire::agent_payload;
use lambdascope_wire::tracer_payload;

use super::*;
use crate::traces::filter::TagFilters;

const NOW: i64 = 1_700_000_000_000_000_000;

fn function() -> FunctionFacts {
    FunctionFacts {
        name: "Checkout".into(),
        arn: "arn:aws:lambda:us-east-1:123456789012:function:checkout".into(),
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        memory_mb: 256,
        runtime: Some("python3.12".into()),
        service: "checkout".into(),
    }
}

fn span(id: u64, parent: u64, name: &str, meta: &[(&str, &str)]) -> Span {
    Span {
        service: "checkout".into(),
        name: name.into(),
        resource: String::new(),
        trace_id: 99,
        span_id: id,
        parent_id: parent,
        start: NOW,
        duration: 1000,
        meta: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

fn processor(settings: TraceSettings) -> TraceProcessor {
    TraceProcessor::new(settings, function())
}

#[test]
fn stamps_lambda_facts_and_keeps_priority() {
    let mut root = span(1, 0, "aws.lambda", &[]);
    root.service = "aws.lambda".into();
    root.metrics.insert(SAMPLING_PRIORITY_KEY.into(), 2.0);
    let mut inferred = span(3, 0, "aws.sqs", &[("_inferred_span.tag_source", "self")]);
    inferred.service = "orders-queue".into();
    let traces = vec![vec![root, span(2, 1, "get coffee", &[])], vec![inferred]];
    let settings = TraceSettings {
        env: Some("prod".into()),
        ..Default::default()
    };
    let (payload, drops) = processor(settings).process(traces, &TracerMeta::default(), NOW);
    assert_eq!(drops, DropCounts::default());
    assert_eq!(payload.chunks.len(), 2);
    let chunk = &payload.chunks[0];
    assert_eq!((chunk.priority, chunk.origin.as_str()), (2, "lambda"));
    assert_eq!(
        chunk.spans[0].service, "checkout",
        "aws.lambda service fixed"
    );
    assert_eq!(chunk.spans[1].name, "get_coffee");
    assert_eq!(chunk.spans[1].resource, "get_coffee");
    assert!(chunk.spans.iter().all(|s| s.meta["_dd.origin"] == "lambda"));
    assert_eq!(payload.chunks[1].priority, DEFAULT_PRIORITY);
    assert_eq!(
        payload.chunks[1].spans[0].meta["_dd.base_service"],
        "checkout"
    );
    assert_eq!(payload.tags["_dd.compute_stats"], "1");
    assert!(payload.tags["_dd.tags.function"].contains("functionname:checkout"));
    assert!(payload.tags["_dd.tags.function"].contains("env:prod"));
    assert_eq!(payload.env, "prod");
}

#[test]
fn drops_infrastructure_and_invalid_spans() {
    let traces = vec![vec![
        span(1, 0, "aws.lambda", &[]),
        span(
            2,
            1,
            "http.request",
            &[("http.url", "http://127.0.0.1:8124/lambda/start-invocation")],
        ),
        span(0, 1, "no.id", &[]),
        span(
            4,
            1,
            "http.request",
            &[("http.url", "https://api.example.com/x")],
        ),
    ]];
    let tracer = TracerMeta {
        client_computed_stats: true,
        ..Default::default()
    };
    let (payload, drops) = processor(TraceSettings::default()).process(traces, &tracer, NOW);
    assert_eq!((drops.infrastructure_spans, drops.invalid_spans), (1, 1));
    assert_eq!(
        payload.chunks[0]
            .spans
            .iter()
            .map(|s| s.span_id)
            .collect::<Vec<_>>(),
        [1, 4]
    );
    assert!(!payload.tags.contains_key("_dd.compute_stats"));
}

#[test]
fn root_filters_drop_whole_traces() {
    let settings = TraceSettings {
        filters: TagFilters::parse("", "http.route:/health", "", "").unwrap(),
        ..Default::default()
    };
    let traces = vec![
        vec![
            span(2, 1, "child", &[]),
            span(1, 0, "aws.lambda", &[("http.route", "/health")]),
        ],
        vec![span(5, 0, "aws.lambda", &[("http.route", "/orders")])],
    ];
    let (payload, drops) = processor(settings).process(traces, &TracerMeta::default(), NOW);
    assert_eq!(drops.filtered_traces, 1);
    assert_eq!(payload.chunks.len(), 1);
    assert_eq!(payload.chunks[0].spans[0].span_id, 5);
}

#[test]
fn obfuscation_applies() {
    let mut settings = TraceSettings::default();
    settings.obfuscation.remove_query_string = true;
    let traces = vec![vec![span(
        1,
        0,
        "http.request",
        &[("http.url", "https://x/a?token=1")],
    )]];
    let (payload, _) = processor(settings).process(traces, &TracerMeta::default(), NOW);
    assert_eq!(payload.chunks[0].spans[0].meta["http.url"], "https://x/a?");
}

#[test]
fn agent_payload_round_trips_through_the_intake_format() {
    let body = tracer_payload::encode_v04(&[vec![
        span(1, 0, "aws.lambda", &[]),
        span(2, 1, "db.query", &[]),
    ]]);
    let traces = tracer_payload::decode_v04(&body).unwrap();
    let tracer = TracerMeta {
        language: "python".into(),
        tracer_version: "4.16.0".into(),
        ..Default::default()
    };
    let (payload, _) = processor(TraceSettings::default()).process(traces, &tracer, NOW);
    let empty = TracerPayload::default();
    let agent = agent_payload(vec![payload, empty], Some("prod"));
    assert_eq!(
        agent.tracer_payloads.len(),
        1,
        "empty tracer payloads are left out"
    );
    let decoded = agent_payload::decode(&agent_payload::encode(&agent)).unwrap();
    assert_eq!(decoded, agent);
    assert_eq!(decoded.tracer_payloads[0].language_name, "python");
    assert_eq!(decoded.tracer_payloads[0].chunks[0].spans.len(), 2);
}

#[test]
fn root_is_the_span_whose_parent_is_elsewhere() {
    let spans = vec![span(2, 1, "child", &[]), span(1, 77, "aws.lambda", &[])];
    assert_eq!(root_index(&spans), 1);
    assert_eq!(root_index(&[]), 0);
}
