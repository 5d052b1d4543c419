//! Server configuration, with every default in one place.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How `lambdascope server` runs. Build with [`ServerConfig::new`] and adjust fields.
#[derive(Clone)]
pub struct ServerConfig {
    /// Where the intake, the query API and the UI listen. Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Holds `lambdascope.db` (+ WAL), `api-key` (the generated key) and optionally `api-keys`.
    pub data_dir: PathBuf,
    /// Accepted API keys. When empty (and `<data_dir>/api-keys` is absent) a key is
    /// generated on first run, stored in `<data_dir>/api-key` (mode 0600) and printed once.
    pub api_keys: Vec<String>,
    /// Data older than this is deleted, a bounded batch at a time.
    pub retention: Duration,
    /// How often the retention sweep runs.
    pub retention_interval: Duration,
    /// Rows per table deleted per retention transaction (keeps each delete short).
    pub retention_batch_rows: usize,
    /// Largest request body accepted on the wire (compressed); larger gets 413.
    pub max_body_bytes: usize,
    /// Largest body after decompression; larger gets 413 (guards against zip bombs).
    pub max_decompressed_bytes: usize,
    /// Serve `/api/...` queries without an API key (the intake always needs one).
    pub open_query_api: bool,
    /// Extra routes (the web UI) merged into the same router, served without a key.
    pub extra_routes: Option<axum::Router>,
    /// The web UI and who may use it (with the query API); `None` serves no UI.
    pub ui: Option<crate::ui::UiAccess>,
}

impl ServerConfig {
    /// Defaults: `127.0.0.1:8080`, 7-day retention swept every minute, 64 MiB bodies
    /// (Datadog's sketch limit is 62 MB), 256 MiB decompressed.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: data_dir.into(),
            api_keys: Vec::new(),
            retention: Duration::from_secs(7 * 24 * 3600),
            retention_interval: Duration::from_secs(60),
            retention_batch_rows: 10_000,
            max_body_bytes: 64 << 20,
            max_decompressed_bytes: 256 << 20,
            open_query_api: false,
            extra_routes: None,
            ui: None,
        }
    }

    /// `$XDG_DATA_HOME/lambdascope`, else `~/.local/share/lambdascope`, else `./lambdascope-data`.
    pub fn default_data_dir() -> PathBuf {
        if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(xdg).join("lambdascope");
        }
        if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(home).join(".local/share/lambdascope");
        }
        PathBuf::from("lambdascope-data")
    }
}

impl std::fmt::Debug for ServerConfig {
    // Never prints the keys themselves.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "api_keys",
                &format_args!("[{} configured]", self.api_keys.len()),
            )
            .field("retention", &self.retention)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_decompressed_bytes", &self.max_decompressed_bytes)
            .field("open_query_api", &self.open_query_api)
            .finish_non_exhaustive()
    }
}
