//! Traces: the seam for part 2 (issue #5): the trace agent on 127.0.0.1:8126
//! (`/v0.4/traces`, `/v0.5/traces`, `/v0.6/stats`, `/info`), the lifecycle endpoints on 8124,
//! and the `aws.lambda` invocation spans.
//!
//! How it plugs in: spans are built from [`crate::invocation::InvocationTracker`] state (which
//! already joins INVOKE, runtimeDone and report per request id, and records the trace id with
//! `set_trace_id`, which also correlates logs); payloads go through
//! [`crate::flush::Flusher::flush`] like every other signal, to `Config::traces_endpoints`
//! (already parsed from `DD_APM_DD_URL` and `DD_APM_ADDITIONAL_ENDPOINTS`).
//!
//! Nothing is served on 8126 yet.
