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
        &[],
    )
    .unwrap();
    // As a multi-arch image is published, with only an amd64 child (entrypoint-index-other-arch).
    image::store(
        &storage,
        &image::busybox(
            "team/amd64-only",
            "1.0",
            &["/bin/busybox"],
            &["echo", "hello"],
        ),
        &["linux/amd64".to_string()],
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
    let out = crate::util::output_within(
        Command::new("skopeo")
            .args(args)
            .env("REGISTRY_AUTH_FILE", &auth)
            .env("HOME", r.dir.path()),
    );
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
    require!(Skopeo);
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

/// containers/image picks an index's child by platform as go-containerregistry does: the amd64
/// child is there, an arm64 one is not (regression 16258's registry side).
#[test]
fn an_image_index_serves_exactly_its_platforms() {
    require!(Skopeo);
    let r = start(basic());
    let image = format!("docker://{}/team/amd64-only:1.0", r.addr);
    let base = ["--tls-verify=false", "--creds", "alice:s3cret-pass"];
    let (ok, raw) = skopeo(&r, &[&["inspect", "--raw"][..], &base, &[&image]].concat());
    assert!(ok, "{raw}");
    let index: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    assert_eq!(
        index["manifests"][0]["platform"],
        serde_json::json!({"architecture": "amd64", "os": "linux"})
    );
    let on = |arch: &str| {
        let args = [
            &["--override-arch", arch, "inspect", "--config"][..],
            &base,
            &[&image],
        ];
        skopeo(&r, &args.concat())
    };
    let (ok, config) = on("amd64");
    assert!(ok, "{config}");
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["architecture"], "amd64");
    let (ok, out) = on("arm64");
    assert!(!ok, "no arm64 child, yet: {out}");
    assert!(out.contains("no image found in"), "{out}");
}

#[test]
fn basic_registry_accepts_a_push_and_serves_it_back() {
    require!(Skopeo);
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
    require!(Skopeo);
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

fn token_registry(realm_host: &str) -> Personality {
    use authmatrix::fakes::registry::bearer::{SigningKey, TokenAuth};
    Personality::Token(TokenAuth {
        realm: format!("http://{realm_host}/token"),
        service: "test-registry".into(),
        users: HashMap::from([("bob".to_string(), bcrypt::hash("bob-pass-123", 4).unwrap())]),
        anonymous: vec![],
        key: SigningKey::generate(),
    })
}

/// Starts a registry whose personality needs to know its own address (the token realm).
fn start_with(make: impl FnOnce(&str) -> Personality) -> Running {
    let port = crate::util::free_port();
    let mut r = start(make(&format!("127.0.0.1:{port}")));
    // Rebind on the announced port: the first registry only reserved storage and a runtime.
    let listener = r
        .runtime
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
        .unwrap();
    r.addr = listener.local_addr().unwrap().to_string();
    let _guard = r.runtime.enter();
    authmatrix::fakes::serve::spawn_http(listener, registry::router(r.registry.clone()));
    r
}

#[test]
fn token_registry_grants_by_token_and_refuses_anonymous_and_wrong_users() {
    require!(Skopeo);
    let r = start_with(token_registry);
    let (ok, out) = inspect_config(&r, Some("bob:bob-pass-123"));
    assert!(ok, "{out}");
    let (ok, out) = inspect_config(&r, None);
    assert!(
        !ok && out.contains("authentication required"),
        "anonymous gets an empty token, then 401: {out}"
    );
    let (ok, out) = inspect_config(&r, Some("bob:wrong"));
    assert!(
        !ok && out.contains("incorrect username or password"),
        "{out}"
    );
    let events = r.registry.events.drain();
    assert!(
        events
            .iter()
            .any(|e| e.request.starts_with("GET /token") && e.status == 401),
        "{events:?}"
    );
}

#[test]
fn token_registry_challenges_say_why_a_token_is_refused() {
    let r = start_with(token_registry);
    let reply = http_with(
        &r.addr,
        "GET /v2/team/app/manifests/1.0 HTTP/1.1",
        "Authorization: Bearer not-a-token",
    );
    assert!(
        reply.starts_with("HTTP/1.1 401")
            && reply.contains("scope=\"repository:team/app:pull\",error=\"invalid_token\""),
        "{reply}"
    );
    let anonymous = http(
        &r.addr,
        "GET /token?service=test-registry&scope=repository:team/app:pull HTTP/1.1",
    );
    assert!(
        anonymous.starts_with("HTTP/1.1 200"),
        "anonymous clients get a token with fewer rights: {anonymous}"
    );
    let token: serde_json::Value =
        serde_json::from_str(anonymous.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let reply = http_with(
        &r.addr,
        "GET /v2/team/app/manifests/1.0 HTTP/1.1",
        &format!("Authorization: Bearer {}", token["token"].as_str().unwrap()),
    );
    assert!(
        reply.starts_with("HTTP/1.1 401") && reply.contains("error=\"insufficient_scope\""),
        "{reply}"
    );
}

fn ecr_public(realm_host: &str, stale_status: axum::http::StatusCode) -> Personality {
    use authmatrix::fakes::registry::bearer::{EcrPublicAuth, SigningKey};
    let tokens = EcrTokens::default();
    tokens.insert(
        "public-token-0123456789".into(),
        authmatrix::fakes::oidc::now() + 3600,
    );
    Personality::EcrPublic(EcrPublicAuth {
        realm: format!("http://{realm_host}/token/"),
        tokens,
        stale_status: std::sync::Arc::new(std::sync::atomic::AtomicU16::new(stale_status.as_u16())),
        key: SigningKey::generate(),
    })
}

#[test]
fn ecr_public_serves_anonymous_pulls_and_denies_stale_credentials() {
    require!(Skopeo);
    for (status, message) in [
        (
            axum::http::StatusCode::BAD_REQUEST,
            "Your Authorization Token is invalid.",
        ),
        (
            axum::http::StatusCode::FORBIDDEN,
            "Your authorization token has expired. Reauthenticate and try again.",
        ),
    ] {
        let r = start_with(|h| ecr_public(h, status));
        let (ok, out) = inspect_config(&r, None);
        assert!(ok, "anonymous pull: {out}");
        let (ok, out) = inspect_config(&r, Some("AWS:public-token-0123456789"));
        assert!(ok, "valid ECR Public token: {out}");
        // skopeo names the token endpoint's status; the body is checked raw.
        let (ok, out) = inspect_config(&r, Some("AWS:stale-token"));
        assert!(
            !ok && out.contains(&format!(
                "invalid status code from registry {}",
                status.as_u16()
            )),
            "{status}: {out}"
        );
        let stale = http_with(
            &r.addr,
            "GET /token/?service=public.ecr.aws&scope=repository:team/app:pull HTTP/1.1",
            "Authorization: Basic QVdTOnN0YWxlLXRva2Vu",
        );
        assert!(
            stale.starts_with(&format!("HTTP/1.1 {}", status.as_u16()))
                && !stale.to_lowercase().contains("www-authenticate"),
            "{stale}"
        );
        assert!(
            stale.ends_with(&format!(
                "{{\"errors\":[{{\"code\":\"DENIED\",\"message\":\"{message}\"}}]}}\n"
            )),
            "{stale}"
        );
        let reply = http(&r.addr, "GET /v2/ HTTP/1.1");
        assert!(
            reply.contains("scope=\"aws\"")
                && reply.contains("content-length: 58")
                && reply.ends_with(
                    "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"Not Authorized\"}]}\n"
                ),
            "{reply}"
        );
    }
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
    http_with(addr, request_line, "X-Nothing: 1")
}

fn http_with(addr: &str, request_line: &str, extra_header: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{request_line}\r\nHost: {addr}\r\n{extra_header}\r\nConnection: close\r\n\r\n"
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
    require!(Go);
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
