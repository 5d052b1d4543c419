"""Benchmark function: measures, inside a real sandbox with the real extension running, the latency of
a start/end-invocation pair and the whole wrapper's overhead per invocation (wrapped minus bare call)."""

import statistics
import time

from lambdascope import _extension
from lambdascope.invocation import wrapper


class Context:
    def __init__(self, request_id):
        self.aws_request_id = request_id


def noop(event, context):
    return {"statusCode": 200}


wrapped = wrapper(noop)


def summary(samples):
    samples = sorted(samples)
    return {
        "median_ms": round(statistics.median(samples), 4),
        "p90_ms": round(samples[int(len(samples) * 0.9)], 4),
        "n": len(samples),
    }


def handler(event, context):
    n = int(event.get("n", 300))
    pair = []
    for i in range(n):
        rid = f"{context.aws_request_id}-pair-{i}"
        t0 = time.perf_counter_ns()
        trace = _extension.start_invocation({"httpMethod": "GET", "path": "/"}, rid)
        _extension.end_invocation({"statusCode": 200}, rid, trace, None, None)
        pair.append((time.perf_counter_ns() - t0) / 1e6)
    overhead = []
    for i in range(n):
        ctx = Context(f"{context.aws_request_id}-wrap-{i}")
        t0 = time.perf_counter_ns()
        noop({}, ctx)
        t1 = time.perf_counter_ns()
        wrapped({}, ctx)
        t2 = time.perf_counter_ns()
        overhead.append(((t2 - t1) - (t1 - t0)) / 1e6)
    return {"lifecycle_pair": summary(pair), "wrapper_overhead": summary(overhead), "extension_seen": trace is not None}
