//! The MinIO server of `cloud.s3: minio` scenarios, checked by real clients nobody here wrote:
//! boto3, the AWS SDK for Rust and MinIO's own Rust SDK (the `minio` crate). Needs `make minio`.

use crate::util::{BODY, BUCKET, ClientResult, KEY, boto3, free_port, root, rust_sdk};
use authmatrix::fakes::minio::{Minio, MinioLaunch};
use authmatrix::fakes::moto::SeedObject;

const USER: &str = "suite-root-user";
const PASSWORD: &str = "suite-root-password";
/// A key the seeding must percent-encode in the signed path.
const ODD_KEY: &str = "dir/a b+c=d@e.txt";

/// MinIO on a free loopback port, seeded (by the harness) with the suite's object.
fn start(dir: &std::path::Path) -> Minio {
    let binary = authmatrix::builds::cached_tools::minio(root(), &authmatrix::builds::cache_dir())
        .unwrap_or_else(|e| panic!("{e}"));
    let launch = MinioLaunch {
        binary,
        root_user: USER.into(),
        root_password: PASSWORD.into(),
        objects: vec![
            SeedObject {
                bucket: BUCKET.into(),
                key: KEY.into(),
                body: BODY.into(),
            },
            SeedObject {
                bucket: BUCKET.into(),
                key: ODD_KEY.into(),
                body: BODY.into(),
            },
        ],
    };
    Minio::start(
        &launch,
        &dir.join("data"),
        "127.0.0.1",
        free_port(),
        &dir.join("minio.log"),
    )
    .expect("MinIO starts and is seeded")
}

/// A client environment with these keys and nothing else to find credentials in.
fn env(dir: &std::path::Path, endpoint: &str, key: &str, secret: &str) -> Vec<(String, String)> {
    let nowhere = dir.join("nonexistent").display().to_string();
    [
        ("PATH", "/usr/bin:/bin"),
        ("HOME", &dir.display().to_string()),
        ("AWS_CONFIG_FILE", &nowhere),
        ("AWS_SHARED_CREDENTIALS_FILE", &nowhere),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", key),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("TEST_S3_ENDPOINT", endpoint),
        ("TEST_BUCKET", BUCKET),
        ("TEST_KEY", KEY),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A `minio` crate client (MinIO's own Rust SDK) signing as `user`.
fn sdk_client(
    endpoint: &str,
    user: &str,
    password: &str,
) -> Result<::minio::s3::MinioClient, String> {
    use ::minio::s3::creds::StaticProvider;
    let base_url = endpoint
        .parse::<::minio::s3::http::BaseUrl>()
        .map_err(|e| format!("MinIO endpoint {endpoint}: {e}"))?;
    ::minio::s3::MinioClientBuilder::new(base_url)
        .provider(Some(StaticProvider::new(user, password, None)))
        .build()
        .map_err(|e| format!("MinIO client: {e}"))
}

type Client = fn(&[(String, String)]) -> ClientResult;

#[test]
fn minio_serves_its_root_user_and_refuses_a_wrong_secret_and_an_unknown_key() {
    require!(Venv, Minio);
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let at = |key, secret| env(dir.path(), &server.endpoint, key, secret);
    let clients: [(&str, Client); 2] = [("boto3", boto3), ("rust-sdk", rust_sdk)];
    for (name, client) in clients {
        let right = client(&at(USER, PASSWORD));
        assert_eq!(right.body.as_deref(), Some(BODY), "{name}: {right:?}");
        // What MinIO answers a GET signed with the wrong secret: 403 SignatureDoesNotMatch.
        let wrong = client(&at(USER, "not-the-root-password"));
        let err = wrong.error.unwrap_or_default();
        assert!(err.contains("SignatureDoesNotMatch"), "{name}: {err}");
        let unknown = client(&at("no-such-user", PASSWORD));
        let err = unknown.error.unwrap_or_default();
        assert!(err.contains("InvalidAccessKeyId"), "{name}: {err}");
    }
}

#[test]
fn minios_own_sdk_reads_the_seeded_object_and_names_the_wrong_secret() {
    require!(Minio);
    use ::minio::s3::error::{Error, S3ServerError};
    use ::minio::s3::types::S3Api;
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let right = sdk_client(&server.endpoint, USER, PASSWORD).unwrap();
        let got = right.get_object(BUCKET, KEY).unwrap().build().send().await;
        let body = got.unwrap().into_bytes().await.unwrap();
        assert_eq!(String::from_utf8_lossy(&body), BODY);
        let got = right.get_object(BUCKET, ODD_KEY).unwrap().build().send().await;
        let body = got.unwrap().into_bytes().await.unwrap();
        assert_eq!(String::from_utf8_lossy(&body), BODY, "{ODD_KEY}");

        let wrong = sdk_client(&server.endpoint, USER, "not-the-root-password").unwrap();
        let code = |e: Option<Error>| match e {
            Some(Error::S3Server(S3ServerError::S3Error(r))) => {
                (r.code().to_string(), r.message().clone())
            }
            Some(other) => panic!("not an S3 error: {other:?}"),
            None => panic!("a wrong secret is refused"),
        };
        // A GET carries MinIO's error document. (minio 0.4 keeps codes it has no variant for
        // lower-cased, hence the comparison without case.)
        let got = wrong.get_object(BUCKET, KEY).unwrap().build().send().await;
        let (c, message) = code(got.err());
        assert!(c.eq_ignore_ascii_case("SignatureDoesNotMatch"), "{c}: {message:?}");
        assert_eq!(
            message.as_deref(),
            Some("The request signature we calculated does not match the signature you provided. Check your key and signing method.")
        );
        // A HEAD (what Argo's S3 driver sends first, minio-go's StatObject) has no body; MinIO
        // since 2023-05 (minio PR #17283, after the quick-start's RELEASE.2022-11-17) names the
        // error in `x-minio-error-code`, which MinIO's SDK reads.
        let head = wrong.stat_object(BUCKET, KEY).unwrap().build().send().await;
        let (c, message) = code(head.err());
        assert!(c.eq_ignore_ascii_case("SignatureDoesNotMatch"), "{c}: {message:?}");
    });
}
