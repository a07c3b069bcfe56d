//! The workflow-controller: its Deployment (version, flags, identity) and its ConfigMap in either
//! layout (Argo's `config/controller.go` `parseConfigMap`).

use super::objects::{Inventory, Object};
use serde_json::{Map, Value};

pub const DEFAULT_CONFIGMAP: &str = "workflow-controller-configmap";

/// What the scan knows about the controller.
#[derive(Debug, Default)]
pub struct Controller {
    /// The Deployment, as `ns/Deployment/name`.
    pub deployment: Option<String>,
    pub namespace: String,
    /// The image tag, when it is an Argo tag (`v3.7.18`).
    pub version: Option<String>,
    /// Where the version was read: `ns/Deployment/x: …image=…`.
    pub version_evidence: Option<String>,
    pub configmap_name: String,
    /// `--namespaced`: only its own namespace (or `--managed-namespace`).
    pub namespaced: bool,
    pub managed_namespace: Option<String>,
    pub service_account: String,
    /// Names of the AWS env vars on its pod template (never their values).
    pub aws_env: Vec<String>,
    /// The parsed configuration (`artifactRepository`, `images`, `executor`, `workflowDefaults`…).
    pub config: Value,
    /// `ns/ConfigMap/name` when it was found.
    pub configmap: Option<String>,
    /// Why the ConfigMap could not be used, if it could not.
    pub config_problem: Option<String>,
}

/// AWS env names worth knowing on a pod (the identity mechanism they reveal).
pub const AWS_ENV_NAMES: &[&str] = &[
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_ACCESS_KEY_ID",
];

impl Controller {
    /// Whether this controller handles workflows in `namespace` (`--namespaced` limits it to
    /// its managed namespace, else its own).
    pub fn handles(&self, namespace: &str) -> bool {
        !self.namespaced
            || namespace == self.managed_namespace.as_deref().unwrap_or(&self.namespace)
    }
}

/// Every Deployment that looks like a workflow-controller, as `ns/Deployment/name`.
pub fn all(inv: &Inventory) -> Vec<String> {
    inv.of_kind("Deployment")
        .filter(|d| {
            d.at("/spec/template/spec/containers")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(is_controller_container)
        })
        .map(|d| d.reference())
        .collect()
}

fn is_controller_container(c: &Value) -> bool {
    c.get("name").and_then(Value::as_str) == Some("workflow-controller")
        || c.get("image")
            .and_then(Value::as_str)
            .is_some_and(|i| image_repo(i).ends_with("/workflow-controller"))
}

/// The workflow-controller Deployment: a container named `workflow-controller` or running a
/// `workflow-controller` image (the Helm chart names the Deployment `<release>-workflow-controller`).
pub fn find(inv: &Inventory) -> Option<(&Object, Value)> {
    inv.of_kind("Deployment").find_map(|d| {
        let containers = d.at("/spec/template/spec/containers")?.as_array()?;
        containers
            .iter()
            .find(|c| is_controller_container(c))
            .map(|c| (d, c.clone()))
    })
}

/// Reads the controller, or a default one (namespace `argo`, default ConfigMap name) when no
/// Deployment is in sight: its ConfigMap may still be.
pub fn read(inv: &Inventory) -> Controller {
    let mut c = Controller {
        namespace: "argo".into(),
        configmap_name: DEFAULT_CONFIGMAP.into(),
        service_account: "default".into(),
        ..Default::default()
    };
    if let Some((d, container)) = find(inv) {
        read_deployment(&mut c, d, &container);
    } else if let Some(cm) = inv
        .of_kind("ConfigMap")
        .find(|o| o.name == DEFAULT_CONFIGMAP)
    {
        c.namespace = cm.namespace.clone();
    }
    read_configmap(&mut c, inv);
    c
}

fn read_deployment(c: &mut Controller, d: &Object, container: &Value) {
    c.deployment = Some(d.reference());
    c.namespace = d.namespace.clone();
    let image = container.get("image").and_then(Value::as_str).unwrap_or("");
    if let Some(tag) = image_tag(image).filter(|t| is_argo_tag(t)) {
        c.version = Some(tag.to_string());
        let name = container.get("name").and_then(Value::as_str).unwrap_or("");
        c.version_evidence = Some(format!(
            "{}: spec.template.spec.containers[{name}].image={image}",
            d.reference()
        ));
    }
    let args: Vec<String> = ["command", "args"]
        .iter()
        .filter_map(|f| container.get(*f).and_then(Value::as_array))
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    if let Some(name) = flag(&args, "--configmap") {
        c.configmap_name = name;
    }
    c.namespaced = args
        .iter()
        .any(|a| a == "--namespaced" || a == "--namespaced=true");
    c.managed_namespace = flag(&args, "--managed-namespace");
    c.service_account = d
        .at("/spec/template/spec/serviceAccountName")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_string();
    c.aws_env = aws_env_names(container);
}

/// `--name value` or `--name=value`.
fn flag(args: &[String], name: &str) -> Option<String> {
    let eq = format!("{name}=");
    args.iter().enumerate().find_map(|(i, a)| {
        if let Some(v) = a.strip_prefix(&eq) {
            return Some(v.to_string());
        }
        (a == name).then(|| args.get(i + 1).cloned()).flatten()
    })
}

/// The AWS env var names a container declares (names only: values never leave this function).
pub fn aws_env_names(container: &Value) -> Vec<String> {
    container
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("name").and_then(Value::as_str))
        .filter(|n| AWS_ENV_NAMES.contains(n))
        .map(str::to_string)
        .collect()
}

fn read_configmap(c: &mut Controller, inv: &Inventory) {
    let Some(cm) = inv.get("ConfigMap", &c.namespace, &c.configmap_name) else {
        c.config = Value::Object(Map::new());
        return;
    };
    c.configmap = Some(cm.reference());
    match parse_config(cm) {
        Ok(config) => c.config = config,
        Err(e) => {
            c.config = Value::Object(Map::new());
            c.config_problem = Some(format!("{} ({}): {e}", cm.reference(), cm.origin));
        }
    }
}

/// Both layouts: one `config` key holding the whole YAML (the Helm chart), or one key per field.
pub fn parse_config(cm: &Object) -> Result<Value, String> {
    let data = cm
        .at("/data")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(config) = data.get("config").and_then(Value::as_str) {
        return serde_saphyr::from_str::<Value>(config)
            .map(|v| {
                if v.is_null() {
                    Value::Object(Map::new())
                } else {
                    v
                }
            })
            .map_err(|e| format!("data.config is not YAML: {}", first_line(&e.to_string())));
    }
    let mut config = Map::new();
    for (key, text) in data {
        let Some(text) = text.as_str() else { continue };
        let value = serde_saphyr::from_str::<Value>(text)
            .map_err(|e| format!("data.{key} is not YAML: {}", first_line(&e.to_string())))?;
        config.insert(key, value);
    }
    Ok(Value::Object(config))
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// `quay.io/argoproj/workflow-controller:v3.7.18@sha256:…` → `quay.io/argoproj/workflow-controller`.
pub fn image_repo(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    match no_digest.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => repo,
        _ => no_digest,
    }
}

pub fn image_tag(image: &str) -> Option<&str> {
    let no_digest = image.split('@').next().unwrap_or(image);
    match no_digest.rsplit_once(':') {
        Some((_, tag)) if !tag.contains('/') => Some(tag),
        _ => None,
    }
}

/// `v3.7.18`, `v4.0.5`, `v3.6.0-rc1`: what the matrix can run.
fn is_argo_tag(tag: &str) -> bool {
    tag.strip_prefix('v')
        .is_some_and(|v| semver::Version::parse(v).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_images() {
        let args: Vec<String> = ["--configmap", "cm", "--managed-namespace=ns"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(flag(&args, "--configmap").as_deref(), Some("cm"));
        assert_eq!(flag(&args, "--managed-namespace").as_deref(), Some("ns"));
        assert_eq!(
            image_repo("localhost:5000/argoproj/workflow-controller:v3.7.18"),
            "localhost:5000/argoproj/workflow-controller"
        );
        assert_eq!(image_tag("localhost:5000/x"), None);
        assert!(is_argo_tag("v4.0.5") && !is_argo_tag("latest"));
    }
}
