#!/usr/bin/env bash
# Short fuzz run of the intake decoders: crates/wire/fuzz/run.sh [seconds] (default 60).
# Needs a nightly toolchain. Uses cargo-fuzz when installed; otherwise builds the
# target with the same sanitizer-coverage flags cargo-fuzz passes and runs it directly.
# The seed corpus is the server's golden payloads.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
mkdir -p corpus/intake_decoders artifacts
cp ../../server/tests/fixtures/*.pb ../../server/tests/fixtures/*.json ../../server/tests/fixtures/*.msgpack corpus/intake_decoders/
if cargo +nightly fuzz --version >/dev/null 2>&1; then
  exec cargo +nightly fuzz run intake_decoders corpus/intake_decoders -- -max_total_time="$seconds" -max_len=65536
fi
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps these flags off build scripts, as cargo-fuzz does.
triple="$(rustc +nightly -vV | sed -n 's/^host: //p')"
cargo +nightly build --release --target "$triple" --bin intake_decoders
"./target/$triple/release/intake_decoders" corpus/intake_decoders -artifact_prefix=artifacts/ \
  -max_total_time="$seconds" -max_len=65536
