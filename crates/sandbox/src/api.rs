//! The HTTP server behind `AWS_LAMBDA_RUNTIME_API`: one listener, routed by version prefix to the
//! Runtime API (`2018-06-01`), the Extensions API (`2020-01-01`) and the Telemetry API (`2022-07-01`).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use lambdascope_wire::extensions_api::{ErrorResponse, TELEMETRY_API_PATH};
use tokio::net::TcpListener;

use crate::lifecycle::Ctx;
use crate::{extensions_api, runtime_api};

pub(crate) type ApiResponse = Response<Full<Bytes>>;

/// Bodies beyond this are refused outright (the 6 MiB response limit is checked separately).
const MAX_BODY: usize = 64 * 1024 * 1024;

/// Serves the APIs on `listener` until the task is aborted.
pub(crate) async fn serve(listener: TcpListener, ctx: Arc<Ctx>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        // Without it, Nagle + delayed ACK add 40 ms to exchanges with the runtime client.
        let _ = stream.set_nodelay(true);
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let ctx = ctx.clone();
                async move { Ok::<_, Infallible>(route(ctx, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn route(ctx: Arc<Ctx>, req: Request<Incoming>) -> ApiResponse {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    if let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") {
        return runtime_api::handle(&ctx, &method, rest, req).await;
    }
    if let Some(rest) = path.strip_prefix("/2020-01-01/extension/") {
        return extensions_api::handle(&ctx, &method, rest, req).await;
    }
    if path == TELEMETRY_API_PATH && method == Method::PUT {
        return crate::telemetry::subscribe(&ctx, req).await;
    }
    if path == "/2020-08-15/logs" {
        return json(
            StatusCode::ACCEPTED,
            &ErrorResponse::new(
                "Logs.NotSupported",
                "Logs API is not supported by lambdascope; subscribe with the Telemetry API",
            ),
        );
    }
    if path == "/2018-06-01/ping" {
        return text(StatusCode::OK, "pong");
    }
    error(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("no route for {method} {path}"),
    )
}

/// Reads a whole request body (bounded).
pub(crate) async fn read_body(req: Request<Incoming>) -> Result<Bytes, Box<ApiResponse>> {
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(body) => Ok(body.to_bytes()),
        Err(_) => Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            "TruncatedHTTPRequest",
            "the request body could not be read",
        ))),
    }
}

pub(crate) fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

pub(crate) fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> ApiResponse {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .unwrap_or_default()
}

pub(crate) fn text(status: StatusCode, body: &'static str) -> ApiResponse {
    Response::builder()
        .status(status)
        .header("Content-Type", "text/plain")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap_or_default()
}

pub(crate) fn error(status: StatusCode, error_type: &str, message: &str) -> ApiResponse {
    json(status, &ErrorResponse::new(error_type, message))
}

pub(crate) fn accepted() -> ApiResponse {
    json(StatusCode::ACCEPTED, &serde_json::json!({"status": "OK"}))
}
