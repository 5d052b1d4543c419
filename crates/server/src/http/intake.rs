//! Datadog-compatible intake endpoints. Each request: decompress, decode with the
//! `wire` decoder, derive rows, commit in one transaction, then answer 202. A body
//! that fails any step is answered 400/413/415 and nothing of it is stored.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lambdascope_wire::{
    agent_payload, intake_logs, series, sketch_payload, stats, IntakeDecodeError,
};
use serde_json::json;

use super::body::decode_body;
use super::{blocking, now_ms, ApiError, AppState};
use crate::ingest;
use crate::store::WriteBatch;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v2/series", post(series_v2))
        .route("/api/v1/series", post(series_v1))
        .route("/api/beta/sketches", post(sketches))
        .route("/api/v0.2/traces", post(traces))
        .route("/api/v0.2/stats", post(trace_stats))
        .route("/api/v2/logs", post(logs))
        .route("/api/v1/validate", get(validate))
}

fn rejected(err: IntakeDecodeError) -> ApiError {
    ApiError::bad_request(err.to_string())
}

/// The shared pipeline; `convert` decodes the plain body into a batch.
async fn accept(
    state: AppState,
    headers: HeaderMap,
    body: Bytes,
    endpoint: &'static str,
    convert: fn(&[u8]) -> Result<WriteBatch, IntakeDecodeError>,
) -> Result<Response, ApiError> {
    let limit = state.max_decompressed_bytes;
    let store = state.store.clone();
    let result = blocking(move || {
        let plain = decode_body(&headers, &body, limit)?;
        let batch = convert(&plain).map_err(rejected)?;
        store.write(batch)?;
        Ok(())
    })
    .await;
    if let Err(err) = &result {
        tracing::debug!(endpoint, status = %err.status, error = %err.message, "payload rejected");
    }
    result?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "errors": [] }))).into_response())
}

async fn series_v2(
    State(s): State<AppState>,
    h: HeaderMap,
    b: Bytes,
) -> Result<Response, ApiError> {
    accept(s, h, b, "series v2", |body| {
        Ok(ingest::series(series::decode(body)?))
    })
    .await
}

async fn series_v1(
    State(s): State<AppState>,
    h: HeaderMap,
    b: Bytes,
) -> Result<Response, ApiError> {
    accept(s, h, b, "series v1", |body| {
        Ok(ingest::series(series::decode_v1(body)?))
    })
    .await
}

async fn sketches(State(s): State<AppState>, h: HeaderMap, b: Bytes) -> Result<Response, ApiError> {
    accept(s, h, b, "sketches", |body| {
        ingest::sketches(sketch_payload::decode(body)?)
    })
    .await
}

async fn traces(State(s): State<AppState>, h: HeaderMap, b: Bytes) -> Result<Response, ApiError> {
    accept(s, h, b, "traces", |body| {
        Ok(ingest::traces(agent_payload::decode(body)?))
    })
    .await
}

async fn trace_stats(
    State(s): State<AppState>,
    h: HeaderMap,
    b: Bytes,
) -> Result<Response, ApiError> {
    accept(s, h, b, "stats", |body| {
        Ok(ingest::stats(stats::decode(body)?))
    })
    .await
}

async fn logs(State(s): State<AppState>, h: HeaderMap, b: Bytes) -> Result<Response, ApiError> {
    accept(s, h, b, "logs", |body| {
        Ok(ingest::logs(intake_logs::decode(body)?, now_ms()))
    })
    .await
}

/// Reached only with a valid key (the key check answers 403 otherwise).
async fn validate() -> Json<serde_json::Value> {
    Json(json!({ "valid": true }))
}
