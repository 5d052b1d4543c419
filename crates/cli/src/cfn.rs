//! `lambdascope cfn transform`: instrument the Python functions of a CloudFormation or SAM
//! template with the rules of `lambdascope lambda instrument` (the `lambdascope-instrument`
//! crate). The Serverless Framework plugin and the CDK construct call this command on the
//! template they compiled, so every deployment path gives the same result.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use lambdascope_instrument::template::{transform_text, TransformParams, KNOWN_PARAMETERS};
use serde_yaml_ng::{Mapping, Value};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: CfnCommand,
}

#[derive(clap::Subcommand)]
enum CfnCommand {
    /// Instrument the Python functions of a template (YAML or JSON; same format out).
    Transform(TransformArgs),
}

#[derive(clap::Args)]
struct TransformArgs {
    /// Template file (`-` reads stdin).
    template: PathBuf,
    /// Where to write the result (default: stdout).
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
    /// Transform parameter `key=value` (repeatable), e.g. `site=datadoghq.eu`,
    /// `apiKeySecretArn=arn:…`, `libraryLayerVersion=3`, `exclude=FnA,FnB`.
    #[arg(short = 'p', long = "param", value_name = "KEY=VALUE", long_help = param_help())]
    params: Vec<String>,
    /// Value of a template parameter (`Name=Value`, repeatable) for `Ref`s in `Runtime`,
    /// `Handler` or `Architectures`; otherwise the parameter's `Default` is used.
    #[arg(long = "template-param", value_name = "NAME=VALUE")]
    template_params: Vec<String>,
}

fn param_help() -> String {
    let mut help = String::from("Transform parameter key=value (repeatable). Keys:\n");
    for (key, meaning) in KNOWN_PARAMETERS {
        help.push_str(&format!("  {key}: {meaning}\n"));
    }
    help.push_str("  apmFlushDeadline: DD_APM_FLUSH_DEADLINE_MILLISECONDS\n");
    help.push_str("  exclude: logical ids to leave alone, comma-separated");
    help
}

pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        CfnCommand::Transform(args) => transform(args),
    }
}

fn transform(args: TransformArgs) -> Result<ExitCode> {
    let text = if args.template.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("couldn't read the template from stdin")?;
        text
    } else {
        std::fs::read_to_string(&args.template)
            .with_context(|| format!("couldn't read {}", args.template.display()))?
    };
    let params = TransformParams::from_pairs(&args.params)?;
    let mut values = Mapping::new();
    for pair in &args.template_params {
        let (name, value) = pair
            .split_once('=')
            .with_context(|| format!("--template-param {pair:?}: use Name=Value"))?;
        values.insert(Value::from(name), Value::from(value));
    }
    let (out, report) = transform_text(&text, &params, &values)?;
    for warning in &report.warnings {
        eprintln!("lambdascope: warning: {warning}");
    }
    eprintln!(
        "lambdascope: instrumented {} function(s){}",
        report.instrumented.len(),
        if report.instrumented.is_empty() {
            String::new()
        } else {
            format!(": {}", report.instrumented.join(", "))
        }
    );
    match &args.output {
        Some(path) => std::fs::write(path, out)
            .with_context(|| format!("couldn't write {}", path.display()))?,
        None => std::io::stdout()
            .write_all(out.as_bytes())
            .context("couldn't write the template to stdout")?,
    }
    Ok(ExitCode::SUCCESS)
}
