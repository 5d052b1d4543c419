//! The HTTP side of the trace agent: the trace API on 127.0.0.1:8126 (`/v0.4/traces`,
//! `/v0.5/traces`, `/v0.6/stats`, `/info`) and the lifecycle API on 127.0.0.1:8124
//! (`/lambda/start-invocation`, `/lambda/end-invocation`, `/lambda/flush`,
//! `GET /lambda/hello`), as documented in docs/python.md.
//!
//! Both bind loopback only: nothing outside the sandbox may inject spans. A body over the
//! size limit gets 413, a malformed trace body 400 with the reason; nothing a client sends
//! can stop the servers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use lambdascope_wire::tracer_payload::TraceApiVersion;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use super::agent::TraceAgent;
use super::processor::TracerMeta;

pub const TRACE_API_PORT: u16 = 8126;
pub const LIFECYCLE_API_PORT: u16 = 8124;
/// Largest trace body accepted (ddtrace splits payloads well below this).
pub const MAX_TRACE_BODY: usize = 32 * 1024 * 1024;
/// Lambda payloads are at most 6 MB (20 MB streamed); events and responses beyond that
/// are not parsed.
pub const MAX_LIFECYCLE_BODY: usize = 24 * 1024 * 1024;
/// Header carrying the request id on lifecycle calls.
pub const REQUEST_ID_HEADER: &str = "lambda-runtime-aws-request-id";

type Body = Full<Bytes>;

fn respond(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

fn header(req: &Request<hyper::body::Incoming>, name: &str) -> Option<String> {
    req.headers().get(name)?.to_str().ok().map(str::to_string)
}

/// Binds `127.0.0.1:port` (0 = any free port, for tests).
pub async fn bind_loopback(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await
}

async fn read_body(
    req: Request<hyper::body::Incoming>,
    limit: usize,
) -> Result<Bytes, Response<Body>> {
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(respond(
            StatusCode::PAYLOAD_TOO_LARGE,
            "text/plain",
            format!("body larger than {limit} bytes; send smaller payloads\n"),
        )),
        Err(err) => Err(respond(
            StatusCode::BAD_REQUEST,
            "text/plain",
            format!("body could not be read: {err}\n"),
        )),
    }
}

/// What `/info` says: the endpoints ddtrace may use and the agent's configuration.
pub fn info_body() -> String {
    serde_json::json!({
        "version": concat!("lambdascope-extension-", env!("CARGO_PKG_VERSION")),
        "endpoints": ["/v0.4/traces", "/v0.5/traces", "/v0.6/stats", "/info"],
        "client_drop_p0s": false,
        "span_meta_structs": false,
        "long_running_spans": false,
        "config": {"receiver_port": TRACE_API_PORT, "statsd_port": 8125, "default_env": "none"},
        "rate_by_service": {"service:,env:": 1.0},
    })
    .to_string()
}

/// The answer to a trace request: every service kept at rate 1 (the extension does not
/// sample; the tracer's own rules decide).
const RATE_BY_SERVICE: &str = r#"{"rate_by_service":{"service:,env:":1.0}}"#;

async fn trace_api(agent: Arc<TraceAgent>, req: Request<hyper::body::Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    match (method, path.as_str()) {
        (Method::GET, "/info") => respond(StatusCode::OK, "application/json", info_body()),
        (Method::PUT | Method::POST, "/v0.4/traces" | "/v0.5/traces") => {
            let version = if path == "/v0.5/traces" {
                TraceApiVersion::V05
            } else {
                TraceApiVersion::V04
            };
            let content_type = header(&req, "content-type");
            let tracer = TracerMeta {
                language: header(&req, "datadog-meta-lang").unwrap_or_default(),
                language_version: header(&req, "datadog-meta-lang-version").unwrap_or_default(),
                tracer_version: header(&req, "datadog-meta-tracer-version").unwrap_or_default(),
                container_id: header(&req, "datadog-container-id").unwrap_or_default(),
                client_computed_stats: header(&req, "datadog-client-computed-stats")
                    .is_some_and(|v| !v.is_empty() && v != "false" && v != "0"),
            };
            let body = match read_body(req, MAX_TRACE_BODY).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            match agent.receive_traces(version, content_type.as_deref(), &body, &tracer) {
                Ok(_) => respond(StatusCode::OK, "application/json", RATE_BY_SERVICE),
                Err(rejected) => {
                    tracing::debug!(error = %rejected, "trace payload rejected");
                    respond(
                        StatusCode::BAD_REQUEST,
                        "text/plain",
                        format!("{rejected}\n"),
                    )
                }
            }
        }
        (Method::PUT | Method::POST, "/v0.6/stats") => match read_body(req, MAX_TRACE_BODY).await {
            Ok(body) => {
                agent.receive_stats(body);
                respond(StatusCode::OK, "text/plain", "OK")
            }
            Err(r) => r,
        },
        _ => respond(
            StatusCode::NOT_FOUND,
            "text/plain",
            format!("{path} is not a trace agent endpoint\n"),
        ),
    }
}

async fn lifecycle_api(
    agent: Arc<TraceAgent>,
    flush: Arc<Notify>,
    req: Request<hyper::body::Incoming>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let request_id = header(&req, REQUEST_ID_HEADER);
    match (method, path.as_str()) {
        (Method::GET, "/lambda/hello") => respond(StatusCode::OK, "text/plain", "OK"),
        (Method::POST, "/lambda/start-invocation") => {
            let body = read_body(req, MAX_LIFECYCLE_BODY).await.unwrap_or_default();
            let mut response = respond(StatusCode::OK, "text/plain", "OK");
            for (name, value) in agent.start_invocation(request_id.as_deref(), &body) {
                if let Ok(v) = value.parse() {
                    response.headers_mut().insert(name, v);
                }
            }
            response
        }
        (Method::POST, "/lambda/end-invocation") => {
            let headers = req.headers().clone();
            let body = read_body(req, MAX_LIFECYCLE_BODY).await.unwrap_or_default();
            let lookup = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            agent.end_invocation(request_id.as_deref(), &body, lookup);
            respond(StatusCode::OK, "text/plain", "OK")
        }
        (Method::POST, "/lambda/flush") => {
            flush.notify_one();
            respond(StatusCode::OK, "text/plain", "OK")
        }
        _ => respond(
            StatusCode::NOT_FOUND,
            "text/plain",
            format!("{path} is not a lifecycle endpoint\n"),
        ),
    }
}

/// Serves the trace API on `listener` forever.
pub async fn serve_trace_api(listener: TcpListener, agent: Arc<TraceAgent>) {
    serve(listener, move |req| {
        let agent = agent.clone();
        async move { trace_api(agent, req).await }
    })
    .await
}

/// Serves the lifecycle API on `listener` forever; `/lambda/flush` wakes `flush`.
pub async fn serve_lifecycle_api(
    listener: TcpListener,
    agent: Arc<TraceAgent>,
    flush: Arc<Notify>,
) {
    serve(listener, move |req| {
        let (agent, flush) = (agent.clone(), flush.clone());
        async move { lifecycle_api(agent, flush, req).await }
    })
    .await
}

async fn serve<F, Fut>(listener: TcpListener, handler: F)
where
    F: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Body>> + Send + 'static,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(handler(req).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests;
