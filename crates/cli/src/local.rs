//! `lambdascope local serve`: warm sandboxes behind the AWS Lambda Invoke API, so
//! `aws lambda invoke --endpoint-url` and boto3 work against local functions.
//!
//! Like Lambda, each function keeps a pool of environments: an invoke takes an idle one or starts a
//! new (cold) one when all are busy, and gives it back afterwards.

#[path = "local_config.rs"]
pub(crate) mod config;
#[path = "local_invoke_api.rs"]
mod invoke_api;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use config::{build_config, parse_env_pair, read_config_file, FunctionDef};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: LocalCommand,
}

#[derive(clap::Subcommand)]
enum LocalCommand {
    /// Serve functions behind the AWS Lambda Invoke API.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one; default 3001 or the config file's `port`).
    #[arg(long)]
    port: Option<u16>,
    /// TOML file declaring functions (see docs/sandbox.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Name of a function declared by flags.
    #[arg(long, requires_all = ["code", "handler"])]
    name: Option<String>,
    /// Its code directory.
    #[arg(long)]
    code: Option<PathBuf>,
    /// Its MODULE.FUNCTION handler.
    #[arg(long)]
    handler: Option<String>,
    /// python3.X (default python3.11).
    #[arg(long)]
    runtime: Option<String>,
    /// Memory size in MB (default 128).
    #[arg(long)]
    memory: Option<u32>,
    /// Timeout in seconds (default 3).
    #[arg(long)]
    timeout: Option<f64>,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(long = "env", value_parser = parse_env_pair)]
    env: Vec<(String, String)>,
    /// Layer directory or zip (repeatable; merged at /opt in order).
    #[arg(long = "layer")]
    layers: Vec<PathBuf>,
    /// Host loopback port reachable as host.lambdascope.internal (repeatable).
    #[arg(long = "host-port")]
    host_ports: Vec<u16>,
    /// auto, namespaces or host.
    #[arg(long)]
    isolation: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        LocalCommand::Serve(serve) => run_serve(serve),
    }
}

fn run_serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut defs: Vec<FunctionDef> = Vec::new();
    let mut port = args.port;
    if let Some(path) = &args.config {
        let file = read_config_file(path)?;
        port = port.or(file.port);
        defs.extend(file.functions);
    }
    if let (Some(name), Some(code), Some(handler)) = (&args.name, &args.code, &args.handler) {
        defs.push(FunctionDef {
            name: name.clone(),
            code: code.clone(),
            handler: handler.clone(),
            runtime: args.runtime.clone(),
            memory: args.memory,
            timeout: args.timeout,
            env: args.env.iter().cloned().collect(),
            layers: args.layers.clone(),
            host_ports: args.host_ports.clone(),
            isolation: None,
        });
    }
    if defs.is_empty() {
        anyhow::bail!(
            "no functions to serve: pass --config FILE or --name N --code DIR --handler H"
        );
    }
    let mut functions = HashMap::new();
    for def in &defs {
        let config = build_config(def, args.isolation.as_deref())?;
        if functions
            .insert(
                def.name.clone(),
                Arc::new(invoke_api::FunctionPool::new(config)),
            )
            .is_some()
        {
            anyhow::bail!("function {:?} is declared twice", def.name);
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port.unwrap_or(3001)));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} (pick another --port)"))?;
        let bound = listener.local_addr()?;
        let names: Vec<&String> = functions.keys().collect();
        eprintln!(
            "lambdascope: Invoke API listening on http://{bound} for {names:?} (aws lambda invoke --endpoint-url http://{bound} --function-name NAME out.json)"
        );
        let api = Arc::new(invoke_api::InvokeApi::new(functions));
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot watch SIGTERM")?;
        tokio::select! {
            _ = invoke_api::serve(listener, api.clone()) => {}
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("lambdascope: shutting down");
        api.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}
