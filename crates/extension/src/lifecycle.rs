//! The extension's life: register, start the listeners, subscribe, then loop on
//! `event/next`, flushing according to the strategy; on SHUTDOWN flush what is left.
//!
//! Principle: never harm the function. Registration is the only step whose failure ends
//! the process (without it there is nothing to serve). After it, any failure of the active
//! loop — an error or a panic — drops into [`idle_loop`], which only calls `event/next`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambdascope_wire::extensions_api::NextEvent;
use lambdascope_wire::telemetry::TelemetryEvent;

use crate::config::Config;
use crate::flush::{self, payloads, FlushAction, FlushScheduler, Flusher};
use crate::http_client::HttpClient;
use crate::intake::Payload;
use crate::invocation::InvocationTracker;
use crate::lambda_api::telemetry_listener::TelemetryListener;
use crate::lambda_api::{ExtensionsClient, LambdaApiError};
use crate::logs::LogsProcessor;
use crate::metrics::{dogstatsd_server, Aggregator, FunctionTags};

/// Time kept free before an invocation deadline (the flush must end before it).
const DEADLINE_MARGIN: Duration = Duration::from_millis(100);
/// Time kept for the end-of-invocation flush when the runtime has not finished by then.
const FLUSH_RESERVE: Duration = Duration::from_millis(1000);
/// Longest wait at SHUTDOWN for the last invocation's report.
const SHUTDOWN_REPORT_WAIT: Duration = Duration::from_millis(300);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Telemetry-derived state: log records and invocations, updated together.
pub struct TelemetryState {
    pub logs: LogsProcessor,
    pub tracker: InvocationTracker,
}

/// Everything that collects data between flushes.
pub struct Collectors {
    pub metrics: Arc<Mutex<Aggregator>>,
    pub telemetry: Mutex<TelemetryState>,
    pub tags: Mutex<FunctionTags>,
    /// Woken after every telemetry batch.
    pub changed: tokio::sync::Notify,
    /// The trace agent (issue #5): tracer spans, lifecycle calls, invocation spans.
    pub traces: Arc<crate::traces::agent::TraceAgent>,
}

impl Collectors {
    pub fn new(config: &Config, process_start: Instant) -> Self {
        Collectors {
            metrics: Arc::new(Mutex::new(Aggregator::new(config.statsd_namespace.clone()))),
            telemetry: Mutex::new(TelemetryState {
                logs: LogsProcessor::new(config.logs_enabled, config.processing_rules.clone()),
                tracker: InvocationTracker::new(
                    config.enhanced_metrics,
                    config.proc_enhanced_metrics,
                    process_start,
                ),
            }),
            tags: Mutex::new(FunctionTags::new(config)),
            changed: tokio::sync::Notify::new(),
            traces: Arc::new(crate::traces::pipeline::agent_from_env(config)),
        }
    }

    /// Moves enhanced points from the tracker into the aggregator.
    fn drain_points(&self, state: &mut TelemetryState) {
        let points = state.tracker.take_points();
        if !points.is_empty() {
            let mut metrics = lock(&self.metrics);
            for p in &points {
                metrics.insert_enhanced(p);
            }
        }
    }

    pub fn on_telemetry(&self, events: Vec<TelemetryEvent>) {
        // No logging here: the extension's own output comes back as telemetry, so a log line
        // per batch would feed itself forever.
        self.traces.on_telemetry(&events);
        {
            let mut state = lock(&self.telemetry);
            let state = &mut *state;
            for event in &events {
                state.logs.on_event(event, &mut state.tracker);
            }
            self.drain_points(state);
            lock(&self.tags).set_runtime(state.tracker.runtime.clone());
        }
        self.changed.notify_waiters();
    }

    pub fn on_invoke(&self, request_id: &str, deadline_ms: u64, arn: &str, xray: Option<&str>) {
        let mut state = lock(&self.telemetry);
        state
            .tracker
            .on_invoke(request_id, deadline_ms, xray, SystemTime::now());
        self.drain_points(&mut state);
        lock(&self.tags).set_invoked_arn(arn);
        self.traces.on_invoke(request_id, deadline_ms, arn, xray);
    }

    pub fn on_shutdown(&self, reason: &str) {
        let mut state = lock(&self.telemetry);
        state.tracker.on_shutdown(reason, SystemTime::now());
        self.drain_points(&mut state);
    }

    /// Everything collected so far, as intake payloads.
    pub fn payloads(&self, config: &Config, final_flush: bool) -> Vec<Payload> {
        let decided = self.traces.decided_trace_ids();
        let logs = {
            let mut state = lock(&self.telemetry);
            self.drain_points(&mut state);
            let state = &mut *state;
            for (request_id, trace_id) in decided {
                state.tracker.set_decided_trace_id(&request_id, trace_id);
            }
            state.logs.take(&state.tracker, final_flush)
        };
        let tags = lock(&self.tags).clone();
        let metrics = lock(&self.metrics).take_payloads(&tags);
        let mut out = payloads::build(config, &tags, metrics, logs);
        out.extend(crate::traces::pipeline::payloads(
            &self.traces,
            config,
            final_flush,
        ));
        out
    }

    fn runtime_done(&self, request_id: &str) -> bool {
        lock(&self.telemetry).tracker.runtime_done(request_id)
    }

    fn reported(&self, request_id: &str) -> bool {
        lock(&self.telemetry).tracker.reported(request_id)
    }
}

/// The running extension after registration.
pub struct ActiveExtension {
    pub config: Arc<Config>,
    pub client: ExtensionsClient,
    pub collectors: Arc<Collectors>,
    pub flusher: Arc<Flusher>,
    scheduler: FlushScheduler,
    last_request: Option<String>,
    /// A request whose end wait ran out, and how long it waited (ms).
    waited_out: Option<(String, f64)>,
    /// Set once the platform proved to deliver `platform.runtimeDone` only after the
    /// extension's `event/next` (some emulators do): waiting for it would hold every invocation
    /// until its deadline, so end flushes become background flushes.
    late_runtime_done: bool,
    /// Fault injection for the fallback test (`LAMBDASCOPE_FAULT_INJECT=panic-on-invoke`).
    panic_on_invoke: bool,
}

fn epoch_deadline(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

impl ActiveExtension {
    /// Starts the listeners and subscribes to telemetry. Failures here degrade features,
    /// they do not stop the extension.
    pub async fn start(
        config: Config,
        client: ExtensionsClient,
        account_id: Option<String>,
        process_start: Instant,
    ) -> ActiveExtension {
        let config = Arc::new(config);
        let collectors = Arc::new(Collectors::new(&config, process_start));
        lock(&collectors.tags).set_account_id(account_id);

        match dogstatsd_server::bind(config.dogstatsd_port).await {
            Ok(socket) => {
                dogstatsd_server::enlarge_receive_buffer(&socket);
                tokio::spawn(dogstatsd_server::serve(socket, collectors.metrics.clone()));
            }
            Err(err) => tracing::warn!(
                %err,
                port = config.dogstatsd_port,
                "DogStatsD is off: cannot bind 127.0.0.1; custom metrics will not be collected"
            ),
        }
        match TelemetryListener::bind(config.telemetry_port).await {
            Ok(listener) => {
                let port = listener.port();
                let sink = collectors.clone();
                tokio::spawn(listener.serve(Arc::new(move |events| sink.on_telemetry(events))));
                let types: &[&str] = if config.logs_enabled {
                    &["platform", "function", "extension"]
                } else {
                    &["platform"]
                };
                if let Err(err) = client.subscribe_telemetry(port, types).await {
                    tracing::warn!(%err, "telemetry subscription failed: no logs and no enhanced metrics from the platform");
                }
            }
            Err(err) => {
                tracing::warn!(%err, "cannot bind the telemetry listener: no logs and no platform metrics")
            }
        }
        let flush_requests = Arc::new(tokio::sync::Notify::new());
        crate::traces::pipeline::start_servers(collectors.traces.clone(), flush_requests.clone())
            .await;
        let http = HttpClient::new(config.proxy.clone());
        let flusher = Arc::new(flush::flusher_from_config(&config, http));
        // `POST /lambda/flush` (a library asking for a flush now) flushes in the background.
        let (c, f, cfg) = (collectors.clone(), flusher.clone(), config.clone());
        tokio::spawn(async move {
            loop {
                flush_requests.notified().await;
                if !f.busy() {
                    let payloads = c.payloads(&cfg, false);
                    f.flush(payloads, Instant::now() + cfg.flush_timeout).await;
                }
            }
        });
        let scheduler = FlushScheduler::new(config.flush_strategy, Instant::now());
        ActiveExtension {
            config,
            client,
            collectors,
            flusher,
            scheduler,
            last_request: None,
            waited_out: None,
            late_runtime_done: false,
            panic_on_invoke: std::env::var("LAMBDASCOPE_FAULT_INJECT")
                .is_ok_and(|v| v == "panic-on-invoke"),
        }
    }

    async fn flush_blocking(&mut self, deadline: Instant, final_flush: bool) {
        let deadline = deadline.min(Instant::now() + self.config.flush_timeout);
        if deadline <= Instant::now() {
            return;
        }
        let payloads = self.collectors.payloads(&self.config, final_flush);
        self.flusher.flush(payloads, deadline).await;
        self.scheduler.flushed(Instant::now());
    }

    fn flush_background(&mut self) {
        if self.flusher.busy() {
            return;
        }
        let payloads = self.collectors.payloads(&self.config, false);
        let flusher = self.flusher.clone();
        let deadline = Instant::now() + self.config.flush_timeout;
        tokio::spawn(async move { flusher.flush(payloads, deadline).await });
        self.scheduler.flushed(Instant::now());
    }

    /// Waits until the runtime finished `request_id` (or the deadline is near), flushing
    /// periodically meanwhile if the strategy says so.
    /// True when runtimeDone arrived, false when `deadline` came first.
    async fn wait_for_runtime_done(&mut self, request_id: &str, deadline: Instant) -> bool {
        let periodic = self.scheduler.during_invocation();
        let mut next_periodic = periodic.map(|p| Instant::now() + p);
        let collectors = self.collectors.clone();
        loop {
            let notified = collectors.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.collectors.runtime_done(request_id) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            let wake = next_periodic.map_or(deadline, |p| p.min(deadline));
            tokio::select! {
                _ = &mut notified => {
                    self.detect_late_runtime_done();
                    if self.late_runtime_done {
                        return false;
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => {
                    if let (Some(at), Some(every)) = (next_periodic, periodic) {
                        if Instant::now() >= at {
                            self.flush_blocking(deadline, false).await;
                            next_periodic = Some(Instant::now() + every);
                        }
                    }
                }
            }
        }
    }

    async fn on_invoke(
        &mut self,
        request_id: String,
        deadline_ms: u64,
        arn: String,
        xray: Option<String>,
    ) {
        let deadline = epoch_deadline(deadline_ms)
            .checked_sub(DEADLINE_MARGIN)
            .unwrap_or_else(Instant::now);
        if self.panic_on_invoke {
            panic!("fault injected by LAMBDASCOPE_FAULT_INJECT=panic-on-invoke");
        }
        self.collectors
            .on_invoke(&request_id, deadline_ms, &arn, xray.as_deref());
        self.last_request = Some(request_id.clone());
        self.detect_late_runtime_done();
        let now = Instant::now();
        match self.scheduler.on_invoke(now) {
            FlushAction::Blocking => self.flush_blocking(deadline, false).await,
            FlushAction::Background => self.flush_background(),
            FlushAction::Skip => {}
        }
        if self.scheduler.at_end(now) == FlushAction::Blocking {
            if self.late_runtime_done {
                self.flush_background();
                return;
            }
            // Stop waiting early enough to flush before the deadline: a function that times
            // out must still get its data out (the environment may be reset right after).
            let started = Instant::now();
            let left = deadline.saturating_duration_since(started);
            let wait_until = deadline - FLUSH_RESERVE.min(left / 2);
            if !self.wait_for_runtime_done(&request_id, wait_until).await && !self.late_runtime_done
            {
                let waited_ms = started.elapsed().as_secs_f64() * 1000.0;
                self.waited_out = Some((request_id.clone(), waited_ms));
            }
            self.flush_blocking(deadline, false).await;
        }
    }

    /// After an end wait ran out: if the runtime had in fact finished long before (its
    /// runtimeDone, now arrived, reports a much shorter duration), the platform delivers
    /// runtimeDone late, and the extension stops waiting for it.
    fn detect_late_runtime_done(&mut self) {
        let Some((id, waited_ms)) = self.waited_out.clone() else {
            return;
        };
        // Until that runtimeDone arrives there is no evidence either way: keep watching.
        let runtime_ms = lock(&self.collectors.telemetry)
            .tracker
            .runtime_duration_ms(&id);
        if let Some(runtime_ms) = runtime_ms {
            self.waited_out = None;
            if runtime_ms < waited_ms / 2.0 && !self.late_runtime_done {
                self.late_runtime_done = true;
                tracing::warn!(
                    runtime_ms,
                    waited_ms,
                    "the platform delivers platform.runtimeDone only after the extension's event/next; flushing in the background from now on so invocations are not held to their deadline"
                );
            }
        }
    }

    async fn on_shutdown(&mut self, deadline_ms: u64, reason: &str) {
        let deadline = epoch_deadline(deadline_ms)
            .checked_sub(DEADLINE_MARGIN)
            .unwrap_or_else(Instant::now);
        self.collectors.on_shutdown(reason);
        // The platform flushes telemetry at shutdown: give the last report a moment to arrive.
        if let Some(id) = self.last_request.clone() {
            let wait_until = (Instant::now() + SHUTDOWN_REPORT_WAIT).min(deadline);
            while !self.collectors.reported(&id) && Instant::now() < wait_until {
                let notified = self.collectors.changed.notified();
                let _ = tokio::time::timeout_at(wait_until.into(), notified).await;
            }
        }
        // A background flush may still be sending: let it finish (its failures join the
        // redrive queue, which the final flush sends).
        let half = Instant::now() + deadline.saturating_duration_since(Instant::now()) / 2;
        if !self.flusher.wait_idle(half).await {
            tracing::warn!(
                "a background flush is still running at shutdown; its payloads may be lost"
            );
        }
        self.flush_blocking(deadline, true).await;
        if let Some(kb) = max_rss_kb() {
            tracing::debug!(max_rss_kb = kb, "lambdascope extension shutting down");
        }
        let pending = self.flusher.redrive_len();
        if pending > 0 {
            tracing::warn!(
                pending,
                "shutting down with payloads the intake did not accept; they are lost"
            );
        }
    }

    /// Loops on `event/next` until SHUTDOWN.
    pub async fn run(mut self) -> Result<(), LambdaApiError> {
        loop {
            match next_with_retry(&self.client).await? {
                NextEvent::Invoke {
                    request_id,
                    deadline_ms,
                    invoked_function_arn,
                    tracing,
                } => {
                    self.on_invoke(
                        request_id,
                        deadline_ms,
                        invoked_function_arn,
                        tracing.map(|t| t.value),
                    )
                    .await
                }
                NextEvent::Shutdown {
                    deadline_ms,
                    shutdown_reason,
                } => {
                    self.on_shutdown(deadline_ms, shutdown_reason.as_str())
                        .await;
                    return Ok(());
                }
            }
        }
    }
}

/// Peak resident memory of this process (`VmHWM`), for the shutdown log and the benchmarks.
pub fn max_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `event/next`, retried a few times on transport errors (the platform may be busy).
async fn next_with_retry(client: &ExtensionsClient) -> Result<NextEvent, LambdaApiError> {
    let mut attempt = 0;
    loop {
        match client.next().await {
            Ok(event) => return Ok(event),
            Err(err) if attempt < 5 => {
                attempt += 1;
                tracing::debug!(%err, attempt, "event/next failed; retrying");
                tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
            }
            Err(err) => return Err(err),
        }
    }
}

/// The fallback: only calls `event/next`, until SHUTDOWN or until the platform is gone.
pub async fn idle_loop(client: &ExtensionsClient) {
    tracing::warn!("continuing without lambdascope instrumentation: only calling event/next");
    loop {
        match next_with_retry(client).await {
            Ok(NextEvent::Shutdown { .. }) => return,
            Ok(NextEvent::Invoke { .. }) => {}
            Err(err) => {
                tracing::error!(%err, "the Extensions API is unreachable; exiting");
                return;
            }
        }
    }
}

/// The whole life of the extension process.
pub async fn run(process_start: Instant) {
    let Ok(runtime_api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        tracing::error!("{}", LambdaApiError::NoRuntimeApi);
        return;
    };
    let name = std::env::args_os()
        .next()
        .and_then(|p| {
            std::path::Path::new(&p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "lambdascope".into());
    let mut attempt = 0;
    let (client, registered) = loop {
        match ExtensionsClient::register(HttpClient::default(), &runtime_api, &name).await {
            Ok(ok) => break ok,
            Err(err) if attempt < 3 => {
                attempt += 1;
                tracing::warn!(%err, attempt, "registration failed; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot register with the Extensions API; the extension stops");
                return;
            }
        }
    };
    let (config, warnings) = Config::from_env();
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    let active =
        ActiveExtension::start(config, client.clone(), registered.account_id, process_start).await;
    tracing::debug!(
        elapsed_ms = process_start.elapsed().as_secs_f64() * 1000.0,
        "lambdascope extension ready"
    );
    match tokio::spawn(active.run()).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            tracing::error!(%err, "the extension loop failed");
            idle_loop(&client).await;
        }
        Err(panic) => {
            tracing::error!(%panic, "the extension loop panicked");
            idle_loop(&client).await;
        }
    }
}
