#!/usr/bin/env bash
# Home page render time of the web UI with 200 functions and 1M invocations stored:
# server time (HTML + /api/functions) and a headless chromium load until the rows are
# painted, against the 300 ms budget. Builds in release (the bench profile).
# Needs chromium + chromium-driver (scripts/setup). Sizes: BENCH_FUNCTIONS,
# BENCH_INVOCATIONS, BENCH_RUNS.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p lambdascope-server --bench ui_home
