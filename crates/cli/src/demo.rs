//! `lambdascope demo`: the whole product on a laptop in one command.
//!
//! Starts `lambdascope server` on an embedded store, builds a layer from the extension binary
//! and the Python library, and runs the example functions in `examples/demo` in sandboxes with a
//! mix of triggers (API Gateway, SQS, a schedule), some errors, a timeout and cold starts. Then it
//! prints the homepage's URL and keeps serving it until Ctrl-C (or exits with `--exit`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use lambdascope_sandbox::{FunctionConfig, InvokeRequest, Sandbox, Status};
use lambdascope_server::{Server, ServerConfig};
use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct Args {
    /// Where the server (intake, query API and homepage) listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The store's directory (default: a fresh temporary directory, removed on exit).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// How long to send traffic, e.g. `60s`, `2m`.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Exit once the traffic is done instead of serving the homepage until Ctrl-C.
    #[arg(long)]
    exit: bool,
    /// The extension binary (default: `lambdascope-extension` next to this executable).
    #[arg(long)]
    extension_binary: Option<PathBuf>,
    /// The repository checkout holding `examples/demo` and `python/src/lambdascope`
    /// (default: found from the current directory or this executable's location).
    #[arg(long)]
    repo: Option<PathBuf>,
}

/// One demo function and how to make its events.
struct DemoFunction {
    name: &'static str,
    module: &'static str,
    timeout: Duration,
    /// Pause between invocations, so the mix looks like traffic rather than a loop.
    pace: Duration,
    event: fn(u64, &mut Rng) -> Value,
}

const FUNCTIONS: [DemoFunction; 3] = [
    DemoFunction {
        name: "orders-api",
        module: "orders_api",
        timeout: Duration::from_secs(3),
        pace: Duration::from_millis(150),
        event: api_gateway_event,
    },
    DemoFunction {
        name: "orders-worker",
        module: "orders_worker",
        timeout: Duration::from_secs(3),
        pace: Duration::from_millis(400),
        event: sqs_event,
    },
    DemoFunction {
        name: "nightly-report",
        module: "nightly_report",
        timeout: Duration::from_secs(2),
        pace: Duration::from_millis(1500),
        event: scheduled_event,
    },
];

/// A new environment (a cold start) after this many warm invokes.
const RECYCLE_EVERY: u64 = 25;

pub fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    let repo = find_repo(args.repo.as_deref())?;
    let extension = match &args.extension_binary {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(|dir| dir.join("lambdascope-extension"))
            .context("cannot locate this executable's directory")?,
    };
    if !extension.is_file() {
        bail!(
            "extension binary {} not found: build it with `cargo build --release -p lambdascope-extension` \
             or pass --extension-binary",
            extension.display()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(demo(args, repo, extension))
}

async fn demo(
    args: Args,
    repo: PathBuf,
    extension: PathBuf,
) -> anyhow::Result<std::process::ExitCode> {
    let temp_data = tempfile::tempdir()?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| temp_data.path().to_path_buf());
    let api_key = format!("demo{:016x}", seed());
    let mut config = ServerConfig::new(&data_dir);
    config.listen = args.listen;
    config.api_keys = vec![api_key.clone()];
    let (access, token) = lambdascope_server::ui::UiAccess::for_listen(args.listen, None);
    config.ui = Some(access);
    let server = Server::start(config)
        .await
        .with_context(|| format!("cannot start the server on {}", args.listen))?;
    let url = format!("http://{}/", server.addr());
    eprintln!(
        "lambdascope demo: server on {url} (store in {})",
        data_dir.display()
    );
    if let Some(token) = token {
        eprintln!("lambdascope demo: UI access token {token}");
    }

    let layer = build_layer(&repo, &extension)?;
    let intake = format!("http://host.lambdascope.internal:{}", server.addr().port());
    let counters = Arc::new(Counters::default());
    let deadline = Instant::now() + args.duration;
    eprintln!(
        "lambdascope demo: running {} functions for {} (first start installs the Python runtime client)",
        FUNCTIONS.len(),
        humantime::format_duration(args.duration)
    );
    let mut tasks = Vec::new();
    for (index, function) in FUNCTIONS.iter().enumerate() {
        let mut fc = FunctionConfig::new(
            function.name,
            repo.join("examples/demo"),
            "lambdascope.handler.handler",
        );
        fc.timeout = function.timeout;
        fc.layers = vec![layer.path().to_path_buf()];
        for (k, v) in [
            ("DD_LAMBDA_HANDLER", format!("{}.handler", function.module)),
            ("DD_API_KEY", api_key.clone()),
            ("DD_DD_URL", intake.clone()),
            ("DD_APM_DD_URL", intake.clone()),
            ("DD_LOGS_CONFIG_LOGS_DD_URL", intake.clone()),
            ("DD_ENV", "demo".to_string()),
            ("DD_SERVICE", function.name.to_string()),
            ("DD_VERSION", "1.0.0".to_string()),
        ] {
            fc.env.insert(k.to_string(), v);
        }
        let counters = counters.clone();
        tasks.push(tokio::spawn(drive(
            fc,
            function,
            deadline,
            counters,
            seed() ^ index as u64,
        )));
    }
    let progress = tokio::spawn(report_progress(counters.clone(), deadline));
    let mut failures = Vec::new();
    for task in tasks {
        if let Err(err) = task.await? {
            failures.push(format!("{err:#}"));
        }
    }
    progress.abort();
    eprintln!(
        "lambdascope demo: done — {} invocations, {} errors, {} timeouts, {} cold starts",
        counters.invocations.load(Ordering::Relaxed),
        counters.errors.load(Ordering::Relaxed),
        counters.timeouts.load(Ordering::Relaxed),
        counters.cold_starts.load(Ordering::Relaxed),
    );
    for failure in &failures {
        eprintln!("lambdascope demo: {failure}");
    }
    println!("{url}");
    if !args.exit {
        eprintln!("lambdascope demo: open {url} — Ctrl-C stops the server");
        tokio::signal::ctrl_c().await.ok();
    }
    if let Err(err) = server.shutdown().await {
        eprintln!("lambdascope demo: the server did not stop cleanly: {err}");
    }
    Ok(if failures.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}

#[derive(Default)]
struct Counters {
    invocations: AtomicU64,
    errors: AtomicU64,
    timeouts: AtomicU64,
    cold_starts: AtomicU64,
}

/// Invokes one function until the deadline, recycling its environment now and then.
async fn drive(
    config: FunctionConfig,
    function: &'static DemoFunction,
    deadline: Instant,
    counters: Arc<Counters>,
    seed: u64,
) -> anyhow::Result<()> {
    let mut rng = Rng(seed | 1);
    let mut sandbox = Sandbox::start(config.clone())
        .await
        .with_context(|| format!("{}: the sandbox did not start", function.name))?;
    let mut since_start = 0u64;
    let mut sequence = 0u64;
    while Instant::now() < deadline {
        if since_start >= RECYCLE_EVERY {
            sandbox.shutdown().await;
            sandbox = Sandbox::start(config.clone()).await?;
            since_start = 0;
        }
        sequence += 1;
        since_start += 1;
        let event = (function.event)(sequence, &mut rng);
        let outcome = sandbox
            .invoke(InvokeRequest::new(serde_json::to_vec(&event)?))
            .await
            .with_context(|| format!("{}: invoke failed", function.name))?;
        counters.invocations.fetch_add(1, Ordering::Relaxed);
        if outcome.metrics.init_duration_ms.is_some() {
            counters.cold_starts.fetch_add(1, Ordering::Relaxed);
        }
        let http_error = serde_json::from_slice::<Value>(&outcome.payload)
            .ok()
            .and_then(|v| v["statusCode"].as_u64())
            .is_some_and(|code| code >= 500);
        if outcome.function_error.is_some() || http_error {
            counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        if outcome.status == Status::Timeout {
            counters.timeouts.fetch_add(1, Ordering::Relaxed);
            since_start = 0; // a timeout resets the environment: the next invoke is cold anyway
        }
        let jitter = rng.below(function.pace.as_millis() as u64 + 1);
        tokio::time::sleep(function.pace / 2 + Duration::from_millis(jitter)).await;
    }
    sandbox.shutdown().await;
    Ok(())
}

async fn report_progress(counters: Arc<Counters>, deadline: Instant) {
    loop {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let left = deadline.saturating_duration_since(Instant::now()).as_secs();
        eprintln!(
            "lambdascope demo: {} invocations so far ({} errors, {} cold starts), {left} s left",
            counters.invocations.load(Ordering::Relaxed),
            counters.errors.load(Ordering::Relaxed),
            counters.cold_starts.load(Ordering::Relaxed),
        );
    }
}

/// A layer with the extension and the Python library, laid out by `layer build`'s own code. The
/// extension is added as it is: the demo runs it on this machine, so the Amazon Linux glibc check of
/// a published layer does not apply.
fn build_layer(repo: &Path, extension: &Path) -> anyhow::Result<tempfile::TempDir> {
    use crate::layers::build::{python_files, write_tree, LayerFile};
    let layer = tempfile::tempdir()?;
    let mut files = vec![LayerFile {
        path: "extensions/lambdascope".to_string(),
        data: std::fs::read(extension)
            .with_context(|| format!("cannot read the extension {}", extension.display()))?,
        executable: true,
    }];
    files.extend(python_files(
        &repo.join("python/src/lambdascope"),
        "python3",
    )?);
    write_tree(&files, layer.path())?;
    Ok(layer)
}

/// The checkout: `--repo`, else the first ancestor of the current directory or of this
/// executable that holds `examples/demo` and the Python library.
fn find_repo(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let holds = |dir: &Path| {
        dir.join("examples/demo/orders_api.py").is_file()
            && dir.join("python/src/lambdascope/__init__.py").is_file()
    };
    if let Some(dir) = explicit {
        if holds(dir) {
            return Ok(dir.to_path_buf());
        }
        bail!(
            "{} does not hold examples/demo and python/src/lambdascope",
            dir.display()
        );
    }
    let starts = [std::env::current_dir().ok(), std::env::current_exe().ok()];
    for start in starts.into_iter().flatten() {
        if let Some(found) = start.ancestors().find(|dir| holds(dir)) {
            return Ok(found.to_path_buf());
        }
    }
    bail!("cannot find the lambdascope checkout (examples/demo): run from it, or pass --repo DIR")
}

fn seed() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7)
}

/// xorshift64: enough randomness for a traffic mix, with no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const PRODUCTS: [&str; 4] = ["latte", "espresso", "flat-white", "mocha"];

fn iso_now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// API Gateway REST (v1) proxy event; one in ten orders names an unknown product (a 500).
fn api_gateway_event(sequence: u64, rng: &mut Rng) -> Value {
    let product = if rng.below(10) == 0 {
        "unknown"
    } else {
        PRODUCTS[rng.below(4) as usize]
    };
    let body = json!({"id": format!("o-{sequence}"), "product": product, "price": 3.5 + rng.below(30) as f64 / 10.0});
    json!({
        "resource": "/orders",
        "path": "/orders",
        "httpMethod": "POST",
        "headers": {"Host": "demo123.execute-api.us-east-1.amazonaws.com", "User-Agent": "lambdascope-demo", "Content-Type": "application/json"},
        "multiValueHeaders": null,
        "queryStringParameters": null,
        "pathParameters": null,
        "requestContext": {
            "resourceId": "abc1", "resourcePath": "/orders", "httpMethod": "POST",
            "requestTimeEpoch": epoch_ms(), "path": "/prod/orders", "accountId": "123456789012",
            "protocol": "HTTP/1.1", "stage": "prod", "domainName": "demo123.execute-api.us-east-1.amazonaws.com",
            "requestId": format!("demo-api-{sequence}"), "apiId": "demo123",
            "identity": {"sourceIp": "203.0.113.9", "userAgent": "lambdascope-demo"}
        },
        "body": body.to_string(),
        "isBase64Encoded": false
    })
}

/// SQS batch of one to three orders; about one batch in twelve holds a poison message.
fn sqs_event(sequence: u64, rng: &mut Rng) -> Value {
    let poison = rng.below(12) == 0;
    let records: Vec<Value> = (0..1 + rng.below(3))
        .map(|i| {
            let order = json!({"id": format!("o-{sequence}-{i}"), "product": PRODUCTS[rng.below(4) as usize], "poison": poison && i == 0});
            json!({
                "messageId": format!("m-{sequence}-{i}"),
                "receiptHandle": "demo",
                "body": order.to_string(),
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": epoch_ms().to_string(),
                               "SenderId": "AIDADEMO", "ApproximateFirstReceiveTimestamp": epoch_ms().to_string()},
                "messageAttributes": {},
                "md5OfBody": "0",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({"Records": records})
}

/// EventBridge scheduled event; one run in six is slow enough to time out.
fn scheduled_event(sequence: u64, rng: &mut Rng) -> Value {
    json!({
        "version": "0",
        "id": format!("demo-schedule-{sequence}"),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": iso_now(),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/nightly-report"],
        "detail": {"slow": rng.below(6) == 0}
    })
}
