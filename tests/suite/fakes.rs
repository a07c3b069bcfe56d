//! The fakes, checked by real clients nobody here wrote: botocore/boto3 and the AWS SDK for Rust.
//! Each case asserts the behaviour the real service has (shared/research/auth-protocol-facts.md §4–5).

use crate::util::{BODY, ClientResult, Cloud, boto3, python_client, rust_sdk};
use authmatrix::fakes::oidc::{self, IRSA_AUDIENCE, POD_IDENTITY_AUDIENCE};
use authmatrix::fakes::world;

type Client = fn(&[(String, String)]) -> ClientResult;
const CLIENTS: [(&str, Client); 2] = [("boto3", boto3), ("rust-sdk", rust_sdk)];

fn pod_identity_env(cloud: &Cloud, url: &str, token_file: &str) -> Vec<(String, String)> {
    let mut env = cloud.base_env();
    env.push(("AWS_CONTAINER_CREDENTIALS_FULL_URI".into(), url.into()));
    env.push((
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE".into(),
        token_file.into(),
    ));
    env
}

fn irsa_env(cloud: &Cloud, sts_url: &str, token_file: &str) -> Vec<(String, String)> {
    let mut env = cloud.base_env();
    env.push(("AWS_ROLE_ARN".into(), world::role_arn(world::ARTIFACT_ROLE)));
    env.push(("AWS_WEB_IDENTITY_TOKEN_FILE".into(), token_file.into()));
    env.push(("AWS_ROLE_SESSION_NAME".into(), "suite".into()));
    env.push(("AWS_ENDPOINT_URL_STS".into(), sts_url.into()));
    let ca = cloud.ca_file.display().to_string();
    env.push(("AWS_CA_BUNDLE".into(), ca.clone())); // botocore
    env.push(("SSL_CERT_FILE".into(), ca)); // rustls-native-certs
    env
}

/// Both clients fail to get IRSA credentials with this token; each error names one of `needles`.
fn assert_sts_refuses(cloud: &Cloud, token: &str, needles: &[&str]) {
    let token_file = cloud.token_file("token", token);
    let sts = cloud.sts();
    for (name, client) in CLIENTS {
        let err = error_of(name, &client(&irsa_env(cloud, &sts, &token_file)));
        assert!(needles.iter().any(|n| err.contains(n)), "{name}: {err}");
    }
}

fn error_of(client: &str, r: &ClientResult) -> String {
    r.error
        .clone()
        .unwrap_or_else(|| panic!("{client} succeeded but should have failed: {r:?}"))
}

/// A token for the workflow's service account, valid from `nbf` to `exp` seconds from now.
fn token(cloud: &Cloud, audience: &str, nbf: i64, exp: i64) -> String {
    let now = oidc::now();
    cloud.token(audience, now + nbf, now + exp)
}

/// Both clients fail against the agent (checking Host or not) with the token `make_token` writes:
/// botocore quotes the agent's plain-text body, the Rust SDK names the status only, and the agent's
/// own log shows what it answered.
fn assert_agent_refuses(
    check_host: bool,
    make_token: impl Fn(&Cloud) -> String,
    status: u16,
    body: &str,
) {
    let cloud = Cloud::start();
    let token_file = cloud.token_file("token", &make_token(&cloud));
    let url = cloud.agent(check_host);
    for (name, client) in CLIENTS {
        let err = error_of(name, &client(&pod_identity_env(&cloud, &url, &token_file)));
        let expected = if name == "boto3" {
            body.to_string()
        } else {
            format!("StatusCode({status})")
        };
        assert!(err.contains(&expected), "{name}: {err}");
    }
    let events = cloud.fakes.events.drain();
    assert!(
        !events.is_empty()
            && events
                .iter()
                .all(|e| e.status == status && e.detail.contains(body)),
        "{events:?}"
    );
}

#[test]
fn pod_identity_agent_serves_credentials_the_s3_server_accepts() {
    require!(Venv);
    let cloud = Cloud::start();
    let token = cloud.token_file("token", &token(&cloud, POD_IDENTITY_AUDIENCE, -60, 3600));
    let url = cloud.agent(false);
    for (name, client) in CLIENTS {
        let r = client(&pod_identity_env(&cloud, &url, &token));
        assert_eq!(r.body.as_deref(), Some(BODY), "{name}: {r:?}");
        assert!(
            r.access_key_id
                .as_deref()
                .is_some_and(|k| k.starts_with("ASIA")),
            "{name} got temporary credentials: {r:?}"
        );
    }
    let events = cloud.fakes.events.drain();
    assert!(
        events.iter().all(|e| e.status == 200) && !events.is_empty(),
        "{events:?}"
    );
}

#[test]
fn pod_identity_agent_refuses_a_token_that_is_not_a_jwt() {
    require!(Venv);
    assert_agent_refuses(
        false,
        |_| "not-a-jwt".into(),
        400,
        "Service account token cannot be parsed: token is malformed",
    );
}

#[test]
fn pod_identity_agent_refuses_an_expired_token() {
    require!(Venv);
    let expired = |c: &Cloud| token(c, POD_IDENTITY_AUDIENCE, -7200, -3600);
    assert_agent_refuses(
        false,
        expired,
        400,
        "Service account token failed basic claim validations: token is expired",
    );
}

#[test]
fn pod_identity_agent_refuses_a_token_for_another_audience() {
    require!(Venv);
    assert_agent_refuses(
        false,
        |c| token(c, IRSA_AUDIENCE, -60, 3600),
        400,
        "(InvalidTokenException)",
    );
}

#[test]
fn pod_identity_agent_refuses_calls_through_another_address() {
    require!(Venv);
    assert_agent_refuses(
        true,
        |c| token(c, POD_IDENTITY_AUDIENCE, -60, 3600),
        403,
        "Access Denied. Called agent through invalid address, please use either [169.254.170.23 fd00:ec2::23] address not 127.0.0.1",
    );
}

#[test]
fn clients_reject_a_token_file_ending_in_a_newline_before_calling_the_agent() {
    require!(Venv);
    let cloud = Cloud::start();
    let token = cloud.token_file(
        "token",
        &format!("{}\n", token(&cloud, POD_IDENTITY_AUDIENCE, -60, 3600)),
    );
    let url = cloud.agent(false);
    for (name, client) in CLIENTS {
        error_of(name, &client(&pod_identity_env(&cloud, &url, &token)));
    }
    assert_eq!(
        cloud.fakes.events.drain(),
        vec![],
        "no request reached the agent"
    );
}

#[test]
fn sts_exchanges_a_valid_irsa_token_for_credentials_the_s3_server_accepts() {
    require!(Venv);
    let cloud = Cloud::start();
    let token = cloud.token_file("token", &token(&cloud, IRSA_AUDIENCE, -60, 3600));
    let sts = cloud.sts();
    for (name, client) in CLIENTS {
        let r = client(&irsa_env(&cloud, &sts, &token));
        assert_eq!(r.body.as_deref(), Some(BODY), "{name}: {r:?}");
    }
    assert!(
        cloud
            .fakes
            .events
            .drain()
            .iter()
            .all(|e| e.fake == "sts" && e.status == 200)
    );
}

#[test]
fn sts_refuses_an_expired_irsa_token() {
    require!(Venv);
    let cloud = Cloud::start();
    assert_sts_refuses(
        &cloud,
        &token(&cloud, IRSA_AUDIENCE, -7200, -3600),
        &["ExpiredTokenException", "Token expired"],
    );
}

#[test]
fn sts_refuses_a_token_for_another_audience() {
    require!(Venv);
    let cloud = Cloud::start();
    let wrong_audience = token(&cloud, POD_IDENTITY_AUDIENCE, -60, 3600);
    assert_sts_refuses(&cloud, &wrong_audience, &["Incorrect token audience"]);
}

#[test]
fn sts_refuses_a_token_signed_by_another_cluster() {
    require!(Venv);
    let cloud = Cloud::start();
    let now = oidc::now();
    let stranger = oidc::OidcKeys::generate().unwrap();
    let forged = stranger.mint(
        world::NAMESPACE,
        world::SERVICE_ACCOUNT,
        IRSA_AUDIENCE,
        now - 60,
        now + 3600,
    );
    assert_sts_refuses(&cloud, &forged, &["InvalidIdentityToken"]);
}

#[test]
fn sts_refuses_a_service_account_the_role_does_not_trust() {
    require!(Venv);
    let cloud = Cloud::start();
    let now = oidc::now();
    let other = cloud.fakes.oidc.mint(
        "default",
        "someone-else",
        IRSA_AUDIENCE,
        now - 60,
        now + 3600,
    );
    assert_sts_refuses(&cloud, &other, &["AccessDenied"]);
}

#[test]
fn s3_server_rejects_a_wrong_secret_and_an_unknown_key() {
    require!(Venv);
    let cloud = Cloud::start();
    let key = cloud.fakes.moto.keys.static_key.clone();
    for (name, client) in CLIENTS {
        let mut env = cloud.base_env();
        env.push(("AWS_ACCESS_KEY_ID".into(), key.access_key_id.clone()));
        env.push((
            "AWS_SECRET_ACCESS_KEY".into(),
            key.secret_access_key.clone(),
        ));
        assert_eq!(
            client(&env).body.as_deref(),
            Some(BODY),
            "{name}: the right key reads"
        );

        let mut wrong = cloud.base_env();
        wrong.push(("AWS_ACCESS_KEY_ID".into(), key.access_key_id.clone()));
        wrong.push(("AWS_SECRET_ACCESS_KEY".into(), "not-the-secret".into()));
        let err = error_of(name, &client(&wrong));
        assert!(err.contains("SignatureDoesNotMatch"), "{name}: {err}");

        let mut unknown = cloud.base_env();
        unknown.push(("AWS_ACCESS_KEY_ID".into(), "AKIAIOSFODNN7EXAMPLE".into()));
        unknown.push((
            "AWS_SECRET_ACCESS_KEY".into(),
            key.secret_access_key.clone(),
        ));
        let err = error_of(name, &client(&unknown));
        assert!(err.contains("InvalidAccessKeyId"), "{name}: {err}");
    }
}

/// A client environment signing with this key against an API emulator at `url` (its CA trusted).
fn signed_env(
    cloud: &Cloud,
    endpoint_var: &str,
    url: &str,
    akid: &str,
    secret: &str,
) -> Vec<(String, String)> {
    let mut env = cloud.base_env();
    env.push((endpoint_var.into(), url.into()));
    env.push(("AWS_CA_BUNDLE".into(), cloud.ca_file.display().to_string()));
    env.push(("AWS_ACCESS_KEY_ID".into(), akid.into()));
    env.push(("AWS_SECRET_ACCESS_KEY".into(), secret.into()));
    env
}

#[test]
fn ecr_api_issues_registry_tokens_to_signed_callers_only() {
    require!(Venv);
    let cloud = Cloud::start();
    let url = cloud.ecr_api();
    let tokens = cloud.fakes.ecr_tokens();
    let env =
        |akid: &str, secret: &str| signed_env(&cloud, "TEST_ECR_ENDPOINT", &url, akid, secret);
    let (admin, user) = (
        cloud.fakes.moto.keys.admin.clone(),
        cloud.fakes.moto.keys.static_key.clone(),
    );
    let r = python_client(
        "ecr_token.py",
        &env(&admin.access_key_id, &admin.secret_access_key),
    );
    assert_eq!(r.access_key_id.as_deref(), Some("AWS"), "{r:?}");
    assert!(
        r.body.as_deref().is_some_and(|p| tokens.is_valid(p)),
        "the registry accepts the issued token: {r:?}"
    );
    let err = error_of(
        "boto3",
        &python_client("ecr_token.py", &env(&admin.access_key_id, "wrong-secret")),
    );
    assert!(
        err.contains("ClientError") && err.to_lowercase().contains("signature"),
        "{err}"
    );
    // The static user may read S3 only: IAM refuses it ECR tokens.
    let err = error_of(
        "boto3",
        &python_client(
            "ecr_token.py",
            &env(&user.access_key_id, &user.secret_access_key),
        ),
    );
    assert!(
        err.contains("AccessDenied") || err.contains("not authorized"),
        "{err}"
    );
}

#[test]
fn ecr_public_api_checks_the_signature_and_issues_tokens_its_registry_accepts() {
    require!(Venv);
    let cloud = Cloud::start();
    let url = cloud.ecr_public_api();
    let tokens = cloud.fakes.ecr_public_tokens();
    let env = |akid: &str, secret: &str| {
        signed_env(&cloud, "TEST_ECR_PUBLIC_ENDPOINT", &url, akid, secret)
    };
    let key = cloud.fakes.moto.keys.static_key.clone();
    let r = python_client(
        "ecr_public_token.py",
        &env(&key.access_key_id, &key.secret_access_key),
    );
    assert!(
        r.body.as_deref().is_some_and(|p| tokens.is_valid(p)),
        "the registry accepts the issued token: {r:?}"
    );
    let err = error_of(
        "boto3",
        &python_client(
            "ecr_public_token.py",
            &env(&key.access_key_id, "wrong-secret"),
        ),
    );
    assert!(err.contains("InvalidSignatureException"), "{err}");
    let err = error_of(
        "boto3",
        &python_client(
            "ecr_public_token.py",
            &env("AKIAIOSFODNN7EXAMPLE", "whatever"),
        ),
    );
    assert!(err.contains("UnrecognizedClientException"), "{err}");
}

/// The AWS SDK for Rust as a client process: `util::rust_sdk` re-runs this test binary with only
/// this test selected and the environment under test. Run any other way it has nothing to talk
/// to, and says so rather than passing.
#[test]
#[ignore = "run as a child process by the fakes tests"]
fn rust_sdk_client() {
    assert!(
        std::env::var_os("AUTHMATRIX_RUST_CLIENT").is_some(),
        "the AWS SDK client of util::rust_sdk: run the fakes:: tests, which start it with a fake cloud"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(async {
        use aws_config::BehaviorVersion;
        use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
        use aws_sdk_s3::error::DisplayErrorContext;
        let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
        let provider = config
            .credentials_provider()
            .ok_or("no credentials provider")?;
        use aws_credential_types::provider::ProvideCredentials;
        let creds = provider
            .provide_credentials()
            .await
            .map_err(|e| format!("{}", DisplayErrorContext(e)))?;
        let s3_config = aws_sdk_s3::config::Builder::from(&config)
            .endpoint_url(std::env::var("TEST_S3_ENDPOINT").unwrap())
            .force_path_style(true)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .build();
        let s3 = aws_sdk_s3::Client::from_conf(s3_config);
        let obj = s3
            .get_object()
            .bucket(std::env::var("TEST_BUCKET").unwrap())
            .key(std::env::var("TEST_KEY").unwrap())
            .send()
            .await
            .map_err(|e| format!("{}", DisplayErrorContext(e)))?;
        let body = obj
            .body
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .into_bytes();
        Ok::<_, String>((
            creds.access_key_id().to_string(),
            String::from_utf8_lossy(&body).into_owned(),
        ))
    });
    let json = match result {
        Ok((key, body)) => serde_json::json!({ "access_key_id": key, "body": body }),
        Err(e) => serde_json::json!({ "error": e }),
    };
    println!("CLIENT-RESULT {json}");
}
