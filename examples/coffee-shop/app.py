"""The custom-span and custom-metric handler of the installation guide, written against lambdascope.

Deploy with the handler redirect (handler `lambdascope.handler.handler`, `DD_LAMBDA_HANDLER=app.lambda_handler`)
or decorate `lambda_handler` with `@lambdascope.wrapper`.
"""

import logging

from lambdascope import lambda_metric, tracer

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def lambda_handler(event, context):
    # add custom tags to the aws.lambda span
    current_span = tracer.current_span()
    if current_span:
        current_span.set_tag("customer.id", "123456")

    # submit a custom span
    with tracer.trace("hello.world"):
        print("Hello, World!")
        logger.info("brewing an order")

    # submit a custom metric
    lambda_metric(
        metric_name="coffee_house.order_value",
        value=12.45,
        tags=["product:latte", "order:online"],
    )

    return {"statusCode": 200, "body": get_message()}


# trace a function
@tracer.wrap()
def get_message():
    return "Hello from serverless!"
