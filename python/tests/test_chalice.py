"""Chalice: ``app.register_middleware(ConvertToMiddleware(lambdascope.wrapper))`` runs every
invocation through the wrapper (driven by Chalice's own test client)."""

import json

from chalice import Chalice, ConvertToMiddleware
from chalice.test import Client

import lambdascope
from lambdascope import tracer


def test_chalice_middleware_goes_through_the_wrapper(extension):
    app = Chalice(app_name="coffee")
    app.register_middleware(ConvertToMiddleware(lambdascope.wrapper))

    @app.lambda_function(name="order")
    def order(event, context):
        with tracer.trace("brew"):
            pass
        return {"ok": event["product"]}

    with Client(app) as client:
        result = client.lambda_.invoke("order", {"product": "latte"})
    assert result.payload == {"ok": "latte"}
    paths = extension.paths()
    assert paths[0] == "/lambda/start-invocation" and paths[-1] == "/lambda/end-invocation"
    assert json.loads(extension.calls[0]["body"]) == {"product": "latte"}
    assert [s["name"] for t in extension.traces() for s in t] == ["brew"]
