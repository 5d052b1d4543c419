//! A stand-in for the Lambda platform (a benchmark fake, named as such): the Extensions API
//! (register, event/next, telemetry subscribe) on loopback, plus a driver that hands out
//! INVOKE/SHUTDOWN events and POSTs telemetry batches to the extension's listener. It lets the
//! benchmark time exactly the extension's own part of each phase.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambdascope_extension::http_client::HttpClient;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Mutex as AsyncMutex};

pub struct StandIn {
    pub addr: SocketAddr,
    events: mpsc::UnboundedSender<Value>,
    /// When each `event/next` call arrived.
    pub next_calls: Arc<Mutex<Vec<Instant>>>,
    pub telemetry_port: Arc<Mutex<Option<u16>>>,
    http: HttpClient,
}

impl StandIn {
    pub async fn start() -> StandIn {
        StandIn::start_with(false).await
    }

    /// `refuse_telemetry`: answer the subscription as the AWS RIE does (202
    /// `Telemetry.NotSupported`) and never deliver anything.
    pub async fn start_with(refuse_telemetry: bool) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel::<Value>();
        let rx = Arc::new(AsyncMutex::new(rx));
        let next_calls = Arc::new(Mutex::new(Vec::new()));
        let telemetry_port = Arc::new(Mutex::new(None));
        let (nc, tp) = (next_calls.clone(), telemetry_port.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (rx, nc, tp) = (rx.clone(), nc.clone(), tp.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let (rx, nc, tp) = (rx.clone(), nc.clone(), tp.clone());
                        async move {
                            let path = req.uri().path().to_string();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let mut response = hyper::Response::new(Full::new(Bytes::new()));
                            if path.ends_with("/register") {
                                response.headers_mut().insert(
                                    "Lambda-Extension-Identifier",
                                    "bench-ext-id".parse().unwrap(),
                                );
                                *response.body_mut() = Full::new(Bytes::from(
                                    json!({"functionName":"bench","functionVersion":"$LATEST","handler":"app.handler","accountId":"123456789012"}).to_string(),
                                ));
                            } else if path.ends_with("/telemetry") && refuse_telemetry {
                                *response.status_mut() = hyper::StatusCode::ACCEPTED;
                                *response.body_mut() = Full::new(Bytes::from_static(
                                    br#"{"errorMessage":"Telemetry API is not supported","errorType":"Telemetry.NotSupported"}"#,
                                ));
                            } else if path.ends_with("/telemetry") {
                                let sub: Value =
                                    serde_json::from_slice(&body).unwrap_or(Value::Null);
                                let uri = sub["destination"]["URI"].as_str().unwrap_or("");
                                let port = uri
                                    .rsplit(':')
                                    .next()
                                    .and_then(|p| p.trim_end_matches('/').parse().ok());
                                *tp.lock().unwrap() = port;
                                *response.body_mut() = Full::new(Bytes::from_static(b"\"OK\""));
                            } else if path.ends_with("/event/next") {
                                nc.lock().unwrap().push(Instant::now());
                                let event = rx.lock().await.recv().await.unwrap_or(json!({"eventType":"SHUTDOWN","deadlineMs":0,"shutdownReason":"spindown"}));
                                *response.body_mut() = Full::new(Bytes::from(event.to_string()));
                            }
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        StandIn {
            addr,
            events: tx,
            next_calls,
            telemetry_port,
            http: HttpClient::default(),
        }
    }

    pub fn invoke(&self, request_id: &str) {
        self.invoke_within(request_id, 10_000);
    }

    /// An INVOKE whose deadline is `deadline_in_ms` from now.
    pub fn invoke_within(&self, request_id: &str, deadline_in_ms: u64) {
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + deadline_in_ms;
        let _ = self.events.send(json!({
            "eventType": "INVOKE", "deadlineMs": deadline, "requestId": request_id,
            "invokedFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:bench",
            "tracing": {"type": "X-Amzn-Trace-Id", "value": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"}
        }));
    }

    pub fn shutdown(&self) {
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + 2_000;
        let _ = self.events.send(
            json!({"eventType":"SHUTDOWN","deadlineMs":deadline,"shutdownReason":"spindown"}),
        );
    }

    pub async fn wait_next(&self, count: usize) -> Instant {
        loop {
            if let Some(t) = self.next_calls.lock().unwrap().get(count - 1) {
                return *t;
            }
            tokio::time::sleep(Duration::from_micros(50)).await;
        }
    }

    /// POSTs one telemetry batch to the extension's listener.
    pub async fn telemetry(&self, events: Value) {
        let port = loop {
            if let Some(p) = *self.telemetry_port.lock().unwrap() {
                break p;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        let url = format!("http://127.0.0.1:{port}/");
        let _ = self
            .http
            .send(
                http::Method::POST,
                &url,
                &[("Content-Type", "application/json")],
                Bytes::from(events.to_string()),
                Some(Duration::from_secs(5)),
            )
            .await;
    }
}

pub fn now_text() -> String {
    lambdascope_wire::telemetry::format_time(std::time::SystemTime::now())
}

/// A stand-in intake that reads each body and answers 202 at once (isolates the extension's
/// own cost from the storage cost of a real intake).
pub async fn discard_intake() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let _ = req.into_body().collect().await;
                    let mut r = hyper::Response::new(Full::new(Bytes::from_static(b"{}")));
                    *r.status_mut() = hyper::StatusCode::ACCEPTED;
                    Ok::<_, Infallible>(r)
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}
