"""Configuration from the environment, read once and cached.

Everything here is cheap: no imports beyond ``os``, so importing the handler stays fast.
"""

from __future__ import annotations

import os
from typing import Optional

EXTENSION_PATHS = ("/opt/extensions/lambdascope", "/opt/extensions/datadog-agent")


def _flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


class Config:
    """The library's settings. Build with :func:`current`; tests call :func:`reload`."""

    def __init__(self) -> None:
        env = os.environ
        self.trace_enabled = _flag("DD_TRACE_ENABLED", True)
        self.logs_injection = _flag("DD_LOGS_INJECTION", True)
        self.capture_payload = _flag("DD_CAPTURE_LAMBDA_PAYLOAD", False)
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.service: str = env.get("DD_SERVICE") or self.function_name or "aws.lambda"
        self.env: Optional[str] = env.get("DD_ENV") or None
        self.version: Optional[str] = env.get("DD_VERSION") or None
        self.log_level = env.get("DD_LOG_LEVEL", "WARNING").upper()
        self.host = env.get("DD_AGENT_HOST") or "127.0.0.1"
        self.lifecycle_port = _int("LAMBDASCOPE_LIFECYCLE_PORT", 8124)
        self.trace_port = _int("DD_TRACE_AGENT_PORT", 8126)
        self.statsd_port = _int("DD_DOGSTATSD_PORT", 8125)
        forced = env.get("LAMBDASCOPE_EXTENSION")
        if forced is not None and forced.strip() != "":
            self.extension = _flag("LAMBDASCOPE_EXTENSION", False)
        else:
            self.extension = any(os.path.exists(p) for p in EXTENSION_PATHS)
        # Seconds to wait for the local extension; it answers in well under a millisecond.
        self.timeout = _int("LAMBDASCOPE_EXTENSION_TIMEOUT_MS", 300) / 1000.0


_current: Optional[Config] = None


def current() -> Config:
    global _current
    if _current is None:
        _current = Config()
    return _current


def reload() -> Config:
    """Re-reads the environment (for tests and for code that changes it at init)."""
    global _current
    _current = Config()
    return _current
