//! Fixed-seed random inputs for the two parsers the fuzz targets cover (crates/extension/fuzz),
//! so `cargo test` exercises them even where cargo-fuzz is not installed.

use std::time::Instant;

use lambdascope_extension::invocation::InvocationTracker;
use lambdascope_extension::logs::rules::ProcessingRules;
use lambdascope_extension::logs::LogsProcessor;
use lambdascope_extension::metrics::Aggregator;

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const TELEMETRY_SEEDS: [&str; 6] = [
    r#"[{"time":"2026-11-24T08:00:00.000Z","type":"platform.start","record":{"requestId":"r1","version":"$LATEST","tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-5759e988-bd862e3fe1be46a994272793"}}}]"#,
    r#"[{"time":"2026-11-24T08:00:00.010Z","type":"function","record":"[ERROR]\t2026-11-24T08:00:00.011Z\tr1\tMemoryError dd.trace_id=12"}]"#,
    r#"[{"time":"2026-11-24T08:00:00.020Z","type":"function","record":{"level":"WARN","message":"x","requestId":"r1","dd":{"trace_id":5}}}]"#,
    r#"[{"time":"2026-11-24T08:00:00.030Z","type":"platform.runtimeDone","record":{"requestId":"r1","status":"timeout","errorType":"Runtime.OutOfMemory","metrics":{"durationMs":1e308,"producedBytes":0}}}]"#,
    r#"[{"time":"bad","type":"platform.report","record":{"requestId":"r1","status":"error","metrics":{"durationMs":-1,"billedDurationMs":0,"memorySizeMB":0,"maxMemoryUsedMB":0,"initDurationMs":5}}}]"#,
    r#"[{"time":"2026-11-24T08:00:00.000Z","type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init","runtimeVersion":"python:"}}]"#,
];

fn mutate(rng: &mut XorShift, seed: &[u8]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    for _ in 0..rng.below(6) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.below(bytes.len());
        match rng.below(4) {
            0 => {
                let alphabet = b"{}[]\":,0-9aZ\\\n\xff";
                bytes[at] = alphabet[rng.below(alphabet.len())];
            }
            1 => {
                bytes.remove(at);
            }
            2 => bytes.insert(at, b"0\"{[-"[rng.below(5)]),
            _ => bytes.truncate(at),
        }
    }
    bytes
}

#[test]
fn random_telemetry_batches_never_panic_the_log_and_invocation_path() {
    let mut rng = XorShift(0x7e1e_3e77_2026_1124);
    let mut tracker = InvocationTracker::new(true, false, Instant::now());
    let mut logs = LogsProcessor::new(true, ProcessingRules::default());
    let mut decoded = 0;
    for _ in 0..20_000 {
        let seed = TELEMETRY_SEEDS[rng.below(TELEMETRY_SEEDS.len())].as_bytes();
        let body = mutate(&mut rng, seed);
        if let Ok((events, _)) = lambdascope_wire::telemetry::decode_batch(&body) {
            decoded += 1;
            for event in &events {
                logs.on_event(event, &mut tracker);
            }
        }
        if rng.below(100) == 0 {
            let _ = logs.take(&tracker, true);
            let _ = tracker.take_points();
        }
    }
    assert!(
        decoded > 1000,
        "the mutations should keep many batches valid ({decoded})"
    );
}

#[test]
fn random_datagrams_are_all_accounted_for() {
    let mut rng = XorShift(0xd065_7a75_0000_0001);
    let alphabet = b"ab.:|#@,T0123456789-+e\n sgdhmc_{}\xff";
    let mut aggregator = Aggregator::new(None);
    for _ in 0..20_000 {
        let len = rng.below(96);
        let datagram: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        aggregator.ingest_datagram(&datagram, 1_700_000_000);
    }
    let s = aggregator.stats.clone();
    assert!(
        s.malformed + s.unsupported <= s.lines && s.lines > 0,
        "{s:?}"
    );
}
