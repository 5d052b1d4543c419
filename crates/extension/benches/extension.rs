//! Extension benchmarks (run by `bench/extension.sh`, which builds the release binary first).
//! Prints figures with their budget and the ratio to Datadog's Rust extension as measured
//! outside Lambda (13 ms to ready, 23 MB max RSS, 8.5 MiB binary).
//!
//! `cargo bench -p lambdascope-extension --bench extension -- [startup|post-runtime|dogstatsd|sandbox-rss]`

#[path = "platform_standin.rs"]
mod platform_standin;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lambdascope_extension::metrics::Aggregator;
use platform_standin::{now_text, StandIn};
use serde_json::json;

const DD_READY_MS: f64 = 13.0;
const DD_RSS_MB: f64 = 23.4;

fn extension_bin() -> PathBuf {
    std::env::var_os("LAMBDASCOPE_EXTENSION_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/extension/lambdascope-extension")
        })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(standin: &StandIn, intake_port: u16, dogstatsd_port: u16, strategy: &str) -> Child {
    let url = format!("http://127.0.0.1:{intake_port}");
    Command::new(extension_bin())
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", standin.addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("DD_API_KEY", "bench-key")
        .env("DD_DD_URL", &url)
        .env("DD_LOGS_CONFIG_LOGS_DD_URL", &url)
        .env("DD_APM_DD_URL", &url)
        .env("DD_DOGSTATSD_PORT", dogstatsd_port.to_string())
        .env("DD_SERVERLESS_FLUSH_STRATEGY", strategy)
        .env("DD_LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "run {}: {e} (build it: cargo build --profile extension -p lambdascope-extension)",
                extension_bin().display()
            )
        })
}

fn max_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn print_figure(
    name: &str,
    value: f64,
    unit: &str,
    budget: f64,
    lower_is_better: bool,
    anchor: Option<f64>,
) {
    let ratio = value / budget;
    let ok = if lower_is_better {
        value <= budget
    } else {
        value >= budget
    };
    let anchor = anchor
        .map(|a| format!("   vs Datadog {a} {unit}: x{:.2}", value / a))
        .unwrap_or_default();
    println!(
        "{name:<56} {value:>10.3} {unit:<8} budget {budget} {unit} (ratio {ratio:.2}, {}){anchor}",
        if ok { "within" } else { "OVER" }
    );
}

async fn startup(runs: usize) {
    let mut samples = Vec::new();
    for _ in 0..runs {
        let standin = StandIn::start().await;
        let t0 = Instant::now();
        let mut child = spawn(&standin, 9, free_udp_port(), "end");
        let first = standin.wait_next(1).await;
        samples.push(first.duration_since(t0).as_secs_f64() * 1000.0);
        standin.shutdown();
        let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    }
    let m = median(samples.clone());
    print_figure(
        "start → first event/next (median)",
        m,
        "ms",
        5.0,
        true,
        Some(DD_READY_MS),
    );
    println!(
        "{:<56} {:>10.3} ms",
        "start → first event/next (p90)",
        percentile(samples, 0.9)
    );
}

/// Drives `n` invocations; returns post-runtime durations (ms) and the peak RSS (KiB).
async fn invocations(n: usize, strategy: &str, intake_port: u16) -> (Vec<f64>, Option<u64>) {
    let standin = StandIn::start().await;
    let statsd_port = free_udp_port();
    let mut child = spawn(&standin, intake_port, statsd_port, strategy);
    standin.wait_next(1).await;
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut post = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("req-{i:06}");
        standin.invoke(&id);
        standin
            .telemetry(json!([
                {"time": now_text(), "type": "platform.start", "record": {"requestId": id, "version": "$LATEST"}},
                {"time": now_text(), "type": "function", "record": format!("[INFO]\t{}\t{id}\tprocessing order {i}\n", now_text())},
                {"time": now_text(), "type": "function", "record": {"level": "WARNING", "message": "slow downstream", "requestId": id}},
                {"time": now_text(), "type": "function", "record": "plain print line\n"},
            ]))
            .await;
        let _ = udp.send_to(
            b"bench.orders:1|c|#shop:a\nbench.latency:12.5|d|#shop:a\nbench.temp:21|g",
            ("127.0.0.1", statsd_port),
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
        let t0 = Instant::now();
        standin
            .telemetry(json!([{"time": now_text(), "type": "platform.runtimeDone", "record": {
                "requestId": id, "status": "success", "metrics": {"durationMs": 1.2, "producedBytes": 12}}}]))
            .await;
        let t1 = standin.wait_next(i + 2).await;
        post.push(t1.saturating_duration_since(t0).as_secs_f64() * 1000.0);
        standin
            .telemetry(json!([{"time": now_text(), "type": "platform.report", "record": {
                "requestId": id, "status": "success", "metrics": {"durationMs": 2.5, "billedDurationMs": 3,
                "memorySizeMB": 128, "maxMemoryUsedMB": 40}}}]))
            .await;
    }
    let rss = max_rss_kb(child.id());
    standin.shutdown();
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    (post, rss)
}

fn report_post(what: &str, samples: Vec<f64>, budget: f64) {
    print_figure(
        &format!("post-runtime, {what} (median)"),
        median(samples.clone()),
        "ms",
        budget,
        true,
        None,
    );
    println!(
        "{:<56} {:>10.3} ms",
        format!("post-runtime, {what} (p90)"),
        percentile(samples, 0.9)
    );
}

async fn post_runtime(n: usize) {
    let data = tempfile::tempdir().unwrap();
    let mut config = lambdascope_server::ServerConfig::new(data.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.api_keys = vec!["bench-key".into()];
    let server = lambdascope_server::Server::start(config).await.unwrap();
    let port = server.addr().port();
    let (end, end_rss) = invocations(n, "end", port).await;
    report_post("end flush to lambdascope server", end, 2.0);
    let discard = platform_standin::discard_intake().await;
    let (end, _) = invocations(n, "end", discard).await;
    report_post("end flush to a discarding intake", end, 2.0);
    let (bg, bg_rss) = invocations(n, "continuously,100", port).await;
    report_post("background flush (lambdascope server)", bg, 0.2);
    let rss = end_rss.max(bg_rss).unwrap_or(0) as f64 / 1024.0;
    print_figure(
        &format!("max RSS over {n} invocations (stand-in)"),
        rss,
        "MB",
        10.0,
        true,
        Some(DD_RSS_MB),
    );
    let _ = server.shutdown().await;
}

fn dogstatsd(lines: usize) {
    let mut datagrams = Vec::new();
    let mut made = 0;
    while made < lines {
        let mut d = String::new();
        for j in 0..20 {
            let i = made + j;
            let line = match i % 4 {
                0 => format!("app.requests:1|c|#route:/r{},env:prod", i % 50),
                1 => format!("app.latency:{}|d|#route:/r{}", i % 1000, i % 50),
                2 => format!("app.queue:{}|g|#q:{}", i % 100, i % 10),
                _ => format!("app.users:u{}|s", i % 500),
            };
            d.push_str(&line);
            d.push('\n');
        }
        made += 20;
        datagrams.push(d.into_bytes());
    }
    let mut agg = Aggregator::new(None);
    let t0 = Instant::now();
    for d in &datagrams {
        agg.ingest_datagram(d, 1_700_000_000);
    }
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(agg.stats.malformed, 0);
    print_figure(
        "DogStatsD lines per second, one core",
        made as f64 / secs,
        "lines/s",
        500_000.0,
        false,
        None,
    );
}

/// Peak RSS of the extension in the real sandbox beside a Python function that logs and
/// sends metrics, over `n` invocations (background flushing, see docs/extension.md).
async fn sandbox_rss(n: usize) {
    use lambdascope_sandbox::{FunctionConfig, InvokeRequest, LogLine, Sandbox};
    let data = tempfile::tempdir().unwrap();
    let mut config = lambdascope_server::ServerConfig::new(data.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.api_keys = vec!["bench-key".into()];
    let server = lambdascope_server::Server::start(config).await.unwrap();
    let layer = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(layer.path().join("extensions")).unwrap();
    std::fs::copy(extension_bin(), layer.path().join("extensions/lambdascope")).unwrap();
    let code = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/functions/app");
    let mut function = FunctionConfig::new("bench-rss", code, "app.handler");
    let url = format!("http://host.lambdascope.internal:{}", server.addr().port());
    for (k, v) in [
        ("DD_API_KEY", "bench-key".to_string()),
        ("DD_DD_URL", url.clone()),
        ("DD_LOGS_CONFIG_LOGS_DD_URL", url.clone()),
        ("DD_APM_DD_URL", url),
        ("DD_LOG_LEVEL", "debug".to_string()),
        (
            "DD_SERVERLESS_FLUSH_STRATEGY",
            "continuously,1000".to_string(),
        ),
    ] {
        function.env.insert(k.into(), v);
    }
    function.layers = vec![layer.path().to_path_buf()];
    let peak = std::sync::Arc::new(std::sync::Mutex::new(None::<f64>));
    let p = peak.clone();
    let sink: lambdascope_sandbox::LogSink = std::sync::Arc::new(move |line: &LogLine| {
        if let Some(rest) = line.text.split("max_rss_kb=").nth(1) {
            let kb: f64 = rest
                .split_whitespace()
                .next()
                .unwrap_or("0")
                .parse()
                .unwrap_or(0.0);
            *p.lock().unwrap() = Some(kb / 1024.0);
        }
    });
    let mut sandbox = Sandbox::start_with_log_sink(function, Some(sink))
        .await
        .unwrap();
    let mut durations = Vec::new();
    for _ in 0..n {
        let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
        durations.push(outcome.metrics.duration_ms);
    }
    sandbox.shutdown().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    match *peak.lock().unwrap() {
        Some(mb) => print_figure(
            &format!("max RSS over {n} invocations (sandbox)"),
            mb,
            "MB",
            10.0,
            true,
            Some(DD_RSS_MB),
        ),
        None => println!("max RSS (sandbox): the extension's shutdown line was not seen"),
    }
    println!(
        "{:<56} {:>10.3} ms",
        "sandbox invocation duration (median)",
        median(durations)
    );
    let _ = server.shutdown().await;
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let all = args.is_empty();
    let want = |name: &str| all || args.iter().any(|a| a == name);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("extension binary: {}", extension_bin().display());
    if want("startup") {
        runtime.block_on(startup(30));
    }
    if want("post-runtime") {
        runtime.block_on(post_runtime(1000));
    }
    if want("dogstatsd") {
        dogstatsd(2_000_000);
    }
    if want("sandbox-rss") {
        runtime.block_on(sandbox_rss(1000));
    }
}
