//! Instrumenting deployed Lambda functions from outside (`lambdascope lambda instrument`).
//!
//! [`plan`] is the pure core (current configuration + options → new configuration) that template
//! transforms reuse; [`aws`] is the only module that talks to AWS; [`run`] ties them together
//! with concurrency, progress and the summary.

pub mod aws;
pub mod diff;
pub mod interactive;
pub mod layer_catalog;
mod layer_placement;
pub mod options;
pub mod plan;
pub mod progress;
pub mod revert;
pub mod run;
pub mod runtime;
pub mod source_code;
