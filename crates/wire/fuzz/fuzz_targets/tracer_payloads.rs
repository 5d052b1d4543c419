//! Tracer payloads come from any process in the sandbox: every decoder returns a typed
//! error for malformed input, never panics, and what decodes re-encodes and decodes equal.
#![no_main]

use lambdascope_wire::tracer_payload::{self, TraceApiVersion};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(traces) = tracer_payload::decode_v04(data) {
        let again = tracer_payload::decode_v04(&tracer_payload::encode_v04(&traces)).expect("re-encoded v0.4 decodes");
        assert_eq!(again.len(), traces.len());
    }
    let _ = tracer_payload::decode(TraceApiVersion::V05, None, data);
    let _ = tracer_payload::decode(TraceApiVersion::V04, Some("application/json"), data);
});
