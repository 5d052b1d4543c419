//! Metrics: the DogStatsD server, aggregation into series and sketches, function tags.
pub mod aggregator;
pub mod dogstatsd_server;
pub mod tags;
pub use aggregator::{Aggregator, MetricPayloads};
pub use tags::FunctionTags;
