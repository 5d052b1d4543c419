//! Shared by the CLI tests that need the Lambda control plane: a moto server per test (its own
//! process, loopback, ephemeral port) and helpers to create and read functions with the Rust SDK.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, Environment, FunctionCode, Runtime};

pub const ACCOUNT: &str = "123456789012";
pub const ROLE: &str = "arn:aws:iam::123456789012:role/lambda-role";
pub const REGION: &str = "us-east-1";
pub const API_KEY: &str = "0123456789abcdef0123456789abcdef";

/// The workspace root (two levels above this crate).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The venv's python (`LAMBDASCOPE_TEST_PYTHON`, else `.venv/bin/python` made by scripts/setup).
pub fn python() -> PathBuf {
    let path = std::env::var_os("LAMBDASCOPE_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "{} not found: run scripts/setup (it installs moto[server] into .venv) or set LAMBDASCOPE_TEST_PYTHON",
        path.display()
    );
    path
}

/// A moto server for one test; stopped when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
    pub dir: tempfile::TempDir,
}

impl Moto {
    pub fn start() -> Moto {
        let dir = tempfile::tempdir().unwrap();
        let launcher =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/instrument_support/moto_launcher.py");
        let mut child = Command::new(python())
            .arg(launcher)
            .env("MOTO_LIST_CALLS_FILE", dir.path().join("list-calls"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting moto");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("moto did not print its port: {line:?}"));
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            dir,
        }
    }

    /// How many ListFunctions pages were served.
    pub fn list_calls(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("list-calls"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    /// The CLI, pointed at this moto with fake credentials and no ambient Datadog/AWS settings.
    pub fn cli(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lambdascope"));
        for (key, _) in std::env::vars() {
            if key.starts_with("AWS_") || key.starts_with("DATADOG_") || key.starts_with("DD_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_CONFIG_FILE", self.dir.path().join("no-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.dir.path().join("no-creds"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        cmd
    }

    /// Runs the CLI with `args` and returns its output.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.cli();
        cmd.args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// Runs the CLI feeding `stdin`.
    pub fn run_with_stdin(&self, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
        let mut cmd = self.cli();
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    pub async fn client(&self) -> aws_sdk_lambda::Client {
        self.client_in(REGION).await
    }

    pub async fn client_in(&self, region: &str) -> aws_sdk_lambda::Client {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_lambda::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .load()
            .await;
        aws_sdk_lambda::Client::new(&config)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small deployment package.
pub fn function_zip() -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        zip.start_file("app.py", zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(b"def handler(event, context):\n    return {'ok': True}\n")
            .unwrap();
        zip.finish().unwrap();
    }
    buf.into_inner()
}

/// How to create a test function.
#[derive(Clone, Debug)]
pub struct NewFunction<'a> {
    pub name: &'a str,
    pub runtime: &'a str,
    pub arm64: bool,
    pub env: Vec<(&'a str, String)>,
    pub layers: Vec<String>,
}

impl<'a> NewFunction<'a> {
    pub fn python(name: &'a str) -> Self {
        NewFunction {
            name,
            runtime: "python3.12",
            arm64: false,
            env: vec![("MY_VAR", "my-value".to_string())],
            layers: vec![],
        }
    }
}

pub async fn create_function(client: &aws_sdk_lambda::Client, f: NewFunction<'_>) {
    let env: std::collections::HashMap<String, String> = f
        .env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    client
        .create_function()
        .function_name(f.name)
        .runtime(Runtime::from(f.runtime))
        .role(ROLE)
        .handler("app.handler")
        .code(
            FunctionCode::builder()
                .zip_file(Blob::new(function_zip()))
                .build(),
        )
        .architectures(if f.arm64 {
            Architecture::Arm64
        } else {
            Architecture::X8664
        })
        .environment(Environment::builder().set_variables(Some(env)).build())
        .set_layers((!f.layers.is_empty()).then_some(f.layers))
        .tags("team", "payments")
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "create {}: {}",
                f.name,
                aws_sdk_lambda::error::DisplayErrorContext(e)
            )
        });
}

/// What a user sees of a function: handler, variables, layers, tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    pub handler: String,
    pub env: BTreeMap<String, String>,
    pub layers: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

pub async fn snapshot(client: &aws_sdk_lambda::Client, name: &str) -> Snapshot {
    let out = client
        .get_function()
        .function_name(name)
        .send()
        .await
        .unwrap();
    let config = out.configuration().unwrap();
    Snapshot {
        handler: config.handler().unwrap_or_default().to_string(),
        env: config
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        layers: config
            .layers()
            .iter()
            .filter_map(|l| l.arn().map(str::to_string))
            .collect(),
        tags: out
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }
}

/// Publishes `count` versions of a layer in moto's account; returns the last ARN.
pub async fn publish_layer(client: &aws_sdk_lambda::Client, name: &str, count: u32) -> String {
    let mut arn = String::new();
    for _ in 0..count {
        let out = client
            .publish_layer_version()
            .layer_name(name)
            .content(
                aws_sdk_lambda::types::LayerVersionContentInput::builder()
                    .zip_file(Blob::new(function_zip()))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        arn = out.layer_version_arn().unwrap().to_string();
    }
    arn
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Builds a tiny static x86_64 ELF to stand in for the extension binary (needs gcc + libc6-dev).
pub fn static_binary(dir: &Path) -> PathBuf {
    let src = dir.join("ext.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\nint main(void){puts(\"ext\");return 0;}\n",
    )
    .unwrap();
    let out = dir.join("ext-static");
    let status = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(&out)
        .arg(&src)
        .status()
        .expect("cc is needed for the layer tests (apt-get install gcc libc6-dev)");
    assert!(status.success(), "cc -static failed");
    out
}

/// A fixture Python package standing in for python/src/lambdascope.
pub fn fixture_package(dir: &Path) -> PathBuf {
    let pkg = dir.join("src/lambdascope");
    std::fs::create_dir_all(pkg.join("tests")).unwrap();
    std::fs::write(pkg.join("__init__.py"), "VERSION = '0.0.0'\n").unwrap();
    std::fs::write(
        pkg.join("handler.py"),
        "import os\n\ndef handler(event, context):\n    return os.environ['DD_LAMBDA_HANDLER']\n",
    )
    .unwrap();
    std::fs::write(
        pkg.join("tests/test_handler.py"),
        "def test_x():\n    pass\n",
    )
    .unwrap();
    pkg
}
