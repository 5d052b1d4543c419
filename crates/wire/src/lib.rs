//! Every wire format lambdascope speaks, defined once and used by both sides.
//!
//! This crate does no I/O. Each module owns one protocol: its types, how they
//! encode and how they decode. The sandbox and the extension share the Lambda
//! platform formats (`extensions_api`, `telemetry`); the extension and the
//! server share the intake formats.

pub mod dogstatsd;
pub mod extensions_api;
pub mod telemetry;

// Datadog intake formats (extension → intake, `lambdascope server`). Each module
// documents its wire shape and has `encode` + `decode`; decoders return
// `IntakeDecodeError` with a message fit for a 400 response.
pub mod agent_payload;
pub mod intake_error;
pub mod intake_logs;
pub mod series;
pub mod sketch;
pub mod sketch_payload;
pub mod stats;

pub use intake_error::IntakeDecodeError;

// Lambda event sources (trigger tags, inferred spans, trace context) and tracer payloads
// (`/v0.4/traces`, `/v0.5/traces`) for the extension's trace agent.
pub mod tracer_payload;
pub mod triggers;
