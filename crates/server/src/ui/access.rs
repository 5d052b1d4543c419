//! Who may see the UI and the query API.
//!
//! On a loopback address with no token the UI and the query API are open: only the local
//! user can reach them. With a token (always, when listening on anything else) a browser logs
//! in once with the token and gets an HttpOnly session cookie; scripts send
//! `Authorization: Bearer <token>`. The intake is never touched here: it keeps its API key.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "lambdascope_session";

/// Marks a request the UI access check let through to the query API; the query API's key
/// check accepts it in place of an API key.
#[derive(Debug, Clone, Copy)]
pub struct QueryAccessGranted;

/// The UI access policy, shared by every request.
#[derive(Clone)]
pub struct UiAccess {
    token: Option<Arc<str>>,
    sessions: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for UiAccess {
    // Never prints the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UiAccess")
            .field("token_required", &self.token.is_some())
            .finish()
    }
}

impl UiAccess {
    /// No login: for loopback addresses only.
    pub fn open() -> Self {
        UiAccess {
            token: None,
            sessions: Arc::default(),
        }
    }

    /// A login with `token` is required.
    pub fn with_token(token: impl Into<String>) -> Self {
        UiAccess {
            token: Some(Arc::from(token.into())),
            sessions: Arc::default(),
        }
    }

    /// The policy for a server listening on `listen`: `token` if given; else open on
    /// loopback; else a freshly generated token, returned so the caller can show it once.
    pub fn for_listen(listen: SocketAddr, token: Option<String>) -> (Self, Option<String>) {
        match token.filter(|t| !t.trim().is_empty()) {
            Some(t) => (Self::with_token(t.trim()), None),
            None if listen.ip().is_loopback() => (Self::open(), None),
            None => {
                let generated = uuid::Uuid::new_v4().simple().to_string();
                (Self::with_token(generated.clone()), Some(generated))
            }
        }
    }

    pub fn requires_login(&self) -> bool {
        self.token.is_some()
    }

    /// Whether `candidate` is the token (constant time in the token's length).
    pub fn token_matches(&self, candidate: &str) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let (a, b) = (token.as_bytes(), candidate.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// Starts a session and returns its id.
    pub fn new_session(&self) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        self.lock().insert(id.clone());
        id
    }

    pub fn end_session(&self, id: &str) {
        self.lock().remove(id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the request carries the bearer token or a live session cookie.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        if self.token.is_none() {
            return true;
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if bearer.is_some_and(|t| self.token_matches(t.trim())) {
            return true;
        }
        session_cookie(headers).is_some_and(|id| self.lock().contains(id))
    }
}

/// The session id in the request's `Cookie` header, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
}

/// What a path is, for the access check.
#[derive(Debug, PartialEq, Eq)]
enum PathKind {
    /// Intake and anything else the UI does not own: untouched.
    Other,
    /// The JSON query API.
    Query,
    /// A UI page.
    Page,
    /// Assets and the login form: public (they hold no data).
    Public,
}

fn classify(path: &str) -> PathKind {
    const QUERY: &[&str] = &[
        "/api/functions",
        "/api/traces",
        "/api/spans",
        "/api/metrics",
        "/api/logs",
    ];
    if QUERY.iter().any(|p| {
        path == *p
            || path
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('/'))
    }) {
        return PathKind::Query;
    }
    if path.starts_with("/assets/")
        || path == "/login"
        || path == "/logout"
        || path == "/favicon.ico"
    {
        return PathKind::Public;
    }
    if path == "/"
        || super::PAGE_PREFIXES
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}/")))
    {
        return PathKind::Page;
    }
    PathKind::Other
}

/// Middleware in front of the whole router (see `ui::mount`).
pub async fn check(State(access): State<UiAccess>, mut req: Request, next: Next) -> Response {
    let kind = classify(req.uri().path());
    if kind == PathKind::Other || kind == PathKind::Public {
        return next.run(req).await;
    }
    if access.admits(req.headers()) {
        if kind == PathKind::Query {
            req.extensions_mut().insert(QueryAccessGranted);
        }
        return next.run(req).await;
    }
    match kind {
        // A script with an API key still gets through: the query API checks the key itself.
        PathKind::Query if req.headers().contains_key("dd-api-key") => next.run(req).await,
        PathKind::Query => {
            let mut r = (
                StatusCode::UNAUTHORIZED,
                axum::Json(serde_json::json!({
                    "error": "log in at /login, or send Authorization: Bearer <ui token> (or a DD-API-KEY)"
                })),
            )
                .into_response();
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"lambdascope\""),
            );
            r
        }
        _ => {
            let next_path = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "/".into());
            Redirect::to(&format!("/login?next={}", percent_encode(&next_path))).into_response()
        }
    }
}

pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes one `application/x-www-form-urlencoded` value.
pub fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// A redirect target that stays on this server (no `//host` or absolute URLs).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_open_and_other_addresses_get_a_token() {
        let (a, g) = UiAccess::for_listen("127.0.0.1:0".parse().unwrap(), None);
        assert!(!a.requires_login() && g.is_none());
        let (a, g) = UiAccess::for_listen("0.0.0.0:8080".parse().unwrap(), None);
        let token = g.expect("a generated token");
        assert!(a.requires_login() && a.token_matches(&token) && !a.token_matches("nope"));
        let (a, g) = UiAccess::for_listen("0.0.0.0:8080".parse().unwrap(), Some("s3cret".into()));
        assert!(a.token_matches("s3cret") && g.is_none());
    }

    #[test]
    fn bearer_and_session_cookie_admit() {
        let a = UiAccess::with_token("tok");
        let mut h = HeaderMap::new();
        assert!(!a.admits(&h));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer tok"),
        );
        assert!(a.admits(&h));
        let id = a.new_session();
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; {SESSION_COOKIE}={id}")).unwrap(),
        );
        assert!(a.admits(&h));
        a.end_session(&id);
        assert!(!a.admits(&h));
    }

    #[test]
    fn paths_are_classified() {
        assert_eq!(classify("/api/functions"), PathKind::Query);
        assert_eq!(classify("/api/functions/f/timeseries"), PathKind::Query);
        assert_eq!(classify("/api/functionsx"), PathKind::Other);
        assert_eq!(classify("/api/v2/logs"), PathKind::Other);
        assert_eq!(classify("/api/v0.2/traces"), PathKind::Other);
        assert_eq!(classify("/"), PathKind::Page);
        assert_eq!(classify("/functions/f"), PathKind::Page);
        assert_eq!(classify("/assets/js/app.js"), PathKind::Public);
    }

    #[test]
    fn forms_and_redirects() {
        assert_eq!(form_decode("a+b%21%zz%4"), "a b!%zz%4");
        assert_eq!(
            safe_next(Some("/functions/x?range=1h")),
            "/functions/x?range=1h"
        );
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(percent_encode("/a b?c=1"), "/a%20b%3Fc%3D1");
    }
}
