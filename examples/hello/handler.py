"""The example function: greets whoever the event names, for API Gateway, SQS or plain events."""

import json
import logging
from typing import Any

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def lambda_handler(event: dict, context: Any) -> dict:
    """Returns an API Gateway proxy response; for SQS, one greeting per record."""
    if "Records" in event:
        names = [json.loads(r["body"]).get("name", "world") for r in event["Records"]]
        logger.info("processing %d SQS messages", len(names))
        return {"batchItemFailures": [], "greetings": [f"hello, {n}" for n in names]}
    params = event.get("queryStringParameters") or {}
    name = params.get("name") or event.get("name") or "world"
    logger.info("greeting %s (request %s)", name, context.aws_request_id)
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": f"hello, {name}", "requestId": context.aws_request_id}),
    }
