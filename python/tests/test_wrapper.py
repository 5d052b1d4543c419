import base64
import json
import sys

import pytest
from conftest import FakeExtension, LambdaContext

from lambdascope import datadog_lambda_wrapper, tracer, wrapper


def test_lifecycle_calls_and_spans_parented_to_aws_lambda(extension):
    @wrapper
    def handler(event, context):
        with tracer.trace("get_coffee", resource="latte") as span:
            span.set_tag("order", "o-1")
        tracer.current_root_span().set_tag("customer.id", "c-9")
        return {"statusCode": 200, "body": "ok"}

    event = {"httpMethod": "GET", "path": "/coffee"}
    assert handler(event, LambdaContext("req-42")) == {"statusCode": 200, "body": "ok"}
    assert extension.paths() == ["/lambda/start-invocation", "/v0.4/traces", "/lambda/end-invocation"]
    start, _, end = extension.calls
    assert json.loads(start["body"]) == event
    assert start["headers"]["lambda-runtime-aws-request-id"] == "req-42"
    [trace] = extension.traces()
    [span] = trace
    assert span["trace_id"] == FakeExtension.TRACE_ID
    assert span["parent_id"] == FakeExtension.PARENT_ID
    assert span["meta"]["_dd.p.tid"] == FakeExtension.TID
    assert span["name"] == "get_coffee" and span["meta"]["order"] == "o-1"
    assert json.loads(end["body"]) == {"statusCode": 200, "body": "ok"}
    assert end["headers"]["x-datadog-trace-id"] == str(FakeExtension.TRACE_ID)
    assert end["headers"]["x-datadog-span-id"] == str(FakeExtension.PARENT_ID)
    assert "x-datadog-invocation-error" not in end["headers"]
    tags = json.loads(base64.b64decode(end["headers"]["x-lambdascope-span-tags"]))
    assert tags["meta"] == {"customer.id": "c-9"}


def test_exceptions_are_reraised_unchanged_and_reported(extension):
    boom = ValueError("kaboom\nsecond line")

    @wrapper
    def handler(event, context):
        raise boom

    with pytest.raises(ValueError) as raised:
        handler({}, LambdaContext())
    assert raised.value is boom
    end = extension.calls[-1]
    assert end["path"] == "/lambda/end-invocation"
    assert end["headers"]["x-datadog-invocation-error"] == "true"
    assert end["headers"]["x-datadog-invocation-error-type"] == "ValueError"
    assert end["headers"]["x-datadog-invocation-error-msg"] == "kaboom second line"
    stack = base64.b64decode(end["headers"]["x-datadog-invocation-error-stack"]).decode()
    assert "raise boom" in stack


def test_system_exit_is_not_swallowed(extension):
    @wrapper
    def handler(event, context):
        sys.exit(3)

    with pytest.raises(SystemExit) as raised:
        handler({}, LambdaContext())
    assert raised.value.code == 3
    assert extension.calls[-1]["headers"]["x-datadog-invocation-error-type"] == "SystemExit"


def test_never_double_wraps_and_alias_is_the_same(extension):
    def handler(event, context):
        return 1

    once = wrapper(handler)
    assert datadog_lambda_wrapper(once) is once
    assert datadog_lambda_wrapper is wrapper
    once({}, LambdaContext())
    assert extension.paths().count("/lambda/start-invocation") == 1


def test_an_absent_extension_never_breaks_the_function(extension, monkeypatch):
    extension.close()

    @wrapper
    def handler(event, context):
        with tracer.trace("work"):
            pass
        return "still fine"

    assert handler({"x": 1}, LambdaContext()) == "still fine"


def test_unserialisable_response_is_still_returned(extension):
    marker = object()

    @wrapper
    def handler(event, context):
        return marker

    assert handler({}, LambdaContext()) is marker
    assert extension.paths()[-1] == "/lambda/end-invocation"
