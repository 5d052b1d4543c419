//! Lambda price estimate for one invocation (on-demand list prices, us-east-1).
//!
//! Requests cost $0.20 per million; compute costs per GB-second of billed duration
//! × configured memory, $0.0000166667 on x86_64 and $0.0000133334 on arm64. The
//! architecture comes from the `architecture` tag; when unknown it is x86_64.

/// Price of one request.
pub const REQUEST_USD: f64 = 0.20 / 1_000_000.0;
/// Price of one GB-second on x86_64.
pub const X86_64_GB_SECOND_USD: f64 = 0.000_016_666_7;
/// Price of one GB-second on arm64.
pub const ARM64_GB_SECOND_USD: f64 = 0.000_013_333_4;

/// The canonical architecture name for a tag value: `arm64` or `x86_64`.
pub fn normalize_architecture(tag: Option<&str>) -> &'static str {
    match tag.map(str::to_ascii_lowercase).as_deref() {
        Some("arm64" | "aarch64" | "arm") => "arm64",
        _ => "x86_64",
    }
}

/// Estimated USD cost of one invocation. Without billed duration or memory only the
/// request price counts.
pub fn invocation_cost_usd(
    billed_ms: Option<f64>,
    memory_mb: Option<i64>,
    architecture: &str,
) -> f64 {
    let compute = match (billed_ms, memory_mb) {
        (Some(ms), Some(mb)) if ms > 0.0 && mb > 0 => {
            let gb_seconds = (ms / 1000.0) * (mb as f64 / 1024.0);
            let price = if architecture == "arm64" {
                ARM64_GB_SECOND_USD
            } else {
                X86_64_GB_SECOND_USD
            };
            gb_seconds * price
        }
        _ => 0.0,
    };
    REQUEST_USD + compute
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_second_at_one_gb() {
        let x86 = invocation_cost_usd(Some(1000.0), Some(1024), "x86_64");
        assert!((x86 - (0.0000002 + 0.0000166667)).abs() < 1e-15);
        let arm = invocation_cost_usd(
            Some(1000.0),
            Some(1024),
            normalize_architecture(Some("arm64")),
        );
        assert!((arm - (0.0000002 + 0.0000133334)).abs() < 1e-15);
        assert_eq!(invocation_cost_usd(None, Some(128), "x86_64"), REQUEST_USD);
        assert_eq!(normalize_architecture(None), "x86_64");
    }
}
