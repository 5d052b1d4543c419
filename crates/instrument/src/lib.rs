//! `lambdascope-instrument`: the rules of instrumenting a Python Lambda function, in one place.
//!
//! [`plan`] turns a function's current configuration and the instrumentation options into its new
//! configuration (handler redirect, `DD_*` variables, library and extension layers, tags). It has
//! no AWS SDK and no async runtime, so every front end uses the same rules: `lambdascope lambda
//! instrument` (deployed functions), the template transform in [`template`] (`lambdascope cfn
//! transform`, the CloudFormation macro, the Serverless Framework plugin and the CDK construct).

pub mod diff;
pub mod layer_catalog;
mod layer_placement;
pub mod options;
pub mod plan;
mod revert;
pub mod runtime;
pub mod template;
