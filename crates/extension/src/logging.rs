//! The extension's own log output: one line per event on stdout, prefixed so it is
//! recognisable among the function's logs (the platform forwards it as `extension` records).

/// Installs the subscriber at the level of `DD_LOG_LEVEL` (default info).
pub fn init() {
    let level = match std::env::var("DD_LOG_LEVEL")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "trace" => tracing::Level::TRACE,
        "debug" => tracing::Level::DEBUG,
        "warn" | "warning" => tracing::Level::WARN,
        "error" | "critical" | "off" => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_ansi(false)
        .without_time()
        .with_writer(std::io::stdout)
        .try_init();
}
