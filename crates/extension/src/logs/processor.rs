//! Telemetry records → log records: status, request id, trace id, platform text lines.

use std::time::{SystemTime, UNIX_EPOCH};

use lambdascope_wire::telemetry::{Report, Status, TelemetryEvent, TelemetryRecord};
use serde_json::Value;

use super::rules::ProcessingRules;
use crate::invocation::InvocationTracker;

/// Pending log bytes kept at most; beyond it new lines are dropped and counted.
pub const MAX_PENDING_BYTES: usize = 8 * 1024 * 1024;

/// One log line on its way to the intake.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRecord {
    pub message: String,
    pub timestamp_ms: i64,
    pub status: &'static str,
    pub request_id: Option<String>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    /// `ddtags` the line carried itself (JSON logs), comma separated.
    pub tags: Option<String>,
}

/// Turns telemetry into [`LogRecord`]s and holds them until a flush.
#[derive(Debug, Default)]
pub struct LogsProcessor {
    rules: ProcessingRules,
    enabled: bool,
    /// Lines that arrived before their invocation's `platform.start`.
    orphans: Vec<LogRecord>,
    ready: Vec<LogRecord>,
    pending_bytes: usize,
    pub dropped: u64,
    pub excluded: u64,
}

/// Maps a level word to the Datadog status, if it is one.
pub fn status_from_level(level: &str) -> Option<&'static str> {
    Some(match level.trim().to_ascii_uppercase().as_str() {
        "FATAL" | "CRITICAL" | "CRIT" | "EMERGENCY" | "ALERT" => "critical",
        "ERROR" | "ERR" => "error",
        "WARN" | "WARNING" => "warn",
        "INFO" | "NOTICE" => "info",
        "DEBUG" => "debug",
        "TRACE" => "trace",
        _ => return None,
    })
}

fn epoch_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn text_field<'a>(object: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| object.get(*k).and_then(Value::as_str))
}

fn id_field(object: &Value, path: &[&str]) -> Option<String> {
    let mut v = object;
    for key in path {
        v = v.get(*key)?;
    }
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `... dd.trace_id=123 dd.span_id=456 ...` as ddtrace's log injection writes it.
fn injected_id(text: &str, key: &str) -> Option<String> {
    let start = text.find(key)? + key.len();
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty() && digits != "0").then_some(digits)
}

/// Text lines: `[LEVEL]\t<time>\t<request id>\t<message>` (the Python runtime's format), or a
/// leading level word.
fn parse_text_line(text: &str) -> (Option<&'static str>, Option<String>) {
    let first = text.split(['\t', ' ']).next().unwrap_or("");
    let level = first
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches(':');
    let status = status_from_level(level);
    let request_id = if first.starts_with('[') {
        text.split('\t')
            .nth(2)
            .filter(|id| id.len() >= 32 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
            .map(str::to_string)
    } else {
        None
    };
    (status, request_id)
}

/// The CloudWatch `REPORT` line, which the server parses back into an invocation row.
pub fn report_line(report: &Report) -> String {
    let m = &report.metrics;
    let mut line = format!(
        "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
        report.request_id, m.duration_ms, m.billed_duration_ms, m.memory_size_mb, m.max_memory_used_mb
    );
    if let Some(init) = m.init_duration_ms {
        line.push_str(&format!("\tInit Duration: {init:.2} ms"));
    }
    let oom = m.max_memory_used_mb >= m.memory_size_mb && m.memory_size_mb > 0;
    let error_type = report
        .error_type
        .clone()
        .or_else(|| oom.then(|| "Runtime.OutOfMemory".to_string()));
    match (report.status, error_type) {
        (Status::Success, None) => {}
        (Status::Timeout, _) => line.push_str("\tStatus: timeout"),
        (status, error_type) => {
            let status = if status == Status::Success {
                Status::Error
            } else {
                status
            };
            line.push_str(&format!("\tStatus: {}", status_word(status)));
            if let Some(t) = error_type {
                line.push_str(&format!("\tError Type: {t}"));
            }
        }
    }
    line
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Success => "success",
        Status::Error => "error",
        Status::Failure => "failure",
        Status::Timeout => "timeout",
    }
}

impl LogsProcessor {
    pub fn new(enabled: bool, rules: ProcessingRules) -> Self {
        LogsProcessor {
            rules,
            enabled,
            ..Default::default()
        }
    }

    fn push(&mut self, record: LogRecord) {
        if self.pending_bytes + record.message.len() > MAX_PENDING_BYTES {
            self.dropped += 1;
            return;
        }
        self.pending_bytes += record.message.len();
        if record.request_id.is_some() {
            self.ready.push(record);
        } else {
            self.orphans.push(record);
        }
    }

    /// Handles one telemetry event; platform events update `tracker` as well.
    pub fn on_event(&mut self, event: &TelemetryEvent, tracker: &mut InvocationTracker) {
        let time = event.timestamp().unwrap_or_else(SystemTime::now);
        let ms = epoch_ms(time);
        let platform =
            |message: String, status: &'static str, request_id: Option<&str>| LogRecord {
                message,
                timestamp_ms: ms,
                status,
                request_id: request_id.map(str::to_string),
                trace_id: None,
                span_id: None,
                tags: None,
            };
        match &event.record {
            TelemetryRecord::FunctionLog(value) | TelemetryRecord::ExtensionLog(value) => {
                self.on_line(value, ms, time, tracker);
            }
            TelemetryRecord::InitStart(r) => {
                tracker.on_init_start(r);
                if self.enabled {
                    let mut text = format!(
                        "INIT_START Runtime Version: {}",
                        r.runtime_version.as_deref().unwrap_or("unknown")
                    );
                    if let Some(arn) = &r.runtime_version_arn {
                        text.push_str(&format!("\tRuntime Version ARN: {arn}"));
                    }
                    self.push(platform(text, "info", None));
                }
            }
            TelemetryRecord::InitReport(r) => tracker.on_init_report(r, time),
            TelemetryRecord::Start(r) => {
                let xray = r.tracing.as_ref().map(|t| t.value.as_str());
                tracker.on_start(&r.request_id, xray);
                self.adopt_orphans(&r.request_id);
                if self.enabled {
                    let version = r.version.as_deref().unwrap_or("$LATEST");
                    self.push(platform(
                        format!("START RequestId: {} Version: {version}", r.request_id),
                        "info",
                        Some(&r.request_id),
                    ));
                }
            }
            TelemetryRecord::RuntimeDone(r) => {
                tracker.on_runtime_done(r, time);
                if self.enabled {
                    let (text, status) = match r.status {
                        Status::Success => (format!("END RequestId: {}", r.request_id), "info"),
                        Status::Timeout => (
                            format!("END RequestId: {}\tStatus: timeout", r.request_id),
                            "error",
                        ),
                        other => {
                            let mut t = format!(
                                "END RequestId: {}\tStatus: {}",
                                r.request_id,
                                status_word(other)
                            );
                            if let Some(e) = &r.error_type {
                                t.push_str(&format!("\tError Type: {e}"));
                            }
                            (t, "error")
                        }
                    };
                    self.push(platform(text, status, Some(&r.request_id)));
                }
            }
            TelemetryRecord::Report(r) => {
                tracker.on_report(r, 0, time);
                if self.enabled {
                    let line = report_line(r);
                    let status = if line.contains("\tStatus: ") {
                        "error"
                    } else {
                        "info"
                    };
                    self.push(platform(line, status, Some(&r.request_id)));
                }
            }
            TelemetryRecord::LogsDropped(r) => {
                tracing::warn!(
                    dropped_records = r.dropped_records,
                    reason = %r.reason,
                    "the platform dropped telemetry records"
                );
            }
            _ => {}
        }
    }

    fn on_line(
        &mut self,
        value: &Value,
        ms: i64,
        time: SystemTime,
        tracker: &mut InvocationTracker,
    ) {
        let (message, json) = match value {
            Value::String(s) => {
                let s = s.trim_end_matches(['\n', '\r']);
                let parsed = s
                    .starts_with('{')
                    .then(|| serde_json::from_str::<Value>(s).ok())
                    .flatten();
                (s.to_string(), parsed)
            }
            // The platform wraps a non-JSON line as {"timestamp","level","message"}: show the
            // line itself. A real JSON log keeps all its fields.
            Value::Object(map)
                if map.get("message").is_some_and(Value::is_string)
                    && map.keys().all(|k| {
                        matches!(k.as_str(), "timestamp" | "level" | "message" | "requestId")
                    }) =>
            {
                let text = map["message"].as_str().unwrap_or_default();
                (
                    text.trim_end_matches(['\n', '\r']).to_string(),
                    Some(value.clone()),
                )
            }
            Value::Object(_) => (value.to_string(), Some(value.clone())),
            other => (other.to_string(), None),
        };
        let (status, request_id, trace_id, span_id, tags) =
            match json.as_ref().filter(|j| j.is_object()) {
                Some(obj) => (
                    text_field(obj, &["level", "status", "severity"]).and_then(status_from_level),
                    text_field(obj, &["requestId", "AWSRequestId", "aws_request_id"])
                        .map(str::to_string),
                    id_field(obj, &["dd", "trace_id"]).or_else(|| id_field(obj, &["dd.trace_id"])),
                    id_field(obj, &["dd", "span_id"]).or_else(|| id_field(obj, &["dd.span_id"])),
                    text_field(obj, &["ddtags"]).map(str::to_string),
                ),
                None => {
                    let (status, id) = parse_text_line(&message);
                    (
                        status,
                        id,
                        injected_id(&message, "dd.trace_id="),
                        injected_id(&message, "dd.span_id="),
                        None,
                    )
                }
            };
        let request_id = request_id.or_else(|| tracker.current_request().map(str::to_string));
        tracker.on_log_line(request_id.as_deref(), &message, time);
        if let (Some(id), Some(trace)) = (&request_id, &trace_id) {
            tracker.set_trace_id(id, trace.clone());
        }
        if !self.enabled {
            return;
        }
        let Some(message) = self.rules.apply(&message).map(|m| m.into_owned()) else {
            self.excluded += 1;
            return;
        };
        self.push(LogRecord {
            message,
            timestamp_ms: ms,
            status: status.unwrap_or("info"),
            request_id,
            trace_id,
            span_id,
            tags,
        });
    }

    fn adopt_orphans(&mut self, request_id: &str) {
        for mut record in self.orphans.drain(..) {
            record.request_id = Some(request_id.to_string());
            self.ready.push(record);
        }
    }

    /// Takes the records ready to ship, correlated with trace ids known by now. With
    /// `include_orphans` (shutdown), lines still waiting for a request go too.
    pub fn take(&mut self, tracker: &InvocationTracker, include_orphans: bool) -> Vec<LogRecord> {
        let mut out = std::mem::take(&mut self.ready);
        if include_orphans {
            out.append(&mut self.orphans);
        }
        self.pending_bytes = self.orphans.iter().map(|r| r.message.len()).sum();
        for record in &mut out {
            if record.trace_id.is_none() {
                if let Some(id) = &record.request_id {
                    record.trace_id = tracker.trace_id(id).map(str::to_string);
                }
            }
        }
        out
    }

    pub fn pending(&self) -> usize {
        self.ready.len() + self.orphans.len()
    }
}

#[cfg(test)]
mod tests;
