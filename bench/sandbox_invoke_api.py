"""Warm-invoke overhead through the Invoke API of `lambdascope local serve` (keep-alive HTTP client).

Prints the median client round trip, the runtime's share (X-Lambdascope-Runtime-Ms) and the rest,
which is the sandbox's own overhead including the Invoke API layer.
"""

import http.client
import statistics
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
conn = http.client.HTTPConnection(host, port)
rtts, runtime = [], []
for i in range(runs + 50):
    t0 = time.perf_counter()
    conn.request("POST", "/2015-03-31/functions/bench/invocations", body=b'{"x": 1}')
    resp = conn.getresponse()
    resp.read()
    rtt = (time.perf_counter() - t0) * 1000
    if i >= 50:
        rtts.append(rtt)
        runtime.append(float(resp.getheader("X-Lambdascope-Runtime-Ms")))
over = [a - b for a, b in zip(rtts, runtime)]
med = statistics.median(over)
print(f"Invoke API warm invoke: round trip median {statistics.median(rtts):.3f} ms, runtime+handler "
      f"median {statistics.median(runtime):.3f} ms, sandbox overhead (request in → response out minus "
      f"the runtime's time) median {med:.3f} ms (p90 {sorted(over)[len(over) * 9 // 10]:.3f}) — "
      f"{med / 1.0 * 100:.0f}% of the 1 ms budget (n={runs})")
