//! The environment's lifecycle: init (extensions, then the runtime), invokes, and shutdown/reset.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use lambdascope_wire::extensions_api::{EventType, NextEvent, ShutdownReason};
use lambdascope_wire::telemetry::{
    epoch_ms, ExtensionState, InitPhase, InitReport, InitReportMetrics, InitRuntimeDone, InitStart,
    InitType, TelemetryEvent, TelemetryRecord,
};
use serde_json::Value;

use crate::config::FunctionConfig;
use crate::logs::{LogLine, LogSink, LogSource, LogTail};
use crate::memory::{self, MemoryCgroup};
use crate::process::{self, Launch};
use crate::python::PythonRuntime;
use crate::state::{Phase, Shared};
use crate::telemetry::TelemetryHub;

/// Lambda's limit for the init phase (on-demand).
pub(crate) const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Shutdown budget with external extensions registered.
const SHUTDOWN_BUDGET: Duration = Duration::from_millis(2000);
/// How long the runtime gets after SIGTERM before SIGKILL.
const RUNTIME_TERM_GRACE: Duration = Duration::from_millis(300);

/// State shared by the API handlers, the process watchers and the controller.
pub(crate) struct Ctx {
    pub shared: Shared,
    pub telemetry: TelemetryHub,
    pub sink: Option<LogSink>,
    pub json_logs: bool,
    pub tail: Mutex<(Option<String>, LogTail)>,
}

impl Ctx {
    pub fn function_line(&self, line: String) {
        self.telemetry
            .emit(TelemetryRecord::FunctionLog(Value::String(line.clone())));
        self.write(LogSource::Function, line);
    }

    pub fn extension_line(&self, name: &str, line: String) {
        self.telemetry
            .emit(TelemetryRecord::ExtensionLog(Value::String(line.clone())));
        self.write(LogSource::Extension(name.to_string()), line);
    }

    /// A platform line: text, or with `AWS_LAMBDA_LOG_FORMAT=JSON` the record as JSON.
    pub fn platform_line(&self, text: String, record: Option<&TelemetryRecord>) {
        let line = match (self.json_logs, record) {
            (true, Some(r)) => TelemetryEvent::at(SystemTime::now(), r.clone())
                .to_json()
                .to_string(),
            _ => text,
        };
        self.write(LogSource::Platform, line);
    }

    fn write(&self, source: LogSource, text: String) {
        let request_id = {
            let mut tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
            if tail.0.is_some() {
                tail.1.push_line(&text);
            }
            tail.0.clone()
        };
        if let Some(sink) = &self.sink {
            sink(&LogLine {
                source,
                request_id,
                text,
            });
        }
    }

    pub fn begin_request(&self, request_id: &str) {
        let mut tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        tail.0 = Some(request_id.to_string());
        tail.1 = LogTail::default();
    }

    pub fn end_request(&self) -> String {
        let mut tail = self.tail.lock().unwrap_or_else(|p| p.into_inner());
        tail.0 = None;
        tail.1.take()
    }

    /// Called by process watchers.
    fn process_exited(&self, generation: u64, pid: i32, runtime: bool, desc: String) {
        {
            let mut inner = self.shared.lock();
            if inner.generation != generation {
                return;
            }
            if runtime {
                inner.runtime.exited = Some(desc);
            } else {
                inner.exited_pids.push((pid, desc));
            }
        }
        self.shared.bump();
    }
}

/// Processes of the current environment.
pub(crate) struct Processes {
    pub runtime: Option<i32>,
    pub extensions: Vec<(String, i32)>,
    pub cgroup: Option<MemoryCgroup>,
    pub peak_bytes: u64,
}

impl Processes {
    /// Peak memory of the environment: the larger of the cgroup's peak (which misses pages charged
    /// before a process joined it, such as shared libraries already in the page cache) and the sum of
    /// the processes' peak RSS (which counts shared pages once per process).
    pub fn sample_peak(&mut self) -> u64 {
        let mut sessions: Vec<i32> = self.extensions.iter().map(|(_, p)| *p).collect();
        sessions.extend(self.runtime);
        let tree = memory::process_tree_peak_bytes(&sessions);
        let cgroup = self.cgroup.as_ref().map_or(0, |cg| cg.peak_bytes());
        self.peak_bytes = self.peak_bytes.max(tree).max(cgroup);
        self.peak_bytes
    }

    pub fn kill_all(&self) {
        for pid in self
            .runtime
            .iter()
            .chain(self.extensions.iter().map(|(_, p)| p))
        {
            process::signal_group(*pid, libc::SIGKILL);
        }
    }
}

/// Result of an init.
pub(crate) enum InitResult {
    Ready {
        duration_ms: f64,
    },
    Failed {
        error_type: String,
        payload: bytes::Bytes,
        duration_ms: f64,
    },
}

/// Everything the controller needs to (re)start the environment's processes.
pub(crate) struct Launcher {
    pub config: FunctionConfig,
    pub python: PythonRuntime,
    pub opt_dir: PathBuf,
    pub task_root: String,
    pub runtime_env: BTreeMap<String, String>,
    pub extension_env: BTreeMap<String, String>,
    pub namespaces: Option<Arc<crate::isolation::Namespaces>>,
    pub extension_names: Vec<String>,
}

pub(crate) fn ms_between(a: Instant, b: Instant) -> f64 {
    b.saturating_duration_since(a).as_secs_f64() * 1000.0
}

pub(crate) fn error_payload(error_type: &str, message: &str) -> bytes::Bytes {
    bytes::Bytes::from(
        serde_json::to_vec(&serde_json::json!({"errorType": error_type, "errorMessage": message}))
            .unwrap_or_default(),
    )
}

/// Runs an init: extensions, then the runtime, until every process is parked in `next`.
pub(crate) async fn run_init(
    ctx: &Arc<Ctx>,
    launcher: &Launcher,
    phase: InitPhase,
) -> (InitResult, Processes) {
    let t0 = Instant::now();
    let deadline = tokio::time::Instant::now() + INIT_TIMEOUT;
    let generation = {
        let mut inner = ctx.shared.lock();
        inner.generation += 1;
        inner.phase = Phase::Init;
        inner.registration_open = true;
        inner.runtime = Default::default();
        inner.extensions.clear();
        inner.launched = launcher.extension_names.clone();
        inner.exited_pids.clear();
        inner.generation
    };
    ctx.telemetry.open_init_buffer();
    let custom = crate::python::is_custom_runtime(&launcher.config.runtime);
    let runtime_version = if custom {
        let os = launcher.config.runtime.trim_start_matches("provided.");
        format!("provided:{os}.lambdascope")
    } else {
        format!("python:{}.lambdascope", launcher.python.version)
    };
    let start = TelemetryRecord::InitStart(InitStart {
        initialization_type: InitType::OnDemand,
        phase,
        runtime_version: Some(runtime_version.clone()),
        runtime_version_arn: Some(format!(
            "arn:aws:lambda:{}::runtime:lambdascope-{}",
            launcher.config.region, launcher.config.runtime
        )),
        function_name: Some(launcher.config.name.clone()),
        function_version: Some("$LATEST".into()),
        instance_id: None,
        instance_max_memory: Some(u64::from(launcher.config.memory_mb) * 1024 * 1024),
        tracing: None,
    });
    ctx.platform_line(
        format!("INIT_START Runtime Version: {runtime_version}"),
        Some(&start),
    );
    ctx.telemetry.emit(start);
    let mut procs = Processes {
        runtime: None,
        extensions: Vec::new(),
        cgroup: MemoryCgroup::create(launcher.config.memory_mb),
        peak_bytes: 0,
    };
    let procs_file = procs.cgroup.as_ref().map(|c| c.procs_file());
    let failure = 'init: {
        for name in &launcher.extension_names {
            let program = launcher.opt_dir.join("extensions").join(name);
            let (c1, c2, n1) = (ctx.clone(), ctx.clone(), name.clone());
            let pid_cell = Arc::new(Mutex::new(0));
            let pid_for_exit = pid_cell.clone();
            let spawned = process::spawn(
                Launch {
                    program: &program,
                    args: &[],
                    env: &launcher.extension_env,
                    cwd: "/",
                    namespaces: launcher.namespaces.as_deref(),
                    cgroup_procs: procs_file.as_deref(),
                },
                Arc::new(move |line| c1.extension_line(&n1, line)),
                move |desc| {
                    let pid = *pid_for_exit.lock().unwrap_or_else(|p| p.into_inner());
                    c2.process_exited(generation, pid, false, desc)
                },
            );
            match spawned {
                Ok(pid) => {
                    *pid_cell.lock().unwrap_or_else(|p| p.into_inner()) = pid;
                    procs.extensions.push((name.clone(), pid));
                }
                Err(e) => {
                    ctx.platform_line(
                        format!("EXTENSION\tName: {name}\tState: LaunchError\t{e}"),
                        None,
                    );
                    break 'init Some(("Extension.LaunchError".to_string(), e.to_string(), false));
                }
            }
        }
        let registered = ctx
            .shared
            .wait_until(deadline, |inner| {
                if let Some((pid, desc)) = inner.exited_pids.first() {
                    return Some(Err(format!(
                        "extension (pid {pid}) exited during init: {desc}"
                    )));
                }
                let all = inner
                    .launched
                    .iter()
                    .all(|n| inner.extensions.iter().any(|e| &e.name == n));
                all.then_some(Ok(()))
            })
            .await;
        match registered {
            None => {
                break 'init Some((
                    "Extension.Timeout".into(),
                    "extensions did not register within the init timeout".into(),
                    true,
                ))
            }
            Some(Err(e)) => break 'init Some(("Extension.Crash".into(), e, false)),
            Some(Ok(())) => {}
        }
        // An OS-only runtime is the function's own `bootstrap` executable in the task root.
        let (program, args) = if custom {
            (Path::new(&launcher.task_root).join("bootstrap"), Vec::new())
        } else {
            let args = vec![
                "-m".to_string(),
                "awslambdaric".to_string(),
                launcher.config.handler.clone(),
            ];
            (launcher.python.python.clone(), args)
        };
        let (c1, c2) = (ctx.clone(), ctx.clone());
        let runtime_pid = process::spawn(
            Launch {
                program: &program,
                args: &args,
                env: &launcher.runtime_env,
                cwd: &launcher.task_root,
                namespaces: launcher.namespaces.as_deref(),
                cgroup_procs: procs_file.as_deref(),
            },
            Arc::new(move |line| c1.function_line(line)),
            move |desc| c2.process_exited(generation, 0, true, desc),
        );
        match runtime_pid {
            Ok(pid) => procs.runtime = Some(pid),
            Err(e) => break 'init Some(("Runtime.InvalidEntrypoint".into(), e.to_string(), false)),
        }
        let done = ctx
            .shared
            .wait_until(deadline, |inner| {
                if inner.runtime.init_error.is_some() {
                    return Some(Err(()));
                }
                if inner.runtime.exited.is_some() || !inner.exited_pids.is_empty() {
                    return Some(Err(()));
                }
                if inner.extensions.iter().any(|e| e.error.is_some()) {
                    return Some(Err(()));
                }
                let ready = inner.runtime.next_calls >= 1
                    && inner.extensions.iter().all(|e| e.next_calls >= 1);
                ready.then_some(Ok(()))
            })
            .await;
        match done {
            Some(Ok(())) => None,
            None => Some((
                "Sandbox.Timedout".into(),
                format!(
                    "Init timed out after {:.2} seconds",
                    INIT_TIMEOUT.as_secs_f64()
                ),
                true,
            )),
            Some(Err(())) => {
                let inner = ctx.shared.lock();
                if let Some(err) = &inner.runtime.init_error {
                    let body: Value = serde_json::from_slice(&err.body).unwrap_or(Value::Null);
                    let kind = err
                        .error_type
                        .clone()
                        .or_else(|| body["errorType"].as_str().map(str::to_string))
                        .unwrap_or_else(|| "Runtime.Unknown".into());
                    break 'init Some((
                        kind,
                        String::from_utf8_lossy(&err.body).into_owned(),
                        false,
                    ));
                }
                if let Some(e) = inner.extensions.iter().find(|e| e.error.is_some()) {
                    break 'init Some((
                        e.error.clone().unwrap_or_default(),
                        format!("extension {} failed to init", e.name),
                        false,
                    ));
                }
                if let Some(desc) = &inner.runtime.exited {
                    break 'init Some((
                        "Runtime.ExitError".into(),
                        format!("Runtime exited with error: {desc}"),
                        false,
                    ));
                }
                let (pid, desc) = inner.exited_pids.first().cloned().unwrap_or_default();
                Some((
                    "Extension.Crash".into(),
                    format!("extension (pid {pid}) exited during init: {desc}"),
                    false,
                ))
            }
        }
    };
    let duration_ms = ms_between(t0, Instant::now());
    let (status, error_type) = match &failure {
        None => (lambdascope_wire::telemetry::Status::Success, None),
        Some((kind, _, true)) => (
            lambdascope_wire::telemetry::Status::Timeout,
            Some(kind.clone()),
        ),
        Some((kind, _, false)) if kind.starts_with("Runtime.") || !kind.contains('.') => (
            lambdascope_wire::telemetry::Status::Error,
            Some(kind.clone()),
        ),
        Some((kind, _, false)) => (
            lambdascope_wire::telemetry::Status::Failure,
            Some(kind.clone()),
        ),
    };
    if failure.is_none() {
        let extensions: Vec<ExtensionState> = ctx
            .shared
            .lock()
            .extensions
            .iter()
            .map(|e| ExtensionState {
                name: e.name.clone(),
                state: "Ready".into(),
                events: e
                    .events
                    .iter()
                    .map(|ev| match ev {
                        EventType::Invoke => "INVOKE".to_string(),
                        EventType::Shutdown => "SHUTDOWN".to_string(),
                    })
                    .collect(),
                error_type: None,
            })
            .collect();
        for ext in extensions {
            ctx.telemetry.emit(TelemetryRecord::Extension(ext));
        }
    }
    ctx.telemetry
        .emit(TelemetryRecord::InitRuntimeDone(InitRuntimeDone {
            initialization_type: InitType::OnDemand,
            phase,
            status,
            error_type: error_type.clone(),
            spans: None,
            tracing: None,
        }));
    let report = TelemetryRecord::InitReport(InitReport {
        initialization_type: InitType::OnDemand,
        phase,
        status: Some(status),
        error_type: error_type.clone(),
        metrics: InitReportMetrics { duration_ms },
        spans: None,
        tracing: None,
    });
    ctx.telemetry.emit(report.clone());
    {
        let mut inner = ctx.shared.lock();
        inner.registration_open = false;
        inner.phase = Phase::Ready;
    }
    ctx.telemetry.close_init_buffer();
    match failure {
        None => (InitResult::Ready { duration_ms }, procs),
        Some((kind, detail, _)) => {
            let phase_name = match phase {
                InitPhase::Init => "init",
                InitPhase::Invoke => "invoke",
            };
            ctx.platform_line(
                format!(
                    "INIT_REPORT Init Duration: {duration_ms:.2} ms\tPhase: {phase_name}\tStatus: {}\tError Type: {kind}",
                    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
                ),
                Some(&report),
            );
            let payload = if detail.trim_start().starts_with('{') {
                bytes::Bytes::from(detail)
            } else {
                error_payload(&kind, &detail)
            };
            (
                InitResult::Failed {
                    error_type: kind,
                    payload,
                    duration_ms,
                },
                procs,
            )
        }
    }
}

/// Shuts the environment down (spindown, or a reset after a timeout or failure).
pub(crate) async fn shut_down(ctx: &Arc<Ctx>, mut procs: Processes, reason: ShutdownReason) {
    let (has_external, subscribed) = {
        let mut inner = ctx.shared.lock();
        inner.phase = Phase::ShuttingDown;
        let has_external = inner.extensions.iter().any(|e| e.external);
        let subscribed: Vec<String> = inner
            .extensions
            .iter()
            .filter(|e| e.external && e.wants(EventType::Shutdown))
            .map(|e| e.name.clone())
            .collect();
        (has_external, subscribed)
    };
    if let Some(pid) = procs.runtime {
        if has_external {
            process::signal_group(pid, libc::SIGTERM);
            let until = tokio::time::Instant::now() + RUNTIME_TERM_GRACE;
            ctx.shared
                .wait_until(until, |i| i.runtime.exited.as_ref().map(|_| ()))
                .await;
        }
        process::signal_group(pid, libc::SIGKILL);
    }
    let deadline = tokio::time::Instant::now() + SHUTDOWN_BUDGET;
    let deadline_ms = epoch_ms(SystemTime::now() + SHUTDOWN_BUDGET);
    // Deliver what is buffered first: the last invoke's report must reach the extension before SHUTDOWN.
    let _ = tokio::time::timeout(SHUTDOWN_BUDGET / 2, ctx.telemetry.flush()).await;
    {
        let mut inner = ctx.shared.lock();
        for ext in inner
            .extensions
            .iter_mut()
            .filter(|e| subscribed.contains(&e.name))
        {
            let event = NextEvent::Shutdown {
                deadline_ms,
                shutdown_reason: reason,
            };
            match ext.waiter.take() {
                Some(w) => {
                    let _ = w.send(event);
                }
                None => ext.pending = Some(event),
            }
        }
    }
    for (name, pid) in &procs.extensions {
        if !subscribed.contains(name) {
            process::signal_group(*pid, libc::SIGKILL);
        }
    }
    let pids: Vec<i32> = procs.extensions.iter().map(|(_, p)| *p).collect();
    ctx.shared
        .wait_until(deadline, |inner| {
            pids.iter()
                .all(|p| inner.exited_pids.iter().any(|(q, _)| q == p))
                .then_some(())
        })
        .await;
    procs.kill_all();
    let short = tokio::time::Instant::now() + Duration::from_millis(300);
    ctx.shared
        .wait_until(short, |inner| {
            (inner.runtime.exited.is_some() || procs.runtime.is_none()).then_some(())
        })
        .await;
    let _ = tokio::time::timeout(Duration::from_millis(200), ctx.telemetry.flush()).await;
    ctx.telemetry.clear();
    {
        let mut inner = ctx.shared.lock();
        inner.runtime.waiter = None;
        for ext in inner.extensions.iter_mut() {
            ext.waiter = None;
        }
    }
    let cgroup = procs.cgroup.take();
    let _ = tokio::task::spawn_blocking(move || drop(cgroup)).await;
    procs.extensions.clear();
}
