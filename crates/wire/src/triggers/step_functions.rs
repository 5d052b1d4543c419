//! Step Functions: detecting the context object a state machine passes to a Lambda task,
//! and the deterministic trace context derived from it.
//!
//! A state machine cannot run a tracer, so both sides derive ids from the execution: the
//! trace id from a SHA-256 of the (root) execution ARN, the parent id from a SHA-256 of
//! `{execution}#{state}#{entered time}` (plus `#{retry}#{redrive}` when either is non-zero).
//! A 64-bit word of the hash has its top bit cleared, and 0 becomes 1.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::context::{ContextSource, ExtractedContext};
use super::{at, str_at};

/// `Payload` when it is an object (the legacy Lambda-invoke wrapping), else the event.
fn unwrap_payload(event: &Value) -> &Value {
    at(event, &["Payload"])
        .filter(|p| p.is_object())
        .unwrap_or(event)
}

fn has_keys(v: &Value, keys: &[&str]) -> bool {
    v.as_object()
        .is_some_and(|o| keys.iter().all(|k| o.contains_key(*k)))
}

/// The JSONPath form (`Execution`, `StateMachine`, `State`, optionally under `Payload`) or
/// the JSONata form (`_datadog` holding those plus `serverless-version`).
pub fn is_step_functions_context(event: &Value) -> bool {
    let event = unwrap_payload(event);
    if has_keys(event, &["Execution", "StateMachine", "State"]) {
        return true;
    }
    at(event, &["_datadog"]).is_some_and(|dd| {
        has_keys(
            dd,
            &["Execution", "StateMachine", "State", "serverless-version"],
        )
    })
}

/// Which 64-bit word of the hash to use.
#[derive(Clone, Copy)]
enum Word {
    /// Bits 0..64, used for the parent id and the trace id's upper half.
    First,
    /// Bits 64..128, used for the trace id's lower half.
    Second,
}

fn hash_id(input: &str, word: Word) -> u64 {
    let digest = Sha256::digest(input.as_bytes());
    let range = match word {
        Word::First => 0..8,
        Word::Second => 8..16,
    };
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[range]);
    match u64::from_be_bytes(bytes) & 0x7FFF_FFFF_FFFF_FFFF {
        0 => 1,
        id => id,
    }
}

/// A count field as an integer (absent → 0).
fn count(v: Option<&Value>) -> Option<i64> {
    match v {
        None | Some(Value::Null) => Some(0),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

fn parent_id(ctx: &Value) -> Option<u64> {
    let execution = str_at(ctx, &["Execution", "Id"])?;
    let state = str_at(ctx, &["State", "Name"])?;
    let entered = str_at(ctx, &["State", "EnteredTime"])?;
    let retry = count(at(ctx, &["State", "RetryCount"]))?;
    let redrive = count(at(ctx, &["Execution", "RedriveCount"]))?;
    let mut input = format!("{execution}#{state}#{entered}");
    if retry != 0 || redrive != 0 {
        input.push_str(&format!("#{retry}#{redrive}"));
    }
    Some(hash_id(&input, Word::First))
}

/// The trace context of a Step Functions invocation: `serverless-version: v1` contexts
/// continue a Lambda root's trace (`x-datadog-trace-id`) or hash the root execution;
/// legacy contexts hash the execution itself. Priority is auto-keep (1).
pub fn extract(event: &Value) -> Option<ExtractedContext> {
    let event = unwrap_payload(event);
    let ctx = at(event, &["_datadog"])
        .filter(|d| d.is_object())
        .unwrap_or(event);
    let (trace_id, high_hex) = if str_at(ctx, &["serverless-version"]) == Some("v1") {
        if let Some(trace) = at(ctx, &["x-datadog-trace-id"]) {
            let trace_id = match trace {
                Value::String(s) => s.trim().parse().ok()?,
                Value::Number(n) => n.as_u64()?,
                _ => return None,
            };
            let tid = str_at(ctx, &["x-datadog-tags"]).and_then(|tags| {
                tags.split(',')
                    .find_map(|t| t.trim().strip_prefix("_dd.p.tid="))
                    .map(str::to_string)
            });
            (trace_id, tid)
        } else {
            let root = str_at(ctx, &["RootExecutionId"])?;
            (
                hash_id(root, Word::Second),
                Some(format!("{:x}", hash_id(root, Word::First))),
            )
        }
    } else {
        let execution = str_at(ctx, &["Execution", "Id"])?;
        (
            hash_id(execution, Word::Second),
            Some(format!("{:x}", hash_id(execution, Word::First))),
        )
    };
    let mut out = ExtractedContext::new(trace_id, ContextSource::StepFunctions);
    out.parent_id = parent_id(ctx)?;
    out.sampling_priority = Some(1);
    if let Some(hex) = high_hex.filter(|h| !h.is_empty()) {
        out.trace_id_high = u64::from_str_radix(&hex, 16).unwrap_or(0);
        out.tags.insert("_dd.p.tid".to_string(), hex);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hash_words_clear_the_top_bit() {
        // sha256("") = e3b0c442 98fc1c14 9afbf4c8 996fb924 ...
        assert_eq!(
            hash_id("", Word::First),
            0xe3b0c44298fc1c14 & 0x7FFF_FFFF_FFFF_FFFF
        );
        assert_eq!(hash_id("", Word::Second), 0x1afbf4c8996fb924);
    }

    #[test]
    fn detection_forms() {
        let legacy = json!({"Execution": {}, "StateMachine": {}, "State": {}});
        assert!(is_step_functions_context(&legacy));
        assert!(is_step_functions_context(&json!({"Payload": legacy})));
        let jsonata = json!({"_datadog": {"Execution": {}, "StateMachine": {}, "State": {}, "serverless-version": "v1"}});
        assert!(is_step_functions_context(&jsonata));
        assert!(!is_step_functions_context(
            &json!({"_datadog": {"Execution": {}}})
        ));
        assert!(!is_step_functions_context(&json!([1])));
    }

    #[test]
    fn retry_counts_change_the_parent() {
        let base = json!({"Execution": {"Id": "arn:x", "RedriveCount": 0}, "State": {"Name": "s", "EnteredTime": "t", "RetryCount": 0}, "StateMachine": {}});
        let retried = json!({"Execution": {"Id": "arn:x", "RedriveCount": 0}, "State": {"Name": "s", "EnteredTime": "t", "RetryCount": 1}, "StateMachine": {}});
        let a = extract(&base).unwrap();
        let b = extract(&retried).unwrap();
        assert_eq!(a.parent_id, hash_id("arn:x#s#t", Word::First));
        assert_eq!(b.parent_id, hash_id("arn:x#s#t#1#0", Word::First));
        assert_eq!(a.trace_id, b.trace_id);
    }
}
