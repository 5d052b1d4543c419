#!/usr/bin/env bash
# Sustained ingest through the HTTP intake into SQLite (spans/s, log lines/s,
# points/s) and /api/functions latency over 1 h with 1M invocations stored.
# Builds in release (the bench profile) and prints each figure with its budget ratio.
# Sizes can be reduced with BENCH_SPAN_PAYLOADS, BENCH_LOG_PAYLOADS,
# BENCH_SERIES_PAYLOADS (payloads of 1000 spans / 1000 lines / 5000 points) and
# BENCH_INVOCATIONS.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p lambdascope-server --bench ingest
