#!/usr/bin/env bash
# Template transform throughput (release build): a 500-function SAM template, YAML and JSON,
# best of 5, with the ratio to the 250 ms budget.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -q -p lambdascope-instrument --bench transform
