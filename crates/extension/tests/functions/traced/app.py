"""A function instrumented with the lambdascope library (handler redirect), for the trace e2e test."""

from typing import Any

from lambdascope import tracer


def handler(event: Any, context: Any) -> dict:
    with tracer.trace("get_coffee", resource="latte") as span:
        span.set_tag("customer", "c-1")
    return {"statusCode": int(event.get("status", 200)), "body": "done"}


def boom(event: Any, context: Any) -> dict:
    with tracer.trace("charge_card"):
        raise ValueError("card declined")


def sleepy(event: Any, context: Any) -> dict:
    import time

    with tracer.trace("slow_query"):
        time.sleep(30)
    return {"statusCode": 200}
