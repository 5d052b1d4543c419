//! Arbitrary bytes into every intake decoder: none may panic, hang or allocate
//! without bound, and a sketch that decodes must survive quantiles and merging.
#![no_main]

use lambdascope_wire::sketch::AgentSketch;
use lambdascope_wire::{agent_payload, intake_logs, series, sketch_payload, stats};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = series::decode(data);
    let _ = series::decode_v1(data);
    let _ = intake_logs::decode(data);
    let _ = stats::decode(data);
    let _ = agent_payload::decode(data);
    if let Ok(payload) = sketch_payload::decode(data) {
        for sketch in &payload.sketches {
            for d in &sketch.dogsketches {
                let s = AgentSketch::from_dogsketch(d).expect("decode already validated the bins");
                for q in [0.0, 0.5, 0.99, 1.0] {
                    let _ = s.quantile(q);
                }
                let mut merged = s.clone();
                merged.merge(&s);
                assert_eq!(merged.count(), s.count() * 2);
                let back = AgentSketch::from_dogsketch(&s.to_dogsketch(d.ts)).expect("re-encoded sketch decodes");
                assert_eq!(back.bins(), s.bins());
            }
        }
    }
});
