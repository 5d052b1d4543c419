use super::*;
use crate::config::Config;

fn tags() -> FunctionTags {
    let (config, _) = Config::from_lookup(|k| match k {
        "AWS_LAMBDA_FUNCTION_NAME" => Some("fn".into()),
        "DD_LAMBDA_CUSTOMER_METRICS_EXCLUDE_TAGS" => Some("memorysize".into()),
        _ => None,
    });
    FunctionTags::new(&config)
}

fn series<'a>(p: &'a MetricPayloads, name: &str) -> Vec<&'a Series> {
    p.series
        .iter()
        .flat_map(|s| &s.series)
        .filter(|s| s.metric == name)
        .collect()
}

fn sketch<'a>(p: &'a MetricPayloads, name: &str) -> Vec<&'a Sketch> {
    p.sketches
        .iter()
        .flat_map(|s| &s.sketches)
        .filter(|s| s.metric == name)
        .collect()
}

#[test]
fn counts_gauges_sets_and_distributions() {
    let mut a = Aggregator::new(None);
    let now = 1_700_000_003;
    a.ingest_datagram(
        b"hits:1|c|#b:2,a:1\nhits:2|c|@0.5|#a:1,b:2\nhits:1|c|#a:1",
        now,
    );
    a.ingest_datagram(b"temp:20|g\ntemp:21|g\nusers:al:bo|s\nusers:al|s", now);
    a.ingest_datagram(b"lat:1:2:3|d\nlat:4|h\nlat:5|ms|@0.5", now);
    let p = a.take_payloads(&tags());
    let hits = series(&p, "hits");
    assert_eq!(hits.len(), 2, "tag order does not split a context");
    let both = hits
        .iter()
        .find(|s| s.tags.contains(&"b:2".to_string()))
        .unwrap();
    assert_eq!(both.points[0].value, 5.0, "1 + 2/0.5");
    assert_eq!(both.points[0].timestamp, 1_700_000_000);
    assert_eq!(both.metric_type, MetricType::Count);
    assert!(both.tags.contains(&"functionname:fn".to_string()));
    assert!(
        !both.tags.iter().any(|t| t.starts_with("memorysize:")),
        "excluded from custom metrics"
    );
    let temp = series(&p, "temp");
    assert_eq!(
        (temp[0].points[0].value, temp[0].metric_type),
        (21.0, MetricType::Gauge)
    );
    assert_eq!(series(&p, "users")[0].points[0].value, 2.0);
    let lat = sketch(&p, "lat");
    assert_eq!(lat.len(), 1, "d, h and ms share one distribution context");
    assert_eq!(
        lat[0].dogsketches[0].cnt, 6,
        "the 0.5 sample rate counts twice"
    );
    assert_eq!(lat[0].dogsketches[0].max, 5.0);
    assert_eq!(a.context_count(), 0);
}

#[test]
fn timestamps_namespace_and_bad_lines() {
    let mut a = Aggregator::new(Some("app.".into()));
    a.ingest_datagram(
        b"x:1|c|T1600000015\nx:1|c\nbroken\nx:abc|c\n_sc|chk|0",
        1_700_000_000,
    );
    assert_eq!(a.stats.lines, 5);
    assert_eq!(a.stats.malformed, 2);
    assert_eq!(a.stats.unsupported, 1);
    let p = a.take_payloads(&tags());
    let x = series(&p, "app.x");
    assert_eq!(x.len(), 2);
    assert!(x.iter().any(|s| s.points[0].timestamp == 1_600_000_010));
}

#[test]
fn enhanced_points_get_every_function_tag_and_are_not_namespaced() {
    let mut a = Aggregator::new(Some("app.".into()));
    for v in [0.01, 0.02] {
        a.insert_enhanced(&EnhancedPoint {
            name: "aws.lambda.enhanced.duration".into(),
            value: v,
            timestamp: 1_700_000_001,
            tags: vec!["cold_start:true".into()],
        });
    }
    let p = a.take_payloads(&tags());
    let d = sketch(&p, "aws.lambda.enhanced.duration");
    assert_eq!(d[0].dogsketches[0].cnt, 2);
    assert!(d[0].tags.contains(&"memorysize:128".to_string()));
    assert!(d[0].tags.contains(&"cold_start:true".to_string()));
    assert_eq!(
        d[0].metadata
            .as_ref()
            .unwrap()
            .origin
            .as_ref()
            .unwrap()
            .origin_service,
        473
    );
}

#[test]
fn contexts_are_bounded() {
    let mut a = Aggregator::new(None);
    for i in 0..MAX_CONTEXTS + 10 {
        a.ingest_datagram(format!("m{i}:1|c").as_bytes(), 1_700_000_000);
    }
    assert_eq!(a.context_count(), MAX_CONTEXTS);
    assert_eq!(a.stats.dropped_points, 10);
    let p = a.take_payloads(&tags());
    assert_eq!(p.series.len(), MAX_CONTEXTS.div_ceil(MAX_PER_PAYLOAD));
}
