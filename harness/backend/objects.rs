//! A scenario as Kubernetes objects — the one place where that translation happens.
//!
//! What exists in the workflow's namespace (ServiceAccounts, `kubernetes.io/dockerconfigjson` pull
//! Secrets, key Secrets), the Workflow itself, and the controller's ConfigMap. The local backend
//! hands these objects to its probes (a fake clientset inside Argo's own lookup); the cluster backend
//! creates the very same objects through a real API server.

use crate::builds::images::TEST_IMAGE;
use crate::fakes::issuer::AccessKey;
use crate::fakes::moto::SeedObject;
use crate::fakes::world::{SEEDED_CMD, SEEDED_ENTRYPOINT};
use crate::scenario::{Component, Scenario};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, LocalObjectReference, Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// The name of the controller's ConfigMap (Argo's `common.ConfigMapName`).
pub const CONTROLLER_CONFIGMAP: &str = "workflow-controller-configmap";

/// Where an executor-s3 workflow's input artifact lands in the main container.
const INPUT_PATH: &str = "/tmp/authmatrix/input";

/// What the fake cloud issued this run, for `${cloud.NAME}` placeholders.
pub struct CloudValues {
    pub static_key: AccessKey,
    pub ecr_token: String,
    pub ecr_expired_token: String,
    pub registry_user: String,
    pub registry_password: String,
    pub minio_root_user: String,
    pub minio_root_password: String,
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
            .replace("${cloud.minioRootUser}", &self.minio_root_user)
            .replace("${cloud.minioRootPassword}", &self.minio_root_password)
    }
}

/// Everything a scenario puts into its namespace, in creation order.
#[derive(Clone, Debug)]
pub struct Objects {
    pub namespace: String,
    pub service_accounts: Vec<ServiceAccount>,
    pub secrets: Vec<Secret>,
    /// Roles and RoleBindings for the workflow's ServiceAccount (what its executor may do).
    pub rbac: Vec<serde_json::Value>,
    /// `argoproj.io/v1alpha1` Workflow (a custom resource: plain JSON).
    pub workflow: serde_json::Value,
}

/// The scenario's objects in `namespace`, with `${cloud.*}` placeholders resolved.
pub fn objects(scenario: &Scenario, namespace: &str, cloud: &CloudValues) -> Objects {
    let meta = |name: &str| ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        ..Default::default()
    };
    let refs = |names: &[String]| -> Option<Vec<LocalObjectReference>> {
        (!names.is_empty()).then(|| {
            names
                .iter()
                .map(|n| LocalObjectReference { name: n.clone() })
                .collect()
        })
    };
    let mut service_accounts = Vec::new();
    let mut secrets = Vec::new();
    if let Some(ep) = &scenario.entrypoint {
        for sa in &ep.kubernetes.service_accounts {
            service_accounts.push(ServiceAccount {
                metadata: meta(&sa.name),
                image_pull_secrets: refs(&sa.image_pull_secrets),
                ..Default::default()
            });
        }
        for (name, s) in &ep.kubernetes.pull_secrets {
            use base64::Engine;
            let auth = base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                cloud.resolve(&s.username),
                cloud.resolve(&s.password)
            ));
            let config = serde_json::json!({"auths": {s.registry.clone(): {"auth": auth}}});
            secrets.push(Secret {
                metadata: meta(name),
                type_: Some("kubernetes.io/dockerconfigjson".into()),
                data: Some(BTreeMap::from([(
                    ".dockerconfigjson".to_string(),
                    ByteString(config.to_string().into_bytes()),
                )])),
                ..Default::default()
            });
        }
    }
    for (name, keys) in &scenario.secrets {
        secrets.push(Secret {
            metadata: meta(name),
            type_: Some("Opaque".into()),
            data: Some(
                keys.iter()
                    .map(|(k, v)| (k.clone(), ByteString(cloud.resolve(v).into_bytes())))
                    .collect(),
            ),
            ..Default::default()
        });
    }
    Objects {
        namespace: namespace.to_string(),
        service_accounts,
        secrets,
        rbac: executor_rbac(scenario, namespace),
        workflow: workflow(scenario, namespace),
    }
}

impl Objects {
    /// Every secret value the scenario puts into the namespace, as the redactor must know it: each
    /// Secret value, its base64 (the form Kubernetes objects carry), and a pull secret's `auth` and
    /// password.
    pub fn secret_values(&self) -> Vec<String> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut out = Vec::new();
        for data in self.secrets.iter().filter_map(|s| s.data.as_ref()) {
            for value in data.values() {
                let text = String::from_utf8_lossy(&value.0).into_owned();
                out.push(b64.encode(&value.0));
                let config: Option<serde_json::Value> = serde_json::from_str(&text).ok();
                let auths = config
                    .as_ref()
                    .and_then(|c| c["auths"].as_object())
                    .into_iter()
                    .flatten();
                for auth in auths.filter_map(|(_, a)| a["auth"].as_str()) {
                    out.push(auth.to_string());
                    let decoded = b64.decode(auth).unwrap_or_default();
                    let decoded = String::from_utf8_lossy(&decoded);
                    if let Some((_, password)) = decoded.split_once(':') {
                        out.push(password.to_string());
                    }
                }
                out.push(text);
            }
        }
        out
    }
}

/// The executor's Role, bound to the workflow's ServiceAccount: what Argo's docs give it from
/// v3.4 on (docs/workflow-rbac.md: `workflowtaskresults` create and patch). Only workflows whose
/// pods run need it.
fn executor_rbac(scenario: &Scenario, namespace: &str) -> Vec<serde_json::Value> {
    if scenario.component == Component::ControllerEntrypoint {
        return Vec::new();
    }
    let name = "authmatrix-executor";
    let documented = vec![
        serde_json::json!({"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]}),
    ];
    let rules = scenario
        .entrypoint
        .as_ref()
        .and_then(|ep| ep.kubernetes.executor_rules.clone())
        .unwrap_or(documented);
    let sa = scenario
        .entrypoint
        .as_ref()
        .and_then(|ep| ep.workflow.service_account_name.clone())
        .unwrap_or_else(|| crate::fakes::world::SERVICE_ACCOUNT.to_string());
    vec![
        serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": namespace},
            "rules": rules,
        }),
        serde_json::json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}],
        }),
    ]
}

/// An `Opaque` Secret with these keys.
pub fn opaque_secret(name: &str, namespace: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        },
        type_: Some("Opaque".into()),
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Default::default()
    }
}

/// The Workflow a user would submit for this scenario.
fn workflow(scenario: &Scenario, namespace: &str) -> serde_json::Value {
    let (spec_extra, template) = match &scenario.entrypoint {
        // controller-entrypoint: an image without `command`, whose entrypoint the controller must
        // look up; node: a command, and whatever the pod needs.
        Some(ep) => {
            let mut spec = serde_json::Map::new();
            if let Some(sa) = &ep.workflow.service_account_name {
                spec.insert("serviceAccountName".into(), sa.clone().into());
            }
            if !ep.workflow.image_pull_secrets.is_empty() {
                let refs: Vec<_> = ep
                    .workflow
                    .image_pull_secrets
                    .iter()
                    .map(|n| serde_json::json!({"name": n}))
                    .collect();
                spec.insert("imagePullSecrets".into(), refs.into());
            }
            let w = &ep.workflow;
            let mut container = serde_json::json!({"image": w.image});
            if !w.command.is_empty() {
                container["command"] = w.command.clone().into();
            }
            if !w.volume_mounts.is_empty() {
                container["volumeMounts"] = w.volume_mounts.clone().into();
            }
            if let Some(sc) = &w.security_context {
                spec.insert("securityContext".into(), sc.clone());
            }
            if !w.volumes.is_empty() {
                spec.insert("volumes".into(), w.volumes.clone().into());
            }
            (
                spec,
                serde_json::json!({"name": "main", "container": container}),
            )
        }
        // argoexec's init container loads the artifact; main only reads it (explicit command: no lookup).
        None => {
            let mut artifact = scenario.artifact.clone();
            if let Some(obj) = artifact.as_object_mut() {
                obj.insert("name".into(), "input".into());
                obj.insert("path".into(), INPUT_PATH.into());
            }
            (
                serde_json::Map::new(),
                serde_json::json!({
                    "name": "main",
                    "inputs": {"artifacts": [artifact]},
                    "container": {"image": TEST_IMAGE, "command": ["/bin/busybox", "cat", INPUT_PATH]},
                }),
            )
        }
    };
    let mut spec = serde_json::json!({"entrypoint": "main", "templates": [template]});
    if let Some(obj) = spec.as_object_mut() {
        obj.extend(spec_extra);
    }
    serde_json::json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"name": workflow_name(scenario), "namespace": namespace},
        "spec": spec,
    })
}

/// A DNS-1123 name for the scenario's workflow (ids are already lowercase and dashed).
pub fn workflow_name(scenario: &Scenario) -> String {
    let mut name: String = scenario
        .id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(50)
        .collect();
    while name.ends_with('-') {
        name.pop();
    }
    name
}

/// The controller's ConfigMap: the scenario's `images:` index (Argo's `config.Image` entries).
pub fn controller_configmap(scenario: &Scenario, namespace: &str) -> ConfigMap {
    let images = scenario
        .entrypoint
        .as_ref()
        .map(|ep| ep.controller.images.clone())
        .unwrap_or_default();
    let mut data = BTreeMap::new();
    if scenario.component == Component::ExecutorS3 {
        // The executor's environment (init and wait containers): Argo's own retry knob, as the
        // local backend's probes get it (identity::RETRY_ENV).
        let env: Vec<_> = super::identity::RETRY_ENV
            .iter()
            .map(|(k, v)| serde_json::json!({"name": k, "value": v}))
            .collect();
        data.insert(
            "executor".to_string(),
            serde_json::json!({"env": env}).to_string(),
        );
    }
    if !images.is_empty() {
        // JSON is YAML: Argo reads the value with sigs.k8s.io/yaml.
        data.insert(
            "images".to_string(),
            serde_json::to_string(&images).expect("serializable"),
        );
    }
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(CONTROLLER_CONFIGMAP.into()),
            namespace: Some(namespace.into()),
            ..Default::default()
        },
        data: Some(data),
        ..Default::default()
    }
}

/// The object every S3 scenario's artifact points at, with content derived from its location.
pub fn seed_object(scenario: &Scenario) -> Option<SeedObject> {
    let s3 = scenario.artifact.get("s3")?;
    let bucket = s3.get("bucket")?.as_str()?.to_string();
    let key = s3.get("key")?.as_str()?.to_string();
    let body = format!("authmatrix test object s3://{bucket}/{key}\n");
    Some(SeedObject { bucket, key, body })
}

/// How a cell's success is checked: what a passing cell must have produced (not the scenario's
/// expected outcome, which the scenario file states).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SuccessCheck {
    /// executor-s3: the artifact's bytes are the seeded object's.
    SameBody(String),
    /// controller-entrypoint: the lookup returns the image's entrypoint and cmd.
    SameImageConfig {
        entrypoint: Vec<String>,
        cmd: Vec<String>,
    },
    /// node: the workflow succeeds.
    WorkflowSucceeds,
}

/// Success for this scenario: the seeded object's bytes, or the image's config as the registry
/// serves it (or as the controller's index states it, when the image is listed there).
pub fn success_check(scenario: &Scenario) -> Result<SuccessCheck, String> {
    match (&scenario.entrypoint, scenario.component) {
        (Some(_), Component::Node) => Ok(SuccessCheck::WorkflowSucceeds),
        (Some(ep), _) => Ok(match ep.controller.images.get(&ep.workflow.image) {
            Some(entry) => SuccessCheck::SameImageConfig {
                entrypoint: entry.entrypoint.clone(),
                cmd: entry.cmd.clone(),
            },
            None => SuccessCheck::SameImageConfig {
                entrypoint: SEEDED_ENTRYPOINT.iter().map(|s| s.to_string()).collect(),
                cmd: SEEDED_CMD.iter().map(|s| s.to_string()).collect(),
            },
        }),
        (None, Component::ExecutorS3) => seed_object(scenario)
            .map(|seed| SuccessCheck::SameBody(seed.body))
            .ok_or_else(|| "the scenario's artifact has no s3 bucket/key".into()),
        (None, component) => Err(format!(
            "a {} scenario needs a workflow",
            component.as_str()
        )),
    }
}

/// Strips secret values from objects shown as evidence: keys stay, values go.
pub fn redacted_secret(secret: &Secret) -> serde_json::Value {
    let mut value = serde_json::to_value(secret).expect("serializable");
    if let Some(data) = value.get_mut("data").and_then(|d| d.as_object_mut()) {
        for v in data.values_mut() {
            *v = "<redacted>".into();
        }
    }
    value
}
