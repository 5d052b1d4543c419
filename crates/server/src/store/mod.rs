//! The storage boundary: backend-neutral rows in, query results out.
//!
//! The HTTP layer only sees [`Store`]; SQL lives in the backends (`sqlite` today, a
//! ClickHouse backend can implement the same trait). Every method blocks, so async
//! callers run them on the blocking pool.

pub mod sqlite;

use std::collections::BTreeMap;

use lambdascope_wire::sketch::AgentSketch;
use serde::Serialize;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error(
        "cannot open the data directory {path}: {source}; check that it exists and is writable"
    )]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the store's writer thread has stopped; restart the server")]
    WriterGone,
    #[error("invalid cursor {0:?}; pass the next_cursor value of a previous page unchanged")]
    BadCursor(String),
}

/// Everything one accepted payload adds, written in one transaction: all or nothing.
#[derive(Debug, Default, Clone)]
pub struct WriteBatch {
    /// Metric points grouped by context (name + tags + host), as series arrive.
    pub series: Vec<MetricSeriesRow>,
    pub sketches: Vec<SketchRow>,
    pub spans: Vec<SpanRow>,
    pub logs: Vec<LogRow>,
    pub stats: Vec<StatsRow>,
    pub invocations: Vec<InvocationFacts>,
}

impl WriteBatch {
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
            && self.sketches.is_empty()
            && self.spans.is_empty()
            && self.logs.is_empty()
            && self.stats.is_empty()
            && self.invocations.is_empty()
    }
}

/// One metric context and its points `(ts_ms, value)`.
#[derive(Debug, Clone)]
pub struct MetricSeriesRow {
    pub name: String,
    /// `count`, `rate`, `gauge` or `unspecified`.
    pub metric_type: &'static str,
    pub tags: Vec<String>,
    pub host: Option<String>,
    pub points: Vec<(i64, f64)>,
}

#[derive(Debug, Clone)]
pub struct SketchRow {
    pub name: String,
    pub ts_ms: i64,
    pub tags: Vec<String>,
    pub host: Option<String>,
    pub sketch: AgentSketch,
}

#[derive(Debug, Clone)]
pub struct SpanRow {
    pub trace_id: u64,
    pub span_id: u64,
    pub parent_id: u64,
    pub name: String,
    pub service: String,
    pub resource: String,
    pub span_type: String,
    pub start_ns: i64,
    pub duration_ns: i64,
    pub error: bool,
    pub meta: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
}

#[derive(Debug, Clone)]
pub struct LogRow {
    pub ts_ms: i64,
    pub status: String,
    pub message: String,
    pub service: Option<String>,
    pub hostname: Option<String>,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub function: Option<String>,
    pub request_id: Option<String>,
    pub trace_id: Option<u64>,
}

/// One aggregated APM stats group from `/api/v0.2/stats`.
#[derive(Debug, Clone)]
pub struct StatsRow {
    pub bucket_start_ns: i64,
    pub bucket_duration_ns: i64,
    pub env: String,
    pub service: String,
    pub name: String,
    pub resource: String,
    pub span_type: String,
    pub http_status_code: u32,
    pub hits: u64,
    pub errors: u64,
    pub top_level_hits: u64,
    pub duration_ns: u64,
}

/// What one source knows about one invocation. Sources merge by request id: a field
/// left `None` keeps what another source said; flags only ever turn on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InvocationFacts {
    pub request_id: String,
    pub function: Option<String>,
    /// Start time, Unix ms.
    pub start_ms: Option<i64>,
    /// True when `start_ms` came from the `aws.lambda` span (more exact than a log's time).
    pub start_from_span: bool,
    pub cold_start: Option<bool>,
    /// From the REPORT line.
    pub duration_ms: Option<f64>,
    /// From the `aws.lambda` span; used when no REPORT arrived.
    pub span_duration_ms: Option<f64>,
    pub billed_ms: Option<f64>,
    pub memory_mb: Option<i64>,
    pub max_memory_mb: Option<i64>,
    pub init_ms: Option<f64>,
    pub error: Option<bool>,
    pub timeout: Option<bool>,
    pub oom: Option<bool>,
    pub error_type: Option<String>,
    pub trace_id: Option<u64>,
    pub trigger: Option<String>,
    pub architecture: Option<String>,
}

/// A half-open time window `[from_ms, to_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub from_ms: i64,
    pub to_ms: i64,
}

/// One page of results and the cursor for the next one.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A homepage row.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FunctionSummary {
    pub function: String,
    pub invocations: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub cold_starts: u64,
    pub timeouts: u64,
    pub out_of_memory: u64,
    pub p50_duration_ms: Option<f64>,
    pub p95_duration_ms: Option<f64>,
    pub p99_duration_ms: Option<f64>,
    pub max_memory_used_mb: Option<i64>,
    pub estimated_cost_usd: f64,
    pub last_seen_ms: Option<i64>,
}

/// What `/api/functions/{name}/timeseries` can plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionMetric {
    Invocations,
    Errors,
    ColdStarts,
    Timeouts,
    DurationP50,
    DurationP95,
    DurationP99,
    DurationMax,
    MaxMemory,
    Cost,
}

impl FunctionMetric {
    pub const NAMES: &'static str = "invocations, errors, cold_starts, timeouts, duration_p50, duration_p95, duration_p99, duration_max, max_memory, cost";

    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "invocations" => Self::Invocations,
            "errors" => Self::Errors,
            "cold_starts" => Self::ColdStarts,
            "timeouts" => Self::Timeouts,
            "duration_p50" => Self::DurationP50,
            "duration_p95" => Self::DurationP95,
            "duration_p99" => Self::DurationP99,
            "duration_max" => Self::DurationMax,
            "max_memory" => Self::MaxMemory,
            "cost" => Self::Cost,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TimeseriesPoint {
    pub ts_ms: i64,
    pub value: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct InvocationQuery {
    pub function: String,
    pub range: Option<TimeRange>,
    pub errors_only: bool,
    pub cold_starts_only: bool,
    pub timeouts_only: bool,
    pub limit: usize,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InvocationRecord {
    pub request_id: String,
    pub function: String,
    pub start_ms: i64,
    pub cold_start: bool,
    pub duration_ms: Option<f64>,
    pub billed_duration_ms: Option<f64>,
    pub memory_size_mb: Option<i64>,
    pub max_memory_used_mb: Option<i64>,
    pub init_duration_ms: Option<f64>,
    pub error: bool,
    pub timeout: bool,
    pub out_of_memory: bool,
    pub error_type: Option<String>,
    /// Decimal low 64 bits of the trace id.
    pub trace_id: Option<String>,
    pub trigger: Option<String>,
    pub architecture: String,
    pub estimated_cost_usd: f64,
}

#[derive(Debug, Clone, Default)]
pub struct SpanQuery {
    pub service: Option<String>,
    pub name: Option<String>,
    pub range: TimeRange,
    pub limit: usize,
    pub cursor: Option<String>,
}

impl Default for TimeRange {
    fn default() -> Self {
        TimeRange {
            from_ms: 0,
            to_ms: i64::MAX,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SpanRecord {
    pub trace_id: String,
    pub span_id: String,
    pub parent_id: String,
    pub name: String,
    pub service: String,
    pub resource: String,
    #[serde(rename = "type")]
    pub span_type: String,
    pub start_ns: i64,
    pub duration_ns: i64,
    pub error: bool,
    pub meta: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Default)]
pub struct MetricQuery {
    pub name: String,
    pub range: TimeRange,
    /// Every tag here must be on a point for it to match.
    pub tags: Vec<String>,
    pub limit: usize,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricPointRecord {
    pub ts_ms: i64,
    #[serde(rename = "type")]
    pub metric_type: String,
    pub value: f64,
    pub tags: Vec<String>,
    pub host: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SketchRecord {
    pub ts_ms: i64,
    pub tags: Vec<String>,
    pub host: Option<String>,
    pub count: u64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub sum: Option<f64>,
    pub avg: Option<f64>,
    pub p50: Option<f64>,
    pub p75: Option<f64>,
    pub p90: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

/// Points and sketches of one metric name (a name is usually one or the other).
#[derive(Debug, Clone, Serialize)]
pub struct MetricResult {
    pub points: Vec<MetricPointRecord>,
    pub sketches: Vec<SketchRecord>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    /// Full-text words, all of which must appear.
    pub text: Option<String>,
    pub function: Option<String>,
    pub request_id: Option<String>,
    pub trace_id: Option<u64>,
    pub status: Option<String>,
    pub range: TimeRange,
    pub limit: usize,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogRecord {
    pub ts_ms: i64,
    pub status: String,
    pub message: String,
    pub service: Option<String>,
    pub hostname: Option<String>,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub function: Option<String>,
    pub request_id: Option<String>,
    pub trace_id: Option<String>,
}

/// Storage for everything the intake accepts and the query API reads.
pub trait Store: Send + Sync + 'static {
    /// Stores one payload's rows atomically; returns only once they are committed.
    fn write(&self, batch: WriteBatch) -> Result<(), StoreError>;
    /// Deletes at most `max_rows` rows per table older than `cutoff_ms`; returns how many went.
    fn delete_older_than(&self, cutoff_ms: i64, max_rows: usize) -> Result<u64, StoreError>;
    fn functions(&self, range: TimeRange) -> Result<Vec<FunctionSummary>, StoreError>;
    fn function_timeseries(
        &self,
        function: &str,
        metric: FunctionMetric,
        range: TimeRange,
        step_ms: i64,
    ) -> Result<Vec<TimeseriesPoint>, StoreError>;
    fn invocations(&self, query: &InvocationQuery) -> Result<Page<InvocationRecord>, StoreError>;
    fn trace(&self, trace_id: u64) -> Result<Vec<SpanRecord>, StoreError>;
    fn spans(&self, query: &SpanQuery) -> Result<Page<SpanRecord>, StoreError>;
    fn metrics(&self, query: &MetricQuery) -> Result<MetricResult, StoreError>;
    fn logs(&self, query: &LogQuery) -> Result<Page<LogRecord>, StoreError>;
}
