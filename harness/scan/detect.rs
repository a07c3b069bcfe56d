//! From what was read to setups: each a component of Argo exercised in one way, the evidence for
//! it, and the catalogue scenario that describes it (by id: what that scenario expects stays in
//! its file).

use super::controller::Controller;
use super::identity::{self, Ambient};
use super::objects::Inventory;
use super::repos;
use super::workflows::{Found, WorkflowUse};
use super::{Gap, Names, Setup};
use crate::scenario::{AuthMode, Component};
use serde_json::Value;

/// Where an image's registry stands for the entrypoint lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registry {
    EcrPrivate,
    EcrPublic,
    /// Docker Hub (no host, or docker.io): anonymous pulls work.
    DockerHub,
    /// Any other host, taken as private.
    Other,
}

pub fn registry_host(image: &str) -> String {
    match image.split_once('/') {
        Some((host, _)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            host.to_string()
        }
        _ => "docker.io".into(),
    }
}

pub fn classify(image: &str) -> Registry {
    let host = registry_host(image);
    let ecr = regex::Regex::new(r"^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
        .expect("valid regex");
    match host.as_str() {
        h if ecr.is_match(h) => Registry::EcrPrivate,
        "public.ecr.aws" => Registry::EcrPublic,
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => Registry::DockerHub,
        _ => Registry::Other,
    }
}

/// Every setup the inventory shows, deduplicated, plus the gaps found while judging them.
pub fn setups(inv: &Inventory, c: &Controller, uses: &[WorkflowUse]) -> (Vec<Setup>, Vec<Gap>) {
    let mut d = Detector {
        inv,
        c,
        setups: vec![],
        gaps: vec![],
    };
    for u in uses {
        d.s3(u);
        d.entrypoints(u);
        d.kubelet_pulls(u);
        d.host_paths(u);
        d.executor_rbac(u);
    }
    d.image_index();
    (d.setups, d.gaps)
}

struct Detector<'a> {
    inv: &'a Inventory,
    c: &'a Controller,
    setups: Vec<Setup>,
    gaps: Vec<Gap>,
}

/// Whether a Secret exists: `Some(keys)`, `None` when absent, `Err` when it cannot be known.
type SecretState = Result<Option<Vec<String>>, String>;

impl Detector<'_> {
    fn add(&mut self, s: Setup) {
        let same = self.setups.iter_mut().find(|o| {
            o.component == s.component
                && o.corresponds_to == s.corresponds_to
                && o.summary == s.summary
                && o.names == s.names
        });
        match same {
            Some(o) => {
                for e in s.evidence {
                    if !o.evidence.contains(&e) {
                        o.evidence.push(e);
                    }
                }
            }
            None => self.setups.push(s),
        }
    }

    fn gap(&mut self, what: String, why: String, unknown: &str) {
        if self.gaps.iter().any(|g| g.what == what) {
            return;
        }
        self.gaps.push(Gap {
            what,
            why,
            unknown: vec![unknown.to_string()],
        });
    }

    fn secret(&self, ns: &str, name: &str) -> SecretState {
        match self.inv.get("Secret", ns, name) {
            Some(s) => Ok(Some(
                s.value["keys"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect(),
            )),
            None if self.inv.listed("Secret", ns) => Ok(None),
            None => Err(format!("Secrets in {ns} could not be read")),
        }
    }

    /// The executor's S3 access, for the workflow's pod ServiceAccounts.
    fn s3(&mut self, u: &WorkflowUse) {
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

    fn s3_setup(&mut self, u: &WorkflowUse, r: &repos::Repo, sa: &Found<String>, used: &str) {
        let s3 = &r.s3;
        let endpoint = s3
            .get("endpoint")
            .and_then(Value::as_str)
            .unwrap_or("s3.amazonaws.com");
        let aws = endpoint.contains("amazonaws.com");
        let field = |f: &str| s3.get(f).filter(|v| !v.is_null());
        let mut evidence = vec![used.to_string(), r.evidence.clone()];
        let mut summary;
        let mut auth = AuthMode::None;
        let corresponds = if let Some(access) = field("accessKeySecret") {
            let name = access.get("name").and_then(Value::as_str).unwrap_or("");
            let key = access.get("key").and_then(Value::as_str).unwrap_or("");
            evidence.push(format!(
                "{}.accessKeySecret -> secret {name:?} key {key:?}",
                r.evidence
            ));
            summary = format!(
                "S3 artifacts ({}) with static keys from a Secret",
                endpoint_kind(aws)
            );
            match self.secret(&u.namespace, name) {
                Ok(None) => {
                    evidence.push(format!(
                        "{}/Secret/{name}: {}",
                        u.namespace,
                        self.inv.absence_wording()
                    ));
                    summary.push_str(" that is missing");
                    Some("s3-missing-key-secret")
                }
                Ok(Some(keys)) if !keys.iter().any(|k| k == key) => {
                    evidence.push(format!(
                        "{}/Secret/{name}: keys {keys:?}, no {key:?}",
                        u.namespace
                    ));
                    summary.push_str(" that lacks the key");
                    Some("s3-secret-missing-key")
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
                        true => Some("s3-static-keys"),
                        false => Some("minio-static-keys"),
                    }
                }
            }
        } else {
            let sdk = field("useSDKCreds").and_then(Value::as_bool) == Some(true);
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
            summary = format!("S3 artifacts ({}) with {chain}", endpoint_kind(aws));
            match (&who, sdk, aws) {
                (Ambient::Irsa(e), _, true) => {
                    auth = AuthMode::Irsa;
                    evidence.extend(e.clone());
                    summary.push_str(" under IRSA");
                    Some(if sdk {
                        "s3-irsa-sdk-creds"
                    } else {
                        "s3-irsa-default-iam"
                    })
                }
                (Ambient::PodIdentity(e), _, true) => {
                    auth = AuthMode::PodIdentity;
                    evidence.extend(e.clone());
                    summary.push_str(" under EKS Pod Identity");
                    Some(if sdk {
                        "s3-pod-identity-sdk-creds"
                    } else {
                        "s3-pod-identity-default-iam"
                    })
                }
                (Ambient::Unknown(why), _, _) => {
                    self.gap(
                        format!("identity of {}/ServiceAccount/{}", u.namespace, sa.value),
                        why.clone(),
                        "the S3 setup's identity",
                    );
                    summary.push_str(", identity unknown");
                    None
                }
                (Ambient::None(e), _, _) => {
                    evidence.push(e.clone());
                    summary.push_str(" and no IRSA or Pod Identity seen (node role?)");
                    None
                }
                _ => None,
            }
        };
        if let Some(role) = field("roleARN").and_then(Value::as_str) {
            evidence.push(format!("{}.roleARN={role}", r.evidence));
            summary.push_str(", assuming roleARN");
        }
        // No catalogue scenario assumes a role on top: what the matrix measured does not apply.
        let corresponds = corresponds.filter(|_| field("roleARN").is_none());
        self.add(Setup {
            summary,
            component: Component::ExecutorS3,
            corresponds_to: corresponds.map(str::to_string),
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

    /// The controller's entrypoint lookups: command-less containers not in the `images:` index.
    fn entrypoints(&mut self, u: &WorkflowUse) {
        let index = self
            .c
            .config
            .get("images")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for cl in &u.command_less {
            if index.contains_key(&cl.image) {
                continue;
            }
            let registry = classify(&cl.image);
            let mut evidence = vec![cl.evidence.clone(), u.service_account.evidence.clone()];
            let mut pulls = self.pull_secret_states(u);
            let wf_missing: Vec<String> = pulls.workflow_missing.clone();
            evidence.append(&mut pulls.evidence);
            let mut auth = AuthMode::None;
            let (summary, corresponds) = match registry {
                Registry::EcrPrivate if pulls.workflow_present => (
                    "lookup of a private ECR image with the workflow's pull secret".to_string(),
                    Some("ecr-pull-secret-entrypoint"),
                ),
                Registry::EcrPrivate => match identity::of_controller(self.inv, self.c) {
                    Ambient::Irsa(e) => {
                        evidence.extend(e);
                        auth = AuthMode::Irsa;
                        ("lookup of a private ECR image as the controller's IRSA role".into(), Some("ecr-irsa-entrypoint"))
                    }
                    Ambient::PodIdentity(e) => {
                        evidence.extend(e);
                        auth = AuthMode::PodIdentity;
                        ("lookup of a private ECR image as the controller's Pod Identity".into(), Some("ecr-pod-identity-entrypoint"))
                    }
                    Ambient::None(e) => {
                        evidence.push(e);
                        ("lookup of a private ECR image with no controller identity seen".into(), None)
                    }
                    Ambient::Unknown(why) => {
                        self.gap("the controller's identity".into(), why, "ECR entrypoint lookups");
                        ("lookup of a private ECR image, controller identity unknown".into(), None)
                    }
                },
                Registry::EcrPublic if !pulls.any => (
                    "anonymous lookup of a public.ecr.aws image".into(),
                    Some("ecr-public-anonymous-entrypoint"),
                ),
                Registry::EcrPublic => ("lookup of a public.ecr.aws image with pull secrets (fresh or stale: not visible)".into(), None),
                Registry::DockerHub => ("lookup of a Docker Hub image".into(), None),
                Registry::Other if !wf_missing.is_empty() && pulls.sa_present => (
                    "private registry lookup: the workflow names a missing pull secret, the ServiceAccount has one".into(),
                    Some("basic-missing-secret-ref"),
                ),
                Registry::Other if pulls.workflow_present => (
                    "private registry lookup with the workflow's pull secret".into(),
                    Some("basic-pull-secret-entrypoint"),
                ),
                Registry::Other if pulls.sa_present => (
                    "private registry lookup with the ServiceAccount's pull secret".into(),
                    Some("basic-sa-pull-secret-entrypoint"),
                ),
                Registry::Other if !pulls.unknown => (
                    "private registry lookup with no pull secret".into(),
                    Some("basic-no-secret-entrypoint"),
                ),
                Registry::Other => ("private registry lookup, pull secrets unknown".into(), None),
            };
            self.add(Setup {
                summary,
                component: Component::ControllerEntrypoint,
                corresponds_to: corresponds.map(str::to_string),
                evidence,
                names: Names {
                    namespace: u.namespace.clone(),
                    service_account: Some(u.service_account.value.clone()),
                    image: Some(cl.image.clone()),
                    registry: Some(registry_host(&cl.image)),
                    pull_secrets: u.pull_secrets.iter().map(|p| p.value.clone()).collect(),
                    ..Default::default()
                },
                auth,
                ..Default::default()
            });
        }
    }

    /// ECR images the `images:` index covers: the lookup never reaches the registry.
    fn image_index(&mut self) {
        let at = self
            .c
            .configmap
            .clone()
            .unwrap_or_else(|| self.c.configmap_name.clone());
        let index = self
            .c
            .config
            .get("images")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for image in index.keys().filter(|i| classify(i) == Registry::EcrPrivate) {
            self.add(Setup {
                summary: "private ECR image whose command the controller's images index holds"
                    .into(),
                component: Component::ControllerEntrypoint,
                corresponds_to: Some("ecr-irsa-image-index".into()),
                evidence: vec![format!("{at}: images[{image:?}]")],
                names: Names {
                    namespace: self.c.namespace.clone(),
                    image: Some(image.clone()),
                    registry: Some(registry_host(image)),
                    ..Default::default()
                },
                auth: AuthMode::Irsa,
                ..Default::default()
            });
        }
    }

    fn pull_secret_states(&mut self, u: &WorkflowUse) -> PullSecrets {
        let mut p = PullSecrets::default();
        for s in &u.pull_secrets {
            match self.secret(&u.namespace, &s.value) {
                Ok(Some(_)) => {
                    p.workflow_present = true;
                    p.evidence.push(format!("{} (exists)", s.evidence));
                }
                Ok(None) => {
                    p.workflow_missing.push(s.value.clone());
                    p.evidence.push(format!(
                        "{} -> {}/Secret/{}: {}",
                        s.evidence,
                        u.namespace,
                        s.value,
                        self.inv.absence_wording()
                    ));
                }
                Err(why) => {
                    p.unknown = true;
                    self.gap(
                        format!("Secret {} in {}", s.value, u.namespace),
                        why,
                        "whether pull secrets exist",
                    );
                }
            }
        }
        let sa = self
            .inv
            .get("ServiceAccount", &u.namespace, &u.service_account.value);
        let sa_secrets = sa
            .and_then(|o| o.at("/imagePullSecrets"))
            .map(super::workflows::names)
            .unwrap_or_default();
        for name in sa_secrets {
            let at = format!(
                "{}/ServiceAccount/{}: imagePullSecrets[name={name}]",
                u.namespace, u.service_account.value
            );
            match self.secret(&u.namespace, &name) {
                Ok(Some(_)) => {
                    p.sa_present = true;
                    p.evidence.push(format!("{at} (exists)"));
                }
                Ok(None) => p
                    .evidence
                    .push(format!("{at} -> {}", self.inv.absence_wording())),
                Err(_) => p.unknown = true,
            }
        }
        p.any = !u.pull_secrets.is_empty() || p.sa_present;
        p
    }

    /// The kubelet's pulls: a workflow naming a pull secret that is gone; a ServiceAccount's
    /// pull secret that exists.
    fn kubelet_pulls(&mut self, u: &WorkflowUse) {
        let p = self.pull_secret_states(u);
        let names = |ps: Vec<String>| Names {
            namespace: u.namespace.clone(),
            service_account: Some(u.service_account.value.clone()),
            pull_secrets: ps,
            ..Default::default()
        };
        if !p.workflow_missing.is_empty() {
            let evidence = p
                .evidence
                .iter()
                .filter(|e| e.contains("spec.imagePullSecrets") || e.contains(".imagePullSecrets["))
                .cloned()
                .collect();
            self.add(Setup {
                summary: "pods name a pull secret that is missing".into(),
                component: Component::Node,
                corresponds_to: Some("kubelet-pull-missing-secret".into()),
                evidence,
                names: names(p.workflow_missing.clone()),
                ..Default::default()
            });
        }
        if p.sa_present {
            let evidence: Vec<String> = p
                .evidence
                .iter()
                .filter(|e| e.contains("/ServiceAccount/"))
                .cloned()
                .collect();
            self.add(Setup {
                summary: "pods pull with their ServiceAccount's pull secret".into(),
                component: Component::Node,
                corresponds_to: Some("kubelet-pull-sa-secret".into()),
                evidence: [vec![u.service_account.evidence.clone()], evidence].concat(),
                names: names(vec![]),
                ..Default::default()
            });
        }
    }

    fn host_paths(&mut self, u: &WorkflowUse) {
        for h in &u.host_paths {
            let mut evidence = vec![h.evidence.clone()];
            let corresponds = u.non_root.clone().map(|e| {
                evidence.push(e);
                "hostpath-not-writable".to_string()
            });
            let summary = match corresponds {
                Some(_) => "non-root pods write to a hostPath volume",
                None => "pods mount a hostPath volume",
            };
            self.add(Setup {
                summary: summary.into(),
                component: Component::Node,
                corresponds_to: corresponds,
                evidence,
                names: Names {
                    namespace: u.namespace.clone(),
                    service_account: Some(u.service_account.value.clone()),
                    ..Default::default()
                },
                ..Default::default()
            });
        }
    }

    /// The executor's RBAC: since v3.6 it must create/patch `workflowtaskresults`; the legacy
    /// pods/patch fallback is gone.
    fn executor_rbac(&mut self, u: &WorkflowUse) {
        let sa = &u.service_account.value;
        let ns = &u.namespace;
        if !self.inv.listed("RoleBinding", ns)
            || (matches!(self.inv.readable, super::objects::Readable::Manifests)
                && self.inv.of_kind("RoleBinding").next().is_none())
        {
            self.gap(
                format!("RBAC of {ns}/ServiceAccount/{sa}"),
                format!(
                    "RoleBindings in {ns} were not {}",
                    match self.inv.readable {
                        super::objects::Readable::Manifests => "in the manifests",
                        _ => "readable",
                    }
                ),
                "whether the executor may create workflowtaskresults",
            );
            return;
        }
        let rules = super::rbac::rules_for(self.inv, ns, sa);
        let grants =
            |res: &str, verb: &str| rules.iter().any(|(_, r)| super::rbac::allows(r, res, verb));
        if grants("workflowtaskresults", "create") && grants("workflowtaskresults", "patch") {
            return;
        }
        let mut evidence: Vec<String> = rules.iter().map(|(e, _)| e.clone()).collect();
        evidence.insert(0, u.service_account.evidence.clone());
        evidence.push(format!(
            "no rule bound to {ns}/ServiceAccount/{sa} grants workflowtaskresults create+patch"
        ));
        let legacy = grants("pods", "patch");
        self.add(Setup {
            summary: match legacy {
                true => "executor has the legacy pods/patch RBAC but no workflowtaskresults",
                false => "executor has no workflowtaskresults RBAC",
            }
            .into(),
            component: Component::Node,
            corresponds_to: legacy.then(|| "executor-rbac-missing-taskresults".into()),
            evidence,
            names: Names {
                namespace: ns.clone(),
                service_account: Some(sa.clone()),
                ..Default::default()
            },
            ..Default::default()
        });
    }
}

fn endpoint_kind(aws: bool) -> &'static str {
    match aws {
        true => "AWS S3",
        false => "S3-compatible, not AWS",
    }
}

#[derive(Default)]
struct PullSecrets {
    workflow_present: bool,
    workflow_missing: Vec<String>,
    sa_present: bool,
    any: bool,
    unknown: bool,
    evidence: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries() {
        assert_eq!(
            classify("123456789012.dkr.ecr.eu-west-1.amazonaws.com/a/b:1"),
            Registry::EcrPrivate
        );
        assert_eq!(
            classify("public.ecr.aws/docker/library/busybox"),
            Registry::EcrPublic
        );
        assert_eq!(classify("busybox:1"), Registry::DockerHub);
        assert_eq!(
            classify("registry.example.internal/team/app:1.0"),
            Registry::Other
        );
    }
}
