//! End-to-end harness: a real `lambdascope server` as the intake, the extension binary in a
//! layer, and the lambdascope sandbox running a real Python function under awslambdaric.
#![allow(dead_code)]

pub mod fault_proxy;
pub mod moto;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use lambdascope_extension::http_client::HttpClient;
use lambdascope_sandbox::{FunctionConfig, LogLine, LogSink};
use lambdascope_server::{RunningServer, Server, ServerConfig};
use serde_json::Value;

pub const API_KEY: &str = "e2e-test-key";

pub fn functions_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/functions")
}

/// A layer directory holding the extension binary as `extensions/<name>`.
pub fn extension_layer(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ext = dir.path().join("extensions");
    std::fs::create_dir_all(&ext).unwrap();
    let target = ext.join(name);
    std::fs::copy(env!("CARGO_BIN_EXE_lambdascope-extension"), &target).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Collects the sandbox's CloudWatch-style lines (for failure messages).
#[derive(Clone, Default)]
pub struct Lines(Arc<Mutex<Vec<String>>>);

impl Lines {
    pub fn sink(&self) -> LogSink {
        let store = self.0.clone();
        Arc::new(move |line: &LogLine| store.lock().unwrap().push(line.text.clone()))
    }

    pub fn text(&self) -> String {
        self.0.lock().unwrap().join("\n")
    }
}

pub struct Intake {
    pub server: RunningServer,
    _data: tempfile::TempDir,
    http: HttpClient,
}

impl Intake {
    pub async fn start() -> Intake {
        let data = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::new(data.path());
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.api_keys = vec![API_KEY.to_string()];
        config.open_query_api = true;
        let server = Server::start(config).await.unwrap();
        Intake {
            server,
            _data: data,
            http: HttpClient::default(),
        }
    }

    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    pub async fn get(&self, path_and_query: &str) -> Value {
        let url = format!("http://127.0.0.1:{}{path_and_query}", self.port());
        let r = self
            .http
            .send(
                http::Method::GET,
                &url,
                &[("DD-API-KEY", API_KEY)],
                Bytes::new(),
                Some(Duration::from_secs(10)),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{url}: {}", String::from_utf8_lossy(&r.body));
        serde_json::from_slice(&r.body).unwrap()
    }

    /// Log items of one request.
    pub async fn logs(&self, request_id: &str) -> Vec<Value> {
        let page = self
            .get(&format!("/api/logs?request_id={request_id}&limit=1000"))
            .await;
        page["items"].as_array().cloned().unwrap_or_default()
    }

    /// Points and sketches of one metric over the last hour.
    pub async fn metric(&self, name: &str) -> Value {
        self.get(&format!("/api/metrics?name={name}&limit=10000"))
            .await
    }

    /// Sum of all point values of a series metric.
    pub async fn series_sum(&self, name: &str) -> f64 {
        let m = self.metric(name).await;
        m["points"]
            .as_array()
            .map(|p| p.iter().map(|p| p["value"].as_f64().unwrap_or(0.0)).sum())
            .unwrap_or(0.0)
    }

    /// Sketches of a distribution metric.
    pub async fn sketches(&self, name: &str) -> Vec<Value> {
        self.metric(name).await["sketches"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Total count over every sketch of a distribution.
    pub async fn sketch_count(&self, name: &str) -> u64 {
        self.sketches(name)
            .await
            .iter()
            .map(|s| s["count"].as_u64().unwrap_or(0))
            .sum()
    }

    /// Polls `check` until it holds (the intake stores asynchronously); returns its last value.
    pub async fn eventually<T, F, Fut>(&self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = (bool, T)>,
        T: std::fmt::Debug,
    {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let (ok, value) = check().await;
            if ok {
                return value;
            }
            if Instant::now() > until {
                panic!("{what}: never became true; last value: {value:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A function using the `app.py` fixtures, shipping to `intake_port` on the host.
pub fn function(name: &str, handler: &str, intake_port: u16, layers: &[&Path]) -> FunctionConfig {
    let mut config = FunctionConfig::new(name, functions_dir().join("app"), handler);
    let url = format!("http://host.lambdascope.internal:{intake_port}");
    for (k, v) in [
        ("DD_API_KEY", API_KEY.to_string()),
        ("DD_DD_URL", url.clone()),
        ("DD_LOGS_CONFIG_LOGS_DD_URL", url),
        ("DD_ENV", "e2e".to_string()),
        ("DD_LOG_LEVEL", "debug".to_string()),
    ] {
        config.env.insert(k.to_string(), v);
    }
    config.layers = layers.iter().map(|p| p.to_path_buf()).collect();
    config.timeout = Duration::from_secs(10);
    config
}

/// A unique function name per test (tests share nothing, but names make failures readable).
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", std::process::id())
}

pub fn has_tag(item: &Value, tag: &str) -> bool {
    item["tags"]
        .as_array()
        .is_some_and(|t| t.iter().any(|x| x.as_str() == Some(tag)))
}

/// A layer holding pinned PyPI packages in `python/` (`tests/layers/<requirements>`), installed
/// with pip once per target directory (PyPI is needed the first time). `marker` is a package
/// directory whose presence proves a complete install; concurrent test processes race safely.
pub fn pip_layer(requirements: &str, marker: &str) -> PathBuf {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/layers")
        .join(requirements);
    let stem = requirements.trim_end_matches(".txt");
    let layer = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("layer-{stem}"));
    if layer.join("python").join(marker).is_dir() {
        return layer;
    }
    let staging = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("layer-{stem}-staging-{}", std::process::id()));
    let status = std::process::Command::new(moto::test_python())
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(staging.join("python"))
        .arg("-r")
        .arg(&file)
        .status()
        .expect("run pip (scripts/setup makes the test venv)");
    assert!(
        status.success(),
        "pip install -r {requirements} failed (network to PyPI needed once)"
    );
    // Another test process may have won the race; either copy is complete.
    if std::fs::rename(&staging, &layer).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    layer
}

/// The lambdascope Python library (`python/src/lambdascope`) as a layer's `python/lambdascope`.
pub fn library_layer() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/src/lambdascope");
    let dst = dir.path().join("python/lambdascope");
    std::fs::create_dir_all(&dst).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "py" || e == "typed") {
            std::fs::copy(&path, dst.join(path.file_name().unwrap())).unwrap();
        }
    }
    dir
}
