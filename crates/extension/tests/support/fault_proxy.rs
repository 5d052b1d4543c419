//! A fault-injecting HTTP proxy (a test fake, named as such) in front of the real intake:
//! it forwards requests unchanged, or answers 500, or drops connections ("down"), or delays.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambdascope_extension::http_client::HttpClient;
use tokio::net::TcpListener;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    Pass,
    Status500,
    Down,
    Delay(Duration),
}

pub struct FaultProxy {
    pub port: u16,
    fault: Arc<Mutex<Fault>>,
    pub forwarded: Arc<AtomicU64>,
    pub failed: Arc<AtomicU64>,
}

impl FaultProxy {
    pub async fn start(target_port: u16, fault: Fault) -> FaultProxy {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let fault = Arc::new(Mutex::new(fault));
        let forwarded = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let (f, fw, fl) = (fault.clone(), forwarded.clone(), failed.clone());
        tokio::spawn(async move {
            let http = HttpClient::default();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let mode = *f.lock().unwrap();
                if mode == Fault::Down {
                    fl.fetch_add(1, Ordering::Relaxed);
                    drop(stream);
                    continue;
                }
                let (f, fw, fl, http) = (f.clone(), fw.clone(), fl.clone(), http.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (f, fw, fl, http) = (f.clone(), fw.clone(), fl.clone(), http.clone());
                        async move {
                            let mode = *f.lock().unwrap();
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let reply = |status: u16, body: Bytes| {
                                let mut r = hyper::Response::new(Full::new(body));
                                *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                                Ok::<_, Infallible>(r)
                            };
                            match mode {
                                Fault::Status500 | Fault::Down => {
                                    fl.fetch_add(1, Ordering::Relaxed);
                                    return reply(500, Bytes::from_static(b"injected failure"));
                                }
                                Fault::Delay(d) => tokio::time::sleep(d).await,
                                Fault::Pass => {}
                            }
                            let headers: Vec<(String, String)> = parts
                                .headers
                                .iter()
                                .filter(|(k, _)| {
                                    k.as_str() != "host" && k.as_str() != "content-length"
                                })
                                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                                .collect();
                            let refs: Vec<(&str, &str)> = headers
                                .iter()
                                .map(|(k, v)| (k.as_str(), v.as_str()))
                                .collect();
                            let url = format!("http://127.0.0.1:{target_port}{}", parts.uri);
                            match http
                                .send(
                                    parts.method,
                                    &url,
                                    &refs,
                                    body,
                                    Some(Duration::from_secs(30)),
                                )
                                .await
                            {
                                Ok(r) => {
                                    fw.fetch_add(1, Ordering::Relaxed);
                                    reply(r.status, r.body)
                                }
                                Err(e) => reply(502, Bytes::from(e.to_string())),
                            }
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FaultProxy {
            port,
            fault,
            forwarded,
            failed,
        }
    }

    pub fn set(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }
}
