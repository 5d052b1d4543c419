"""Starts moto in server mode on a free loopback port for the CLI tests.

Prints the port on the first stdout line, then serves until stdin closes (the test process
ending closes it), so no server outlives its test.

moto 5.2.5 returns every function from ListFunctions and ignores MaxItems/Marker. Real Lambda
pages (at most 50 per page, NextMarker). The paging below restores that behaviour so the CLI's
pagination is exercised against the emulator; everything else is moto as shipped.
"""

import json
import logging
import os
import sys
import time
from typing import Any

import boto3
from moto.awslambda.responses import LambdaResponse
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import ThreadedMotoServer

_list_functions = LambdaResponse.list_functions


def _paged_list_functions(self: LambdaResponse) -> str:
    body = json.loads(_list_functions(self))
    functions = body["Functions"]
    max_items = min(int(self.querystring.get("MaxItems", ["50"])[0]), 50)
    start = int(self.querystring.get("Marker", ["0"])[0] or 0)
    page: dict[str, object] = {"Functions": functions[start : start + max_items]}
    if start + max_items < len(functions):
        page["NextMarker"] = str(start + max_items)
    calls_file = os.environ.get("MOTO_LIST_CALLS_FILE")
    if calls_file:
        with open(calls_file, "a") as f:
            f.write(f"{start}\n")
    return json.dumps(page)


LambdaResponse.list_functions = _paged_list_functions

# Benchmarks only (bench/instrument.sh): MOTO_LATENCY_MS adds a fixed delay to every request, the
# network and service time a real API call has. moto itself answers in a few ms of Python under
# one GIL, so without it concurrency has nothing to overlap. The tests never set it.
_LATENCY_S = float(os.environ.get("MOTO_LATENCY_MS", "0")) / 1000.0
if _LATENCY_S > 0:
    _dispatch = DomainDispatcherApplication.__call__

    def _delayed(
        self: DomainDispatcherApplication, environ: Any, start_response: Any
    ) -> Any:
        time.sleep(_LATENCY_S)
        return _dispatch(self, environ, start_response)

    DomainDispatcherApplication.__call__ = _delayed  # type: ignore[method-assign]


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    _, port = server.get_host_and_port()
    iam = boto3.client(
        "iam",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    iam.create_role(
        RoleName="lambda-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    print(port, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
