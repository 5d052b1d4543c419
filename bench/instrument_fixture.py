"""Creates N Python functions and lambdascope's layers in a moto server (bench/instrument.sh)."""

import io
import sys
import zipfile

import boto3


def main() -> None:
    endpoint, count = sys.argv[1], int(sys.argv[2])
    client = boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def handler(event, context):\n    return 1\n")
    code = buf.getvalue()
    for name in ("Lambdascope-Python", "Lambdascope-Extension"):
        client.publish_layer_version(LayerName=name, Content={"ZipFile": code})
    for i in range(count):
        client.create_function(
            FunctionName=f"bench-{i:03d}",
            Runtime="python3.12",
            Role="arn:aws:iam::123456789012:role/lambda-role",
            Handler="app.handler",
            Code={"ZipFile": code},
            Environment={"Variables": {"MY_VAR": "x"}},
        )


if __name__ == "__main__":
    main()
