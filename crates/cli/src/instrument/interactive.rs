//! `-i`: line-based prompts for region, functions, site and API key source, then a confirmation
//! after the diff. Plain stdin lines (no raw terminal mode), so it can be driven by a pipe.

use std::collections::HashMap;
use std::io::{BufRead, Write};

use anyhow::{bail, Result};

use super::options::DATADOG_SITES;

/// Asks questions on `output` and reads answers from `input`, one line each.
pub struct Prompter<R, W> {
    input: R,
    output: W,
}

impl<R: BufRead, W: Write> Prompter<R, W> {
    pub fn new(input: R, output: W) -> Self {
        Prompter { input, output }
    }

    /// Reads one answer; an empty answer gives `default` when there is one.
    pub fn ask(&mut self, question: &str, default: Option<&str>) -> Result<String> {
        loop {
            match default {
                Some(d) => write!(self.output, "? {question} [{d}]: ")?,
                None => write!(self.output, "? {question}: ")?,
            }
            self.output.flush()?;
            let mut line = String::new();
            if self.input.read_line(&mut line)? == 0 {
                bail!("input ended before \"{question}\" was answered; nothing was changed");
            }
            let answer = line.trim();
            if !answer.is_empty() {
                return Ok(answer.to_string());
            }
            if let Some(d) = default {
                return Ok(d.to_string());
            }
            writeln!(self.output, "  an answer is required")?;
        }
    }

    /// Picks one of `items` by number (1-based).
    pub fn choose(&mut self, question: &str, items: &[&str], default: usize) -> Result<usize> {
        for (i, item) in items.iter().enumerate() {
            writeln!(self.output, "  {}) {item}", i + 1)?;
        }
        loop {
            let answer = self.ask(question, Some(&(default + 1).to_string()))?;
            match answer.parse::<usize>() {
                Ok(n) if (1..=items.len()).contains(&n) => return Ok(n - 1),
                _ => writeln!(self.output, "  enter a number from 1 to {}", items.len())?,
            }
        }
    }

    /// Picks several of `items`: numbers and ranges (`1,3 5-7`) or `all`.
    pub fn multi_select(&mut self, question: &str, items: &[String]) -> Result<Vec<usize>> {
        for (i, item) in items.iter().enumerate() {
            writeln!(self.output, "  {}) {item}", i + 1)?;
        }
        loop {
            let answer = self.ask(question, None)?;
            match parse_selection(&answer, items.len()) {
                Some(picked) if !picked.is_empty() => return Ok(picked),
                _ => writeln!(
                    self.output,
                    "  enter numbers from 1 to {} (e.g. 1,3 5-7) or all",
                    items.len()
                )?,
            }
        }
    }

    /// Yes/no, default no.
    pub fn confirm(&mut self, question: &str) -> Result<bool> {
        let answer = self.ask(question, Some("n"))?;
        Ok(matches!(answer.to_ascii_lowercase().as_str(), "y" | "yes"))
    }
}

/// Parses `1,3 5-7` / `all` into sorted 0-based indices; `None` if anything is out of range.
pub fn parse_selection(answer: &str, len: usize) -> Option<Vec<usize>> {
    if answer.eq_ignore_ascii_case("all") {
        return Some((0..len).collect());
    }
    let mut picked = std::collections::BTreeSet::new();
    for part in answer.split([',', ' ']).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<usize>().ok()?,
                b.trim().parse::<usize>().ok()?,
            ),
            None => {
                let n = part.trim().parse::<usize>().ok()?;
                (n, n)
            }
        };
        if a == 0 || b > len || a > b {
            return None;
        }
        picked.extend(a - 1..b);
    }
    Some(picked.into_iter().collect())
}

/// Asks for the Datadog site and API key source when the environment does not give them, and
/// records the answers as the environment variables the rest of the command reads.
pub fn ask_site_and_key<R: BufRead, W: Write>(
    prompter: &mut Prompter<R, W>,
    env: &mut HashMap<String, String>,
) -> Result<()> {
    if !env.contains_key("DATADOG_SITE") {
        let site = prompter.choose("Datadog site", &DATADOG_SITES, 0)?;
        env.insert("DATADOG_SITE".into(), DATADOG_SITES[site].to_string());
    }
    let has_key = [
        "DATADOG_API_KEY",
        "DD_API_KEY",
        "DATADOG_API_KEY_SECRET_ARN",
        "DATADOG_KMS_API_KEY",
        "DATADOG_API_KEY_SSM_ARN",
    ]
    .iter()
    .any(|k| env.contains_key(*k));
    if !has_key {
        let sources = [
            (
                "Secrets Manager secret ARN (recommended)",
                "DATADOG_API_KEY_SECRET_ARN",
            ),
            ("SSM parameter ARN", "DATADOG_API_KEY_SSM_ARN"),
            ("KMS-encrypted API key", "DATADOG_KMS_API_KEY"),
            ("plain-text API key (quick tests only)", "DATADOG_API_KEY"),
        ];
        let labels: Vec<&str> = sources.iter().map(|(l, _)| *l).collect();
        let pick = prompter.choose(
            "Where should the function read the API key from",
            &labels,
            0,
        )?;
        let value = prompter.ask(sources[pick].0, None)?;
        env.insert(sources[pick].1.to_string(), value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_syntax() {
        assert_eq!(parse_selection("1,3 5-6", 6), Some(vec![0, 2, 4, 5]));
        assert_eq!(parse_selection("all", 3), Some(vec![0, 1, 2]));
        assert_eq!(parse_selection("0", 3), None);
        assert_eq!(parse_selection("4", 3), None);
        assert_eq!(parse_selection("x", 3), None);
    }

    #[test]
    fn prompts_read_lines_and_apply_defaults() {
        let input = b"\n10\n2\n3\narn:aws:secretsmanager:us-east-1:1:secret:k\ny\n";
        let mut out = Vec::new();
        let mut p = Prompter::new(&input[..], &mut out);
        assert_eq!(p.ask("Region", Some("us-east-1")).unwrap(), "us-east-1");
        let mut env = HashMap::new();
        ask_site_and_key(&mut p, &mut env).unwrap();
        assert_eq!(env["DATADOG_SITE"], "datadoghq.eu");
        assert_eq!(
            env["DATADOG_KMS_API_KEY"],
            "arn:aws:secretsmanager:us-east-1:1:secret:k"
        );
        assert!(p.confirm("Apply").unwrap());
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("enter a number from 1 to 9"));
        assert!(text.contains("1) datadoghq.com"));
    }

    #[test]
    fn ended_input_is_an_error() {
        let mut out = Vec::new();
        let mut p = Prompter::new(&b""[..], &mut out);
        let err = p.ask("Region", None).unwrap_err();
        assert!(err.to_string().contains("nothing was changed"));
    }
}
