//! Progress over many functions: a redrawn bar on a terminal, plain lines otherwise (CI logs).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// Reports each finished function to stderr.
pub struct Progress {
    total: usize,
    verb: &'static str,
    tty: bool,
    state: Mutex<usize>,
}

impl Progress {
    /// `verb` describes the work (`instrumenting`, `uninstrumenting`).
    pub fn new(total: usize, verb: &'static str) -> Progress {
        Progress {
            total,
            verb,
            tty: std::io::stderr().is_terminal(),
            state: Mutex::new(0),
        }
    }

    /// Records one finished function and its outcome (`updated`, `unchanged`, `failed`).
    pub fn finished(&self, function: &str, outcome: &str) {
        let mut done = self.state.lock().unwrap_or_else(|p| p.into_inner());
        *done += 1;
        let mut err = std::io::stderr().lock();
        if self.tty {
            const WIDTH: usize = 30;
            let filled = WIDTH * *done / self.total.max(1);
            let _ = write!(
                err,
                "\r{} [{}{}] {}/{}",
                self.verb,
                "#".repeat(filled),
                ".".repeat(WIDTH - filled),
                *done,
                self.total
            );
            if *done == self.total {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(
                err,
                "[{}/{}] {} {function}: {outcome}",
                *done, self.total, self.verb
            );
        }
    }
}
