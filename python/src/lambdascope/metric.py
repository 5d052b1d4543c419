"""Custom metrics: ``lambda_metric`` with the same signature as Datadog's.

With the extension present, each call is one DogStatsD distribution datagram to 127.0.0.1:8125
(non-blocking UDP). Without it, one JSON line on stdout in the Forwarder's ``{"m","v","e","t"}``
convention. Bad input is a warning, never an exception.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any, List, Optional

from . import _config
from ._transport import StatsdSocket

logger = logging.getLogger("lambdascope")

# Metrics older than this are rejected by the intake; say so instead of losing them silently.
MAX_AGE_SECONDS = 4 * 3600
_TAG_BAD_CHARS = re.compile(r"[^\w\-:/\.]")
_NAME_BAD_CHARS = re.compile(r"[^\w\.]")
_socket: Optional[StatsdSocket] = None


def _statsd() -> StatsdSocket:
    global _socket
    cfg = _config.current()
    if _socket is None or _socket.address != (cfg.host, cfg.statsd_port):
        _socket = StatsdSocket(cfg.host, cfg.statsd_port)
    return _socket


def _timestamp(value: Any) -> Optional[int]:
    if value is None:
        return None
    if hasattr(value, "timestamp"):
        value = value.timestamp()
    return int(value)


def _clean_tags(tags: Any) -> Optional[List[str]]:
    if tags is None:
        return []
    if isinstance(tags, str) or not hasattr(tags, "__iter__"):
        logger.warning("lambda_metric: tags must be a list of strings, got %r; metric dropped", tags)
        return None
    clean = []
    for tag in tags:
        if not isinstance(tag, str) or tag == "":
            logger.warning("lambda_metric: skipping tag %r (tags are non-empty strings)", tag)
            continue
        clean.append(_TAG_BAD_CHARS.sub("_", tag))
    return clean


def lambda_metric(
    metric_name: str,
    value: float,
    timestamp: Any = None,
    tags: Optional[List[str]] = None,
    force_async: bool = False,
) -> None:
    """Submits a distribution point. ``timestamp`` is epoch seconds or a ``datetime``.

    ``force_async`` is accepted for compatibility with Datadog's signature; with the extension the
    point always goes over DogStatsD, without it always to stdout.
    """
    try:
        _submit(metric_name, value, timestamp, tags)
    except Exception:  # never break the function for a metric
        logger.warning("lambda_metric: could not submit %r", metric_name, exc_info=True)


def _submit(metric_name: Any, value: Any, timestamp: Any, tags: Any) -> None:
    if not isinstance(metric_name, str) or metric_name.strip() == "":
        logger.warning("lambda_metric: metric name must be a non-empty string, got %r; dropped", metric_name)
        return
    if isinstance(value, bool):
        value = int(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        logger.warning("lambda_metric: value of %s must be a number, got %r; dropped", metric_name, value)
        return
    if number != number or number in (float("inf"), float("-inf")):
        logger.warning("lambda_metric: value of %s is not finite (%r); dropped", metric_name, value)
        return
    try:
        ts = _timestamp(timestamp)
    except (TypeError, ValueError, OverflowError):
        logger.warning("lambda_metric: timestamp of %s is not a time (%r); dropped", metric_name, timestamp)
        return
    if ts is not None and ts < time.time() - MAX_AGE_SECONDS:
        logger.warning("lambda_metric: timestamp of %s is more than 4 hours old; dropped", metric_name)
        return
    clean_tags = _clean_tags(tags)
    if clean_tags is None:
        return
    name = _NAME_BAD_CHARS.sub("_", metric_name.strip())
    if _config.current().extension:
        _statsd().send(encode_dogstatsd(name, number, clean_tags, ts))
    else:
        line = {"m": name, "v": number, "e": ts if ts is not None else int(time.time()), "t": clean_tags}
        sys.stdout.write(json.dumps(line, separators=(",", ":")) + "\n")


def encode_dogstatsd(name: str, value: float, tags: List[str], timestamp: Optional[int]) -> bytes:
    """``name:value|d|#tag1,tag2|T<epoch seconds>`` — the extension's DogStatsD dialect."""
    if value.is_integer() and abs(value) < 2**53:
        text = f"{name}:{int(value)}|d"
    else:
        text = f"{name}:{value!r}|d"
    if tags:
        text += "|#" + ",".join(tags)
    if timestamp is not None:
        text += f"|T{timestamp}"
    return text.encode("utf-8")
