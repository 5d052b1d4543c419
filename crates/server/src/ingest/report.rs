//! Parses the Lambda platform `REPORT` line that arrives as a log message:
//!
//! `REPORT RequestId: <id>\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 128 MB\t`
//! `Max Memory Used: 40 MB[\tInit Duration: 120.55 ms][\tStatus: timeout|error][\tError Type: <type>]`

/// The facts one REPORT line carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportLine {
    pub request_id: String,
    pub duration_ms: Option<f64>,
    pub billed_ms: Option<f64>,
    pub memory_mb: Option<i64>,
    pub max_memory_mb: Option<i64>,
    pub init_ms: Option<f64>,
    /// `timeout`, `error`, `success`, ... as written; `None` when absent (success).
    pub status: Option<String>,
    pub error_type: Option<String>,
}

impl ReportLine {
    pub fn is_timeout(&self) -> bool {
        self.status.as_deref() == Some("timeout")
    }

    pub fn is_oom(&self) -> bool {
        self.error_type.as_deref() == Some("Runtime.OutOfMemory")
            || matches!((self.memory_mb, self.max_memory_mb), (Some(size), Some(used)) if size > 0 && used >= size)
    }

    pub fn is_error(&self) -> bool {
        matches!(self.status.as_deref(), Some(s) if s != "success") || self.is_oom()
    }
}

fn number_with_unit(value: &str, unit: &str) -> Option<f64> {
    value.trim().strip_suffix(unit)?.trim().parse().ok()
}

/// Returns `None` when the message is not a REPORT line.
pub fn parse(message: &str) -> Option<ReportLine> {
    let rest = message.trim_start().strip_prefix("REPORT RequestId:")?;
    let mut fields = rest.split('\t');
    let request_id = fields.next()?.trim().to_owned();
    if request_id.is_empty() {
        return None;
    }
    let mut report = ReportLine {
        request_id,
        ..ReportLine::default()
    };
    for field in fields {
        let Some((key, value)) = field.split_once(':') else {
            continue;
        };
        match key.trim() {
            "Duration" => report.duration_ms = number_with_unit(value, "ms"),
            "Billed Duration" => report.billed_ms = number_with_unit(value, "ms"),
            "Memory Size" => report.memory_mb = number_with_unit(value, "MB").map(|v| v as i64),
            "Max Memory Used" => {
                report.max_memory_mb = number_with_unit(value, "MB").map(|v| v as i64)
            }
            "Init Duration" => report.init_ms = number_with_unit(value, "ms"),
            "Status" => report.status = Some(value.trim().to_owned()),
            "Error Type" => report.error_type = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    Some(report)
}

/// The function name in a Lambda ARN (`arn:aws:lambda:<region>:<acct>:function:<name>[:<qualifier>]`).
pub fn function_from_arn(arn: &str) -> Option<&str> {
    let (_, after) = arn.split_once(":function:")?;
    let name = after.split(':').next()?;
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_cold_start_timeout() {
        let line = "REPORT RequestId: 8f5b-1\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 41 MB\tInit Duration: 120.55 ms\tStatus: timeout";
        let r = parse(line).unwrap();
        assert_eq!(r.request_id, "8f5b-1");
        assert_eq!(r.duration_ms, Some(3000.0));
        assert_eq!(r.billed_ms, Some(3000.0));
        assert_eq!(r.memory_mb, Some(128));
        assert_eq!(r.max_memory_mb, Some(41));
        assert_eq!(r.init_ms, Some(120.55));
        assert!(r.is_timeout() && r.is_error() && !r.is_oom());
    }

    #[test]
    fn parses_oom_and_ignores_other_lines() {
        let line = "REPORT RequestId: r\tDuration: 1.00 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory";
        assert!(parse(line).unwrap().is_oom());
        assert_eq!(parse("START RequestId: r Version: $LATEST"), None);
        assert_eq!(parse("REPORT RequestId: "), None);
    }

    #[test]
    fn function_names_from_arns() {
        assert_eq!(
            function_from_arn("arn:aws:lambda:us-east-1:123:function:hello"),
            Some("hello")
        );
        assert_eq!(
            function_from_arn("arn:aws:lambda:us-east-1:123:function:hello:prod"),
            Some("hello")
        );
        assert_eq!(function_from_arn("not-an-arn"), None);
    }
}
