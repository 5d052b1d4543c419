//! `lambdascope server`: the self-hosted intake, store and query API on one port.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use lambdascope_server::{Server, ServerConfig};

#[derive(clap::Args)]
pub struct Args {
    /// Address for the intake, the query API and the UI (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Data directory (default: $XDG_DATA_HOME/lambdascope or ~/.local/share/lambdascope).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// An accepted API key; repeat for more. Also read from LAMBDASCOPE_API_KEYS (comma-separated).
    /// Without any, a key is generated on first run and printed once.
    #[arg(long = "api-key", value_name = "KEY")]
    api_keys: Vec<String>,
    /// Delete data older than this (e.g. 7d, 36h).
    #[arg(long, default_value = "7d", value_parser = humantime::parse_duration)]
    retention: Duration,
    /// Serve the /api/... query endpoints without an API key (the intake always needs one).
    #[arg(long)]
    open_query_api: bool,
    /// Access token for the web UI and the query API. Without one, a loopback listener is
    /// open and any other address gets a generated token, printed once (see docs/ui.md).
    #[arg(long, env = "LAMBDASCOPE_UI_TOKEN", hide_env_values = true)]
    ui_token: Option<String>,
    /// Serve no web UI.
    #[arg(long)]
    no_ui: bool,
}

pub fn run(args: Args) -> anyhow::Result<std::process::ExitCode> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LAMBDASCOPE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let mut config =
        ServerConfig::new(args.data_dir.unwrap_or_else(ServerConfig::default_data_dir));
    config.listen = args.listen;
    config.retention = args.retention;
    config.open_query_api = args.open_query_api;
    config.api_keys = args.api_keys;
    if let Ok(env_keys) = std::env::var("LAMBDASCOPE_API_KEYS") {
        config.api_keys.extend(
            env_keys
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_owned),
        );
    }
    if !args.no_ui {
        let (access, generated) =
            lambdascope_server::ui::UiAccess::for_listen(args.listen, args.ui_token);
        if let Some(token) = generated {
            eprintln!("lambdascope server: UI access token {token} (listening beyond loopback; set --ui-token to choose one)");
        }
        config.ui = Some(access);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let running = Server::start(config).await?;
        println!("lambdascope server listening on {}", running.url());
        let _ = std::io::stdout().flush();
        wait_for_stop_signal().await;
        eprintln!("lambdascope server: shutting down");
        running.shutdown().await?;
        Ok(std::process::ExitCode::SUCCESS)
    })
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
