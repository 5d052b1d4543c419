//! What a function is (its configuration) and what one invoke asks for and returns.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use lambdascope_wire::telemetry::{ReportMetrics, Status};

use crate::{environment, python, SandboxError};

/// How the sandbox separates the function from the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// Linux mount + network namespaces when possible (root), else host with a warning.
    #[default]
    Auto,
    /// Mount and network namespaces: `/var/task`, `/opt`, `/tmp`, a private loopback. Fails without privileges.
    Namespaces,
    /// Host paths and ports; `host.lambdascope.internal` is rewritten to `127.0.0.1` in env values.
    Host,
}

impl Isolation {
    /// Parses `auto`, `namespaces` (or `ns`) and `host`.
    pub fn parse(text: &str) -> Option<Isolation> {
        match text.to_ascii_lowercase().as_str() {
            "auto" => Some(Isolation::Auto),
            "namespaces" | "ns" | "namespace" => Some(Isolation::Namespaces),
            "host" => Some(Isolation::Host),
            _ => None,
        }
    }

    /// `LAMBDASCOPE_ISOLATION` from the environment, `Auto` when unset.
    pub fn from_env() -> Isolation {
        std::env::var("LAMBDASCOPE_ISOLATION")
            .ok()
            .and_then(|v| Isolation::parse(&v))
            .unwrap_or_default()
    }
}

/// One function: code, handler, runtime and the settings Lambda exposes.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    pub name: String,
    /// Directory holding the code (mounted at `/var/task`).
    pub code_dir: PathBuf,
    /// `module.function`, e.g. `handler.lambda_handler`.
    pub handler: String,
    /// `python3.X`, or `provided.al2023` / `provided.al2` (runs `bootstrap` from the code directory).
    pub runtime: String,
    pub memory_mb: u32,
    pub timeout: Duration,
    /// Customer environment variables.
    pub env: BTreeMap<String, String>,
    /// Layer directories or zips, merged at `/opt` in this order (later ones override).
    pub layers: Vec<PathBuf>,
    pub region: String,
    pub account_id: String,
    /// `x86_64` or `arm64` (informational: it only appears in the ARN-less metadata).
    pub architecture: String,
    pub isolation: Isolation,
    /// Ports on the host's loopback reachable as `host.lambdascope.internal:PORT` (in addition to the ports
    /// named in env values).
    pub host_ports: Vec<u16>,
}

impl FunctionConfig {
    /// A function with Lambda's defaults: python3.11, 128 MB, 3 s, us-east-1, `Isolation::from_env()`.
    pub fn new(
        name: impl Into<String>,
        code_dir: impl Into<PathBuf>,
        handler: impl Into<String>,
    ) -> Self {
        FunctionConfig {
            name: name.into(),
            code_dir: code_dir.into(),
            handler: handler.into(),
            runtime: "python3.11".to_string(),
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            env: BTreeMap::new(),
            layers: Vec::new(),
            region: "us-east-1".to_string(),
            account_id: "123456789012".to_string(),
            architecture: "x86_64".to_string(),
            isolation: Isolation::from_env(),
            host_ports: Vec::new(),
        }
    }

    /// Checks everything a user can get wrong before anything is started.
    pub fn validate(&self) -> Result<(), SandboxError> {
        let config = self;
        if !config.code_dir.is_dir() {
            return Err(SandboxError::Config(format!(
                "code directory {} does not exist or is not a directory",
                config.code_dir.display()
            )));
        }
        let custom = python::is_custom_runtime(&config.runtime);
        let handler_ok = custom
            || config
                .handler
                .rsplit_once('.')
                .is_some_and(|(m, f)| !m.is_empty() && !f.is_empty());
        if !handler_ok {
            return Err(SandboxError::Config(format!(
                "handler {:?} must look like MODULE.FUNCTION (e.g. app.handler)",
                config.handler
            )));
        }
        if !custom {
            python::validate_runtime(&config.runtime)?;
        }
        if !(128..=10240).contains(&config.memory_mb) {
            return Err(SandboxError::Config(format!(
                "memory {} MB is outside Lambda's 128..10240 MB",
                config.memory_mb
            )));
        }
        if config.timeout < Duration::from_millis(1) || config.timeout > Duration::from_secs(900) {
            return Err(SandboxError::Config(
                "timeout must be between 1 ms and 900 s".into(),
            ));
        }
        environment::check_customer_env(&config.env)
    }

    /// `arn:aws:lambda:<region>:<account>:function:<name>`.
    pub fn function_arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.name
        )
    }
}

/// One invoke.
#[derive(Debug, Clone, Default)]
pub struct InvokeRequest {
    pub payload: Bytes,
    /// X-Ray header value (`Root=1-...;Parent=...;Sampled=1`); one is generated when absent.
    pub trace_id: Option<String>,
    /// JSON client context (the Invoke API takes it base64-encoded; this is the decoded text).
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
}

impl InvokeRequest {
    pub fn new(payload: impl Into<Bytes>) -> Self {
        InvokeRequest {
            payload: payload.into(),
            ..Default::default()
        }
    }
}

/// What the caller of an invoke sees, plus the platform's report.
#[derive(Debug, Clone)]
pub struct InvokeOutcome {
    pub request_id: String,
    /// The response payload, or the error payload when `function_error` is set.
    pub payload: Bytes,
    /// `Unhandled` when the invoke failed (the Invoke API's `X-Amz-Function-Error`).
    pub function_error: Option<String>,
    /// The error type: the runtime's (`ValueError`, `Runtime.ImportModuleError`) or the platform's
    /// (`Sandbox.Timedout`, `Runtime.ExitError`, `Runtime.OutOfMemory`, `Function.ResponseSizeTooLarge`).
    pub error_type: Option<String>,
    pub status: Status,
    /// The `platform.report` metrics.
    pub metrics: ReportMetrics,
    /// The CloudWatch-style lines of this invoke (START .. REPORT), the last 4 KB.
    pub log_tail: String,
    /// The runtime's time: from handing it the event until it was back on `next` (the
    /// `platform.runtimeDone` duration); the rest of an invoke is the extensions' tail and the
    /// sandbox's own overhead. `None` when the environment was reset.
    pub runtime_ms: Option<f64>,
}
