//! The web UI in a real browser (Debian's headless chromium via chromedriver), against a
//! server seeded through its real intake endpoints. Each test saves screenshots under
//! `test-artifacts/ui/`.

mod ui_support;

use std::net::SocketAddr;

use lambdascope_server::ui::UiAccess;
use serde_json::{json, Value};
use ui_support::browser::Browser;
use ui_support::{http, seed, start_server, KEY};

struct Fixture {
    _rt: tokio::runtime::Runtime,
    addr: SocketAddr,
    seeded: Vec<seed::Seeded>,
    _dir: tempfile::TempDir,
    _server: lambdascope_server::RunningServer,
}

fn fixture() -> Fixture {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (server, dir) = rt.block_on(start_server(UiAccess::open()));
    let addr = server.addr();
    let seeded = seed::seed(addr, KEY);
    Fixture {
        _rt: rt,
        addr,
        seeded,
        _dir: dir,
        _server: server,
    }
}

fn api(addr: SocketAddr, path: &str) -> Value {
    let r = http::request(addr, "GET", path, &[], b"").expect("query API answers");
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// The home table as [{function, invocations, errors, cold}] read from the page.
const READ_ROWS: &str = r#"
  return [...document.querySelectorAll('#functions tbody tr[data-function]')].map(tr => ({
    function: tr.dataset.function,
    invocations: tr.querySelector('[data-col=invocations]').textContent,
    errors: tr.querySelector('[data-col=errors]').textContent,
    cold: tr.querySelector('[data-col=cold_starts]').textContent,
  }));"#;

#[test]
fn ui_home_lists_functions_with_api_counts_sorts_filters_and_follows_the_time_range() {
    let fx = fixture();
    let b = Browser::start();
    let base = format!("http://{}", fx.addr);
    b.goto(&format!("{base}/?range=1h"));
    b.wait_for(
        "three function rows",
        "return document.querySelectorAll('#functions tbody tr[data-function]').length === 3",
    );

    // Counts on the page are the query API's counts for the same hour.
    let now = now_ms();
    let expected = api(
        fx.addr,
        &format!(
            "/api/functions?from={}&to={}",
            now - 3_600_000,
            now + 60_000
        ),
    );
    let rows = b.eval(READ_ROWS, json!([]));
    let rows = rows.as_array().unwrap();
    let api_rows = expected["functions"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        api_rows.len(),
        "page rows {rows:?} vs API {api_rows:?}"
    );
    for f in api_rows {
        let name = f["function"].as_str().unwrap();
        let row = rows
            .iter()
            .find(|r| r["function"] == name)
            .unwrap_or_else(|| panic!("{name} is missing from the page: {rows:?}"));
        assert_eq!(
            row["invocations"],
            f["invocations"].to_string(),
            "{name} invocations"
        );
        assert_eq!(row["errors"], f["errors"].to_string(), "{name} errors");
        let cold = row["cold"].as_str().unwrap();
        assert!(
            cold.starts_with(&format!("{} (", f["cold_starts"])),
            "{name} cold starts: {cold}"
        );
    }
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["function"].as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&"nightly-report"),
        "3 hours old data shows in a 1 hour range"
    );
    // The seed: checkout-api 12 invocations / 2 errors, billing-cron 1 timeout.
    let checkout = rows
        .iter()
        .find(|r| r["function"] == "checkout-api")
        .unwrap();
    assert_eq!(checkout["invocations"], "12");
    assert_eq!(checkout["errors"], "2");
    // Tags (runtime) arrive after the first paint from the enhanced metrics.
    b.wait_for(
        "the runtime under each function name",
        "return document.querySelector('#functions tr[data-function=\"image-resizer\"] td.name').textContent.includes('python3.11')",
    );
    b.wait_for(
        "sparklines",
        "return document.querySelectorAll('#functions td.spark svg path').length >= 3",
    );
    b.screenshot("home");

    // Sorting: by errors, then by p99 both ways; the header says which.
    b.click("th[data-key=errors] button");
    let first = b.eval(
        "return document.querySelector('#functions tbody tr').dataset.function",
        json!([]),
    );
    assert_eq!(first, "checkout-api");
    assert_eq!(
        b.eval(
            "return document.querySelector('th[data-key=errors]').getAttribute('aria-sort')",
            json!([])
        ),
        "descending"
    );
    let slowest = api_rows
        .iter()
        .max_by(|a, b| {
            a["p99_duration_ms"]
                .as_f64()
                .partial_cmp(&b["p99_duration_ms"].as_f64())
                .unwrap()
        })
        .unwrap()["function"]
        .clone();
    let fastest = api_rows
        .iter()
        .min_by(|a, b| {
            a["p99_duration_ms"]
                .as_f64()
                .partial_cmp(&b["p99_duration_ms"].as_f64())
                .unwrap()
        })
        .unwrap()["function"]
        .clone();
    b.click("th[data-key=p99] button");
    assert_eq!(
        b.eval(
            "return document.querySelector('#functions tbody tr').dataset.function",
            json!([])
        ),
        slowest
    );
    b.click("th[data-key=p99] button");
    assert_eq!(
        b.eval(
            "return document.querySelector('#functions tbody tr').dataset.function",
            json!([])
        ),
        fastest
    );
    assert_eq!(
        b.eval(
            "return document.querySelector('th[data-key=p99]').getAttribute('aria-sort')",
            json!([])
        ),
        "ascending"
    );

    // Filtering by a tag.
    b.type_into("#fn-filter", "python3.11");
    b.wait_for("only image-resizer", "const r = document.querySelectorAll('#functions tbody tr[data-function]'); return r.length === 1 && r[0].dataset.function === 'image-resizer'");
    b.type_into("#fn-filter", "");
    b.eval("const i = document.querySelector('#fn-filter'); i.value=''; i.dispatchEvent(new Event('input'));", json!([]));

    // A wider range brings in the older function, as the API says.
    b.select("#range", "4h");
    b.wait_for(
        "four function rows",
        "return document.querySelectorAll('#functions tbody tr[data-function]').length === 4",
    );
    let wide = api(
        fx.addr,
        &format!(
            "/api/functions?from={}&to={}",
            now - 4 * 3_600_000,
            now + 60_000
        ),
    );
    let nightly = wide["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["function"] == "nightly-report")
        .expect("API has nightly-report");
    let rows = b.eval(READ_ROWS, json!([]));
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["function"] == "nightly-report")
        .expect("page has nightly-report");
    assert_eq!(row["invocations"], nightly["invocations"].to_string());
    assert!(b
        .eval("return location.search", json!([]))
        .as_str()
        .unwrap()
        .contains("range=4h"));

    // Dark theme.
    let before = b.eval("return document.documentElement.dataset.theme", json!([]));
    b.click("#theme-toggle");
    let after = b.eval("return document.documentElement.dataset.theme", json!([]));
    assert_ne!(before, after);
    b.wait_for("rows and sparklines after the theme switch", "return document.querySelectorAll('#functions tbody tr[data-function]').length === 4 && document.querySelectorAll('#functions td.spark svg path').length >= 4");
    b.screenshot(if after == "dark" {
        "home-dark"
    } else {
        "home-light"
    });
    drop(fx.seeded);
}

#[test]
fn ui_function_page_leads_to_an_invocation_waterfall_with_its_logs() {
    let fx = fixture();
    let b = Browser::start();
    b.goto(&format!("http://{}/?range=1h", fx.addr));
    b.click("#functions a[href^='/functions/checkout-api']");
    b.wait_for("the checkout-api page", "return document.querySelector('h1') && document.querySelector('h1').textContent === 'checkout-api'");
    b.wait_for(
        "12 invocations listed",
        "return document.querySelectorAll('#invocations tbody tr[data-request]').length === 12",
    );
    b.wait_for(
        "charts drawn",
        "return document.querySelectorAll('.uplot').length >= 5",
    );
    let chips = b.eval(
        "return [...document.querySelectorAll('.chip')].map(c => c.textContent)",
        json!([]),
    );
    assert!(
        chips
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "memorysize:512"),
        "configuration tags: {chips}"
    );
    b.screenshot("function");
    b.screenshot_full_page("function-full");

    // Only the errors.
    b.click("button[data-filter=errors]");
    b.wait_for("two error invocations", "const r = document.querySelectorAll('#invocations tbody tr[data-request]'); return r.length === 2 && [...r].every(x => x.querySelector('.badge.err'))");

    // The invocation whose error line we know.
    let inv = fx
        .seeded
        .iter()
        .find(|s| s.function == "checkout-api" && s.error)
        .unwrap();
    b.click(&format!(
        "#invocations tr[data-request='{}'] a",
        inv.request_id
    ));
    b.wait_for(
        "the waterfall",
        "return document.querySelectorAll('#trace .wf-row').length >= 4",
    );
    let names = b.eval(
        "return [...document.querySelectorAll('#trace .wf-row')].map(r => r.dataset.name)",
        json!([]),
    );
    let names: Vec<&str> = names
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        names[0], "aws.apigateway",
        "the inferred trigger span comes first: {names:?}"
    );
    assert_eq!(names[1], "aws.lambda", "then the function span: {names:?}");
    assert!(
        names.contains(&"requests.request") && names.contains(&"postgres.query"),
        "{names:?}"
    );
    let error_bars = b.eval(
        "return document.querySelectorAll('#trace .wf-bar.error').length",
        json!([]),
    );
    assert_eq!(
        error_bars, 2,
        "aws.lambda and the failed HTTP call are highlighted"
    );
    b.wait_for(
        "the known error line in the logs",
        &format!(
            "return document.querySelector('#invocation-logs').textContent.includes('{}')",
            seed::KNOWN_ERROR_LINE
        ),
    );
    let report = b.eval(
        "return document.querySelector('.report').textContent",
        json!([]),
    );
    assert!(
        report.as_str().unwrap().contains("512 MB"),
        "REPORT figures: {report}"
    );
    assert!(b
        .eval("return document.querySelector('h1').textContent", json!([]))
        .as_str()
        .unwrap()
        .contains(&inv.request_id));

    // Span tags on click.
    b.click("#trace .wf-row[data-name='requests.request'] button");
    b.wait_for("the span's tags", "const d = document.querySelector('#span-detail'); return d && d.textContent.includes('402 Payment Required')");
    b.screenshot("invocation");
    b.screenshot_full_page("invocation-full");

    // A cold start shows its load span.
    let cold = fx
        .seeded
        .iter()
        .find(|s| s.function == "image-resizer")
        .unwrap();
    b.goto(&format!(
        "http://{}/invocations/{}?range=1h",
        fx.addr, cold.request_id
    ));
    b.wait_for("the cold-start span", "return document.querySelectorAll('#trace .wf-bar.cold').length === 1 && document.querySelector('.badge.cold')");
}

#[test]
fn ui_log_search_finds_a_known_line_and_links_to_its_invocation() {
    let fx = fixture();
    let b = Browser::start();
    b.goto(&format!("http://{}/logs?range=1h", fx.addr));
    b.wait_for(
        "recent log lines",
        "return document.querySelectorAll('#log-results .log-line').length > 10",
    );
    b.type_into("#log-q", "declined");
    b.click("form[role=search] button[type=submit]");
    b.wait_for("exactly the known line", &format!(
        "const l = document.querySelectorAll('#log-results .log-line'); return l.length === 1 && l[0].textContent.includes('{}') && l[0].querySelector('mark')",
        seed::KNOWN_ERROR_LINE
    ));
    assert!(b
        .eval("return location.search", json!([]))
        .as_str()
        .unwrap()
        .contains("q=declined"));
    b.screenshot("logs");
    let inv = fx
        .seeded
        .iter()
        .find(|s| s.function == "checkout-api" && s.error)
        .unwrap();
    b.click("#log-results .log-line a");
    b.wait_for("the invocation page", &format!("return document.querySelector('h1') && document.querySelector('h1').textContent.includes('{}')", inv.request_id));
    b.wait_for(
        "its waterfall",
        "return document.querySelectorAll('#trace .wf-row').length >= 4",
    );

    // Live tail: a line sent now shows up at the top without a reload.
    b.goto(&format!("http://{}/logs?range=1h", fx.addr));
    b.wait_for(
        "recent log lines",
        "return document.querySelectorAll('#log-results .log-line').length > 10",
    );
    b.click("#live-tail");
    assert_eq!(
        b.eval(
            "return document.querySelector('#live-tail').getAttribute('aria-pressed')",
            json!([])
        ),
        "true"
    );
    seed::post_log(
        fx.addr,
        KEY,
        "billing-cron",
        "tail marker: invoice batch 77 sent",
    );
    b.wait_for("the new line at the top", "return document.querySelector('#log-results .log-line').textContent.includes('invoice batch 77')");

    // Level filter: only error lines.
    b.goto(&format!("http://{}/logs?range=1h&status=error", fx.addr));
    b.wait_for("error lines only", "const l = [...document.querySelectorAll('#log-results .log-line')]; return l.length === 3 && l.every(x => x.classList.contains('error'))");

    // Custom metrics: points per tag set.
    b.goto(&format!(
        "http://{}/metrics?range=1h&name=checkout.orders&tags=functionname:checkout-api",
        fx.addr
    ));
    b.wait_for(
        "the metric chart",
        "return document.querySelectorAll('#metric-result .uplot').length === 1",
    );
    let legend = b.eval(
        "return document.querySelector('#metric-result .u-legend').textContent",
        json!([]),
    );
    assert!(
        legend.as_str().unwrap().contains("payment:card"),
        "series per tag set: {legend}"
    );
    b.screenshot("metrics");
}
