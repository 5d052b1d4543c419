"""The handler redirect runs at import, so each case runs in a fresh interpreter."""

import json
import os
import socket
import subprocess
import sys
import textwrap

SRC = os.path.join(os.path.dirname(__file__), "..", "src")


def run(tmp_path, code, env_extra):
    env = dict(os.environ)
    env.update(
        {"PYTHONPATH": f"{SRC}:{tmp_path}", "AWS_LAMBDA_FUNCTION_NAME": "my-fn", "LAMBDASCOPE_EXTENSION": "0"}
    )
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, cwd=tmp_path
    )


def test_redirect_calls_the_original_handler(tmp_path):
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return {'echo': event}\n")
    nested = tmp_path / "pkg" / "sub"
    nested.mkdir(parents=True)
    (nested / "mod.py").write_text("def main(event, context):\n    return 'nested'\n")
    code = """
        import json
        from lambdascope.handler import handler
        print(json.dumps(handler({'a': 1}, None)))
    """
    out = run(tmp_path, code, {"DD_LAMBDA_HANDLER": "app.handler"})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"echo": {"a": 1}}
    out = run(tmp_path, code, {"DD_LAMBDA_HANDLER": "pkg/sub/mod.main"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == '"nested"'


def test_import_failure_is_reported_once_and_reraised_with_its_message(tmp_path):
    (tmp_path / "broken.py").write_text("raise RuntimeError('init explodes')\n")
    out = run(tmp_path, "import lambdascope.handler", {"DD_LAMBDA_HANDLER": "broken.handler"})
    assert out.returncode != 0
    assert out.stderr.count("RuntimeError: init explodes") == 1
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    metrics = [line for line in lines if "m" in line]
    traces = [line for line in lines if "traces" in line]
    assert [m["m"] for m in metrics] == ["aws.lambda.enhanced.errors"]
    assert metrics[0]["t"] == ["functionname:my-fn"]
    [span] = traces[0]["traces"][0]
    assert span["name"] == "aws.lambda" and span["error"] == 1
    assert span["meta"]["error.message"] == "init explodes"


def test_import_failure_with_the_extension_goes_over_dogstatsd(tmp_path):
    (tmp_path / "broken.py").write_text("import not_a_module\n")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    out = run(
        tmp_path,
        "import lambdascope.handler",
        {
            "DD_LAMBDA_HANDLER": "broken.handler",
            "LAMBDASCOPE_EXTENSION": "1",
            "DD_DOGSTATSD_PORT": str(sock.getsockname()[1]),
            "DD_TRACE_AGENT_PORT": "9",
        },
    )
    assert "No module named 'not_a_module'" in out.stderr
    assert sock.recv(4096).decode() == "aws.lambda.enhanced.errors:1|d|#functionname:my-fn"


def test_missing_or_malformed_setting_says_what_to_do(tmp_path):
    out = run(tmp_path, "import lambdascope.handler", {"DD_LAMBDA_HANDLER": ""})
    assert "DD_LAMBDA_HANDLER is not set" in out.stderr
    out = run(tmp_path, "import lambdascope.handler", {"DD_LAMBDA_HANDLER": "nodot"})
    assert "not of the form module.function" in out.stderr
