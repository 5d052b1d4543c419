"""Handlers the extension's end-to-end tests run in the sandbox under the real awslambdaric."""

import logging
import os
import socket
import time
from typing import Any

logger = logging.getLogger()
logger.setLevel(logging.INFO)
_statsd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def _send(payload: str) -> None:
    _statsd.sendto(payload.encode(), ("127.0.0.1", 8125))


def handler(event: Any, context: Any) -> dict:
    print("hello from the handler")
    logger.warning("a warning line")
    logger.error("an error line")
    _send("e2e.orders:1|c|#shop:berlin")
    _send("e2e.latency:12.5:13.5|d|#shop:berlin\ne2e.temp:21|g")
    _send("e2e.users:alice|s\ne2e.users:bob|s")
    _send("e2e.timer:3|ms|@0.5\ne2e.hist:4|h")
    _send("this line is malformed")
    time.sleep(float(event.get("sleep", 0)))
    return {"ok": True}


def sleepy(event: Any, context: Any) -> str:
    print("going to sleep")
    _send("e2e.before_timeout:1|c")
    time.sleep(float(event.get("seconds", 10)))
    return "woke up"


def hog(event: Any, context: Any) -> int:
    print("allocating")
    _send("e2e.before_oom:1|c")
    chunks = []
    for _ in range(int(event.get("mb", 4096))):
        chunks.append(bytearray(1024 * 1024))
    return len(chunks)


def memory_error(event: Any, context: Any) -> None:
    raise MemoryError("simulated allocation failure")


def crash(event: Any, context: Any) -> None:
    print("about to crash")
    _send("e2e.before_crash:1|c")
    os._exit(7)


def burst(event: Any, context: Any) -> int:
    """Sends `lines` DogStatsD lines, 40 per datagram, as buffering clients do."""
    lines = int(event.get("lines", 100_000))
    batch = []
    sent = 0
    for i in range(lines):
        kind = i % 2
        batch.append("e2e.burst.count:1|c" if kind == 0 else f"e2e.burst.dist:{i % 100}|d")
        if len(batch) == 40:
            _send("\n".join(batch))
            sent += len(batch)
            batch = []
            if sent % 4000 == 0:
                time.sleep(0.001)
    if batch:
        _send("\n".join(batch))
        sent += len(batch)
    return sent
