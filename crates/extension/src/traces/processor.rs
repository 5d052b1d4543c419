//! Turning what tracers sent into what the intake takes: drop infrastructure spans,
//! normalize, obfuscate, apply the root-span filters, stamp Lambda facts, and group the
//! result into `TracerPayload` / `TraceChunk` / `AgentPayload` for `/api/v0.2/traces`.
//!
//! The extension makes no sampling decision: a chunk keeps the tracer's priority.

use std::collections::{BTreeMap, HashSet};

use lambdascope_wire::agent_payload::{AgentPayload, Span, TraceChunk, TracerPayload};
use lambdascope_wire::tracer_payload::Traces;

use super::filter::is_infrastructure_span;
use super::normalize::normalize_span;
use super::obfuscate::obfuscate_span;
use super::settings::TraceSettings;

/// The metric holding a span's sampling priority.
pub const SAMPLING_PRIORITY_KEY: &str = "_sampling_priority_v1";
/// Priority given to chunks whose tracer did not say (the tracer sent them, so it kept them).
pub const DEFAULT_PRIORITY: i32 = 1;

/// Facts about the function every trace is stamped with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunctionFacts {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub name: String,
    /// Unqualified, lower-cased function ARN.
    pub arn: String,
    pub region: String,
    pub account_id: String,
    pub memory_mb: u64,
    /// `AWS_EXECUTION_ENV`-derived runtime, e.g. `python3.12`.
    pub runtime: Option<String>,
    /// `DD_SERVICE`, else the function name: the service of `aws.lambda`.
    pub service: String,
}

impl FunctionFacts {
    /// The `_dd.tags.function` value: the function's tags, comma-separated.
    pub fn tags(&self, env: Option<&str>, version: Option<&str>) -> String {
        let mut tags = vec![
            format!("functionname:{}", self.name.to_lowercase()),
            format!("function_arn:{}", self.arn),
            format!("region:{}", self.region),
            format!("account_id:{}", self.account_id),
            format!("memorysize:{}", self.memory_mb),
            format!("service:{}", self.service),
        ];
        if let Some(runtime) = &self.runtime {
            tags.push(format!("runtime:{runtime}"));
        }
        if let Some(env) = env {
            tags.push(format!("env:{env}"));
        }
        if let Some(version) = version {
            tags.push(format!("version:{version}"));
        }
        tags.join(",")
    }
}

/// What the tracer said about itself (`Datadog-Meta-*` headers of the trace request).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TracerMeta {
    pub language: String,
    pub language_version: String,
    pub tracer_version: String,
    pub container_id: String,
    /// `Datadog-Client-Computed-Stats`: the tracer already sent stats for these spans.
    pub client_computed_stats: bool,
}

/// Counts of what processing dropped, for the extension's own telemetry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// Calls to the extension, the runtime API or the X-Ray daemon.
    pub infrastructure_spans: usize,
    /// Spans without a trace or span id.
    pub invalid_spans: usize,
    /// Traces whose root failed the tag filters.
    pub filtered_traces: usize,
}

/// Processes tracer traces with fixed settings.
#[derive(Debug, Clone)]
pub struct TraceProcessor {
    settings: TraceSettings,
    function: FunctionFacts,
    function_tags: String,
}

impl TraceProcessor {
    pub fn new(settings: TraceSettings, function: FunctionFacts) -> Self {
        let function_tags = function.tags(settings.env.as_deref(), settings.version.as_deref());
        Self {
            settings,
            function,
            function_tags,
        }
    }

    pub fn settings(&self) -> &TraceSettings {
        &self.settings
    }

    pub fn function(&self) -> &FunctionFacts {
        &self.function
    }

    /// Processes one request's traces into a tracer payload (empty chunks are left out).
    pub fn process(
        &self,
        traces: Traces,
        tracer: &TracerMeta,
        now_ns: i64,
    ) -> (TracerPayload, DropCounts) {
        let mut drops = DropCounts::default();
        let chunks = traces
            .into_iter()
            .filter_map(|trace| self.process_chunk(trace, now_ns, &mut drops))
            .collect();
        (self.tracer_payload(chunks, tracer), drops)
    }

    /// Processes spans the extension built itself (invocation, inferred and cold-start
    /// spans) into a tracer payload of one chunk; they skip the infrastructure filter but get
    /// everything else.
    pub fn process_own(&self, spans: Vec<Span>, now_ns: i64) -> Option<TracerPayload> {
        let chunk = self.process_chunk(spans, now_ns, &mut DropCounts::default())?;
        let meta = TracerMeta {
            language: "lambdascope-extension".to_string(),
            tracer_version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        };
        Some(self.tracer_payload(vec![chunk], &meta))
    }

    fn process_chunk(
        &self,
        spans: Vec<Span>,
        now_ns: i64,
        drops: &mut DropCounts,
    ) -> Option<TraceChunk> {
        let mut kept = Vec::with_capacity(spans.len());
        for mut span in spans {
            if is_infrastructure_span(&span) {
                drops.infrastructure_spans += 1;
                continue;
            }
            if span.service == "aws.lambda" {
                span.service = self.function.service.clone();
            }
            if normalize_span(&mut span, &self.function.service, now_ns).is_err() {
                drops.invalid_spans += 1;
                continue;
            }
            if !self.settings.obfuscation.is_noop() {
                obfuscate_span(&mut span, &self.settings.obfuscation);
            }
            span.meta
                .insert("_dd.origin".to_string(), "lambda".to_string());
            if is_inferred(&span) && span.service != self.function.service {
                span.meta.insert(
                    "_dd.base_service".to_string(),
                    self.function.service.clone(),
                );
            }
            kept.push(span);
        }
        if kept.is_empty() {
            return None;
        }
        let root = root_index(&kept);
        if !self.settings.filters.is_empty() && !self.settings.filters.keeps(&kept[root]) {
            drops.filtered_traces += 1;
            return None;
        }
        let priority = kept[root]
            .metrics
            .get(SAMPLING_PRIORITY_KEY)
            .or_else(|| {
                kept.iter()
                    .find_map(|s| s.metrics.get(SAMPLING_PRIORITY_KEY))
            })
            .map_or(DEFAULT_PRIORITY, |p| *p as i32);
        Some(TraceChunk {
            priority,
            origin: "lambda".to_string(),
            spans: kept,
            tags: BTreeMap::new(),
            dropped_trace: false,
        })
    }

    fn tracer_payload(&self, chunks: Vec<TraceChunk>, tracer: &TracerMeta) -> TracerPayload {
        let mut tags = BTreeMap::new();
        if !tracer.client_computed_stats {
            tags.insert("_dd.compute_stats".to_string(), "1".to_string());
        }
        tags.insert("_dd.tags.function".to_string(), self.function_tags.clone());
        TracerPayload {
            container_id: tracer.container_id.clone(),
            language_name: tracer.language.clone(),
            language_version: tracer.language_version.clone(),
            tracer_version: tracer.tracer_version.clone(),
            chunks,
            tags,
            env: self.settings.env.clone().unwrap_or_default(),
            app_version: self.settings.version.clone().unwrap_or_default(),
            ..Default::default()
        }
    }
}

fn is_inferred(span: &Span) -> bool {
    span.metrics.contains_key("_dd._inferred_span")
        || span.meta.contains_key("_inferred_span.tag_source")
}

/// The root of a chunk: the first span whose parent is not in the chunk (`parent_id == 0`
/// for a local root), else the first span.
pub fn root_index(spans: &[Span]) -> usize {
    let ids: HashSet<u64> = spans.iter().map(|s| s.span_id).collect();
    spans
        .iter()
        .position(|s| s.parent_id == 0 || !ids.contains(&s.parent_id))
        .unwrap_or(0)
}

/// The body of `POST /api/v0.2/traces` (before protobuf encoding and compression).
pub fn agent_payload(tracer_payloads: Vec<TracerPayload>, env: Option<&str>) -> AgentPayload {
    AgentPayload {
        env: env.unwrap_or_default().to_string(),
        tracer_payloads: tracer_payloads
            .into_iter()
            .filter(|p| !p.chunks.is_empty())
            .collect(),
        agent_version: concat!("lambdascope-extension/", env!("CARGO_PKG_VERSION")).to_string(),
        target_tps: 10.0,
        error_tps: 10.0,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
