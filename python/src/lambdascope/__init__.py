"""lambdascope: the pure-Python half of lambdascope's Lambda instrumentation.

Attributes are loaded on first use so that ``import lambdascope`` costs next to nothing.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["wrapper", "datadog_lambda_wrapper", "lambda_metric", "tracer", "current_headers", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("wrapper", "datadog_lambda_wrapper"):
        from .invocation import wrapper

        return wrapper
    if name == "lambda_metric":
        from .metric import lambda_metric

        return lambda_metric
    if name == "tracer":
        from .tracing import tracer

        return tracer
    if name == "current_headers":
        from .propagation import current_headers

        return current_headers
    raise AttributeError(f"module 'lambdascope' has no attribute {name!r}")
