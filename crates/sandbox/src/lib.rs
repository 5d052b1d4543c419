//! A local AWS Lambda execution environment (see docs/sandbox.md): the Runtime API `2018-06-01`,
//! the Extensions API `2020-01-01` and the Telemetry API `2022-07-01`, the init / invoke / shutdown
//! lifecycle with timeouts and memory limits, and Lambda's filesystem and network layout through Linux
//! namespaces. It runs the real `awslambdaric` and real extensions; no Docker, no AWS.
//!
//! ```no_run
//! # async fn demo() -> Result<(), lambdascope_sandbox::SandboxError> {
//! use lambdascope_sandbox::{FunctionConfig, InvokeRequest, Sandbox};
//! let config = FunctionConfig::new("hello", "examples/hello", "handler.lambda_handler");
//! let mut sandbox = Sandbox::start(config).await?;
//! let outcome = sandbox.invoke(InvokeRequest::new(r#"{"name":"world"}"#)).await?;
//! println!("{}", String::from_utf8_lossy(&outcome.payload));
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

mod api;
mod config;
mod environment;
mod extensions_api;
mod isolation;
mod layers;
mod lifecycle;
mod logs;
mod memory;
mod process;
mod python;
mod runtime_api;
mod sandbox;
mod state;
mod telemetry;

use std::path::PathBuf;

pub use config::{FunctionConfig, InvokeOutcome, InvokeRequest, Isolation};
pub use isolation::HOST_ALIAS;
pub use lambdascope_wire::telemetry::{ReportMetrics, Status};
pub use logs::{LogLine, LogSink, LogSource, LOG_TAIL_BYTES};
pub use python::{cache_dir, AWSLAMBDARIC_VERSION};
pub use runtime_api::MAX_RESPONSE_BYTES;
pub use sandbox::Sandbox;

/// Why a sandbox could not be created or run.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{0}")]
    Config(String),
    #[error("unknown runtime {0:?}: lambdascope runs Python functions (python3.8 .. python3.14)")]
    UnknownRuntime(String),
    #[error("layer {path}: {reason} (a layer is a directory or a zip laid out like python/, extensions/, ...)")]
    BadLayer { path: PathBuf, reason: String },
    #[error("runtime setup: {0}")]
    Runtime(String),
    #[error("isolation: {0}")]
    Isolation(String),
    #[error("could not {what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl SandboxError {
    pub(crate) fn io(what: &'static str, source: std::io::Error) -> Self {
        SandboxError::Io { what, source }
    }
}
