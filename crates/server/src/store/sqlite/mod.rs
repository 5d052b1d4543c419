//! The embedded default backend: one SQLite file in WAL mode.
//!
//! One dedicated writer thread owns the only write connection and commits each
//! payload atomically (payloads queued together share one commit; if that fails
//! each is retried alone), so writers never contend for SQLite's single write lock and a payload
//! is acknowledged only after the commit that holds it. Readers use a small pool of
//! read connections, which WAL lets run alongside the writer.

mod query;
mod records;
mod schema;
mod write;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;

use rusqlite::{Connection, OpenFlags};

use super::{
    FunctionMetric, FunctionSummary, InvocationQuery, InvocationRecord, LogQuery, LogRecord,
    MetricQuery, MetricResult, Page, SpanQuery, SpanRecord, Store, StoreError, TimeRange,
    TimeseriesPoint, WriteBatch,
};

pub use schema::CURRENT_VERSION as SCHEMA_VERSION;

/// The database file name inside the data directory.
pub const DATABASE_FILE: &str = "lambdascope.db";

const READ_POOL_SIZE: usize = 4;

enum WriterJob {
    Write(WriteBatch, mpsc::SyncSender<Result<(), StoreError>>),
    Retain(i64, usize, mpsc::SyncSender<Result<u64, StoreError>>),
}

pub struct SqliteStore {
    path: PathBuf,
    jobs: Mutex<Option<mpsc::Sender<WriterJob>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    readers: Mutex<Vec<Connection>>,
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) `<data_dir>/lambdascope.db`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let mut conn = Connection::open(&path)?;
        schema::configure(&conn)?;
        schema::migrate(&mut conn)?;
        let (tx, rx) = mpsc::channel::<WriterJob>();
        let writer = std::thread::Builder::new()
            .name("lambdascope-sqlite-writer".into())
            .spawn(move || run_writer(conn, rx))
            .map_err(|source| StoreError::DataDir {
                path: path.display().to_string(),
                source,
            })?;
        Ok(SqliteStore {
            path,
            jobs: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the writer after the jobs already queued; later writes fail with `WriterGone`.
    pub fn close(&self) {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = handle.join();
        }
    }

    fn send(&self, job: WriterJob) -> Result<(), StoreError> {
        let guard = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .ok_or(StoreError::WriterGone)?
            .send(job)
            .map_err(|_| StoreError::WriterGone)
    }

    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY
                        | OpenFlags::SQLITE_OPEN_NO_MUTEX
                        | OpenFlags::SQLITE_OPEN_URI,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(10))?;
                c.pragma_update(None, "cache_size", -32_768)?;
                c
            }
        };
        let result = f(&conn);
        let mut pool = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < READ_POOL_SIZE {
            pool.push(conn);
        }
        result
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close();
    }
}

/// Most payloads committed together when several are queued (group commit).
const MAX_GROUP: usize = 32;

fn run_writer(mut conn: Connection, jobs: mpsc::Receiver<WriterJob>) {
    let mut pending: Option<WriterJob> = None;
    loop {
        let job = match pending.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => break,
            },
        };
        match job {
            WriterJob::Write(batch, reply) => {
                let mut group = vec![(batch, reply)];
                while group.len() < MAX_GROUP {
                    match jobs.try_recv() {
                        Ok(WriterJob::Write(b, r)) => group.push((b, r)),
                        Ok(other) => {
                            pending = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                write_group(&mut conn, group);
            }
            WriterJob::Retain(cutoff, max_rows, reply) => {
                let result = (|| {
                    let tx = conn.transaction()?;
                    let n = write::delete_older_than(&tx, cutoff, max_rows)?;
                    tx.commit()?;
                    Ok(n)
                })();
                let _ = reply.send(result);
            }
        }
    }
    // A final checkpoint keeps the WAL small across restarts; failure is harmless.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);");
}

type Reply = mpsc::SyncSender<Result<(), StoreError>>;

/// Commits queued payloads in one transaction and answers nobody before the commit.
/// If anything fails, the group is rolled back and each payload is retried in its
/// own transaction, so only a payload that fails by itself is refused.
fn write_group(conn: &mut Connection, group: Vec<(WriteBatch, Reply)>) {
    if group.len() > 1 {
        let together = (|| {
            let tx = conn.transaction()?;
            for (batch, _) in &group {
                write::apply(&tx, batch)?;
            }
            tx.commit()
        })();
        match together {
            Ok(()) => {
                for (_, reply) in group {
                    let _ = reply.send(Ok(()));
                }
                return;
            }
            Err(err) => {
                tracing::debug!(error = %err, "group commit failed; retrying payloads one by one")
            }
        }
    }
    for (batch, reply) in group {
        let result = (|| {
            let tx = conn.transaction()?;
            write::apply(&tx, &batch)?;
            tx.commit()
        })();
        if let Err(err) = &result {
            tracing::warn!(error = %err, "payload not stored; transaction rolled back");
        }
        let _ = reply.send(result.map_err(StoreError::from));
    }
}

impl Store for SqliteStore {
    fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let (reply, done) = mpsc::sync_channel(1);
        self.send(WriterJob::Write(batch, reply))?;
        done.recv().map_err(|_| StoreError::WriterGone)?
    }

    fn delete_older_than(&self, cutoff_ms: i64, max_rows: usize) -> Result<u64, StoreError> {
        let (reply, done) = mpsc::sync_channel(1);
        self.send(WriterJob::Retain(cutoff_ms, max_rows, reply))?;
        done.recv().map_err(|_| StoreError::WriterGone)?
    }

    fn functions(&self, range: TimeRange) -> Result<Vec<FunctionSummary>, StoreError> {
        self.with_reader(|c| query::functions(c, range))
    }

    fn function_timeseries(
        &self,
        function: &str,
        metric: FunctionMetric,
        range: TimeRange,
        step_ms: i64,
    ) -> Result<Vec<TimeseriesPoint>, StoreError> {
        self.with_reader(|c| query::function_timeseries(c, function, metric, range, step_ms))
    }

    fn invocations(&self, q: &InvocationQuery) -> Result<Page<InvocationRecord>, StoreError> {
        self.with_reader(|c| query::invocations(c, q))
    }

    fn trace(&self, trace_id: u64) -> Result<Vec<SpanRecord>, StoreError> {
        self.with_reader(|c| query::trace(c, trace_id))
    }

    fn spans(&self, q: &SpanQuery) -> Result<Page<SpanRecord>, StoreError> {
        self.with_reader(|c| query::spans(c, q))
    }

    fn metrics(&self, q: &MetricQuery) -> Result<MetricResult, StoreError> {
        self.with_reader(|c| query::metrics(c, q))
    }

    fn logs(&self, q: &LogQuery) -> Result<Page<LogRecord>, StoreError> {
        self.with_reader(|c| query::logs(c, q))
    }
}
