//! Read queries over the rollups and the invocation rows.

use std::collections::BTreeMap;

use lambdascope_wire::sketch::AgentSketch;
use lambdascope_wire::sketch_payload::Dogsketch;
use prost::Message;
use rusqlite::{params, Connection};

pub use super::records::{logs, metrics, spans, trace};
use crate::cost;
use crate::store::{
    FunctionMetric, FunctionSummary, InvocationQuery, InvocationRecord, Page, StoreError,
    TimeRange, TimeseriesPoint,
};

const MINUTE_MS: i64 = 60_000;

/// Minutes whose start lies in `[from, to)`, widened to whole minutes.
fn minute_bounds(range: TimeRange) -> (i64, i64) {
    let from = range.from_ms.div_euclid(MINUTE_MS);
    let to = range
        .to_ms
        .saturating_add(MINUTE_MS - 1)
        .div_euclid(MINUTE_MS);
    (from, to)
}

pub(super) fn decode_sketch(blob: Option<&[u8]>) -> Option<AgentSketch> {
    let d = Dogsketch::decode(blob?).ok()?;
    AgentSketch::from_dogsketch(&d).ok()
}

#[derive(Default)]
struct Rollup {
    invocations: u64,
    errors: u64,
    cold_starts: u64,
    timeouts: u64,
    ooms: u64,
    durations: AgentSketch,
    max_memory_mb: Option<i64>,
    cost_usd: f64,
    last_seen_ms: Option<i64>,
}

struct MinuteRow {
    function: String,
    minute: i64,
    invocations: i64,
    errors: i64,
    cold_starts: i64,
    timeouts: i64,
    ooms: i64,
    sketch: Option<Vec<u8>>,
    max_memory_mb: Option<i64>,
    cost_usd: f64,
    last_seen_ms: i64,
}

impl Rollup {
    fn add(&mut self, row: &MinuteRow) {
        self.invocations += row.invocations as u64;
        self.errors += row.errors as u64;
        self.cold_starts += row.cold_starts as u64;
        self.timeouts += row.timeouts as u64;
        self.ooms += row.ooms as u64;
        if let Some(s) = decode_sketch(row.sketch.as_deref()) {
            self.durations.merge(&s);
        }
        self.max_memory_mb = self.max_memory_mb.max(row.max_memory_mb);
        self.cost_usd += row.cost_usd;
        self.last_seen_ms = self.last_seen_ms.max(Some(row.last_seen_ms));
    }
}

fn minute_rows(
    conn: &Connection,
    function: Option<&str>,
    range: TimeRange,
) -> Result<Vec<MinuteRow>, StoreError> {
    let (from, to) = minute_bounds(range);
    let sql = "SELECT function, minute, invocations, errors, cold_starts, timeouts, ooms, duration_sketch, \
               max_memory_mb, cost_usd, last_seen_ms FROM function_minutes \
               WHERE minute >= ?1 AND minute < ?2 AND (?3 IS NULL OR function = ?3)";
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt
        .query_map(params![from, to, function], |r| {
            Ok(MinuteRow {
                function: r.get(0)?,
                minute: r.get(1)?,
                invocations: r.get(2)?,
                errors: r.get(3)?,
                cold_starts: r.get(4)?,
                timeouts: r.get(5)?,
                ooms: r.get(6)?,
                sketch: r.get(7)?,
                max_memory_mb: r.get(8)?,
                cost_usd: r.get(9)?,
                last_seen_ms: r.get(10)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn functions(conn: &Connection, range: TimeRange) -> Result<Vec<FunctionSummary>, StoreError> {
    let mut by_function: BTreeMap<String, Rollup> = BTreeMap::new();
    for row in minute_rows(conn, None, range)? {
        by_function
            .entry(row.function.clone())
            .or_default()
            .add(&row);
    }
    Ok(by_function
        .into_iter()
        .map(|(function, r)| FunctionSummary {
            function,
            invocations: r.invocations,
            errors: r.errors,
            error_rate: if r.invocations == 0 {
                0.0
            } else {
                r.errors as f64 / r.invocations as f64
            },
            cold_starts: r.cold_starts,
            timeouts: r.timeouts,
            out_of_memory: r.ooms,
            p50_duration_ms: r.durations.quantile(0.50),
            p95_duration_ms: r.durations.quantile(0.95),
            p99_duration_ms: r.durations.quantile(0.99),
            max_memory_used_mb: r.max_memory_mb,
            estimated_cost_usd: r.cost_usd,
            last_seen_ms: r.last_seen_ms,
        })
        .collect())
}

pub fn function_timeseries(
    conn: &Connection,
    function: &str,
    metric: FunctionMetric,
    range: TimeRange,
    step_ms: i64,
) -> Result<Vec<TimeseriesPoint>, StoreError> {
    let step = step_ms.max(MINUTE_MS) / MINUTE_MS * MINUTE_MS;
    let start = range.from_ms.div_euclid(step) * step;
    let buckets = ((range.to_ms - start + step - 1) / step).clamp(0, 100_000) as usize;
    let mut rollups: Vec<Rollup> = (0..buckets).map(|_| Rollup::default()).collect();
    for row in minute_rows(conn, Some(function), range)? {
        let i = (row.minute * MINUTE_MS - start).div_euclid(step);
        if let Some(r) = usize::try_from(i).ok().and_then(|i| rollups.get_mut(i)) {
            r.add(&row);
        }
    }
    Ok(rollups
        .iter()
        .enumerate()
        .map(|(i, r)| TimeseriesPoint {
            ts_ms: start + i as i64 * step,
            value: match metric {
                FunctionMetric::Invocations => Some(r.invocations as f64),
                FunctionMetric::Errors => Some(r.errors as f64),
                FunctionMetric::ColdStarts => Some(r.cold_starts as f64),
                FunctionMetric::Timeouts => Some(r.timeouts as f64),
                FunctionMetric::DurationP50 => r.durations.quantile(0.50),
                FunctionMetric::DurationP95 => r.durations.quantile(0.95),
                FunctionMetric::DurationP99 => r.durations.quantile(0.99),
                FunctionMetric::DurationMax => r.durations.max(),
                FunctionMetric::MaxMemory => r.max_memory_mb.map(|m| m as f64),
                FunctionMetric::Cost => Some(r.cost_usd),
            },
        })
        .collect())
}

/// Splits a `<number>:<text>` cursor.
pub(super) fn split_cursor(cursor: &str) -> Result<(i64, &str), StoreError> {
    let (n, rest) = cursor
        .split_once(':')
        .ok_or_else(|| StoreError::BadCursor(cursor.to_owned()))?;
    let n = n
        .parse()
        .map_err(|_| StoreError::BadCursor(cursor.to_owned()))?;
    Ok((n, rest))
}

pub fn invocations(
    conn: &Connection,
    q: &InvocationQuery,
) -> Result<Page<InvocationRecord>, StoreError> {
    let (cursor_ts, cursor_id) = match &q.cursor {
        Some(c) => {
            let (ts, id) = split_cursor(c)?;
            (Some(ts), Some(id.to_owned()))
        }
        None => (None, None),
    };
    let range = q.range.unwrap_or_default();
    let sql = "SELECT request_id, function, start_ms, cold_start, duration_ms, span_duration_ms, billed_ms, \
               memory_mb, max_memory_mb, init_ms, error, timeout, oom, error_type, trace_id, trigger, architecture \
               FROM invocations WHERE function = ?1 AND start_ms >= ?2 AND start_ms < ?3 \
               AND (?4 = 0 OR error = 1) AND (?5 = 0 OR cold_start = 1) AND (?6 = 0 OR timeout = 1) \
               AND (?7 IS NULL OR start_ms < ?7 OR (start_ms = ?7 AND request_id < ?8)) \
               ORDER BY start_ms DESC, request_id DESC LIMIT ?9";
    let limit = q.limit.max(1);
    let mut stmt = conn.prepare_cached(sql)?;
    let items = stmt
        .query_map(
            params![
                q.function,
                range.from_ms,
                range.to_ms,
                q.errors_only,
                q.cold_starts_only,
                q.timeouts_only,
                cursor_ts,
                cursor_id,
                limit as i64 + 1
            ],
            |r| {
                let duration: Option<f64> = r.get::<_, Option<f64>>(4)?.or(r.get(5)?);
                let billed: Option<f64> = r.get(6)?;
                let memory: Option<i64> = r.get(7)?;
                let arch = cost::normalize_architecture(r.get::<_, Option<String>>(16)?.as_deref());
                Ok(InvocationRecord {
                    request_id: r.get(0)?,
                    function: r.get(1)?,
                    start_ms: r.get(2)?,
                    cold_start: r.get::<_, Option<bool>>(3)?.unwrap_or(false),
                    duration_ms: duration,
                    billed_duration_ms: billed,
                    memory_size_mb: memory,
                    max_memory_used_mb: r.get(8)?,
                    init_duration_ms: r.get(9)?,
                    error: r.get(10)?,
                    timeout: r.get(11)?,
                    out_of_memory: r.get(12)?,
                    error_type: r.get(13)?,
                    trace_id: r.get::<_, Option<i64>>(14)?.map(|t| (t as u64).to_string()),
                    trigger: r.get(15)?,
                    architecture: arch.to_owned(),
                    estimated_cost_usd: cost::invocation_cost_usd(
                        billed.or(duration.map(f64::ceil)),
                        memory,
                        arch,
                    ),
                })
            },
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(paginate(items, limit, |r| {
        format!("{}:{}", r.start_ms, r.request_id)
    }))
}

/// Keeps `limit` items; if there was one more, the last kept item becomes the cursor.
pub(super) fn paginate<T>(
    mut items: Vec<T>,
    limit: usize,
    cursor: impl Fn(&T) -> String,
) -> Page<T> {
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if more { items.last().map(cursor) } else { None };
    Page { items, next_cursor }
}
