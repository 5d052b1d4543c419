"""Handlers the sandbox integration tests run under the real awslambdaric."""

import json
import logging
import os
import socket
import time
import urllib.error
import urllib.request
from typing import Any

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def ok(event: Any, context: Any) -> dict:
    print("hello from ok")
    logger.info("logged at info")
    return {
        "echo": event,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "arn": context.invoked_function_arn,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "cwd": os.getcwd(),
        "client_custom": context.client_context.custom if context.client_context else None,
        "cognito_id": context.identity.cognito_identity_id if context.identity else None,
    }


def boom(event: Any, context: Any) -> None:
    raise ValueError("kaboom: " + json.dumps(event))


def sleepy(event: Any, context: Any) -> str:
    time.sleep(float(event.get("seconds", 5)))
    return "woke up"


def die(event: Any, context: Any) -> None:
    print("about to exit")
    os._exit(3)


def big(event: Any, context: Any) -> str:
    return "x" * (7 * 1024 * 1024)


def hog(event: Any, context: Any) -> int:
    chunks = []
    for _ in range(int(event.get("mb", 1024))):
        chunks.append(bytearray(1024 * 1024))
        for i in range(0, len(chunks[-1]), 4096):
            chunks[-1][i] = 1
    return len(chunks)


def env(event: Any, context: Any) -> dict:
    names = ["sandbox.localdomain", "sandbox", "host.lambdascope.internal"]
    resolved = {}
    for name in names:
        try:
            resolved[name] = socket.gethostbyname(name)
        except OSError as exc:
            resolved[name] = "error: " + str(exc)
    return {"env": dict(os.environ), "resolved": resolved, "cwd": os.getcwd(),
            "opt": sorted(os.listdir("/opt")) if os.path.isdir("/opt") else None}


def fetch(event: Any, context: Any) -> str:
    with urllib.request.urlopen(event["url"], timeout=5) as resp:
        return resp.read().decode()


def probe(event: Any, context: Any) -> dict:
    """Calls the platform APIs the way a misbehaving client would and reports the answers."""
    api = os.environ["AWS_LAMBDA_RUNTIME_API"]

    def call(method: str, path: str, body: bytes = b"{}", headers: dict | None = None) -> list:
        req = urllib.request.Request(f"http://{api}{path}", data=body if method != "GET" else None,
                                     method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return [resp.status, json.loads(resp.read() or b"null")]
        except urllib.error.HTTPError as exc:
            return [exc.code, json.loads(exc.read() or b"null")]

    return {
        "unknown_id": call("POST", "/2018-06-01/runtime/invocation/bogus/response"),
        "init_error_late": call("POST", "/2018-06-01/runtime/init/error"),
        "next_no_id": call("GET", "/2020-01-01/extension/event/next"),
        "next_bad_id": call("GET", "/2020-01-01/extension/event/next", headers={"Lambda-Extension-Identifier": "x"}),
        "register_late": call("POST", "/2020-01-01/extension/register", b'{"events":["INVOKE"]}',
                              {"Lambda-Extension-Name": "late"}),
        "register_no_name": call("POST", "/2020-01-01/extension/register", b'{"events":[]}'),
        "subscribe_unknown": call("PUT", "/2022-07-01/telemetry", b"{}",
                                  {"Lambda-Extension-Identifier": "00000000-0000-4000-8000-000000000000"}),
    }
