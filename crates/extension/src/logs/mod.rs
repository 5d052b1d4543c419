//! Logs: telemetry records → intake log entries.
pub mod rules;
