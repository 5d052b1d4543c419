#!/usr/bin/env bash
# Wrapper overhead and start/end-invocation pair latency, seen from a function running in the sandbox
# next to the real extension (release build) shipping to a local `lambdascope server`.
# Budgets: wrapper overhead <= 0.3 ms median (issue: Python library), start/end pair <= 0.3 ms median
# (issue: extension part 2).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup >/dev/null
cargo build --quiet --release -p lambdascope -p lambdascope-extension
work="$(mktemp -d)"; trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/layer/extensions" "$work/layer/python"
cp target/release/lambdascope-extension "$work/layer/extensions/lambdascope"
cp -r python/src/lambdascope "$work/layer/python/"
.venv/bin/python -m compileall -q "$work/layer/python"
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
target/release/lambdascope server --listen "127.0.0.1:$port" --data-dir "$work/data" --api-key bench >/dev/null 2>&1 &
server=$!
url="http://host.lambdascope.internal:$port"
out=$(target/release/lambdascope invoke --code bench/functions/wrapper_overhead --handler app.handler \
  --layer "$work/layer" --timeout 120 --count 2 --event <(echo '{"n": 500}') \
  --env DD_API_KEY=bench --env DD_DD_URL="$url" --env DD_APM_DD_URL="$url" --env DD_LOGS_CONFIG_LOGS_DD_URL="$url" \
  2>/dev/null | tail -1)
.venv/bin/python - "$out" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
assert r["extension_seen"], "the extension did not answer start-invocation"
for key, label in (("lifecycle_pair", "start/end-invocation pair"), ("wrapper_overhead", "wrapper overhead per invocation")):
    m = r[key]
    print(f"{label:34s} median {m['median_ms']:.3f} ms  p90 {m['p90_ms']:.3f} ms  (n={m['n']})  budget 0.3 ms ({m['median_ms']/0.3:.2f}x)")
PY
