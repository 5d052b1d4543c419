"""Shared fixtures. ``FakeExtension`` stands in for the extension's lifecycle and trace-agent
endpoints (a fake, named as such: these are unit tests of the library's side of the protocol;
the end-to-end tests run the real extension in the sandbox)."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from lambdascope import _config, _extension, metric  # noqa: E402
from lambdascope import tracing as tracer_module


class FakeExtension:
    """Records lifecycle calls and traces; answers start-invocation with a fixed context."""

    TRACE_ID = 1234567890123456789
    PARENT_ID = 987654321
    TID = "6756f7b500000000"

    def __init__(self) -> None:
        self.calls: List[Dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                owner.calls.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers.items()),
                        "body": body,
                    }
                )
                self.send_response(200)
                if self.path == "/lambda/start-invocation":
                    self.send_header("x-datadog-trace-id", str(owner.TRACE_ID))
                    self.send_header("x-datadog-parent-id", str(owner.PARENT_ID))
                    self.send_header("x-datadog-sampling-priority", "1")
                    self.send_header("x-datadog-tags", f"_dd.p.tid={owner.TID}")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            do_POST = _handle
            do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def paths(self) -> List[str]:
        return [c["path"] for c in self.calls]

    def traces(self) -> List[List[Dict[str, Any]]]:
        out: List[List[Dict[str, Any]]] = []
        for call in self.calls:
            if call["path"] == "/v0.4/traces":
                out.extend(json.loads(call["body"]))
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class StatsdListener:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(2)
        self.port = self.sock.getsockname()[1]

    def receive(self) -> str:
        return self.sock.recv(65536).decode()

    def nothing(self) -> bool:
        self.sock.settimeout(0.2)
        try:
            self.sock.recv(65536)
            return False
        except socket.timeout:
            return True


def _reset() -> None:
    _config.reload()
    _extension._lifecycle = None
    _extension._agent = None
    metric._socket = None
    tracer_module.tracer._invocation = None
    tracer_module.tracer._finished = []


@pytest.fixture
def extension(monkeypatch: pytest.MonkeyPatch):
    fake = FakeExtension()
    statsd = StatsdListener()
    monkeypatch.setenv("LAMBDASCOPE_EXTENSION", "1")
    monkeypatch.setenv("LAMBDASCOPE_LIFECYCLE_PORT", str(fake.port))
    monkeypatch.setenv("DD_TRACE_AGENT_PORT", str(fake.port))
    monkeypatch.setenv("DD_DOGSTATSD_PORT", str(statsd.port))
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "my-fn")
    _reset()
    fake.statsd = statsd
    yield fake
    fake.close()
    _reset()


@pytest.fixture
def no_extension(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LAMBDASCOPE_EXTENSION", "0")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "my-fn")
    _reset()
    yield
    _reset()


class LambdaContext:
    def __init__(self, request_id: str = "req-1") -> None:
        self.aws_request_id = request_id
        self.function_name = "my-fn"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:my-fn"
        self.memory_limit_in_mb = "128"
