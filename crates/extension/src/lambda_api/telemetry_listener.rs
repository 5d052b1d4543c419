//! The HTTP endpoint the platform POSTs telemetry batches to.
//!
//! Every batch is answered 200, even one that does not parse: a non-2xx answer makes the
//! platform redeliver the same batch forever. What does not parse is counted and logged.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambdascope_wire::telemetry::{decode_batch, TelemetryEvent};
use tokio::net::TcpListener;

/// A batch is at most 2 × maxBytes plus metadata; this leaves ample room.
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// Receives decoded batches.
pub type BatchHandler = Arc<dyn Fn(Vec<TelemetryEvent>) + Send + Sync>;

/// A bound listener; [`TelemetryListener::serve`] runs it.
pub struct TelemetryListener {
    listener: TcpListener,
    pub rejected_batches: Arc<AtomicU64>,
}

impl TelemetryListener {
    /// Binds `0.0.0.0:port` (0 = any free port).
    pub async fn bind(port: u16) -> std::io::Result<TelemetryListener> {
        let listener = TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port))).await?;
        Ok(TelemetryListener {
            listener,
            rejected_batches: Arc::default(),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Accepts connections forever, handing every decoded batch to `handler`.
    pub async fn serve(self, handler: BatchHandler) {
        loop {
            let Ok((stream, _)) = self.listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            let rejected = self.rejected_batches.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let handler = handler.clone();
                    let rejected = rejected.clone();
                    async move {
                        let body = match Limited::new(request.into_body(), MAX_BATCH_BYTES)
                            .collect()
                            .await
                        {
                            Ok(b) => b.to_bytes(),
                            Err(err) => {
                                tracing::debug!(%err, "telemetry batch could not be read");
                                Bytes::new()
                            }
                        };
                        match decode_batch(&body) {
                            Ok((events, skipped)) => {
                                if skipped > 0 {
                                    tracing::debug!(
                                        skipped,
                                        "telemetry entries without a type were skipped"
                                    );
                                }
                                handler(events);
                            }
                            Err(err) => {
                                rejected.fetch_add(1, Ordering::Relaxed);
                                tracing::debug!(%err, "telemetry batch rejected");
                            }
                        }
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                            b"OK",
                        ))))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }
}
