use std::collections::BTreeMap;

use serde_json::json;

use super::*;

fn span(i: u64) -> Span {
    Span {
        service: "orders".into(),
        name: "http.request".into(),
        resource: format!("GET /orders/{i}"),
        trace_id: u64::MAX - i,
        span_id: 1000 + i,
        parent_id: i,
        start: 1_700_000_000_000_000_000 + i as i64,
        duration: 1_500_000,
        error: (i % 2) as i32,
        meta: BTreeMap::from([
            ("http.method".into(), "GET".into()),
            ("_dd.p.tid".into(), "66bcb5eb00000000".into()),
        ]),
        metrics: BTreeMap::from([
            ("_sampling_priority_v1".into(), 1.0),
            ("_dd.measured".into(), 1.0),
        ]),
        r#type: "http".into(),
        ..Default::default()
    }
}

fn traces() -> Traces {
    vec![vec![span(1), span(2)], vec![span(3)], vec![]]
}

#[test]
fn v04_msgpack_round_trip() {
    assert_eq!(decode_v04(&encode_v04(&traces())).unwrap(), traces());
}

#[test]
fn v05_round_trip() {
    let body = encode_v05(&traces());
    assert_eq!(decode(TraceApiVersion::V05, None, &body).unwrap(), traces());
}

/// A v0.4 body written by another encoder (rmp-serde from a JSON value): other key order,
/// unknown keys with nested values, nil meta values, negative (i64) ids, float metrics
/// given as integers.
#[test]
fn v04_from_an_independent_encoder() {
    let value = json!([[{
        "extra": {"nested": [1, 2, {"deep": null}]},
        "span_id": 7, "trace_id": -1, "parent_id": 0,
        "name": "aws.lambda", "service": "svc", "resource": "fn",
        "start": 1_700_000_000_000_000_000i64, "duration": 42,
        "error": 1, "meta": {"a": "b", "n": null}, "metrics": {"m": 3, "f": 0.5},
        "span_links": [{"trace_id": 9, "span_id": 10, "attributes": {"k": "v"}}],
    }]]);
    let body = rmp_serde::to_vec(&value).unwrap();
    let traces = decode_v04(&body).unwrap();
    let s = &traces[0][0];
    assert_eq!((s.trace_id, s.span_id, s.error), (u64::MAX, 7, 1));
    assert_eq!(s.meta, BTreeMap::from([("a".to_string(), "b".to_string())]));
    assert_eq!(s.metrics["m"], 3.0);
    assert_eq!(s.span_links[0].attributes["k"], "v");
}

#[test]
fn v04_json_like_the_python_library() {
    let body = br#"[[{"trace_id":18446744073709551615,"span_id":2,"parent_id":1,"name":"get_coffee","service":"svc","resource":"latte","start":1700000000000000000,"duration":1000,"error":0,"meta":{"customer":"c-1","n":7,"z":null},"metrics":{"_sampling_priority_v1":1}}]]"#;
    let traces = decode(
        TraceApiVersion::V04,
        Some("application/json; charset=utf-8"),
        body,
    )
    .unwrap();
    let s = &traces[0][0];
    assert_eq!(s.trace_id, u64::MAX);
    assert_eq!(s.meta["customer"], "c-1");
    assert_eq!(s.meta["n"], "7");
    assert!(!s.meta.contains_key("z"));
    assert_eq!(s.metrics["_sampling_priority_v1"], 1.0);
    assert!(decode_v04_json(b"[[1]]")
        .unwrap_err()
        .to_string()
        .contains("JSON object"));
    assert!(decode_v04_json(b"{}").is_err());
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let v4 = encode_v04(&traces());
    for cut in 0..v4.len() {
        assert!(decode_v04(&v4[..cut]).is_err(), "v0.4 cut at {cut}");
    }
    let v5 = encode_v05(&traces());
    for cut in 0..v5.len() {
        assert!(decode_v05(&v5[..cut]).is_err(), "v0.5 cut at {cut}");
    }
    assert!(matches!(
        decode_v04(&encode_v04(&traces())[..10]),
        Err(TracePayloadError::Truncated { .. })
    ));
}

#[test]
fn malformed_bodies_are_typed_errors() {
    // An array claiming 4 billion traces in 5 bytes.
    assert!(matches!(
        decode_v04(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
        Err(TracePayloadError::Truncated { .. })
    ));
    // A map where the traces array should be.
    assert!(matches!(
        decode_v04(&[0x80]),
        Err(TracePayloadError::UnexpectedType { .. })
    ));
    // Trailing garbage after a valid empty array.
    assert!(matches!(
        decode_v04(&[0x90, 0x01]),
        Err(TracePayloadError::TrailingBytes { .. })
    ));
    // Invalid UTF-8 in a key.
    assert!(matches!(
        decode_v04(&[0x91, 0x91, 0x81, 0xa1, 0xff, 0x01]),
        Err(TracePayloadError::InvalidUtf8 { .. })
    ));
    // v0.5: wrong arity, bad string index.
    assert!(matches!(
        decode_v05(&[0x91, 0x90]),
        Err(TracePayloadError::Invalid(_))
    ));
    let mut bad_index = vec![0x92, 0x91, 0xa0, 0x91, 0x91, 0x9c, 0x05];
    bad_index.extend([0u8; 11]);
    assert!(matches!(
        decode_v05(&bad_index),
        Err(TracePayloadError::BadStringIndex {
            index: 5,
            table_len: 1
        })
    ));
    // Deep nesting inside an unknown key.
    let mut deep = vec![0x91, 0x91, 0x81, 0xa1, b'x'];
    deep.extend(std::iter::repeat_n(0x91, 100));
    deep.push(0xc0);
    assert!(matches!(
        decode_v04(&deep),
        Err(TracePayloadError::TooDeep { .. })
    ));
    // The reserved marker.
    assert!(decode_v04(&[0x91, 0x91, 0x81, 0xa1, b'x', 0xc1]).is_err());
}

#[test]
fn content_type_selects_json_only_for_v04() {
    let json = br#"[[{"trace_id":1,"span_id":2}]]"#;
    assert!(decode(TraceApiVersion::V04, Some("application/msgpack"), json).is_err());
    assert_eq!(
        decode(TraceApiVersion::V04, Some("Application/JSON"), json).unwrap()[0][0].span_id,
        2
    );
    assert!(decode(TraceApiVersion::V05, Some("application/json"), json).is_err());
}

#[test]
fn v04_json_odd_values() {
    let body = br#"[[{"trace_id":1.0,"span_id":-2,"start":null,"unknown":{"x":[1]},"meta":{"obj":{"a":1},"list":[1,"b"],"t":true,"f":1.5},"metrics":{"m":null,"n":2},"span_links":[{"trace_id":3,"span_id":4,"attributes":{"k":"v"},"flags":1}]}],[]]"#;
    let traces = decode_v04_json(body).unwrap();
    let s = &traces[0][0];
    assert_eq!((s.trace_id, s.span_id, s.start), (1, u64::MAX - 1, 0));
    assert_eq!(s.meta["obj"], r#"{"a":1}"#);
    assert_eq!(s.meta["list"], r#"[1,"b"]"#);
    assert_eq!(
        (s.meta["t"].as_str(), s.meta["f"].as_str()),
        ("true", "1.5")
    );
    assert_eq!(s.metrics.len(), 1);
    assert_eq!((s.span_links[0].span_id, s.span_links[0].flags), (4, 1));
    assert!(traces[1].is_empty());
    assert!(decode_v04_json(br#"[[{"trace_id":"1"}]]"#).is_err());
}
