//! Runs instrument/uninstrument over many functions: fetch, plan, show, apply, summarise.
//!
//! Each function stands alone: a failure (not found, unsupported runtime, AWS error) is reported
//! for that function and the others are still done; the exit code is non-zero if any failed.
//! Checks that concern the whole batch (mixed runtime families) run before anything is written.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::aws::LambdaApi;
use super::diff;
use super::layer_catalog::{DATADOG_LATEST_EXTENSION, DATADOG_LATEST_PYTHON};
use super::layer_catalog::{
    LAMBDASCOPE_EXTENSION_ARM_LAYER, LAMBDASCOPE_EXTENSION_LAYER, LAMBDASCOPE_PYTHON_LAYER,
};
use super::options::{LayerChoice, Selection, VersionSpec};
use super::plan::{
    check_runtime_families, plan_instrument, plan_uninstrument, FunctionConfig, FunctionPlan,
    InstrumentOptions, LayerFlavor, LayerRequest,
};
use super::progress::Progress;
use super::runtime::RuntimeFamily;

/// What to do to the selected functions.
#[derive(Clone, Debug)]
pub enum Action {
    Instrument {
        choice: LayerChoice,
        options: Box<InstrumentOptions>,
    },
    Uninstrument,
}

impl Action {
    fn verb(&self) -> &'static str {
        match self {
            Action::Instrument { .. } => "instrumenting",
            Action::Uninstrument => "uninstrumenting",
        }
    }
}

/// One run of the command.
pub struct RunRequest {
    pub selection: Selection,
    pub profile: Option<String>,
    pub action: Action,
    pub dry_run: bool,
    pub concurrency: usize,
}

/// What happened to one function.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Updated,
    Unchanged,
    WouldUpdate,
    Failed(String),
}

impl Outcome {
    fn label(&self) -> String {
        match self {
            Outcome::Updated => "updated".into(),
            Outcome::Unchanged => "unchanged".into(),
            Outcome::WouldUpdate => "would update (dry run)".into(),
            Outcome::Failed(e) => format!("failed: {e}"),
        }
    }
}

/// Functions read from AWS, or why they could not be.
type Fetched = Vec<(String, Result<FunctionConfig, String>)>;

/// Connects one client per region that has work.
async fn clients(
    regions: impl Iterator<Item = String>,
    profile: Option<&str>,
) -> BTreeMap<String, LambdaApi> {
    let mut map = BTreeMap::new();
    for region in regions {
        if let std::collections::btree_map::Entry::Vacant(slot) = map.entry(region) {
            let api = LambdaApi::connect(slot.key(), profile).await;
            slot.insert(api);
        }
    }
    map
}

/// Reads every selected function concurrently (for a regex: lists the region first).
async fn fetch(
    selection: &Selection,
    apis: &BTreeMap<String, LambdaApi>,
    concurrency: usize,
) -> Result<Fetched> {
    let targets: Vec<(String, String)> = match selection {
        Selection::Named(named) => named.clone(),
        Selection::Regex { region, pattern } => {
            let re = regex::Regex::new(pattern)?;
            let names = apis[region].list_function_names().await?;
            names
                .into_iter()
                .filter(|n| re.is_match(n))
                .map(|n| (region.clone(), n))
                .collect()
        }
    };
    let limit = Arc::new(Semaphore::new(concurrency));
    let mut tasks = JoinSet::new();
    for (index, (region, id)) in targets.into_iter().enumerate() {
        let api = apis[&region].clone();
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let result = api.get_function(&id).await.map_err(|e| format!("{e:#}"));
            (index, id, result)
        });
    }
    let mut fetched = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        fetched.push(joined?);
    }
    fetched.sort_by_key(|(index, _, _)| *index);
    Ok(fetched.into_iter().map(|(_, id, r)| (id, r)).collect())
}

/// Resolves the layer choice in one region: Datadog versions are compiled in, ours are looked
/// up with ListLayerVersions (latest) or GetLayerVersion (a given number).
async fn resolve_layers(
    api: &LambdaApi,
    choice: &LayerChoice,
    family: Option<RuntimeFamily>,
) -> Result<(LayerRequest, LayerRequest)> {
    let datadog = |spec: VersionSpec, latest: u32| match spec {
        VersionSpec::None => LayerRequest::None,
        VersionSpec::Latest => LayerRequest::Datadog { version: latest },
        VersionSpec::Number(version) => LayerRequest::Datadog { version },
    };
    let library_latest = match family {
        Some(RuntimeFamily::Node) => super::layer_catalog::DATADOG_LATEST_NODE,
        _ => DATADOG_LATEST_PYTHON,
    };
    let mut library = match choice.flavor {
        LayerFlavor::Datadog => datadog(choice.library, library_latest),
        LayerFlavor::Lambdascope => {
            lambdascope(api, choice.library, &[LAMBDASCOPE_PYTHON_LAYER]).await?
        }
    };
    let mut extension = match choice.flavor {
        LayerFlavor::Datadog => datadog(choice.extension, DATADOG_LATEST_EXTENSION),
        LayerFlavor::Lambdascope => {
            lambdascope(
                api,
                choice.extension,
                &[LAMBDASCOPE_EXTENSION_LAYER, LAMBDASCOPE_EXTENSION_ARM_LAYER],
            )
            .await?
        }
    };
    if let Some(arn) = &choice.library_arn {
        library = LayerRequest::Arn(arn.clone());
    }
    if let Some(arn) = &choice.extension_arn {
        extension = LayerRequest::Arn(arn.clone());
    }
    Ok((library, extension))
}

async fn lambdascope(api: &LambdaApi, spec: VersionSpec, names: &[&str]) -> Result<LayerRequest> {
    let mut arns = BTreeMap::new();
    for name in names {
        let arn = match spec {
            VersionSpec::None => return Ok(LayerRequest::None),
            VersionSpec::Latest => api.latest_layer_version(name).await?,
            VersionSpec::Number(n) => api.layer_version(name, n).await?,
        };
        if let Some(arn) = arn {
            arns.insert(name.to_string(), arn);
        }
    }
    Ok(LayerRequest::Lambdascope { arns })
}

/// Prints a warning line to stderr.
pub fn warn(message: &str) {
    eprintln!("warning: {message}");
}

/// Runs the request; `confirm` (interactive mode) sees the diffs and may cancel.
pub async fn run(
    request: RunRequest,
    confirm: Option<&mut dyn FnMut() -> bool>,
) -> Result<ExitCode> {
    let regions: Vec<String> = match &request.selection {
        Selection::Named(named) => named.iter().map(|(r, _)| r.clone()).collect(),
        Selection::Regex { region, .. } => vec![region.clone()],
    };
    let apis = clients(regions.into_iter(), request.profile.as_deref()).await;
    let fetched = fetch(&request.selection, &apis, request.concurrency).await?;
    if fetched.is_empty() {
        println!("No functions matched; nothing to do.");
        return Ok(ExitCode::SUCCESS);
    }

    // Plan every function before writing anything.
    let mut plans: Vec<(String, Result<FunctionPlan, String>)> = Vec::new();
    match &request.action {
        Action::Instrument { choice, options } => {
            let configs: Vec<&FunctionConfig> = fetched
                .iter()
                .filter_map(|(_, r)| r.as_ref().ok())
                .collect();
            let family = check_runtime_families(configs.iter().copied())?;
            let mut resolved = BTreeMap::new();
            for config in &configs {
                if !resolved.contains_key(&config.region) {
                    let layers = resolve_layers(&apis[&config.region], choice, family).await?;
                    resolved.insert(config.region.clone(), layers);
                }
            }
            for (id, config) in &fetched {
                let plan = config.clone().and_then(|config| {
                    let (library, extension) = resolved[&config.region].clone();
                    let options = InstrumentOptions {
                        library_layer: library,
                        extension_layer: extension,
                        ..(**options).clone()
                    };
                    plan_instrument(&config, &options).map_err(|e| e.to_string())
                });
                plans.push((id.clone(), plan));
            }
            if family == Some(RuntimeFamily::Python)
                && (options.service.is_none() || options.env.is_none() || options.version.is_none())
            {
                warn("the environment, service and version tags have not all been configured (--env, --service, --version); set them to correlate metrics, traces and logs");
            }
        }
        Action::Uninstrument => {
            for (id, config) in &fetched {
                let plan = config.as_ref().map(plan_uninstrument).map_err(Clone::clone);
                plans.push((id.clone(), plan));
            }
        }
    }

    let to_apply = plans
        .iter()
        .filter(|(_, p)| p.as_ref().is_ok_and(|p| !p.is_noop()))
        .count();
    if request.dry_run || confirm.is_some() {
        let mut out = std::io::stdout().lock();
        for (id, plan) in &plans {
            match plan {
                Ok(plan) => {
                    let _ = write!(out, "{}", diff::render(plan));
                }
                Err(e) => {
                    let _ = writeln!(out, "{id}\n  error: {e}");
                }
            }
        }
    }
    let mut results: Vec<(String, Outcome)> = Vec::new();
    if request.dry_run {
        for (id, plan) in plans {
            let outcome = match plan {
                Ok(p) if p.is_noop() => (p.arn, Outcome::Unchanged),
                Ok(p) => (p.arn, Outcome::WouldUpdate),
                Err(e) => (id, Outcome::Failed(e)),
            };
            results.push(outcome);
        }
        return Ok(summarise(&results, true));
    }
    if let Some(confirm) = confirm {
        if to_apply > 0 && !confirm() {
            println!("Cancelled; nothing was changed.");
            return Ok(ExitCode::SUCCESS);
        }
    }

    let region_by_arn: BTreeMap<String, String> = fetched
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok())
        .map(|c| (c.arn.clone(), c.region.clone()))
        .collect();
    let progress = Arc::new(Progress::new(plans.len(), request.action.verb()));
    let limit = Arc::new(Semaphore::new(request.concurrency));
    let mut tasks = JoinSet::new();
    for (index, (id, plan)) in plans.into_iter().enumerate() {
        let progress = progress.clone();
        let limit = limit.clone();
        let api = plan
            .as_ref()
            .ok()
            .and_then(|p| region_by_arn.get(&p.arn))
            .and_then(|region| apis.get(region).cloned());
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let (name, outcome) = match plan {
                Err(e) => (id, Outcome::Failed(e)),
                Ok(plan) if plan.is_noop() => (plan.arn, Outcome::Unchanged),
                Ok(plan) => match api {
                    None => (plan.arn, Outcome::Failed("no client for its region".into())),
                    Some(api) => match api.apply(&plan).await {
                        Ok(()) => (plan.arn, Outcome::Updated),
                        Err(e) => (plan.arn, Outcome::Failed(format!("{e:#}"))),
                    },
                },
            };
            let short = match &outcome {
                Outcome::Failed(_) => "failed".to_string(),
                other => other.label(),
            };
            progress.finished(&name, &short);
            (index, name, outcome)
        });
    }
    let mut done = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        done.push(joined?);
    }
    done.sort_by_key(|(index, _, _)| *index);
    results.extend(done.into_iter().map(|(_, name, outcome)| (name, outcome)));
    Ok(summarise(&results, false))
}

/// Prints the summary table and returns the exit code (non-zero if any function failed).
fn summarise(results: &[(String, Outcome)], dry_run: bool) -> ExitCode {
    let width = results
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "\n{:<width$}  RESULT", "FUNCTION");
    for (name, outcome) in results {
        let _ = writeln!(out, "{name:<width$}  {}", outcome.label());
    }
    let count = |f: fn(&Outcome) -> bool| results.iter().filter(|(_, o)| f(o)).count();
    let failed = count(|o| matches!(o, Outcome::Failed(_)));
    let unchanged = count(|o| *o == Outcome::Unchanged);
    if dry_run {
        let would = count(|o| *o == Outcome::WouldUpdate);
        let _ = writeln!(
            out,
            "[Dry Run] {would} would be updated, {unchanged} unchanged, {failed} failed; nothing was changed."
        );
    } else {
        let updated = count(|o| *o == Outcome::Updated);
        let _ = writeln!(
            out,
            "{updated} updated, {unchanged} unchanged, {failed} failed."
        );
    }
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
