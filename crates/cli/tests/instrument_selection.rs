//! Which functions get processed: regex across ListFunctions pages, arm64, partial failures,
//! interactive selection from stdin.

mod instrument_support;

use instrument_support::*;

const KEY_ENV: (&str, &str) = ("DATADOG_API_KEY", API_KEY);

async fn publish_ours(client: &aws_sdk_lambda::Client) {
    publish_layer(client, "Lambdascope-Python", 1).await;
    publish_layer(client, "Lambdascope-Extension", 1).await;
    publish_layer(client, "Lambdascope-Extension-ARM", 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn regex_selects_functions_across_pages() {
    let moto = Moto::start();
    let client = moto.client().await;
    publish_ours(&client).await;
    let names: Vec<String> = (0..60).map(|i| format!("svc-api-{i:02}")).collect();
    let mut tasks = Vec::new();
    for name in names.clone() {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            create_function(&client, NewFunction::python(&name)).await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    create_function(&client, NewFunction::python("other-worker")).await;

    // svc-api-50..59 sit on the second page of ListFunctions (50 per page).
    let out = moto.run(
        &[
            "lambda",
            "instrument",
            "--functions-regex",
            "svc-api-5[0-9]",
            "-r",
            REGION,
            "--concurrency",
            "4",
        ],
        &[KEY_ENV],
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("10 updated, 0 unchanged, 0 failed"),
        "{}",
        stdout(&out)
    );
    assert!(moto.list_calls() >= 2, "ListFunctions was not paged");
    for name in &names[50..] {
        assert_eq!(
            snapshot(&client, name).await.handler,
            "lambdascope.handler.handler",
            "{name}"
        );
    }
    assert_eq!(snapshot(&client, "svc-api-49").await.handler, "app.handler");
    assert_eq!(
        snapshot(&client, "other-worker").await.handler,
        "app.handler"
    );

    // Uninstrument by the same regex.
    let out = moto.run(
        &[
            "lambda",
            "uninstrument",
            "--functions-regex",
            "svc-api-5",
            "-r",
            REGION,
        ],
        &[],
    );
    assert!(out.status.success());
    for name in &names[50..] {
        assert_eq!(
            snapshot(&client, name).await.handler,
            "app.handler",
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn arm64_function_gets_the_arm_extension() {
    let moto = Moto::start();
    let client = moto.client().await;
    publish_ours(&client).await;
    create_function(
        &client,
        NewFunction {
            arm64: true,
            ..NewFunction::python("arm-fn")
        },
    )
    .await;
    let before = snapshot(&client, "arm-fn").await;
    let out = moto.run(
        &[
            "lambda",
            "instrument",
            "-f",
            &format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:arm-fn"),
        ],
        &[KEY_ENV],
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let after = snapshot(&client, "arm-fn").await;
    assert_eq!(
        after.layers,
        vec![
            format!("arn:aws:lambda:{REGION}:{ACCOUNT}:layer:Lambdascope-Python:1"),
            format!("arn:aws:lambda:{REGION}:{ACCOUNT}:layer:Lambdascope-Extension-ARM:1"),
        ]
    );
    let out = moto.run(
        &["lambda", "uninstrument", "-f", "arm-fn", "-r", REGION],
        &[],
    );
    assert!(out.status.success());
    assert_eq!(snapshot(&client, "arm-fn").await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_function_fails_alone() {
    let moto = Moto::start();
    let client = moto.client().await;
    publish_ours(&client).await;
    create_function(&client, NewFunction::python("exists")).await;
    let out = moto.run(
        &[
            "lambda",
            "instrument",
            "-f",
            "exists",
            "-f",
            "ghost",
            "-r",
            REGION,
        ],
        &[KEY_ENV],
    );
    assert!(!out.status.success(), "a failed function must fail the run");
    let text = stdout(&out);
    assert!(text.contains("1 updated, 0 unchanged, 1 failed"), "{text}");
    assert!(text.contains("ghost"), "{text}");
    assert!(text.contains("Function not found"), "{text}");
    assert_eq!(
        snapshot(&client, "exists").await.handler,
        "lambdascope.handler.handler"
    );
    // Not a terminal: progress is plain lines on stderr.
    assert!(
        stderr(&out).contains("[2/2] instrumenting"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn interactive_mode_reads_answers_from_stdin() {
    let moto = Moto::start();
    let client = moto.client().await;
    publish_ours(&client).await;
    for name in ["alpha", "bravo", "charlie"] {
        create_function(&client, NewFunction::python(name)).await;
    }
    let before = snapshot(&client, "bravo").await;

    // Declining the confirmation changes nothing.
    let answers = format!("{REGION}\n1,3\n1\n4\n{API_KEY}\nn\n");
    let out = moto.run_with_stdin(&["lambda", "instrument", "-i"], &[], &answers);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("Cancelled; nothing was changed."));
    assert_eq!(snapshot(&client, "alpha").await.handler, "app.handler");

    // region, functions 1 and 3 of the sorted list, site 2 (datadoghq.eu), plain key, confirm.
    let answers = format!("{REGION}\n1,3\n2\n4\n{API_KEY}\ny\n");
    let out = moto.run_with_stdin(&["lambda", "instrument", "-i"], &[], &answers);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let prompts = stderr(&out);
    assert!(prompts.contains("? AWS region"), "{prompts}");
    assert!(prompts.contains("2) bravo"), "{prompts}");
    assert!(prompts.contains("? Apply these changes?"), "{prompts}");
    // The confirmation came after the diff.
    assert!(stdout(&out).contains("Handler: app.handler -> lambdascope.handler.handler"));
    let alpha = snapshot(&client, "alpha").await;
    assert_eq!(alpha.handler, "lambdascope.handler.handler");
    assert_eq!(alpha.env["DD_SITE"], "datadoghq.eu");
    assert_eq!(alpha.env["DD_API_KEY"], API_KEY);
    assert_eq!(
        snapshot(&client, "charlie").await.handler,
        "lambdascope.handler.handler"
    );
    assert_eq!(snapshot(&client, "bravo").await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn functions_in_two_regions_each_get_their_regions_layers() {
    let moto = Moto::start();
    let east = moto.client().await;
    let west = moto.client_in("eu-west-1").await;
    publish_ours(&east).await;
    publish_ours(&west).await;
    publish_layer(&west, "Lambdascope-Extension", 1).await; // eu-west-1 is at version 2
    create_function(&east, NewFunction::python("east-fn")).await;
    create_function(&west, NewFunction::python("west-fn")).await;

    let west_arn = format!("arn:aws:lambda:eu-west-1:{ACCOUNT}:function:west-fn");
    let out = moto.run(
        &["lambda", "instrument", "-f", "east-fn", "-f", &west_arn],
        &[KEY_ENV, ("AWS_DEFAULT_REGION", REGION)],
    );
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("2 updated"), "{}", stdout(&out));
    assert_eq!(
        snapshot(&east, "east-fn").await.layers[1],
        format!("arn:aws:lambda:{REGION}:{ACCOUNT}:layer:Lambdascope-Extension:1")
    );
    assert_eq!(
        snapshot(&west, "west-fn").await.layers[1],
        format!("arn:aws:lambda:eu-west-1:{ACCOUNT}:layer:Lambdascope-Extension:2")
    );
}
