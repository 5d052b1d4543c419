import datetime
import json
import logging
import time

from lambdascope import lambda_metric


def test_distribution_datagram_with_tags_and_timestamp(extension):
    ts = int(time.time())
    lambda_metric("coffee_house.order_value", 12.45, timestamp=ts, tags=["product:latte", "order:online"])
    assert extension.statsd.receive() == f"coffee_house.order_value:12.45|d|#product:latte,order:online|T{ts}"


def test_integer_values_datetime_timestamps_and_tag_sanitising(extension):
    when = datetime.datetime.now(tz=datetime.timezone.utc)
    lambda_metric("orders", 1234567, timestamp=when, tags=["bad tag!", "ok:1"])
    assert extension.statsd.receive() == f"orders:1234567|d|#bad_tag_,ok:1|T{int(when.timestamp())}"
    lambda_metric("plain", 3)
    assert extension.statsd.receive() == "plain:3|d"


def test_bad_input_warns_and_sends_nothing(extension, caplog):
    caplog.set_level(logging.WARNING, logger="lambdascope")
    lambda_metric("", 1)
    lambda_metric(None, 1)
    lambda_metric("m", "not a number")
    lambda_metric("m", float("nan"))
    lambda_metric("m", 1, tags="a:b")
    lambda_metric("m", 1, timestamp="yesterday")
    lambda_metric("m", 1, timestamp=time.time() - 5 * 3600)
    assert extension.statsd.nothing()
    assert len([r for r in caplog.records if r.name == "lambdascope"]) == 7


def test_without_extension_one_json_line_on_stdout(no_extension, capsys):
    lambda_metric("coffee_house.order_value", 12.45, tags=["product:latte"])
    line = capsys.readouterr().out.strip()
    payload = json.loads(line)
    assert payload["m"] == "coffee_house.order_value"
    assert payload["v"] == 12.45
    assert payload["t"] == ["product:latte"]
    assert abs(payload["e"] - time.time()) < 60
