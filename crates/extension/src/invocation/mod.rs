//! Per-request state: cold start, runtimeDone, report, timeout, OOM, and the enhanced
//! metrics they produce.
//!
//! The Extensions API (INVOKE) and the Telemetry API (platform events, log lines) describe
//! the same invocation from two sides and in no guaranteed order; this module joins them by
//! request id. Part 2 (the trace agent) attaches its spans here too, through
//! [`InvocationTracker::set_trace_id`].

pub mod proc_usage;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use lambdascope_wire::telemetry::{InitReport, InitStart, Report, RuntimeDone, Status};

use proc_usage::UsageSnapshot;

/// A first invoke this long after the process started is a proactive initialization, not a
/// cold start the caller waited for.
pub const PROACTIVE_INIT_THRESHOLD_MS: u128 = 10_000;
/// Requests remembered at once (old ones are forgotten first).
const MAX_TRACKED: usize = 32;

/// Lambda list prices (us-east-1), USD.
pub const PRICE_PER_REQUEST: f64 = 0.000_000_2;
pub const PRICE_PER_GB_SECOND_X86_64: f64 = 0.000_016_666_7;
pub const PRICE_PER_GB_SECOND_ARM64: f64 = 0.000_013_333_4;

const OOM_LOG_MARKERS: [&str; 7] = [
    "MemoryError",
    "fatal error: runtime: out of memory",
    "java.lang.OutOfMemoryError",
    "JavaScript heap out of memory",
    "Runtime exited with error: signal: killed",
    "failed to allocate memory (NoMemoryError)",
    "OutOfMemoryException",
];

/// One enhanced-metric value, shipped as a distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct EnhancedPoint {
    /// Full name, `aws.lambda.enhanced.<x>`.
    pub name: String,
    pub value: f64,
    /// Unix seconds.
    pub timestamp: i64,
    pub tags: Vec<String>,
}

/// What we know about one request.
#[derive(Debug, Clone)]
pub struct RequestState {
    pub request_id: String,
    pub deadline_ms: Option<u64>,
    /// Datadog trace id (decimal), when known.
    pub trace_id: Option<String>,
    pub cold_start: bool,
    pub proactive_init: bool,
    pub runtime_done: Option<Status>,
    runtime_duration_ms: Option<f64>,
    usage_at_start: Option<UsageSnapshot>,
    counted_error: bool,
    counted_timeout: bool,
    counted_oom: bool,
    reported: bool,
}

/// Joins INVOKE events and telemetry into per-request state and enhanced metrics.
pub struct InvocationTracker {
    enhanced: bool,
    proc_metrics: bool,
    process_start: Instant,
    invokes_seen: u64,
    init_duration_emitted: bool,
    /// Between platform.start and platform.runtimeDone.
    current: Option<String>,
    requests: VecDeque<RequestState>,
    points: Vec<EnhancedPoint>,
    pub runtime: Option<String>,
    pub init_type: Option<String>,
    proc_root: PathBuf,
    tmp_dir: PathBuf,
}

fn ts(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `python:3.12.v18` → `python3.12`.
pub fn runtime_tag(runtime_version: &str) -> String {
    let mut parts = runtime_version.split(['.', ':']);
    match (parts.next(), parts.next(), parts.next()) {
        (Some(lang), Some(major), Some(minor)) if !minor.starts_with('v') => {
            format!("{lang}{major}.{minor}")
        }
        (Some(lang), Some(major), _) => format!("{lang}{major}"),
        _ => runtime_version.to_string(),
    }
}

/// X-Ray `Root=1-5759e988-bd862e3fe1be46a994272793;...` → the Datadog trace id
/// datadog-lambda derives (lower 63 bits of the last 16 hex digits), as a decimal string.
pub fn trace_id_from_xray(header: &str) -> Option<String> {
    let root = header
        .split(';')
        .find_map(|p| p.trim().strip_prefix("Root="))?;
    let hex = root.rsplit('-').next()?;
    if hex.len() < 16 {
        return None;
    }
    let value = u64::from_str_radix(&hex[hex.len() - 16..], 16).ok()?;
    Some((value & 0x7FFF_FFFF_FFFF_FFFF).to_string())
}

impl InvocationTracker {
    pub fn new(enhanced: bool, proc_metrics: bool, process_start: Instant) -> Self {
        InvocationTracker {
            enhanced,
            proc_metrics,
            process_start,
            invokes_seen: 0,
            init_duration_emitted: false,
            current: None,
            requests: VecDeque::new(),
            points: Vec::new(),
            runtime: None,
            init_type: None,
            proc_root: PathBuf::from("/proc"),
            tmp_dir: PathBuf::from("/tmp"),
        }
    }

    /// Takes the enhanced points produced so far.
    pub fn take_points(&mut self) -> Vec<EnhancedPoint> {
        std::mem::take(&mut self.points)
    }

    /// The request a log line without its own request id belongs to.
    pub fn current_request(&self) -> Option<&str> {
        self.current.as_deref()
    }

    pub fn request(&self, request_id: &str) -> Option<&RequestState> {
        self.requests.iter().find(|r| r.request_id == request_id)
    }

    fn state(&mut self, request_id: &str) -> &mut RequestState {
        if let Some(i) = self
            .requests
            .iter()
            .position(|r| r.request_id == request_id)
        {
            return &mut self.requests[i];
        }
        if self.requests.len() == MAX_TRACKED {
            self.requests.pop_front();
        }
        self.requests.push_back(RequestState {
            request_id: request_id.to_string(),
            deadline_ms: None,
            trace_id: None,
            cold_start: false,
            proactive_init: false,
            runtime_done: None,
            runtime_duration_ms: None,
            usage_at_start: None,
            counted_error: false,
            counted_timeout: false,
            counted_oom: false,
            reported: false,
        });
        self.requests.back_mut().expect("just pushed")
    }

    fn emit(
        &mut self,
        request_id: Option<&str>,
        name: &str,
        value: f64,
        time: SystemTime,
        extra: &[String],
    ) {
        if !self.enhanced || !value.is_finite() {
            return;
        }
        let (cold, proactive) = request_id
            .and_then(|id| self.request(id))
            .map(|r| (r.cold_start, r.proactive_init))
            .unwrap_or((false, false));
        let mut tags = vec![format!("cold_start:{cold}")];
        if proactive {
            tags.push("proactive_initialization:true".to_string());
        }
        tags.extend(extra.iter().cloned());
        self.points.push(EnhancedPoint {
            name: format!("aws.lambda.enhanced.{name}"),
            value,
            timestamp: ts(time),
            tags,
        });
    }

    /// An INVOKE from `event/next`.
    pub fn on_invoke(
        &mut self,
        request_id: &str,
        deadline_ms: u64,
        xray: Option<&str>,
        now: SystemTime,
    ) {
        self.invokes_seen += 1;
        let first = self.invokes_seen == 1;
        let proactive =
            first && self.process_start.elapsed().as_millis() > PROACTIVE_INIT_THRESHOLD_MS;
        let usage = self
            .proc_metrics
            .then(|| UsageSnapshot::read(&self.proc_root));
        let state = self.state(request_id);
        state.deadline_ms = Some(deadline_ms);
        state.cold_start = first && !proactive;
        state.proactive_init = proactive;
        state.usage_at_start = usage;
        if state.trace_id.is_none() {
            state.trace_id = xray.and_then(trace_id_from_xray);
        }
        self.emit(Some(request_id), "invocations", 1.0, now, &[]);
    }

    pub fn on_init_start(&mut self, record: &InitStart) {
        if let Some(version) = &record.runtime_version {
            self.runtime = Some(runtime_tag(version));
        }
        let kind = serde_json::to_value(record.initialization_type).ok();
        self.init_type = kind.and_then(|v| v.as_str().map(str::to_string));
    }

    pub fn on_init_report(&mut self, record: &InitReport, time: SystemTime) {
        if self.init_duration_emitted {
            return;
        }
        self.init_duration_emitted = true;
        let init_type = serde_json::to_value(record.initialization_type)
            .ok()
            .and_then(|v| v.as_str().map(|s| format!("init_type:{s}")));
        let extra: Vec<String> = init_type.into_iter().collect();
        if self.enhanced {
            self.points.push(EnhancedPoint {
                name: "aws.lambda.enhanced.init_duration".into(),
                value: record.metrics.duration_ms / 1000.0,
                timestamp: ts(time),
                tags: [vec!["cold_start:true".to_string()], extra].concat(),
            });
        }
    }

    pub fn on_start(&mut self, request_id: &str, xray: Option<&str>) {
        self.current = Some(request_id.to_string());
        let state = self.state(request_id);
        if state.trace_id.is_none() {
            state.trace_id = xray.and_then(trace_id_from_xray);
        }
    }

    pub fn on_runtime_done(&mut self, record: &RuntimeDone, time: SystemTime) {
        let id = record.request_id.as_str();
        if self.current.as_deref() == Some(id) {
            self.current = None;
        }
        let proc_metrics = self.proc_metrics;
        let (proc_root, tmp_dir) = (self.proc_root.clone(), self.tmp_dir.clone());
        let state = self.state(id);
        state.runtime_done = Some(record.status);
        state.runtime_duration_ms = record.metrics.map(|m| m.duration_ms);
        let usage_start = state.usage_at_start.take();
        if let Some(m) = record.metrics {
            self.emit(Some(id), "runtime_duration", m.duration_ms, time, &[]);
            if let Some(bytes) = m.produced_bytes {
                self.emit(Some(id), "produced_bytes", bytes as f64, time, &[]);
            }
        }
        self.count_outcome(id, record.status, record.error_type.as_deref(), time);
        if let (true, Some(start)) = (proc_metrics, usage_start) {
            let end = UsageSnapshot::read(&proc_root);
            for (name, value) in proc_usage::usage_metrics(&start, &end, &proc_root, &tmp_dir) {
                self.emit(Some(id), name, value, time, &[]);
            }
        }
    }

    /// Counts errors, timeouts and OOMs once per request, whichever event reports them first.
    fn count_outcome(
        &mut self,
        id: &str,
        status: Status,
        error_type: Option<&str>,
        time: SystemTime,
    ) {
        let state = self.state(id);
        let error = matches!(status, Status::Error | Status::Failure | Status::Timeout)
            && !state.counted_error;
        let timeout = status == Status::Timeout && !state.counted_timeout;
        let oom = error_type.is_some_and(|t| t.contains("OutOfMemory")) && !state.counted_oom;
        state.counted_error |= error;
        state.counted_timeout |= timeout;
        state.counted_oom |= oom;
        if error {
            self.emit(Some(id), "errors", 1.0, time, &[]);
        }
        if timeout {
            self.emit(Some(id), "timeouts", 1.0, time, &[]);
        }
        if oom {
            self.emit(Some(id), "out_of_memory", 1.0, time, &[]);
        }
    }

    pub fn on_report(&mut self, record: &Report, memory_mb_config: u64, time: SystemTime) {
        let id = record.request_id.as_str();
        let m = record.metrics;
        let runtime_ms = {
            let state = self.state(id);
            if state.reported {
                return;
            }
            state.reported = true;
            state.runtime_duration_ms
        };
        let memory_mb = if m.memory_size_mb > 0 {
            m.memory_size_mb
        } else {
            memory_mb_config
        };
        self.emit(Some(id), "duration", m.duration_ms / 1000.0, time, &[]);
        self.emit(
            Some(id),
            "billed_duration",
            m.billed_duration_ms as f64 / 1000.0,
            time,
            &[],
        );
        self.emit(
            Some(id),
            "max_memory_used",
            m.max_memory_used_mb as f64,
            time,
            &[],
        );
        self.emit(Some(id), "memorysize", memory_mb as f64, time, &[]);
        self.emit(
            Some(id),
            "estimated_cost",
            estimated_cost(memory_mb, m.billed_duration_ms),
            time,
            &[],
        );
        if let Some(runtime_ms) = runtime_ms {
            self.emit(
                Some(id),
                "post_runtime_duration",
                (m.duration_ms - runtime_ms).max(0.0),
                time,
                &[],
            );
        }
        if let (Some(init_ms), false) = (m.init_duration_ms, self.init_duration_emitted) {
            self.init_duration_emitted = true;
            self.emit(Some(id), "init_duration", init_ms / 1000.0, time, &[]);
        }
        let oom_by_memory = m.max_memory_used_mb >= memory_mb && memory_mb > 0;
        let error_type = if oom_by_memory {
            Some("Runtime.OutOfMemory")
        } else {
            record.error_type.as_deref()
        };
        self.count_outcome(id, record.status, error_type, time);
    }

    /// A function or extension log line: detects runtime out-of-memory messages.
    pub fn on_log_line(&mut self, request_id: Option<&str>, text: &str, time: SystemTime) {
        if !OOM_LOG_MARKERS.iter().any(|m| text.contains(m)) {
            return;
        }
        let Some(id) = request_id
            .map(str::to_string)
            .or_else(|| self.current.clone())
        else {
            return;
        };
        let state = self.state(&id);
        if state.counted_oom {
            return;
        }
        state.counted_oom = true;
        self.emit(Some(&id), "out_of_memory", 1.0, time, &[]);
    }

    pub fn on_shutdown(&mut self, reason: &str, now: SystemTime) {
        self.emit(
            None,
            "shutdowns",
            1.0,
            now,
            &[format!("shutdown_reason:{reason}")],
        );
    }

    /// Records the trace id of a request (from a log line or, in part 2, from the tracer).
    pub fn set_trace_id(&mut self, request_id: &str, trace_id: String) {
        let state = self.state(request_id);
        if state.trace_id.is_none() {
            state.trace_id = Some(trace_id);
        }
    }

    /// Records the trace the tracer put the request in; it wins over an id taken from the
    /// X-Ray header or a log line (the request's spans are in that trace).
    pub fn set_decided_trace_id(&mut self, request_id: &str, trace_id: String) {
        if let Some(state) = self
            .requests
            .iter_mut()
            .find(|r| r.request_id == request_id)
        {
            state.trace_id = Some(trace_id);
        }
    }

    pub fn trace_id(&self, request_id: &str) -> Option<&str> {
        self.request(request_id)?.trace_id.as_deref()
    }

    /// The runtime's own duration of `request_id`, from its runtimeDone.
    pub fn runtime_duration_ms(&self, request_id: &str) -> Option<f64> {
        self.request(request_id)?.runtime_duration_ms
    }

    /// True once the platform report of `request_id` was seen.
    pub fn reported(&self, request_id: &str) -> bool {
        self.request(request_id).is_some_and(|r| r.reported)
    }

    pub fn runtime_done(&self, request_id: &str) -> bool {
        self.request(request_id)
            .is_some_and(|r| r.runtime_done.is_some())
    }
}

/// Request price plus GB-seconds at the price of the architecture this binary runs on.
pub fn estimated_cost(memory_mb: u64, billed_ms: u64) -> f64 {
    let per_gb_s = if cfg!(target_arch = "aarch64") {
        PRICE_PER_GB_SECOND_ARM64
    } else {
        PRICE_PER_GB_SECOND_X86_64
    };
    let gb_s = memory_mb as f64 / 1024.0 * billed_ms as f64 / 1000.0;
    ((PRICE_PER_REQUEST + gb_s * per_gb_s) * 1e12).round() / 1e12
}

#[cfg(test)]
mod tests;
