//! The executor's S3 access: which repository, which credentials, whose identity.

use super::Detector;
use crate::scan::identity::{self, Ambient};
use crate::scan::repos;
use crate::scan::workflows::{Found, WorkflowUse};
use crate::scan::{Names, Setup};
use crate::scenario::{AuthMode, Component};
use serde_json::Value;

impl Detector<'_> {
    /// The executor's S3 access, for the workflow's pod ServiceAccounts.
    pub(super) fn s3(&mut self, u: &WorkflowUse) {
        let archive =
            self.c.config.pointer("/artifactRepository/archiveLogs") == Some(&Value::Bool(true));
        if u.has_artifacts.is_none() && !archive && u.inline_s3.is_empty() {
            return;
        }
        let mut repos: Vec<repos::Repo> = u
            .inline_s3
            .iter()
            .map(|s| repos::Repo {
                s3: s.s3.clone(),
                evidence: s.evidence.clone(),
            })
            .collect();
        match repos::resolve(self.inv, self.c, u) {
            Ok(Some(r)) => repos.push(r),
            Ok(None) => {}
            Err(why) => self.gap(
                format!("artifact repository of {}", u.object),
                why,
                "its S3 setup",
            ),
        }
        let used = u.has_artifacts.clone().unwrap_or_else(|| {
            format!(
                "{}: logs archived (artifactRepository.archiveLogs=true)",
                u.object
            )
        });
        let mut sas = vec![u.service_account.clone()];
        sas.extend(u.template_service_accounts.iter().cloned());
        for r in &repos {
            for sa in &sas {
                self.s3_setup(u, r, sa, &used);
            }
        }
    }

    /// One setup: repository `r` used by the workflow's pods under ServiceAccount `sa`.
    pub(super) fn s3_setup(
        &mut self,
        u: &WorkflowUse,
        r: &repos::Repo,
        sa: &Found<String>,
        used: &str,
    ) {
        let s3 = &r.s3;
        let endpoint = s3
            .get("endpoint")
            .and_then(Value::as_str)
            .unwrap_or("s3.amazonaws.com");
        let aws = endpoint.contains("amazonaws.com");
        let mut evidence = vec![used.to_string(), r.evidence.clone()];
        let Credentials {
            mut summary,
            auth,
            scenario,
        } = match field(s3, "accessKeySecret") {
            Some(access) => self.static_keys(u, r, access, aws, &mut evidence),
            None => self.ambient_credentials(u, r, sa, aws, &mut evidence),
        };
        let role = field(s3, "roleARN");
        if let Some(role) = role.and_then(Value::as_str) {
            evidence.push(format!("{}.roleARN={role}", r.evidence));
            summary.push_str(", assuming roleARN");
        }
        // No catalogue scenario assumes a role on top: what the matrix measured does not apply.
        let scenario = scenario.filter(|_| role.is_none());
        self.add(Setup {
            summary,
            component: Component::ExecutorS3,
            corresponds_to: scenario.map(str::to_string),
            evidence,
            names: Names {
                namespace: u.namespace.clone(),
                service_account: Some(sa.value.clone()),
                bucket: s3.get("bucket").and_then(Value::as_str).map(str::to_string),
                ..Default::default()
            },
            auth,
            s3: Some(s3.clone()),
            ..Default::default()
        });
    }

    /// Static keys from the Secret `accessKeySecret` names: whether it exists and holds the key.
    fn static_keys(
        &mut self,
        u: &WorkflowUse,
        r: &repos::Repo,
        access: &Value,
        aws: bool,
        evidence: &mut Vec<String>,
    ) -> Credentials {
        let name = access.get("name").and_then(Value::as_str).unwrap_or("");
        let key = access.get("key").and_then(Value::as_str).unwrap_or("");
        evidence.push(format!(
            "{}.accessKeySecret -> secret {name:?} key {key:?}",
            r.evidence
        ));
        let mut summary = format!(
            "S3 artifacts ({}) with static keys from a Secret",
            endpoint_kind(aws)
        );
        let scenario = match self.secret(&u.namespace, name) {
            Ok(None) => {
                evidence.push(format!(
                    "{}/Secret/{name}: {}",
                    u.namespace,
                    self.inv.absence_wording()
                ));
                summary.push_str(" that is missing");
                "s3-missing-key-secret"
            }
            Ok(Some(keys)) if !keys.iter().any(|k| k == key) => {
                evidence.push(format!(
                    "{}/Secret/{name}: keys {keys:?}, no {key:?}",
                    u.namespace
                ));
                summary.push_str(" that lacks the key");
                "s3-secret-missing-key"
            }
            state => {
                if let Ok(Some(keys)) = &state {
                    evidence.push(format!(
                        "{}/Secret/{name}: exists, keys {keys:?}",
                        u.namespace
                    ));
                }
                if let Err(why) = state {
                    self.gap(
                        format!("Secret {name} in {}", u.namespace),
                        why,
                        "whether the static-key Secret exists",
                    );
                }
                match aws {
                    true => "s3-static-keys",
                    false => "minio-static-keys",
                }
            }
        };
        Credentials {
            summary,
            auth: AuthMode::None,
            scenario: Some(scenario),
        }
    }

    /// No keys: the SDK's chain (`useSDKCreds`) or minio-go's IAM chain, under whatever identity
    /// the pods of `sa` get (IRSA, Pod Identity, none seen, or unknown).
    fn ambient_credentials(
        &mut self,
        u: &WorkflowUse,
        r: &repos::Repo,
        sa: &Found<String>,
        aws: bool,
        evidence: &mut Vec<String>,
    ) -> Credentials {
        let sdk = field(&r.s3, "useSDKCreds").and_then(Value::as_bool) == Some(true);
        let chain = match sdk {
            true => {
                evidence.push(format!("{}.useSDKCreds=true", r.evidence));
                "the SDK default chain (useSDKCreds)"
            }
            false => "no keys and no useSDKCreds (minio-go IAM chain)",
        };
        let executor_env = identity::executor_env(self.c);
        let who = identity::of_pods(self.inv, &u.namespace, &sa.value, &executor_env);
        evidence.push(sa.evidence.clone());
        if let Some(e) = &u.executor_service_account {
            // The web-identity and Pod Identity webhooks key off the pod's ServiceAccount.
            evidence.push(format!(
                "{} (identity still follows the pod's ServiceAccount)",
                e.evidence
            ));
        }
        let mut found = Credentials {
            summary: format!("S3 artifacts ({}) with {chain}", endpoint_kind(aws)),
            auth: AuthMode::None,
            scenario: None,
        };
        match (who, aws) {
            (Ambient::Irsa(e), true) => {
                found.auth = AuthMode::Irsa;
                evidence.extend(e);
                found.summary.push_str(" under IRSA");
                found.scenario = Some(match sdk {
                    true => "s3-irsa-sdk-creds",
                    false => "s3-irsa-default-iam",
                });
            }
            (Ambient::PodIdentity(e), true) => {
                found.auth = AuthMode::PodIdentity;
                evidence.extend(e);
                found.summary.push_str(" under EKS Pod Identity");
                found.scenario = Some(match sdk {
                    true => "s3-pod-identity-sdk-creds",
                    false => "s3-pod-identity-default-iam",
                });
            }
            (Ambient::Unknown(why), _) => {
                self.gap(
                    format!("identity of {}/ServiceAccount/{}", u.namespace, sa.value),
                    why,
                    "the S3 setup's identity",
                );
                found.summary.push_str(", identity unknown");
            }
            (Ambient::None(e), _) => {
                evidence.push(e);
                found
                    .summary
                    .push_str(" and no IRSA or Pod Identity seen (node role?)");
            }
            // An AWS identity against an endpoint that is not AWS: no catalogue scenario.
            _ => {}
        }
        found
    }
}

/// What one repository's credentials amount to: the setup's summary so far, the identity its
/// pods run under, and the catalogue scenario it corresponds to, if any.
struct Credentials {
    summary: String,
    auth: AuthMode,
    scenario: Option<&'static str>,
}

/// A field of the repository's `s3` settings; an explicit `null` counts as absent.
fn field<'a>(s3: &'a Value, name: &str) -> Option<&'a Value> {
    s3.get(name).filter(|v| !v.is_null())
}

fn endpoint_kind(aws: bool) -> &'static str {
    match aws {
        true => "AWS S3",
        false => "S3-compatible, not AWS",
    }
}
