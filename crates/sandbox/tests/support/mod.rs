//! Shared test helpers: fixture functions and a log collector.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use lambdascope_sandbox::{FunctionConfig, LogLine, LogSink};
use serde_json::Value;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// A function from `tests/functions/<dir>` and a collector for its log lines.
pub fn function(dir: &str, handler: &str) -> (FunctionConfig, Lines) {
    let config = FunctionConfig::new(
        format!("test-{dir}"),
        fixtures().join("functions").join(dir),
        handler,
    );
    (config, Lines::default())
}

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

pub fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}
