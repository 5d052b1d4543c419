#!/usr/bin/env bash
# Extension benchmarks: builds the extension with the size-tuned `extension` profile, prints
# its size, then runs crates/extension/benches/extension.rs (startup, post-runtime duration
# and RSS against a platform stand-in, DogStatsD throughput, RSS in the real sandbox).
# Usage: bench/extension.sh [startup|post-runtime|dogstatsd|sandbox-rss ...]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --profile extension -p lambdascope-extension
bin=target/extension/lambdascope-extension
bytes=$(stat -c %s "$bin")
awk -v b="$bytes" 'BEGIN {
  mib = b / 1048576;
  printf "%-56s %10.3f MiB     budget 4 MiB (ratio %.2f, %s)   vs Datadog 8.5 MiB: x%.2f\n",
    "stripped release binary size", mib, mib / 4, (mib <= 4 ? "within" : "OVER"), mib / 8.5 }'
LAMBDASCOPE_EXTENSION_BIN="$PWD/$bin" cargo bench --quiet -p lambdascope-extension --bench extension -- "$@"
