//! Every refusal: a clear message, a non-zero exit, and the functions left exactly as they were.

mod instrument_support;

use instrument_support::*;

const KEY_ENV: (&str, &str) = ("DATADOG_API_KEY", API_KEY);

/// Arguments, environment, and the message expected.
type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);

/// Runs the CLI, expects failure, returns stdout + stderr.
fn refused(moto: &Moto, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = moto.run(args, env);
    assert!(!out.status.success(), "expected failure for {args:?}");
    format!("{}{}", stdout(&out), stderr(&out))
}

#[tokio::test(flavor = "multi_thread")]
async fn validation_errors_change_nothing() {
    let moto = Moto::start();
    let client = moto.client().await;
    publish_layer(&client, "Lambdascope-Python", 1).await;
    publish_layer(&client, "Lambdascope-Extension", 1).await;
    create_function(&client, NewFunction::python("py-fn")).await;
    create_function(
        &client,
        NewFunction {
            runtime: "python3.7",
            ..NewFunction::python("old-fn")
        },
    )
    .await;
    create_function(
        &client,
        NewFunction {
            runtime: "provided.al2023",
            ..NewFunction::python("custom-fn")
        },
    )
    .await;
    let mut big = NewFunction::python("big-fn");
    big.env.push(("PAYLOAD", "x".repeat(3900)));
    create_function(&client, big).await;
    let names = ["py-fn", "old-fn", "custom-fn", "big-fn"];
    let mut before = Vec::new();
    for n in names {
        before.push(snapshot(&client, n).await);
    }

    let cases: Vec<Case> = vec![
        (
            vec!["lambda", "instrument", "-r", REGION],
            vec![KEY_ENV],
            "no functions specified to instrument",
        ),
        (
            vec!["lambda", "uninstrument", "-r", REGION],
            vec![],
            "no functions specified to remove instrumentation",
        ),
        (
            vec![
                "lambda",
                "instrument",
                "-f",
                "py-fn",
                "--functions-regex",
                "py",
                "-r",
                REGION,
            ],
            vec![KEY_ENV],
            "should not be used at the same time",
        ),
        (
            vec![
                "lambda",
                "instrument",
                "--functions-regex",
                "arn:aws:lambda:.*",
                "-r",
                REGION,
            ],
            vec![KEY_ENV],
            "isn't meant to be used with ARNs",
        ),
        (
            vec![
                "lambda",
                "instrument",
                "--functions-regex",
                "py(",
                "-r",
                REGION,
            ],
            vec![KEY_ENV],
            "invalid --functions-regex",
        ),
        (
            vec!["lambda", "instrument", "-f", "py-fn", "-r", REGION],
            vec![KEY_ENV, ("DATADOG_SITE", "datadoghq.co")],
            "invalid site \"datadoghq.co\"",
        ),
        (
            vec!["lambda", "instrument", "-f", "py-fn", "-r", REGION],
            vec![],
            "no API key is configured",
        ),
        (
            vec!["lambda", "instrument", "-f", "old-fn", "-r", REGION],
            vec![KEY_ENV],
            "runtime `python3.7` is not supported",
        ),
        (
            vec![
                "lambda",
                "instrument",
                "-f",
                "py-fn",
                "-f",
                "custom-fn",
                "-r",
                REGION,
            ],
            vec![KEY_ENV],
            "different runtime families",
        ),
        (
            vec!["lambda", "instrument", "-f", "big-fn", "-r", REGION],
            vec![KEY_ENV],
            "over Lambda's 4 KB limit (4096 bytes)",
        ),
        (
            vec![
                "lambda",
                "instrument",
                "-f",
                "py-fn",
                "-r",
                REGION,
                "-v",
                "3",
                "--layer-arn",
                "arn:aws:lambda:us-east-1:1:layer:x:1",
            ],
            vec![KEY_ENV],
            "-v/--layer-version and --layer-arn should not be used at the same time",
        ),
        (
            vec![
                "lambda",
                "instrument",
                "-f",
                "py-fn",
                "-r",
                REGION,
                "--tracing",
                "yes",
            ],
            vec![KEY_ENV],
            "invalid boolean \"yes\" for --tracing",
        ),
        (
            vec![
                "lambda",
                "instrument",
                "-f",
                "py-fn",
                "-r",
                REGION,
                "-v",
                "newest",
            ],
            vec![KEY_ENV],
            "invalid --layer-version \"newest\"",
        ),
        (
            vec![
                "lambda",
                "instrument",
                "-f",
                "py-fn",
                "-r",
                REGION,
                "--extra-tags",
                "team",
            ],
            vec![KEY_ENV],
            "do not comply with the <key>:<value>",
        ),
        (
            vec!["lambda", "instrument", "-f", "py-fn"],
            vec![KEY_ENV],
            "no default region specified for \"py-fn\"",
        ),
        (
            vec![
                "lambda",
                "instrument",
                "-f",
                "py-fn",
                "-r",
                REGION,
                "--layers",
                "aws",
            ],
            vec![KEY_ENV],
            "invalid --layers \"aws\"",
        ),
        (
            vec![
                "lambda",
                "instrument",
                "-f",
                "py-fn",
                "-r",
                REGION,
                "-v",
                "7",
            ],
            vec![KEY_ENV],
            "layer Lambdascope-Python is not published in us-east-1",
        ),
        (
            vec!["lambda", "instrument", "--config", "missing.json"],
            vec![KEY_ENV],
            "config file missing.json not found",
        ),
    ];
    for (args, env, expected) in cases {
        let text = refused(&moto, &args, &env);
        assert!(
            text.contains(expected),
            "{args:?}: expected {expected:?} in:\n{text}"
        );
    }
    for (name, snap) in names.iter().zip(&before) {
        assert_eq!(&snapshot(&client, name).await, snap, "{name} was changed");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn datadog_site_ap1_uses_its_layer_account() {
    let moto = Moto::start();
    let client = moto.client().await;
    create_function(&client, NewFunction::python("ap1-fn")).await;
    let out = moto.run(
        &[
            "lambda",
            "instrument",
            "-f",
            "ap1-fn",
            "-r",
            "ap-southeast-1",
            "--layers",
            "datadog",
            "-d",
        ],
        &[KEY_ENV, ("DATADOG_SITE", "ap1.datadoghq.com")],
    );
    // The function lives in us-east-1 in moto; the lookup in ap-southeast-1 fails cleanly.
    assert!(!out.status.success());
    assert!(
        stdout(&out).contains("Function not found"),
        "{}",
        stdout(&out)
    );

    let arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:ap1-fn");
    let out = moto.run(
        &[
            "lambda",
            "instrument",
            "-f",
            &arn,
            "--layers",
            "datadog",
            "-d",
        ],
        &[KEY_ENV, ("DATADOG_SITE", "ap1.datadoghq.com")],
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "+ arn:aws:lambda:{REGION}:417141415827:layer:Datadog-Python312:128"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "+ arn:aws:lambda:{REGION}:417141415827:layer:Datadog-Extension:100"
        )),
        "{text}"
    );
}
