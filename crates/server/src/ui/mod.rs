//! The web UI (the serverless homepage): a small front end of plain JavaScript modules and
//! uPlot, embedded in the binary, reading the JSON query API. See `docs/ui.md`.
//!
//! Pages are client-side routes over one HTML shell, so every page path below serves
//! `index.html`; the modules fetch `/api/...` from the same origin.

pub mod access;
pub mod assets;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::store::{Store, TimeRange};

pub use access::{QueryAccessGranted, UiAccess};

/// First path segments that are UI pages (the home page is `/`).
pub const PAGE_PREFIXES: &[&str] = &["/functions", "/invocations", "/traces", "/logs", "/metrics"];

/// The UI's own routes: pages, assets, login and logout.
pub fn router(access: UiAccess, store: Arc<dyn Store>) -> Router {
    Router::new()
        .route("/", get(home).with_state(store))
        .route("/functions/{name}", get(page))
        .route("/invocations/{request_id}", get(page))
        .route("/traces/{trace_id}", get(page))
        .route("/logs", get(page))
        .route("/metrics", get(page))
        .route("/assets/{*path}", get(asset))
        .route(
            "/favicon.ico",
            get(|h: HeaderMap| async move { assets::serve("favicon.svg", &h) }),
        )
        .route("/login", get(login_form).post(login))
        .route("/logout", get(logout).post(logout))
        .with_state(access)
}

/// Adds the UI to the server's router and puts the access check in front of the UI and the
/// query API (never the intake). Called once by `Server::start` when the UI is on.
pub fn mount(app: Router, access: UiAccess, store: Arc<dyn Store>) -> Router {
    app.merge(router(access.clone(), store))
        .layer(middleware::from_fn_with_state(access, access::check))
}

/// Time ranges of the picker (keys as in `js/api.js`).
fn range_ms(key: &str) -> Option<i64> {
    Some(match key {
        "15m" => 15 * 60_000,
        "1h" => 3_600_000,
        "4h" => 4 * 3_600_000,
        "1d" => 86_400_000,
        "2d" => 2 * 86_400_000,
        "7d" => 7 * 86_400_000,
        _ => return None,
    })
}

/// The home page with its table's data inlined (`<script type="application/json">`), so the
/// rows paint as soon as the modules run instead of one API round trip later. The range is
/// `?range=` or 1 h; the page refetches if the browser wants another.
async fn home(
    State(store): State<Arc<dyn Store>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let key = q
        .get("range")
        .filter(|k| range_ms(k).is_some())
        .map(String::as_str)
        .unwrap_or("1h")
        .to_owned();
    let to = crate::http_now_ms() + 1;
    let range = TimeRange {
        from_ms: to - range_ms(&key).unwrap_or(3_600_000),
        to_ms: to,
    };
    let rows = tokio::task::spawn_blocking(move || store.functions(range)).await;
    let Ok(Ok(rows)) = rows else {
        // The page still works: its script asks the API, which reports the error.
        return assets::serve("index.html", &headers);
    };
    let data = serde_json::json!({
        "range": key, "from": range.from_ms, "to": range.to_ms, "functions": rows
    });
    // `<` escaped so no value can close the script element.
    let json = data.to_string().replace('<', "\\u003c");
    let shell = assets::text("index.html");
    let html = shell.replacen(
        "</head>",
        &format!(
            "<script type=\"application/json\" id=\"preloaded-functions\">{json}</script>\n</head>"
        ),
        1,
    );
    let mut r = Html(html).into_response();
    assets::page_headers(r.headers_mut());
    r
}

async fn page(headers: HeaderMap) -> Response {
    assets::serve("index.html", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    assets::serve(&path, &headers)
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn login_page(next: &str, error: Option<&str>, status: StatusCode) -> Response {
    let template = assets::text("login.html");
    let error = error
        .map(|e| {
            format!(
                "<div class=\"error-box\" role=\"alert\">{}</div>",
                escape_html(e)
            )
        })
        .unwrap_or_default();
    let body = template
        .replace("{{error}}", &error)
        .replace("{{next}}", &escape_html(next));
    let mut r = (status, Html(body)).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn login_form(State(access): State<UiAccess>, Query(q): Query<LoginQuery>) -> Response {
    let next = access::safe_next(q.next.as_deref());
    if !access.requires_login() {
        return Redirect::to(&next).into_response();
    }
    login_page(&next, None, StatusCode::OK)
}

async fn login(State(access): State<UiAccess>, body: String) -> Response {
    let mut token = String::new();
    let mut next = None;
    for pair in body.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "token" => token = access::form_decode(v),
            "next" => next = Some(access::form_decode(v)),
            _ => {}
        }
    }
    let next = access::safe_next(next.as_deref());
    if !access.token_matches(token.trim()) {
        tracing::warn!("UI login refused: wrong access token");
        return login_page(
            &next,
            Some("That token is not right. Check --ui-token / LAMBDASCOPE_UI_TOKEN."),
            StatusCode::UNAUTHORIZED,
        );
    }
    let session = access.new_session();
    let mut r = Redirect::to(&next).into_response();
    let cookie = format!(
        "{}={session}; Path=/; HttpOnly; SameSite=Strict",
        access::SESSION_COOKIE
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn logout(State(access): State<UiAccess>, headers: HeaderMap) -> Response {
    if let Some(id) = access::session_cookie(&headers) {
        access.end_session(id);
    }
    let mut r = Redirect::to("/login").into_response();
    let cookie = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        access::SESSION_COOKIE
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}
