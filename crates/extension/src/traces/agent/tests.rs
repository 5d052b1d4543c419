use lambdascope_wire::telemetry::decode_batch;
use serde_json::json;

use super::*;
use crate::traces::processor::FunctionFacts;
use crate::traces::settings::TraceSettings;

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:checkout";

pub(crate) fn agent() -> TraceAgent {
    let function = FunctionFacts {
        name: "checkout".into(),
        arn: ARN.into(),
        service: "checkout".into(),
        memory_mb: 128,
        ..Default::default()
    };
    TraceAgent::new(TraceProcessor::new(TraceSettings::default(), function))
}

pub(crate) fn telemetry(events: serde_json::Value) -> Vec<TelemetryEvent> {
    decode_batch(events.to_string().as_bytes()).unwrap().0
}

fn far_deadline() -> u64 {
    (ns(SystemTime::now()) / 1_000_000) as u64 + 60_000
}

fn spans(payload: &AgentPayload) -> Vec<&Span> {
    payload
        .tracer_payloads
        .iter()
        .flat_map(|t| &t.chunks)
        .flat_map(|c| &c.spans)
        .collect()
}

#[test]
fn telemetry_alone_builds_a_timed_out_invocation_with_its_cold_start() {
    let agent = agent();
    agent.on_invoke(
        "r1",
        far_deadline(),
        ARN,
        Some("Root=1-5e272390-8c398be037738dc042009320;Parent=94ae789b969f1cc5;Sampled=1"),
    );
    agent.on_telemetry(&telemetry(json!([
        {"time": "2024-01-01T00:00:00.000Z", "type": "platform.initStart", "record": {"initializationType": "on-demand", "phase": "init"}},
        {"time": "2024-01-01T00:00:00.300Z", "type": "platform.initReport", "record": {"initializationType": "on-demand", "phase": "init", "metrics": {"durationMs": 280.0}}},
        {"time": "2024-01-01T00:00:00.400Z", "type": "platform.start", "record": {"requestId": "r1"}},
        {"time": "2024-01-01T00:00:03.400Z", "type": "platform.runtimeDone", "record": {"requestId": "r1", "status": "timeout"}},
    ])));
    let payload = agent
        .take_payload(false)
        .expect("spans built from telemetry");
    let spans = spans(&payload);
    let lambda = spans.iter().find(|s| s.name == "aws.lambda").unwrap();
    assert_eq!(
        (lambda.error, lambda.meta["error.type"].as_str()),
        (1, "Timeout")
    );
    assert_eq!(lambda.meta["cold_start"], "true");
    assert_eq!(lambda.meta["request_id"], "r1");
    assert_eq!(lambda.duration, 3_000_000_000);
    assert_eq!(
        lambda.parent_id, 0,
        "X-Ray is not a parent without DD_MERGE_XRAY_TRACES"
    );
    let cold = spans
        .iter()
        .find(|s| s.name == "aws.lambda.cold_start")
        .unwrap();
    assert_eq!(
        (cold.parent_id, cold.duration),
        (lambda.span_id, 280_000_000)
    );
    assert!(agent.take_payload(false).is_none(), "built once");
    assert_eq!(agent.counters().invocation_spans_built, 1);
}

#[test]
fn library_lifecycle_with_an_http_trigger_and_a_user_span() {
    let agent = agent();
    agent.on_invoke("r2", far_deadline(), ARN, None);
    let event = json!({
        "resource": "/orders", "path": "/orders", "httpMethod": "POST",
        "headers": {"x-datadog-trace-id": "77", "x-datadog-parent-id": "78", "x-datadog-sampling-priority": "2"},
        "requestContext": {"stage": "prod", "apiId": "a1", "domainName": "a1.execute-api.us-east-1.amazonaws.com", "requestTimeEpoch": 1700000000000u64, "resourcePath": "/orders", "httpMethod": "POST", "path": "/prod/orders", "identity": {}}
    });
    let headers: BTreeMap<_, _> = agent
        .start_invocation(Some("r2"), event.to_string().as_bytes())
        .into_iter()
        .collect();
    assert_eq!(headers["x-datadog-trace-id"], "77");
    assert_eq!(headers["x-datadog-sampling-priority"], "2");
    let parent: u64 = headers["x-datadog-parent-id"].parse().unwrap();
    let user = format!(
        r#"[[{{"trace_id":77,"span_id":5,"parent_id":{parent},"name":"get_coffee","service":"checkout","start":1700000000100000000,"duration":1000}}]]"#
    );
    let n = agent
        .receive_traces(
            TraceApiVersion::V04,
            Some("application/json"),
            user.as_bytes(),
            &TracerMeta::default(),
        )
        .unwrap();
    assert_eq!(n, 1);
    let stack = base64::engine::general_purpose::STANDARD.encode("Traceback: boom");
    let root_tags = base64::engine::general_purpose::STANDARD
        .encode(r#"{"meta":{"customer":"c-1"},"metrics":{"items":3}}"#);
    let error_headers = BTreeMap::from([
        ("x-datadog-invocation-error", "true".to_string()),
        ("x-datadog-invocation-error-type", "ValueError".to_string()),
        ("x-datadog-invocation-error-msg", "boom".to_string()),
        ("x-datadog-invocation-error-stack", stack),
        ("x-lambdascope-span-tags", root_tags),
    ]);
    agent.end_invocation(Some("r2"), br#"{"statusCode": 500}"#, |k| {
        error_headers.get(k).cloned()
    });
    let payload = agent.take_payload(false).unwrap();
    let spans = spans(&payload);
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"get_coffee")
            && names.contains(&"aws.apigateway")
            && names.contains(&"aws.lambda"),
        "{names:?}"
    );
    let lambda = spans.iter().find(|s| s.name == "aws.lambda").unwrap();
    let apigw = spans.iter().find(|s| s.name == "aws.apigateway").unwrap();
    assert_eq!(
        (lambda.trace_id, lambda.span_id, lambda.parent_id),
        (77, parent, apigw.span_id)
    );
    assert_eq!(
        (apigw.parent_id, apigw.meta["http.status_code"].as_str()),
        (78, "500")
    );
    assert_eq!(lambda.error, 1);
    assert_eq!(lambda.meta["error.type"], "ValueError");
    assert_eq!(lambda.meta["error.stack"], "Traceback: boom");
    assert_eq!(lambda.meta["customer"], "c-1");
    assert_eq!(lambda.metrics["items"], 3.0);
    assert_eq!(lambda.meta["function_trigger.event_source"], "api-gateway");
}

#[test]
fn a_tracer_built_invocation_span_is_not_duplicated() {
    let agent = agent();
    agent.on_invoke("r3", far_deadline(), ARN, None);
    agent.start_invocation(Some("r3"), b"{}");
    let theirs = r#"[[{"trace_id":9,"span_id":10,"parent_id":0,"name":"aws.lambda","service":"checkout","start":1700000000000000000,"duration":5,"meta":{"request_id":"r3"}}]]"#;
    agent
        .receive_traces(
            TraceApiVersion::V04,
            Some("application/json"),
            theirs.as_bytes(),
            &TracerMeta::default(),
        )
        .unwrap();
    agent.end_invocation(Some("r3"), b"null", |_| None);
    let payload = agent.take_payload(false).unwrap();
    let lambdas: Vec<_> = spans(&payload)
        .into_iter()
        .filter(|s| s.name == "aws.lambda")
        .collect();
    assert_eq!(lambdas.len(), 1);
    assert_eq!(lambdas[0].span_id, 10);
}

#[test]
fn final_flush_marks_an_unfinished_invocation_past_its_deadline_as_timed_out() {
    let agent = agent();
    let past = (ns(SystemTime::now()) / 1_000_000) as u64 - 10;
    agent.on_invoke("r4", past, ARN, None);
    assert!(agent.take_payload(false).is_none(), "not ended yet");
    let payload = agent.take_payload(true).unwrap();
    let lambda = spans(&payload)
        .into_iter()
        .find(|s| s.name == "aws.lambda")
        .unwrap()
        .clone();
    assert_eq!(
        (lambda.error, lambda.meta["error.type"].as_str()),
        (1, "Timeout")
    );
}

#[test]
fn oom_from_the_report_and_rejected_payloads_are_counted() {
    let agent = agent();
    agent.on_invoke("r5", far_deadline(), ARN, None);
    agent.on_telemetry(&telemetry(json!([
        {"time": "2024-01-01T00:00:00.000Z", "type": "platform.start", "record": {"requestId": "r5"}},
        {"time": "2024-01-01T00:00:01.000Z", "type": "platform.runtimeDone", "record": {"requestId": "r5", "status": "error", "errorType": "Runtime.OutOfMemory"}},
        {"time": "2024-01-01T00:00:01.100Z", "type": "platform.report", "record": {"requestId": "r5", "status": "error", "errorType": "Runtime.OutOfMemory", "metrics": {"durationMs": 1000.0, "billedDurationMs": 1000, "memorySizeMB": 128, "maxMemoryUsedMB": 128}}},
    ])));
    let payload = agent.take_payload(false).unwrap();
    let lambda = spans(&payload)
        .into_iter()
        .find(|s| s.name == "aws.lambda")
        .unwrap()
        .clone();
    assert_eq!(lambda.meta["error.type"], "Runtime.OutOfMemory");
    let err = agent
        .receive_traces(
            TraceApiVersion::V04,
            None,
            &[0x92, 0x91],
            &TracerMeta::default(),
        )
        .unwrap_err();
    assert_eq!(err.traces_lost, 2);
    assert!(err.to_string().contains("truncated"), "{err}");
    assert_eq!(agent.counters().payloads_rejected, 1);
}

#[test]
fn payload_capture_keeps_the_event_and_response_only_when_enabled() {
    let settings = TraceSettings {
        capture_payload_depth: Some(10),
        ..Default::default()
    };
    let function = FunctionFacts {
        name: "checkout".into(),
        service: "checkout".into(),
        ..Default::default()
    };
    for (agent, captured) in [
        (
            TraceAgent::new(TraceProcessor::new(settings, function)),
            true,
        ),
        (agent(), false),
    ] {
        agent.on_invoke("r6", far_deadline(), ARN, None);
        agent.start_invocation(Some("r6"), br#"{"order": {"id": 7}}"#);
        agent.end_invocation(Some("r6"), br#"{"statusCode": 201, "secret": "s"}"#, |_| {
            None
        });
        let payload = agent.take_payload(false).unwrap();
        let lambda = spans(&payload)
            .into_iter()
            .find(|s| s.name == "aws.lambda")
            .unwrap()
            .clone();
        assert_eq!(
            lambda.meta.contains_key("function.request.order.id"),
            captured
        );
        assert_eq!(
            lambda
                .meta
                .get("function.response.secret")
                .map(String::as_str),
            captured.then_some("redacted")
        );
    }
}
