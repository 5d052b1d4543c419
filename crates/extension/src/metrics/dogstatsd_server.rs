//! The DogStatsD UDP listener on 127.0.0.1:8125.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;

use super::Aggregator;

/// Largest datagram read (clients send at most 8 KiB; 64 KiB is the UDP maximum).
const DATAGRAM_BUFFER: usize = 65_536;

/// Datagrams handled per wake-up before yielding to the other tasks.
const DRAIN_PER_WAKE: usize = 256;

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
        {
            let mut agg = aggregator.lock().unwrap_or_else(|e| e.into_inner());
            agg.ingest_datagram(&buffer[..n], now);
            // Drain what is already queued under the same lock, but a bounded amount: on a
            // current-thread runtime a flood must not starve the lifecycle loop.
            for _ in 0..DRAIN_PER_WAKE {
                let Ok(n) = socket.try_recv(&mut buffer) else {
                    break;
                };
                agg.ingest_datagram(&buffer[..n], now);
            }
        }
        tokio::task::yield_now().await;
    }
}

/// Receive buffer asked for: a burst of small datagrams must not overflow the kernel queue
/// while the extension is busy flushing.
const RECEIVE_BUFFER_BYTES: libc::c_int = 8 * 1024 * 1024;

/// Enlarges the socket's receive buffer (forced when privileged, capped by the kernel otherwise).
pub fn enlarge_receive_buffer(socket: &UdpSocket) {
    use std::os::fd::AsRawFd;
    let fd = socket.as_raw_fd();
    let size = RECEIVE_BUFFER_BYTES;
    for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: fd is a live socket owned by `socket`; the value is a c_int of the given size.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return;
        }
    }
}
