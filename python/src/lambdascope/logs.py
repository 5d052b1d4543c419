"""Log correlation: every ``logging`` record gets ``dd.trace_id`` and ``dd.span_id`` attributes.

This works through the record factory, so the user's handlers and formatters stay exactly as they
are: a format string may use ``%(dd.trace_id)s``, and the Lambda runtime's JSON log format emits the
attributes as fields. The extension also correlates by request id, so text logs join their trace.
"""

from __future__ import annotations

import logging
from typing import Any

from . import _config
from .tracing import tracer

_installed = False


def install() -> None:
    """Installs the record factory once. Idempotent."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()
    cfg = _config.current()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            span = tracer.current_span()
            setattr(record, "dd.trace_id", str(span.trace_id) if span is not None else "0")
            setattr(record, "dd.span_id", str(span.span_id) if span is not None else "0")
            setattr(record, "dd.service", cfg.service)
            if cfg.env:
                setattr(record, "dd.env", cfg.env)
            if cfg.version:
                setattr(record, "dd.version", cfg.version)
        except Exception:
            pass
        return record

    logging.setLogRecordFactory(factory)
