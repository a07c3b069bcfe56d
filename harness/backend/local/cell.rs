//! One cell on the local backend: the pod's environment and inputs for a scenario, and what the
//! probe's answer means.

use super::network::{AGENT_URL, ECR_REGISTRY_HOST};
use super::sandbox_child::{SEEDED_CMD, SEEDED_ENTRYPOINT};
use crate::backend::{Evidence, ObservedOutcome};
use crate::fakes::moto::SeedObject;
use crate::fakes::oidc::{self, IRSA_AUDIENCE, OidcKeys, POD_IDENTITY_AUDIENCE};
use crate::fakes::{issuer::AccessKey, world};
use crate::scenario::{AuthMode, Component, Scenario, TokenKind};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// Bound Argo's artifact retries (workflow/executor/retry: `EXECUTOR_RETRY_BACKOFF_*`) to one
/// attempt, so a failing cell fails in seconds rather than after 5 steps of 1 s × 1.6ⁿ, each with the
/// SDK's own retries inside. Outcomes do not depend on it: a credential error fails every attempt.
const RETRY_ENV: &[(&str, &str)] = &[("EXECUTOR_RETRY_BACKOFF_STEPS", "1")];

/// The object every S3 scenario's artifact points at, with content derived from its location.
pub fn seed_object(scenario: &Scenario) -> Option<SeedObject> {
    let s3 = scenario.artifact.get("s3")?;
    let bucket = s3.get("bucket")?.as_str()?.to_string();
    let key = s3.get("key")?.as_str()?.to_string();
    let body = format!("authmatrix test object s3://{bucket}/{key}\n");
    Some(SeedObject { bucket, key, body })
}

/// The projected service-account token for the scenario, as the kubelet would write it.
pub fn token(oidc_keys: &OidcKeys, mode: AuthMode, kind: TokenKind) -> Option<String> {
    let (audience, other) = match mode {
        AuthMode::None => return None,
        AuthMode::Irsa => (IRSA_AUDIENCE, POD_IDENTITY_AUDIENCE),
        AuthMode::PodIdentity => (POD_IDENTITY_AUDIENCE, IRSA_AUDIENCE),
    };
    let now = oidc::now();
    let mint = |aud: &str, nbf: i64, exp: i64| {
        oidc_keys.mint(world::NAMESPACE, world::SERVICE_ACCOUNT, aud, nbf, exp)
    };
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

/// The artifact as the probe receives it: Argo requires a name.
pub fn artifact(scenario: &Scenario) -> serde_json::Value {
    let mut art = scenario.artifact.clone();
    if let Some(obj) = art.as_object_mut() {
        obj.entry("name").or_insert_with(|| "input".into());
    }
    art
}

/// What the fake cloud issued this run, for `${cloud.NAME}` placeholders.
pub struct CloudValues {
    pub static_key: AccessKey,
    pub ecr_token: String,
    pub ecr_expired_token: String,
    pub registry_user: String,
    pub registry_password: String,
}

impl CloudValues {
    pub fn resolve(&self, value: &str) -> String {
        value
            .replace("${cloud.staticAccessKeyId}", &self.static_key.access_key_id)
            .replace(
                "${cloud.staticSecretAccessKey}",
                &self.static_key.secret_access_key,
            )
            .replace("${cloud.ecrToken}", &self.ecr_token)
            .replace("${cloud.ecrExpiredToken}", &self.ecr_expired_token)
            .replace("${cloud.registryUsername}", &self.registry_user)
            .replace("${cloud.registryPassword}", &self.registry_password)
    }
}

/// What a passing cell must have produced.
pub enum Expected {
    /// executor-s3: the artifact's bytes.
    Body(String),
    /// controller-entrypoint: the entrypoint and cmd the lookup returns.
    Image {
        entrypoint: Vec<String>,
        cmd: Vec<String>,
    },
}

/// The probe's request for a scenario, and what success looks like.
pub fn request(
    scenario: &Scenario,
    cell_dir: &Path,
    cloud: &CloudValues,
) -> Result<(serde_json::Value, Expected), String> {
    match &scenario.entrypoint {
        None => {
            let seed =
                seed_object(scenario).ok_or("the scenario's artifact has no s3 bucket/key")?;
            let secrets: BTreeMap<&String, BTreeMap<&String, String>> = scenario
                .secrets
                .iter()
                .map(|(name, keys)| {
                    (
                        name,
                        keys.iter().map(|(k, v)| (k, cloud.resolve(v))).collect(),
                    )
                })
                .collect();
            let request = serde_json::json!({ "artifact": artifact(scenario), "secrets": secrets, "workDir": cell_dir });
            Ok((request, Expected::Body(seed.body)))
        }
        Some(ep) => {
            let secrets: Vec<serde_json::Value> = ep
                .kubernetes
                .pull_secrets
                .iter()
                .map(|(name, s)| {
                    use base64::Engine;
                    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", cloud.resolve(&s.username), cloud.resolve(&s.password)));
                    let config = serde_json::json!({"auths": {s.registry.clone(): {"auth": auth}}});
                    serde_json::json!({"name": name, "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": config.to_string()}})
                })
                .collect();
            let request = serde_json::json!({
                "mode": "lookup",
                "image": ep.workflow.image,
                "namespace": world::NAMESPACE,
                "serviceAccountName": ep.workflow.service_account_name.clone().unwrap_or_default(),
                "imagePullSecrets": ep.workflow.image_pull_secrets,
                "serviceAccounts": ep.kubernetes.service_accounts,
                "secrets": secrets,
                "images": ep.controller.images,
            });
            let expected = match ep.controller.images.get(&ep.workflow.image) {
                Some(entry) => Expected::Image {
                    entrypoint: entry.entrypoint.clone(),
                    cmd: entry.cmd.clone(),
                },
                None => Expected::Image {
                    entrypoint: SEEDED_ENTRYPOINT.iter().map(|s| s.to_string()).collect(),
                    cmd: SEEDED_CMD.iter().map(|s| s.to_string()).collect(),
                },
            };
            Ok((request, expected))
        }
    }
}

/// For an image on the ECR registry: the credential-helper probe's request.
pub fn ecr_helper_request(scenario: &Scenario) -> Option<serde_json::Value> {
    let image = &scenario.entrypoint.as_ref()?.workflow.image;
    let host = image.split('/').next()?;
    (host == ECR_REGISTRY_HOST).then(|| serde_json::json!({"mode": "ecr-helper", "registry": host}))
}

/// The probe's answer (probes/s3/main.go `result`).
#[derive(Deserialize)]
pub struct ProbeResult {
    pub stage: String,
    pub ok: bool,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub bytes: usize,
    #[serde(default)]
    pub sha256: String,
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
}

/// Turns the probe's answer into an outcome. Success with other content than the fake cloud holds
/// (other bytes, another entrypoint) is a failure, not a pass.
pub fn judge(
    result: Option<ProbeResult>,
    expected: &Expected,
    evidence: &mut Evidence,
    run_problem: Option<String>,
) -> (ObservedOutcome, String) {
    if let Some(problem) = run_problem {
        return (ObservedOutcome::Error, problem);
    }
    let Some(r) = result else {
        return (
            ObservedOutcome::Error,
            format!(
                "the probe wrote no result (exit code {:?})",
                evidence.exit_code
            ),
        );
    };
    evidence.stage = Some(r.stage.clone());
    if r.stage == "decode" {
        return (
            ObservedOutcome::Error,
            format!(
                "the scenario's input did not decode in Argo's schema: {}",
                r.error
            ),
        );
    }
    if !r.ok {
        return (ObservedOutcome::Fail, r.error);
    }
    match expected {
        Expected::Body(body) => {
            let want = hex::encode(Sha256::digest(body.as_bytes()));
            if r.sha256 == want {
                (
                    ObservedOutcome::Pass,
                    format!("loaded {} bytes, identical to the seeded object", r.bytes),
                )
            } else {
                (
                    ObservedOutcome::Fail,
                    format!(
                        "loaded {} bytes that differ from the seeded object (sha256 {})",
                        r.bytes, r.sha256
                    ),
                )
            }
        }
        Expected::Image { entrypoint, cmd } => {
            if &r.entrypoint == entrypoint && &r.cmd == cmd {
                (
                    ObservedOutcome::Pass,
                    format!("entrypoint {:?}, cmd {:?}", r.entrypoint, r.cmd),
                )
            } else {
                (
                    ObservedOutcome::Fail,
                    format!(
                        "the lookup returned entrypoint {:?} and cmd {:?}, the image has {entrypoint:?} and {cmd:?}",
                        r.entrypoint, r.cmd
                    ),
                )
            }
        }
    }
}
