import logging

from lambdascope import logs, tracer
from lambdascope.tracing import InvocationSpan


def test_records_get_trace_ids_and_the_user_formatter_is_kept(no_extension):
    logs.install()
    records = []

    class Capture(logging.Handler):
        def emit(self, record):
            records.append(self.format(record))

    handler = Capture()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s [t=%(dd.trace_id)s s=%(dd.span_id)s]"))
    log = logging.getLogger("user.app")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    tracer._begin_invocation(InvocationSpan(55, 66, 0, 1, "r"))
    try:
        log.info("outside any user span")
        with tracer.trace("step") as span:
            log.info("inside")
    finally:
        tracer._end_invocation()
        log.removeHandler(handler)
    assert records[0] == "INFO outside any user span [t=55 s=66]"
    assert records[1] == f"INFO inside [t=55 s={span.span_id}]"
