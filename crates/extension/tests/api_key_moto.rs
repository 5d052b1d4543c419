//! The API key from Secrets Manager, SSM and KMS, against moto's server (a real AWS API
//! emulator), through the endpoint override `AWS_ENDPOINT_URL`. The last test runs the whole
//! extension in the sandbox with only `DD_API_KEY_SECRET_ARN` set.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use lambdascope_extension::config::ApiKeySource;
use lambdascope_extension::http_client::HttpClient;
use lambdascope_extension::intake::api_key::{ApiKeyError, ApiKeyResolver};
use lambdascope_extension::intake::aws::{AwsClient, KMS, SECRETS_MANAGER, SSM};
use lambdascope_sandbox::{InvokeRequest, Sandbox, Status};
use serde_json::json;
use support::moto::Moto;
use support::{extension_layer, function, unique, Intake, Lines};

fn env(moto: &Moto) -> HashMap<String, String> {
    HashMap::from([
        ("AWS_ENDPOINT_URL".to_string(), moto.url()),
        ("AWS_ACCESS_KEY_ID".to_string(), "testing".to_string()),
        ("AWS_SECRET_ACCESS_KEY".to_string(), "testing".to_string()),
        ("AWS_SESSION_TOKEN".to_string(), "testing".to_string()),
    ])
}

fn aws(vars: &HashMap<String, String>) -> AwsClient {
    let vars = vars.clone();
    AwsClient::new(HttpClient::default(), move |k| vars.get(k).cloned()).unwrap()
}

fn resolver(source: ApiKeySource, vars: &HashMap<String, String>) -> ApiKeyResolver {
    let vars = vars.clone();
    ApiKeyResolver::new(
        source,
        HttpClient::default(),
        "us-east-1".into(),
        "my-fn".into(),
        move |k| vars.get(k).cloned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_key_resolves_from_secrets_manager_ssm_and_kms() {
    let moto = Moto::start();
    let vars = env(&moto);
    let client = aws(&vars);

    let secret = client
        .call(
            SECRETS_MANAGER,
            "us-east-1",
            "CreateSecret",
            json!({"Name": "dd-api-key", "SecretString": "key-from-secrets-manager"}),
        )
        .await
        .unwrap();
    let arn = secret["ARN"].as_str().unwrap().to_string();
    let key = resolver(ApiKeySource::SecretsManager(arn), &vars)
        .get()
        .await
        .unwrap();
    assert_eq!(key, "key-from-secrets-manager");

    client
        .call(
            SSM,
            "us-east-1",
            "PutParameter",
            json!({"Name": "/dd/api-key", "Value": "key-from-ssm", "Type": "SecureString"}),
        )
        .await
        .unwrap();
    let key = resolver(ApiKeySource::Ssm("/dd/api-key".into()), &vars)
        .get()
        .await
        .unwrap();
    assert_eq!(key, "key-from-ssm");

    let created = client
        .call(KMS, "us-east-1", "CreateKey", json!({}))
        .await
        .unwrap();
    let key_id = created["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let plaintext = base64::engine::general_purpose::STANDARD.encode("key-from-kms");
    let encrypted = client
        .call(
            KMS,
            "us-east-1",
            "Encrypt",
            json!({"KeyId": key_id, "Plaintext": plaintext}),
        )
        .await
        .unwrap();
    let blob = encrypted["CiphertextBlob"].as_str().unwrap().to_string();
    let key = resolver(ApiKeySource::Kms(blob), &vars)
        .get()
        .await
        .unwrap();
    assert_eq!(key, "key-from-kms");

    // Encrypted the way the Lambda console does it: with the function name as context.
    let encrypted = client
        .call(
            KMS,
            "us-east-1",
            "Encrypt",
            json!({"KeyId": key_id, "Plaintext": base64::engine::general_purpose::STANDARD.encode("key-with-context"),
                   "EncryptionContext": {"LambdaFunctionName": "my-fn"}}),
        )
        .await
        .unwrap();
    let blob = encrypted["CiphertextBlob"].as_str().unwrap().to_string();
    let key = resolver(ApiKeySource::Kms(blob), &vars)
        .get()
        .await
        .unwrap();
    assert_eq!(key, "key-with-context");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_secret_or_credentials_give_one_clear_error_without_the_key() {
    let moto = Moto::start();
    let vars = env(&moto);
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:does-not-exist";
    let err = resolver(ApiKeySource::SecretsManager(missing.into()), &vars)
        .get()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ApiKeyError::Unresolved { .. }), "{text}");
    assert!(
        text.contains("Secrets Manager") && text.contains("ResourceNotFound"),
        "{text}"
    );
    assert!(text.contains("kept for the next flush"), "{text}");

    let no_creds = HashMap::from([("AWS_ENDPOINT_URL".to_string(), moto.url())]);
    let err = resolver(ApiKeySource::Ssm("/x".into()), &no_creds)
        .get()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("AWS_ACCESS_KEY_ID"), "{err}");

    let err = resolver(ApiKeySource::Missing, &vars)
        .get()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("DD_API_KEY_SECRET_ARN"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_extension_in_the_sandbox_ships_with_a_key_from_secrets_manager() {
    let moto = Moto::start();
    let vars = env(&moto);
    let secret = aws(&vars)
        .call(
            SECRETS_MANAGER,
            "us-east-1",
            "CreateSecret",
            json!({"Name": "dd-key-e2e", "SecretString": support::API_KEY}),
        )
        .await
        .unwrap();
    let arn = secret["ARN"].as_str().unwrap().to_string();

    let intake = Intake::start().await;
    let layer = extension_layer("lambdascope");
    let mut config = function(
        &unique("e2e-secret"),
        "app.handler",
        intake.port(),
        &[layer.path()],
    );
    config.timeout = Duration::from_secs(3);
    config.env.remove("DD_API_KEY");
    config.env.insert("DD_API_KEY_SECRET_ARN".into(), arn);
    config.env.insert(
        "AWS_ENDPOINT_URL".into(),
        format!("http://host.lambdascope.internal:{}", moto.port),
    );
    // The sandbox hands the extension the caller's credentials (as Lambda hands it the
    // execution role's); moto accepts any. Set once: no other test here reads the process env.
    static CREDENTIALS: std::sync::Once = std::sync::Once::new();
    CREDENTIALS.call_once(|| {
        for k in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        ] {
            std::env::set_var(k, "testing");
        }
    });
    let lines = Lines::default();
    let mut sandbox = Sandbox::start_with_log_sink(config, Some(lines.sink()))
        .await
        .unwrap();
    let outcome = sandbox.invoke(InvokeRequest::new("{}")).await.unwrap();
    assert_eq!(outcome.status, Status::Success, "{}", lines.text());
    sandbox.shutdown().await;
    let n = intake
        .eventually("invocations shipped with the resolved key", || async {
            let n = intake.sketch_count("aws.lambda.enhanced.invocations").await;
            (n == 1, n)
        })
        .await;
    assert_eq!(n, 1);
    assert!(
        !lines.text().contains(support::API_KEY),
        "the key must never be logged"
    );
}
