//! Environment variables: the reserved set the runtime gets, and the narrower set extensions get.

use std::collections::BTreeMap;
use std::time::SystemTime;

use crate::config::FunctionConfig;
use crate::isolation::HOST_ALIAS;
use crate::SandboxError;

/// Variables Lambda reserves: a function cannot set them.
const RESERVED: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// Refuses customer variables Lambda reserves (as `UpdateFunctionConfiguration` does).
pub(crate) fn check_customer_env(env: &BTreeMap<String, String>) -> Result<(), SandboxError> {
    for key in env.keys() {
        if RESERVED.contains(&key.as_str()) {
            return Err(SandboxError::Config(format!(
                "environment variable {key} is reserved by Lambda; the sandbox sets it"
            )));
        }
        if key.is_empty() || key.contains('=') {
            return Err(SandboxError::Config(format!(
                "bad environment variable name {key:?}"
            )));
        }
    }
    Ok(())
}

/// Paths and addresses the variables point at.
pub(crate) struct EnvPaths {
    pub runtime_api: String,
    pub task_root: String,
    pub opt: String,
    pub python_bin: String,
    pub python_version: String,
    pub host_mode: bool,
}

/// The runtime's environment.
pub(crate) fn runtime_env(config: &FunctionConfig, paths: &EnvPaths) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: String| {
        env.insert(k.to_string(), v);
    };
    let opt = &paths.opt;
    let task = &paths.task_root;
    let py = &paths.python_version;
    set("_HANDLER", config.handler.clone());
    set("AWS_LAMBDA_RUNTIME_API", paths.runtime_api.clone());
    set("LAMBDA_TASK_ROOT", task.clone());
    set("LAMBDA_RUNTIME_DIR", "/var/runtime".into());
    set("AWS_LAMBDA_FUNCTION_NAME", config.name.clone());
    set(
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        config.memory_mb.to_string(),
    );
    set("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into());
    set(
        "AWS_LAMBDA_LOG_GROUP_NAME",
        format!("/aws/lambda/{}", config.name),
    );
    set("AWS_LAMBDA_LOG_STREAM_NAME", log_stream_name());
    set("AWS_REGION", config.region.clone());
    set("AWS_DEFAULT_REGION", config.region.clone());
    let custom = crate::python::is_custom_runtime(&config.runtime);
    if !custom {
        // Lambda sets no AWS_EXECUTION_ENV for OS-only runtimes.
        set(
            "AWS_EXECUTION_ENV",
            format!("AWS_Lambda_{}", config.runtime),
        );
    }
    set("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into());
    set("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".into());
    set("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000".into());
    set("TZ", ":UTC".into());
    set("LANG", "en_US.UTF-8".into());
    set(
        "PATH",
        format!(
            "{}:/usr/local/bin:/usr/bin/:/bin:{opt}/bin",
            paths.python_bin
        ),
    );
    set(
        "LD_LIBRARY_PATH",
        format!("/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:{task}:{task}/lib:{opt}/lib"),
    );
    set(
        "PYTHONPATH",
        format!("{task}:{opt}/python/lib/python{py}/site-packages:{opt}/python"),
    );
    // Credentials: whatever the caller has (Lambda injects the execution role's).
    for key in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ] {
        if let Ok(v) = std::env::var(key) {
            set(key, v);
        }
    }
    for (k, v) in &config.env {
        let v = if paths.host_mode {
            v.replace(HOST_ALIAS, "127.0.0.1")
        } else {
            v.clone()
        };
        set(k, v);
    }
    env
}

/// The extensions' environment: the runtime's minus the runtime-only variables.
pub(crate) fn extension_env(runtime_env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    const RUNTIME_ONLY: &[&str] = &[
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "PYTHONPATH",
    ];
    runtime_env
        .iter()
        .filter(|(k, _)| {
            !k.starts_with('_')
                && !k.starts_with("AWS_XRAY_")
                && !RUNTIME_ONLY.contains(&k.as_str())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `YYYY/MM/DD/[$LATEST]<32 hex>`.
fn log_stream_name() -> String {
    let date = humantime_date();
    format!("{date}/[$LATEST]{}", uuid::Uuid::new_v4().simple())
}

fn humantime_date() -> String {
    let text = lambdascope_wire::telemetry::format_time(SystemTime::now());
    text[..10].replace('-', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_get_the_narrow_set() {
        let config = FunctionConfig::new("f", "/code", "app.handler");
        let env = runtime_env(
            &config,
            &EnvPaths {
                runtime_api: "127.0.0.1:9001".into(),
                task_root: "/var/task".into(),
                opt: "/opt".into(),
                python_bin: "/venv/bin".into(),
                python_version: "3.11".into(),
                host_mode: false,
            },
        );
        assert_eq!(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
        assert!(env["AWS_LAMBDA_LOG_STREAM_NAME"].contains("/[$LATEST]"));
        let ext = extension_env(&env);
        assert!(!ext.contains_key("_HANDLER"));
        assert!(!ext.contains_key("LAMBDA_TASK_ROOT"));
        assert!(!ext.contains_key("AWS_EXECUTION_ENV"));
        assert_eq!(ext["AWS_LAMBDA_FUNCTION_NAME"], "f");
        assert_eq!(ext["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
    }

    #[test]
    fn os_only_runtimes_have_no_execution_env() {
        let paths = EnvPaths {
            runtime_api: "127.0.0.1:9001".into(),
            task_root: "/var/task".into(),
            opt: "/opt".into(),
            python_bin: "/var/lang/bin".into(),
            python_version: String::new(),
            host_mode: false,
        };
        let mut config = FunctionConfig::new("f", "/code", "bootstrap");
        config.runtime = "provided.al2023".into();
        let env = runtime_env(&config, &paths);
        assert!(!env.contains_key("AWS_EXECUTION_ENV"));
        assert_eq!(env["_HANDLER"], "bootstrap");
        config.runtime = "python3.12".into();
        assert_eq!(
            runtime_env(&config, &paths)["AWS_EXECUTION_ENV"],
            "AWS_Lambda_python3.12"
        );
    }
}
