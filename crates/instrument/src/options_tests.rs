use super::*;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn version_specs() {
    assert_eq!(
        VersionSpec::parse("-v", "latest").unwrap(),
        VersionSpec::Latest
    );
    assert_eq!(VersionSpec::parse("-v", "NONE").unwrap(), VersionSpec::None);
    assert_eq!(
        VersionSpec::parse("-v", "12").unwrap(),
        VersionSpec::Number(12)
    );
    assert!(VersionSpec::parse("-v", "1.2").is_err());
    assert!(VersionSpec::parse("-v", "0").is_err());
}

#[test]
fn booleans_and_sites() {
    assert!(parse_bool("tracing", "TRUE").unwrap());
    assert_eq!(
        parse_bool("tracing", "yes").unwrap_err().to_string(),
        "invalid boolean \"yes\" for --tracing; use true or false"
    );
    assert_eq!(
        validate_site("DatadogHQ.eu", &env(&[])).unwrap(),
        "datadoghq.eu"
    );
    let err = validate_site("datadoghq.co", &env(&[])).unwrap_err();
    assert!(err.to_string().contains("must be one of datadoghq.com"));
    assert!(validate_site(
        "localhost:8080",
        &env(&[("DD_CI_BYPASS_SITE_VALIDATION", "1")])
    )
    .is_ok());
}

#[test]
fn extra_tags() {
    assert_eq!(
        parse_extra_tags("Team:A,layer:api").unwrap(),
        vec!["team:a", "layer:api"]
    );
    for bad in ["team", "team:", ":a", "1team:a", "a:b,,c:d"] {
        assert!(parse_extra_tags(bad).is_err(), "{bad}");
    }
}

#[test]
fn api_key_precedence() {
    let all = env(&[
        ("DATADOG_API_KEY", "plain"),
        ("DATADOG_API_KEY_SSM_ARN", "ssm"),
        ("DATADOG_API_KEY_SECRET_ARN", "secret"),
    ]);
    assert_eq!(
        api_key_from_env(&all),
        Some(ApiKeySource::SecretArn("secret".into()))
    );
    assert_eq!(
        api_key_from_env(&env(&[
            ("DATADOG_API_KEY_SSM_ARN", "ssm"),
            ("DATADOG_API_KEY", "p")
        ])),
        Some(ApiKeySource::SsmArn("ssm".into()))
    );
    assert_eq!(api_key_from_env(&env(&[])), None);
}

#[test]
fn conflicting_layer_flags() {
    let raw = RawInstrumentFlags {
        layer_version: Some("3".into()),
        layer_arn: Some("arn:aws:lambda:us-east-1:1:layer:x:1".into()),
        ..Default::default()
    };
    assert_eq!(
        instrument_options(&raw, &env(&[])).unwrap_err(),
        OptionsError::Conflict("-v/--layer-version", "--layer-arn")
    );
    let raw = RawInstrumentFlags {
        layers: Some("aws".into()),
        ..Default::default()
    };
    assert!(instrument_options(&raw, &env(&[])).is_err());
}

#[test]
fn selection_rules() {
    let none = env(&[]);
    let raw = RawSelection::default();
    assert_eq!(
        selection(&raw, &none, "instrument").unwrap_err().to_string(),
        "no functions specified to instrument; use -f/--function, --functions-regex or \"functions\" in the config file"
    );
    let raw = RawSelection {
        functions: vec!["a".into()],
        regex: Some("b".into()),
        region: Some("us-east-1".into()),
    };
    assert_eq!(
        selection(&raw, &none, "instrument").unwrap_err(),
        OptionsError::FunctionsAndRegex
    );
    let raw = RawSelection {
        regex: Some("arn:aws:lambda".into()),
        region: Some("us-east-1".into()),
        ..Default::default()
    };
    assert_eq!(
        selection(&raw, &none, "instrument").unwrap_err(),
        OptionsError::RegexWithColon
    );
    let raw = RawSelection {
        functions: vec![
            "plain".into(),
            "arn:aws:lambda:eu-west-1:123456789012:function:x".into(),
        ],
        ..Default::default()
    };
    assert!(matches!(
        selection(&raw, &none, "instrument").unwrap_err(),
        OptionsError::NoRegion(name) if name == "plain"
    ));
    let with_region = env(&[("AWS_REGION", "us-west-2")]);
    assert_eq!(
        selection(&raw, &with_region, "instrument").unwrap(),
        Selection::Named(vec![
            ("us-west-2".into(), "plain".into()),
            (
                "eu-west-1".into(),
                "arn:aws:lambda:eu-west-1:123456789012:function:x".into()
            ),
        ])
    );
}

#[test]
fn config_file_shape() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cfg.json");
    std::fs::write(
        &path,
        r#"{"lambda": {"functions": ["a"], "region": "us-east-1", "layerVersion": 5, "tracing": false, "logLevel": "debug"}}"#,
    )
    .unwrap();
    let cfg = read_config(&path).unwrap();
    assert_eq!(cfg.functions.unwrap(), vec!["a"]);
    assert_eq!(value_text(cfg.layer_version.as_ref().unwrap()), "5");
    assert_eq!(value_text(cfg.tracing.as_ref().unwrap()), "false");
    std::fs::write(&path, "{not json").unwrap();
    assert!(matches!(
        read_config(&path).unwrap_err(),
        OptionsError::ConfigNotJson { .. }
    ));
    assert!(matches!(
        read_config(&dir.path().join("missing.json")).unwrap_err(),
        OptionsError::ConfigNotFound(_)
    ));
}
