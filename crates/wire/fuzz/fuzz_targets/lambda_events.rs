//! Lambda events are user data of any shape: trigger parsing and trace-context extraction
//! must return "no trigger" / "no context" for anything odd, never panic.
#![no_main]

use lambdascope_wire::triggers::{self, ExtractOptions, InvocationFacts, TriggerOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let facts = InvocationFacts {
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:fuzz:live",
        request_id: "fuzz",
    };
    let _ = triggers::parse_body(data, facts, &TriggerOptions::default());
    if let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = triggers::extract_context(&event, Some(&event), std::str::from_utf8(data).ok(), &ExtractOptions::default());
    }
});
