//! instrument → uninstrument against moto: what a user sees on the function afterwards.

mod instrument_support;

use instrument_support::*;

const KEY_ENV: (&str, &str) = ("DATADOG_API_KEY", API_KEY);

async fn publish_ours(client: &aws_sdk_lambda::Client) {
    publish_layer(client, "Lambdascope-Python", 1).await;
    publish_layer(client, "Lambdascope-Extension", 1).await;
    publish_layer(client, "Lambdascope-Extension-ARM", 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn our_layers_after_layer_publish_round_trip() {
    let moto = Moto::start();
    let client = moto.client().await;
    let dir = moto.dir.path();

    // Build and publish our layers the way a user does.
    let binary = static_binary(dir);
    let package = fixture_package(dir);
    let python = python();
    let out = moto.run(
        &[
            "layer",
            "build",
            "--out",
            "layers",
            "--arch",
            "x86_64",
            "--extension-binary",
            binary.to_str().unwrap(),
            "--python-src",
            package.to_str().unwrap(),
            "--python",
            python.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = moto.run(&["layer", "publish", "-r", REGION, "--from", "layers"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let arns: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
    assert_eq!(
        arns,
        vec![
            format!("arn:aws:lambda:{REGION}:{ACCOUNT}:layer:Lambdascope-Python:1"),
            format!("arn:aws:lambda:{REGION}:{ACCOUNT}:layer:Lambdascope-Extension:1"),
        ]
    );

    create_function(
        &client,
        NewFunction {
            layers: vec![publish_layer(&client, "user-deps", 1).await],
            ..NewFunction::python("orders")
        },
    )
    .await;
    let before = snapshot(&client, "orders").await;

    let out = moto.run(
        &[
            "lambda",
            "instrument",
            "-f",
            "orders",
            "-r",
            REGION,
            "--service",
            "orders",
            "--env",
            "dev",
            "--version",
            "1",
        ],
        &[KEY_ENV],
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("1 updated, 0 unchanged, 0 failed"),
        "{}",
        stdout(&out)
    );
    let after = snapshot(&client, "orders").await;
    assert_eq!(after.handler, "lambdascope.handler.handler");
    assert_eq!(after.env["DD_LAMBDA_HANDLER"], "app.handler");
    assert_eq!(after.env["MY_VAR"], "my-value");
    assert_eq!(after.env["DD_API_KEY"], API_KEY);
    assert_eq!(after.env["DD_SITE"], "datadoghq.com");
    assert_eq!(after.env["DD_SERVICE"], "orders");
    assert_eq!(after.env["DD_TRACE_ENABLED"], "true");
    assert_eq!(
        after.layers,
        vec![before.layers[0].clone(), arns[0].clone(), arns[1].clone()]
    );
    assert_eq!(
        after.tags["lambdascope_cli"],
        format!("v{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(after.tags["team"], "payments");

    // Re-running changes nothing.
    let out = moto.run(
        &[
            "lambda",
            "instrument",
            "-f",
            "orders",
            "-r",
            REGION,
            "--service",
            "orders",
            "--env",
            "dev",
            "--version",
            "1",
        ],
        &[KEY_ENV],
    );
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("0 updated, 1 unchanged, 0 failed"),
        "{}",
        stdout(&out)
    );
    assert_eq!(snapshot(&client, "orders").await, after);

    let out = moto.run(
        &["lambda", "uninstrument", "-f", "orders", "-r", REGION],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(snapshot(&client, "orders").await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_prints_a_masked_diff_and_changes_nothing() {
    let moto = Moto::start();
    let client = moto.client().await;
    publish_ours(&client).await;
    create_function(&client, NewFunction::python("billing")).await;
    let before = snapshot(&client, "billing").await;

    let out = moto.run(
        &[
            "lambda",
            "instrument",
            "-f",
            "billing",
            "-r",
            REGION,
            "--dry-run",
        ],
        &[KEY_ENV],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("Handler: app.handler -> lambdascope.handler.handler"),
        "{text}"
    );
    assert!(text.contains("+ DD_API_KEY=01**********cdef"), "{text}");
    assert!(!text.contains(API_KEY), "the key leaked: {text}");
    assert!(text.contains("+ DD_LAMBDA_HANDLER=app.handler"));
    assert!(text.contains(&format!(
        "+ arn:aws:lambda:{REGION}:{ACCOUNT}:layer:Lambdascope-Extension:1"
    )));
    assert!(text.contains("[Dry Run] 1 would be updated"), "{text}");
    assert_eq!(snapshot(&client, "billing").await, before);

    // Uninstrument's dry run on an instrumented function shows the reverse and changes nothing.
    assert!(moto
        .run(
            &["lambda", "instrument", "-f", "billing", "-r", REGION],
            &[KEY_ENV]
        )
        .status
        .success());
    let instrumented = snapshot(&client, "billing").await;
    let out = moto.run(
        &[
            "lambda",
            "uninstrument",
            "-f",
            "billing",
            "-r",
            REGION,
            "-d",
        ],
        &[],
    );
    let text = stdout(&out);
    assert!(
        text.contains("Handler: lambdascope.handler.handler -> app.handler"),
        "{text}"
    );
    assert!(text.contains("- tag lambdascope_cli"), "{text}");
    assert_eq!(snapshot(&client, "billing").await, instrumented);
}

#[tokio::test(flavor = "multi_thread")]
async fn datadog_layers_round_trip() {
    let moto = Moto::start();
    let client = moto.client().await;
    // moto looks layers up by name in the function's own account, so publish Datadog's names here.
    publish_layer(&client, "Datadog-Python312", 2).await;
    publish_layer(&client, "Datadog-Extension", 1).await;
    create_function(&client, NewFunction::python("dd-fn")).await;
    let before = snapshot(&client, "dd-fn").await;
    let env = [KEY_ENV, ("DATADOG_SITE", "datadoghq.eu")];

    // The dry run shows Datadog's real account.
    let out = moto.run(
        &[
            "lambda",
            "instrument",
            "-f",
            "dd-fn",
            "-r",
            REGION,
            "--layers",
            "datadog",
            "-v",
            "2",
            "-e",
            "1",
            "-d",
        ],
        &env,
    );
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "+ arn:aws:lambda:{REGION}:464622532012:layer:Datadog-Python312:2"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "+ arn:aws:lambda:{REGION}:464622532012:layer:Datadog-Extension:1"
        )),
        "{text}"
    );

    let args = [
        "lambda",
        "instrument",
        "-f",
        "dd-fn",
        "-r",
        REGION,
        "--layers",
        "datadog",
        "-v",
        "2",
        "-e",
        "1",
        "-a",
        ACCOUNT,
    ];
    let out = moto.run(&args, &env);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let after = snapshot(&client, "dd-fn").await;
    assert_eq!(after.handler, "datadog_lambda.handler.handler");
    assert_eq!(after.env["DD_LAMBDA_HANDLER"], "app.handler");
    assert_eq!(after.env["DD_SITE"], "datadoghq.eu");
    assert_eq!(
        after.layers,
        vec![
            format!("arn:aws:lambda:{REGION}:{ACCOUNT}:layer:Datadog-Python312:2"),
            format!("arn:aws:lambda:{REGION}:{ACCOUNT}:layer:Datadog-Extension:1"),
        ]
    );
    let out = moto.run(&args, &env);
    assert!(
        stdout(&out).contains("0 updated, 1 unchanged"),
        "{}",
        stdout(&out)
    );

    let out = moto.run(
        &["lambda", "uninstrument", "-f", "dd-fn", "-r", REGION],
        &[],
    );
    assert!(out.status.success());
    assert_eq!(snapshot(&client, "dd-fn").await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn existing_log_level_is_kept_and_ssm_key_is_written() {
    let moto = Moto::start();
    let client = moto.client().await;
    publish_ours(&client).await;
    let mut f = NewFunction::python("ssm-fn");
    f.env.push(("DD_LOG_LEVEL", "debug".to_string()));
    create_function(&client, f).await;
    let before = snapshot(&client, "ssm-fn").await;
    let ssm = "arn:aws:ssm:us-east-1:123456789012:parameter/datadog/api-key";

    let out = moto.run(
        &["lambda", "instrument", "-f", "ssm-fn", "-r", REGION],
        &[("DATADOG_API_KEY_SSM_ARN", ssm)],
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let after = snapshot(&client, "ssm-fn").await;
    assert_eq!(after.env["DD_LOG_LEVEL"], "debug");
    assert_eq!(after.env["DD_API_KEY_SSM_ARN"], ssm);
    assert!(!after.env.contains_key("DD_API_KEY"));

    // The user's own DD_LOG_LEVEL survives uninstrument; everything else instrument added goes.
    let out = moto.run(
        &["lambda", "uninstrument", "-f", "ssm-fn", "-r", REGION],
        &[],
    );
    assert!(out.status.success());
    assert_eq!(snapshot(&client, "ssm-fn").await, before);

    // --log-level changes it.
    let out = moto.run(
        &[
            "lambda",
            "instrument",
            "-f",
            "ssm-fn",
            "-r",
            REGION,
            "--log-level",
            "info",
        ],
        &[("DATADOG_API_KEY_SSM_ARN", ssm)],
    );
    assert!(out.status.success());
    assert_eq!(
        snapshot(&client, "ssm-fn").await.env["DD_LOG_LEVEL"],
        "info"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_library_layer_leaves_nothing_behind() {
    let moto = Moto::start();
    let client = moto.client().await;
    publish_ours(&client).await;
    create_function(&client, NewFunction::python("ext-only")).await;
    let before = snapshot(&client, "ext-only").await;
    let out = moto.run(
        &[
            "lambda",
            "instrument",
            "-f",
            "ext-only",
            "-r",
            REGION,
            "-v",
            "none",
        ],
        &[KEY_ENV],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let after = snapshot(&client, "ext-only").await;
    assert_eq!(after.handler, "app.handler");
    assert!(!after.env.contains_key("DD_LAMBDA_HANDLER"));
    assert_eq!(after.layers.len(), 1);
    let out = moto.run(
        &["lambda", "uninstrument", "-f", "ext-only", "-r", REGION],
        &[],
    );
    assert!(out.status.success());
    assert_eq!(snapshot(&client, "ext-only").await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn config_file_supplies_functions_and_settings() {
    let moto = Moto::start();
    let client = moto.client().await;
    publish_ours(&client).await;
    create_function(&client, NewFunction::python("cfg-a")).await;
    create_function(&client, NewFunction::python("cfg-b")).await;
    std::fs::write(
        moto.dir.path().join("lambdascope.json"),
        r#"{"lambda": {"functions": ["cfg-a", "cfg-b"], "region": "us-east-1", "tracing": false, "logLevel": "warn", "extraTags": "Team:Payments"}}"#,
    )
    .unwrap();
    let out = moto.run(
        &["lambda", "instrument", "--config", "lambdascope.json"],
        &[KEY_ENV],
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    for name in ["cfg-a", "cfg-b"] {
        let s = snapshot(&client, name).await;
        assert_eq!(s.env["DD_TRACE_ENABLED"], "false");
        assert_eq!(s.env["DD_LOG_LEVEL"], "warn");
        assert_eq!(s.env["DD_TAGS"], "team:payments");
    }
    // Flags win over the file.
    let out = moto.run(
        &[
            "lambda",
            "instrument",
            "--config",
            "lambdascope.json",
            "--tracing",
            "true",
        ],
        &[KEY_ENV],
    );
    assert!(out.status.success());
    assert_eq!(
        snapshot(&client, "cfg-a").await.env["DD_TRACE_ENABLED"],
        "true"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn source_code_integration_adds_git_tags_or_warns() {
    let moto = Moto::start();
    let client = moto.client().await;
    publish_ours(&client).await;
    create_function(&client, NewFunction::python("git-fn")).await;
    let args = ["lambda", "instrument", "-f", "git-fn", "-r", REGION, "-s"];

    // Not a repository: a warning, and the function is still instrumented.
    let out = moto.run(&args, &[KEY_ENV]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("is not in a git repository"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        snapshot(&client, "git-fn").await.handler,
        "lambdascope.handler.handler"
    );

    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(moto.dir.path())
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.com")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.com")
            .output()
            .unwrap();
        assert!(ok.status.success(), "git {args:?}");
        String::from_utf8_lossy(&ok.stdout).trim().to_string()
    };
    git(&["init", "-q"]);
    std::fs::write(moto.dir.path().join("app.py"), "x = 1\n").unwrap();
    git(&["add", "app.py"]);
    git(&["commit", "-q", "-m", "app"]);
    git(&[
        "remote",
        "add",
        "origin",
        "https://deploy:secret@example.com/shop.git",
    ]);
    let sha = git(&["rev-parse", "HEAD"]);

    let out = moto.run(&args, &[KEY_ENV]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tags = snapshot(&client, "git-fn").await.env["DD_TAGS"].clone();
    assert_eq!(
        tags,
        format!("git.commit.sha:{sha},git.repository_url:https://example.com/shop.git")
    );
}
