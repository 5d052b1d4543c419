//! The lambdascope Lambda extension (see docs/extension.md). This file only wires the
//! modules of the library together.

use std::time::Instant;

fn main() {
    let process_start = Instant::now();
    lambdascope_extension::logging::init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            tracing::error!(%err, "cannot start the async runtime; the extension stops");
            return;
        }
    };
    runtime.block_on(lambdascope_extension::lifecycle::run(process_start));
}
