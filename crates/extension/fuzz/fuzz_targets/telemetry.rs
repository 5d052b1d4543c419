//! Any telemetry delivery: decoding, log processing and invocation tracking must not panic.
#![no_main]

use std::time::Instant;

use lambdascope_extension::invocation::InvocationTracker;
use lambdascope_extension::logs::rules::ProcessingRules;
use lambdascope_extension::logs::LogsProcessor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((events, _)) = lambdascope_wire::telemetry::decode_batch(data) {
        let mut tracker = InvocationTracker::new(true, false, Instant::now());
        let mut logs = LogsProcessor::new(true, ProcessingRules::default());
        for event in &events {
            logs.on_event(event, &mut tracker);
        }
        let _ = logs.take(&tracker, true);
        let _ = tracker.take_points();
    }
});
