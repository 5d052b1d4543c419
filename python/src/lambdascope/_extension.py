"""The extension's local endpoints: lifecycle on 8124, trace agent on 8126.

Protocol (the extension implements the other side):

- ``POST /lambda/start-invocation`` — body: the event (JSON); header ``lambda-runtime-aws-request-id``.
  The answer's headers carry the context to parent our spans to: ``x-datadog-trace-id`` (lower 64
  bits, decimal), ``x-datadog-parent-id`` (the ``aws.lambda`` span id the extension will use),
  ``x-datadog-sampling-priority`` and ``x-datadog-tags`` (``_dd.p.tid=<upper 64 bits hex>``).
- ``POST /lambda/end-invocation`` — body: the response (JSON); headers: the request id,
  ``x-datadog-trace-id``/``x-datadog-span-id`` of the ``aws.lambda`` span, and on failure
  ``x-datadog-invocation-error: true`` with ``-msg``, ``-type`` and ``-stack`` (base64).
  ``x-lambdascope-span-tags`` carries base64 JSON ``{"meta": {...}, "metrics": {...}}``: the tags the
  function set on ``current_root_span()``, for the extension to put on ``aws.lambda``.
- ``PUT /v0.4/traces`` on the trace agent — JSON v0.4 (a list of traces).
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any, Dict, Optional

from . import _config
from ._transport import HttpClient

logger = logging.getLogger("lambdascope")

_lifecycle: Optional[HttpClient] = None
_agent: Optional[HttpClient] = None
TRACER_VERSION = "lambdascope-python/0.1.0"


def _client(kind: str) -> HttpClient:
    global _lifecycle, _agent
    cfg = _config.current()
    port = cfg.lifecycle_port if kind == "lifecycle" else cfg.trace_port
    existing = _lifecycle if kind == "lifecycle" else _agent
    if existing is None or existing.port != port or existing.host != cfg.host:
        existing = HttpClient(cfg.host, port, cfg.timeout)
        if kind == "lifecycle":
            _lifecycle = existing
        else:
            _agent = existing
    return existing


def _json_body(value: Any) -> bytes:
    try:
        return json.dumps(value, separators=(",", ":"), default=str).encode("utf-8")
    except (TypeError, ValueError):
        return b"{}"


class TraceContext:
    """What start-invocation answered."""

    __slots__ = ("trace_id", "parent_id", "sampling_priority", "trace_id_high")

    def __init__(self, trace_id: int, parent_id: int, sampling_priority: int, trace_id_high: int) -> None:
        self.trace_id = trace_id
        self.parent_id = parent_id
        self.sampling_priority = sampling_priority
        self.trace_id_high = trace_id_high


def _int_header(headers: Dict[str, str], name: str, default: int = 0) -> int:
    try:
        return int(headers.get(name, default))
    except ValueError:
        return default


def start_invocation(event: Any, request_id: str) -> Optional[TraceContext]:
    answer = _client("lifecycle").request(
        "POST",
        "/lambda/start-invocation",
        _json_body(event),
        {"Content-Type": "application/json", "lambda-runtime-aws-request-id": request_id},
    )
    if answer is None or answer[0] >= 300:
        logger.debug("start-invocation failed: %r", answer and answer[0])
        return None
    headers = answer[1]
    trace_id = _int_header(headers, "x-datadog-trace-id")
    if not trace_id:
        return None
    high = 0
    for tag in headers.get("x-datadog-tags", "").split(","):
        key, _, value = tag.partition("=")
        if key.strip() == "_dd.p.tid":
            try:
                high = int(value.strip(), 16)
            except ValueError:
                high = 0
    return TraceContext(
        trace_id,
        _int_header(headers, "x-datadog-parent-id"),
        _int_header(headers, "x-datadog-sampling-priority", 1),
        high,
    )


def end_invocation(
    response: Any,
    request_id: str,
    context: Optional[TraceContext],
    error: Optional[BaseException],
    root_tags: Optional[Dict[str, Any]],
    stack: str = "",
) -> bool:
    headers = {"Content-Type": "application/json", "lambda-runtime-aws-request-id": request_id}
    if context is not None:
        headers["x-datadog-trace-id"] = str(context.trace_id)
        headers["x-datadog-span-id"] = str(context.parent_id)
        headers["x-datadog-sampling-priority"] = str(context.sampling_priority)
    if error is not None:
        headers["x-datadog-invocation-error"] = "true"
        headers["x-datadog-invocation-error-msg"] = str(error)[:4096]
        headers["x-datadog-invocation-error-type"] = type(error).__name__
        headers["x-datadog-invocation-error-stack"] = base64.b64encode(stack.encode("utf-8")).decode("ascii")
    if root_tags and (root_tags.get("meta") or root_tags.get("metrics")):
        encoded = json.dumps(root_tags, separators=(",", ":"), default=str).encode("utf-8")
        headers["x-lambdascope-span-tags"] = base64.b64encode(encoded).decode("ascii")
    body = _json_body(response) if error is None else b"{}"
    answer = _client("lifecycle").request("POST", "/lambda/end-invocation", body, headers)
    return answer is not None and answer[0] < 300


def send_traces(body: bytes, trace_count: int) -> bool:
    answer = _client("agent").request(
        "PUT",
        "/v0.4/traces",
        body,
        {
            "Content-Type": "application/json",
            "X-Datadog-Trace-Count": str(trace_count),
            "Datadog-Meta-Lang": "python",
            "Datadog-Meta-Tracer-Version": TRACER_VERSION,
        },
    )
    if answer is None or answer[0] >= 300:
        logger.warning("lambdascope: the trace agent did not accept %d traces", trace_count)
        return False
    return True
