//! Log lines: what the function and its extensions print, plus the platform's START/END/REPORT lines,
//! streamed to a [`LogSink`] as CloudWatch shows them and kept as a per-invoke tail.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Who wrote a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    Function,
    /// An extension, by its name.
    Extension(String),
    /// The platform: `START`, `END`, `REPORT`, `INIT_START`, and sandbox errors.
    Platform,
}

/// One CloudWatch-style line.
#[derive(Debug, Clone)]
pub struct LogLine {
    pub source: LogSource,
    /// The request being served when the line was written, if any.
    pub request_id: Option<String>,
    pub text: String,
}

/// Receives every line as it is written. Called from sandbox tasks: keep it quick.
pub type LogSink = Arc<dyn Fn(&LogLine) + Send + Sync>;

/// The Invoke API's `X-Amz-Log-Result` carries at most the last 4 KB.
pub const LOG_TAIL_BYTES: usize = 4096;

/// Keeps the last [`LOG_TAIL_BYTES`] of text, cut at a line boundary where possible.
#[derive(Debug, Default)]
pub(crate) struct LogTail {
    text: String,
}

impl LogTail {
    pub fn push_line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
        if self.text.len() > 2 * LOG_TAIL_BYTES {
            self.trim();
        }
    }

    fn trim(&mut self) {
        if self.text.len() <= LOG_TAIL_BYTES {
            return;
        }
        let mut cut = self.text.len() - LOG_TAIL_BYTES;
        while !self.text.is_char_boundary(cut) {
            cut += 1;
        }
        self.text.drain(..cut);
    }

    pub fn take(&mut self) -> String {
        self.trim();
        std::mem::take(&mut self.text)
    }
}

/// Reads `reader` line by line (split on `\n` only, as Lambda does) and hands each line to `on_line`.
/// Invalid UTF-8 is replaced rather than dropped.
pub(crate) async fn pump_lines<R, F>(reader: R, mut on_line: F)
where
    R: AsyncRead + Unpin,
    F: FnMut(String),
{
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if buf.last() == Some(&b'\n') {
                    buf.pop();
                }
                on_line(String::from_utf8_lossy(&buf).into_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_4kb() {
        let mut tail = LogTail::default();
        for i in 0..1000 {
            tail.push_line(&format!("line {i}"));
        }
        let text = tail.take();
        assert!(text.len() <= LOG_TAIL_BYTES);
        assert!(text.ends_with("line 999\n"));
    }
}
