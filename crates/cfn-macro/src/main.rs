//! `bootstrap`: the `LambdaScopeServerless` macro as a `provided.al2023` Lambda function.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use lambdascope_cfn_macro::{handle, MacroRequest, MacroResponse};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(false)
        .without_time()
        .init();
    lambda_runtime::run(service_fn(|event: LambdaEvent<MacroRequest>| async move {
        Ok::<MacroResponse, Error>(handle(event.payload))
    }))
    .await
}
