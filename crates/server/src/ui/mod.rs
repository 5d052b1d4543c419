//! The web UI (the serverless homepage): a small front end of plain JavaScript modules and
//! uPlot, embedded in the binary, reading the JSON query API. See `docs/ui.md`.
//!
//! Pages are client-side routes over one HTML shell, so every page path below serves
//! `index.html`; the modules fetch `/api/...` from the same origin.

pub mod access;
pub mod assets;
mod home;

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use crate::store::Store;

pub use access::{QueryAccessGranted, UiAccess};

/// First path segments that are UI pages (the home page is `/`).
pub const PAGE_PREFIXES: &[&str] = &["/functions", "/invocations", "/traces", "/logs", "/metrics"];

/// The UI's own routes: pages, assets, login and logout.
pub fn router(access: UiAccess, store: Arc<dyn Store>) -> Router {
    Router::new()
        .route("/", get(home::home).with_state(store))
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

async fn page(headers: HeaderMap) -> Response {
    home::shell_page(&headers, None)
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
