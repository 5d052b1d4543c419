"""A small tracer with the part of ddtrace's API people use in Lambda.

``tracer.trace(...)`` as a context manager, ``@tracer.wrap()``, ``current_span()``,
``current_root_span()``, and ``Span.set_tag/set_tags/set_metric/finish``. The ``aws.lambda`` span
itself is built by the extension; inside an invocation, ``current_root_span()`` is a stand-in for it
whose tags are handed to the extension at the end of the invocation. Spans go to the extension's
trace agent (JSON v0.4) when the invocation ends, parented to ``aws.lambda``.

The active span lives in a ``contextvars.ContextVar`` so asyncio tasks inherit it; threads started
without a copied context fall back to the invocation's root, so their spans still join the trace.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import os
import sys
import threading
import time
import traceback
from typing import Any, Callable, Dict, List, Optional

from . import _config

logger = logging.getLogger("lambdascope")

MAX_SPANS_PER_TRACE = 10_000
_CO_COROUTINE = 0x80
_CO_GENERATOR = 0x20


def new_id() -> int:
    """A random non-zero 64-bit id."""
    while True:
        value = int.from_bytes(os.urandom(8), "big")
        if value:
            return value


def new_trace_id_high() -> int:
    """Upper 64 bits of a new 128-bit trace id: epoch seconds then zeros, as Datadog tracers do."""
    return (int(time.time()) & 0xFFFFFFFF) << 32


class Span:
    """One timed operation. Numeric tag values go to ``metrics``, everything else to ``meta``."""

    __slots__ = (
        "name",
        "service",
        "resource",
        "span_type",
        "trace_id",
        "trace_id_high",
        "span_id",
        "parent_id",
        "start_ns",
        "duration_ns",
        "error",
        "meta",
        "metrics",
        "_tracer",
        "_token",
        "_previous",
    )

    def __init__(
        self,
        tracer: Optional[Tracer],
        name: str,
        service: Optional[str],
        resource: Optional[str],
        span_type: Optional[str],
        trace_id: int,
        parent_id: int,
        trace_id_high: int = 0,
    ) -> None:
        self.name = name
        self.service = service
        self.resource = resource if resource is not None else name
        self.span_type = span_type
        self.trace_id = trace_id
        self.trace_id_high = trace_id_high
        self.span_id = new_id()
        self.parent_id = parent_id
        self.start_ns = time.time_ns()
        self.duration_ns: Optional[int] = None
        self.error = 0
        self.meta: Dict[str, str] = {}
        self.metrics: Dict[str, float] = {}
        self._tracer = tracer
        self._token: Optional[contextvars.Token] = None
        self._previous: Optional[Span] = None

    # -- ddtrace-compatible surface -------------------------------------------------------------
    @property
    def start(self) -> float:
        return self.start_ns / 1e9

    @property
    def duration(self) -> Optional[float]:
        return None if self.duration_ns is None else self.duration_ns / 1e9

    @property
    def finished(self) -> bool:
        return self.duration_ns is not None

    def set_tag(self, key: str, value: Any = None) -> None:
        try:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.metrics[str(key)] = float(value)
                self.meta.pop(str(key), None)
            else:
                self.meta[str(key)] = "" if value is None else str(value)
        except Exception:
            logger.debug("set_tag failed", exc_info=True)

    def set_tags(self, tags: Dict[str, Any]) -> None:
        for key, value in (tags or {}).items():
            self.set_tag(key, value)

    def set_metric(self, key: str, value: float) -> None:
        try:
            self.metrics[str(key)] = float(value)
        except (TypeError, ValueError):
            logger.warning("set_metric: %r is not a number for %r", value, key)

    def get_tag(self, key: str) -> Optional[str]:
        return self.meta.get(key)

    def get_metric(self, key: str) -> Optional[float]:
        return self.metrics.get(key)

    def set_exc_info(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        """Marks the span as an error with the exception's type, message and stack."""
        if exc_type is None:
            return
        self.error = 1
        module = getattr(exc_type, "__module__", "builtins")
        qualname = getattr(exc_type, "__qualname__", str(exc_type))
        self.meta["error.type"] = qualname if module == "builtins" else f"{module}.{qualname}"
        self.meta["error.message"] = str(exc_val)
        self.meta["error.stack"] = "".join(traceback.format_exception(exc_type, exc_val, exc_tb))

    def set_traceback(self) -> None:
        self.set_exc_info(*sys.exc_info())

    def finish(self, finish_time: Optional[float] = None) -> None:
        if self.duration_ns is not None:
            return
        end_ns = time.time_ns() if finish_time is None else int(finish_time * 1e9)
        self.duration_ns = max(0, end_ns - self.start_ns)
        if self._tracer is not None:
            self._tracer._on_finish(self)

    def __enter__(self) -> Span:
        return self

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        if exc_type is not None:
            self.set_exc_info(exc_type, exc_val, exc_tb)
        self.finish()

    def __repr__(self) -> str:
        return f"Span(name={self.name!r}, trace_id={self.trace_id}, span_id={self.span_id})"

    def to_dict(self) -> Dict[str, Any]:
        """The span in the trace agent's v0.4 JSON shape."""
        out: Dict[str, Any] = {
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "parent_id": self.parent_id,
            "name": self.name,
            "service": self.service or "",
            "resource": self.resource or self.name,
            "start": self.start_ns,
            "duration": self.duration_ns or 0,
            "error": self.error,
            "meta": self.meta,
            "metrics": self.metrics,
        }
        if self.span_type:
            out["type"] = self.span_type
        return out


class InvocationSpan(Span):
    """Stands for the ``aws.lambda`` span the extension builds; its tags travel at end-invocation."""

    __slots__ = ("sampling_priority", "request_id")

    def __init__(
        self, trace_id: int, span_id: int, trace_id_high: int, sampling_priority: int, request_id: str
    ) -> None:
        cfg = _config.current()
        super().__init__(None, "aws.lambda", cfg.service, cfg.function_name, "serverless", trace_id, 0)
        self.span_id = span_id
        self.trace_id_high = trace_id_high
        self.sampling_priority = sampling_priority
        self.request_id = request_id

    def finish(self, finish_time: Optional[float] = None) -> None:
        """The extension finishes ``aws.lambda``; calling this only freezes the local duration."""
        if self.duration_ns is None:
            end_ns = time.time_ns() if finish_time is None else int(finish_time * 1e9)
            self.duration_ns = max(0, end_ns - self.start_ns)


_active: contextvars.ContextVar[Optional[Span]] = contextvars.ContextVar(
    "lambdascope_active_span", default=None
)


class Tracer:
    """Creates spans and collects finished ones until they are flushed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._finished: List[Span] = []
        self._dropped = 0
        self._invocation: Optional[InvocationSpan] = None
        self.enabled = True

    # -- public API -----------------------------------------------------------------------------
    def trace(
        self,
        name: str,
        service: Optional[str] = None,
        resource: Optional[str] = None,
        span_type: Optional[str] = None,
    ) -> Span:
        """Starts and activates a span, a child of the current one (or of ``aws.lambda``)."""
        parent = self.current_span()
        cfg = _config.current()
        if parent is not None:
            span = Span(
                self,
                name,
                service or parent.service or cfg.service,
                resource,
                span_type,
                parent.trace_id,
                parent.span_id,
                parent.trace_id_high,
            )
        else:
            span = Span(
                self, name, service or cfg.service, resource, span_type, new_id(), 0, new_trace_id_high()
            )
        span.meta.setdefault("_dd.origin", "lambda")
        if cfg.env:
            span.meta.setdefault("env", cfg.env)
        if cfg.version:
            span.meta.setdefault("version", cfg.version)
        span._previous = parent
        span._token = _active.set(span)
        return span

    def wrap(
        self,
        name: Optional[str] = None,
        service: Optional[str] = None,
        resource: Optional[str] = None,
        span_type: Optional[str] = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorator tracing each call of a function, coroutine function or generator function."""

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            span_name = name or f"{func.__module__}.{getattr(func, '__qualname__', func.__name__)}"
            flags = getattr(getattr(func, "__code__", None), "co_flags", 0)
            if flags & _CO_COROUTINE:

                @functools.wraps(func)
                async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                    with self.trace(span_name, service=service, resource=resource, span_type=span_type):
                        return await func(*args, **kwargs)

                return async_wrapper
            if flags & _CO_GENERATOR:

                @functools.wraps(func)
                def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
                    with self.trace(span_name, service=service, resource=resource, span_type=span_type):
                        return (yield from func(*args, **kwargs))

                return gen_wrapper

            @functools.wraps(func)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                with self.trace(span_name, service=service, resource=resource, span_type=span_type):
                    return func(*args, **kwargs)

            return wrapper

        return decorator

    def current_span(self) -> Optional[Span]:
        """The active span: this context's, else the invocation's ``aws.lambda`` stand-in."""
        span = _active.get()
        while span is not None and span.finished:
            span = span._previous
        if span is not None:
            return span
        return self._invocation

    def current_root_span(self) -> Optional[Span]:
        """``aws.lambda`` inside an invocation; otherwise the local root of the active span."""
        if self._invocation is not None:
            return self._invocation
        span = _active.get()
        while span is not None and span._previous is not None:
            span = span._previous
        return span

    def flush(self) -> None:
        """Ships finished spans now (outside an invocation; the wrapper flushes at its end)."""
        spans = self._take_finished()
        if spans:
            ship(spans)

    # -- used by the wrapper --------------------------------------------------------------------
    def _begin_invocation(self, root: InvocationSpan) -> None:
        self._invocation = root
        _active.set(None)

    def _end_invocation(self) -> List[Span]:
        """Closes the invocation: finishes spans left open and returns everything to ship."""
        self._invocation = None
        _active.set(None)
        return self._take_finished()

    def _take_finished(self) -> List[Span]:
        with self._lock:
            spans, self._finished = self._finished, []
            dropped, self._dropped = self._dropped, 0
        if dropped:
            logger.warning(
                "lambdascope: dropped %d spans over the %d per-trace limit", dropped, MAX_SPANS_PER_TRACE
            )
        return spans

    def _on_finish(self, span: Span) -> None:
        if span._token is not None:
            try:
                _active.reset(span._token)
            except ValueError:  # finished in another context than it started in
                if _active.get() is span:
                    _active.set(span._previous)
            span._token = None
        with self._lock:
            if len(self._finished) < MAX_SPANS_PER_TRACE:
                self._finished.append(span)
            else:
                self._dropped += 1
        if self._invocation is None and span._previous is None and self.enabled:
            # A local root outside an invocation (init code, scripts): ship its trace now.
            self.flush()


def encode_traces(spans: List[Span]) -> bytes:
    """Groups spans by trace and encodes the v0.4 JSON body (a list of traces)."""
    traces: Dict[int, List[Dict[str, Any]]] = {}
    for span in spans:
        if span.duration_ns is None:
            span.duration_ns = max(0, time.time_ns() - span.start_ns)
        entry = span.to_dict()
        chunk = traces.setdefault(span.trace_id, [])
        if not chunk and span.trace_id_high:
            entry["meta"] = dict(entry["meta"], **{"_dd.p.tid": f"{span.trace_id_high:016x}"})
        chunk.append(entry)
    return json.dumps(list(traces.values()), separators=(",", ":"), default=str).encode("utf-8")


def ship(spans: List[Span]) -> None:
    """Sends spans to the extension's trace agent, or prints them for the Forwarder without one."""
    from . import _extension

    try:
        body = encode_traces(spans)
        if _config.current().extension:
            _extension.send_traces(body, len({s.trace_id for s in spans}))
        else:
            sys.stdout.write('{"traces":' + body.decode("utf-8") + "}\n")
    except Exception:
        logger.warning("lambdascope: could not ship %d spans", len(spans), exc_info=True)


tracer = Tracer()
