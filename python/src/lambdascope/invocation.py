"""The handler wrapper: ``@lambdascope.wrapper`` (alias ``datadog_lambda_wrapper``).

Per invocation it tells the extension an invocation started (with the event) and ended (with the
response or the error), parents the function's spans to the ``aws.lambda`` span the extension
builds, and ships them. Guarantees: never wraps twice; the user's exceptions are re-raised unchanged,
``SystemExit`` and ``KeyboardInterrupt`` included (Datadog's wrapper swallows ``SystemExit``); a
failure inside the library is logged and never reaches the function.
"""

from __future__ import annotations

import functools
import logging
import traceback
from typing import Any, Callable, Optional

from . import _config

logger = logging.getLogger("lambdascope")

_setup_done = False


def _setup() -> None:
    """One-time set-up: library log level, log correlation, outgoing propagation."""
    global _setup_done
    if _setup_done:
        return
    _setup_done = True
    cfg = _config.current()
    level = {"WARN": "WARNING", "OFF": "CRITICAL"}.get(cfg.log_level, cfg.log_level)
    logger.setLevel(getattr(logging, level, logging.WARNING))
    if cfg.logs_injection:
        from . import logs

        logs.install()
    if cfg.trace_enabled:
        from . import propagation

        propagation.install()


class _Invocation:
    """State of one invocation between the two lifecycle calls."""

    __slots__ = ("request_id", "context", "root")

    def __init__(self, request_id: str, context: Any, root: Any) -> None:
        self.request_id = request_id
        self.context = context
        self.root = root


def _before(event: Any, context: Any) -> Optional[_Invocation]:
    from . import _extension
    from .tracing import InvocationSpan, new_id, new_trace_id_high, tracer

    cfg = _config.current()
    request_id = str(getattr(context, "aws_request_id", "") or "")
    trace_context = _extension.start_invocation(event, request_id) if cfg.extension else None
    if trace_context is not None:
        root = InvocationSpan(
            trace_context.trace_id,
            trace_context.parent_id,
            trace_context.trace_id_high,
            trace_context.sampling_priority,
            request_id,
        )
    else:
        root = InvocationSpan(new_id(), new_id(), new_trace_id_high(), 1, request_id)
    if cfg.trace_enabled:
        tracer._begin_invocation(root)
    return _Invocation(request_id, trace_context, root)


def _after(state: Optional[_Invocation], response: Any, error: Optional[BaseException]) -> None:
    from . import _extension
    from .tracing import ship, tracer

    cfg = _config.current()
    spans = tracer._end_invocation() if cfg.trace_enabled else []
    if spans:
        ship(spans)
    if state is None or not cfg.extension:
        return
    stack = ""
    if error is not None:
        stack = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    root_tags = {"meta": dict(state.root.meta), "metrics": dict(state.root.metrics)}
    _extension.end_invocation(response, state.request_id, state.context, error, root_tags, stack)


def _guarded(step: Callable[..., Any], *args: Any) -> Any:
    try:
        return step(*args)
    except Exception:
        logger.warning("lambdascope: %s failed; the function is not affected", step.__name__, exc_info=True)
        return None


def wrapper(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps a Lambda handler ``(event, context)``. Wrapping an already wrapped handler is a no-op."""
    if getattr(func, "__lambdascope_wrapped__", False):
        return func
    _guarded(_setup)

    @functools.wraps(func)
    def wrapped(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
        state = _guarded(_before, event, context)
        try:
            response = func(event, context, *args, **kwargs)
        except BaseException as error:
            _guarded(_after, state, None, error)
            raise
        _guarded(_after, state, response, None)
        return response

    wrapped.__lambdascope_wrapped__ = True  # type: ignore[attr-defined]
    return wrapped


datadog_lambda_wrapper = wrapper


def report_init_error(error: BaseException, module_name: str) -> None:
    """Reports an import failure of the user's module: an error metric and an error span."""
    try:
        from . import metric
        from .tracing import Span, new_id, new_trace_id_high, ship

        cfg = _config.current()
        tags = [f"functionname:{cfg.function_name.lower()}"] if cfg.function_name else []
        metric.lambda_metric("aws.lambda.enhanced.errors", 1, tags=tags)
        if cfg.trace_enabled:
            span = Span(
                None, "aws.lambda", "aws.lambda", module_name, "serverless", new_id(), 0, new_trace_id_high()
            )
            span.set_exc_info(type(error), error, error.__traceback__)
            span.set_tag("status", "error")
            span.set_tag("_dd.origin", "lambda")
            span.set_tag("cold_start", "true")
            span.finish()
            ship([span])
    except Exception:
        logger.warning("lambdascope: could not report the init error", exc_info=True)
