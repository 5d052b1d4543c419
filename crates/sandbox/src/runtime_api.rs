//! Runtime API `2018-06-01`: `invocation/next`, `invocation/{id}/response`, `invocation/{id}/error`,
//! `init/error`.

use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::oneshot;

use crate::api::{self, ApiResponse};
use crate::lifecycle::Ctx;
use crate::state::{Phase, PostedError, RuntimeAnswer};

/// Largest buffered response Lambda accepts: 6 MiB + 100 bytes.
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;

pub(crate) const HEADER_ERROR_TYPE: &str = "Lambda-Runtime-Function-Error-Type";

pub(crate) async fn handle(
    ctx: &Ctx,
    method: &Method,
    rest: &str,
    req: Request<Incoming>,
) -> ApiResponse {
    match (method, rest) {
        (&Method::GET, "invocation/next") => next(ctx).await,
        (&Method::POST, "init/error") => init_error(ctx, req).await,
        (&Method::POST, _) => {
            let mut parts = rest.split('/');
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some("invocation"), Some(id), Some("response"), None) => {
                    answer(ctx, id.to_string(), req, false).await
                }
                (Some("invocation"), Some(id), Some("error"), None) => {
                    answer(ctx, id.to_string(), req, true).await
                }
                _ => api::error(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    "unknown Runtime API path",
                ),
            }
        }
        _ => api::error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "unknown Runtime API path",
        ),
    }
}

async fn next(ctx: &Ctx) -> ApiResponse {
    let (tx, rx) = oneshot::channel();
    {
        let mut inner = ctx.shared.lock();
        inner.runtime.waiter = Some(tx);
        inner.runtime.next_calls += 1;
        inner.runtime.last_next = Some(Instant::now());
        // Internal extensions may register until the runtime's first `next`.
        inner.registration_open = false;
    }
    ctx.shared.bump();
    let Ok(inv) = rx.await else {
        return api::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Sandbox.ShuttingDown",
            "the environment is shutting down",
        );
    };
    let mut resp = Response::builder()
        .status(StatusCode::OK)
        // awslambdaric crashes (exit 139) when `next` has no Content-Type.
        .header("Content-Type", "application/json")
        .header("Lambda-Runtime-Aws-Request-Id", &inv.request_id)
        .header("Lambda-Runtime-Deadline-Ms", inv.deadline_ms.to_string())
        .header("Lambda-Runtime-Invoked-Function-Arn", &inv.function_arn);
    if let Some(trace) = &inv.trace_id {
        resp = resp.header("Lambda-Runtime-Trace-Id", trace);
    }
    if let Some(cc) = &inv.client_context {
        resp = resp.header("Lambda-Runtime-Client-Context", cc);
    }
    if let Some(ci) = &inv.cognito_identity {
        resp = resp.header("Lambda-Runtime-Cognito-Identity", ci);
    }
    resp.body(Full::new(inv.payload)).unwrap_or_default()
}

async fn answer(ctx: &Ctx, id: String, req: Request<Incoming>, is_error: bool) -> ApiResponse {
    let started = Instant::now();
    let error_type = api::header(&req, HEADER_ERROR_TYPE);
    let body = match api::read_body(req).await {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let done = Instant::now();
    let too_large = !is_error && body.len() > MAX_RESPONSE_BYTES;
    {
        let mut inner = ctx.shared.lock();
        let rt = &mut inner.runtime;
        if rt.current.as_deref() != Some(id.as_str()) || rt.answer.is_some() {
            return api::error(
                StatusCode::BAD_REQUEST,
                "InvalidRequestID",
                "Invalid request ID",
            );
        }
        rt.answer_started = Some(started);
        rt.answer_done = Some(done);
        rt.answer = Some(if too_large {
            RuntimeAnswer::TooLarge
        } else if is_error {
            RuntimeAnswer::Error(PostedError { error_type, body })
        } else {
            RuntimeAnswer::Response(body)
        });
        inner.answered.insert(id);
    }
    ctx.shared.bump();
    if too_large {
        return api::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
        );
    }
    api::accepted()
}

async fn init_error(ctx: &Ctx, req: Request<Incoming>) -> ApiResponse {
    let error_type = api::header(&req, HEADER_ERROR_TYPE);
    let body: Bytes = match api::read_body(req).await {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    {
        let mut inner = ctx.shared.lock();
        if inner.phase != Phase::Init {
            return api::error(
                StatusCode::FORBIDDEN,
                "InvalidStateTransition",
                "init/error is only accepted during init",
            );
        }
        inner.runtime.init_error = Some(PostedError { error_type, body });
    }
    ctx.shared.bump();
    api::accepted()
}
