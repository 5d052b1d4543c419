//! `lambdascope invoke`: one sandbox, init, N invokes, shutdown. Responses go to stdout; the
//! function's log lines and the platform's START/END/REPORT lines go to stderr, as CloudWatch shows them.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use lambdascope_sandbox::{InvokeRequest, LogLine, Sandbox, Status};

use crate::local::config::{build_config, parse_env_pair, FunctionDef};

#[derive(clap::Args)]
pub struct Args {
    /// Directory with the function's code (mounted at /var/task).
    #[arg(long)]
    code: PathBuf,
    /// MODULE.FUNCTION, e.g. handler.lambda_handler.
    #[arg(long)]
    handler: String,
    /// Event JSON file, or `-` for stdin (default `{}`).
    #[arg(long)]
    event: Option<String>,
    /// Layer directory or zip (repeatable; merged at /opt in order).
    #[arg(long = "layer")]
    layers: Vec<PathBuf>,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(long = "env", value_parser = parse_env_pair)]
    env: Vec<(String, String)>,
    /// Memory size in MB (enforced where cgroups allow).
    #[arg(long, default_value_t = 128)]
    memory: u32,
    /// Timeout in seconds.
    #[arg(long, default_value_t = 3.0)]
    timeout: f64,
    /// Number of invokes.
    #[arg(long, default_value_t = 1)]
    count: u32,
    /// python3.X (default python3.11).
    #[arg(long)]
    runtime: Option<String>,
    /// Function name (default: the code directory's name).
    #[arg(long = "function-name")]
    function_name: Option<String>,
    /// auto, namespaces or host (default: $LAMBDASCOPE_ISOLATION or auto).
    #[arg(long)]
    isolation: Option<String>,
    /// Host loopback port reachable from the function as host.lambdascope.internal (repeatable).
    #[arg(long = "host-port")]
    host_ports: Vec<u16>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let payload = read_event(args.event.as_deref())?;
    let name = args.function_name.clone().unwrap_or_else(|| {
        std::fs::canonicalize(&args.code)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "function".to_string())
    });
    let def = FunctionDef {
        name,
        code: args.code.clone(),
        handler: args.handler.clone(),
        runtime: args.runtime.clone(),
        memory: Some(args.memory),
        timeout: Some(args.timeout),
        env: args.env.iter().cloned().collect(),
        layers: args.layers.clone(),
        host_ports: args.host_ports.clone(),
        isolation: None,
    };
    let config = build_config(&def, args.isolation.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let sink = Arc::new(|line: &LogLine| {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{}", line.text);
        });
        let mut sandbox = Sandbox::start_with_log_sink(config, Some(sink)).await?;
        let mut failed = false;
        for _ in 0..args.count.max(1) {
            let outcome = sandbox.invoke(InvokeRequest::new(payload.clone())).await?;
            failed |= outcome.status != Status::Success;
            let mut out = std::io::stdout().lock();
            out.write_all(&outcome.payload)?;
            out.write_all(b"\n")?;
            out.flush()?;
        }
        sandbox.shutdown().await;
        Ok(if failed {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    })
}

fn read_event(event: Option<&str>) -> anyhow::Result<Vec<u8>> {
    let bytes = match event {
        None => return Ok(b"{}".to_vec()),
        Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("cannot read the event from stdin")?;
            buf
        }
        Some(path) => {
            std::fs::read(path).with_context(|| format!("cannot read event file {path}"))?
        }
    };
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(&bytes) {
        anyhow::bail!("event {} is not valid JSON: {e}", event.unwrap_or("-"));
    }
    Ok(bytes)
}
