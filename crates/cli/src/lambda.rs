//! `lambdascope lambda instrument|uninstrument`: change deployed functions' configuration without
//! a redeploy, and revert it. Flags follow `datadog-ci lambda` (names and meanings).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::instrument::aws::LambdaApi;
use crate::instrument::interactive::{ask_site_and_key, Prompter};
use crate::instrument::options::{
    self, instrument_options, read_config, selection, value_text, ConfigFile, RawInstrumentFlags,
    RawSelection,
};
use crate::instrument::run::{run as run_request, warn, Action, RunRequest};
use crate::instrument::source_code;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: LambdaCommand,
}

#[derive(clap::Subcommand)]
enum LambdaCommand {
    /// Add the library and extension layers, redirect the handler and set DD_* variables.
    Instrument(Box<InstrumentArgs>),
    /// Restore the handler and remove the layers, variables and tags instrument added.
    Uninstrument(UninstrumentArgs),
}

/// Which functions, where, and how to run.
#[derive(clap::Args, Clone)]
struct SelectionArgs {
    /// Function name, partial ARN or full ARN (repeatable).
    #[arg(short = 'f', long = "function", value_name = "FUNCTION")]
    functions: Vec<String>,
    /// Every function whose name matches this regular expression (unanchored).
    #[arg(
        long = "functions-regex",
        alias = "functionsRegex",
        value_name = "REGEX"
    )]
    functions_regex: Option<String>,
    /// Region (else from a full ARN, else AWS_DEFAULT_REGION / AWS_REGION).
    #[arg(short = 'r', long)]
    region: Option<String>,
    /// AWS profile for credentials.
    #[arg(long)]
    profile: Option<String>,
    /// JSON config file: {"lambda": {"functions": [...], "region": ..., ...}}.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print what would change, change nothing.
    #[arg(short = 'd', long = "dry-run", alias = "dry")]
    dry_run: bool,
    /// Prompt for region, functions, site and key source; confirm after showing the diff.
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Functions processed at the same time.
    #[arg(long, default_value_t = 10)]
    concurrency: usize,
}

const INSTRUMENT_ENV_HELP: &str = "Environment:
  DATADOG_API_KEY_SECRET_ARN  Secrets Manager ARN of the API key  -> DD_API_KEY_SECRET_ARN
  DATADOG_API_KEY_SSM_ARN     SSM parameter ARN of the API key    -> DD_API_KEY_SSM_ARN
  DATADOG_KMS_API_KEY         KMS-encrypted API key               -> DD_KMS_API_KEY
  DATADOG_API_KEY             plain API key (quick tests)         -> DD_API_KEY
  DATADOG_SITE                datadoghq.com, datadoghq.eu, us3/us5/ap1/ap2/uk1.datadoghq.com, ddog-gov.com, us2.ddog-gov.com
  (precedence KMS > Secrets Manager > SSM > plain; AWS credentials from the usual chain or --profile)";

#[derive(clap::Args)]
#[command(after_help = INSTRUMENT_ENV_HELP)]
struct InstrumentArgs {
    #[command(flatten)]
    selection: SelectionArgs,
    /// Library layer version: latest (default), a number, or none.
    #[arg(short = 'v', long = "layer-version", alias = "layerVersion")]
    layer_version: Option<String>,
    /// Extension layer version: latest (default), a number, or none.
    #[arg(short = 'e', long = "extension-version", alias = "extensionVersion")]
    extension_version: Option<String>,
    /// Whose layers: lambdascope (published with `layer publish`, default) or datadog.
    #[arg(long, value_name = "lambdascope|datadog")]
    layers: Option<String>,
    /// Explicit library layer version ARN.
    #[arg(long = "layer-arn")]
    layer_arn: Option<String>,
    /// Explicit extension layer version ARN.
    #[arg(long = "extension-layer-arn")]
    extension_layer_arn: Option<String>,
    /// Account to take Datadog's layers from (mirrors); Datadog's own by default.
    #[arg(
        short = 'a',
        long = "layer-account",
        alias = "layerAccount",
        hide = true
    )]
    layer_account: Option<String>,
    /// DD_TRACE_ENABLED (true|false, default true).
    #[arg(long)]
    tracing: Option<String>,
    /// DD_MERGE_XRAY_TRACES (true|false, default false).
    #[arg(long = "merge-xray-traces", alias = "mergeXrayTraces")]
    merge_xray_traces: Option<String>,
    /// DD_FLUSH_TO_LOG when no extension is added (true|false, default true).
    #[arg(long = "flush-metrics-to-logs", alias = "flushMetricsToLogs")]
    flush_metrics_to_logs: Option<String>,
    /// DD_CAPTURE_LAMBDA_PAYLOAD (true|false, default false).
    #[arg(long = "capture-lambda-payload", alias = "captureLambdaPayload")]
    capture_lambda_payload: Option<String>,
    /// DD_SERVERLESS_LOGS_ENABLED (true|false, default true).
    #[arg(long)]
    logging: Option<String>,
    /// DD_LOG_LEVEL (an existing value is kept when absent).
    #[arg(long = "log-level", alias = "logLevel")]
    log_level: Option<String>,
    /// DD_SERVICE.
    #[arg(long)]
    service: Option<String>,
    /// DD_ENV.
    #[arg(long = "env", id = "dd_env", value_name = "ENV")]
    dd_env: Option<String>,
    /// DD_VERSION.
    #[arg(long = "version", id = "dd_version", value_name = "VERSION")]
    dd_version: Option<String>,
    /// Extra DD_TAGS: key:value,key:value.
    #[arg(long = "extra-tags", alias = "extraTags")]
    extra_tags: Option<String>,
    /// DD_APM_FLUSH_DEADLINE_MILLISECONDS.
    #[arg(long = "apm-flush-deadline", alias = "apmFlushDeadline")]
    apm_flush_deadline: Option<String>,
    /// Add git.commit.sha and git.repository_url from the local checkout to DD_TAGS.
    #[arg(short = 's', long = "source-code-integration")]
    source_code_integration: bool,
}

#[derive(clap::Args)]
struct UninstrumentArgs {
    #[command(flatten)]
    selection: SelectionArgs,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match args.command {
            LambdaCommand::Instrument(a) => instrument(*a).await,
            LambdaCommand::Uninstrument(a) => uninstrument(a).await,
        }
    })
}

/// Merges the config file into the selection flags (flags win).
fn merged_selection(sel: &SelectionArgs, cfg: &ConfigFile) -> (RawSelection, Option<String>) {
    let functions = if sel.functions.is_empty() {
        cfg.functions.clone().unwrap_or_default()
    } else {
        sel.functions.clone()
    };
    let raw = RawSelection {
        functions,
        regex: sel
            .functions_regex
            .clone()
            .or_else(|| cfg.functions_regex.clone()),
        region: sel.region.clone().or_else(|| cfg.region.clone()),
    };
    (raw, sel.profile.clone().or_else(|| cfg.profile.clone()))
}

fn load_config(sel: &SelectionArgs) -> Result<ConfigFile> {
    Ok(match &sel.config {
        Some(path) => read_config(path)?,
        None => ConfigFile::default(),
    })
}

/// Interactive: asks for the region and functions the flags did not give.
async fn ask_selection(
    prompter: &mut Prompter<std::io::StdinLock<'static>, std::io::Stderr>,
    raw: &mut RawSelection,
    env: &HashMap<String, String>,
    profile: Option<&str>,
) -> Result<()> {
    if raw.functions.is_empty() && raw.regex.is_none() {
        let default = raw
            .region
            .clone()
            .or_else(|| env.get("AWS_DEFAULT_REGION").cloned())
            .or_else(|| env.get("AWS_REGION").cloned());
        let region = prompter.ask("AWS region", default.as_deref())?;
        let api = LambdaApi::connect(&region, profile).await;
        let mut names = api.list_function_names().await?;
        names.sort();
        if names.is_empty() {
            anyhow::bail!("no Lambda functions found in {region}");
        }
        let picked = prompter.multi_select("Functions (e.g. 1,3 5-7 or all)", &names)?;
        raw.functions = picked.into_iter().map(|i| names[i].clone()).collect();
        raw.region = Some(region);
    }
    Ok(())
}

async fn instrument(args: InstrumentArgs) -> Result<ExitCode> {
    let cfg = load_config(&args.selection)?;
    let mut env: HashMap<String, String> = std::env::vars().collect();
    let (mut raw_selection, profile) = merged_selection(&args.selection, &cfg);
    let interactive = args.selection.interactive || cfg.interactive.unwrap_or(false);
    let mut prompter = Prompter::new(std::io::stdin().lock(), std::io::stderr());
    if interactive {
        ask_selection(&mut prompter, &mut raw_selection, &env, profile.as_deref()).await?;
        ask_site_and_key(&mut prompter, &mut env)?;
    }
    let text = |v: &Option<serde_json::Value>| v.as_ref().map(value_text);
    let raw = RawInstrumentFlags {
        layer_version: args.layer_version.or_else(|| text(&cfg.layer_version)),
        extension_version: args
            .extension_version
            .or_else(|| text(&cfg.extension_version)),
        layers: args.layers.or(cfg.layers),
        layer_arn: args.layer_arn.or(cfg.layer_arn),
        extension_layer_arn: args.extension_layer_arn.or(cfg.extension_layer_arn),
        tracing: args.tracing.or_else(|| text(&cfg.tracing)),
        merge_xray_traces: args
            .merge_xray_traces
            .or_else(|| text(&cfg.merge_xray_traces)),
        flush_metrics_to_logs: args
            .flush_metrics_to_logs
            .or_else(|| text(&cfg.flush_metrics_to_logs)),
        capture_lambda_payload: args
            .capture_lambda_payload
            .or_else(|| text(&cfg.capture_lambda_payload)),
        logging: args.logging.or_else(|| text(&cfg.logging)),
        log_level: args.log_level.or(cfg.log_level),
        service: args.service.or(cfg.service),
        env: args.dd_env.or(cfg.environment),
        version: args.dd_version.or(cfg.version),
        extra_tags: args.extra_tags.or(cfg.extra_tags),
        apm_flush_deadline: args
            .apm_flush_deadline
            .or_else(|| text(&cfg.apm_flush_deadline)),
        layer_account: args.layer_account.or(cfg.layer_aws_account),
    };
    let sel = selection(&raw_selection, &env, "instrument")?;
    let (choice, mut options) = instrument_options(&raw, &env)?;
    if args.source_code_integration {
        let cwd = std::env::current_dir()?;
        let found = source_code::read(&cwd);
        for w in &found.warnings {
            warn(w);
        }
        options.tags.extend(found.tags);
    }
    if args.selection.concurrency == 0 {
        return Err(options::OptionsError::ZeroConcurrency.into());
    }
    let request = RunRequest {
        selection: sel,
        profile,
        action: Action::Instrument {
            choice,
            options: Box::new(options),
        },
        dry_run: args.selection.dry_run,
        concurrency: args.selection.concurrency,
    };
    finish(request, interactive, &mut prompter).await
}

async fn uninstrument(args: UninstrumentArgs) -> Result<ExitCode> {
    let cfg = load_config(&args.selection)?;
    let env: HashMap<String, String> = std::env::vars().collect();
    let (mut raw_selection, profile) = merged_selection(&args.selection, &cfg);
    let interactive = args.selection.interactive || cfg.interactive.unwrap_or(false);
    let mut prompter = Prompter::new(std::io::stdin().lock(), std::io::stderr());
    if interactive {
        ask_selection(&mut prompter, &mut raw_selection, &env, profile.as_deref()).await?;
    }
    let sel = selection(&raw_selection, &env, "remove instrumentation")?;
    if args.selection.concurrency == 0 {
        return Err(options::OptionsError::ZeroConcurrency.into());
    }
    let request = RunRequest {
        selection: sel,
        profile,
        action: Action::Uninstrument,
        dry_run: args.selection.dry_run,
        concurrency: args.selection.concurrency,
    };
    finish(request, interactive, &mut prompter).await
}

async fn finish(
    request: RunRequest,
    interactive: bool,
    prompter: &mut Prompter<std::io::StdinLock<'static>, std::io::Stderr>,
) -> Result<ExitCode> {
    if interactive && !request.dry_run {
        let mut confirm = || prompter.confirm("Apply these changes?").unwrap_or(false);
        run_request(request, Some(&mut confirm)).await
    } else {
        run_request(request, None).await
    }
}
