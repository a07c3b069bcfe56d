//! The AWS identity of a pod running Argo's code, as EKS gives it: the projected service-account
//! token and the environment its webhooks inject (IRSA, Pod Identity). Both backends use it: the
//! local one for its probes, the cluster one for Argo's controller process.

use crate::fakes::eks_webhook::Injection;
use crate::fakes::oidc::{self, IRSA_AUDIENCE, OidcKeys, POD_IDENTITY_AUDIENCE};
use crate::fakes::pod_identity::AGENT_URL;
use crate::fakes::world;
use crate::scenario::{AuthMode, Component, Scenario, TokenKind};
use std::collections::BTreeMap;
use std::path::Path;

/// Bound Argo's artifact retries (workflow/executor/retry: `EXECUTOR_RETRY_BACKOFF_*`) to one
/// attempt, so a failing cell fails in seconds rather than after 5 steps of 1 s × 1.6ⁿ, each with the
/// SDK's own retries inside. Outcomes do not depend on it: a credential error fails every attempt.
pub const RETRY_ENV: &[(&str, &str)] = &[("EXECUTOR_RETRY_BACKOFF_STEPS", "1")];

/// The projected service-account token for the scenario, as the kubelet would write it.
pub fn token(
    oidc_keys: &OidcKeys,
    (namespace, service_account): (&str, &str),
    mode: AuthMode,
    kind: TokenKind,
) -> Option<String> {
    let (audience, other) = match mode {
        AuthMode::None => return None,
        AuthMode::Irsa => (IRSA_AUDIENCE, POD_IDENTITY_AUDIENCE),
        AuthMode::PodIdentity => (POD_IDENTITY_AUDIENCE, IRSA_AUDIENCE),
    };
    let now = oidc::now();
    let mint =
        |aud: &str, nbf: i64, exp: i64| oidc_keys.mint(namespace, service_account, aud, nbf, exp);
    Some(match kind {
        TokenKind::Valid => mint(audience, now - 60, now + 3600),
        TokenKind::Expired => mint(audience, now - 7200, now - 3600),
        TokenKind::NotYetValid => mint(audience, now + 3600, now + 7200),
        TokenKind::WrongAudience => mint(other, now - 60, now + 3600),
        TokenKind::Malformed => "not-a-jwt".to_string(),
        TokenKind::Empty => String::new(),
    })
}

/// The environment of the pod running Argo's code: what EKS's webhooks inject for the auth mode.
pub fn pod_env(
    scenario: &Scenario,
    cell_dir: &Path,
    ca_file: &Path,
    token_file: Option<&Path>,
    role_arn: &str,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let mut set = |k: &str, v: &str| env.insert(k.to_string(), v.to_string());
    set("PATH", "/usr/local/bin:/usr/bin:/bin");
    set("HOME", &cell_dir.display().to_string());
    set("SSL_CERT_FILE", &ca_file.display().to_string());
    if scenario.component == Component::ExecutorS3 {
        for (k, v) in RETRY_ENV {
            set(k, v);
        }
    }
    let token_file = token_file
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    match scenario.auth.mode {
        AuthMode::None => {}
        AuthMode::Irsa => {
            // amazon-eks-pod-identity-webhook (auth-protocol-facts.md §5).
            set("AWS_ROLE_ARN", role_arn);
            set("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file);
            set("AWS_STS_REGIONAL_ENDPOINTS", "regional");
            set("AWS_REGION", world::REGION);
            set("AWS_DEFAULT_REGION", world::REGION);
        }
        AuthMode::PodIdentity => {
            // EKS Pod Identity (auth-protocol-facts.md §4.1).
            set("AWS_CONTAINER_CREDENTIALS_FULL_URI", AGENT_URL);
            set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file);
            set("AWS_STS_REGIONAL_ENDPOINTS", "regional");
            set("AWS_REGION", world::REGION);
            set("AWS_DEFAULT_REGION", world::REGION);
        }
    }
    env
}

/// The Secret holding a token the kubelet would never issue (expired, not yet valid, malformed,
/// empty), mounted where EKS mounts its projected token.
pub const TOKEN_SECRET: &str = "authmatrix-aws-token";

/// What EKS's webhooks add to a pod for the scenario's identity (auth-protocol-facts.md §4.1, §5):
/// a token volume, its mount and the AWS environment; and, for token kinds no kubelet issues, the
/// token to put into [`TOKEN_SECRET`] instead of a projected token.
pub fn eks_injection(
    scenario: &Scenario,
    oidc_keys: &OidcKeys,
    subject: (&str, &str),
    role_arn: &str,
) -> Option<(Injection, Option<String>)> {
    let (volume, dir, file, audience, other) = match scenario.auth.mode {
        AuthMode::None => return None,
        AuthMode::Irsa => (
            "aws-iam-token",
            "/var/run/secrets/eks.amazonaws.com/serviceaccount",
            "token",
            IRSA_AUDIENCE,
            POD_IDENTITY_AUDIENCE,
        ),
        AuthMode::PodIdentity => (
            "eks-pod-identity-token",
            "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount",
            "eks-pod-identity-token",
            POD_IDENTITY_AUDIENCE,
            IRSA_AUDIENCE,
        ),
    };
    let projected = |aud: &str| {
        serde_json::json!({"name": volume, "projected": {"sources": [{"serviceAccountToken":
            {"audience": aud, "expirationSeconds": 86400, "path": file}}]}})
    };
    let (volume, secret_token) = match scenario.auth.token {
        TokenKind::Valid => (projected(audience), None),
        TokenKind::WrongAudience => (projected(other), None),
        kind => (
            serde_json::json!({"name": volume, "secret": {"secretName": TOKEN_SECRET,
                "items": [{"key": "token", "path": file}]}}),
            token(oidc_keys, subject, scenario.auth.mode, kind),
        ),
    };
    let token_file = format!("{dir}/{file}");
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: &str| env.insert(k.to_string(), v.to_string());
    match scenario.auth.mode {
        AuthMode::Irsa => {
            set("AWS_ROLE_ARN", role_arn);
            set("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file);
        }
        _ => {
            set("AWS_CONTAINER_CREDENTIALS_FULL_URI", AGENT_URL);
            set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file);
        }
    }
    set("AWS_STS_REGIONAL_ENDPOINTS", "regional");
    set("AWS_REGION", world::REGION);
    set("AWS_DEFAULT_REGION", world::REGION);
    let injection = Injection {
        mode: match scenario.auth.mode {
            AuthMode::Irsa => "irsa".into(),
            _ => "pod-identity".into(),
        },
        env,
        volume,
        mount_path: dir.to_string(),
    };
    Some((injection, secret_token))
}
