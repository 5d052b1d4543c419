//! Shared pieces of the UI tests (`ui_*.rs`): an HTTP client, a chromium driver and seed data.
#![allow(dead_code)]

pub mod browser;
pub mod http;
pub mod seed;

use lambdascope_server::ui::UiAccess;
use lambdascope_server::{RunningServer, Server, ServerConfig};

pub const KEY: &str = "ui-test-key-0123456789abcdef";

/// A server on an ephemeral loopback port with the UI mounted under `access`.
pub async fn start_server(access: UiAccess) -> (RunningServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = ServerConfig::new(dir.path());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.api_keys = vec![KEY.to_owned()];
    config.ui = Some(access);
    let running = Server::start(config).await.expect("server starts");
    (running, dir)
}
