"""Handler redirect: set the function's handler to ``lambdascope.handler.handler`` and
``DD_LAMBDA_HANDLER`` to the original ``module.function`` (``path/to/module.function`` works too).

A failure to import the user's module is reported once (an error metric and an error span) and
re-raised with the original message, so the platform shows the real cause.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Callable

from .invocation import report_init_error, wrapper


class HandlerError(Exception):
    """``DD_LAMBDA_HANDLER`` is missing or malformed."""


def _load() -> Callable[..., Any]:
    target = os.environ.get("DD_LAMBDA_HANDLER", "").strip()
    if not target:
        raise HandlerError(
            "DD_LAMBDA_HANDLER is not set: set it to your original handler, e.g. app.handler "
            "(the function's handler is lambdascope.handler.handler)"
        )
    module_path, _, function_name = target.rpartition(".")
    if not module_path or not function_name:
        raise HandlerError(f"DD_LAMBDA_HANDLER={target!r} is not of the form module.function")
    module_name = module_path.replace("/", ".").strip(".")
    try:
        module = importlib.import_module(module_name)
    except BaseException as error:
        report_init_error(error, module_name)
        raise
    try:
        return getattr(module, function_name)
    except AttributeError as error:
        report_init_error(error, module_name)
        raise HandlerError(f"module {module_name!r} has no function {function_name!r}") from None


handler = wrapper(_load())
