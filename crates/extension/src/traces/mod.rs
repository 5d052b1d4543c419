//! Traces (issue #5): trace processing, the `aws.lambda` invocation spans and the trigger
//! facts they carry.
//!
//! - [`settings`]: the `DD_*` trace settings;
//! - [`processor`]: tracer traces → normalized, obfuscated, filtered `TracerPayload`s and the
//!   `AgentPayload` for `/api/v0.2/traces` (with [`normalize`], [`obfuscate`], [`filter`]);
//! - [`invocation_span`]: pure functions from an invocation record to the `aws.lambda`,
//!   inferred and cold-start spans, and the dedup against a tracer-built `aws.lambda`;
//! - [`payload_capture`]: `DD_CAPTURE_LAMBDA_PAYLOAD` request/response flattening.
//!
//! Event parsing (triggers, trace context) and tracer payload decoding live in
//! `lambdascope_wire::{triggers, tracer_payload}`.
//!
//! How it plugs in: spans are built from [`crate::invocation::InvocationTracker`] state (which
//! already joins INVOKE, runtimeDone and report per request id, and records the trace id with
//! `set_trace_id`, which also correlates logs); payloads go through
//! [`crate::flush::Flusher::flush`] like every other signal, to `Config::traces_endpoints`
//! (already parsed from `DD_APM_DD_URL` and `DD_APM_ADDITIONAL_ENDPOINTS`).

pub mod agent;
pub mod filter;
pub mod invocation_span;
pub mod normalize;
pub mod obfuscate;
pub mod payload_capture;
pub mod pipeline;
pub mod processor;
pub mod server;
pub mod settings;
