"""A function traced by Datadog's own `datadog-lambda` + `ddtrace` (from PyPI), via the handler redirect."""

from typing import Any

from ddtrace import tracer


def handler(event: Any, context: Any) -> dict:
    with tracer.trace("compat.work", resource="brew") as span:
        span.set_tag("customer", "c-2")
    return {"statusCode": 200, "body": "ok"}
