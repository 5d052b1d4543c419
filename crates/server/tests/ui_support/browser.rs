//! Debian's headless chromium driven through chromedriver's W3C WebDriver HTTP API.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::http;

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a condition may take to come true before the test fails with what it saw.
const WAIT: Duration = Duration::from_secs(20);

fn find_binary(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless chromium session.
    /// Fails (never skips) when chromium or chromedriver is missing.
    pub fn start() -> Browser {
        let chromium = find_binary(&["/usr/lib/chromium/chromium", "/usr/bin/chromium"]).unwrap_or_else(|| {
            panic!("chromium is not installed: the UI browser tests need Debian's chromium and chromium-driver; run scripts/setup")
        });
        let chromedriver = find_binary(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]).unwrap_or_else(|| {
            panic!("chromedriver is not installed: the UI browser tests need Debian's chromium-driver; run scripts/setup")
        });
        let profile = tempfile::tempdir().expect("temp dir");
        for _attempt in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let mut driver = Command::new(&chromedriver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts");
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let deadline = Instant::now() + Duration::from_secs(15);
            let mut ready = false;
            while Instant::now() < deadline {
                if let Ok(r) = http::request(addr, "GET", "/status", &[], b"") {
                    if r.status == 200 && r.json()["value"]["ready"] == json!(true) {
                        ready = true;
                        break;
                    }
                }
                if let Ok(Some(_)) = driver.try_wait() {
                    break; // port taken by someone else: try another
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if !ready {
                let _ = driver.kill();
                let _ = driver.wait();
                continue;
            }
            let caps = json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1440,900",
                        format!("--user-data-dir={}", profile.path().display()),
                    ]
                }
            }}});
            let r = http::request(
                addr,
                "POST",
                "/session",
                &[("Content-Type", "application/json")],
                caps.to_string().as_bytes(),
            )
            .expect("chromedriver answers");
            let v = r.json();
            let session = v["value"]["sessionId"]
                .as_str()
                .unwrap_or_else(|| panic!("chromium did not start a session: {v}"))
                .to_owned();
            return Browser {
                driver,
                addr,
                session,
                _profile: profile,
            };
        }
        panic!("chromedriver did not become ready on any of 5 ports");
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let full = format!("/session/{}{path}", self.session);
        let payload = if method == "GET" {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let r = http::request(
            self.addr,
            method,
            &full,
            &[("Content-Type", "application/json")],
            &payload,
        )
        .unwrap_or_else(|e| panic!("chromedriver {method} {path}: {e}"));
        let v = r.json();
        if r.status != 200 {
            panic!(
                "chromedriver {method} {path} answered {}: {}",
                r.status, v["value"]
            );
        }
        v["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", json!({ "url": url }));
    }

    pub fn set_size(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            json!({"width": width, "height": height}),
        );
    }

    /// Runs `script` (a function body; `arguments` available) and returns its value.
    pub fn eval(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": args }),
        )
    }

    /// Waits until `script` returns something truthy; returns it. Fails with `what` and the
    /// page's text when it never does.
    pub fn wait_for(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.eval(script, json!([]));
            let truthy = !matches!(v, Value::Null | Value::Bool(false))
                && v != json!(0)
                && v != json!("")
                && v != json!([]);
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let text = self.eval("return document.body.innerText.slice(0, 3000)", json!([]));
                panic!(
                    "timed out waiting for {what}; the page shows:\n{}",
                    text.as_str().unwrap_or("")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn element(&self, css: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let full = format!("/session/{}/element", self.session);
            let body = json!({"using": "css selector", "value": css}).to_string();
            let r = http::request(
                self.addr,
                "POST",
                &full,
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            )
            .expect("chromedriver answers");
            if r.status == 200 {
                let v = r.json();
                return v["value"][ELEMENT_KEY]
                    .as_str()
                    .unwrap_or_else(|| {
                        panic!("chromedriver found {css:?} but sent no element id: {v}")
                    })
                    .to_owned();
            }
            if Instant::now() > deadline {
                panic!("no element matches {css:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Clicks the first element matching `css` (waiting for it), like a user would.
    /// An element the page re-rendered between finding and clicking is looked up again.
    pub fn click(&self, css: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let id = self.element(css);
            let full = format!("/session/{}/element/{id}/click", self.session);
            let r = http::request(
                self.addr,
                "POST",
                &full,
                &[("Content-Type", "application/json")],
                b"{}",
            )
            .expect("chromedriver answers");
            if r.status == 200 {
                return;
            }
            let v = r.json();
            if v["value"]["error"] != "stale element reference" || Instant::now() > deadline {
                panic!(
                    "clicking {css:?} failed ({}): {}",
                    r.status, v["value"]["message"]
                );
            }
        }
    }

    /// Types `text` into the element matching `css` (after clearing it).
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.call("POST", &format!("/element/{id}/clear"), json!({}));
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        );
    }

    /// Selects the option with `value` in the `<select>` matching `css`.
    pub fn select(&self, css: &str, value: &str) {
        self.click(&format!("{css} option[value=\"{value}\"]"));
    }

    /// A screenshot of the whole page (the window grown to the page's height, then restored).
    pub fn screenshot_full_page(&self, name: &str) -> PathBuf {
        let height = self
            .eval("return document.documentElement.scrollHeight", json!([]))
            .as_u64()
            .unwrap_or(900);
        self.set_size(1440, (height as u32 + 140).min(6000));
        std::thread::sleep(std::time::Duration::from_millis(300)); // let charts follow the resize
        let path = self.screenshot(name);
        self.set_size(1440, 900);
        path
    }

    /// Saves a PNG screenshot under `test-artifacts/ui/<name>.png` and returns its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let b64 = self.call("GET", "/screenshot", json!({}));
        let png = http::base64_decode(b64.as_str().expect("base64 screenshot"));
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir).expect("artifacts dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }
}

pub fn artifacts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-artifacts/ui")
}

impl Drop for Browser {
    fn drop(&mut self) {
        let full = format!("/session/{}", self.session);
        let _ = http::request(self.addr, "DELETE", &full, &[], b"");
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
