#!/usr/bin/env bash
# Python library import time and size against datadog-lambda + ddtrace from PyPI (see python_library.py).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup >/dev/null
cache="${LAMBDASCOPE_BENCH_CACHE:-$HOME/.cache/lambdascope/bench}/datadog-lambda-8.130.0"
if [[ ! -d "$cache/datadog_lambda" ]]; then
  echo "bench: installing datadog-lambda 8.130.0 + ddtrace 4.16.0 into $cache"
  .venv/bin/python -m pip install -q --disable-pip-version-check --target "$cache" \
    datadog-lambda==8.130.0 ddtrace==4.16.0
fi
.venv/bin/python bench/python_library.py "$cache"
