//! The real `lambdascope server` binary is SIGKILLed while clients stream payloads;
//! after a restart every payload that got a 202 is queryable, and no payload is
//! half-stored.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use lambdascope_wire::intake_logs::{self, LogEntry};
use support::{now_ms, request, zstd};

const KEY: &str = "crash-test-key";
const LINES: usize = 20;

/// The CLI binary: `LAMBDASCOPE_BIN`, else `target/<profile>/lambdascope` next to this
/// test (`scripts/test` builds it first), else built by cargo into a separate target
/// directory (so it never waits on the lock of the build running this test).
fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("LAMBDASCOPE_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap();
    let beside = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("lambdascope");
    if beside.exists() {
        return beside;
    }
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("lambdascope-bin");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "-p",
            "lambdascope",
            "--bin",
            "lambdascope",
            "--target-dir",
        ])
        .arg(&target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "building the lambdascope binary failed");
    target_dir.join("debug").join("lambdascope")
}

fn start(data_dir: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(binary())
        .args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            KEY,
            "--data-dir",
        ])
        .arg(data_dir)
        .env("LAMBDASCOPE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .trim_start_matches("http://")
        .to_owned();
    (
        child,
        url.parse()
            .unwrap_or_else(|_| panic!("no address in {line:?}")),
    )
}

fn payload(n: usize) -> Vec<u8> {
    let now = now_ms();
    let logs: Vec<LogEntry> = (0..LINES)
        .map(|i| LogEntry {
            message: format!("payload{n} line {i}"),
            timestamp: Some(now),
            ddtags: Some(format!("batch:{n}")),
            ..Default::default()
        })
        .collect();
    zstd(&intake_logs::encode(&logs))
}

#[test]
fn nothing_acknowledged_is_lost_when_the_server_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = start(dir.path());
    let acked: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);

    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                while !stop.load(Ordering::SeqCst) {
                    let n = next.fetch_add(1, Ordering::SeqCst);
                    let headers = [("DD-API-KEY", KEY), ("Content-Encoding", "zstd")];
                    match request(addr, "POST", "/api/v2/logs", &headers, &payload(n)) {
                        Ok(r) if r.status == 202 => {
                            acked.lock().unwrap().insert(n);
                        }
                        Ok(r) => panic!("payload {n} rejected: {} {}", r.status, r.text()),
                        Err(_) => break, // the server is gone
                    }
                }
            });
        }
        // Let the clients get going, then kill the server mid-stream (SIGKILL).
        while acked.lock().unwrap().len() < 40 {
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        stop.store(true, Ordering::SeqCst);
    });

    let acked = acked.into_inner().unwrap();
    let (mut child, addr) = start(dir.path());

    // Every acknowledged payload is complete; no payload is partly stored.
    let db = rusqlite::Connection::open(dir.path().join("lambdascope.db")).unwrap();
    let mut lines_per_payload: HashMap<usize, usize> = HashMap::new();
    let mut stmt = db.prepare("SELECT message FROM logs").unwrap();
    for message in stmt.query_map([], |r| r.get::<_, String>(0)).unwrap() {
        let message = message.unwrap();
        let n: usize = message["payload".len()..message.find(' ').unwrap()]
            .parse()
            .unwrap();
        *lines_per_payload.entry(n).or_default() += 1;
    }
    for n in &acked {
        assert_eq!(
            lines_per_payload.get(n),
            Some(&LINES),
            "acknowledged payload {n} is incomplete"
        );
    }
    for (n, lines) in &lines_per_payload {
        assert_eq!(*lines, LINES, "payload {n} is half-stored");
    }

    // And the restarted server serves them through the query API.
    let from = now_ms() - 3_600_000;
    for n in acked.iter().step_by(7) {
        let path = format!("/api/logs?q=payload{n}&from={from}&limit=100");
        let r = request(addr, "GET", &path, &[("DD-API-KEY", KEY)], b"").unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.json()["items"].as_array().unwrap().len(),
            LINES,
            "payload {n}"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
