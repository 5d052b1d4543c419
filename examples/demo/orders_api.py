"""Demo function behind API Gateway: validates and stores an order."""

import json
import logging
import random
import time

from lambdascope import lambda_metric, tracer

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event, context):
    order = json.loads(event.get("body") or "{}")
    with tracer.trace("orders.validate", resource="validate order"):
        time.sleep(random.uniform(0.002, 0.01))
        if order.get("product") == "unknown":
            logger.error("unknown product in order %s", order.get("id"))
            return {"statusCode": 500, "body": json.dumps({"error": "unknown product"})}
    with tracer.trace(
        "orders.save", resource="INSERT INTO orders", span_type="sql"
    ) as span:
        span.set_tag("order.id", order.get("id"))
        time.sleep(random.uniform(0.005, 0.03))
    lambda_metric(
        "coffee_house.order_value",
        order.get("price", 4.5),
        tags=[f"product:{order.get('product')}"],
    )
    logger.info("order %s accepted: %s", order.get("id"), order.get("product"))
    return {"statusCode": 201, "body": json.dumps({"id": order.get("id")})}
