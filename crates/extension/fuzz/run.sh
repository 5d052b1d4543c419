#!/usr/bin/env bash
# Short fuzzing run of every target (default 60 s each). Needs cargo-fuzz and a nightly toolchain;
# without them it says so and exits 0 (the fixed-seed random-input tests in `cargo test` still run).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz: cargo-fuzz or nightly missing (cargo install cargo-fuzz; rustup toolchain install nightly); skipped"
  exit 0
fi
mkdir -p corpus/dogstatsd corpus/telemetry
printf 'page.views:1|c|@0.5|#env:prod|T1700000000\nlat:1:2|d\nu:a|s' > corpus/dogstatsd/seed
printf '[{"time":"2026-11-24T08:00:00.000Z","type":"platform.start","record":{"requestId":"r"}},{"time":"x","type":"function","record":"[ERROR] MemoryError"}]' > corpus/telemetry/seed
for target in dogstatsd telemetry; do
  echo "fuzz: $target for ${seconds}s"
  cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len=4096
done
