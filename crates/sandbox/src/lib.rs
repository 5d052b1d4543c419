//! A local AWS Lambda execution environment (see docs/sandbox.md).
