#!/usr/bin/env bash
# Short fuzz run of the Lambda event parsers and the tracer payload decoders:
#   crates/wire/fuzz/run_traces.sh [seconds per target] (default 60)
# Uses cargo-fuzz when installed; otherwise builds the libFuzzer binaries directly with
# nightly and the same sanitizer-coverage flags cargo-fuzz passes. Seeds: the event
# fixtures of crates/wire/tests/events and a few encoded tracer payloads.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
mkdir -p corpus/lambda_events corpus/tracer_payloads
cp ../tests/events/*.json corpus/lambda_events/
printf '\x90' > corpus/tracer_payloads/empty_v04
printf '\x92\x91\xa0\x90' > corpus/tracer_payloads/empty_v05
printf '[[{"trace_id":1,"span_id":2,"name":"n","meta":{"a":"b"},"metrics":{"m":1}}]]' > corpus/tracer_payloads/json_v04
if cargo +nightly fuzz --help >/dev/null 2>&1; then
  for t in lambda_events tracer_payloads; do
    cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" -max_len=65536
  done
else
  export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
  # An explicit --target keeps the coverage flags off build scripts, as cargo-fuzz does.
  host="$(rustc +nightly -vV | sed -n 's/^host: //p')"
  cargo +nightly build --release --target "$host" --bin lambda_events --bin tracer_payloads
  for t in lambda_events tracer_payloads; do
    "target/$host/release/$t" "corpus/$t" -max_total_time="$seconds" -max_len=65536
  done
fi
