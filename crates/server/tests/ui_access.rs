//! Who may use the UI and the query API: open on loopback without a token; with a token, a
//! login (HttpOnly session cookie) or `Authorization: Bearer`; the intake keeps its API key.

mod ui_support;

use lambdascope_server::ui::UiAccess;
use ui_support::browser::Browser;
use ui_support::{http, seed, start_server, KEY};

const TOKEN: &str = "let-me-in-7f3a";

#[test]
fn ui_token_guards_pages_and_query_api_but_not_the_intake() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, _dir) = rt.block_on(start_server(UiAccess::with_token(TOKEN)));
    let addr = server.addr();
    // The intake still works with its API key alone.
    seed::seed(addr, KEY);

    let page = http::request(addr, "GET", "/functions/checkout-api?range=1h", &[], b"").unwrap();
    assert_eq!(
        page.status, 303,
        "a page without login redirects to the login form"
    );
    assert_eq!(
        page.header("location"),
        Some("/login?next=/functions/checkout-api%3Frange%3D1h")
    );
    let api = http::request(addr, "GET", "/api/functions", &[], b"").unwrap();
    assert_eq!(api.status, 401, "{}", api.text());
    assert!(
        api.text().contains("/login"),
        "the error says what to do: {}",
        api.text()
    );
    let wrong = http::request(
        addr,
        "GET",
        "/api/functions",
        &[("Authorization", "Bearer nope")],
        b"",
    )
    .unwrap();
    assert_eq!(wrong.status, 401);
    let bearer_header = format!("Bearer {TOKEN}");
    let bearer = http::request(
        addr,
        "GET",
        "/api/functions",
        &[("Authorization", &bearer_header)],
        b"",
    )
    .unwrap();
    assert_eq!(bearer.status, 200, "{}", bearer.text());
    assert_eq!(bearer.json()["functions"].as_array().unwrap().len(), 3);
    // Scripts holding an API key keep using it.
    let keyed = http::request(addr, "GET", "/api/functions", &[("DD-API-KEY", KEY)], b"").unwrap();
    assert_eq!(keyed.status, 200);
    // Assets and the login form are public; they hold no data.
    assert_eq!(
        http::request(addr, "GET", "/assets/js/app.js", &[], b"")
            .unwrap()
            .status,
        200
    );
    let form = http::request(addr, "GET", "/login?next=/logs", &[], b"").unwrap();
    assert_eq!(form.status, 200);
    assert!(form.text().contains("value=\"/logs\""));

    // Logging in: a wrong token is refused, the right one sets an HttpOnly cookie.
    let form_type = ("Content-Type", "application/x-www-form-urlencoded");
    let bad = http::request(
        addr,
        "POST",
        "/login",
        &[form_type],
        b"token=guess&next=%2Flogs",
    )
    .unwrap();
    assert_eq!(bad.status, 401);
    assert!(bad.header("set-cookie").is_none());
    let body = format!("token={TOKEN}&next=%2F%2Fevil.example");
    let ok = http::request(addr, "POST", "/login", &[form_type], body.as_bytes()).unwrap();
    assert_eq!(ok.status, 303);
    assert_eq!(
        ok.header("location"),
        Some("/"),
        "an off-site next is not followed"
    );
    let cookie = ok
        .header("set-cookie")
        .expect("a session cookie")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let with_cookie =
        http::request(addr, "GET", "/api/functions", &[("Cookie", &session)], b"").unwrap();
    assert_eq!(with_cookie.status, 200);
    let home = http::request(addr, "GET", "/", &[("Cookie", &session)], b"").unwrap();
    assert_eq!(home.status, 200);
    assert!(
        home.text().contains("data-function=\"checkout-api\""),
        "the home table is rendered on the server"
    );
    // Logging out ends the session.
    http::request(addr, "POST", "/logout", &[("Cookie", &session)], b"").unwrap();
    let after = http::request(addr, "GET", "/api/functions", &[("Cookie", &session)], b"").unwrap();
    assert_eq!(after.status, 401);

    // The same in a browser: the login form leads back to the page asked for.
    let b = Browser::start();
    b.goto(&format!("http://{addr}/logs?range=1h"));
    b.wait_for(
        "the login form",
        "return location.pathname === '/login' && document.querySelector('#token')",
    );
    b.screenshot("login");
    b.type_into("#token", TOKEN);
    b.click("form button[type=submit]");
    b.wait_for("the logs page after login", "return location.pathname === '/logs' && document.querySelectorAll('#log-results .log-line').length > 0");
    drop(server);
}

#[test]
fn ui_loopback_without_token_is_open_and_intake_still_needs_a_key() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, _dir) = rt.block_on(start_server(UiAccess::open()));
    let addr = server.addr();
    assert_eq!(
        http::request(addr, "GET", "/", &[], b"").unwrap().status,
        200
    );
    assert_eq!(
        http::request(addr, "GET", "/api/functions", &[], b"")
            .unwrap()
            .status,
        200
    );
    let login = http::request(addr, "GET", "/login", &[], b"").unwrap();
    assert_eq!(login.status, 303, "no login needed: back to the UI");
    let intake = http::request(
        addr,
        "POST",
        "/api/v2/logs",
        &[("Content-Type", "application/json")],
        b"[]",
    )
    .unwrap();
    assert_eq!(
        intake.status,
        403,
        "the intake never rides on UI access: {}",
        intake.text()
    );
}
