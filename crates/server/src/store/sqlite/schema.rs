//! Schema migrations, applied in order and recorded in `PRAGMA user_version`.
//!
//! A migration is never edited once released: add a new entry instead. Each runs in
//! its own transaction together with the version bump, so a crash mid-migration
//! leaves the previous version intact.

use rusqlite::Connection;

/// Migration `i` brings the database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
    CREATE TABLE metric_points (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
        value REAL NOT NULL,
        tags TEXT NOT NULL,            -- ",k:v,k2:v2," (sorted) so one tag matches with instr()
        host TEXT
    );
    CREATE INDEX metric_points_name_ts ON metric_points(name, ts_ms);

    CREATE TABLE metric_sketches (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        ts_ms INTEGER NOT NULL,
        tags TEXT NOT NULL,
        host TEXT,
        sketch BLOB NOT NULL           -- protobuf Dogsketch (agent k/n bins)
    );
    CREATE INDEX metric_sketches_name_ts ON metric_sketches(name, ts_ms);

    CREATE TABLE spans (
        id INTEGER PRIMARY KEY,
        trace_id INTEGER NOT NULL,     -- u64 stored bit-for-bit as i64
        span_id INTEGER NOT NULL,
        parent_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        service TEXT NOT NULL,
        resource TEXT NOT NULL,
        type TEXT NOT NULL,
        start_ns INTEGER NOT NULL,
        duration_ns INTEGER NOT NULL,
        error INTEGER NOT NULL,
        meta TEXT NOT NULL,            -- JSON object
        metrics TEXT NOT NULL          -- JSON object
    );
    CREATE UNIQUE INDEX spans_trace_span ON spans(trace_id, span_id);
    CREATE INDEX spans_start ON spans(start_ns);

    CREATE TABLE logs (
        id INTEGER PRIMARY KEY,
        ts_ms INTEGER NOT NULL,
        status TEXT NOT NULL,
        message TEXT NOT NULL,
        service TEXT,
        hostname TEXT,
        source TEXT,
        tags TEXT NOT NULL,
        function TEXT,
        request_id TEXT,
        trace_id INTEGER
    );
    CREATE INDEX logs_ts ON logs(ts_ms);
    CREATE INDEX logs_request ON logs(request_id) WHERE request_id IS NOT NULL;
    CREATE INDEX logs_trace ON logs(trace_id) WHERE trace_id IS NOT NULL;
    -- Token presence only (detail=none): the smallest, fastest index; queries are ANDed tokens.
    CREATE VIRTUAL TABLE logs_fts USING fts5(message, content='', contentless_delete=1, detail=none);

    CREATE TABLE trace_stats (
        id INTEGER PRIMARY KEY,
        bucket_start_ns INTEGER NOT NULL,
        bucket_duration_ns INTEGER NOT NULL,
        env TEXT NOT NULL,
        service TEXT NOT NULL,
        name TEXT NOT NULL,
        resource TEXT NOT NULL,
        type TEXT NOT NULL,
        http_status_code INTEGER NOT NULL,
        hits INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        top_level_hits INTEGER NOT NULL,
        duration_ns INTEGER NOT NULL
    );
    CREATE INDEX trace_stats_start ON trace_stats(bucket_start_ns);

    CREATE TABLE invocations (
        request_id TEXT PRIMARY KEY,
        function TEXT,
        start_ms INTEGER,
        start_from_span INTEGER NOT NULL DEFAULT 0,
        cold_start INTEGER,
        duration_ms REAL,
        span_duration_ms REAL,
        billed_ms REAL,
        memory_mb INTEGER,
        max_memory_mb INTEGER,
        init_ms REAL,
        error INTEGER NOT NULL DEFAULT 0,
        timeout INTEGER NOT NULL DEFAULT 0,
        oom INTEGER NOT NULL DEFAULT 0,
        error_type TEXT,
        trace_id INTEGER,
        trigger TEXT,
        architecture TEXT
    );
    CREATE INDEX invocations_function_start ON invocations(function, start_ms);
    CREATE INDEX invocations_start ON invocations(start_ms);

    -- Per-minute rollups of invocations: the homepage reads only these.
    CREATE TABLE function_minutes (
        function TEXT NOT NULL,
        minute INTEGER NOT NULL,       -- start_ms / 60000
        invocations INTEGER NOT NULL,
        errors INTEGER NOT NULL,
        cold_starts INTEGER NOT NULL,
        timeouts INTEGER NOT NULL,
        ooms INTEGER NOT NULL,
        duration_sketch BLOB,          -- protobuf Dogsketch of durations in ms
        max_memory_mb INTEGER,
        cost_usd REAL NOT NULL,
        last_seen_ms INTEGER NOT NULL,
        PRIMARY KEY (function, minute)
    ) WITHOUT ROWID;
    CREATE INDEX function_minutes_minute ON function_minutes(minute);
    "#,
];

/// The schema version this build writes.
pub const CURRENT_VERSION: usize = MIGRATIONS.len();

/// Applies every migration newer than the database's `user_version`.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: usize =
        conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied schema migration");
    }
    Ok(())
}

/// Connection settings: WAL so readers never block the writer, `synchronous=NORMAL`
/// so a commit costs no fsync yet survives a process crash (only an OS crash or power
/// loss can drop the last commits).
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // Takes effect only when the file is created (before WAL mode): fewer, fuller
    // B-tree pages for append-heavy tables.
    conn.pragma_update(None, "page_size", 8192)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}
