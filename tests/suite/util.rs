//! Fixtures shared by the suite: the fake cloud on loopback, and real clients to point at it.

use authmatrix::fakes::ca::{Ca, PemPair};
use authmatrix::fakes::events::EventLog;
use authmatrix::fakes::issuer::CredentialIssuer;
use authmatrix::fakes::moto::{Moto, SeedObject};
use authmatrix::fakes::oidc::OidcKeys;
use authmatrix::fakes::registry::EcrTokens;
use authmatrix::fakes::{ecr_api, pod_identity, serve, sts, world};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

pub const BUCKET: &str = "suite-bucket";
pub const KEY: &str = "hello.txt";
pub const BODY: &str = "hello from the fake cloud\n";

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn python() -> PathBuf {
    authmatrix::tools::python(root())
        .expect("run `make setup` first: the suite needs .venv with moto and boto3")
}

/// moto with enforcement on a free loopback port, plus the fakes in front of it.
pub struct Cloud {
    pub dir: tempfile::TempDir,
    pub moto: Moto,
    pub oidc: OidcKeys,
    pub ca_file: PathBuf,
    pub events: EventLog,
    pub runtime: tokio::runtime::Runtime,
    pub s3_endpoint: String,
}

impl Cloud {
    pub fn start() -> Cloud {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let seed = [SeedObject {
            bucket: BUCKET.into(),
            key: KEY.into(),
            body: BODY.into(),
        }];
        let moto = Moto::start(
            &python(),
            dir.path(),
            "127.0.0.1",
            port,
            &seed,
            &[world::ARTIFACT_ROLE],
            &dir.path().join("moto.log"),
        )
        .expect("moto starts");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let ca_file = dir.path().join("ca.pem");
        Cloud {
            s3_endpoint: moto.keys.endpoint.clone(),
            dir,
            moto,
            oidc: OidcKeys::generate().unwrap(),
            ca_file,
            events: EventLog::default(),
            runtime,
        }
    }

    fn issuer(&self) -> CredentialIssuer {
        CredentialIssuer::new(&self.moto.keys.endpoint, &self.moto.keys.admin)
    }

    fn role(&self) -> String {
        self.moto.keys.roles[world::ARTIFACT_ROLE].clone()
    }

    /// The Pod Identity agent on 127.0.0.1 (the real address only exists in the sandbox).
    pub fn agent(&self, check_host: bool) -> String {
        let agent = Arc::new(pod_identity::PodIdentityAgent {
            check_host,
            oidc: self.oidc.clone(),
            associations: BTreeMap::from([(world::subject(), self.role())]),
            issuer: self.issuer(),
            events: self.events.clone(),
        });
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let _guard = self.runtime.enter();
        serve::spawn_http(listener, pod_identity::router(agent));
        format!("http://{addr}/v1/credentials")
    }

    /// Serves `app` over TLS on `https://localhost:PORT`, trusted through `self.ca_file`.
    fn https(&self, app: axum::Router) -> String {
        let ca = Ca::new().unwrap();
        std::fs::write(&self.ca_file, ca.cert_pem()).unwrap();
        let cert: PemPair = ca.issue(&["localhost"]).unwrap();
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let _guard = self.runtime.enter();
        serve::spawn_https(listener, app, &cert).unwrap();
        format!("https://localhost:{port}")
    }

    /// The STS emulator.
    pub fn sts(&self) -> String {
        self.https(sts::router(Arc::new(sts::Sts {
            oidc: self.oidc.clone(),
            trust: BTreeMap::from([(self.role(), vec![world::subject()])]),
            issuer: self.issuer(),
            events: self.events.clone(),
        })))
    }

    /// The ECR API emulator, sharing `tokens` with a registry.
    pub fn ecr_api(&self, tokens: EcrTokens) -> String {
        self.https(ecr_api::router(Arc::new(ecr_api::EcrApi {
            iam_endpoint: self.moto.keys.endpoint.clone(),
            account: world::ACCOUNT.into(),
            region: world::REGION.into(),
            tokens,
            token_lifetime_secs: Arc::new(std::sync::atomic::AtomicI64::new(12 * 3600)),
            events: self.events.clone(),
        })))
    }

    /// The ECR Public API emulator; it knows the fake cloud's static and admin keys.
    pub fn ecr_public_api(&self, tokens: EcrTokens) -> String {
        let keys = authmatrix::fakes::sigv4::KeyStore::default();
        for k in [&self.moto.keys.static_key, &self.moto.keys.admin] {
            keys.add(&k.access_key_id, &k.secret_access_key, None);
        }
        self.https(ecr_api::public_router(Arc::new(ecr_api::EcrPublicApi {
            keys,
            tokens,
            token_lifetime_secs: Arc::new(std::sync::atomic::AtomicI64::new(12 * 3600)),
            events: self.events.clone(),
        })))
    }

    /// Writes a token file (exactly these bytes) and returns its path.
    pub fn token_file(&self, name: &str, contents: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, contents).unwrap();
        p.display().to_string()
    }

    /// A valid token for the workflow's service account with this audience.
    pub fn token(&self, audience: &str, nbf: i64, exp: i64) -> String {
        self.oidc
            .mint(world::NAMESPACE, world::SERVICE_ACCOUNT, audience, nbf, exp)
    }

    /// The environment every client gets: no config files, no instance metadata, our S3 object.
    pub fn base_env(&self) -> Vec<(String, String)> {
        let nowhere = self.dir.path().join("nonexistent").display().to_string();
        [
            ("PATH", "/usr/bin:/bin"),
            ("HOME", &self.dir.path().display().to_string()),
            ("AWS_CONFIG_FILE", &nowhere),
            ("AWS_SHARED_CREDENTIALS_FILE", &nowhere),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_REGION", "us-east-1"),
            ("TEST_S3_ENDPOINT", &self.s3_endpoint),
            ("TEST_BUCKET", BUCKET),
            ("TEST_KEY", KEY),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What a client reported: the credentials' key id and the object body, or an error.
#[derive(Debug, serde::Deserialize)]
pub struct ClientResult {
    pub access_key_id: Option<String>,
    pub body: Option<String>,
    pub error: Option<String>,
}

/// boto3, with exactly `env`.
pub fn boto3(env: &[(String, String)]) -> ClientResult {
    python_client("boto3_client.py", env)
}

/// One of the Python clients in tests/suite/clients, with exactly `env`.
pub fn python_client(script: &str, env: &[(String, String)]) -> ClientResult {
    let out = Command::new(python())
        .arg(root().join("tests/suite/clients").join(script))
        .env_clear()
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    parse_result(&out.stdout, &out.stderr)
}

/// The AWS SDK for Rust, with exactly `env`: this test binary re-run as `rust_sdk_client`.
pub fn rust_sdk(env: &[(String, String)]) -> ClientResult {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "fakes::rust_sdk_client",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env_clear()
        .envs(env.iter().cloned())
        .env("AUTHMATRIX_RUST_CLIENT", "1")
        .output()
        .unwrap();
    parse_result(&out.stdout, &out.stderr)
}

fn parse_result(stdout: &[u8], stderr: &[u8]) -> ClientResult {
    let text = String::from_utf8_lossy(stdout);
    // libtest prints the test's name on the same line before the child's output.
    let line = text.lines().find_map(|l| {
        l.find("CLIENT-RESULT ")
            .map(|i| &l[i + "CLIENT-RESULT ".len()..])
            .or(l.starts_with('{').then_some(l))
    });
    match line {
        Some(l) => serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")),
        None => panic!(
            "the client printed no result:\n{text}\n{}",
            String::from_utf8_lossy(stderr)
        ),
    }
}

/// Runs `cmd` to the end: its exit code (-1 for a signal) and its stdout then stderr as text.
pub fn run_text(cmd: &mut std::process::Command) -> (i32, String) {
    let out = cmd.output().expect("the command starts");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}
