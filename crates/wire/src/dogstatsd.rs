//! DogStatsD datagram text format (metrics only), as Datadog's clients send it on UDP 8125.
//!
//! `name:value[:value...]|type[|@sample_rate][|#tag,tag:value][|T<unix seconds>][|c:...]`
//!
//! Several lines may share one datagram (newline separated). Parsing borrows from the
//! datagram and allocates nothing, because the extension parses every line on the hot path.
//! A malformed line is an error for that line only; events (`_e{`) and service checks
//! (`_sc|`) are recognised and reported as such so the caller can count and skip them.

use std::fmt;

/// At most this many tags are kept per metric; later ones are dropped (and reported).
pub const MAX_TAGS: usize = 100;

/// The metric types DogStatsD clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// `c`: summed over the flush interval.
    Count,
    /// `g`: last value wins.
    Gauge,
    /// `d`: every value goes into a sketch.
    Distribution,
    /// `h`: a histogram; lambdascope treats it as a distribution.
    Histogram,
    /// `ms`: a timer; lambdascope treats it as a distribution.
    Timer,
    /// `s`: counts unique values.
    Set,
}

impl MetricKind {
    /// The type code on the wire.
    pub fn code(self) -> &'static str {
        match self {
            MetricKind::Count => "c",
            MetricKind::Gauge => "g",
            MetricKind::Distribution => "d",
            MetricKind::Histogram => "h",
            MetricKind::Timer => "ms",
            MetricKind::Set => "s",
        }
    }

    fn from_code(code: &str) -> Option<MetricKind> {
        Some(match code {
            "c" => MetricKind::Count,
            "g" => MetricKind::Gauge,
            "d" => MetricKind::Distribution,
            "h" => MetricKind::Histogram,
            "ms" => MetricKind::Timer,
            "s" => MetricKind::Set,
            _ => return None,
        })
    }

    /// True for the kinds whose values become sketches.
    pub fn is_distribution(self) -> bool {
        matches!(
            self,
            MetricKind::Distribution | MetricKind::Histogram | MetricKind::Timer
        )
    }
}

/// Why a line was rejected. The text says what the client should fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DogStatsDError {
    #[error("line is not `name:value|type`: missing `:` or `|`")]
    MissingSeparator,
    #[error("metric name is empty or contains whitespace")]
    BadName,
    #[error("value {0:?} is not a finite number")]
    BadValue(String),
    #[error("unknown metric type {0:?} (expected c, g, d, h, ms or s)")]
    UnknownType(String),
    #[error("sample rate {0:?} must be a number in (0, 1]")]
    BadSampleRate(String),
    #[error("timestamp {0:?} must be a positive integer of Unix seconds")]
    BadTimestamp(String),
    #[error("line is not valid UTF-8")]
    NotUtf8,
}

/// One metric line, borrowing from the datagram.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricLine<'a> {
    pub name: &'a str,
    pub kind: MetricKind,
    /// `:`-separated values, already validated (numbers unless `kind` is `Set`).
    raw_values: &'a str,
    /// In (0, 1]; 1 when absent.
    pub sample_rate: f64,
    /// Comma-separated tags (possibly empty), unvalidated beyond splitting.
    raw_tags: &'a str,
    /// Unix seconds from `|T`, if given.
    pub timestamp: Option<i64>,
}

impl<'a> MetricLine<'a> {
    /// The numeric values (empty for sets, whose values are opaque strings).
    pub fn values(&self) -> impl Iterator<Item = f64> + 'a {
        let numeric = self.kind != MetricKind::Set;
        self.raw_values
            .split(':')
            .filter(move |_| numeric)
            .filter_map(|v| v.parse::<f64>().ok())
    }

    /// The set members, for `s` lines.
    pub fn set_values(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.raw_values.split(':')
    }

    /// Non-empty tags, at most [`MAX_TAGS`].
    pub fn tags(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.raw_tags
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .take(MAX_TAGS)
    }

    /// How many tags were sent (before the [`MAX_TAGS`] cut).
    pub fn tag_count(&self) -> usize {
        self.raw_tags
            .split(',')
            .filter(|t| !t.trim().is_empty())
            .count()
    }
}

impl fmt::Display for MetricLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}|{}", self.name, self.raw_values, self.kind.code())?;
        if self.sample_rate != 1.0 {
            write!(f, "|@{}", self.sample_rate)?;
        }
        if !self.raw_tags.is_empty() {
            write!(f, "|#{}", self.raw_tags)?;
        }
        if let Some(ts) = self.timestamp {
            write!(f, "|T{ts}")?;
        }
        Ok(())
    }
}

/// What one line of a datagram holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Line<'a> {
    Metric(MetricLine<'a>),
    /// `_e{...}`: an event; not handled by lambdascope.
    Event,
    /// `_sc|...`: a service check; not handled by lambdascope.
    ServiceCheck,
}

/// Splits a datagram into its non-empty lines (`\n`, optional `\r`).
pub fn lines(datagram: &[u8]) -> impl Iterator<Item = &[u8]> {
    datagram
        .split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
}

/// Parses one line from raw bytes.
pub fn parse_line_bytes(line: &[u8]) -> Result<Line<'_>, DogStatsDError> {
    let text = std::str::from_utf8(line).map_err(|_| DogStatsDError::NotUtf8)?;
    parse_line(text)
}

/// Parses one line. Unknown `|` fields are skipped so newer clients keep working.
pub fn parse_line(line: &str) -> Result<Line<'_>, DogStatsDError> {
    let line = line.trim();
    if line.starts_with("_e{") {
        return Ok(Line::Event);
    }
    if line.starts_with("_sc|") {
        return Ok(Line::ServiceCheck);
    }
    let (head, rest) = line
        .split_once('|')
        .ok_or(DogStatsDError::MissingSeparator)?;
    let (name, raw_values) = head
        .split_once(':')
        .ok_or(DogStatsDError::MissingSeparator)?;
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(DogStatsDError::BadName);
    }
    let mut fields = rest.split('|');
    let code = fields.next().unwrap_or("").trim();
    let kind =
        MetricKind::from_code(code).ok_or_else(|| DogStatsDError::UnknownType(code.into()))?;
    if raw_values.is_empty() {
        return Err(DogStatsDError::BadValue(String::new()));
    }
    if kind != MetricKind::Set {
        for value in raw_values.split(':') {
            match value.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => {}
                _ => return Err(DogStatsDError::BadValue(value.into())),
            }
        }
    }
    let mut metric = MetricLine {
        name,
        kind,
        raw_values,
        sample_rate: 1.0,
        raw_tags: "",
        timestamp: None,
    };
    for field in fields {
        if let Some(rate) = field.strip_prefix('@') {
            match rate.parse::<f64>() {
                Ok(r) if r > 0.0 && r <= 1.0 => metric.sample_rate = r,
                _ => return Err(DogStatsDError::BadSampleRate(rate.into())),
            }
        } else if let Some(tags) = field.strip_prefix('#') {
            metric.raw_tags = tags;
        } else if let Some(ts) = field.strip_prefix('T') {
            match ts.parse::<i64>() {
                Ok(t) if t > 0 => metric.timestamp = Some(t),
                _ => return Err(DogStatsDError::BadTimestamp(ts.into())),
            }
        }
        // `c:` container id, `e:` external data, and anything newer: skipped.
    }
    Ok(Line::Metric(metric))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metric(line: &str) -> MetricLine<'_> {
        match parse_line(line).unwrap() {
            Line::Metric(m) => m,
            other => panic!("not a metric: {other:?}"),
        }
    }

    #[test]
    fn parses_every_type_with_rate_tags_and_timestamp() {
        let m = metric("page.views:1|c|@0.5|#env:prod,route:/home|T1700000000");
        assert_eq!(m.name, "page.views");
        assert_eq!(m.kind, MetricKind::Count);
        assert_eq!(m.values().collect::<Vec<_>>(), vec![1.0]);
        assert_eq!(m.sample_rate, 0.5);
        assert_eq!(
            m.tags().collect::<Vec<_>>(),
            vec!["env:prod", "route:/home"]
        );
        assert_eq!(m.timestamp, Some(1_700_000_000));
        for (code, kind) in [
            ("g", MetricKind::Gauge),
            ("d", MetricKind::Distribution),
            ("h", MetricKind::Histogram),
            ("ms", MetricKind::Timer),
            ("s", MetricKind::Set),
        ] {
            let line = format!("x:2|{code}");
            assert_eq!(metric(&line).kind, kind);
        }
    }

    #[test]
    fn several_values_per_line_and_lines_per_datagram() {
        let datagram = b"a:1:2:3|d\r\nb:4|g\n\n_e{5,4}:title|text\n_sc|check|0\n";
        let parsed: Vec<_> = lines(datagram)
            .map(|l| parse_line_bytes(l).unwrap())
            .collect();
        assert_eq!(parsed.len(), 4);
        match &parsed[0] {
            Line::Metric(m) => assert_eq!(m.values().collect::<Vec<_>>(), vec![1.0, 2.0, 3.0]),
            other => panic!("{other:?}"),
        }
        assert_eq!(parsed[2], Line::Event);
        assert_eq!(parsed[3], Line::ServiceCheck);
    }

    #[test]
    fn sets_keep_opaque_members() {
        let m = metric("users:alice:bob|s");
        assert_eq!(m.set_values().collect::<Vec<_>>(), vec!["alice", "bob"]);
        assert_eq!(m.values().count(), 0);
    }

    #[test]
    fn unknown_fields_are_skipped_and_tags_are_capped() {
        let tags: Vec<String> = (0..150).map(|i| format!("t{i}")).collect();
        let line = format!("m:1|c|c:abc|#{}|e:xyz", tags.join(","));
        let m = metric(&line);
        assert_eq!(m.tag_count(), 150);
        assert_eq!(m.tags().count(), MAX_TAGS);
        assert_eq!(
            m.to_string(),
            line.replace("|c:abc", "").replace("|e:xyz", "")
        );
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        assert_eq!(parse_line("novalue"), Err(DogStatsDError::MissingSeparator));
        assert_eq!(parse_line(":1|c"), Err(DogStatsDError::BadName));
        assert_eq!(
            parse_line("a:abc|c"),
            Err(DogStatsDError::BadValue("abc".into()))
        );
        assert_eq!(
            parse_line("a:NaN|g"),
            Err(DogStatsDError::BadValue("NaN".into()))
        );
        assert_eq!(
            parse_line("a:1|zz"),
            Err(DogStatsDError::UnknownType("zz".into()))
        );
        assert_eq!(
            parse_line("a:1|c|@0"),
            Err(DogStatsDError::BadSampleRate("0".into()))
        );
        assert_eq!(
            parse_line("a:1|c|Tsoon"),
            Err(DogStatsDError::BadTimestamp("soon".into()))
        );
        assert_eq!(parse_line_bytes(b"a:\xff|c"), Err(DogStatsDError::NotUtf8));
        assert!(parse_line("a:1|c").is_ok());
    }

    /// A fixed-seed random-input test: no input may panic the parser (the fuzz target
    /// in `crates/wire/fuzz` does the same without the seed).
    #[test]
    fn random_input_never_panics() {
        let alphabet = b"ab.:|#@,T0123456789-+e.\n\r sgdhmc_{}\xff";
        let mut state: u64 = 0x5eed_1234_abcd_0001;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 64) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            for line in lines(&bytes) {
                if let Ok(Line::Metric(m)) = parse_line_bytes(line) {
                    let _ = m.values().count() + m.tags().count() + m.set_values().count();
                    let _ = m.to_string();
                }
            }
        }
    }
}
