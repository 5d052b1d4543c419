//! Every wire format lambdascope speaks, defined once and used by both sides.
//!
//! This crate does no I/O. Each module owns one protocol: its types, how they
//! encode and how they decode. The sandbox and the extension share the Lambda
//! platform formats (`extensions_api`, `telemetry`); the extension and the
//! server share the intake formats.

pub mod dogstatsd;
pub mod extensions_api;
pub mod telemetry;
