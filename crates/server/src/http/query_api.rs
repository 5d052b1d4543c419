//! The JSON query API (documented in `docs/api.md`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::query_params::{self as qp, Params};
use super::{blocking, ApiError, AppState};
use crate::store::{FunctionMetric, InvocationQuery, LogQuery, MetricQuery, SpanQuery};

const HOUR_MS: i64 = 3_600_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/functions", get(functions))
        .route("/api/functions/{name}/timeseries", get(timeseries))
        .route("/api/functions/{name}/invocations", get(invocations))
        .route("/api/traces/{trace_id}", get(trace))
        .route("/api/spans", get(spans))
        .route("/api/metrics", get(metrics))
        .route("/api/logs", get(logs))
}

type Reply = Result<Json<Value>, ApiError>;

async fn functions(State(state): State<AppState>, Query(p): Query<Params>) -> Reply {
    let range = qp::range(&p, HOUR_MS)?;
    let store = state.store.clone();
    let rows = blocking(move || Ok(store.functions(range)?)).await?;
    Ok(Json(
        json!({ "from": range.from_ms, "to": range.to_ms, "functions": rows }),
    ))
}

async fn timeseries(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(p): Query<Params>,
) -> Reply {
    let metric_name = qp::text(&p, "metric").unwrap_or_else(|| "invocations".into());
    let metric = FunctionMetric::parse(&metric_name).ok_or_else(|| {
        ApiError::bad_request(format!(
            "metric={metric_name:?} is not known; use one of {}",
            FunctionMetric::NAMES
        ))
    })?;
    let range = qp::range(&p, HOUR_MS)?;
    let step_ms = match qp::text(&p, "step") {
        None => ((range.to_ms - range.from_ms) / 60).max(60_000),
        Some(v) => match v.parse::<i64>() {
            Ok(s) if s > 0 => s.max(60_000),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "step={v:?} must be a positive number of milliseconds"
                )))
            }
        },
    };
    if (range.to_ms - range.from_ms) / step_ms > 10_000 {
        return Err(ApiError::bad_request(
            "the range holds more than 10000 steps; use a larger step",
        ));
    }
    let step_ms = step_ms / 60_000 * 60_000;
    let store = state.store.clone();
    let function = name.clone();
    let points =
        blocking(move || Ok(store.function_timeseries(&function, metric, range, step_ms)?)).await?;
    Ok(Json(
        json!({ "function": name, "metric": metric_name, "step_ms": step_ms, "points": points }),
    ))
}

async fn invocations(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(p): Query<Params>,
) -> Reply {
    let range = if p.contains_key("from") || p.contains_key("to") {
        Some(qp::range(&p, HOUR_MS)?)
    } else {
        None
    };
    let query = InvocationQuery {
        function: name,
        range,
        errors_only: qp::flag(&p, "errors")?,
        cold_starts_only: qp::flag(&p, "cold_starts")?,
        timeouts_only: qp::flag(&p, "timeouts")?,
        limit: qp::limit(&p, 50, 1000)?,
        cursor: qp::text(&p, "cursor"),
    };
    let store = state.store.clone();
    let page = blocking(move || Ok(store.invocations(&query)?)).await?;
    Ok(Json(serde_json::to_value(page).unwrap_or_default()))
}

async fn trace(State(state): State<AppState>, Path(id): Path<String>) -> Reply {
    let trace_id = qp::trace_id(&id).ok_or_else(|| {
        ApiError::bad_request(format!(
            "trace id {id:?} is neither a decimal u64 nor 16/32 hex digits"
        ))
    })?;
    let store = state.store.clone();
    let spans = blocking(move || Ok(store.trace(trace_id)?)).await?;
    if spans.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no spans stored for trace {trace_id}"),
        ));
    }
    Ok(Json(
        json!({ "trace_id": trace_id.to_string(), "spans": spans }),
    ))
}

async fn spans(State(state): State<AppState>, Query(p): Query<Params>) -> Reply {
    let query = SpanQuery {
        service: qp::text(&p, "service"),
        name: qp::text(&p, "name"),
        range: qp::range(&p, HOUR_MS)?,
        limit: qp::limit(&p, 100, 1000)?,
        cursor: qp::text(&p, "cursor"),
    };
    let store = state.store.clone();
    let page = blocking(move || Ok(store.spans(&query)?)).await?;
    Ok(Json(serde_json::to_value(page).unwrap_or_default()))
}

async fn metrics(State(state): State<AppState>, Query(p): Query<Params>) -> Reply {
    let name = qp::text(&p, "name").ok_or_else(|| {
        ApiError::bad_request("name is required, e.g. name=aws.lambda.enhanced.invocations")
    })?;
    let tags = qp::text(&p, "tags")
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let query = MetricQuery {
        name: name.clone(),
        range: qp::range(&p, HOUR_MS)?,
        tags,
        limit: qp::limit(&p, 1000, 10_000)?,
        cursor: qp::text(&p, "cursor"),
    };
    let store = state.store.clone();
    let result = blocking(move || Ok(store.metrics(&query)?)).await?;
    Ok(Json(json!({
        "name": name,
        "points": result.points,
        "sketches": result.sketches,
        "next_cursor": result.next_cursor,
    })))
}

async fn logs(State(state): State<AppState>, Query(p): Query<Params>) -> Reply {
    let trace_id = match qp::text(&p, "trace_id") {
        None => None,
        Some(t) => Some(qp::trace_id(&t).ok_or_else(|| {
            ApiError::bad_request(format!(
                "trace_id={t:?} is neither a decimal u64 nor 16/32 hex digits"
            ))
        })?),
    };
    let query = LogQuery {
        text: qp::text(&p, "q"),
        function: qp::text(&p, "function"),
        request_id: qp::text(&p, "request_id"),
        trace_id,
        status: qp::text(&p, "status").map(|s| s.to_ascii_lowercase()),
        range: qp::range(&p, HOUR_MS)?,
        limit: qp::limit(&p, 100, 1000)?,
        cursor: qp::text(&p, "cursor"),
    };
    let store = state.store.clone();
    let page = blocking(move || Ok(store.logs(&query)?)).await?;
    Ok(Json(serde_json::to_value(page).unwrap_or_default()))
}
