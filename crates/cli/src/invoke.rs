//! `lambdascope invoke` (work in progress).

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!("`lambdascope invoke` is not available yet")
}
