//! lambdascope server: Datadog-compatible intake, embedded store, query API (see docs/api.md).
