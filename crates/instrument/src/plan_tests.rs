use super::*;

fn function(runtime: &str) -> FunctionConfig {
    FunctionConfig {
        arn: "arn:aws:lambda:us-east-1:123456789012:function:fn".into(),
        region: "us-east-1".into(),
        runtime: runtime.into(),
        handler: "app.handler".into(),
        architecture: Architecture::X86_64,
        env: BTreeMap::from([("MY_VAR".into(), "value".into())]),
        layers: vec!["arn:aws:lambda:us-east-1:123456789012:layer:requests:4".into()],
        tags: BTreeMap::from([("team".into(), "a".into())]),
    }
}

fn ours() -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "Lambdascope-Python".to_string(),
            "arn:aws:lambda:us-east-1:123456789012:layer:Lambdascope-Python:3".to_string(),
        ),
        (
            "Lambdascope-Extension".to_string(),
            "arn:aws:lambda:us-east-1:123456789012:layer:Lambdascope-Extension:2".to_string(),
        ),
        (
            "Lambdascope-Extension-ARM".to_string(),
            "arn:aws:lambda:us-east-1:123456789012:layer:Lambdascope-Extension-ARM:1".to_string(),
        ),
    ])
}

fn options() -> InstrumentOptions {
    InstrumentOptions {
        library_layer: LayerRequest::Lambdascope { arns: ours() },
        extension_layer: LayerRequest::Lambdascope { arns: ours() },
        api_key: Some(ApiKeySource::Plain(
            "0123456789abcdef0123456789abcdef".into(),
        )),
        tool_version: "0.1.0".into(),
        ..InstrumentOptions::default()
    }
}

/// Applies a plan the way AWS would, so round trips can be checked.
fn apply(function: &FunctionConfig, plan: &FunctionPlan) -> FunctionConfig {
    let mut next = function.clone();
    next.handler = plan.after.handler.clone();
    next.env = plan.after.env.clone();
    next.layers = plan.after.layers.clone();
    for (k, v) in &plan.tags_to_set {
        next.tags.insert(k.clone(), v.clone());
    }
    for k in &plan.tags_to_remove {
        next.tags.remove(k);
    }
    next
}

#[test]
fn instrument_redirects_handler_and_sets_variables() {
    let f = function("python3.12");
    let plan = plan_instrument(&f, &options()).unwrap();
    assert_eq!(plan.after.handler, "lambdascope.handler.handler");
    let env = &plan.after.env;
    assert_eq!(env["DD_LAMBDA_HANDLER"], "app.handler");
    assert_eq!(env["MY_VAR"], "value");
    assert_eq!(env["DD_SITE"], "datadoghq.com");
    assert_eq!(env["DD_API_KEY"], "0123456789abcdef0123456789abcdef");
    assert_eq!(env["DD_TRACE_ENABLED"], "true");
    assert_eq!(env["DD_SERVERLESS_LOGS_ENABLED"], "true");
    assert!(!env.contains_key("DD_FLUSH_TO_LOG"), "extension present");
    assert!(!env.contains_key("DD_LOG_LEVEL"));
    assert_eq!(
        plan.after.layers,
        vec![
            "arn:aws:lambda:us-east-1:123456789012:layer:requests:4",
            "arn:aws:lambda:us-east-1:123456789012:layer:Lambdascope-Python:3",
            "arn:aws:lambda:us-east-1:123456789012:layer:Lambdascope-Extension:2",
        ]
    );
    assert_eq!(plan.tags_to_set[VERSION_TAG], "v0.1.0");
    assert!(!plan.tags_to_set.contains_key(KEPT_TAG));
}

#[test]
fn round_trip_restores_the_function_exactly() {
    for runtime in ["python3.12", "python3.9"] {
        let f = function(runtime);
        let instrumented = apply(&f, &plan_instrument(&f, &options()).unwrap());
        assert_ne!(instrumented, f);
        let restored = apply(&instrumented, &plan_uninstrument(&instrumented));
        assert_eq!(restored, f, "{runtime}");
    }
}

#[test]
fn rerun_is_idempotent() {
    let f = function("python3.12");
    let once = apply(&f, &plan_instrument(&f, &options()).unwrap());
    let again = plan_instrument(&once, &options()).unwrap();
    assert!(again.is_noop(), "{again:?}");
    // Uninstrumenting twice: the second is a no-op too.
    let restored = apply(&once, &plan_uninstrument(&once));
    assert!(plan_uninstrument(&restored).is_noop());
}

#[test]
fn existing_log_level_is_kept_unless_changed() {
    let mut f = function("python3.12");
    f.env.insert("DD_LOG_LEVEL".into(), "debug".into());
    let plan = plan_instrument(&f, &options()).unwrap();
    assert_eq!(plan.after.env["DD_LOG_LEVEL"], "debug");
    assert_eq!(plan.tags_to_set[KEPT_TAG], "DD_LOG_LEVEL");
    let instrumented = apply(&f, &plan);
    // A pre-existing variable survives uninstrument.
    let restored = apply(&instrumented, &plan_uninstrument(&instrumented));
    assert_eq!(restored, f);

    let mut opts = options();
    opts.log_level = Some("info".into());
    let plan = plan_instrument(&f, &opts).unwrap();
    assert_eq!(plan.after.env["DD_LOG_LEVEL"], "info");
}

#[test]
fn ssm_api_key_is_written() {
    let mut opts = options();
    opts.api_key = Some(ApiKeySource::SsmArn(
        "arn:aws:ssm:us-east-1:123456789012:parameter/dd-key".into(),
    ));
    let plan = plan_instrument(&function("python3.12"), &opts).unwrap();
    assert_eq!(
        plan.after.env["DD_API_KEY_SSM_ARN"],
        "arn:aws:ssm:us-east-1:123456789012:parameter/dd-key"
    );
    assert!(!plan.after.env.contains_key("DD_API_KEY"));
}

#[test]
fn switching_key_source_replaces_the_one_instrument_added() {
    let f = function("python3.12");
    let once = apply(&f, &plan_instrument(&f, &options()).unwrap());
    let mut opts = options();
    opts.api_key = Some(ApiKeySource::SecretArn("arn:aws:secretsmanager:x".into()));
    let plan = plan_instrument(&once, &opts).unwrap();
    assert!(!plan.after.env.contains_key("DD_API_KEY"));
    assert_eq!(
        plan.after.env["DD_API_KEY_SECRET_ARN"],
        "arn:aws:secretsmanager:x"
    );
}

#[test]
fn no_library_layer_leaves_nothing_behind() {
    let mut opts = options();
    opts.library_layer = LayerRequest::None;
    let f = function("python3.12");
    let plan = plan_instrument(&f, &opts).unwrap();
    assert_eq!(plan.after.handler, "app.handler");
    assert!(!plan.after.env.contains_key("DD_LAMBDA_HANDLER"));
    let instrumented = apply(&f, &plan);
    let restored = apply(&instrumented, &plan_uninstrument(&instrumented));
    assert_eq!(restored, f);
}

#[test]
fn no_extension_flushes_to_logs_and_needs_no_key() {
    let mut opts = options();
    opts.extension_layer = LayerRequest::None;
    opts.api_key = None;
    let plan = plan_instrument(&function("python3.12"), &opts).unwrap();
    assert_eq!(plan.after.env["DD_FLUSH_TO_LOG"], "true");
}

#[test]
fn missing_api_key_with_extension_is_an_error() {
    let mut opts = options();
    opts.api_key = None;
    let err = plan_instrument(&function("python3.12"), &opts).unwrap_err();
    assert!(matches!(err, PlanError::MissingApiKey { .. }));
    assert!(err.to_string().contains("DATADOG_API_KEY_SSM_ARN"));
}

#[test]
fn unsupported_runtime_is_an_error() {
    let err = plan_instrument(&function("python3.7"), &options()).unwrap_err();
    assert!(err
        .to_string()
        .contains("runtime `python3.7` is not supported"));
}

#[test]
fn mixed_families_are_refused() {
    let a = function("python3.12");
    let b = function("provided.al2023");
    let err = check_runtime_families([&a, &b]).unwrap_err();
    assert!(err.to_string().contains("different runtime families"));
    assert_eq!(
        check_runtime_families([&a, &function("python3.9")]).unwrap(),
        Some(RuntimeFamily::Python)
    );
}

#[test]
fn environment_limit_is_checked() {
    let mut f = function("python3.12");
    f.env.insert("BIG".into(), "x".repeat(3900));
    let err = plan_instrument(&f, &options()).unwrap_err();
    match err {
        PlanError::EnvironmentTooLarge { bytes, limit, .. } => {
            assert!(bytes > limit);
            assert_eq!(limit, 4096);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn datadog_layers_and_arm_switch() {
    let mut opts = options();
    opts.flavor = LayerFlavor::Datadog;
    opts.library_layer = LayerRequest::Datadog { version: 128 };
    opts.extension_layer = LayerRequest::Datadog { version: 100 };
    let f = function("python3.12");
    let x86 = apply(&f, &plan_instrument(&f, &opts).unwrap());
    assert_eq!(x86.handler, "datadog_lambda.handler.handler");
    assert!(x86.layers.contains(
        &"arn:aws:lambda:us-east-1:464622532012:layer:Datadog-Python312:128".to_string()
    ));
    let mut arm = x86.clone();
    arm.architecture = Architecture::Arm64;
    let plan = plan_instrument(&arm, &opts).unwrap();
    assert_eq!(
        plan.after.layers,
        vec![
            "arn:aws:lambda:us-east-1:123456789012:layer:requests:4",
            "arn:aws:lambda:us-east-1:464622532012:layer:Datadog-Python312-ARM:128",
            "arn:aws:lambda:us-east-1:464622532012:layer:Datadog-Extension-ARM:100",
        ]
    );
    assert_eq!(plan.after.env["DD_LAMBDA_HANDLER"], "app.handler");
}

#[test]
fn switching_from_datadog_to_lambdascope_keeps_original_handler() {
    let mut dd = options();
    dd.flavor = LayerFlavor::Datadog;
    dd.library_layer = LayerRequest::Datadog { version: 1 };
    dd.extension_layer = LayerRequest::Datadog { version: 1 };
    let f = function("python3.12");
    let with_dd = apply(&f, &plan_instrument(&f, &dd).unwrap());
    let plan = plan_instrument(&with_dd, &options()).unwrap();
    assert_eq!(plan.after.handler, "lambdascope.handler.handler");
    assert_eq!(plan.after.env["DD_LAMBDA_HANDLER"], "app.handler");
    assert_eq!(plan.after.layers.len(), 3, "{:?}", plan.after.layers);
}

#[test]
fn redirected_handler_without_original_is_an_error() {
    let mut f = function("python3.12");
    f.handler = "datadog_lambda.handler.handler".into();
    let err = plan_instrument(&f, &options()).unwrap_err();
    assert!(matches!(err, PlanError::OriginalHandlerUnknown { .. }));
}

#[test]
fn explicit_arns_are_removed_by_uninstrument() {
    let mut opts = options();
    opts.library_layer = LayerRequest::Arn("arn:aws:lambda:us-east-1:1:layer:my-lib:9".into());
    opts.extension_layer = LayerRequest::Arn("arn:aws:lambda:us-east-1:1:layer:my-ext:2".into());
    let f = function("python3.12");
    let plan = plan_instrument(&f, &opts).unwrap();
    assert_eq!(plan.tags_to_set[LAYERS_TAG], "my-ext my-lib");
    let instrumented = apply(&f, &plan);
    let restored = apply(&instrumented, &plan_uninstrument(&instrumented));
    assert_eq!(restored, f);
}

#[test]
fn unpublished_lambdascope_layer_is_an_error() {
    let mut f = function("python3.12");
    f.architecture = Architecture::Arm64;
    let mut opts = options();
    let mut arns = ours();
    arns.remove("Lambdascope-Extension-ARM");
    opts.extension_layer = LayerRequest::Lambdascope { arns };
    let err = plan_instrument(&f, &opts).unwrap_err();
    assert!(err
        .to_string()
        .contains("Lambdascope-Extension-ARM is not published in us-east-1"));
}

#[test]
fn extra_tags_merge_into_existing_dd_tags() {
    let mut f = function("python3.12");
    f.env
        .insert("DD_TAGS".into(), "team:a,git.commit.sha:old".into());
    let mut opts = options();
    opts.tags = vec!["git.commit.sha:new".into(), "layer:api".into()];
    let plan = plan_instrument(&f, &opts).unwrap();
    assert_eq!(
        plan.after.env["DD_TAGS"],
        "team:a,git.commit.sha:new,layer:api"
    );
    let again = apply(&f, &plan);
    assert!(!plan_instrument(&again, &opts)
        .unwrap()
        .changes_configuration());
}

#[test]
fn never_instrumented_function_is_left_alone_by_uninstrument() {
    let mut f = function("python3.12");
    f.env.insert("DD_ENV".into(), "prod".into());
    assert!(plan_uninstrument(&f).is_noop());
}

#[test]
fn provided_runtime_gets_extension_only() {
    let f = function("provided.al2023");
    let plan = plan_instrument(&f, &options()).unwrap();
    assert_eq!(plan.after.handler, "app.handler");
    assert_eq!(plan.after.layers.len(), 2);
    assert!(!plan.after.env.contains_key("DD_LAMBDA_HANDLER"));
}

#[test]
fn too_many_layers_is_an_error() {
    let mut f = function("python3.12");
    f.layers = (1..=4)
        .map(|i| format!("arn:aws:lambda:us-east-1:1:layer:user{i}:1"))
        .collect();
    let err = plan_instrument(&f, &options()).unwrap_err();
    assert!(matches!(err, PlanError::TooManyLayers { count: 6, .. }));
}

#[test]
fn taking_over_from_datadog_ci_removes_its_variables_on_uninstrument() {
    let mut f = function("python3.12");
    f.handler = "datadog_lambda.handler.handler".into();
    f.env
        .insert("DD_LAMBDA_HANDLER".into(), "app.handler".into());
    f.env.insert("DD_API_KEY".into(), "k".repeat(32));
    f.env.insert("DD_SITE".into(), "datadoghq.com".into());
    f.tags.insert("dd_sls_ci".into(), "v5.21.2".into());
    let ours = apply(&f, &plan_instrument(&f, &options()).unwrap());
    assert!(!ours.tags.contains_key(KEPT_TAG));
    let restored = apply(&ours, &plan_uninstrument(&ours));
    assert_eq!(restored.handler, "app.handler");
    assert!(
        !restored.env.keys().any(|k| k.starts_with("DD_")),
        "{:?}",
        restored.env
    );
    assert_eq!(restored.layers, function("python3.12").layers);
}
