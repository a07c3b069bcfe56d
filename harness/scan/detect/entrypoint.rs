//! The controller's entrypoint lookups: images without `command`, their registry, the pull
//! secrets and the controller identity the lookup uses.

use super::Detector;
use super::{Registry, classify, registry_host};
use crate::scan::identity::{self, Ambient};
use crate::scan::workflows::WorkflowUse;
use crate::scan::{Names, Setup};
use crate::scenario::{AuthMode, Component};
use serde_json::Value;

impl Detector<'_> {
    /// The controller ConfigMap's `images:` index (empty when it has none).
    fn images_index(&self) -> serde_json::Map<String, Value> {
        let images = self.c.config.get("images").and_then(Value::as_object);
        images.cloned().unwrap_or_default()
    }

    /// The controller's entrypoint lookups: command-less containers not in the `images:` index.
    pub(super) fn entrypoints(&mut self, u: &WorkflowUse) {
        let index = self.images_index();
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
    pub(super) fn image_index(&mut self) {
        let at = self
            .c
            .configmap
            .clone()
            .unwrap_or_else(|| self.c.configmap_name.clone());
        let index = self.images_index();
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

    pub(super) fn pull_secret_states(&mut self, u: &WorkflowUse) -> PullSecrets {
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
            .map(crate::scan::workflows::names)
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
}

#[derive(Default)]
pub(super) struct PullSecrets {
    pub(super) workflow_present: bool,
    pub(super) workflow_missing: Vec<String>,
    pub(super) sa_present: bool,
    pub(super) any: bool,
    pub(super) unknown: bool,
    pub(super) evidence: Vec<String>,
}
