//! Whose AWS identity a pod has: IRSA (the ServiceAccount's role annotation) or EKS Pod Identity
//! (the webhook's injected env, seen on pods; the association itself lives in the EKS API).

use super::controller::Controller;
use super::objects::Inventory;
use serde_json::Value;

pub const IRSA_ANNOTATION: &str = "eks.amazonaws.com/role-arn";
pub const POD_IDENTITY_ENV: &str = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
pub const POD_IDENTITY_TOKEN_ENV: &str = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE";
pub const AGENT: (&str, &str) = ("kube-system", "eks-pod-identity-agent");

#[derive(Clone, Debug, PartialEq)]
pub enum Ambient {
    /// Evidence lines.
    Irsa(Vec<String>),
    PodIdentity(Vec<String>),
    /// No ambient identity seen (the node's role, if any, is what the SDK chain would find).
    None(String),
    /// Could not tell: why.
    Unknown(String),
}

/// The identity pods of `sa` in `ns` get. Pod Identity wins over IRSA, as the webhook decides
/// (container credentials take precedence).
pub fn of_pods(inv: &Inventory, ns: &str, sa: &str, extra_env: &[(String, String)]) -> Ambient {
    let mut pod_identity = injected(inv, ns, sa);
    // Env set for every pod of this kind (the controller's pod template, the executor's config).
    for (evidence, name) in extra_env {
        if name == POD_IDENTITY_ENV || name == POD_IDENTITY_TOKEN_ENV {
            pod_identity.push(evidence.clone());
        }
    }
    if !pod_identity.is_empty() {
        pod_identity.extend(agent(inv));
        return Ambient::PodIdentity(pod_identity);
    }
    match inv.get("ServiceAccount", ns, sa) {
        Some(o) => match o.annotation(IRSA_ANNOTATION) {
            Some(_) => Ambient::Irsa(vec![format!("{}: {IRSA_ANNOTATION}", o.reference())]),
            None => Ambient::None(format!("{}: no {IRSA_ANNOTATION}", o.reference())),
        },
        None if inv.listed("ServiceAccount", ns) => Ambient::None(format!(
            "{ns}/ServiceAccount/{sa}: {}",
            inv.absence_wording()
        )),
        None => Ambient::Unknown(format!("ServiceAccounts in {ns} could not be read")),
    }
}

/// The controller's own identity: its pod template's env, its pods, its ServiceAccount.
pub fn of_controller(inv: &Inventory, c: &Controller) -> Ambient {
    let at = c
        .deployment
        .clone()
        .unwrap_or_else(|| "workflow-controller".into());
    let env: Vec<(String, String)> = c
        .aws_env
        .iter()
        .map(|n| {
            (
                format!("{at}: spec.template.spec.containers[*].env[{n}]"),
                n.clone(),
            )
        })
        .collect();
    of_pods(inv, &c.namespace, &c.service_account, &env)
}

/// Env names the webhook injected into existing pods of `sa` (names only; values are dropped).
fn injected(inv: &Inventory, ns: &str, sa: &str) -> Vec<String> {
    inv.of_kind("Pod")
        .filter(|p| p.namespace == ns)
        .filter(|p| {
            p.at("/spec/serviceAccountName")
                .and_then(Value::as_str)
                .unwrap_or("default")
                == sa
        })
        .flat_map(|p| {
            let containers = p.at("/spec/containers").and_then(Value::as_array);
            containers
                .into_iter()
                .flatten()
                .flat_map(|c| {
                    super::controller::aws_env_names(c)
                        .into_iter()
                        .map(move |n| (c, n))
                })
                .filter(|(_, n)| n == POD_IDENTITY_ENV)
                .map(|(c, n)| {
                    let name = c.get("name").and_then(Value::as_str).unwrap_or("?");
                    format!("{}: spec.containers[{name}].env[{n}]", p.reference())
                })
                .collect::<Vec<_>>()
        })
        .take(2)
        .collect()
}

/// The agent DaemonSet, as evidence, when present.
pub fn agent(inv: &Inventory) -> Option<String> {
    inv.get("DaemonSet", AGENT.0, AGENT.1)
        .map(|d| format!("{}: present", d.reference()))
}

/// Env names the controller's `executor` config sets on every executor container.
pub fn executor_env(c: &Controller) -> Vec<(String, String)> {
    let at = c
        .configmap
        .clone()
        .unwrap_or_else(|| c.configmap_name.clone());
    super::controller::aws_env_names(c.config.get("executor").unwrap_or(&Value::Null))
        .into_iter()
        .map(|n| (format!("{at}: executor.env[{n}]"), n))
        .collect()
}
