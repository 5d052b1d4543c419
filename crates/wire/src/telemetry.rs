//! Lambda Telemetry API `2022-07-01` event records.
//!
//! The platform POSTs a JSON array of `{"time", "type", "record"}` objects. Decoding is
//! tolerant by design: one record of an unknown type or an unexpected shape becomes
//! [`TelemetryRecord::Unknown`] instead of failing the whole batch, so a newer platform
//! never blinds an older extension.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::extensions_api::Tracing;

/// Errors decoding a telemetry batch as a whole (single bad records are not errors).
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("telemetry batch is not a JSON array of events: {0}")]
    NotAnArray(#[source] serde_json::Error),
}

/// How the environment was initialised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitType {
    OnDemand,
    ProvisionedConcurrency,
    SnapStart,
}

/// Whether an init ran in the init phase or was re-run during an invoke (a "suppressed init").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitPhase {
    Init,
    Invoke,
}

/// Outcome of an init or an invoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Success,
    Error,
    Failure,
    Timeout,
}

/// A timed span inside a record (`responseLatency`, `responseDuration`, `extensionOverhead`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub name: String,
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`
    pub start: String,
    pub duration_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitStart {
    pub initialization_type: InitType,
    pub phase: InitPhase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_version_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_max_memory: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitRuntimeDone {
    pub initialization_type: InitType,
    pub phase: InitPhase,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spans: Option<Vec<Span>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitReportMetrics {
    pub duration_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitReport {
    pub initialization_type: InitType,
    pub phase: InitPhase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    pub metrics: InitReportMetrics,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spans: Option<Vec<Span>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Start {
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeDoneMetrics {
    pub duration_ms: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub produced_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeDone {
    pub request_id: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<RuntimeDoneMetrics>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spans: Option<Vec<Span>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportMetrics {
    pub duration_ms: f64,
    pub billed_duration_ms: u64,
    #[serde(rename = "memorySizeMB")]
    pub memory_size_mb: u64,
    #[serde(rename = "maxMemoryUsedMB")]
    pub max_memory_used_mb: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_duration_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_duration_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub request_id: String,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    pub metrics: ReportMetrics,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spans: Option<Vec<Span>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
}

/// `platform.extension`: an extension finished init.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtensionState {
    pub name: String,
    /// `Ready`, `InitError`, `ExitError`, ...
    pub state: String,
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
}

/// `platform.telemetrySubscription`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TelemetrySubscription {
    pub name: String,
    pub state: String,
    pub types: Vec<String>,
}

/// `platform.logsDropped`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsDropped {
    pub dropped_bytes: u64,
    pub dropped_records: u64,
    pub reason: String,
}

/// One telemetry record, by its `type`.
#[derive(Debug, Clone, PartialEq)]
pub enum TelemetryRecord {
    InitStart(InitStart),
    InitRuntimeDone(InitRuntimeDone),
    InitReport(InitReport),
    Start(Start),
    RuntimeDone(RuntimeDone),
    Report(Report),
    Extension(ExtensionState),
    TelemetrySubscription(TelemetrySubscription),
    LogsDropped(LogsDropped),
    /// A line the function wrote: a JSON string, or (schema `2022-12-13`+ with JSON logs) an object.
    FunctionLog(Value),
    /// A line an extension wrote.
    ExtensionLog(Value),
    /// A type this version does not know, or a known type whose record did not match its shape.
    Unknown {
        kind: String,
        record: Value,
    },
}

impl TelemetryRecord {
    /// The `type` string this record is sent under.
    pub fn kind(&self) -> &str {
        match self {
            TelemetryRecord::InitStart(_) => "platform.initStart",
            TelemetryRecord::InitRuntimeDone(_) => "platform.initRuntimeDone",
            TelemetryRecord::InitReport(_) => "platform.initReport",
            TelemetryRecord::Start(_) => "platform.start",
            TelemetryRecord::RuntimeDone(_) => "platform.runtimeDone",
            TelemetryRecord::Report(_) => "platform.report",
            TelemetryRecord::Extension(_) => "platform.extension",
            TelemetryRecord::TelemetrySubscription(_) => "platform.telemetrySubscription",
            TelemetryRecord::LogsDropped(_) => "platform.logsDropped",
            TelemetryRecord::FunctionLog(_) => "function",
            TelemetryRecord::ExtensionLog(_) => "extension",
            TelemetryRecord::Unknown { kind, .. } => kind,
        }
    }

    /// The subscription type (`platform`, `function` or `extension`) this record belongs to.
    pub fn category(&self) -> &str {
        match self {
            TelemetryRecord::FunctionLog(_) => "function",
            TelemetryRecord::ExtensionLog(_) => "extension",
            other => other.kind().split('.').next().unwrap_or("platform"),
        }
    }

    fn record_value(&self) -> Value {
        fn to<T: Serialize>(record: &T) -> Value {
            serde_json::to_value(record).unwrap_or(Value::Null)
        }
        match self {
            TelemetryRecord::InitStart(r) => to(r),
            TelemetryRecord::InitRuntimeDone(r) => to(r),
            TelemetryRecord::InitReport(r) => to(r),
            TelemetryRecord::Start(r) => to(r),
            TelemetryRecord::RuntimeDone(r) => to(r),
            TelemetryRecord::Report(r) => to(r),
            TelemetryRecord::Extension(r) => to(r),
            TelemetryRecord::TelemetrySubscription(r) => to(r),
            TelemetryRecord::LogsDropped(r) => to(r),
            TelemetryRecord::FunctionLog(v) | TelemetryRecord::ExtensionLog(v) => v.clone(),
            TelemetryRecord::Unknown { record, .. } => record.clone(),
        }
    }

    fn from_parts(kind: String, record: Value) -> TelemetryRecord {
        fn typed<T: for<'de> Deserialize<'de>>(
            kind: String,
            record: Value,
            wrap: fn(T) -> TelemetryRecord,
        ) -> TelemetryRecord {
            match T::deserialize(&record) {
                Ok(parsed) => wrap(parsed),
                Err(_) => TelemetryRecord::Unknown { kind, record },
            }
        }
        match kind.as_str() {
            "platform.initStart" => typed(kind, record, TelemetryRecord::InitStart),
            "platform.initRuntimeDone" => typed(kind, record, TelemetryRecord::InitRuntimeDone),
            "platform.initReport" => typed(kind, record, TelemetryRecord::InitReport),
            "platform.start" => typed(kind, record, TelemetryRecord::Start),
            "platform.runtimeDone" => typed(kind, record, TelemetryRecord::RuntimeDone),
            "platform.report" => typed(kind, record, TelemetryRecord::Report),
            "platform.extension" => typed(kind, record, TelemetryRecord::Extension),
            "platform.telemetrySubscription" => {
                typed(kind, record, TelemetryRecord::TelemetrySubscription)
            }
            "platform.logsDropped" => typed(kind, record, TelemetryRecord::LogsDropped),
            "function" => TelemetryRecord::FunctionLog(record),
            "extension" => TelemetryRecord::ExtensionLog(record),
            _ => TelemetryRecord::Unknown { kind, record },
        }
    }
}

/// One event of a delivery: when it happened and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryEvent {
    /// `YYYY-MM-DDTHH:MM:SS.mmmZ`, as the platform writes it.
    pub time: String,
    pub record: TelemetryRecord,
}

#[derive(Serialize, Deserialize)]
struct RawEvent {
    #[serde(default)]
    time: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    record: Value,
}

impl TelemetryEvent {
    /// An event stamped with `time`.
    pub fn at(time: SystemTime, record: TelemetryRecord) -> Self {
        TelemetryEvent {
            time: format_time(time),
            record,
        }
    }

    /// The event time, if it parses.
    pub fn timestamp(&self) -> Option<SystemTime> {
        parse_time(&self.time)
    }

    /// This event as the JSON object the platform sends.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "time": self.time,
            "type": self.record.kind(),
            "record": self.record.record_value(),
        })
    }
}

impl Serialize for TelemetryEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RawEvent {
            time: self.time.clone(),
            kind: self.record.kind().to_string(),
            record: self.record.record_value(),
        }
        .serialize(s)
    }
}

/// Decodes one delivery. Entries that are not even `{"type": ...}` objects are counted in the
/// second value and skipped; records of unknown shape come back as [`TelemetryRecord::Unknown`].
pub fn decode_batch(body: &[u8]) -> Result<(Vec<TelemetryEvent>, usize), TelemetryError> {
    let entries: Vec<Value> = serde_json::from_slice(body).map_err(TelemetryError::NotAnArray)?;
    let mut events = Vec::with_capacity(entries.len());
    let mut skipped = 0;
    for entry in entries {
        match RawEvent::deserialize(entry) {
            Ok(raw) => events.push(TelemetryEvent {
                time: raw.time,
                record: TelemetryRecord::from_parts(raw.kind, raw.record),
            }),
            Err(_) => skipped += 1,
        }
    }
    Ok((events, skipped))
}

/// Encodes one delivery (a JSON array).
pub fn encode_batch(events: &[TelemetryEvent]) -> Vec<u8> {
    serde_json::to_vec(events).unwrap_or_else(|_| b"[]".to_vec())
}

/// Formats a time the way the Telemetry API does: `2022-10-12T00:00:15.064Z`.
pub fn format_time(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// Parses an RFC 3339 time as the Telemetry API writes it.
pub fn parse_time(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(text.trim_end_matches('Z'))
        .ok()
        .or_else(|| humantime::parse_rfc3339(text).ok())
}

/// Milliseconds since the Unix epoch.
pub fn epoch_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_uses_the_platform_field_names() {
        let event = TelemetryEvent {
            time: "2022-10-12T00:00:15.064Z".into(),
            record: TelemetryRecord::Report(Report {
                request_id: "r".into(),
                status: Status::Timeout,
                error_type: None,
                metrics: ReportMetrics {
                    duration_ms: 3000.5,
                    billed_duration_ms: 3001,
                    memory_size_mb: 128,
                    max_memory_used_mb: 40,
                    init_duration_ms: Some(120.0),
                    restore_duration_ms: None,
                },
                spans: None,
                tracing: None,
            }),
        };
        let json = event.to_json();
        assert_eq!(json["type"], "platform.report");
        assert_eq!(json["record"]["status"], "timeout");
        assert_eq!(json["record"]["metrics"]["memorySizeMB"], 128);
        assert_eq!(json["record"]["metrics"]["maxMemoryUsedMB"], 40);
        assert_eq!(json["record"]["metrics"]["billedDurationMs"], 3001);
        assert_eq!(json["record"]["metrics"]["initDurationMs"], 120.0);
        let (back, skipped) = decode_batch(&encode_batch(std::slice::from_ref(&event))).unwrap();
        assert_eq!(skipped, 0);
        assert_eq!(back, vec![event]);
    }

    #[test]
    fn unknown_and_malformed_records_do_not_fail_the_batch() {
        let body = br#"[
            {"time":"2022-10-12T00:00:15.064Z","type":"platform.brandNew","record":{"x":1}},
            {"time":"2022-10-12T00:00:15.064Z","type":"platform.start","record":{"nope":true}},
            {"time":"2022-10-12T00:00:15.064Z","type":"function","record":"[INFO] hello"},
            {"time":"2022-10-12T00:00:15.064Z","type":"function","record":{"level":"INFO","message":"hi"}},
            42
        ]"#;
        let (events, skipped) = decode_batch(body).unwrap();
        assert_eq!(skipped, 1);
        assert_eq!(events.len(), 4);
        assert!(
            matches!(&events[0].record, TelemetryRecord::Unknown { kind, .. } if kind == "platform.brandNew")
        );
        assert!(
            matches!(&events[1].record, TelemetryRecord::Unknown { kind, .. } if kind == "platform.start")
        );
        assert_eq!(
            events[2].record,
            TelemetryRecord::FunctionLog(Value::from("[INFO] hello"))
        );
        assert_eq!(events[3].record.category(), "function");
        assert!(decode_batch(b"{}").is_err());
    }

    #[test]
    fn times_format_with_milliseconds() {
        let t = UNIX_EPOCH + Duration::from_millis(1_665_533_715_064);
        assert_eq!(format_time(t), "2022-10-12T00:15:15.064Z");
        assert_eq!(parse_time("2022-10-12T00:15:15.064Z"), Some(t));
        assert_eq!(epoch_ms(t), 1_665_533_715_064);
    }
}
