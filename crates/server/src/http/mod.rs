//! The HTTP surface: intake routes, query routes and the key check in front of them.
//! No SQL here: handlers talk to [`Store`].

mod body;
mod intake;
mod query_api;
mod query_params;

pub use query_params::now_ms;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;

use crate::api_keys::ApiKeys;
use crate::store::{Store, StoreError};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub keys: ApiKeys,
    pub max_decompressed_bytes: usize,
}

/// An error response: `{"error": "<message>"}` with a status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({ "errors": [self.message.clone()], "error": self.message })),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::BadCursor(_) => ApiError::bad_request(err.to_string()),
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("storage failed: {other}; retry later"),
                )
            }
        }
    }
}

/// Runs blocking store work off the async threads.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("worker failed: {e}"),
        )
    })?
}

/// The key from `DD-API-KEY` (header names are case-insensitive) or `?api_key=`.
fn presented_key(req: &Request) -> Option<String> {
    if let Some(v) = req
        .headers()
        .get("dd-api-key")
        .and_then(|v| v.to_str().ok())
    {
        return Some(v.trim().to_owned());
    }
    req.uri().query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "api_key").then(|| v.to_owned())
    })
}

async fn require_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req
        .extensions()
        .get::<crate::ui::QueryAccessGranted>()
        .is_some()
    {
        return next.run(req).await;
    }
    match presented_key(&req) {
        Some(key) if state.keys.accepts(&key) => next.run(req).await,
        Some(_) => ApiError::new(
            StatusCode::FORBIDDEN,
            "API key is not valid for this server",
        )
        .into_response(),
        None => ApiError::new(
            StatusCode::FORBIDDEN,
            "missing API key; send it in the DD-API-KEY header or the api_key query parameter",
        )
        .into_response(),
    }
}

/// The whole router. `extra` (the UI) is merged unauthenticated; the intake always
/// requires a key, the query API unless `open_query_api`.
pub fn router(
    state: AppState,
    max_body_bytes: usize,
    open_query_api: bool,
    extra: Option<Router>,
) -> Router {
    let auth = middleware::from_fn_with_state(state.clone(), require_key);
    let intake = intake::routes()
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .route_layer(auth.clone());
    let mut queries = query_api::routes();
    if !open_query_api {
        queries = queries.route_layer(auth);
    }
    let mut app = Router::new().merge(intake).merge(queries).with_state(state);
    if let Some(extra) = extra {
        app = app.merge(extra);
    }
    app
}
