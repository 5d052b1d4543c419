//! [`Sandbox`]: one execution environment of one function, started, invoked and shut down.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use lambdascope_wire::extensions_api::{EventType, NextEvent, ShutdownReason, Tracing};
use lambdascope_wire::telemetry::{
    epoch_ms, InitPhase, Report, ReportMetrics, RuntimeDone, RuntimeDoneMetrics, Span, Start,
    Status, TelemetryRecord,
};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::config::{FunctionConfig, InvokeOutcome, InvokeRequest, Isolation};
use crate::environment::{self, EnvPaths};
use crate::isolation::{self, Namespaces, NetScope};
use crate::lifecycle::{self, error_payload, ms_between, Ctx, InitResult, Launcher, Processes};
use crate::logs::{LogSink, LogTail};
use crate::memory::to_mb;
use crate::state::{Phase, RuntimeAnswer, Shared};
use crate::telemetry::{span_start, TelemetryHub};
use crate::{layers, python, SandboxError};

/// One Lambda execution environment: the APIs, the runtime and the extensions of one function.
///
/// Invokes are sequential (`&mut self`), as in one Lambda environment; run several sandboxes for
/// concurrency. Dropping a sandbox kills its processes; [`Sandbox::shutdown`] does it gracefully.
pub struct Sandbox {
    config: FunctionConfig,
    ctx: Arc<Ctx>,
    launcher: Launcher,
    procs: Option<Processes>,
    pending_init_ms: Option<f64>,
    background: Vec<JoinHandle<()>>,
    isolation: Isolation,
    runtime_api: String,
    _namespaces: Option<Arc<Namespaces>>,
    _work: tempfile::TempDir,
}

enum End {
    Done,
    RuntimeExit(String),
    ExtensionCrash(String),
    Timeout,
}

impl Sandbox {
    /// Creates the environment and runs its init. A function init error does not fail this: as on
    /// Lambda, the next invoke retries the init and returns its error.
    pub async fn start(config: FunctionConfig) -> Result<Sandbox, SandboxError> {
        Sandbox::start_with_log_sink(config, None).await
    }

    /// Like [`Sandbox::start`], streaming CloudWatch-style lines to `sink`.
    pub async fn start_with_log_sink(
        config: FunctionConfig,
        sink: Option<LogSink>,
    ) -> Result<Sandbox, SandboxError> {
        config.validate()?;
        let custom = python::is_custom_runtime(&config.runtime);
        let py = match python::cached_runtime(&config.runtime) {
            Some(py) => py,
            None if custom => python::custom_runtime(),
            None => {
                let runtime_name = config.runtime.clone();
                tokio::task::spawn_blocking(move || python::ensure_runtime(&runtime_name))
                    .await
                    .map_err(|e| SandboxError::Runtime(e.to_string()))??
            }
        };
        let work = tempfile::Builder::new()
            .prefix("lambdascope-sandbox-")
            .tempdir()
            .map_err(|e| SandboxError::io("create the sandbox directory", e))?;
        let opt = work.path().join("opt");
        if config.layers.is_empty() {
            layers::merge_layers(&[], &opt)?;
        } else {
            let layer_list = config.layers.clone();
            let opt_for_merge = opt.clone();
            tokio::task::spawn_blocking(move || layers::merge_layers(&layer_list, &opt_for_merge))
                .await
                .map_err(|e| SandboxError::Runtime(e.to_string()))??;
        }
        let tmp = work.path().join("tmp");
        std::fs::create_dir_all(&tmp).map_err(|e| SandboxError::io("create /tmp", e))?;
        let code = std::fs::canonicalize(&config.code_dir)
            .map_err(|e| SandboxError::io("read the code directory", e))?;
        let venv = if custom {
            // Nothing of ours at /var/lang: an OS-only runtime brings its own `bootstrap`.
            let lang = work.path().join("lang");
            std::fs::create_dir_all(&lang).map_err(|e| SandboxError::io("create /var/lang", e))?;
            lang
        } else {
            py.bin_dir
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default()
        };
        let (namespaces, isolation) =
            isolation::choose_isolation(&config, &opt, &code, &venv, &tmp, work.path())?;
        let mut py = py;
        if namespaces.is_some() && !custom {
            // Inside, the venv is at /var/lang, as Lambda's Python is: a cache under the host's /tmp
            // would otherwise be hidden by the sandbox's own /tmp.
            py.python = PathBuf::from("/var/lang/bin/python");
            py.bin_dir = PathBuf::from("/var/lang/bin");
        }
        let net = match &namespaces {
            Some(ns) => NetScope::Namespaced(ns.clone()),
            None => NetScope::Host,
        };
        let host_mode = namespaces.is_none();
        let (task_root, opt_path) = if host_mode {
            let link = work.path().join("task");
            std::os::unix::fs::symlink(&code, &link)
                .map_err(|e| SandboxError::io("link the task root", e))?;
            (path_str(&link), opt.clone())
        } else {
            ("/var/task".to_string(), PathBuf::from("/opt"))
        };
        let api_addr: SocketAddr = if host_mode {
            ([127, 0, 0, 1], 0).into()
        } else {
            ([127, 0, 0, 1], 9001).into()
        };
        let prebound = namespaces.as_ref().and_then(|ns| ns.take_api_listener());
        let listener = match prebound {
            Some(std) => std
                .set_nonblocking(true)
                .and_then(|()| tokio::net::TcpListener::from_std(std)),
            None => net.bind(api_addr),
        }
        .map_err(|e| SandboxError::io("bind the Runtime API", e))?;
        let runtime_api = listener
            .local_addr()
            .map(|a| a.to_string())
            .map_err(|e| SandboxError::io("bind the Runtime API", e))?;
        let runtime_env = environment::runtime_env(
            &config,
            &EnvPaths {
                runtime_api: runtime_api.clone(),
                task_root: task_root.clone(),
                opt: path_str(&opt_path),
                python_bin: path_str(&py.bin_dir),
                python_version: py.version.clone(),
                host_mode,
            },
        );
        let json_logs = runtime_env
            .get("AWS_LAMBDA_LOG_FORMAT")
            .is_some_and(|v| v.eq_ignore_ascii_case("json"));
        let extension_env = environment::extension_env(&runtime_env);
        let ctx = Arc::new(Ctx {
            shared: Shared::new(
                config.name.clone(),
                config.handler.clone(),
                config.account_id.clone(),
            ),
            telemetry: TelemetryHub::new(net.clone(), json_logs),
            sink,
            json_logs,
            tail: Mutex::new((None, LogTail::default())),
        });
        let mut background = vec![tokio::spawn(crate::api::serve(listener, ctx.clone()))];
        if !host_mode {
            let mut ports = isolation::host_ports_in(config.env.values().map(String::as_str));
            ports.extend(config.host_ports.iter().copied());
            ports.sort_unstable();
            ports.dedup();
            for port in ports {
                background.push(
                    isolation::forward_host_port(&net, port)
                        .map_err(|e| SandboxError::io("forward a host port", e))?,
                );
            }
        }
        let launcher = Launcher {
            extension_names: layers::extension_executables(&opt),
            config: config.clone(),
            python: py,
            opt_dir: opt_path,
            task_root,
            runtime_env,
            extension_env,
            namespaces: namespaces.clone(),
        };
        let mut sandbox = Sandbox {
            config,
            ctx,
            launcher,
            procs: None,
            pending_init_ms: None,
            background,
            isolation,
            runtime_api,
            _namespaces: namespaces,
            _work: work,
        };
        let (result, procs) =
            lifecycle::run_init(&sandbox.ctx, &sandbox.launcher, InitPhase::Init).await;
        match result {
            InitResult::Ready { duration_ms } => {
                sandbox.procs = Some(procs);
                sandbox.pending_init_ms = Some(duration_ms);
            }
            InitResult::Failed { .. } => {
                lifecycle::shut_down(&sandbox.ctx, procs, ShutdownReason::Failure).await;
            }
        }
        Ok(sandbox)
    }

    /// The isolation in effect (`Namespaces` or `Host`).
    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// `AWS_LAMBDA_RUNTIME_API` as the processes see it.
    pub fn runtime_api(&self) -> &str {
        &self.runtime_api
    }

    /// The function this sandbox runs.
    pub fn config(&self) -> &FunctionConfig {
        &self.config
    }

    /// Whether the next invoke will run an init first (after a timeout, a crash or a failed init).
    pub fn is_cold(&self) -> bool {
        self.procs.is_none()
    }

    /// Runs one invoke; completes when the runtime and every extension are back on `next`.
    pub async fn invoke(&mut self, req: InvokeRequest) -> Result<InvokeOutcome, SandboxError> {
        let mut init_ms = self.pending_init_ms.take();
        if self.procs.is_none() {
            let (result, procs) =
                lifecycle::run_init(&self.ctx, &self.launcher, InitPhase::Invoke).await;
            match result {
                InitResult::Ready { duration_ms } => {
                    self.procs = Some(procs);
                    init_ms = Some(duration_ms);
                }
                InitResult::Failed {
                    error_type,
                    payload,
                    duration_ms,
                } => {
                    lifecycle::shut_down(&self.ctx, procs, ShutdownReason::Failure).await;
                    return Ok(self.failed_init_outcome(error_type, payload, duration_ms));
                }
            }
        }
        Ok(self.run_invoke(req, init_ms).await)
    }

    fn failed_init_outcome(
        &self,
        error_type: String,
        payload: Bytes,
        init_ms: f64,
    ) -> InvokeOutcome {
        let request_id = uuid::Uuid::new_v4().to_string();
        self.ctx.begin_request(&request_id);
        let start = TelemetryRecord::Start(Start {
            request_id: request_id.clone(),
            version: Some("$LATEST".into()),
            tracing: None,
        });
        self.ctx.platform_line(
            format!("START RequestId: {request_id} Version: $LATEST"),
            Some(&start),
        );
        self.ctx.telemetry.emit(start);
        let metrics = ReportMetrics {
            duration_ms: 0.0,
            billed_duration_ms: 0,
            memory_size_mb: u64::from(self.config.memory_mb),
            max_memory_used_mb: 0,
            init_duration_ms: Some(init_ms),
            restore_duration_ms: None,
        };
        self.finish_records(
            &request_id,
            Status::Error,
            Some(error_type.clone()),
            (metrics, 0.0),
            (None, None),
            None,
            0,
            false,
        );
        InvokeOutcome {
            log_tail: self.ctx.end_request(),
            request_id,
            payload,
            function_error: Some("Unhandled".into()),
            error_type: Some(error_type),
            status: Status::Error,
            metrics,
            runtime_ms: None,
        }
    }

    async fn run_invoke(&mut self, req: InvokeRequest, init_ms: Option<f64>) -> InvokeOutcome {
        let request_id = uuid::Uuid::new_v4().to_string();
        let trace_id = req.trace_id.clone().unwrap_or_else(new_trace_id);
        let started_at = SystemTime::now();
        let t0 = Instant::now();
        let deadline = tokio::time::Instant::now() + self.config.timeout;
        let deadline_ms = epoch_ms(started_at + self.config.timeout);
        let arn = self.config.function_arn();
        self.ctx.begin_request(&request_id);
        let tracing = Some(Tracing::xray(trace_id.clone()));
        let start = TelemetryRecord::Start(Start {
            request_id: request_id.clone(),
            version: Some("$LATEST".into()),
            tracing: tracing.clone(),
        });
        self.ctx.platform_line(
            format!("START RequestId: {request_id} Version: $LATEST"),
            Some(&start),
        );
        self.ctx.telemetry.emit(start);
        let (runtime_waiter, base_runtime, bases) = {
            let mut inner = self.ctx.shared.lock();
            inner.phase = Phase::Invoking;
            let rt = &mut inner.runtime;
            rt.current = Some(request_id.clone());
            rt.answer = None;
            rt.answer_started = None;
            rt.answer_done = None;
            let waiter = rt.waiter.take();
            let base_runtime = rt.next_calls;
            let mut bases = HashMap::new();
            for ext in inner
                .extensions
                .iter_mut()
                .filter(|e| e.wants(EventType::Invoke))
            {
                bases.insert(ext.id.clone(), ext.next_calls);
                let event = NextEvent::Invoke {
                    deadline_ms,
                    request_id: request_id.clone(),
                    invoked_function_arn: arn.clone(),
                    tracing: tracing.clone(),
                };
                match ext.waiter.take() {
                    Some(w) => {
                        let _ = w.send(event);
                    }
                    None => ext.pending = Some(event),
                }
            }
            (waiter, base_runtime, bases)
        };
        if let Some(w) = runtime_waiter {
            let _ = w.send(crate::state::Invocation {
                request_id: request_id.clone(),
                deadline_ms,
                function_arn: arn,
                trace_id: Some(trace_id),
                client_context: req.client_context,
                cognito_identity: req.cognito_identity,
                payload: req.payload,
            });
        }
        // Phase 1: until the runtime is back on `next` (or fails, or the deadline passes).
        let first = self
            .ctx
            .shared
            .wait_until(deadline, |inner| {
                if let Some(desc) = &inner.runtime.exited {
                    return Some(End::RuntimeExit(desc.clone()));
                }
                if let Some((pid, desc)) = inner.exited_pids.first() {
                    return Some(End::ExtensionCrash(format!(
                        "extension (pid {pid}) exited: {desc}"
                    )));
                }
                (inner.runtime.next_calls > base_runtime).then_some(End::Done)
            })
            .await
            .unwrap_or(End::Timeout);
        // As on Lambda, `platform.runtimeDone` goes out as soon as the runtime is done, before the
        // extensions' tail: an extension that flushes at the end of an invoke waits for it.
        let runtime_done_sent = matches!(first, End::Done);
        if runtime_done_sent {
            let inner = self.ctx.shared.lock();
            let rt = &inner.runtime;
            let (status, error_type, _) = answer_outcome(rt.answer.as_ref());
            let runtime_ms = rt.last_next.map_or(0.0, |r| ms_between(t0, r));
            let spans = response_spans(started_at, t0, rt.answer_started, rt.answer_done);
            let produced = produced_bytes(rt.answer.as_ref());
            drop(inner);
            self.emit_runtime_done(
                &request_id,
                status,
                error_type,
                runtime_ms,
                spans,
                tracing.clone(),
                produced,
            );
        }
        // Phase 2: until every INVOKE subscriber is back on `next` too.
        let end = match first {
            End::Done => self
                .ctx
                .shared
                .wait_until(deadline, |inner| {
                    if let Some((pid, desc)) = inner.exited_pids.first() {
                        return Some(End::ExtensionCrash(format!(
                            "extension (pid {pid}) exited: {desc}"
                        )));
                    }
                    inner
                        .extensions
                        .iter()
                        .filter(|e| e.wants(EventType::Invoke))
                        .all(|e| e.next_calls > bases.get(&e.id).copied().unwrap_or(0))
                        .then_some(End::Done)
                })
                .await
                .unwrap_or(End::Timeout),
            other => other,
        };
        let now = Instant::now();
        let (answer, answer_started, answer_done, runtime_end, extensions_end) = {
            let mut inner = self.ctx.shared.lock();
            inner.phase = Phase::Ready;
            inner.runtime.current = None;
            let ext_end = inner
                .extensions
                .iter()
                .filter(|e| e.wants(EventType::Invoke))
                .filter_map(|e| e.last_next)
                .max();
            (
                inner.runtime.answer.take(),
                inner.runtime.answer_started,
                inner.runtime.answer_done,
                inner.runtime.last_next,
                ext_end,
            )
        };
        let procs = self
            .procs
            .as_mut()
            .expect("an invoke runs in an initialised environment");
        let peak = procs.sample_peak();
        let oom = procs.cgroup.as_ref().is_some_and(|c| c.oom_killed());
        let timeout_s = self.config.timeout.as_secs_f64();
        let (status, error_type, payload, reset) = match end {
            End::Done => {
                let (status, error_type, payload) = answer_outcome(answer.as_ref());
                (status, error_type, payload, None)
            }
            End::Timeout => {
                let message = format!(
                    "{} {request_id} Task timed out after {timeout_s:.2} seconds",
                    span_start(SystemTime::now())
                );
                self.ctx.platform_line(message, None);
                (
                    Status::Timeout,
                    Some("Sandbox.Timedout".to_string()),
                    error_payload("Sandbox.Timedout", &format!("RequestId: {request_id} Error: Task timed out after {timeout_s:.2} seconds")),
                    Some(ShutdownReason::Timeout),
                )
            }
            // awslambdaric exits when its response is refused with 413.
            End::RuntimeExit(_) if matches!(answer, Some(RuntimeAnswer::TooLarge)) => (
                Status::Error,
                Some("Function.ResponseSizeTooLarge".to_string()),
                error_payload(
                    "Function.ResponseSizeTooLarge",
                    &format!(
                        "Response payload size exceeded maximum allowed payload size ({} bytes).",
                        crate::runtime_api::MAX_RESPONSE_BYTES
                    ),
                ),
                Some(ShutdownReason::Failure),
            ),
            End::RuntimeExit(desc) => {
                let kind = if oom {
                    "Runtime.OutOfMemory"
                } else {
                    "Runtime.ExitError"
                };
                let message =
                    format!("RequestId: {request_id} Error: Runtime exited with error: {desc}");
                self.ctx.platform_line(format!("{message}\n{kind}"), None);
                (
                    Status::Failure,
                    Some(kind.to_string()),
                    error_payload(kind, &message),
                    Some(ShutdownReason::Failure),
                )
            }
            End::ExtensionCrash(detail) => {
                let message = format!("RequestId: {request_id} Error: {detail}");
                self.ctx
                    .platform_line(format!("{message}\nExtension.Crash"), None);
                (
                    Status::Failure,
                    Some("Extension.Crash".to_string()),
                    error_payload("Extension.Crash", &message),
                    Some(ShutdownReason::Failure),
                )
            }
        };
        let end_at = match (&status, runtime_end, extensions_end) {
            (Status::Success | Status::Error, Some(r), e) => e.map_or(r, |e| e.max(r)),
            (Status::Timeout, _, _) => t0 + self.config.timeout,
            _ => now,
        };
        let duration_ms = ms_between(t0, end_at);
        // runtimeDone covers the invoke until the runtime is back on `next` (not the extension tail).
        let runtime_ms = runtime_end
            .filter(|_| reset.is_none())
            .map_or(duration_ms, |r| ms_between(t0, r));
        let metrics = ReportMetrics {
            duration_ms,
            billed_duration_ms: duration_ms.ceil() as u64,
            memory_size_mb: u64::from(self.config.memory_mb),
            max_memory_used_mb: to_mb(peak),
            init_duration_ms: init_ms,
            restore_duration_ms: None,
        };
        let spans = response_spans(started_at, t0, answer_started, answer_done);
        // The extensions' tail after the runtime is back on `next` (`PostRuntimeExtensionsDuration`).
        let extension_overhead = match (runtime_end, extensions_end) {
            (Some(r), Some(e)) if reset.is_none() => Some(vec![Span {
                name: "extensionOverhead".into(),
                start: span_start(started_at + r.saturating_duration_since(t0)),
                duration_ms: ms_between(r, e.max(r)),
            }]),
            _ => None,
        };
        let produced = produced_bytes(answer.as_ref());
        let runtime_status_error = if status == Status::Timeout {
            None
        } else {
            error_type.clone()
        };
        self.finish_records(
            &request_id,
            status,
            runtime_status_error,
            (metrics, runtime_ms),
            (spans, extension_overhead),
            tracing,
            produced,
            runtime_done_sent,
        );
        let log_tail = self.ctx.end_request();
        if let Some(reason) = reset {
            if let Some(procs) = self.procs.take() {
                lifecycle::shut_down(&self.ctx, procs, reason).await;
            }
        }
        InvokeOutcome {
            request_id,
            payload,
            function_error: (status != Status::Success).then(|| "Unhandled".to_string()),
            error_type,
            status,
            metrics,
            log_tail,
            runtime_ms: reset.is_none().then_some(runtime_ms),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn emit_runtime_done(
        &self,
        request_id: &str,
        status: Status,
        error_type: Option<String>,
        runtime_ms: f64,
        spans: Option<Vec<Span>>,
        tracing: Option<Tracing>,
        produced_bytes: u64,
    ) {
        self.ctx
            .telemetry
            .emit(TelemetryRecord::RuntimeDone(RuntimeDone {
                request_id: request_id.to_string(),
                status,
                error_type,
                metrics: Some(RuntimeDoneMetrics {
                    duration_ms: runtime_ms,
                    produced_bytes: Some(produced_bytes),
                }),
                spans,
                tracing,
            }));
    }

    /// Emits what ends an invoke: `platform.runtimeDone` (unless it already went out when the
    /// runtime finished), then `END` and `REPORT`.
    #[allow(clippy::too_many_arguments)]
    fn finish_records(
        &self,
        request_id: &str,
        status: Status,
        error_type: Option<String>,
        (metrics, runtime_ms): (ReportMetrics, f64),
        (spans, report_spans): (Option<Vec<Span>>, Option<Vec<Span>>),
        tracing: Option<Tracing>,
        produced_bytes: u64,
        runtime_done_sent: bool,
    ) {
        if !runtime_done_sent {
            self.emit_runtime_done(
                request_id,
                status,
                error_type.clone(),
                runtime_ms,
                spans,
                tracing.clone(),
                produced_bytes,
            );
        }
        let report = TelemetryRecord::Report(Report {
            request_id: request_id.to_string(),
            status,
            error_type: error_type.clone(),
            metrics,
            spans: report_spans,
            tracing,
        });
        self.ctx
            .platform_line(format!("END RequestId: {request_id}"), None);
        let mut line = format!(
            "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
            metrics.duration_ms, metrics.billed_duration_ms, metrics.memory_size_mb, metrics.max_memory_used_mb
        );
        if let Some(init) = metrics.init_duration_ms {
            line.push_str(&format!("\tInit Duration: {init:.2} ms"));
        }
        if status != Status::Success {
            let s = serde_json::to_value(status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            line.push_str(&format!("\tStatus: {s}"));
            if let Some(e) = &error_type {
                line.push_str(&format!("\tError Type: {e}"));
            }
        }
        self.ctx.platform_line(line, Some(&report));
        self.ctx.telemetry.emit(report);
    }

    /// Shuts the environment down: SIGTERM to the runtime, SHUTDOWN (`spindown`) to the extensions
    /// (2 s budget), SIGKILL for stragglers, then removes its directories and cgroup.
    pub async fn shutdown(mut self) {
        if let Some(procs) = self.procs.take() {
            lifecycle::shut_down(&self.ctx, procs, ShutdownReason::Spindown).await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(procs) = self.procs.take() {
            procs.kill_all();
        }
        for task in &self.background {
            task.abort();
        }
    }
}

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn new_trace_id() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let a = uuid::Uuid::new_v4().simple().to_string();
    let b = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{secs:08x}-{};Parent={};Sampled=0",
        &a[..24],
        &b[..16]
    )
}

/// Status, error type and caller payload from what the runtime answered.
fn answer_outcome(answer: Option<&RuntimeAnswer>) -> (Status, Option<String>, Bytes) {
    match answer {
        Some(RuntimeAnswer::Response(body)) => (Status::Success, None, body.clone()),
        Some(RuntimeAnswer::Error(err)) => {
            let body: Value = serde_json::from_slice(&err.body).unwrap_or(Value::Null);
            let kind = err
                .error_type
                .clone()
                .or_else(|| body["errorType"].as_str().map(str::to_string))
                .unwrap_or_else(|| "Runtime.Unknown".into());
            (Status::Error, Some(kind), err.body.clone())
        }
        Some(RuntimeAnswer::TooLarge) => (
            Status::Error,
            Some("Function.ResponseSizeTooLarge".to_string()),
            error_payload(
                "Function.ResponseSizeTooLarge",
                &format!(
                    "Response payload size exceeded maximum allowed payload size ({} bytes).",
                    crate::runtime_api::MAX_RESPONSE_BYTES
                ),
            ),
        ),
        None => (
            Status::Error,
            Some("Runtime.NoResponse".to_string()),
            error_payload(
                "Runtime.NoResponse",
                "the runtime asked for the next event without answering this one",
            ),
        ),
    }
}

/// `responseLatency` and `responseDuration`, once the runtime has answered.
fn response_spans(
    started_at: SystemTime,
    t0: Instant,
    answer_started: Option<Instant>,
    answer_done: Option<Instant>,
) -> Option<Vec<Span>> {
    answer_started.zip(answer_done).map(|(s, d)| {
        vec![
            Span {
                name: "responseLatency".into(),
                start: span_start(started_at),
                duration_ms: ms_between(t0, s),
            },
            Span {
                name: "responseDuration".into(),
                start: span_start(started_at + s.saturating_duration_since(t0)),
                duration_ms: ms_between(s, d),
            },
        ]
    })
}

fn produced_bytes(answer: Option<&RuntimeAnswer>) -> u64 {
    match answer {
        Some(RuntimeAnswer::Response(b)) => b.len() as u64,
        Some(RuntimeAnswer::Error(e)) => e.body.len() as u64,
        _ => 0,
    }
}
