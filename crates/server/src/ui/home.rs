//! The HTML shell of every page, and the home page rendered on the server.
//!
//! The home page must paint within 300 ms with 200 functions, so its first paint depends on
//! nothing but the HTML: the stylesheet is inlined, the theme comes from a cookie (no blocking
//! script), and the functions table is rendered here. The page's script then takes over the
//! same table (sorting, filtering, tags, sparklines) from the data inlined beside it.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};

use super::assets;
use crate::store::{FunctionSummary, Store, TimeRange};

/// Rows rendered into the HTML: more than any laptop screen shows. The script appends the rest
/// right after the first paint, so a long list never delays the first screenful.
const FIRST_SCREEN_ROWS: usize = 40;

/// The cookie the theme button sets (`light` or `dark`); absent means "follow the system".
const THEME_COOKIE: &str = "lambdascope_theme";

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

fn theme(headers: &HeaderMap) -> Option<&'static str> {
    let cookies = headers.get_all(axum::http::header::COOKIE);
    let value = cookies
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(THEME_COOKIE)?.strip_prefix('='))?;
    match value {
        "dark" => Some("dark"),
        "light" => Some("light"),
        _ => None,
    }
}

/// `index.html` with the stylesheet inlined, the theme set, and `extra_head` / `main` placed.
fn shell(headers: &HeaderMap, extra_head: &str, main: Option<&str>) -> String {
    let mut html = assets::text("index.html").to_owned();
    if let Some(t) = theme(headers) {
        html = html.replacen(
            "<html lang=\"en\">",
            &format!("<html lang=\"en\" data-theme=\"{t}\">"),
            1,
        );
    }
    let style = format!(
        "<style>{}</style>\n{extra_head}",
        assets::text("css/app.css")
    );
    html = html.replacen("<!--inline-style-->", &style, 1);
    if let Some(main) = main {
        html = html.replacen("<p class=\"muted\">Loading…</p>", main, 1);
    }
    html
}

fn html_response(html: String) -> Response {
    let mut r = Html(html).into_response();
    assets::page_headers(r.headers_mut());
    r
}

/// A page whose content the script renders.
pub fn shell_page(headers: &HeaderMap, main: Option<&str>) -> Response {
    html_response(shell(headers, "", main))
}

/// `GET /`: the functions table for `?range=` (default 1 h), rendered and inlined.
pub async fn home(
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
    let now = crate::http::now_ms();
    let range = TimeRange {
        from_ms: now + 1 - range_ms(&key).unwrap_or(3_600_000),
        to_ms: now + 1,
    };
    let rows = tokio::task::spawn_blocking(move || store.functions(range)).await;
    let Ok(Ok(mut rows)) = rows else {
        // The page still works: its script asks the API, which reports the error.
        return shell_page(&headers, None);
    };
    let data = serde_json::json!({
        "range": key, "from": range.from_ms, "to": range.to_ms, "functions": rows
    });
    // `<` escaped so no value can close the script element.
    let json = data.to_string().replace('<', "\\u003c");
    let head =
        format!("<script type=\"application/json\" id=\"preloaded-functions\">{json}</script>");
    rows.sort_by(|a, b| {
        b.invocations
            .cmp(&a.invocations)
            .then_with(|| a.function.cmp(&b.function))
    });
    let main = functions_view(&rows, FIRST_SCREEN_ROWS, now);
    html_response(shell(&headers, &head, Some(&main)))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `encodeURIComponent` for a path segment.
fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => out.push(b as char),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// The same figures `js/format.js` prints (the script re-renders them moments later, so any
/// rounding difference is brief).
mod fmt {
    pub fn grouped(n: u64) -> String {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    }

    pub fn count(n: u64) -> String {
        let f = n as f64;
        if f >= 1e9 {
            format!("{:.2}B", f / 1e9)
        } else if f >= 1e6 {
            format!("{:.2}M", f / 1e6)
        } else if f >= 1e4 {
            format!("{:.1}k", f / 1e3)
        } else {
            grouped(n)
        }
    }

    pub fn percent(ratio: f64) -> String {
        let p = ratio * 100.0;
        if p == 0.0 {
            "0%".into()
        } else if p < 0.1 {
            "<0.1%".into()
        } else if p < 10.0 {
            format!("{p:.1}%")
        } else {
            format!("{p:.0}%")
        }
    }

    pub fn ms(v: Option<f64>) -> String {
        match v {
            None => "–".into(),
            Some(0.0) => "0 ms".into(),
            Some(v) if v < 1.0 => format!("{} µs", (v * 1000.0).round()),
            Some(v) if v < 100.0 => format!("{v:.1} ms"),
            Some(v) if v < 1000.0 => format!("{} ms", v.round()),
            Some(v) if v < 60_000.0 => format!("{:.2} s", v / 1000.0),
            Some(v) => format!("{:.1} min", v / 60_000.0),
        }
    }

    pub fn usd(v: f64) -> String {
        if v == 0.0 {
            "$0".into()
        } else if v < 0.01 {
            let decimals = ((-v.log10()).ceil() as usize + 1).min(12);
            format!("${v:.decimals$}")
        } else if v < 100.0 {
            format!("${v:.2}")
        } else {
            format!("${}", grouped(v.round() as u64))
        }
    }

    pub fn ago(ts_ms: Option<i64>, now_ms: i64) -> String {
        let Some(ts) = ts_ms else {
            return "never".into();
        };
        let s = ((now_ms - ts) as f64 / 1000.0).max(0.0);
        if s < 60.0 {
            format!("{} s ago", s.round())
        } else if s < 3600.0 {
            format!("{} min ago", (s / 60.0).round())
        } else if s < 86_400.0 {
            format!("{} h ago", (s / 3600.0).round())
        } else {
            format!("{} d ago", (s / 86_400.0).round())
        }
    }
}

const COLUMNS: &[(&str, &str, bool)] = &[
    ("function", "Function", true),
    ("invocations", "Invocations", false),
    ("errors", "Errors", false),
    ("error_rate", "Error rate", false),
    ("cold_pct", "Cold starts", false),
    ("p50", "p50", false),
    ("p95", "p95", false),
    ("p99", "p99", false),
    ("memory", "Max memory", false),
    ("cost", "Est. cost", false),
    ("last_seen", "Last invoked", false),
];

/// The home view as `js/pages/functions.js` first draws it (default sort: invocations).
fn functions_view(rows: &[FunctionSummary], first_rows: usize, now_ms: i64) -> String {
    let mut out = String::with_capacity(400 + rows.len() * 900);
    let (inv, err, cold, cost) = rows.iter().fold((0, 0, 0, 0.0), |a, r| {
        (
            a.0 + r.invocations,
            a.1 + r.errors,
            a.2 + r.cold_starts,
            a.3 + r.estimated_cost_usd,
        )
    });
    let ratio = |n: u64| if inv == 0 { 0.0 } else { n as f64 / inv as f64 };
    let tile = |out: &mut String, label: &str, value: String, class: &str| {
        let _ = write!(
            out,
            "<div class=\"tile\"><div class=\"label\">{label}</div><div class=\"value {class}\">{}</div></div>",
            escape(&value)
        );
    };
    out.push_str("<h1>Functions</h1><div class=\"tiles\" id=\"fn-tiles\">");
    tile(&mut out, "Functions", fmt::count(rows.len() as u64), "");
    tile(&mut out, "Invocations", fmt::count(inv), "");
    let err_class = if err > 0 { "err-text" } else { "" };
    tile(
        &mut out,
        "Errors",
        format!("{} ({})", fmt::count(err), fmt::percent(ratio(err))),
        err_class,
    );
    tile(
        &mut out,
        "Cold starts",
        format!("{} ({})", fmt::count(cold), fmt::percent(ratio(cold))),
        "",
    );
    tile(&mut out, "Estimated cost", fmt::usd(cost), "");
    let _ = write!(
        out,
        "</div><section class=\"panel\"><div class=\"toolbar\"><input type=\"search\" id=\"fn-filter\" \
         placeholder=\"name, runtime or tag (env:prod)\" aria-label=\"Filter functions by name, runtime or tag\">\
         <span class=\"muted\" id=\"fn-count\">{n} of {n} functions</span></div>\
         <table class=\"grid\" id=\"functions\"><caption class=\"skip\">Functions</caption><thead><tr>",
        n = rows.len()
    );
    for (key, label, text) in COLUMNS {
        let sort = if *key == "invocations" {
            "descending"
        } else {
            "none"
        };
        let class = if *text { "" } else { "num" };
        let _ = write!(
            out,
            "<th scope=\"col\" class=\"{class}\" aria-sort=\"{sort}\" data-key=\"{key}\"><button type=\"button\">{label}</button></th>"
        );
    }
    out.push_str("<th scope=\"col\">Trend</th></tr></thead><tbody>");
    if rows.is_empty() {
        let _ = write!(
            out,
            "<tr><td colspan=\"{}\" class=\"empty\">No invocations in this time range. Send data with the lambdascope \
             extension, or widen the range.</td></tr>",
            COLUMNS.len() + 1
        );
    }
    for r in rows.iter().take(first_rows) {
        let cold_ratio = if r.invocations == 0 {
            0.0
        } else {
            r.cold_starts as f64 / r.invocations as f64
        };
        let name = escape(&r.function);
        let err_class = if r.errors > 0 { " err-text" } else { "" };
        let rate_class = if r.error_rate >= 0.05 {
            " err-text"
        } else if r.error_rate > 0.0 {
            " warn-text"
        } else {
            ""
        };
        let cold_class = if cold_ratio >= 0.2 { " cold-text" } else { "" };
        let mem = r
            .max_memory_used_mb
            .map(|m| format!("{m} MB"))
            .unwrap_or_else(|| "–".into());
        let _ = write!(
            out,
            "<tr class=\"clickable\" data-function=\"{name}\">\
             <td class=\"name\" title=\"{name}\"><a href=\"/functions/{seg}\">{name}</a></td>\
             <td class=\"num\" data-col=\"invocations\">{inv}</td>\
             <td class=\"num{err_class}\" data-col=\"errors\">{errors}</td>\
             <td class=\"num{rate_class}\" data-col=\"error_rate\">{rate}</td>\
             <td class=\"num{cold_class}\" data-col=\"cold_starts\">{cold} ({cold_pct})</td>\
             <td class=\"num\">{p50}</td><td class=\"num\">{p95}</td><td class=\"num\">{p99}</td>\
             <td class=\"num\">{mem}</td><td class=\"num\">{cost}</td><td class=\"num\">{ago}</td>\
             <td class=\"spark\" data-spark=\"{name}\"></td></tr>",
            seg = escape(&encode_segment(&r.function)),
            inv = fmt::count(r.invocations),
            errors = fmt::count(r.errors),
            rate = fmt::percent(r.error_rate),
            cold = fmt::count(r.cold_starts),
            cold_pct = fmt::percent(cold_ratio),
            p50 = fmt::ms(r.p50_duration_ms),
            p95 = fmt::ms(r.p95_duration_ms),
            p99 = fmt::ms(r.p99_duration_ms),
            cost = fmt::usd(r.estimated_cost_usd),
            ago = fmt::ago(r.last_seen_ms, now_ms),
        );
    }
    out.push_str("</tbody></table></section>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_match_the_scripts_format() {
        assert_eq!(fmt::count(12), "12");
        assert_eq!(fmt::count(9_999), "9,999");
        assert_eq!(fmt::count(12_345), "12.3k");
        assert_eq!(fmt::count(1_000_000), "1.00M");
        assert_eq!(fmt::percent(0.0), "0%");
        assert_eq!(fmt::percent(0.0833), "8.3%");
        assert_eq!(fmt::percent(0.25), "25%");
        assert_eq!(fmt::ms(Some(65.28)), "65.3 ms");
        assert_eq!(fmt::ms(Some(961.0)), "961 ms");
        assert_eq!(fmt::ms(Some(2980.0)), "2.98 s");
        assert_eq!(fmt::ms(None), "–");
        assert_eq!(fmt::usd(0.00000075), "$0.00000075");
        assert_eq!(fmt::usd(3.456), "$3.46");
        assert_eq!(fmt::ago(Some(0), 420_000), "7 min ago");
    }

    #[test]
    fn names_are_escaped_in_the_table() {
        let row = FunctionSummary {
            function: "<b>x</b>\"".into(),
            invocations: 1,
            errors: 0,
            error_rate: 0.0,
            cold_starts: 0,
            timeouts: 0,
            out_of_memory: 0,
            p50_duration_ms: None,
            p95_duration_ms: None,
            p99_duration_ms: None,
            max_memory_used_mb: None,
            estimated_cost_usd: 0.0,
            last_seen_ms: None,
        };
        let html = functions_view(&[row], 40, 0);
        assert!(!html.contains("<b>x</b>"));
        assert!(html.contains("&lt;b&gt;x&lt;/b&gt;&quot;"));
        assert!(html.contains("href=\"/functions/%3Cb%3Ex%3C%2Fb%3E%22\""));
    }
}
