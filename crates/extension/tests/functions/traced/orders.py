"""Two functions for the SQS propagation e2e test: one sends a message with boto3 (to moto), the other
consumes it. The library injects the trace context into the message; the extension extracts it."""

import logging
import os
from typing import Any

import boto3

from lambdascope import lambda_metric, tracer

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def _sqs() -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=os.environ["MOTO_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def produce(event: Any, context: Any) -> dict:
    sqs = _sqs()
    url = sqs.create_queue(QueueName=event["queue"])["QueueUrl"]
    with tracer.trace("orders.publish", resource=event["queue"]):
        sqs.send_message(QueueUrl=url, MessageBody='{"order": 1}')
    lambda_metric("orders.published", 1, tags=["queue:" + event["queue"]])
    logger.info("published an order")
    return {"queue_url": url}


def consume(event: Any, context: Any) -> dict:
    with tracer.trace("orders.consume"):
        logger.info("consumed %d messages", len(event["Records"]))
    return {"batchItemFailures": []}
