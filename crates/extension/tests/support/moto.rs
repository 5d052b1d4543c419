//! moto in server mode (a real AWS API emulator), started per test on an ephemeral port.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct Moto {
    child: Child,
    pub port: u16,
}

/// The Python with the test requirements: `LAMBDASCOPE_TEST_PYTHON`, else the worktree's
/// `.venv` (made by scripts/setup), else `python3`.
pub fn test_python() -> PathBuf {
    if let Ok(p) = std::env::var("LAMBDASCOPE_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("python3")
}

impl Moto {
    pub fn start() -> Moto {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/moto_server.py");
        let mut child = Command::new(test_python())
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start python for moto (run scripts/setup to install moto[server])");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            panic!("moto did not start (is moto[server] installed? run scripts/setup): {line:?}")
        });
        Moto { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
