//! `lambdascope local serve` driven by boto3 (the real AWS SDK for Python) through the Invoke API.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test Python with boto3: `LAMBDASCOPE_TEST_PYTHON` (set by scripts/test) or `.venv/bin/python`.
fn test_python() -> PathBuf {
    if let Some(p) = std::env::var_os("LAMBDASCOPE_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = repo().join(".venv/bin/python");
    assert!(
        venv.exists(),
        "no test Python: run scripts/setup (or set LAMBDASCOPE_TEST_PYTHON)"
    );
    venv
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM: the server spins its sandboxes down (processes, cgroups, directories).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn serve(config: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lambdascope"))
        .args([
            "local",
            "serve",
            "--port",
            "0",
            "--config",
            config.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut reader = BufReader::new(stderr);
    let mut line = String::new();
    let url = loop {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "server exited");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining the server's log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    Server { child, url }
}

const CLIENT: &str = r#"
import base64, json, sys, threading
import boto3
from botocore.config import Config

url = sys.argv[1]
client = boto3.client("lambda", endpoint_url=url, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test",
                      config=Config(retries={"max_attempts": 1}, read_timeout=60))
out = {}
resp = client.invoke(FunctionName="hello", Payload=json.dumps({"name": "boto3"}), LogType="Tail")
out["ok"] = {"status": resp["StatusCode"], "payload": json.loads(resp["Payload"].read()),
             "version": resp.get("ExecutedVersion"), "error": resp.get("FunctionError"),
             "log": base64.b64decode(resp["LogResult"]).decode()}
resp = client.invoke(FunctionName="broken", Payload=b"{}")
out["err"] = {"status": resp["StatusCode"], "error": resp.get("FunctionError"),
              "payload": json.loads(resp["Payload"].read())}
try:
    client.invoke(FunctionName="nope", Payload=b"{}")
    out["missing"] = "no error"
except client.exceptions.ResourceNotFoundException as exc:
    out["missing"] = exc.response["Error"]["Code"]
results = [None, None]
def slow(i):
    r = client.invoke(FunctionName="slow", Payload=json.dumps({"seconds": 1.5}), LogType="Tail")
    results[i] = base64.b64decode(r["LogResult"]).decode()
threads = [threading.Thread(target=slow, args=(i,)) for i in range(2)]
[t.start() for t in threads]
[t.join() for t in threads]
out["concurrent"] = results
r = client.invoke(FunctionName="slow", Payload=json.dumps({"seconds": 0}), LogType="Tail")
out["after"] = base64.b64decode(r["LogResult"]).decode()
print(json.dumps(out))
"#;

#[test]
fn boto3_invokes_local_functions() {
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("code");
    std::fs::create_dir_all(&code).unwrap();
    std::fs::write(
        code.join("app.py"),
        "import time\n\ndef boom(event, context):\n    raise ValueError('bad thing')\n\n\
def slow(event, context):\n    time.sleep(event['seconds'])\n    return 'slept'\n",
    )
    .unwrap();
    let hello = repo().join("examples/hello");
    let config = dir.path().join("lambdascope.toml");
    std::fs::write(
        &config,
        format!(
            "[[function]]\nname = \"hello\"\ncode = \"{}\"\nhandler = \"handler.lambda_handler\"\n\n\
[[function]]\nname = \"broken\"\ncode = \"code\"\nhandler = \"app.boom\"\n\n\
[[function]]\nname = \"slow\"\ncode = \"code\"\nhandler = \"app.slow\"\ntimeout = 10\n",
            hello.display()
        ),
    )
    .unwrap();
    let server = serve(&config);
    let out = Command::new(test_python())
        .args(["-c", CLIENT, &server.url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ok = &result["ok"];
    assert_eq!(ok["status"], 200);
    assert_eq!(ok["version"], "$LATEST");
    assert!(ok["error"].is_null());
    assert!(ok["payload"]["body"]
        .as_str()
        .unwrap()
        .contains("hello, boto3"));
    let log = ok["log"].as_str().unwrap();
    assert!(
        log.contains("START RequestId:") && log.contains("REPORT RequestId:"),
        "{log}"
    );
    assert!(log.contains("greeting boto3"), "{log}");
    assert_eq!(result["err"]["error"], "Unhandled");
    assert_eq!(result["err"]["payload"]["errorType"], "ValueError");
    assert_eq!(result["err"]["payload"]["errorMessage"], "bad thing");
    assert_eq!(result["missing"], "ResourceNotFoundException");
    // Two concurrent invokes of one function: two environments, both cold.
    for log in result["concurrent"].as_array().unwrap() {
        assert!(log.as_str().unwrap().contains("Init Duration"), "{log}");
    }
    // Then an idle environment is reused: warm.
    let after = result["after"].as_str().unwrap();
    assert!(
        after.contains("REPORT") && !after.contains("Init Duration"),
        "{after}"
    );
}
