"""A function instrumented with the lambdascope library (handler redirect), for the trace e2e test."""

from typing import Any

from lambdascope import tracer


def handler(event: Any, context: Any) -> dict:
    with tracer.trace("get_coffee", resource="latte") as span:
        span.set_tag("customer", "c-1")
    return {"statusCode": int(event.get("status", 200)), "body": "done"}
