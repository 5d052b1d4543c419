//! `lambdascope invoke` end to end: the example function, failures, and bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn lambdascope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lambdascope"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run lambdascope")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_example_runs_and_prints_cloudwatch_lines() {
    let out = lambdascope(&[
        "invoke",
        "--code",
        "examples/hello",
        "--handler",
        "handler.lambda_handler",
        "--event",
        "examples/hello/events/apigw.json",
        "--count",
        "2",
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let responses: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(responses.len(), 2);
    assert_eq!(responses[0]["statusCode"], 200);
    assert!(responses[0]["body"]
        .as_str()
        .unwrap()
        .contains("hello, lambdascope"));
    assert_eq!(stderr.matches("START RequestId:").count(), 2, "{stderr}");
    assert_eq!(stderr.matches("END RequestId:").count(), 2);
    assert_eq!(stderr.matches("REPORT RequestId:").count(), 2);
    assert_eq!(
        stderr.matches("Init Duration:").count(),
        1,
        "only the first invoke is cold"
    );
    assert!(stderr.contains("greeting lambdascope"), "{stderr}");
}

#[test]
fn the_sqs_example_event_works_from_stdin_too() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lambdascope"))
        .args([
            "invoke",
            "--code",
            "examples/hello",
            "--handler",
            "handler.lambda_handler",
            "--event",
            "-",
        ])
        .current_dir(repo())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let event = std::fs::read(repo().join("examples/hello/events/sqs.json")).unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &event).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["greetings"][0], "hello, queue");
}

#[test]
fn a_failing_invoke_exits_non_zero_with_the_error_payload() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.py"),
        "def handler(event, context):\n    raise KeyError('missing')\n",
    )
    .unwrap();
    let code = dir.path().to_str().unwrap();
    let out = lambdascope(&["invoke", "--code", code, "--handler", "app.handler"]);
    assert!(!out.status.success());
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["errorType"], "KeyError");
    assert!(
        text(&out.stderr).contains("Status: error"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn layers_can_be_zips() {
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("code");
    std::fs::create_dir_all(&code).unwrap();
    std::fs::write(
        code.join("app.py"),
        "import greeting\n\ndef handler(event, context):\n    return greeting.TEXT\n",
    )
    .unwrap();
    let layer_dir = dir.path().join("layer");
    std::fs::create_dir_all(layer_dir.join("python")).unwrap();
    std::fs::write(
        layer_dir.join("python/greeting.py"),
        "TEXT = 'from a zip layer'\n",
    )
    .unwrap();
    let zip = dir.path().join("layer.zip");
    let status = Command::new("python3")
        .args(["-m", "zipfile", "-c", zip.to_str().unwrap(), "python"])
        .current_dir(&layer_dir)
        .status()
        .unwrap();
    assert!(status.success());
    let out = lambdascope(&[
        "invoke",
        "--code",
        code.to_str().unwrap(),
        "--handler",
        "app.handler",
        "--layer",
        zip.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "\"from a zip layer\"");
}

#[test]
fn bad_input_gets_one_clear_line() {
    let cases: [(&[&str], &str); 6] = [
        (
            &[
                "invoke",
                "--code",
                "examples/hello",
                "--handler",
                "missing.handler",
            ],
            "handler module \"missing\" not found",
        ),
        (
            &[
                "invoke",
                "--code",
                "examples/hello",
                "--handler",
                "handler.lambda_handler",
                "--event",
                "Cargo.toml",
            ],
            "is not valid JSON",
        ),
        (
            &[
                "invoke",
                "--code",
                "examples/hello",
                "--handler",
                "handler.lambda_handler",
                "--runtime",
                "nodejs20.x",
            ],
            "unknown runtime \"nodejs20.x\"",
        ),
        (
            &[
                "invoke",
                "--code",
                "examples/hello",
                "--handler",
                "handler.lambda_handler",
                "--layer",
                "Cargo.toml",
            ],
            "neither a directory nor a zip",
        ),
        (
            &[
                "invoke",
                "--code",
                "no/such/dir",
                "--handler",
                "handler.lambda_handler",
            ],
            "code directory no/such/dir does not exist",
        ),
        (
            &[
                "invoke",
                "--code",
                "examples/hello",
                "--handler",
                "handler.lambda_handler",
                "--env",
                "AWS_REGION=eu-west-1",
            ],
            "reserved by Lambda",
        ),
    ];
    for (args, expected) in cases {
        let out = lambdascope(args);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    }
}

#[test]
fn runtime_picks_the_interpreter_or_warns() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.py"),
        "import sys\n\ndef handler(event, context):\n    return '%d.%d' % sys.version_info[:2]\n",
    )
    .unwrap();
    let code = dir.path().to_str().unwrap();
    let out = lambdascope(&[
        "invoke",
        "--code",
        code,
        "--handler",
        "app.handler",
        "--runtime",
        "python3.12",
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let version = text(&out.stdout).trim().trim_matches('"').to_string();
    // Either python3.12 is installed and runs it, or python3 runs it and a warning says so.
    assert!(
        version == "3.12" || stderr.contains("warning: python3.12 is not installed"),
        "{version}: {stderr}"
    );
    let out = lambdascope(&[
        "invoke",
        "--code",
        code,
        "--handler",
        "app.handler",
        "--runtime",
        "python3.14",
    ]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("warning: python3.14 is not installed"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
}

#[test]
fn host_isolation_is_announced_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.py"),
        "import os\n\ndef handler(event, context):\n    return os.environ['LAMBDA_TASK_ROOT']\n",
    )
    .unwrap();
    let code = dir.path().to_str().unwrap();
    let by_flag = lambdascope(&[
        "invoke",
        "--code",
        code,
        "--handler",
        "app.handler",
        "--isolation",
        "host",
    ]);
    let by_env = Command::new(env!("CARGO_BIN_EXE_lambdascope"))
        .args(["invoke", "--code", code, "--handler", "app.handler"])
        .env("LAMBDASCOPE_ISOLATION", "host")
        .output()
        .unwrap();
    for out in [by_flag, by_env] {
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let warnings = stderr
            .lines()
            .filter(|l| l.contains("warning: running without namespaces"))
            .count();
        assert_eq!(warnings, 1, "{stderr}");
        assert_ne!(text(&out.stdout).trim(), "\"/var/task\"");
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc_geteuid() } == 0 {
        let out = lambdascope(&[
            "invoke",
            "--code",
            code,
            "--handler",
            "app.handler",
            "--isolation",
            "namespaces",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), "\"/var/task\"");
    }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}
