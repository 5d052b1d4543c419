#!/usr/bin/env bash
# Times `lambdascope lambda instrument` over 50 functions against moto (--concurrency 10 vs 1;
# budget: concurrent <= 1/3 of sequential) and the CLI's start-up (`lambdascope --help`;
# budget <= 20 ms). Builds the CLI in release. Needs scripts/setup's .venv (moto[server]).
#
# Two moto set-ups: as shipped (each call is a few ms of Python under one GIL, so the server is
# the bottleneck), and with LATENCY_MS (default 50) added to every request, like the round trip
# of a real Lambda API call, which is what concurrency overlaps.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-50}
RUNS=${RUNS:-3}
LATENCY_MS=${LATENCY_MS:-50}
PY=${LAMBDASCOPE_TEST_PYTHON:-$PWD/.venv/bin/python}
cargo build --release -q -p lambdascope
BIN=$PWD/target/release/lambdascope

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_EC2_METADATA_DISABLED=true DATADOG_API_KEY=0123456789abcdef0123456789abcdef
unset AWS_PROFILE AWS_DEFAULT_REGION AWS_REGION

now_ms() { date +%s%3N; }
# Best of RUNS: instrument with the given concurrency, then uninstrument (not timed).
time_instrument() {
  local best=999999
  for _ in $(seq "$RUNS"); do
    local t0 t1
    t0=$(now_ms)
    "$BIN" lambda instrument --functions-regex '^bench-' -r us-east-1 --concurrency "$1" >/dev/null 2>&1
    t1=$(now_ms)
    "$BIN" lambda uninstrument --functions-regex '^bench-' -r us-east-1 --concurrency 10 >/dev/null 2>&1
    (( t1 - t0 < best )) && best=$((t1 - t0))
  done
  echo "$best"
}

# One moto per set-up; prints the two timings and the ratio.
bench_against_moto() {
  local latency=$1 label=$2
  coproc MOTO { MOTO_LATENCY_MS=$latency exec "$PY" crates/cli/tests/instrument_support/moto_launcher.py; }
  local moto_pid=$MOTO_PID port
  read -r port <&"${MOTO[0]}"
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  "$PY" bench/instrument_fixture.py "$AWS_ENDPOINT_URL" "$N"
  local seq_ms par_ms
  seq_ms=$(time_instrument 1)
  par_ms=$(time_instrument 10)
  kill "$moto_pid" 2>/dev/null || true
  wait "$moto_pid" 2>/dev/null || true
  echo "instrument $N functions, $label: --concurrency 1 ${seq_ms} ms, --concurrency 10 ${par_ms} ms"
  awk -v s="$seq_ms" -v p="$par_ms" 'BEGIN { r = p / s; printf "  ratio concurrent/sequential %.2f (budget <= 0.33: %.0f%% of budget)\n", r, 100 * r / 0.3333 }'
}
bench_against_moto 0 "moto as shipped"
bench_against_moto "$LATENCY_MS" "moto + ${LATENCY_MS} ms per request"

# Start-up: --help, no AWS calls.
if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 5 --runs 50 --export-json /tmp/lambdascope-help.json "$BIN --help" >/dev/null
  mean_ms=$("$PY" -c 'import json; print(round(json.load(open("/tmp/lambdascope-help.json"))["results"][0]["mean"] * 1000, 2))')
else
  t0=$(date +%s%N)
  for _ in $(seq 50); do "$BIN" --help >/dev/null; done
  t1=$(date +%s%N)
  mean_ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 50 / 1e6 }')
fi
awk -v m="$mean_ms" 'BEGIN { printf "lambdascope --help: %.2f ms mean (budget <= 20 ms: %.0f%% of budget)\n", m, 100 * m / 20 }'
