//! When to flush: `DD_SERVERLESS_FLUSH_STRATEGY` and the adaptive default.
//!
//! A blocking flush runs before the extension calls `/event/next`, so it adds to the
//! invocation's duration (post-runtime duration) but guarantees the data left the sandbox
//! before a freeze. A background flush runs while the extension already waits on `next`, so
//! it adds nothing to the invocation but may be frozen mid-flight and finish on the next thaw.
//! The adaptive default uses the first while invocations are sparse (a frozen sandbox may
//! never thaw again) and the second once they are frequent (the next thaw is seconds away).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The configured strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushStrategy {
    /// `default` / unset: end while sparse, continuously once frequent.
    Adaptive,
    /// `end`: blocking flush after every invocation.
    End,
    /// `end,<ms>`: end, plus a flush every `<ms>` during long invocations.
    EndPeriodically(Duration),
    /// `periodically,<ms>`: blocking flush at the start of an invocation once `<ms>` passed.
    Periodically(Duration),
    /// `continuously,<ms>`: background flush at the start of an invocation once `<ms>` passed.
    Continuously(Duration),
}

impl FlushStrategy {
    /// Parses `end`, `end,<ms>`, `periodically,<ms>`, `continuously,<ms>` or `default`.
    pub fn parse(text: &str) -> Result<FlushStrategy, String> {
        let text = text.trim().to_ascii_lowercase();
        let (name, interval) = match text.split_once(',') {
            Some((name, ms)) => {
                let ms: u64 = ms.trim().parse().ok().filter(|ms| *ms > 0).ok_or_else(|| {
                    format!("interval {ms:?} is not a positive number of milliseconds")
                })?;
                (name.trim().to_string(), Some(Duration::from_millis(ms)))
            }
            None => (text.clone(), None),
        };
        match (name.as_str(), interval) {
            ("default", None) => Ok(FlushStrategy::Adaptive),
            ("end", None) => Ok(FlushStrategy::End),
            ("end", Some(i)) => Ok(FlushStrategy::EndPeriodically(i)),
            ("periodically", Some(i)) => Ok(FlushStrategy::Periodically(i)),
            ("continuously", Some(i)) => Ok(FlushStrategy::Continuously(i)),
            ("periodically" | "continuously", None) => {
                Err(format!("{name:?} needs an interval, e.g. \"{name},10000\""))
            }
            _ => Err(format!(
                "{text:?} is not one of end, end,<ms>, periodically,<ms>, continuously,<ms>, default"
            )),
        }
    }
}

/// How a flush point should flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushAction {
    Skip,
    Blocking,
    Background,
}

/// Invocations remembered to judge frequency.
pub const ADAPTIVE_WINDOW: usize = 10;
/// Mean gap between invocations under which the adaptive strategy flushes in the background.
pub const ADAPTIVE_FREQUENT_GAP: Duration = Duration::from_secs(5);
/// A pause this long sends the adaptive strategy back to flushing at the end.
pub const ADAPTIVE_SPARSE_PAUSE: Duration = Duration::from_secs(60);
/// Background flush interval of the adaptive strategy once frequent.
pub const ADAPTIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Flush during an invocation that runs longer than this (adaptive and `end`).
pub const LONG_INVOCATION_FLUSH: Duration = Duration::from_secs(60);

/// Decides, invocation by invocation, when to flush.
#[derive(Debug)]
pub struct FlushScheduler {
    strategy: FlushStrategy,
    invokes: VecDeque<Instant>,
    last_flush: Instant,
}

impl FlushScheduler {
    pub fn new(strategy: FlushStrategy, now: Instant) -> Self {
        FlushScheduler {
            strategy,
            invokes: VecDeque::with_capacity(ADAPTIVE_WINDOW),
            last_flush: now,
        }
    }

    /// True when the adaptive strategy currently flushes in the background.
    pub fn adaptive_is_frequent(&self, now: Instant) -> bool {
        if self.invokes.len() < ADAPTIVE_WINDOW {
            return false;
        }
        let (Some(first), Some(last)) = (self.invokes.front(), self.invokes.back()) else {
            return false;
        };
        if now.saturating_duration_since(*last) > ADAPTIVE_SPARSE_PAUSE {
            return false;
        }
        let mean = last.saturating_duration_since(*first) / (self.invokes.len() as u32 - 1);
        mean < ADAPTIVE_FREQUENT_GAP
    }

    /// Called when an INVOKE arrives; answers whether to flush now (at the start).
    pub fn on_invoke(&mut self, now: Instant) -> FlushAction {
        // Judge the gap before recording this invoke, so a long pause counts.
        let frequent = self
            .invokes
            .back()
            .is_some_and(|last| now.saturating_duration_since(*last) <= ADAPTIVE_SPARSE_PAUSE)
            && self.adaptive_is_frequent(now);
        if self.invokes.len() == ADAPTIVE_WINDOW {
            self.invokes.pop_front();
        }
        self.invokes.push_back(now);
        let since = now.saturating_duration_since(self.last_flush);
        match self.strategy {
            FlushStrategy::Periodically(i) if since >= i => FlushAction::Blocking,
            FlushStrategy::Continuously(i) if since >= i => FlushAction::Background,
            FlushStrategy::Adaptive if frequent && since >= ADAPTIVE_INTERVAL => {
                FlushAction::Background
            }
            _ => FlushAction::Skip,
        }
    }

    /// Called when the runtime finished the invocation (or its deadline is near).
    pub fn at_end(&self, now: Instant) -> FlushAction {
        match self.strategy {
            FlushStrategy::End | FlushStrategy::EndPeriodically(_) => FlushAction::Blocking,
            FlushStrategy::Adaptive if !self.adaptive_is_frequent(now) => FlushAction::Blocking,
            _ => FlushAction::Skip,
        }
    }

    /// How often to flush while one invocation is still running, if at all.
    pub fn during_invocation(&self) -> Option<Duration> {
        match self.strategy {
            FlushStrategy::EndPeriodically(i) => Some(i),
            FlushStrategy::End | FlushStrategy::Adaptive => Some(LONG_INVOCATION_FLUSH),
            _ => None,
        }
    }

    pub fn flushed(&mut self, now: Instant) {
        self.last_flush = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_form() {
        assert_eq!(FlushStrategy::parse("end"), Ok(FlushStrategy::End));
        assert_eq!(
            FlushStrategy::parse("end,5000"),
            Ok(FlushStrategy::EndPeriodically(Duration::from_secs(5)))
        );
        assert_eq!(
            FlushStrategy::parse("periodically,100"),
            Ok(FlushStrategy::Periodically(Duration::from_millis(100)))
        );
        assert_eq!(
            FlushStrategy::parse(" Continuously, 60000 "),
            Ok(FlushStrategy::Continuously(Duration::from_secs(60)))
        );
        assert_eq!(FlushStrategy::parse("default"), Ok(FlushStrategy::Adaptive));
        assert!(FlushStrategy::parse("periodically")
            .unwrap_err()
            .contains("interval"));
        assert!(FlushStrategy::parse("end,0").is_err());
        assert!(FlushStrategy::parse("weekly,5").is_err());
    }

    #[test]
    fn adaptive_flushes_at_end_while_sparse_then_in_background() {
        let t0 = Instant::now();
        let mut s = FlushScheduler::new(FlushStrategy::Adaptive, t0);
        for i in 0..ADAPTIVE_WINDOW as u64 {
            let now = t0 + Duration::from_secs(i);
            assert_eq!(s.on_invoke(now), FlushAction::Skip);
            if i + 1 < ADAPTIVE_WINDOW as u64 {
                assert_eq!(s.at_end(now), FlushAction::Blocking, "invoke {i}");
                s.flushed(now);
            }
        }
        let now = t0 + Duration::from_secs(ADAPTIVE_WINDOW as u64);
        assert_eq!(s.at_end(now), FlushAction::Skip);
        let later = now + ADAPTIVE_INTERVAL;
        assert_eq!(s.on_invoke(later), FlushAction::Background);
        // A long pause makes it sparse again.
        let much_later = later + ADAPTIVE_SPARSE_PAUSE + Duration::from_secs(1);
        assert_eq!(s.on_invoke(much_later), FlushAction::Skip);
        assert_eq!(s.at_end(much_later), FlushAction::Blocking);
    }

    #[test]
    fn fixed_strategies() {
        let t0 = Instant::now();
        let mut s = FlushScheduler::new(FlushStrategy::Continuously(Duration::from_secs(1)), t0);
        assert_eq!(s.on_invoke(t0), FlushAction::Skip);
        assert_eq!(
            s.on_invoke(t0 + Duration::from_secs(2)),
            FlushAction::Background
        );
        assert_eq!(s.at_end(t0), FlushAction::Skip);
        let mut s = FlushScheduler::new(FlushStrategy::Periodically(Duration::from_secs(1)), t0);
        assert_eq!(
            s.on_invoke(t0 + Duration::from_secs(2)),
            FlushAction::Blocking
        );
        let s = FlushScheduler::new(FlushStrategy::End, t0);
        assert_eq!(s.at_end(t0), FlushAction::Blocking);
        assert_eq!(s.during_invocation(), Some(LONG_INVOCATION_FLUSH));
    }
}
