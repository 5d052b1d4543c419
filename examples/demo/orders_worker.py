"""Demo function fed by SQS: brews each order of the batch."""

import json
import logging
import random
import time

from lambdascope import lambda_metric, tracer

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event, context):
    for record in event.get("Records", []):
        order = json.loads(record.get("body") or "{}")
        with tracer.trace("orders.brew", resource=order.get("product", "?")):
            if order.get("poison"):
                raise ValueError(f"cannot brew order {order.get('id')}: machine jammed")
            time.sleep(random.uniform(0.01, 0.05))
        lambda_metric(
            "coffee_house.brewed", 1, tags=[f"product:{order.get('product')}"]
        )
        logger.info("brewed order %s", order.get("id"))
    return {"batchItemFailures": []}
