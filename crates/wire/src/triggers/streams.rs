//! Record-batch triggers: Kinesis and DynamoDB streams, and S3 notifications. A batch is
//! described by its first record, like the rest of the trigger rules.

use serde_json::Value;

use super::{
    first_record, number_at, rfc3339_ns, scalar_at, seconds_ns, str_at, InferredSpan,
    TriggerOptions,
};

/// `aws.kinesis`: stream name from the ARN (`stream/` prefix dropped), start at the record's
/// `approximateArrivalTimestamp` (epoch seconds).
pub(super) fn kinesis_span(event: &Value, options: &TriggerOptions) -> Option<InferredSpan> {
    let record = first_record(event)?;
    let source_arn = str_at(record, &["eventSourceARN"]).unwrap_or("");
    let last = source_arn.rsplit(':').next().unwrap_or("");
    let stream = last.strip_prefix("stream/").unwrap_or(last).to_string();
    let event_id = str_at(record, &["eventID"]);
    let service = options.service_name(&stream, "lambda_kinesis", &stream, "kinesis");
    let start = number_at(record, &["kinesis", "approximateArrivalTimestamp"]).and_then(seconds_ns);
    let mut span = InferredSpan::new("aws.kinesis", service, stream.clone(), start);
    span.tag("span.kind", Some("server"));
    span.tag("streamname", Some(stream));
    span.tag("shardid", event_id.and_then(|id| id.split(':').next()));
    span.tag(
        "event_source_arn",
        Some(source_arn).filter(|a| !a.is_empty()),
    );
    span.tag("event_id", event_id);
    span.tag("event_name", str_at(record, &["eventName"]));
    span.tag("event_version", str_at(record, &["eventVersion"]));
    span.tag(
        "partition_key",
        str_at(record, &["kinesis", "partitionKey"]),
    );
    Some(span)
}

/// `aws.dynamodb`: table name from `arn:...:table/{name}/stream/{label}`, start at
/// `ApproximateCreationDateTime` (whole epoch seconds).
pub(super) fn dynamodb_span(event: &Value, options: &TriggerOptions) -> Option<InferredSpan> {
    let record = first_record(event)?;
    let source_arn = str_at(record, &["eventSourceARN"]).unwrap_or("");
    let table = source_arn.split('/').nth(1).unwrap_or("").to_string();
    let service = options.service_name(&table, "lambda_dynamodb", &table, "dynamodb");
    let start = number_at(record, &["dynamodb", "ApproximateCreationDateTime"])
        .map(f64::trunc)
        .and_then(seconds_ns);
    let mut span = InferredSpan::new("aws.dynamodb", service, table.clone(), start);
    span.tag("span.kind", Some("server"));
    span.tag("tablename", Some(table));
    span.tag(
        "event_source_arn",
        Some(source_arn).filter(|a| !a.is_empty()),
    );
    span.tag("event_id", str_at(record, &["eventID"]));
    span.tag("event_name", str_at(record, &["eventName"]));
    span.tag("event_version", str_at(record, &["eventVersion"]));
    span.tag(
        "stream_view_type",
        str_at(record, &["dynamodb", "StreamViewType"]),
    );
    span.tag("size_bytes", scalar_at(record, &["dynamodb", "SizeBytes"]));
    Some(span)
}

/// `aws.s3`: bucket and object facts, start at `eventTime`.
pub(super) fn s3_span(event: &Value, options: &TriggerOptions) -> Option<InferredSpan> {
    let record = first_record(event)?;
    let bucket = str_at(record, &["s3", "bucket", "name"])
        .unwrap_or("")
        .to_string();
    let service = options.service_name(&bucket, "lambda_s3", &bucket, "s3");
    let start = str_at(record, &["eventTime"]).and_then(rfc3339_ns);
    let mut span = InferredSpan::new("aws.s3", service, bucket.clone(), start);
    span.tag("span.kind", Some("server"));
    span.tag("event_name", str_at(record, &["eventName"]));
    span.tag("bucketname", Some(bucket));
    span.tag("bucket_arn", str_at(record, &["s3", "bucket", "arn"]));
    span.tag("object_key", str_at(record, &["s3", "object", "key"]));
    span.tag("object_size", scalar_at(record, &["s3", "object", "size"]));
    span.tag("object_etag", str_at(record, &["s3", "object", "eTag"]));
    Some(span)
}
