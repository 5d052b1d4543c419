//! lambdascope server: a Datadog-compatible intake, an embedded store and a JSON
//! query API on one port (see `docs/server.md` and `docs/api.md`).
//!
//! ```no_run
//! # async fn run() -> Result<(), lambdascope_server::ServerError> {
//! use lambdascope_server::{Server, ServerConfig};
//! let mut config = ServerConfig::new("/tmp/lambdascope-data");
//! config.listen = "127.0.0.1:0".parse().unwrap();
//! let running = Server::start(config).await?;
//! println!("intake at {} with key {}", running.url(), running.api_key());
//! running.shutdown().await?;
//! # Ok(()) }
//! ```

pub mod api_keys;
pub mod config;
pub mod cost;
mod http;
pub mod ingest;
mod server;
pub mod store;
pub mod ui;

pub use config::ServerConfig;
pub use server::{RunningServer, Server, ServerError};
