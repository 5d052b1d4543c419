//! `lambdascope`: the user-facing command. Each subcommand is a thin layer over a library crate.

use clap::{Parser, Subcommand};

mod cfn;
mod demo;
mod instrument;
mod invoke;
mod lambda;
mod layer;
mod layers;
mod local;
mod server;

#[derive(Parser)]
#[command(
    name = "lambdascope",
    version,
    about = "Serverless observability for Python AWS Lambda functions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a function locally in a sandbox: init, N invokes, shutdown.
    Invoke(invoke::Args),
    /// Serve functions locally behind the AWS Lambda Invoke API.
    Local(local::Args),
    /// Run the self-hosted intake, store and query API.
    Server(server::Args),
    /// Run the example functions against a local server and show the homepage.
    Demo(demo::Args),
    /// Instrument or uninstrument deployed Lambda functions.
    Lambda(lambda::Args),
    /// Build or publish the lambdascope layers.
    Layer(layer::Args),
    /// Instrument CloudFormation / SAM templates.
    Cfn(cfn::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Invoke(args) => invoke::run(args),
        Command::Local(args) => local::run(args),
        Command::Server(args) => server::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Lambda(args) => lambda::run(args),
        Command::Layer(args) => layer::run(args),
        Command::Cfn(args) => cfn::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("lambdascope: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
