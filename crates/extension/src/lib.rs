//! The lambdascope Lambda extension: the process that runs beside every instrumented function.
//!
//! One module per concern, each owning its state (see DESIGN.md): `config`, `lambda_api`,
//! `invocation`, `metrics`, `traces`, `logs`, `flush`, `intake`; `lifecycle` is the loop that
//! ties them together and `main.rs` only starts it.

pub mod config;
pub mod flush;
pub mod http_client;
pub mod intake;
pub mod invocation;
pub mod lambda_api;
pub mod lifecycle;
pub mod logging;
pub mod logs;
pub mod metrics;
pub mod traces;
