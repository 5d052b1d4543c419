//! The write path: one transaction per payload, prepared statements, rollups kept
//! current for every minute the payload touched.

use std::collections::BTreeSet;

use lambdascope_wire::sketch::AgentSketch;
use prost::Message;
use rusqlite::{params, Connection, OptionalExtension};

use crate::cost;
use crate::store::{InvocationFacts, WriteBatch};

/// Tags as stored: sorted, `,`-delimited on both ends so `instr(tags, ',k:v,')` matches one tag.
pub fn tags_column(tags: &[String]) -> String {
    let mut sorted: Vec<&str> = tags.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::with_capacity(tags.iter().map(|t| t.len() + 1).sum::<usize>() + 1);
    out.push(',');
    for t in sorted {
        out.push_str(t);
        out.push(',');
    }
    out
}

pub fn tags_from_column(column: &str) -> Vec<String> {
    column
        .split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Writes every row of the batch inside `tx` (the caller commits).
pub fn apply(tx: &Connection, batch: &WriteBatch) -> rusqlite::Result<()> {
    if !batch.series.is_empty() {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO metric_points (name, type, ts_ms, value, tags, host) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for s in &batch.series {
            let tags = tags_column(&s.tags);
            for &(ts_ms, value) in &s.points {
                stmt.execute(params![s.name, s.metric_type, ts_ms, value, tags, s.host])?;
            }
        }
    }
    if !batch.sketches.is_empty() {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO metric_sketches (name, ts_ms, tags, host, sketch) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for s in &batch.sketches {
            let blob = s.sketch.to_dogsketch(s.ts_ms / 1000).encode_to_vec();
            stmt.execute(params![s.name, s.ts_ms, tags_column(&s.tags), s.host, blob])?;
        }
    }
    if !batch.spans.is_empty() {
        let mut stmt = tx.prepare_cached(
            "INSERT OR REPLACE INTO spans (trace_id, span_id, parent_id, name, service, resource, type, \
             start_ns, duration_ns, error, meta, metrics) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        for s in &batch.spans {
            let meta = serde_json::to_string(&s.meta).unwrap_or_else(|_| "{}".into());
            let metrics = metrics_json(&s.metrics);
            stmt.execute(params![
                s.trace_id as i64,
                s.span_id as i64,
                s.parent_id as i64,
                s.name,
                s.service,
                s.resource,
                s.span_type,
                s.start_ns,
                s.duration_ns,
                s.error,
                meta,
                metrics
            ])?;
        }
    }
    if !batch.logs.is_empty() {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO logs (ts_ms, status, message, service, hostname, source, tags, function, request_id, trace_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let mut first_id = None;
        for l in &batch.logs {
            stmt.execute(params![
                l.ts_ms,
                l.status,
                l.message,
                l.service,
                l.hostname,
                l.source,
                tags_column(&l.tags),
                l.function,
                l.request_id,
                l.trace_id.map(|t| t as i64)
            ])?;
            first_id.get_or_insert(tx.last_insert_rowid());
        }
        // One statement indexes the whole payload's messages (rowids are consecutive).
        tx.prepare_cached(
            "INSERT INTO logs_fts (rowid, message) SELECT id, message FROM logs WHERE id BETWEEN ?1 AND ?2",
        )?
        .execute(params![first_id, tx.last_insert_rowid()])?;
    }
    if !batch.stats.is_empty() {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO trace_stats (bucket_start_ns, bucket_duration_ns, env, service, name, resource, type, \
             http_status_code, hits, errors, top_level_hits, duration_ns) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?;
        for s in &batch.stats {
            stmt.execute(params![
                s.bucket_start_ns,
                s.bucket_duration_ns,
                s.env,
                s.service,
                s.name,
                s.resource,
                s.span_type,
                s.http_status_code,
                s.hits as i64,
                s.errors as i64,
                s.top_level_hits as i64,
                s.duration_ns as i64
            ])?;
        }
    }
    if !batch.invocations.is_empty() {
        upsert_invocations(tx, &batch.invocations)?;
    }
    Ok(())
}

/// JSON cannot hold NaN or infinities; such span metrics are dropped rather than failing the payload.
fn metrics_json(metrics: &std::collections::BTreeMap<String, f64>) -> String {
    let finite: std::collections::BTreeMap<&String, &f64> =
        metrics.iter().filter(|(_, v)| v.is_finite()).collect();
    serde_json::to_string(&finite).unwrap_or_else(|_| "{}".into())
}

const UPSERT_INVOCATION: &str = "
INSERT INTO invocations (request_id, function, start_ms, start_from_span, cold_start, duration_ms,
    span_duration_ms, billed_ms, memory_mb, max_memory_mb, init_ms, error, timeout, oom, error_type,
    trace_id, trigger, architecture)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
ON CONFLICT (request_id) DO UPDATE SET
    function = COALESCE(excluded.function, function),
    start_ms = CASE
        WHEN excluded.start_from_span AND excluded.start_ms IS NOT NULL THEN excluded.start_ms
        WHEN start_from_span THEN start_ms
        ELSE COALESCE(excluded.start_ms, start_ms) END,
    start_from_span = MAX(start_from_span, excluded.start_from_span),
    cold_start = COALESCE(MAX(cold_start, excluded.cold_start), cold_start, excluded.cold_start),
    duration_ms = COALESCE(excluded.duration_ms, duration_ms),
    span_duration_ms = COALESCE(excluded.span_duration_ms, span_duration_ms),
    billed_ms = COALESCE(excluded.billed_ms, billed_ms),
    memory_mb = COALESCE(excluded.memory_mb, memory_mb),
    max_memory_mb = COALESCE(excluded.max_memory_mb, max_memory_mb),
    init_ms = COALESCE(excluded.init_ms, init_ms),
    error = MAX(error, excluded.error),
    timeout = MAX(timeout, excluded.timeout),
    oom = MAX(oom, excluded.oom),
    error_type = COALESCE(excluded.error_type, error_type),
    trace_id = COALESCE(excluded.trace_id, trace_id),
    trigger = COALESCE(excluded.trigger, trigger),
    architecture = COALESCE(excluded.architecture, architecture)
RETURNING function, start_ms";

fn upsert_invocations(tx: &Connection, facts: &[InvocationFacts]) -> rusqlite::Result<()> {
    let mut touched: BTreeSet<(String, i64)> = BTreeSet::new();
    {
        let mut before =
            tx.prepare_cached("SELECT function, start_ms FROM invocations WHERE request_id = ?1")?;
        let mut upsert = tx.prepare_cached(UPSERT_INVOCATION)?;
        for f in facts {
            let old: Option<(Option<String>, Option<i64>)> = before
                .query_row([&f.request_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((Some(function), Some(start))) = old {
                touched.insert((function, start.div_euclid(60_000)));
            }
            let (function, start): (Option<String>, Option<i64>) = upsert.query_row(
                params![
                    f.request_id,
                    f.function,
                    f.start_ms,
                    f.start_from_span,
                    f.cold_start,
                    f.duration_ms,
                    f.span_duration_ms,
                    f.billed_ms,
                    f.memory_mb,
                    f.max_memory_mb,
                    f.init_ms,
                    f.error.unwrap_or(false),
                    f.timeout.unwrap_or(false),
                    f.oom.unwrap_or(false),
                    f.error_type,
                    f.trace_id.map(|t| t as i64),
                    f.trigger,
                    f.architecture
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if let (Some(function), Some(start)) = (function, start) {
                touched.insert((function, start.div_euclid(60_000)));
            }
        }
    }
    for (function, minute) in touched {
        recompute_minute(tx, &function, minute)?;
    }
    Ok(())
}

/// Rebuilds one rollup row from the invocation rows of that function and minute.
/// Recomputing (rather than adding) keeps rollups right when a later source changes
/// an invocation's duration, status or minute.
fn recompute_minute(tx: &Connection, function: &str, minute: i64) -> rusqlite::Result<()> {
    let mut select = tx.prepare_cached(
        "SELECT start_ms, cold_start, COALESCE(duration_ms, span_duration_ms), billed_ms, memory_mb, \
         max_memory_mb, error, timeout, oom, architecture \
         FROM invocations WHERE function = ?1 AND start_ms >= ?2 AND start_ms < ?3",
    )?;
    let mut rows = select.query(params![function, minute * 60_000, (minute + 1) * 60_000])?;
    let (mut count, mut errors, mut cold, mut timeouts, mut ooms) = (0i64, 0i64, 0i64, 0i64, 0i64);
    let mut max_memory: Option<i64> = None;
    let mut cost_usd = 0.0;
    let mut last_seen = i64::MIN;
    let mut sketch = AgentSketch::new();
    while let Some(r) = rows.next()? {
        let start: i64 = r.get(0)?;
        let duration: Option<f64> = r.get(2)?;
        let billed: Option<f64> = r.get(3)?;
        let memory: Option<i64> = r.get(4)?;
        let used: Option<i64> = r.get(5)?;
        let architecture: Option<String> = r.get(9)?;
        count += 1;
        cold += i64::from(r.get::<_, Option<bool>>(1)?.unwrap_or(false));
        errors += i64::from(r.get::<_, bool>(6)?);
        timeouts += i64::from(r.get::<_, bool>(7)?);
        ooms += i64::from(r.get::<_, bool>(8)?);
        if let Some(d) = duration {
            sketch.insert(d);
        }
        max_memory = max_memory.max(used);
        let arch = cost::normalize_architecture(architecture.as_deref());
        cost_usd += cost::invocation_cost_usd(billed.or(duration.map(f64::ceil)), memory, arch);
        last_seen = last_seen.max(start + duration.unwrap_or(0.0) as i64);
    }
    if count == 0 {
        tx.prepare_cached("DELETE FROM function_minutes WHERE function = ?1 AND minute = ?2")?
            .execute(params![function, minute])?;
        return Ok(());
    }
    let blob = (!sketch.is_empty()).then(|| sketch.to_dogsketch(minute * 60).encode_to_vec());
    tx.prepare_cached(
        "INSERT OR REPLACE INTO function_minutes (function, minute, invocations, errors, cold_starts, \
         timeouts, ooms, duration_sketch, max_memory_mb, cost_usd, last_seen_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        function, minute, count, errors, cold, timeouts, ooms, blob, max_memory, cost_usd, last_seen
    ])?;
    Ok(())
}

/// Deletes up to `max_rows` rows per table older than `cutoff_ms` inside `tx`.
pub fn delete_older_than(
    tx: &Connection,
    cutoff_ms: i64,
    max_rows: usize,
) -> rusqlite::Result<u64> {
    let limit = max_rows as i64;
    let mut deleted = 0u64;
    // Metric tables have no time-only index (it would slow every insert): they are
    // swept from the oldest row ids, a window at a time, i.e. in arrival order.
    for table in ["metric_points", "metric_sketches"] {
        let sql = format!(
            "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} \
             WHERE id < (SELECT MIN(id) FROM {table}) + ?3 AND ts_ms < ?1 LIMIT ?2)"
        );
        deleted +=
            tx.prepare_cached(&sql)?
                .execute(params![cutoff_ms, limit, limit.saturating_mul(4)])? as u64;
    }
    let simple = [
        (
            "spans",
            "id",
            "start_ns",
            cutoff_ms.saturating_mul(1_000_000),
        ),
        (
            "trace_stats",
            "id",
            "bucket_start_ns",
            cutoff_ms.saturating_mul(1_000_000),
        ),
        ("invocations", "rowid", "start_ms", cutoff_ms),
    ];
    for (table, key, column, cutoff) in simple {
        let sql = format!(
            "DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {column} < ?1 LIMIT ?2)"
        );
        deleted += tx.prepare_cached(&sql)?.execute(params![cutoff, limit])? as u64;
    }
    // Logs: the contentless FTS index needs the same ids removed.
    let ids: Vec<i64> = tx
        .prepare_cached("SELECT id FROM logs WHERE ts_ms < ?1 LIMIT ?2")?
        .query_map(params![cutoff_ms, limit], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    {
        let mut del_fts = tx.prepare_cached("DELETE FROM logs_fts WHERE rowid = ?1")?;
        let mut del_log = tx.prepare_cached("DELETE FROM logs WHERE id = ?1")?;
        for id in &ids {
            del_fts.execute([id])?;
            deleted += del_log.execute([id])? as u64;
        }
    }
    let minute_cutoff = cutoff_ms.div_euclid(60_000);
    deleted += tx
        .prepare_cached(
            "DELETE FROM function_minutes WHERE (function, minute) IN \
             (SELECT function, minute FROM function_minutes WHERE minute < ?1 LIMIT ?2)",
        )?
        .execute(params![minute_cutoff, limit])? as u64;
    Ok(deleted)
}
