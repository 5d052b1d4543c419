//! Read queries over raw rows: spans, metric points and sketches, logs.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, Row};

use super::query::{decode_sketch, paginate, split_cursor};
use super::write::tags_from_column;
use crate::store::{
    LogQuery, LogRecord, MetricPointRecord, MetricQuery, MetricResult, Page, SketchRecord,
    SpanQuery, SpanRecord, StoreError,
};

const SPAN_COLUMNS: &str =
    "id, trace_id, span_id, parent_id, name, service, resource, type, start_ns, duration_ns, error, meta, metrics";

fn span_record(r: &Row<'_>) -> rusqlite::Result<(i64, SpanRecord)> {
    let id: i64 = r.get(0)?;
    let meta: String = r.get(11)?;
    let metrics: String = r.get(12)?;
    Ok((
        id,
        SpanRecord {
            trace_id: (r.get::<_, i64>(1)? as u64).to_string(),
            span_id: (r.get::<_, i64>(2)? as u64).to_string(),
            parent_id: (r.get::<_, i64>(3)? as u64).to_string(),
            name: r.get(4)?,
            service: r.get(5)?,
            resource: r.get(6)?,
            span_type: r.get(7)?,
            start_ns: r.get(8)?,
            duration_ns: r.get(9)?,
            error: r.get(10)?,
            meta: serde_json::from_str(&meta).unwrap_or_default(),
            metrics: serde_json::from_str(&metrics).unwrap_or_default(),
        },
    ))
}

pub fn trace(conn: &Connection, trace_id: u64) -> Result<Vec<SpanRecord>, StoreError> {
    let sql =
        format!("SELECT {SPAN_COLUMNS} FROM spans WHERE trace_id = ?1 ORDER BY start_ns, span_id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let spans = stmt
        .query_map([trace_id as i64], span_record)?
        .map(|r| r.map(|(_, s)| s))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(spans)
}

pub fn spans(conn: &Connection, q: &SpanQuery) -> Result<Page<SpanRecord>, StoreError> {
    let (cursor_start, cursor_id) = match &q.cursor {
        Some(c) => {
            let (start, id) = split_cursor(c)?;
            let id: i64 = id.parse().map_err(|_| StoreError::BadCursor(c.clone()))?;
            (Some(start), Some(id))
        }
        None => (None, None),
    };
    let sql = format!(
        "SELECT {SPAN_COLUMNS} FROM spans WHERE start_ns >= ?1 AND start_ns < ?2 \
         AND (?3 IS NULL OR service = ?3) AND (?4 IS NULL OR name = ?4) \
         AND (?5 IS NULL OR start_ns < ?5 OR (start_ns = ?5 AND id < ?6)) \
         ORDER BY start_ns DESC, id DESC LIMIT ?7"
    );
    let limit = q.limit.max(1);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(
            params![
                q.range.from_ms.saturating_mul(1_000_000),
                q.range.to_ms.saturating_mul(1_000_000),
                q.service,
                q.name,
                cursor_start,
                cursor_id,
                limit as i64 + 1
            ],
            span_record,
        )?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let page = paginate(rows, limit, |(id, s)| format!("{}:{id}", s.start_ns));
    Ok(Page {
        items: page.items.into_iter().map(|(_, s)| s).collect(),
        next_cursor: page.next_cursor,
    })
}

/// `WHERE` fragments for name, time and every tag, with their parameters.
fn metric_filter(q: &MetricQuery, after: Option<(i64, i64)>) -> (String, Vec<Value>) {
    let mut sql = String::from("name = ? AND ts_ms >= ? AND ts_ms < ?");
    let mut values = vec![
        Value::Text(q.name.clone()),
        Value::Integer(q.range.from_ms),
        Value::Integer(q.range.to_ms),
    ];
    for tag in &q.tags {
        sql.push_str(" AND instr(tags, ?) > 0");
        values.push(Value::Text(format!(",{tag},")));
    }
    if let Some((ts, id)) = after {
        sql.push_str(" AND (ts_ms > ? OR (ts_ms = ? AND id > ?))");
        values.extend([Value::Integer(ts), Value::Integer(ts), Value::Integer(id)]);
    }
    (sql, values)
}

pub fn metrics(conn: &Connection, q: &MetricQuery) -> Result<MetricResult, StoreError> {
    let limit = q.limit.max(1);
    let (after_points, after_sketches) = match &q.cursor {
        Some(c) => {
            let parts: Vec<i64> = c
                .split(':')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|_| StoreError::BadCursor(c.clone()))?;
            match parts[..] {
                [a, b, c2, d] => (Some((a, b)), Some((c2, d))),
                _ => return Err(StoreError::BadCursor(c.clone())),
            }
        }
        None => (None, None),
    };

    let (filter, mut values) = metric_filter(q, after_points);
    values.push(Value::Integer(limit as i64 + 1));
    let sql = format!(
        "SELECT id, ts_ms, type, value, tags, host FROM metric_points WHERE {filter} ORDER BY ts_ms, id LIMIT ?"
    );
    let mut points: Vec<(i64, MetricPointRecord)> = conn
        .prepare(&sql)?
        .query_map(params_from_iter(values), |r| {
            Ok((
                r.get(0)?,
                MetricPointRecord {
                    ts_ms: r.get(1)?,
                    metric_type: r.get(2)?,
                    value: r.get(3)?,
                    tags: tags_from_column(&r.get::<_, String>(4)?),
                    host: r.get(5)?,
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;

    let (filter, mut values) = metric_filter(q, after_sketches);
    values.push(Value::Integer(limit as i64 + 1));
    let sql = format!(
        "SELECT id, ts_ms, tags, host, sketch FROM metric_sketches WHERE {filter} ORDER BY ts_ms, id LIMIT ?"
    );
    let mut sketches: Vec<(i64, SketchRecord)> = conn
        .prepare(&sql)?
        .query_map(params_from_iter(values), |r| {
            let blob: Vec<u8> = r.get(4)?;
            let s = decode_sketch(Some(&blob)).unwrap_or_default();
            Ok((
                r.get(0)?,
                SketchRecord {
                    ts_ms: r.get(1)?,
                    tags: tags_from_column(&r.get::<_, String>(2)?),
                    host: r.get(3)?,
                    count: s.count(),
                    min: s.min(),
                    max: s.max(),
                    sum: s.sum(),
                    avg: s.avg(),
                    p50: s.quantile(0.50),
                    p75: s.quantile(0.75),
                    p90: s.quantile(0.90),
                    p95: s.quantile(0.95),
                    p99: s.quantile(0.99),
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;

    let more = points.len() > limit || sketches.len() > limit;
    points.truncate(limit);
    sketches.truncate(limit);
    let position = |last: Option<(i64, i64)>, before: Option<(i64, i64)>| {
        last.or(before).unwrap_or((i64::MIN, 0))
    };
    let next_cursor = more.then(|| {
        let (pt, pi) = position(points.last().map(|(id, p)| (p.ts_ms, *id)), after_points);
        let (st, si) = position(
            sketches.last().map(|(id, s)| (s.ts_ms, *id)),
            after_sketches,
        );
        format!("{pt}:{pi}:{st}:{si}")
    });
    Ok(MetricResult {
        points: points.into_iter().map(|(_, p)| p).collect(),
        sketches: sketches.into_iter().map(|(_, s)| s).collect(),
        next_cursor,
    })
}

/// Turns free text into a safe FTS5 query. The index keeps token presence only
/// (`detail=none`), so every word is split into tokens the way the `unicode61`
/// tokenizer splits text (letters and digits; anything else separates), each token
/// is quoted (no operator syntax can fail) and all are required. A trailing `*` on a
/// word makes its last token a prefix match.
pub fn fts_query(text: &str) -> Option<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        let (word, prefix) = match word.strip_suffix('*') {
            Some(w) => (w, true),
            None => (word, false),
        };
        let tokens: Vec<&str> = word
            .split(|c: char| !c.is_alphanumeric())
            .filter(|t| !t.is_empty())
            .collect();
        let last = tokens.len().saturating_sub(1);
        for (i, token) in tokens.iter().enumerate() {
            let star = if prefix && i == last { "*" } else { "" };
            terms.push(format!("\"{token}\"{star}"));
        }
    }
    (!terms.is_empty()).then(|| terms.join(" "))
}

pub fn logs(conn: &Connection, q: &LogQuery) -> Result<Page<LogRecord>, StoreError> {
    let limit = q.limit.max(1);
    let mut sql = String::from(
        "SELECT id, ts_ms, status, message, service, hostname, source, tags, function, request_id, trace_id \
         FROM logs WHERE ts_ms >= ? AND ts_ms < ?",
    );
    let mut values = vec![
        Value::Integer(q.range.from_ms),
        Value::Integer(q.range.to_ms),
    ];
    if let Some(fts) = q.text.as_deref().and_then(fts_query) {
        sql.push_str(" AND id IN (SELECT rowid FROM logs_fts WHERE logs_fts MATCH ?)");
        values.push(Value::Text(fts));
    }
    for (column, value) in [
        ("function", &q.function),
        ("request_id", &q.request_id),
        ("status", &q.status),
    ] {
        if let Some(v) = value {
            sql.push_str(&format!(" AND {column} = ?"));
            values.push(Value::Text(v.clone()));
        }
    }
    if let Some(t) = q.trace_id {
        sql.push_str(" AND trace_id = ?");
        values.push(Value::Integer(t as i64));
    }
    if let Some(c) = &q.cursor {
        let (ts, id) = split_cursor(c)?;
        let id: i64 = id.parse().map_err(|_| StoreError::BadCursor(c.clone()))?;
        sql.push_str(" AND (ts_ms < ? OR (ts_ms = ? AND id < ?))");
        values.extend([Value::Integer(ts), Value::Integer(ts), Value::Integer(id)]);
    }
    sql.push_str(" ORDER BY ts_ms DESC, id DESC LIMIT ?");
    values.push(Value::Integer(limit as i64 + 1));
    let rows: Vec<(i64, LogRecord)> = conn
        .prepare(&sql)?
        .query_map(params_from_iter(values), |r| {
            Ok((
                r.get(0)?,
                LogRecord {
                    ts_ms: r.get(1)?,
                    status: r.get(2)?,
                    message: r.get(3)?,
                    service: r.get(4)?,
                    hostname: r.get(5)?,
                    source: r.get(6)?,
                    tags: tags_from_column(&r.get::<_, String>(7)?),
                    function: r.get(8)?,
                    request_id: r.get(9)?,
                    trace_id: r.get::<_, Option<i64>>(10)?.map(|t| (t as u64).to_string()),
                },
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let page = paginate(rows, limit, |(id, l)| format!("{}:{id}", l.ts_ms));
    Ok(Page {
        items: page.items.into_iter().map(|(_, l)| l).collect(),
        next_cursor: page.next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn fts_queries_are_quoted() {
        assert_eq!(fts_query("  "), None);
        assert_eq!(fts_query("timed out").as_deref(), Some("\"timed\" \"out\""));
        assert_eq!(
            fts_query("Err* a\"b OR").as_deref(),
            Some("\"Err\"* \"a\" \"b\" \"OR\"")
        );
        assert_eq!(
            fts_query("dd.trace_id=12*").as_deref(),
            Some("\"dd\" \"trace\" \"id\" \"12\"*")
        );
    }
}
