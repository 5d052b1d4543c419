use super::*;
use lambdascope_wire::telemetry::{
    InitPhase, InitReportMetrics, InitType, ReportMetrics, RuntimeDoneMetrics,
};

fn names(points: &[EnhancedPoint]) -> Vec<&str> {
    points
        .iter()
        .map(|p| p.name.trim_start_matches("aws.lambda.enhanced."))
        .collect()
}

fn value(points: &[EnhancedPoint], name: &str) -> Option<f64> {
    points
        .iter()
        .find(|p| p.name == format!("aws.lambda.enhanced.{name}"))
        .map(|p| p.value)
}

fn report(id: &str, status: Status, max_mb: u64, init: Option<f64>) -> Report {
    Report {
        request_id: id.into(),
        status,
        error_type: None,
        metrics: ReportMetrics {
            duration_ms: 12.5,
            billed_duration_ms: 13,
            memory_size_mb: 128,
            max_memory_used_mb: max_mb,
            init_duration_ms: init,
            restore_duration_ms: None,
        },
        spans: None,
        tracing: None,
    }
}

fn runtime_done(id: &str, status: Status, error_type: Option<&str>) -> RuntimeDone {
    RuntimeDone {
        request_id: id.into(),
        status,
        error_type: error_type.map(str::to_string),
        metrics: Some(RuntimeDoneMetrics {
            duration_ms: 10.0,
            produced_bytes: Some(42),
        }),
        spans: None,
        tracing: None,
    }
}

#[test]
fn a_successful_cold_then_warm_invocation() {
    let now = SystemTime::now();
    let mut t = InvocationTracker::new(true, false, Instant::now());
    t.on_invoke(
        "r1",
        0,
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"),
        now,
    );
    t.on_start("r1", None);
    assert_eq!(t.current_request(), Some("r1"));
    t.on_runtime_done(&runtime_done("r1", Status::Success, None), now);
    assert_eq!(t.current_request(), None);
    assert!(t.runtime_done("r1"));
    t.on_report(&report("r1", Status::Success, 40, Some(120.0)), 128, now);
    let p = t.take_points();
    assert_eq!(
        names(&p),
        vec![
            "invocations",
            "runtime_duration",
            "produced_bytes",
            "duration",
            "billed_duration",
            "max_memory_used",
            "memorysize",
            "estimated_cost",
            "post_runtime_duration",
            "init_duration"
        ]
    );
    assert!(p
        .iter()
        .all(|p| p.tags.contains(&"cold_start:true".to_string())));
    assert_eq!(value(&p, "duration"), Some(0.0125));
    assert_eq!(value(&p, "billed_duration"), Some(0.013));
    assert_eq!(value(&p, "post_runtime_duration"), Some(2.5));
    assert_eq!(value(&p, "init_duration"), Some(0.12));
    assert_eq!(value(&p, "estimated_cost"), Some(estimated_cost(128, 13)));
    assert_eq!(
        t.trace_id("r1"),
        trace_id_from_xray("Root=1-5759e988-bd862e3fe1be46a994272793").as_deref()
    );

    t.on_invoke("r2", 0, None, now);
    let p = t.take_points();
    assert_eq!(p[0].tags, vec!["cold_start:false".to_string()]);
}

#[test]
fn timeouts_errors_and_ooms_are_counted_once() {
    let now = SystemTime::now();
    let mut t = InvocationTracker::new(true, false, Instant::now());
    t.on_invoke("t", 0, None, now);
    t.on_runtime_done(&runtime_done("t", Status::Timeout, None), now);
    t.on_report(&report("t", Status::Timeout, 40, None), 128, now);
    let p = t.take_points();
    assert_eq!(names(&p).iter().filter(|n| **n == "timeouts").count(), 1);
    assert_eq!(names(&p).iter().filter(|n| **n == "errors").count(), 1);

    t.on_invoke("o", 0, None, now);
    t.on_start("o", None);
    t.on_log_line(None, "[ERROR] MemoryError", now);
    t.on_runtime_done(
        &runtime_done("o", Status::Error, Some("Runtime.OutOfMemory")),
        now,
    );
    t.on_report(&report("o", Status::Error, 128, None), 128, now);
    let p = t.take_points();
    assert_eq!(
        names(&p).iter().filter(|n| **n == "out_of_memory").count(),
        1
    );
    assert_eq!(names(&p).iter().filter(|n| **n == "errors").count(), 1);

    // OOM seen only in the report (max memory used reached the limit).
    t.on_invoke("m", 0, None, now);
    t.on_report(&report("m", Status::Error, 128, None), 128, now);
    assert!(names(&t.take_points()).contains(&"out_of_memory"));
}

#[test]
fn init_report_and_proactive_initialization() {
    let now = SystemTime::now();
    let long_ago = Instant::now() - std::time::Duration::from_secs(11);
    let mut t = InvocationTracker::new(true, false, long_ago);
    t.on_init_start(&InitStart {
        initialization_type: InitType::OnDemand,
        phase: InitPhase::Init,
        runtime_version: Some("python:3.12.v18".into()),
        runtime_version_arn: None,
        function_name: None,
        function_version: None,
        instance_id: None,
        instance_max_memory: None,
        tracing: None,
    });
    assert_eq!(t.runtime.as_deref(), Some("python3.12"));
    t.on_init_report(
        &InitReport {
            initialization_type: InitType::OnDemand,
            phase: InitPhase::Init,
            status: None,
            error_type: None,
            metrics: InitReportMetrics { duration_ms: 250.0 },
            spans: None,
            tracing: None,
        },
        now,
    );
    t.on_invoke("p", 0, None, now);
    let p = t.take_points();
    assert_eq!(p[0].name, "aws.lambda.enhanced.init_duration");
    assert!(p[0].tags.contains(&"init_type:on-demand".to_string()));
    assert_eq!(
        p[1].tags,
        vec!["cold_start:false", "proactive_initialization:true"]
    );
    t.on_shutdown("spindown", now);
    assert_eq!(t.take_points()[0].tags[1], "shutdown_reason:spindown");
}

#[test]
fn disabled_enhanced_metrics_emit_nothing() {
    let mut t = InvocationTracker::new(false, false, Instant::now());
    t.on_invoke("x", 0, None, SystemTime::now());
    assert!(t.take_points().is_empty());
}

#[test]
fn helpers() {
    assert_eq!(runtime_tag("python:3.11.v30"), "python3.11");
    assert_eq!(runtime_tag("nodejs:20.v12"), "nodejs20");
    assert_eq!(
        trace_id_from_xray("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8"),
        Some(0x61be_46a9_9427_2793u64.to_string())
    );
    assert_eq!(trace_id_from_xray("Parent=1"), None);
    // 1 GB for 1 s on x86_64: the request price plus one GB-second.
    let cost = estimated_cost(1024, 1000);
    assert!(cost > 0.0000168 && cost < 0.0000169, "{cost}");
}
