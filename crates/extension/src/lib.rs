//! The lambdascope Lambda extension.
pub mod config;
pub mod flush;
pub mod http_client;
pub mod intake;
pub mod invocation;
pub mod lambda_api;
pub mod logs;
pub mod metrics;
