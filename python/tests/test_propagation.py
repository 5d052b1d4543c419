import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import boto3
import pytest
from botocore.stub import ANY, Stubber

from lambdascope import propagation, tracer
from lambdascope.tracing import InvocationSpan

TRACE_ID = 4242
PARENT = 777


@pytest.fixture
def invocation(no_extension):
    propagation.install()
    root = InvocationSpan(TRACE_ID, PARENT, 0x6756F7B500000000, 1, "req-1")
    tracer._begin_invocation(root)
    yield root
    tracer._end_invocation()


def client(service):
    return boto3.client(
        service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def carrier_matches(carrier, spans):
    """The carrier continues the trace from the aws.request client span."""
    [aws_span] = [s for s in spans if s.name == "aws.request"]
    assert carrier["x-datadog-trace-id"] == str(TRACE_ID)
    assert carrier["x-datadog-parent-id"] == str(aws_span.span_id)
    assert carrier["traceparent"] == f"00-6756f7b500000000{TRACE_ID:016x}-{aws_span.span_id:016x}-01"
    assert aws_span.parent_id == PARENT
    return aws_span


def test_sqs_send_message_carries_datadog_attribute(invocation):
    sqs = client("sqs")
    seen = {}
    with Stubber(sqs) as stub:
        stub.add_response(
            "send_message",
            {"MessageId": "m-1", "MD5OfMessageBody": "x"},
            {
                "QueueUrl": "https://sqs.us-east-1.amazonaws.com/1/q",
                "MessageBody": "hi",
                "MessageAttributes": ANY,
            },
        )
        sqs.meta.events.register(
            "before-parameter-build.sqs.SendMessage", lambda params, **kw: seen.update(params)
        )
        sqs.send_message(QueueUrl="https://sqs.us-east-1.amazonaws.com/1/q", MessageBody="hi")
    spans = tracer._end_invocation()
    attr = seen["MessageAttributes"]["_datadog"]
    assert attr["DataType"] == "String"
    carrier = json.loads(attr["StringValue"])
    span = carrier_matches(carrier, spans)
    assert span.service == "aws.sqs" and span.resource == "sqs.sendmessage"
    assert span.meta["aws.operation"] == "SendMessage"


def test_sns_publish_uses_a_binary_attribute(invocation):
    sns = client("sns")
    seen = {}
    with Stubber(sns) as stub:
        stub.add_response(
            "publish",
            {"MessageId": "m"},
            {"TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": "hi", "MessageAttributes": ANY},
        )
        sns.meta.events.register(
            "before-parameter-build.sns.Publish", lambda params, **kw: seen.update(params)
        )
        sns.publish(TopicArn="arn:aws:sns:us-east-1:1:t", Message="hi")
    spans = tracer._end_invocation()
    attr = seen["MessageAttributes"]["_datadog"]
    assert attr["DataType"] == "Binary"
    carrier_matches(json.loads(attr["BinaryValue"]), spans)


def test_inject_aws_params_for_every_carrier():
    headers = {"x-datadog-trace-id": "1", "x-datadog-parent-id": "2"}
    sqs = {"MessageAttributes": {"a": {"DataType": "String", "StringValue": "v"}}}
    propagation.inject_aws_params("sqs", "SendMessage", sqs, headers)
    assert json.loads(sqs["MessageAttributes"]["_datadog"]["StringValue"]) == headers
    assert "a" in sqs["MessageAttributes"]
    full = {"MessageAttributes": {f"k{i}": {"DataType": "String", "StringValue": "v"} for i in range(10)}}
    propagation.inject_aws_params("sqs", "SendMessage", full, headers)
    assert "_datadog" not in full["MessageAttributes"]
    batch = {"Entries": [{"Id": "1", "MessageBody": "a"}, {"Id": "2", "MessageBody": "b"}]}
    propagation.inject_aws_params("sqs", "SendMessageBatch", batch, headers)
    assert all("_datadog" in e["MessageAttributes"] for e in batch["Entries"])
    sns = {}
    propagation.inject_aws_params("sns", "Publish", sns, headers)
    assert json.loads(sns["MessageAttributes"]["_datadog"]["BinaryValue"]) == headers
    events = {"Entries": [{"Detail": '{"order": 1}'}, {"Detail": "not json"}]}
    propagation.inject_aws_params("events", "PutEvents", events, headers)
    assert json.loads(events["Entries"][0]["Detail"]) == {"order": 1, "_datadog": headers}
    assert events["Entries"][1]["Detail"] == "not json"
    kinesis = {"Data": b'{"k": 2}'}
    propagation.inject_aws_params("kinesis", "PutRecord", kinesis, headers)
    assert json.loads(kinesis["Data"]) == {"k": 2, "_datadog": headers}
    lam = {"ClientContext": base64.b64encode(b'{"custom": {"mine": "x"}}').decode()}
    propagation.inject_aws_params("lambda", "Invoke", lam, headers)
    assert json.loads(base64.b64decode(lam["ClientContext"]))["custom"] == dict(headers, mine="x")


def test_botocore_stubber_sees_injected_eventbridge_detail(invocation):
    events = client("events")
    with Stubber(events) as stub:
        stub.add_response(
            "put_events",
            {"FailedEntryCount": 0, "Entries": [{"EventId": "e"}]},
            {"Entries": [{"Source": "shop", "DetailType": "order", "Detail": ANY}]},
        )
        seen = {}
        events.meta.events.register(
            "before-parameter-build.events.PutEvents", lambda params, **kw: seen.update(params)
        )
        events.put_events(Entries=[{"Source": "shop", "DetailType": "order", "Detail": '{"id": 5}'}])
    spans = tracer._end_invocation()
    detail = json.loads(seen["Entries"][0]["Detail"])
    assert detail["id"] == 5
    carrier_matches(detail["_datadog"], spans)
    assert [s.resource for s in spans if s.name == "aws.request"] == ["events.putevents"]


def test_outgoing_http_gets_headers_and_a_client_span(invocation):
    received = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            received.update({k.lower(): v for k, v in self.headers.items()})
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.handle_request, daemon=True).start()
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
    conn.request("GET", "/menu?x=1")
    assert conn.getresponse().status == 503
    server.server_close()
    [span] = [s for s in tracer._end_invocation() if s.name == "http.request"]
    assert received["x-datadog-trace-id"] == str(TRACE_ID)
    assert received["x-datadog-parent-id"] == str(span.span_id)
    assert received["traceparent"].endswith(f"{span.span_id:016x}-01")
    assert span.parent_id == PARENT
    assert span.meta["http.status_code"] == "503" and span.error == 1
    assert span.meta["http.url"].endswith("/menu")
