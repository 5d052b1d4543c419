import asyncio
import json
import threading

import pytest

from lambdascope import tracer
from lambdascope.tracing import InvocationSpan, encode_traces


@pytest.fixture
def invocation(no_extension):
    root = InvocationSpan(111, 222, 0x6756F7B500000000, 1, "req-1")
    tracer._begin_invocation(root)
    yield root
    tracer._end_invocation()


def test_nested_spans_parent_to_the_invocation(invocation):
    with tracer.trace("outer", resource="r1", span_type="web") as outer:
        assert tracer.current_span() is outer
        with tracer.trace("inner") as inner:
            inner.set_tag("customer", "c-1")
            inner.set_tag("items", 3)
            inner.set_metric("weight", 2.5)
        assert tracer.current_span() is outer
    assert tracer.current_span() is invocation
    assert outer.trace_id == inner.trace_id == 111
    assert outer.parent_id == 222
    assert inner.parent_id == outer.span_id
    assert inner.meta["customer"] == "c-1"
    assert inner.metrics == {"items": 3.0, "weight": 2.5}
    assert outer.resource == "r1" and outer.span_type == "web"
    assert tracer.current_root_span() is invocation
    spans = tracer._end_invocation()
    assert [s.name for s in spans] == ["inner", "outer"]


def test_errors_are_recorded_with_type_message_and_stack(invocation):
    with pytest.raises(KeyError):
        with tracer.trace("failing") as span:
            raise KeyError("missing")
    assert span.error == 1
    assert span.meta["error.type"] == "KeyError"
    assert span.meta["error.message"] == "'missing'"
    assert "Traceback" in span.meta["error.stack"]


def test_wrap_sync_async_and_generator(invocation):
    @tracer.wrap()
    def sync_fn(x):
        return tracer.current_span().name, x

    @tracer.wrap(name="custom.async", service="svc")
    async def async_fn():
        await asyncio.sleep(0)
        return tracer.current_span()

    @tracer.wrap("gen")
    def gen_fn():
        yield tracer.current_span().name
        yield 2

    name, x = sync_fn(1)
    assert name == "test_tracer.test_wrap_sync_async_and_generator.<locals>.sync_fn" and x == 1
    span = asyncio.run(async_fn())
    assert span.name == "custom.async" and span.service == "svc" and span.finished
    assert list(gen_fn()) == ["gen", 2]


def test_asyncio_tasks_and_threads_join_the_trace(invocation):
    async def child(name):
        with tracer.trace(name) as span:
            await asyncio.sleep(0)
            return span

    async def main():
        with tracer.trace("parent") as parent:
            a, b = await asyncio.gather(child("a"), child("b"))
        return parent, a, b

    parent, a, b = asyncio.run(main())
    assert a.parent_id == parent.span_id and b.parent_id == parent.span_id

    seen = {}

    def worker():
        with tracer.trace("in-thread") as span:
            seen["span"] = span

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["span"].trace_id == 111 and seen["span"].parent_id == 222


def test_root_span_tags_are_collected(invocation):
    tracer.current_root_span().set_tag("customer.tier", "gold")
    assert invocation.meta["customer.tier"] == "gold"


def test_encoding_is_v04_json_with_the_128_bit_tag(invocation):
    with tracer.trace("op"):
        pass
    body = json.loads(encode_traces(tracer._end_invocation()))
    assert len(body) == 1 and len(body[0]) == 1
    span = body[0][0]
    assert span["trace_id"] == 111 and span["parent_id"] == 222
    assert span["name"] == "op" and span["service"] == "my-fn"
    assert span["meta"]["_dd.p.tid"] == "6756f7b500000000"
    assert span["meta"]["_dd.origin"] == "lambda"
    assert isinstance(span["start"], int) and span["duration"] >= 0


def test_outside_an_invocation_a_root_span_is_shipped_when_it_finishes(no_extension, capsys):
    with tracer.trace("script.step"):
        with tracer.trace("child"):
            pass
    out = capsys.readouterr().out.strip()
    traces = json.loads(out)["traces"]
    assert sorted(s["name"] for s in traces[0]) == ["child", "script.step"]
