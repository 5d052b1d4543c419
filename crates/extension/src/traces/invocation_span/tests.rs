use lambdascope_wire::triggers::{self, ExtractOptions, InvocationFacts, TriggerOptions};
use serde_json::json;

use super::*;

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:Checkout:live";
const START: i64 = 1_700_000_000_000_000_000;
const END: i64 = START + 250_000_000;

/// Sequential ids, so tests can name them.
struct SeqIds(u64);

impl IdSource for SeqIds {
    fn next_id(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

fn function() -> FunctionFacts {
    FunctionFacts {
        name: "Checkout".into(),
        arn: "arn:aws:lambda:us-east-1:123456789012:function:checkout".into(),
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        memory_mb: 512,
        runtime: Some("python3.12".into()),
        service: "checkout".into(),
    }
}

fn event(name: &str) -> Value {
    let path = format!(
        "{}/../wire/tests/events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn trigger_of(event: &Value) -> Option<Trigger> {
    let facts = InvocationFacts {
        function_arn: ARN,
        request_id: "req-1",
    };
    triggers::parse(event, facts, &TriggerOptions::default())
}

fn record<'a>(
    event: Option<&'a Value>,
    response: Option<&'a Value>,
    outcome: Outcome,
) -> InvocationRecord<'a> {
    InvocationRecord {
        request_id: "req-1",
        invoked_function_arn: ARN,
        start_ns: START,
        end_ns: END,
        cold_start: true,
        proactive_init: false,
        event,
        response,
        outcome,
        root_meta: BTreeMap::new(),
        root_metrics: BTreeMap::new(),
    }
}

fn plan(trigger: Option<&Trigger>, event: &Value) -> InvocationIds {
    let ctx = triggers::extract_context(event, None, None, &ExtractOptions::default());
    plan_ids(
        trigger,
        ctx.as_ref(),
        false,
        1_700_000_000,
        &mut SeqIds(100),
    )
}

#[test]
fn api_gateway_5xx_continues_the_caller_trace_and_marks_the_error() {
    let ev = event("api-gateway-rest");
    let trigger = trigger_of(&ev).unwrap();
    let ids = plan(Some(&trigger), &ev);
    assert_eq!(
        (ids.trace_id, ids.upstream_parent_id),
        (12345678901234567890, 987654321)
    );
    assert_eq!(
        (ids.inferred_span_ids.clone(), ids.span_id, ids.parent_id),
        (vec![101], 102, 101)
    );
    let headers = start_invocation_headers(&ids);
    assert!(headers.contains(&("x-datadog-parent-id", "102".to_string())));
    assert!(headers.contains(&(
        "x-datadog-tags",
        "_dd.p.dm=-0,_dd.p.tid=66bcb5eb00000000".to_string()
    )));

    let response = json!({"statusCode": 503, "body": "down"});
    let rec = record(Some(&ev), Some(&response), Outcome::Success);
    let spans = build_invocation_spans(
        &rec,
        &function(),
        Some(&trigger),
        &ids,
        &SpanOptions::default(),
    );
    let [apigw, lambda] = spans.as_slice() else {
        panic!("{spans:?}")
    };
    assert_eq!(
        (apigw.name.as_str(), apigw.span_id, apigw.parent_id),
        ("aws.apigateway", 101, 987654321)
    );
    assert_eq!(apigw.start, 1_583_798_639_428_000_000);
    assert_eq!(
        apigw.start + apigw.duration,
        END,
        "sync: ends with the response"
    );
    assert_eq!(apigw.meta["http.status_code"], "503");
    assert_eq!(apigw.meta["http.route"], "/users/{id}");
    assert_eq!(apigw.metrics[SAMPLING_PRIORITY_KEY], 1.0);
    assert_eq!(apigw.meta["_dd.p.tid"], "66bcb5eb00000000");
    assert_eq!(
        (lambda.name.as_str(), lambda.span_id, lambda.parent_id),
        ("aws.lambda", 102, 101)
    );
    assert_eq!(
        (
            lambda.service.as_str(),
            lambda.resource.as_str(),
            lambda.r#type.as_str()
        ),
        ("checkout", "Checkout", "serverless")
    );
    assert_eq!((lambda.start, lambda.duration), (START, 250_000_000));
    assert_eq!(lambda.error, 1);
    for (k, v) in [
        ("http.status_code", "503"),
        ("cold_start", "true"),
        (
            "function_arn",
            "arn:aws:lambda:us-east-1:123456789012:function:checkout",
        ),
        ("function_version", "live"),
        ("request_id", "req-1"),
        ("functionname", "checkout"),
        ("runtime", "python3.12"),
        ("memorysize", "512"),
        ("function_trigger.event_source", "api-gateway"),
        ("http.method", "GET"),
    ] {
        assert_eq!(lambda.meta.get(k).map(String::as_str), Some(v), "{k}");
    }
}

#[test]
fn http_trigger_without_a_response_is_a_502_error() {
    let ev = event("function-url");
    let trigger = trigger_of(&ev).unwrap();
    let ids = plan(Some(&trigger), &ev);
    let spans = build_invocation_spans(
        &record(Some(&ev), None, Outcome::Success),
        &function(),
        Some(&trigger),
        &ids,
        &SpanOptions::default(),
    );
    let lambda = spans.last().unwrap();
    assert_eq!(
        (lambda.meta["http.status_code"].as_str(), lambda.error),
        ("502", 1)
    );
    let ok = json!({"hello": "world"});
    let spans = build_invocation_spans(
        &record(Some(&ev), Some(&ok), Outcome::Success),
        &function(),
        Some(&trigger),
        &ids,
        &SpanOptions::default(),
    );
    assert_eq!(
        (
            spans.last().unwrap().meta["http.status_code"].as_str(),
            spans.last().unwrap().error
        ),
        ("200", 0)
    );
}

#[test]
fn sns_to_sqs_chain_is_async() {
    let ev = event("sns-to-sqs");
    let trigger = trigger_of(&ev).unwrap();
    let ids = plan(Some(&trigger), &ev);
    assert_eq!(ids.trace_id, 4948377316357291421);
    let spans = build_invocation_spans(
        &record(Some(&ev), None, Outcome::Success),
        &function(),
        Some(&trigger),
        &ids,
        &SpanOptions::default(),
    );
    let [sns, sqs, lambda] = spans.as_slice() else {
        panic!("{spans:?}")
    };
    assert_eq!(
        (sns.parent_id, sqs.parent_id, lambda.parent_id),
        (6746998015037429512, sns.span_id, sqs.span_id)
    );
    assert_eq!(
        sns.start + sns.duration,
        sqs.start,
        "upstream ends where the queue span starts"
    );
    assert_eq!(
        sqs.start + sqs.duration,
        START,
        "async: ends where aws.lambda starts"
    );
    assert!(!lambda.meta.contains_key("http.status_code"));
    assert_eq!(lambda.error, 0);
}

#[test]
fn a_new_trace_without_context() {
    let ids = plan_ids(None, None, false, 0x6553_f100, &mut SeqIds(0));
    assert_eq!((ids.trace_id, ids.span_id, ids.parent_id), (1, 2, 0));
    assert_eq!(ids.trace_id_high, 0x6553_f100_0000_0000);
    assert_eq!(ids.propagated_tags["_dd.p.tid"], "6553f10000000000");
    let spans = build_invocation_spans(
        &record(None, None, Outcome::Success),
        &function(),
        None,
        &ids,
        &SpanOptions::default(),
    );
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].metrics[SAMPLING_PRIORITY_KEY], 1.0);
    assert_eq!(spans[0].meta["_dd.p.tid"], "6553f10000000000");
}

#[test]
fn xray_context_is_a_parent_only_when_merging() {
    let xray = triggers::extract_context(
        &json!({}),
        None,
        Some("Root=1-5e272390-8c398be037738dc042009320;Parent=94ae789b969f1cc5;Sampled=1"),
        &ExtractOptions::default(),
    )
    .unwrap();
    let ids = plan_ids(None, Some(&xray), false, 1, &mut SeqIds(0));
    assert_eq!(
        (ids.trace_id, ids.parent_id, ids.xray_parent),
        (1, 0, false)
    );
    let ids = plan_ids(None, Some(&xray), true, 1, &mut SeqIds(0));
    assert_eq!(
        (ids.trace_id, ids.parent_id, ids.xray_parent),
        (xray.trace_id, 0x94ae789b969f1cc5, true)
    );
    let spans = build_invocation_spans(
        &record(None, None, Outcome::Success),
        &function(),
        None,
        &ids,
        &SpanOptions::default(),
    );
    assert_eq!(spans[0].meta["_dd.parent_source"], "xray");
}

#[test]
fn errors_timeouts_and_oom() {
    let ids = plan_ids(None, None, false, 1, &mut SeqIds(0));
    let build = |outcome| {
        build_invocation_spans(
            &record(None, None, outcome),
            &function(),
            None,
            &ids,
            &SpanOptions::default(),
        )
        .remove(0)
    };
    let s = build(Outcome::Error(ErrorFacts {
        error_type: Some("ValueError".into()),
        message: Some("bad input".into()),
        stack: Some("Traceback ...".into()),
    }));
    assert_eq!(
        (
            s.error,
            s.meta["error.type"].as_str(),
            s.meta["error.message"].as_str()
        ),
        (1, "ValueError", "bad input")
    );
    assert_eq!(s.meta["error.stack"], "Traceback ...");
    let s = build(Outcome::Timeout {
        timeout_ms: Some(3000),
    });
    assert_eq!((s.error, s.meta["error.type"].as_str()), (1, "Timeout"));
    assert_eq!(s.meta["error.message"], "Task timed out after 3.00 seconds");
    let s = build(Outcome::OutOfMemory);
    assert_eq!(
        (s.error, s.meta["error.type"].as_str()),
        (1, "Runtime.OutOfMemory")
    );
    let s = build(Outcome::Success);
    assert_eq!(s.error, 0);
    assert!(!s.meta.contains_key("error.type"));
}

#[test]
fn payload_capture_and_library_root_tags() {
    let ev = json!({"headers": {"Authorization": "Bearer x"}, "body": "{\"qty\": 2}"});
    let resp = json!({"statusCode": 200, "token": "t"});
    let mut rec = record(Some(&ev), Some(&resp), Outcome::Success);
    rec.root_meta.insert("customer".into(), "c-1".into());
    rec.root_metrics.insert("cart.size".into(), 3.0);
    let ids = plan_ids(None, None, false, 1, &mut SeqIds(0));
    let options = SpanOptions {
        capture_payload_depth: Some(10),
        env: Some("prod"),
        ..Default::default()
    };
    let s = build_invocation_spans(&rec, &function(), None, &ids, &options).remove(0);
    assert_eq!(s.meta["function.request.headers.Authorization"], "redacted");
    assert_eq!(s.meta["function.request.body.qty"], "2");
    assert_eq!(s.meta["function.response.token"], "redacted");
    assert_eq!(s.meta["customer"], "c-1");
    assert_eq!(s.meta["env"], "prod");
    assert_eq!(s.metrics["cart.size"], 3.0);
    let s =
        build_invocation_spans(&rec, &function(), None, &ids, &SpanOptions::default()).remove(0);
    assert!(!s.meta.keys().any(|k| k.starts_with("function.request")));
}

#[test]
fn cold_start_span_and_dedup_against_a_tracer_span() {
    let ids = plan_ids(None, None, false, 1, &mut SeqIds(0));
    let mut own = build_invocation_spans(
        &record(None, None, Outcome::Success),
        &function(),
        None,
        &ids,
        &SpanOptions::default(),
    );
    let cold = build_cold_start_span(
        START - 300_000_000,
        280_000_000,
        &function(),
        "req-1",
        &ids,
        9,
    );
    assert_eq!(
        (
            cold.name.as_str(),
            cold.parent_id,
            cold.trace_id,
            cold.duration
        ),
        (COLD_START_SPAN, ids.span_id, ids.trace_id, 280_000_000)
    );
    own.push(cold);

    let mut theirs = Span {
        name: "aws.lambda".into(),
        trace_id: 555,
        span_id: 777,
        ..Default::default()
    };
    theirs
        .meta
        .insert("request_id".into(), "other-request".into());
    assert!(tracer_invocation_span([&theirs], "req-1").is_none());
    assert_eq!(dedup_against_tracer(own.clone(), None).len(), 2);
    theirs.meta.insert("request_id".into(), "req-1".into());
    let found = tracer_invocation_span([&theirs], "req-1");
    let kept = dedup_against_tracer(own, found);
    assert_eq!(kept.len(), 1);
    assert_eq!(
        (kept[0].name.as_str(), kept[0].trace_id, kept[0].parent_id),
        (COLD_START_SPAN, 555, 777)
    );
}

#[test]
fn function_arn_parts_and_random_ids() {
    assert_eq!(
        split_function_arn("arn:aws:lambda:us-east-1:1:function:Fn:PROD"),
        (
            "arn:aws:lambda:us-east-1:1:function:fn".to_string(),
            "prod".to_string()
        )
    );
    assert_eq!(
        split_function_arn("arn:aws:lambda:us-east-1:1:function:fn").1,
        "$LATEST"
    );
    let mut r = RandomIds::default();
    let ids: std::collections::HashSet<u64> = (0..1000).map(|_| r.next_id()).collect();
    assert_eq!(ids.len(), 1000);
    assert!(ids.iter().all(|&i| i != 0 && i < 1 << 63));
}
