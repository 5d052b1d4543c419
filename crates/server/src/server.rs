//! Starting and stopping the server: store, keys, router, retention sweep.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api_keys::{self, ApiKeyError};
use crate::config::ServerConfig;
use crate::http::{self, AppState};
use crate::store::sqlite::SqliteStore;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    ApiKey(#[from] ApiKeyError),
    #[error("cannot listen on {addr}: {source}; pick another --listen address or stop the process using it")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}

/// Entry point of the library: `Server::start(config).await`.
pub struct Server;

impl Server {
    /// Opens the store, resolves keys, binds and serves in the background.
    pub async fn start(config: ServerConfig) -> Result<RunningServer, ServerError> {
        let data_dir = config.data_dir.clone();
        let configured = config_keys(&config.api_keys);
        let (store, resolved) = tokio::task::spawn_blocking(move || {
            let store = SqliteStore::open(&data_dir)?;
            let keys = api_keys::resolve(&configured, &data_dir)?;
            Ok::<_, ServerError>((store, keys))
        })
        .await
        .expect("startup task does not panic")?;
        if resolved.generated {
            // Printed once, on the run that created it; it is never logged.
            eprintln!(
                "lambdascope server: generated API key {} (stored in {}); point DD_API_KEY at it",
                resolved.keys.primary(),
                config.data_dir.join(api_keys::GENERATED_KEY_FILE).display()
            );
        }
        let store = Arc::new(store);
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
        let state = AppState {
            store: store.clone() as Arc<dyn Store>,
            keys: resolved.keys.clone(),
            max_decompressed_bytes: config.max_decompressed_bytes,
        };
        let app = http::router(
            state,
            config.max_body_bytes,
            config.open_query_api,
            config.extra_routes.clone(),
        );
        let app = match config.ui.clone() {
            Some(access) => crate::ui::mount(app, access, store.clone()),
            None => app,
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut serve_stop = stop_rx.clone();
        let serve = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = serve_stop.wait_for(|stop| *stop).await;
                })
                .await
        });
        let retention = tokio::spawn(retention_loop(store.clone(), config.clone(), stop_rx));
        tracing::info!(%addr, data_dir = %config.data_dir.display(), "lambdascope server listening");
        Ok(RunningServer {
            addr,
            api_key: resolved.keys.primary().to_owned(),
            data_dir: config.data_dir,
            store,
            stop: stop_tx,
            serve,
            retention,
        })
    }
}

fn config_keys(keys: &[String]) -> Vec<String> {
    keys.iter()
        .flat_map(|k| k.split(','))
        .map(str::to_owned)
        .collect()
}

/// A server running in the background of the current tokio runtime.
pub struct RunningServer {
    addr: SocketAddr,
    api_key: String,
    data_dir: PathBuf,
    store: Arc<SqliteStore>,
    stop: watch::Sender<bool>,
    serve: JoinHandle<std::io::Result<()>>,
    retention: JoinHandle<()>,
}

impl RunningServer {
    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A key the server accepts (the first configured one, or the generated one).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// `http://<addr>`, ready for `DD_DD_URL` and friends.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    /// The store behind the API (for in-process tests and benchmarks).
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// Stops accepting, lets in-flight requests finish, then flushes and closes the store.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        let _ = self.stop.send(true);
        let served = self.serve.await;
        let _ = self.retention.await;
        let store = self.store.clone();
        let _ = tokio::task::spawn_blocking(move || store.close()).await;
        match served {
            Ok(result) => result.map_err(ServerError::Serve),
            Err(join) => Err(ServerError::Serve(std::io::Error::other(join.to_string()))),
        }
    }
}

async fn retention_loop(
    store: Arc<SqliteStore>,
    config: ServerConfig,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(config.retention_interval.max(Duration::from_millis(100)));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        let cutoff = crate::http::now_ms() - config.retention.as_millis() as i64;
        // Small transactions, one after another, so ingest never waits long behind a sweep.
        loop {
            let store = store.clone();
            let rows = config.retention_batch_rows;
            let deleted =
                tokio::task::spawn_blocking(move || store.delete_older_than(cutoff, rows)).await;
            match deleted {
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => tracing::debug!(deleted = n, "retention sweep"),
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "retention sweep failed; will retry");
                    break;
                }
                Err(_) => break,
            }
            if *stop.borrow() {
                return;
            }
            tokio::task::yield_now().await;
        }
    }
}
