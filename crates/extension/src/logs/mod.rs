//! Logs: telemetry records → intake log entries (status, request id, trace correlation,
//! processing rules).
pub mod processor;
pub mod rules;
pub use processor::{LogRecord, LogsProcessor};
