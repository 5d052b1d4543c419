//! `lambdascope cfn transform` as a user runs it, and the deployment integrations that call it:
//! `integrations/test.sh` runs the real `serverless package` (plugin) and `cdk synth` (construct)
//! and compares each instrumented function with the CLI's result.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn lambdascope() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lambdascope"))
}

#[test]
fn transforms_a_sam_template_to_stdout_and_a_file() {
    let fixtures = root().join("crates/instrument/tests/fixtures");
    let params: Vec<String> = std::fs::read_to_string(fixtures.join("sam_globals.params"))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .flat_map(|l| ["--param".to_string(), l.to_string()])
        .collect();
    let out = lambdascope()
        .args(["cfn", "transform"])
        .arg(fixtures.join("sam_globals.yaml"))
        .args(&params)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = std::fs::read_to_string(fixtures.join("sam_globals.expected.yaml")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("instrumented 2 function(s): Orders, Billing"),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: Frontend: left alone (runtime nodejs20.x"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.json");
    let out = lambdascope()
        .args(["cfn", "transform"])
        .arg(fixtures.join("cfn_plain.json"))
        .arg("-o")
        .arg(&target)
        .args(
            std::fs::read_to_string(fixtures.join("cfn_plain.params"))
                .unwrap()
                .lines()
                .flat_map(|l| ["-p", l]),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = std::fs::read_to_string(fixtures.join("cfn_plain.expected.json")).unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), expected);
}

#[test]
fn bad_input_exits_1_with_a_clear_message_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("bad.yaml");
    std::fs::write(&template, "Resources:\n  Fn: [unclosed\n").unwrap();
    let target = dir.path().join("out.yaml");
    let out = lambdascope()
        .args(["cfn", "transform"])
        .arg(&template)
        .arg("-o")
        .arg(&target)
        .args(["--param", "layers=datadog", "--param", "apiKey=k"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("lambdascope: the template is not valid YAML: "),
        "{stderr}"
    );
    assert!(!target.exists());

    let out = lambdascope()
        .args(["cfn", "transform", "-", "--param", "sight=datadoghq.eu"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("unknown parameter \"sight\"; known parameters: layers, "),
        "{stderr}"
    );
}

/// Needs node and npm (registry access for `npm ci`), like the rest of `scripts/test`.
#[test]
fn serverless_plugin_and_cdk_construct_match_the_cli() {
    let out = Command::new("bash")
        .arg(root().join("integrations/test.sh"))
        .env("LAMBDASCOPE_BIN", env!("CARGO_BIN_EXE_lambdascope"))
        .output()
        .expect("couldn't run integrations/test.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "integrations/test.sh failed\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("compare: OrdersLambdaFunction in"),
        "{stdout}"
    );
    assert!(stdout.contains("compare: OrdersA9B65338 in"), "{stdout}");
    assert!(stdout.contains("integrations: ok"), "{stdout}");
}
