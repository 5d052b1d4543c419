"""A function instrumented with Datadog's own `datadog-lambda` package (from PyPI)."""

from typing import Any

from datadog_lambda.metric import lambda_metric


def handler(event: Any, context: Any) -> dict:
    lambda_metric("compat.orders", 3, tags=["product:widget"])
    lambda_metric("compat.latency", 42.5, tags=["route:/buy"])
    print("compat handler done")
    return {"ok": True}
