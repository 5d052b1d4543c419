#!/usr/bin/env bash
# Sandbox benchmarks: cold-start cost over a bare awslambdaric start (budget ≤ 5 ms) and warm-invoke
# overhead (budget ≤ 1 ms median), through the library and through the Invoke API. Release builds.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p lambdascope-sandbox --bench sandbox_overhead
cargo build --release -p lambdascope
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
printf 'def handler(event, context):\n    return event\n' > "$work/trivial.py"
printf '[[function]]\nname = "bench"\ncode = "%s"\nhandler = "trivial.handler"\ntimeout = 30\n' "$work" > "$work/bench.toml"
target/release/lambdascope local serve --port 0 --config "$work/bench.toml" 2> "$work/serve.log" &
server=$!
for _ in $(seq 100); do grep -q "listening on" "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$work/serve.log" | head -1 | sed 's/.*://')
python3 bench/sandbox_invoke_api.py 127.0.0.1 "$port" 1000
