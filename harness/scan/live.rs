//! `--kubeconfig`: a live cluster, read-only, through kube-rs. Lists are paginated and limited to
//! the kinds a scan reads (no discovery over everything). A call the API server refuses, or a
//! kind it does not serve, becomes a coverage gap: with only the `view` ClusterRole (no Secrets,
//! no RBAC) the scan still runs. Helm release Secrets are never listed, and Secrets lose their
//! values the moment a page arrives.

use super::objects::{Inventory, Object, Readable};
use super::{CannotScan, Gap};
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};
use std::path::Path;

/// One kind the scan lists.
struct Kind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    /// A field selector that keeps the list to what the scan needs.
    fields: Option<&'static str>,
    labels: Option<&'static str>,
    /// What stays unknown when it cannot be read.
    unknown: &'static str,
}

const PAGE: u32 = 250;

/// Controller first (it names the namespaces), then what setups are made of.
const KINDS: &[Kind] = &[
    Kind {
        group: "apps",
        version: "v1",
        kind: "Deployment",
        plural: "deployments",
        namespaced: true,
        fields: None,
        labels: None,
        unknown: "the running version and the controller's flags and identity",
    },
    Kind {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        namespaced: true,
        fields: None,
        labels: None,
        unknown: "the controller's config (artifact repository, images index, workflowDefaults) and artifact-repositories",
    },
    Kind {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        namespaced: true,
        fields: None,
        labels: None,
        unknown: "IRSA annotations and ServiceAccount pull secrets",
    },
    // Helm keeps every release's values (secrets included) in Secrets of this type: never listed.
    Kind {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        namespaced: true,
        fields: Some("type!=helm.sh/release.v1"),
        labels: None,
        unknown: "whether referenced Secrets (static keys, pull secrets) exist and hold their keys",
    },
    Kind {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        namespaced: true,
        fields: None,
        labels: Some("workflows.argoproj.io/workflow"),
        unknown: "Pod Identity injected into workflow pods",
    },
    // The controller's own pods (Argo's manifests label them `app`, the Helm chart
    // `app.kubernetes.io/component`): Pod Identity shows only in what the webhook injected.
    Kind {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        namespaced: true,
        fields: None,
        labels: Some("app=workflow-controller"),
        unknown: "Pod Identity injected into the controller's pods",
    },
    Kind {
        group: "",
        version: "v1",
        kind: "Pod",
        plural: "pods",
        namespaced: true,
        fields: None,
        labels: Some("app.kubernetes.io/component=workflow-controller"),
        unknown: "Pod Identity injected into the controller's pods",
    },
    Kind {
        group: "apps",
        version: "v1",
        kind: "DaemonSet",
        plural: "daemonsets",
        namespaced: true,
        fields: Some("metadata.name=eks-pod-identity-agent"),
        labels: None,
        unknown: "whether the EKS Pod Identity agent runs",
    },
    Kind {
        group: "argoproj.io",
        version: "v1alpha1",
        kind: "Workflow",
        plural: "workflows",
        namespaced: true,
        fields: None,
        labels: None,
        unknown: "setups of submitted Workflows",
    },
    Kind {
        group: "argoproj.io",
        version: "v1alpha1",
        kind: "WorkflowTemplate",
        plural: "workflowtemplates",
        namespaced: true,
        fields: None,
        labels: None,
        unknown: "setups of WorkflowTemplates",
    },
    Kind {
        group: "argoproj.io",
        version: "v1alpha1",
        kind: "ClusterWorkflowTemplate",
        plural: "clusterworkflowtemplates",
        namespaced: false,
        fields: None,
        labels: None,
        unknown: "setups of ClusterWorkflowTemplates",
    },
    Kind {
        group: "argoproj.io",
        version: "v1alpha1",
        kind: "CronWorkflow",
        plural: "cronworkflows",
        namespaced: true,
        fields: None,
        labels: None,
        unknown: "setups of CronWorkflows",
    },
    Kind {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "Role",
        plural: "roles",
        namespaced: true,
        fields: None,
        labels: None,
        unknown: "the executor's RBAC",
    },
    Kind {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "RoleBinding",
        plural: "rolebindings",
        namespaced: true,
        fields: None,
        labels: None,
        unknown: "the executor's RBAC",
    },
    Kind {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRole",
        plural: "clusterroles",
        namespaced: false,
        fields: None,
        labels: None,
        unknown: "the executor's RBAC through ClusterRoles",
    },
    Kind {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind: "ClusterRoleBinding",
        plural: "clusterrolebindings",
        namespaced: false,
        fields: None,
        labels: None,
        unknown: "the executor's RBAC through ClusterRoleBindings",
    },
];

/// Reads the cluster a kubeconfig (and context) names.
pub fn read(kubeconfig: &Path, context: Option<&str>) -> Result<Inventory, CannotScan> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CannotScan(e.to_string()))?;
    runtime.block_on(async {
        let (client, namespace) = client(kubeconfig, context).await?;
        let source = format!(
            "cluster ({}{})",
            kubeconfig.display(),
            context
                .map(|c| format!(", context {c}"))
                .unwrap_or_default()
        );
        collect(client, source, &namespace).await
    })
}

async fn client(
    kubeconfig: &Path,
    context: Option<&str>,
) -> Result<(kube::Client, String), CannotScan> {
    let fail = |e: String| CannotScan(format!("{}: {e}", kubeconfig.display()));
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| fail(e.to_string()))?;
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kc, &options)
        .await
        .map_err(|e| fail(e.to_string()))?;
    let namespace = config.default_namespace.clone();
    let client = kube::Client::try_from(config).map_err(|e| fail(e.to_string()))?;
    Ok((client, namespace))
}

/// Lists every kind cluster-wide; where that is forbidden, in each namespace known so far (the
/// context's, the controller's, those seen on other objects). Fails only when nothing at all
/// could be listed.
pub async fn collect(
    client: kube::Client,
    source: String,
    context_ns: &str,
) -> Result<Inventory, CannotScan> {
    let mut inv = Inventory {
        source,
        ..Default::default()
    };
    let mut listed: Vec<(String, String)> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut any_ok = false;
    for k in KINDS {
        let ar = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(k.group, k.version, k.kind),
            k.plural,
        );
        // The Pod Identity agent is looked for where EKS installs it; the rest cluster-wide.
        let scopes = match k.kind {
            "DaemonSet" => vec![super::identity::AGENT.0.to_string()],
            _ => vec![String::new()],
        };
        for scope in scopes {
            match list(&client, &ar, k, &scope).await {
                Ok(items) => {
                    any_ok = true;
                    listed.push((k.kind.into(), scope.clone()));
                    add(&mut inv, items);
                }
                Err(Failure::Refused(why)) if k.namespaced && scope.is_empty() => {
                    // Cluster-wide refused: try namespace by namespace.
                    let namespaces = known_namespaces(&inv, context_ns);
                    let mut missed = vec![];
                    for ns in &namespaces {
                        match list(&client, &ar, k, ns).await {
                            Ok(items) => {
                                any_ok = true;
                                listed.push((k.kind.into(), ns.clone()));
                                add(&mut inv, items);
                            }
                            // The API server's message repeats itself per namespace: its
                            // namespace is enough, except for errors other than a refusal.
                            Err(Failure::Refused(_)) => missed.push(ns.clone()),
                            Err(Failure::Other(why)) => missed.push(format!("{ns} ({why})")),
                        }
                    }
                    inv.gaps.push(Gap {
                        what: format!("list {} (all namespaces)", describe(k)),
                        why: match missed.is_empty() {
                            true => format!(
                                "{why}; listed per namespace instead: {}",
                                namespaces.join(", ")
                            ),
                            false => {
                                format!("{why}; also refused per namespace: {}", missed.join(", "))
                            }
                        },
                        unknown: vec![k.unknown.into()],
                    });
                }
                Err(Failure::Refused(why)) => inv.gaps.push(Gap {
                    what: format!(
                        "list {}{}",
                        describe(k),
                        if scope.is_empty() {
                            String::new()
                        } else {
                            format!(" in {scope}")
                        }
                    ),
                    why,
                    unknown: vec![k.unknown.into()],
                }),
                Err(Failure::Other(why)) => {
                    errors.push(why.clone());
                    inv.gaps.push(Gap {
                        what: format!("list {}", describe(k)),
                        why,
                        unknown: vec![k.unknown.into()],
                    });
                }
            }
        }
    }
    if !any_ok {
        return Err(CannotScan(format!(
            "no list call succeeded: {}",
            errors
                .first()
                .cloned()
                .unwrap_or_else(|| "every call was refused".into())
        )));
    }
    inv.readable = Readable::Cluster(listed);
    Ok(inv)
}

enum Failure {
    /// 403 or 404 (kind not served): the scan goes on.
    Refused(String),
    Other(String),
}

/// All pages of one list.
async fn list(
    client: &kube::Client,
    ar: &ApiResource,
    k: &Kind,
    ns: &str,
) -> Result<Vec<serde_json::Value>, Failure> {
    let api: Api<DynamicObject> = match (k.namespaced, ns.is_empty()) {
        (true, false) => Api::namespaced_with(client.clone(), ns, ar),
        _ => Api::all_with(client.clone(), ar),
    };
    let mut params = ListParams::default().limit(PAGE);
    if let Some(f) = k.fields {
        params = params.fields(f);
    }
    if let Some(l) = k.labels {
        params = params.labels(l);
    }
    let mut items = Vec::new();
    loop {
        let page = api.list(&params).await.map_err(|e| match e {
            kube::Error::Api(s) if s.code == 403 => {
                Failure::Refused(format!("forbidden: {}", s.message))
            }
            kube::Error::Api(s) if s.code == 404 => {
                Failure::Refused("not served by this API server (kind absent)".into())
            }
            e => Failure::Other(e.to_string()),
        })?;
        // Values never outlive the page: each object is sanitized (Secrets keep key names only,
        // object-copy annotations go) before anything keeps it.
        for o in page.items {
            if let Ok(mut value) = serde_json::to_value(&o) {
                value["kind"] = k.kind.into();
                value["apiVersion"] = api_version(k).into();
                super::objects::sanitize(k.kind, &mut value);
                items.push(value);
            }
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(items),
        }
    }
}

/// `pods labelled workflows.argoproj.io/workflow`, `secrets`: what a gap names.
fn describe(k: &Kind) -> String {
    match k.labels {
        Some(l) => format!("{} labelled {l}", k.plural),
        None => k.plural.to_string(),
    }
}

fn api_version(k: &Kind) -> String {
    match k.group {
        "" => k.version.to_string(),
        g => format!("{g}/{}", k.version),
    }
}

fn add(inv: &mut Inventory, items: Vec<serde_json::Value>) {
    for value in items {
        let ns = value
            .pointer("/metadata/namespace")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string();
        let Some(obj) = Object::from_value(value, &ns, "cluster".into()) else {
            continue;
        };
        // Lists by different labels may return one pod twice.
        if inv.get(&obj.kind, &obj.namespace, &obj.name).is_none() {
            inv.objects.push(obj);
        }
    }
}

/// Namespaces to try one by one when a cluster-wide list is refused (never `list namespaces`).
fn known_namespaces(inv: &Inventory, context_ns: &str) -> Vec<String> {
    let mut ns: Vec<String> = vec![context_ns.to_string()];
    for o in &inv.objects {
        if !o.namespace.is_empty() {
            ns.push(o.namespace.clone());
        }
    }
    ns.sort();
    ns.dedup();
    ns
}
