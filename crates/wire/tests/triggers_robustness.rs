//! Robustness of event parsing over raw bytes: every fixture, its truncations, and the
//! inputs the fuzzer found (`tests/events/fuzz/`) parse without panicking.

use lambdascope_wire::triggers::{
    self, extract_context, ExtractOptions, InvocationFacts, TriggerOptions,
};
use serde_json::Value;

fn facts() -> InvocationFacts<'static> {
    InvocationFacts {
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:my-fn:prod",
        request_id: "req-1",
    }
}

#[test]
fn every_fixture_parses_from_raw_bytes_without_panicking() {
    let dir = format!("{}/tests/events", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue;
        }
        let bytes = std::fs::read(path).unwrap();
        let _ = triggers::parse_body(&bytes, facts(), &TriggerOptions::default());
        // Truncations are not JSON: no trigger.
        assert!(triggers::parse_body(
            &bytes[..bytes.len() / 2],
            facts(),
            &TriggerOptions::default()
        )
        .is_none());
    }
}

/// Inputs the fuzzer found; each must parse without panicking.
#[test]
fn fuzz_regressions() {
    let dir = format!("{}/tests/events/fuzz", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        let _ = triggers::parse_body(&bytes, facts(), &TriggerOptions::default());
        if let Ok(event) = serde_json::from_slice::<Value>(&bytes) {
            let _ = extract_context(&event, Some(&event), None, &ExtractOptions::default());
        }
    }
}
