"""Demo function on a schedule: builds a report; a slow run hits the timeout."""

import logging
import time

from lambdascope import tracer

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event, context):
    detail = event.get("detail") or {}
    with tracer.trace("report.build", resource="daily sales"):
        time.sleep(5.0 if detail.get("slow") else 0.15)
    logger.info("report built in %s", event.get("time"))
    return {"rows": 42}
