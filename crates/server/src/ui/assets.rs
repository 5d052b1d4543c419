//! The UI's static files, compiled into the binary so `lambdascope server` needs nothing on
//! disk and nothing from the internet at run time.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// One embedded file.
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $ctype:expr) => {
        Asset {
            path: $path,
            content_type: $ctype,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/", $path)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file under `assets/` that the pages load.
pub static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("login.html", "text/html; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("css/app.css", CSS),
    asset!("js/theme.js", JS),
    asset!("js/app.js", JS),
    asset!("js/api.js", JS),
    asset!("js/format.js", JS),
    asset!("js/charts.js", JS),
    asset!("js/pages/functions.js", JS),
    asset!("js/pages/function.js", JS),
    asset!("js/pages/invocation.js", JS),
    asset!("js/pages/waterfall.js", JS),
    asset!("js/pages/logs.js", JS),
    asset!("js/pages/metrics.js", JS),
    asset!("vendor/uplot/uPlot.iife.min.js", JS),
    asset!("vendor/uplot/uPlot.min.css", CSS),
    asset!("vendor/uplot/LICENSE", "text/plain; charset=utf-8"),
];

/// Path → (asset, quoted ETag). The ETag is a content hash, so a rebuilt binary with changed
/// files never serves a stale cached copy.
fn index() -> &'static HashMap<&'static str, (&'static Asset, String)> {
    static INDEX: OnceLock<HashMap<&'static str, (&'static Asset, String)>> = OnceLock::new();
    INDEX.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| (a.path, (a, format!("\"{:016x}\"", fnv1a(a.body)))))
            .collect()
    })
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Content-Security-Policy for every page: scripts and styles only from this server (inline
/// `style` attributes are allowed: uPlot and the bars position elements with them).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
                   form-action 'self'";

/// An embedded text file ("" if absent, which the asset tests rule out).
pub fn text(path: &str) -> &'static str {
    index()
        .get(path)
        .and_then(|(a, _)| std::str::from_utf8(a.body).ok())
        .unwrap_or_default()
}

/// Headers every HTML page gets: no caching of data-bearing pages, CSP, no sniffing.
pub fn page_headers(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
}

/// Serves `path`, answering 304 when the browser's copy is current.
pub fn serve(path: &str, request_headers: &HeaderMap) -> Response {
    let Some((asset, etag)) = index().get(path) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if asset.content_type.starts_with("text/html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    if let Ok(v) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, v);
    }
    let fresh = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (StatusCode::OK, headers, asset.body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_served_with_its_type_and_revalidates() {
        for a in ASSETS {
            let r = serve(a.path, &HeaderMap::new());
            assert_eq!(r.status(), StatusCode::OK, "{}", a.path);
            let etag = r.headers()[header::ETAG].clone();
            let mut h = HeaderMap::new();
            h.insert(header::IF_NONE_MATCH, etag);
            assert_eq!(serve(a.path, &h).status(), StatusCode::NOT_MODIFIED);
        }
        assert_eq!(
            serve("../Cargo.toml", &HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn pages_only_load_embedded_files() {
        // A file referenced by the HTML or a module import but missing from ASSETS would 404
        // at run time; catch it here.
        let listed: Vec<&str> = ASSETS.iter().map(|a| a.path).collect();
        for a in ASSETS
            .iter()
            .filter(|a| a.path.ends_with(".html") || a.path.ends_with(".js"))
        {
            let text = std::str::from_utf8(a.body).unwrap();
            for part in text.split("\"/assets/").skip(1) {
                let referenced = part.split('"').next().unwrap();
                if referenced.is_empty() {
                    continue; // a prefix test like startsWith("/assets/"), not a file
                }
                assert!(
                    listed.contains(&referenced),
                    "{} loads missing {referenced}",
                    a.path
                );
            }
            for part in text
                .split("from \"./")
                .skip(1)
                .chain(text.split("import(\"./").skip(1))
            {
                let rel = part.split('"').next().unwrap();
                let dir = a.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                let full = if dir.is_empty() {
                    rel.to_owned()
                } else {
                    format!("{dir}/{rel}")
                };
                assert!(
                    listed.contains(&full.as_str()),
                    "{} imports missing {full}",
                    a.path
                );
            }
            for part in text.split("from \"../").skip(1) {
                let rel = part.split('"').next().unwrap();
                let full = format!("js/{rel}");
                assert!(
                    listed.contains(&full.as_str()),
                    "{} imports missing {full}",
                    a.path
                );
            }
        }
    }
}
