//! Any datagram: the DogStatsD parser and the aggregator must not panic, and must account for
//! every line (accepted, malformed or unsupported).
#![no_main]

use lambdascope_extension::metrics::Aggregator;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for line in lambdascope_wire::dogstatsd::lines(data) {
        if let Ok(lambdascope_wire::dogstatsd::Line::Metric(m)) = lambdascope_wire::dogstatsd::parse_line_bytes(line) {
            let _ = m.to_string();
        }
    }
    let mut aggregator = Aggregator::new(Some("ns.".into()));
    aggregator.ingest_datagram(data, 1_700_000_000);
    let s = &aggregator.stats;
    assert!(s.malformed + s.unsupported <= s.lines);
});
