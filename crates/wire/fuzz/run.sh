#!/usr/bin/env bash
# Short fuzz run of the intake decoders: crates/wire/fuzz/run.sh [seconds] (default 60).
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). The seed corpus
# is the golden payloads of the server's tests.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
mkdir -p corpus/intake_decoders
cp ../../server/tests/fixtures/*.pb ../../server/tests/fixtures/*.json ../../server/tests/fixtures/*.msgpack corpus/intake_decoders/ 2>/dev/null || true
cargo +nightly fuzz run intake_decoders corpus/intake_decoders -- -max_total_time="$seconds" -max_len=65536
