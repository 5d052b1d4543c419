//! Instrumenting deployed Lambda functions from outside (`lambdascope lambda instrument`).
//!
//! The pure rules (`plan`, `options`, `layer_catalog`, `runtime`, `diff`) live in the
//! `lambdascope-instrument` crate, shared with the template transform; they are re-exported here
//! so the command's modules use one path. [`aws`] is the only module that talks to AWS; [`run`]
//! ties them together with concurrency, progress and the summary.

pub use lambdascope_instrument::{diff, layer_catalog, options, plan, runtime};

pub mod aws;
pub mod interactive;
pub mod progress;
pub mod run;
pub mod source_code;
