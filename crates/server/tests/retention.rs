//! Old data is deleted in small batches; recent data stays.

mod support;

use std::time::Duration;

use lambdascope_wire::intake_logs::{self, LambdaContext, LogEntry};
use support::{now_ms, TestServer};

fn count(server: &TestServer, sql: &str) -> i64 {
    let db = rusqlite::Connection::open(server.dir.path().join("lambdascope.db")).unwrap();
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn retention_sweeps_old_rows_incrementally() {
    let server = TestServer::start_with(|c| {
        c.retention = Duration::from_secs(3600);
        c.retention_interval = Duration::from_millis(100);
        c.retention_batch_rows = 7;
    });
    let now = now_ms();
    let report = |id: String, ts: i64| {
        LogEntry {
        message: format!("REPORT RequestId: {id}\tDuration: 5.00 ms\tBilled Duration: 5 ms\tMemory Size: 128 MB\tMax Memory Used: 20 MB"),
        timestamp: Some(ts),
        lambda: Some(LambdaContext { arn: Some("arn:aws:lambda:us-east-1:1:function:old".into()), request_id: Some(id) }),
        ..Default::default()
    }
    };
    let mut logs: Vec<LogEntry> = (0..120)
        .map(|i| report(format!("old-{i}"), now - 2 * 3_600_000 - i * 61_000))
        .collect();
    logs.extend((0..5).map(|i| report(format!("new-{i}"), now - 60_000 + i)));
    assert_eq!(
        server
            .post("/api/v2/logs", None, &intake_logs::encode(&logs))
            .status,
        202
    );

    // Wait (without asserting on time) until the sweep has caught up.
    for _ in 0..600 {
        if count(&server, "SELECT COUNT(*) FROM logs") == 5 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(count(&server, "SELECT COUNT(*) FROM logs"), 5);
    for _ in 0..600 {
        if count(&server, "SELECT COUNT(*) FROM function_minutes") <= 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        count(
            &server,
            "SELECT COUNT(*) FROM invocations WHERE request_id LIKE 'old-%'"
        ),
        0
    );
    assert_eq!(count(&server, "SELECT COUNT(*) FROM invocations"), 5);
    let search = server.get_json(&format!(
        "/api/logs?q=REPORT&from={}&to={}",
        now - 86_400_000,
        now + 1000
    ));
    assert_eq!(
        search["items"].as_array().unwrap().len(),
        5,
        "the full-text index forgot the deleted rows too"
    );
    let f = &server.get_json("/api/functions")["functions"][0];
    assert_eq!(f["invocations"], 5);
}
