//! What the sandbox adds to a cold start over a bare `awslambdaric` start, and to a warm invoke.
//! Prints figures with their budget ratio; run through `bench/sandbox.sh`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lambdascope_sandbox::{FunctionConfig, InvokeRequest, Isolation, Sandbox};

const COLD_RUNS: usize = 30;
const WARM_RUNS: usize = 1000;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn p90(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() * 9 / 10]
}

fn code_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("trivial.py"),
        "def handler(event, context):\n    return event\n",
    )
    .unwrap();
    dir
}

/// Spawn `python -m awslambdaric` against a bare socket and time it until its first `GET /next`.
fn bare_awslambdaric_start(python: &PathBuf, code: &std::path::Path) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t0 = Instant::now();
    let mut child = Command::new(python)
        .args(["-m", "awslambdaric", "trivial.handler"])
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LANG", "en_US.UTF-8")
        .env("TZ", ":UTC")
        .env("_HANDLER", "trivial.handler")
        .env("AWS_EXECUTION_ENV", "AWS_Lambda_python3.11")
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("PYTHONPATH", code)
        .env("LAMBDA_TASK_ROOT", code)
        .current_dir(code)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (stream, _) = listener.accept().unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let elapsed = t0.elapsed().as_secs_f64() * 1000.0;
    assert!(
        line.starts_with("GET /2018-06-01/runtime/invocation/next"),
        "{line}"
    );
    let _ = reader
        .get_mut()
        .write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
    let _ = child.kill();
    let _ = child.wait();
    elapsed
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let code = code_dir();
    let python = lambdascope_sandbox::cache_dir().join("runtimes/python3.11/bin/python");
    rt.block_on(async {
        // Creates the runtime venv if needed, and warms the page cache and .pyc files.
        let mut first = Sandbox::start(FunctionConfig::new(
            "warmup",
            code.path(),
            "trivial.handler",
        ))
        .await
        .unwrap();
        first.invoke(InvokeRequest::new("{}")).await.unwrap();
        first.shutdown().await;
    });
    // Interleaved, so that load from other processes hits every variant alike.
    let mut bare = Vec::new();
    let mut cold = [Vec::new(), Vec::new()];
    let isolations = [Isolation::Host, Isolation::Namespaces];
    for _ in 0..COLD_RUNS {
        bare.push(bare_awslambdaric_start(&python, code.path()));
        for (i, isolation) in isolations.iter().enumerate() {
            rt.block_on(async {
                let mut config = FunctionConfig::new("bench", code.path(), "trivial.handler");
                config.isolation = *isolation;
                let t0 = Instant::now();
                let sandbox = Sandbox::start(config).await.unwrap();
                cold[i].push(t0.elapsed().as_secs_f64() * 1000.0);
                sandbox.shutdown().await;
            });
        }
    }
    let bare_med = median(bare.clone());
    let bare_min = min(&bare);
    println!(
        "bare awslambdaric start → first /next: median {bare_med:.2} ms, min {bare_min:.2} ms (p90 {:.2} ms, n={COLD_RUNS})",
        p90(bare.clone())
    );
    for (i, isolation) in isolations.into_iter().enumerate() {
        let med = median(cold[i].clone());
        let lowest = min(&cold[i]);
        let added = med - bare_med;
        let added_min = lowest - bare_min;
        println!(
            "{isolation:?}: Sandbox::start (layers, dirs, isolation, APIs, extensions + runtime init) median {med:.2} ms, min {lowest:.2} ms (p90 {:.2}); adds {added:.2} ms (medians) / {added_min:.2} ms (minimums) over bare awslambdaric — {:.0}% / {:.0}% of the 5 ms budget",
            p90(cold[i].clone()),
            added / 5.0 * 100.0,
            added_min / 5.0 * 100.0
        );
        let (overhead, runtime) = rt.block_on(async {
            let mut config = FunctionConfig::new("bench", code.path(), "trivial.handler");
            config.isolation = isolation;
            config.timeout = Duration::from_secs(30);
            let mut sandbox = Sandbox::start(config).await.unwrap();
            let mut overhead = Vec::new();
            let mut runtime = Vec::new();
            for i in 0..WARM_RUNS + 50 {
                let t0 = Instant::now();
                let outcome = sandbox
                    .invoke(InvokeRequest::new(r#"{"x":1}"#))
                    .await
                    .unwrap();
                let total = t0.elapsed().as_secs_f64() * 1000.0;
                if i >= 50 {
                    let rt_ms = outcome.runtime_ms.unwrap();
                    overhead.push(total - rt_ms);
                    runtime.push(rt_ms);
                }
            }
            sandbox.shutdown().await;
            (overhead, runtime)
        });
        let med = median(overhead.clone());
        println!(
            "{isolation:?}: warm invoke, sandbox overhead (invoke in → outcome out, minus the runtime's time until it is back on next) median {med:.3} ms (p90 {:.3}) — {:.0}% of the 1 ms budget; runtime+handler median {:.3} ms (n={WARM_RUNS})",
            p90(overhead),
            med / 1.0 * 100.0,
            median(runtime)
        );
    }
}
