"""Trace propagation out of the function.

Outgoing HTTP (``http.client``, and so ``urllib3`` and ``requests``, which sit on it) gets Datadog and
W3C headers; AWS SDK calls (``botocore``) get the ``_datadog`` carrier where each service has room for
it: SQS/SNS message attributes, EventBridge ``detail``, Kinesis data, Lambda ``ClientContext``.
Each library is patched only once the function imports it (a post-import hook), never eagerly,
and every call gets a client span.
"""

from __future__ import annotations

import base64
import contextvars
import json
import logging
import sys
from typing import Any, Dict, Optional

from .tracing import Span, tracer

logger = logging.getLogger("lambdascope")

_in_aws_call: contextvars.ContextVar[bool] = contextvars.ContextVar("lambdascope_in_aws_call", default=False)
_installed = False


def headers_for(span: Optional[Span]) -> Dict[str, str]:
    """Datadog + W3C trace-context headers continuing from ``span``."""
    if span is None:
        return {}
    priority = getattr(tracer.current_root_span(), "sampling_priority", 1)
    headers = {
        "x-datadog-trace-id": str(span.trace_id),
        "x-datadog-parent-id": str(span.span_id),
        "x-datadog-sampling-priority": str(priority),
    }
    if span.trace_id_high:
        headers["x-datadog-tags"] = f"_dd.p.tid={span.trace_id_high:016x}"
    sampled = "01" if priority > 0 else "00"
    headers["traceparent"] = f"00-{span.trace_id_high:016x}{span.trace_id:016x}-{span.span_id:016x}-{sampled}"
    headers["tracestate"] = f"dd=s:{priority};p:{span.span_id:016x}"
    return headers


def current_headers() -> Dict[str, str]:
    """Headers for manual injection (like Datadog's ``get_dd_trace_context``)."""
    return headers_for(tracer.current_span())


# -- http.client ---------------------------------------------------------------------------------


def _patch_http_client(module: Any) -> None:
    conn = module.HTTPConnection
    if getattr(conn, "_lambdascope_patched", False):
        return
    original_putrequest = conn.putrequest
    original_endheaders = conn.endheaders
    original_getresponse = conn.getresponse

    def putrequest(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        result = original_putrequest(self, method, url, *args, **kwargs)
        try:
            if not _in_aws_call.get() and tracer.current_span() is not None:
                span = tracer.trace("http.request", span_type="http")
                host = getattr(self, "host", "")
                span.resource = f"{method} {host}"
                span.set_tag("span.kind", "client")
                span.set_tag("http.method", method)
                scheme = "https" if getattr(self, "default_port", 80) == 443 else "http"
                span.set_tag("http.url", f"{scheme}://{host}{url.split('?')[0]}")
                span.set_tag("out.host", host)
                self._lambdascope_span = span
                for name, value in headers_for(span).items():
                    self.putheader(name, value)
        except Exception:
            logger.debug("http.client span failed", exc_info=True)
        return result

    def getresponse(self: Any, *args: Any, **kwargs: Any) -> Any:
        span = getattr(self, "_lambdascope_span", None)
        try:
            response = original_getresponse(self, *args, **kwargs)
        except BaseException:
            if span is not None:
                self._lambdascope_span = None
                span.set_traceback()
                span.finish()
            raise
        if span is not None:
            self._lambdascope_span = None
            span.set_tag("http.status_code", str(response.status))
            if response.status >= 500:
                span.error = 1
            span.finish()
        return response

    conn.putrequest = putrequest
    conn.getresponse = getresponse
    conn.endheaders = original_endheaders
    conn._lambdascope_patched = True


# -- botocore ------------------------------------------------------------------------------------


def _json_carrier(headers: Dict[str, str]) -> str:
    return json.dumps(headers, separators=(",", ":"))


def inject_aws_params(service: str, operation: str, params: Dict[str, Any], headers: Dict[str, str]) -> None:
    """Adds the ``_datadog`` carrier to an AWS request's parameters, where the service has room."""
    if not headers or not isinstance(params, dict):
        return
    carrier = _json_carrier(headers)

    def add_attribute(attrs: Dict[str, Any], binary: bool) -> Dict[str, Any]:
        attrs = dict(attrs or {})
        if "_datadog" not in attrs and len(attrs) < 10:  # SQS and SNS allow 10 attributes
            if binary:
                attrs["_datadog"] = {"DataType": "Binary", "BinaryValue": carrier.encode("utf-8")}
            else:
                attrs["_datadog"] = {"DataType": "String", "StringValue": carrier}
        return attrs

    if service == "sqs" and operation == "SendMessage":
        params["MessageAttributes"] = add_attribute(params.get("MessageAttributes"), binary=False)
    elif service == "sqs" and operation == "SendMessageBatch":
        for entry in params.get("Entries") or []:
            if isinstance(entry, dict):
                entry["MessageAttributes"] = add_attribute(entry.get("MessageAttributes"), binary=False)
    elif service == "sns" and operation == "Publish":
        params["MessageAttributes"] = add_attribute(params.get("MessageAttributes"), binary=True)
    elif service == "sns" and operation == "PublishBatch":
        for entry in params.get("PublishBatchRequestEntries") or []:
            if isinstance(entry, dict):
                entry["MessageAttributes"] = add_attribute(entry.get("MessageAttributes"), binary=True)
    elif service == "events" and operation == "PutEvents":
        for entry in params.get("Entries") or []:
            if isinstance(entry, dict):
                entry["Detail"] = _add_to_json_object(entry.get("Detail", "{}"), headers)
    elif service == "kinesis" and operation == "PutRecord":
        params["Data"] = _add_to_json_object(params.get("Data"), headers)
    elif service == "kinesis" and operation == "PutRecords":
        for record in params.get("Records") or []:
            if isinstance(record, dict):
                record["Data"] = _add_to_json_object(record.get("Data"), headers)
    elif service == "lambda" and operation in ("Invoke", "InvokeAsync"):
        params["ClientContext"] = _client_context_with(params.get("ClientContext"), headers)


def _add_to_json_object(data: Any, headers: Dict[str, str]) -> Any:
    """Adds ``_datadog`` to a JSON object given as str or bytes; anything else is left alone."""
    try:
        as_bytes = isinstance(data, (bytes, bytearray))
        text = data.decode("utf-8") if as_bytes else data
        if not isinstance(text, str):
            return data
        value = json.loads(text)
        if not isinstance(value, dict) or "_datadog" in value:
            return data
        value["_datadog"] = headers
        out = json.dumps(value, separators=(",", ":"))
        return out.encode("utf-8") if as_bytes else out
    except (ValueError, UnicodeDecodeError):
        return data


def _client_context_with(existing: Optional[str], headers: Dict[str, str]) -> Optional[str]:
    try:
        context = json.loads(base64.b64decode(existing)) if existing else {}
        if not isinstance(context, dict):
            return existing
        custom = context.setdefault("custom", {})
        if not isinstance(custom, dict):
            return existing
        custom.update(headers)
        encoded = base64.b64encode(json.dumps(context, separators=(",", ":")).encode("utf-8")).decode("ascii")
        return encoded if len(encoded) <= 3583 else existing  # Lambda's ClientContext limit
    except (ValueError, TypeError):
        return existing


def _patch_botocore(module: Any) -> None:
    base = module.client.BaseClient
    if getattr(base, "_lambdascope_patched", False):
        return
    original = base._make_api_call

    def _make_api_call(self: Any, operation_name: str, api_params: Dict[str, Any]) -> Any:
        if tracer.current_span() is None:
            return original(self, operation_name, api_params)
        service = getattr(getattr(self, "meta", None), "service_model", None)
        service_name = getattr(service, "endpoint_prefix", None) or "aws"
        span = tracer.trace("aws.request", service=f"aws.{service_name}", span_type="http")
        token = _in_aws_call.set(True)
        try:
            span.resource = f"{service_name}.{operation_name.lower()}"
            span.set_tag("span.kind", "client")
            span.set_tag("aws.service", service_name)
            span.set_tag("aws.operation", operation_name)
            span.set_tag("aws.region", getattr(self.meta, "region_name", "") or "")
            try:
                inject_aws_params(service_name, operation_name, api_params, headers_for(span))
            except Exception:
                logger.debug("botocore injection failed", exc_info=True)
            result = original(self, operation_name, api_params)
            meta = result.get("ResponseMetadata", {}) if isinstance(result, dict) else {}
            if meta.get("HTTPStatusCode") is not None:
                span.set_tag("http.status_code", str(meta["HTTPStatusCode"]))
            if meta.get("RequestId"):
                span.set_tag("aws.requestid", meta["RequestId"])
            return result
        except BaseException:
            span.set_traceback()
            raise
        finally:
            _in_aws_call.reset(token)
            span.finish()

    base._make_api_call = _make_api_call
    base._lambdascope_patched = True


# -- post-import hooks ---------------------------------------------------------------------------

_PATCHERS = {
    "http.client": _patch_http_client,
    "botocore.client": lambda _m: _patch_botocore(sys.modules["botocore"]),
}


class _PostImportFinder:
    """A meta-path finder that patches a target module right after it is executed."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in _PATCHERS:
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        loader = spec.loader
        original_exec = loader.exec_module

        def exec_module(module: Any) -> None:
            original_exec(module)
            _apply(fullname, module)

        loader.exec_module = exec_module
        return spec


def _apply(name: str, module: Any) -> None:
    try:
        _PATCHERS[name](module)
    except Exception:
        logger.warning("lambdascope: could not instrument %s", name, exc_info=True)


def install() -> None:
    """Patches what is already imported and hooks what the function imports later. Idempotent."""
    global _installed
    if _installed:
        return
    _installed = True
    for name in _PATCHERS:
        if name in sys.modules:
            _apply(name, sys.modules[name])
    sys.meta_path.insert(0, _PostImportFinder())
