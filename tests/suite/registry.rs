//! The registry fake, checked by clients nobody here wrote: skopeo (containers/image) for every
//! personality and rejection, and the OCI distribution-spec conformance suite for pull and push.

use authmatrix::fakes::events::EventLog;
use authmatrix::fakes::registry::{self, EcrTokens, Personality, Registry, Storage, image};
use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;

pub struct Running {
    pub dir: tempfile::TempDir,
    pub runtime: tokio::runtime::Runtime,
    pub addr: String,
    pub registry: Arc<Registry>,
}

pub fn start(personality: Personality) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::new(&dir.path().join("storage")).unwrap();
    image::store(
        &storage,
        &image::busybox("team/app", "1.0", &["/bin/busybox"], &["echo", "hello"]),
    )
    .unwrap();
    let registry = Arc::new(Registry {
        storage,
        personality,
        events: EventLog::default(),
        label: "registry".into(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let _guard = runtime.enter();
    authmatrix::fakes::serve::spawn_http(listener, registry::router(registry.clone()));
    Running {
        dir,
        runtime,
        addr,
        registry,
    }
}

pub fn basic() -> Personality {
    let hash = bcrypt::hash("s3cret-pass", 4).unwrap();
    Personality::Basic {
        realm: "basic-realm".into(),
        users: HashMap::from([("alice".to_string(), hash)]),
    }
}

/// skopeo with a private auth file, so no credentials of the machine leak in.
fn skopeo(r: &Running, args: &[&str]) -> (bool, String) {
    let auth = r.dir.path().join("auth.json");
    std::fs::write(&auth, "{}").unwrap();
    let out = Command::new("skopeo")
        .args(args)
        .env("REGISTRY_AUTH_FILE", &auth)
        .env("HOME", r.dir.path())
        .output()
        .expect("skopeo is installed by `make setup`");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn inspect_config(r: &Running, creds: Option<&str>) -> (bool, String) {
    let image = format!("docker://{}/team/app:1.0", r.addr);
    let mut args = vec!["inspect", "--config", "--tls-verify=false"];
    match creds {
        Some(c) => args.extend(["--creds", c]),
        None => args.push("--no-creds"),
    }
    args.push(&image);
    skopeo(r, &args)
}

#[test]
fn basic_registry_serves_the_image_config_to_the_right_user_only() {
    let r = start(basic());
    let (ok, out) = inspect_config(&r, Some("alice:s3cret-pass"));
    assert!(ok, "{out}");
    let config: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["/bin/busybox"])
    );
    assert_eq!(
        config["config"]["Cmd"],
        serde_json::json!(["echo", "hello"])
    );

    for creds in [None, Some("alice:wrong"), Some("mallory:s3cret-pass")] {
        let (ok, out) = inspect_config(&r, creds);
        assert!(!ok, "{creds:?} must be refused");
        assert!(out.contains("authentication required"), "{creds:?}: {out}");
    }
}

#[test]
fn basic_registry_accepts_a_push_and_serves_it_back() {
    let r = start(basic());
    let (src, dst) = (
        format!("docker://{}/team/app:1.0", r.addr),
        format!("docker://{}/team/copy:2.0", r.addr),
    );
    let (ok, out) = skopeo(
        &r,
        &[
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--src-creds",
            "alice:s3cret-pass",
            "--dest-creds",
            "alice:s3cret-pass",
            &src,
            &dst,
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = skopeo(
        &r,
        &[
            "inspect",
            "--tls-verify=false",
            "--creds",
            "alice:s3cret-pass",
            &dst,
        ],
    );
    assert!(ok, "{out}");
    let (ok, out) = skopeo(
        &r,
        &[
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--src-creds",
            "alice:s3cret-pass",
            "--dest-no-creds",
            &src,
            &dst,
        ],
    );
    assert!(
        !ok && out.contains("authentication required"),
        "an anonymous push is refused: {out}"
    );
}

#[test]
fn ecr_registry_takes_only_tokens_from_the_ecr_api_and_refuses_expired_ones() {
    let tokens = EcrTokens::default();
    let now = authmatrix::fakes::oidc::now();
    tokens.insert("fresh-token-0123456789".into(), now + 43_200);
    tokens.insert("stale-token-0123456789".into(), now - 60);
    let r = start(Personality::EcrPrivate {
        host: "123456789012.dkr.ecr.us-east-1.amazonaws.com".into(),
        tokens,
    });

    let (ok, out) = inspect_config(&r, Some("AWS:fresh-token-0123456789"));
    assert!(ok, "{out}");
    // containers/image renders any 401 as "unauthorized"; the raw reply test checks ECR's body.
    for creds in [
        None,
        Some("AWS:made-up-token"),
        Some("someone:fresh-token-0123456789"),
    ] {
        let (ok, out) = inspect_config(&r, creds);
        assert!(!ok && out.contains("unauthorized"), "{creds:?}: {out}");
    }
    let (ok, out) = inspect_config(&r, Some("AWS:stale-token-0123456789"));
    assert!(
        !ok && out.contains("Your authorization token has expired. Reauthenticate and try again."),
        "{out}"
    );
}

#[test]
fn raw_replies_match_distribution_and_ecr_byte_for_byte() {
    let r = start(basic());
    let reply = http(&r.addr, "GET /v2/ HTTP/1.1");
    assert!(reply.starts_with("HTTP/1.1 401"), "{reply}");
    for h in [
        "www-authenticate: Basic realm=\"basic-realm\"",
        "docker-distribution-api-version: registry/2.0",
        "content-type: application/json; charset=utf-8",
    ] {
        assert!(
            reply.to_lowercase().contains(&h.to_lowercase()),
            "{h} in {reply}"
        );
    }
    assert!(reply.ends_with(r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#), "{reply}");
    let reply = http(&r.addr, "GET /v2/foo/bar/manifests/latest HTTP/1.1");
    assert!(reply.ends_with(r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Class":"","Name":"foo/bar","Action":"pull"}]}]}"#), "{reply}");

    let ecr = start(Personality::EcrPrivate {
        host: "123456789012.dkr.ecr.us-east-1.amazonaws.com".into(),
        tokens: EcrTokens::default(),
    });
    let reply = http(&ecr.addr, "GET /v2/team/app/manifests/1.0 HTTP/1.1");
    assert!(reply.starts_with("HTTP/1.1 401"), "{reply}");
    assert!(reply.contains("www-authenticate: Basic realm=\"https://123456789012.dkr.ecr.us-east-1.amazonaws.com/\",service=\"ecr.amazonaws.com\""), "{reply}");
    assert!(
        reply.contains("content-type: text/plain; charset=utf-8")
            && reply.ends_with("\r\n\r\nNot Authorized\n"),
        "{reply}"
    );
}

/// One raw HTTP/1.1 exchange (Connection: close), headers lower-cased as hyper sends them.
fn http(addr: &str, request_line: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{request_line}\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// The OCI distribution-spec conformance suite (built from its Go module at a pinned version) against
/// the basic personality, for pull and push.
#[test]
fn oci_conformance_suite_passes_for_pull_and_push() {
    let tools = crate::util::root().join("target/tools");
    let status = Command::new(authmatrix::tools::go().unwrap())
        .args(["install", CONFORMANCE])
        .env("GOBIN", &tools)
        .env("GOFLAGS", "-mod=mod")
        .status()
        .unwrap();
    assert!(status.success(), "building the conformance suite");
    let r = start(basic());
    let results = r.dir.path().join("results");
    let out = Command::new(tools.join("conformance"))
        .current_dir(r.dir.path())
        .envs([
            ("OCI_REGISTRY", r.addr.as_str()),
            ("OCI_TLS", "disabled"),
            ("OCI_USERNAME", "alice"),
            ("OCI_PASSWORD", "s3cret-pass"),
            ("OCI_RESULTS_DIR", results.to_str().unwrap()),
            ("OCI_VERSION", "1.1"),
            ("OCI_API_PULL", "true"),
            ("OCI_API_PUSH", "true"),
        ])
        .envs(CONFORMANCE_SCOPE.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read_to_string(results.join("result.yaml")).unwrap_or_default();
    assert!(
        out.status.success(),
        "conformance failed:\n{text}\n{report}"
    );
}

const CONFORMANCE: &str =
    "github.com/opencontainers/distribution-spec/conformance@v0.0.0-20260831232431-97274622c111";

/// Pull and push of images and indexes; the 1.1 extras this registry does not claim are off.
const CONFORMANCE_SCOPE: &[(&str, &str)] = &[
    ("OCI_API_REFERRER", "false"),
    ("OCI_DATA_SHA512", "false"),
    ("OCI_DATA_SUBJECT", "false"),
    ("OCI_DATA_SUBJECT_MISSING", "false"),
    ("OCI_DATA_SUBJECT_LIST", "false"),
    ("OCI_DATA_ARTIFACT", "false"),
    ("OCI_DATA_ARTIFACT_LIST", "false"),
];
