//! The DogStatsD UDP listener on 127.0.0.1:8125.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;

use super::Aggregator;

/// Largest datagram read (clients send at most 8 KiB; 64 KiB is the UDP maximum).
const DATAGRAM_BUFFER: usize = 65_536;

/// Binds the DogStatsD socket. Port 0 picks a free port (tests).
pub async fn bind(port: u16) -> std::io::Result<UdpSocket> {
    UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], port))).await
}

/// Reads datagrams forever into `aggregator`.
pub async fn serve(socket: UdpSocket, aggregator: Arc<Mutex<Aggregator>>) {
    let mut buffer = vec![0u8; DATAGRAM_BUFFER];
    loop {
        let n = match socket.recv(&mut buffer).await {
            Ok(n) => n,
            Err(err) => {
                tracing::debug!(%err, "DogStatsD receive failed");
                continue;
            }
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        if let Ok(mut agg) = aggregator.lock() {
            agg.ingest_datagram(&buffer[..n], now);
            // Drain whatever else is already queued under the same lock.
            while let Ok(n) = socket.try_recv(&mut buffer) {
                agg.ingest_datagram(&buffer[..n], now);
            }
        }
    }
}
