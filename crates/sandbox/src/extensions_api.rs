//! Extensions API `2020-01-01`: `register`, `event/next`, `init/error`, `exit/error`.

use std::time::Instant;

use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use lambdascope_wire::extensions_api::{
    EventType, RegisterRequest, RegisterResponse, HEADER_EXTENSION_ACCEPT_FEATURE,
    HEADER_EXTENSION_ERROR_TYPE, HEADER_EXTENSION_EVENT_IDENTIFIER, HEADER_EXTENSION_IDENTIFIER,
    HEADER_EXTENSION_NAME,
};
use tokio::sync::oneshot;

use crate::api::{self, ApiResponse};
use crate::lifecycle::Ctx;
use crate::state::{ExtensionSlot, Inner};

/// Lambda allows at most 10 extensions.
const MAX_EXTENSIONS: usize = 10;

pub(crate) async fn handle(
    ctx: &Ctx,
    method: &Method,
    rest: &str,
    req: Request<Incoming>,
) -> ApiResponse {
    match (method, rest) {
        (&Method::POST, "register") => register(ctx, req).await,
        (&Method::GET, "event/next") => next(ctx, req).await,
        (&Method::POST, "init/error") => report_error(ctx, req, "InitError").await,
        (&Method::POST, "exit/error") => report_error(ctx, req, "ExitError").await,
        _ => api::error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "unknown Extensions API path",
        ),
    }
}

fn forbidden(error_type: &str, message: &str) -> ApiResponse {
    api::error(StatusCode::FORBIDDEN, error_type, message)
}

async fn register(ctx: &Ctx, req: Request<Incoming>) -> ApiResponse {
    let name = api::header(&req, HEADER_EXTENSION_NAME).unwrap_or_default();
    let wants_account = api::header(&req, HEADER_EXTENSION_ACCEPT_FEATURE)
        .map(|f| f.split(',').any(|x| x.trim() == "accountId"))
        .unwrap_or(false);
    if name.is_empty() {
        return forbidden(
            "Extension.InvalidExtensionName",
            "Lambda-Extension-Name is required: the executable's file name in /opt/extensions",
        );
    }
    let body = match api::read_body(req).await {
        Ok(b) => b,
        Err(resp) => return *resp,
    };
    let value: serde_json::Value = if body.is_empty() {
        serde_json::json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => return forbidden("InvalidRequestFormat", &format!("bad JSON body: {e}")),
        }
    };
    if value.get("configurationKeys").is_some() {
        return forbidden(
            "InvalidRequestFormat",
            "configurationKeys is no longer supported",
        );
    }
    let request: RegisterRequest = match serde_json::from_value(value) {
        Ok(r) => r,
        Err(e) => return forbidden("Extension.InvalidEventType", &e.to_string()),
    };
    let id = uuid::Uuid::new_v4().to_string();
    {
        let mut inner = ctx.shared.lock();
        if !inner.registration_open {
            return forbidden(
                "Extension.RegistrationClosed",
                "registration is closed: extensions register during init",
            );
        }
        if inner.extensions.iter().any(|e| e.name == name) {
            return forbidden(
                "Extension.InvalidExtensionState",
                &format!("an extension named {name:?} is already registered"),
            );
        }
        if inner.extensions.len() >= MAX_EXTENSIONS {
            return forbidden(
                "Extension.TooManyExtensions",
                "at most 10 extensions can register",
            );
        }
        let external = inner.launched.contains(&name);
        if !external && request.events.contains(&EventType::Shutdown) {
            return forbidden(
                "Extension.InvalidEventType",
                "internal extensions cannot subscribe to SHUTDOWN",
            );
        }
        inner.extensions.push(ExtensionSlot {
            id: id.clone(),
            name: name.clone(),
            events: request.events.clone(),
            external,
            waiter: None,
            pending: None,
            next_calls: 0,
            last_next: None,
            error: None,
        });
    }
    ctx.shared.bump();
    let body = RegisterResponse {
        function_name: ctx.shared.function_name.clone(),
        function_version: ctx.shared.function_version.clone(),
        handler: ctx.shared.handler.clone(),
        account_id: wants_account.then(|| ctx.shared.account_id.clone()),
    };
    let mut resp = api::json(StatusCode::OK, &body);
    if let Ok(v) = id.parse() {
        resp.headers_mut().insert(HEADER_EXTENSION_IDENTIFIER, v);
    }
    resp
}

/// Finds the calling extension, or the 403 Lambda answers.
fn identify<'a>(
    inner: &'a mut Inner,
    id: Option<&str>,
) -> Result<&'a mut ExtensionSlot, Box<ApiResponse>> {
    let Some(id) = id else {
        return Err(Box::new(forbidden(
            "Extension.MissingExtensionIdentifier",
            "Lambda-Extension-Identifier is required",
        )));
    };
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(Box::new(forbidden(
            "Extension.InvalidExtensionIdentifier",
            "Lambda-Extension-Identifier is not a UUID",
        )));
    }
    inner
        .extensions
        .iter_mut()
        .find(|e| e.id == id)
        .ok_or_else(|| {
            Box::new(forbidden(
                "Extension.UnknownExtensionIdentifier",
                "unknown Lambda-Extension-Identifier: register first",
            ))
        })
}

async fn next(ctx: &Ctx, req: Request<Incoming>) -> ApiResponse {
    let id = api::header(&req, HEADER_EXTENSION_IDENTIFIER);
    let (tx, rx) = oneshot::channel();
    let pending = {
        let mut inner = ctx.shared.lock();
        let slot = match identify(&mut inner, id.as_deref()) {
            Ok(s) => s,
            Err(resp) => return *resp,
        };
        slot.next_calls += 1;
        slot.last_next = Some(Instant::now());
        let pending = slot.pending.take();
        if pending.is_none() {
            slot.waiter = Some(tx);
        }
        pending
    };
    ctx.shared.bump();
    let event = match pending {
        Some(e) => e,
        None => match rx.await {
            Ok(e) => e,
            Err(_) => {
                return api::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Sandbox.ShuttingDown",
                    "the environment is going away; exit now",
                )
            }
        },
    };
    let bytes = serde_json::to_vec(&event).unwrap_or_default();
    Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/json")
        .header(
            HEADER_EXTENSION_EVENT_IDENTIFIER,
            uuid::Uuid::new_v4().to_string(),
        )
        .body(Full::new(bytes.into()))
        .unwrap_or_default()
}

async fn report_error(ctx: &Ctx, req: Request<Incoming>, kind: &str) -> ApiResponse {
    let id = api::header(&req, HEADER_EXTENSION_IDENTIFIER);
    let error_type = api::header(&req, HEADER_EXTENSION_ERROR_TYPE);
    let _ = api::read_body(req).await;
    {
        let mut inner = ctx.shared.lock();
        let slot = match identify(&mut inner, id.as_deref()) {
            Ok(s) => s,
            Err(resp) => return *resp,
        };
        let Some(error_type) = error_type else {
            return forbidden(
                "Extension.MissingHeader",
                "Lambda-Extension-Function-Error-Type is required",
            );
        };
        tracing::debug!(extension = %slot.name, %error_type, "extension reported {kind}");
        slot.error = Some(format!("Extension.{kind}"));
    }
    ctx.shared.bump();
    api::accepted()
}
