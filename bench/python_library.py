"""Import time and installed size of the lambdascope Python library against datadog-lambda + ddtrace.

Run: bench/python_library.sh (installs datadog-lambda from PyPI into a cache dir, then runs this).
Prints medians over N fresh interpreters, with warm bytecode (as a layer ships it), and the ratios to
the issue's budgets: lambdascope.handler <= 10 ms and <= 1/15 of datadog_lambda.handler; installed
size <= 200 KB.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile

RUNS = int(os.environ.get("RUNS", "15"))


def import_ms(statement: str, pythonpath: str, env_extra: dict) -> float:
    """Cumulative import time of the last top-level module in ``statement``, from -X importtime."""
    env = dict(os.environ, PYTHONPATH=pythonpath, **env_extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    samples = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import json, logging; {statement}"],
            env=env,
            capture_output=True,
            text=True,
            cwd=env_extra.get("CWD", "/"),
        )
        if out.returncode != 0:
            raise SystemExit(f"{statement} failed:\n{out.stderr[-2000:]}")
        module = statement.split()[-1]
        for line in out.stderr.splitlines():
            m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)$", line)
            if m and m.group(3) == module and m.group(2) == "":
                samples.append(int(m.group(1)) / 1000.0)
    return statistics.median(samples)


def tree_kb(path: str, skip: tuple = ()) -> float:
    total = 0
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d not in skip]
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total / 1024.0


def main() -> None:
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ours = os.path.join(repo, "python", "src")
    theirs = sys.argv[1]
    subprocess.run([sys.executable, "-m", "compileall", "-q", ours, theirs], check=True, capture_output=True)
    with tempfile.TemporaryDirectory() as task:
        with open(os.path.join(task, "app.py"), "w") as f:
            f.write("def handler(event, context):\n    return 1\n")
        env = {"DD_LAMBDA_HANDLER": "app.handler", "AWS_LAMBDA_FUNCTION_NAME": "bench", "CWD": task}
        ours_ms = import_ms("import lambdascope.handler", f"{ours}:{task}", env)
        theirs_ms = import_ms(
            "import datadog_lambda.handler", f"{theirs}:{task}", dict(env, DD_FLUSH_TO_LOG="true")
        )
    ours_kb = tree_kb(os.path.join(ours, "lambdascope"))
    theirs_kb = tree_kb(theirs, skip=("bin",))
    print(f"import lambdascope.handler      median {ours_ms:7.2f} ms   budget 10 ms  ({ours_ms / 10:.2f}x budget)")
    print(f"import datadog_lambda.handler   median {theirs_ms:7.2f} ms   (DD_FLUSH_TO_LOG mode, same machine)")
    print(f"ratio ours/theirs               {ours_ms / theirs_ms:.3f}   budget <= {1 / 15:.3f} (1/15)")
    print(f"installed size lambdascope      {ours_kb:7.1f} KB  budget 200 KB ({ours_kb / 200:.2f}x budget)")
    print(f"installed size datadog-lambda   {theirs_kb:7.1f} KB  (with ddtrace and dependencies, with bytecode)")


if __name__ == "__main__":
    main()
