"""A function with no tracing library: its aws.lambda span comes from telemetry alone."""

from typing import Any


def handler(event: Any, context: Any) -> str:
    return "no library here"
