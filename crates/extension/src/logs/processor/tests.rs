use super::*;
use std::time::Instant;

fn batch(json: &str) -> Vec<TelemetryEvent> {
    lambdascope_wire::telemetry::decode_batch(json.as_bytes())
        .unwrap()
        .0
}

fn run(json: &str, rules: ProcessingRules) -> (Vec<LogRecord>, InvocationTracker) {
    let mut tracker = InvocationTracker::new(true, false, Instant::now());
    let mut logs = LogsProcessor::new(true, rules);
    tracker.on_invoke("req-1", 0, None, SystemTime::now());
    for e in batch(json) {
        logs.on_event(&e, &mut tracker);
    }
    (logs.take(&tracker, true), tracker)
}

const ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

#[test]
fn platform_lines_and_function_lines() {
    let json = format!(
        r#"[
      {{"time":"2026-11-24T08:00:00.000Z","type":"function","record":"init line\n"}},
      {{"time":"2026-11-24T08:00:00.010Z","type":"platform.start","record":{{"requestId":"{ID}","version":"$LATEST"}}}},
      {{"time":"2026-11-24T08:00:00.011Z","type":"function","record":"[ERROR]\t2026-11-24T08:00:00.011Z\t{ID}\tboom dd.trace_id=777 dd.span_id=9\n"}},
      {{"time":"2026-11-24T08:00:00.012Z","type":"function","record":{{"level":"WARNING","message":"careful","ddtags":"team:x"}}}},
      {{"time":"2026-11-24T08:00:00.020Z","type":"platform.runtimeDone","record":{{"requestId":"{ID}","status":"success","metrics":{{"durationMs":9.5,"producedBytes":2}}}}}},
      {{"time":"2026-11-24T08:00:00.030Z","type":"platform.report","record":{{"requestId":"{ID}","status":"success","metrics":{{"durationMs":12.345,"billedDurationMs":13,"memorySizeMB":128,"maxMemoryUsedMB":40,"initDurationMs":120.554}}}}}}
    ]"#
    );
    let (logs, mut tracker) = run(&json, ProcessingRules::default());
    let points = tracker.take_points();
    for name in [
        "duration",
        "runtime_duration",
        "post_runtime_duration",
        "init_duration",
        "estimated_cost",
    ] {
        let full = format!("aws.lambda.enhanced.{name}");
        assert!(points.iter().any(|p| p.name == full), "{full} missing");
    }
    let messages: Vec<_> = logs.iter().map(|l| l.message.as_str()).collect();
    assert_eq!(messages[0], "init line", "orphans keep their place in time");
    assert_eq!(
        logs[0].request_id.as_deref(),
        Some(ID),
        "orphan gets the next request id"
    );
    assert_eq!(
        messages[1],
        format!("START RequestId: {ID} Version: $LATEST")
    );
    assert_eq!(logs[2].status, "error");
    assert_eq!(logs[2].trace_id.as_deref(), Some("777"));
    assert_eq!(logs[2].span_id.as_deref(), Some("9"));
    assert_eq!(logs[3].status, "warn");
    assert!(
        logs[3].message.starts_with('{'),
        "a JSON log keeps its fields: {}",
        logs[3].message
    );
    assert_eq!(logs[3].tags.as_deref(), Some("team:x"));
    assert_eq!(
        logs[3].trace_id.as_deref(),
        Some("777"),
        "correlated by request id at take()"
    );
    assert_eq!(messages[4], format!("END RequestId: {ID}"));
    assert_eq!(
        messages[5],
        format!("REPORT RequestId: {ID}\tDuration: 12.35 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tInit Duration: 120.55 ms")
    );
    assert_eq!(logs[5].timestamp_ms % 1000, 30);
}

#[test]
fn timeouts_and_oom_render_status_and_count() {
    let json = format!(
        r#"[
      {{"time":"2026-11-24T08:00:00.010Z","type":"platform.start","record":{{"requestId":"{ID}"}}}},
      {{"time":"2026-11-24T08:00:00.011Z","type":"function","record":"[ERROR] MemoryError\n"}},
      {{"time":"2026-11-24T08:00:03.000Z","type":"platform.runtimeDone","record":{{"requestId":"{ID}","status":"timeout"}}}},
      {{"time":"2026-11-24T08:00:03.010Z","type":"platform.report","record":{{"requestId":"{ID}","status":"error","errorType":"Runtime.OutOfMemory","metrics":{{"durationMs":3000,"billedDurationMs":3000,"memorySizeMB":128,"maxMemoryUsedMB":128}}}}}}
    ]"#
    );
    let (logs, mut tracker) = run(&json, ProcessingRules::default());
    assert_eq!(
        logs[2].message,
        format!("END RequestId: {ID}\tStatus: timeout")
    );
    assert_eq!(logs[2].status, "error");
    assert!(
        logs[3]
            .message
            .ends_with("\tStatus: error\tError Type: Runtime.OutOfMemory"),
        "{}",
        logs[3].message
    );
    let points = tracker.take_points();
    let count = |n: &str| points.iter().filter(|p| p.name.ends_with(n)).count();
    assert_eq!(count(".out_of_memory"), 1);
    assert_eq!(count(".timeouts"), 1);
}

#[test]
fn platform_wrapped_text_lines_show_the_text() {
    let json = format!(
        r#"[
      {{"time":"2026-11-24T08:00:00.010Z","type":"platform.start","record":{{"requestId":"{ID}"}}}},
      {{"time":"2026-11-24T08:00:00.011Z","type":"function","record":{{"timestamp":"2026-11-24T08:00:00.011Z","level":"ERROR","message":"printed line\n"}}}}
    ]"#
    );
    let (logs, _) = run(&json, ProcessingRules::default());
    assert_eq!(logs[1].message, "printed line");
    assert_eq!(logs[1].status, "error");
}

#[test]
fn rules_exclude_and_mask_function_lines_only() {
    let rules = ProcessingRules::parse(
        r#"[{"type":"exclude_at_match","name":"h","pattern":"health"},
            {"type":"mask_sequences","name":"k","pattern":"key=\\w+","replace_placeholder":"key=***"}]"#,
    )
    .unwrap();
    let json = format!(
        r#"[
      {{"time":"2026-11-24T08:00:00.010Z","type":"platform.start","record":{{"requestId":"{ID}"}}}},
      {{"time":"2026-11-24T08:00:00.011Z","type":"function","record":"GET /health"}},
      {{"time":"2026-11-24T08:00:00.012Z","type":"function","record":"using key=abc123"}}
    ]"#
    );
    let (logs, _) = run(&json, rules);
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[1].message, "using key=***");
}

#[test]
fn disabled_logs_still_drive_the_tracker() {
    let mut tracker = InvocationTracker::new(true, false, Instant::now());
    let mut logs = LogsProcessor::new(false, ProcessingRules::default());
    let json = format!(
        r#"[{{"time":"2026-11-24T08:00:00.010Z","type":"platform.start","record":{{"requestId":"{ID}"}}}},
           {{"time":"2026-11-24T08:00:00.020Z","type":"platform.runtimeDone","record":{{"requestId":"{ID}","status":"success"}}}}]"#
    );
    for e in batch(&json) {
        logs.on_event(&e, &mut tracker);
    }
    assert_eq!(logs.pending(), 0);
    assert!(tracker.runtime_done(ID));
}
