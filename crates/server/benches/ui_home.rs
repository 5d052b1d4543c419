//! How fast the home page (the functions table) appears with 200 functions and 1M
//! invocations stored: server time for the HTML and `/api/functions`, then a real headless
//! chromium load until the rows are painted. Prints figures and the ratio to the 300 ms
//! budget. Run with `bench/ui.sh`.

#[path = "../tests/ui_support/mod.rs"]
mod ui_support;

use std::time::Instant;

use lambdascope_server::store::{InvocationFacts, WriteBatch};
use lambdascope_server::ui::UiAccess;
use ui_support::browser::Browser;
use ui_support::{http, start_server};

const BUDGET_MS: f64 = 300.0;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let functions = env_usize("BENCH_FUNCTIONS", 200);
    let total = env_usize("BENCH_INVOCATIONS", 1_000_000);
    let runs = env_usize("BENCH_RUNS", 15);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, _dir) = rt.block_on(start_server(UiAccess::open()));
    let addr = server.addr();
    let store = server.store();
    let now = now_ms();

    // Seeded straight through the store API (the intake path has its own benchmark).
    let started = Instant::now();
    let span_ms = 3_600_000.0 / total as f64;
    for b in 0..total.div_ceil(5000) {
        let mut batch = WriteBatch::default();
        for i in b * 5000..((b + 1) * 5000).min(total) {
            let duration = 15.0 + (i % 700) as f64 * (1.0 + (i % functions) as f64 / 40.0);
            batch.invocations.push(InvocationFacts {
                request_id: format!("req-{i:08}"),
                function: Some(format!("service-{:03}-handler", i % functions)),
                start_ms: Some(now - 3_600_000 + (i as f64 * span_ms) as i64),
                cold_start: Some(i % 61 == 0),
                duration_ms: Some(duration),
                billed_ms: Some(duration.ceil()),
                memory_mb: Some(128 << (i % functions % 4)),
                max_memory_mb: Some(50 + (i % 70) as i64),
                error: Some(i % 89 == 0),
                timeout: Some(false),
                oom: Some(false),
                ..InvocationFacts::default()
            });
        }
        store.write(batch).unwrap();
    }
    println!(
        "lambdascope UI home page benchmark: {functions} functions, {total} invocations in the last hour (stored in {:.1} s)",
        started.elapsed().as_secs_f64()
    );

    // Server time.
    let api_path = format!(
        "/api/functions?from={}&to={}",
        now - 3_600_000,
        now + 60_000
    );
    let body = http::request(addr, "GET", &api_path, &[], b"")
        .unwrap()
        .json();
    let rows = body["functions"].as_array().unwrap();
    let counted: u64 = rows
        .iter()
        .map(|f| f["invocations"].as_u64().unwrap())
        .sum();
    assert_eq!(
        (rows.len(), counted as usize),
        (functions, total),
        "everything stored is counted"
    );
    let time = |path: &str| {
        median(
            (0..runs)
                .map(|_| {
                    let t = Instant::now();
                    let r = http::request(addr, "GET", path, &[], b"").unwrap();
                    assert_eq!(r.status, 200);
                    t.elapsed().as_secs_f64() * 1000.0
                })
                .collect(),
        )
    };
    let html_ms = time("/");
    let api_ms = time(&api_path);
    println!("server: GET / {html_ms:.2} ms, GET /api/functions (1 h) {api_ms:.1} ms (medians of {runs})");

    // A real browser: each run loads the page anew in the same tab (as a refresh does; `/` is
    // never cached), then waits for the previous page's follow-up requests (tags, sparklines)
    // to finish so they do not queue in front of the next load.
    let browser = Browser::start();
    browser.set_size(1440, 900);
    let mut samples = Vec::new();
    for run in 0..=runs {
        browser.goto(&format!("http://{addr}/?range=1h"));
        browser.wait_for(
            "the script's takeover of the table",
            "return performance.getEntriesByName('functions-painted').length === 1 && \
             document.querySelectorAll('#functions tbody tr').length",
        );
        let v = browser.wait_for(
            "the timings",
            "const m = performance.getEntriesByName('functions-painted')[0].startTime;\
             const f = performance.getEntriesByName('first-contentful-paint')[0];\
             const nav = performance.getEntriesByType('navigation')[0];\
             const rows = document.querySelectorAll('#functions tbody tr[data-function]').length;\
             const sparks = document.querySelectorAll('#functions td.spark svg').length;\
             if (!f || sparks < 10) return null;\
             return [f.startTime, m, nav.responseStart, nav.responseEnd, rows];",
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
        let n = |i: usize| v[i].as_f64().unwrap_or(f64::NAN);
        assert_eq!(
            v[4].as_u64().unwrap_or(0) as usize,
            functions,
            "all functions listed"
        );
        if run == 0 {
            println!(
                "browser, first load (cold cache): first screenful painted {:.0} ms, all rows {:.0} ms after navigation start",
                n(0),
                n(1)
            );
            continue;
        }
        samples.push([n(0), n(1), n(2), n(3)]);
    }
    // Calibration: the first paint of a trivial page (a small text file) on this machine, now.
    let trivial: Vec<f64> = (0..runs)
        .map(|_| {
            browser.goto(&format!("http://{addr}/assets/vendor/uplot/LICENSE"));
            browser
                .wait_for(
                    "the first paint of a text page",
                    "const f = performance.getEntriesByName('first-contentful-paint')[0]; return f ? f.startTime : null",
                )
                .as_f64()
                .unwrap_or(f64::NAN)
        })
        .collect();
    let trivial_fcp = median(trivial);
    let med = |i: usize| median(samples.iter().map(|s| s[i]).collect());
    let (first_screen, complete, first_byte, html_done) = (med(0), med(1), med(2), med(3));
    println!(
        "browser, medians of {runs} loads after navigation start: HTML first byte {first_byte:.0} ms, HTML complete {html_done:.0} ms, \
         all {functions} rows in the table and painted {complete:.0} ms"
    );
    println!(
        "home page rendered (navigation start -> first paint: header, tiles and the first screenful of rows): {first_screen:.0} ms   \
         budget <= {BUDGET_MS:.0} ms   ratio {:.2}x (budget/measured)",
        BUDGET_MS / first_screen
    );
    println!(
        "  of which server time {html_ms:.0} ms (GET / with the store query); whole table painted at {complete:.0} ms (ratio {:.2}x)",
        BUDGET_MS / complete
    );
    println!(
        "  calibration: a trivial text page first paints {trivial_fcp:.0} ms after navigation start on this machine now \
         (load average {})",
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').next().unwrap_or("?")
    );
    drop(browser);
    drop(server);
}
