#!/usr/bin/env bash
# Trace intake throughput on one core (decode + process + encode), against the budget of
# 200k spans/s. Builds in release (the bench profile), then runs pinned to one CPU.
# BENCH_ROUNDS sets the repetitions (default 100 bodies of 2000 spans per format).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p lambdascope-extension --bench trace_intake --no-run
exec taskset -c 0 cargo bench -p lambdascope-extension --bench trace_intake
