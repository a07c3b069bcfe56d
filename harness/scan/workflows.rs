//! Workflow-shaped objects (Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow),
//! read as Argo merges them (`workflow/util/merge.go` `JoinWorkflowSpec`): the object's own spec,
//! then the WorkflowTemplate it references, then the controller's `workflowDefaults`. Each field
//! keeps the object and path it came from, so evidence can name it.

use super::controller::Controller;
use super::objects::{Inventory, Object};
use serde_json::Value;

/// One spec in the merge order, with how to name fields read from it.
#[derive(Clone, Debug)]
struct Layer {
    /// `ns/Workflow/name: spec` or `argo/ConfigMap/cm: workflowDefaults.spec`.
    prefix: String,
    spec: Value,
}

/// A field's value and the evidence line naming where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Found<T> {
    pub value: T,
    pub evidence: String,
}

/// A container the controller looks the entrypoint of up (no `command`).
#[derive(Clone, Debug)]
pub struct CommandLess {
    pub image: String,
    pub evidence: String,
}

#[derive(Clone, Debug)]
pub struct S3Use {
    pub s3: Value,
    pub evidence: String,
}

/// What one workflow-shaped object makes Argo do, after the merge.
#[derive(Clone, Debug)]
pub struct WorkflowUse {
    pub object: String,
    pub namespace: String,
    /// The workflow-level pod ServiceAccount (`default` when none is named).
    pub service_account: Found<String>,
    /// Template-level ServiceAccounts (they override the pod's, not the entrypoint lookup's).
    pub template_service_accounts: Vec<Found<String>>,
    pub executor_service_account: Option<Found<String>>,
    pub pull_secrets: Vec<Found<String>>,
    pub command_less: Vec<CommandLess>,
    /// Inline `s3:` on input/output artifacts.
    pub inline_s3: Vec<S3Use>,
    /// Whether any template has artifacts (the artifact repository is then used).
    pub has_artifacts: Option<String>,
    pub artifact_repository_ref: Option<Found<Value>>,
    pub host_paths: Vec<Found<String>>,
    /// The pod-level security context's `runAsUser`/`runAsNonRoot`, if non-root.
    pub non_root: Option<String>,
}

const KINDS: &[&str] = &[
    "Workflow",
    "WorkflowTemplate",
    "ClusterWorkflowTemplate",
    "CronWorkflow",
];

/// Every workflow-shaped object in the inventory, merged.
pub fn read(inv: &Inventory, controller: &Controller) -> Vec<WorkflowUse> {
    let defaults = controller.config.pointer("/workflowDefaults/spec").cloned();
    let defaults = defaults.map(|spec| Layer {
        prefix: format!(
            "{}: workflowDefaults.spec",
            controller
                .configmap
                .clone()
                .unwrap_or_else(|| controller.configmap_name.clone())
        ),
        spec,
    });
    inv.objects
        .iter()
        .filter(|o| KINDS.contains(&o.kind.as_str()))
        .filter_map(|o| {
            let (pointer, path) = match o.kind.as_str() {
                "CronWorkflow" => ("/spec/workflowSpec", "spec.workflowSpec"),
                _ => ("/spec", "spec"),
            };
            let own = Layer {
                prefix: format!("{}: {path}", o.reference()),
                spec: o.at(pointer)?.clone(),
            };
            // A ClusterWorkflowTemplate runs in whichever namespace submits it: judge it in the
            // namespace the controller manages (or its own).
            let namespace = match o.namespace.is_empty() {
                true => controller
                    .managed_namespace
                    .clone()
                    .unwrap_or_else(|| controller.namespace.clone()),
                false => o.namespace.clone(),
            };
            let mut layers = vec![own.clone()];
            layers.extend(referenced_template(inv, &own, &namespace));
            layers.extend(defaults.clone());
            Some(merge(o, namespace, &layers))
        })
        .collect()
}

/// The WorkflowTemplate (or ClusterWorkflowTemplate) `spec.workflowTemplateRef` names.
fn referenced_template(inv: &Inventory, own: &Layer, namespace: &str) -> Option<Layer> {
    let r = own.spec.get("workflowTemplateRef")?;
    let name = r.get("name")?.as_str()?;
    let cluster = r.get("clusterScope").and_then(Value::as_bool) == Some(true);
    let t = match cluster {
        true => inv.get("ClusterWorkflowTemplate", "", name),
        false => inv.get("WorkflowTemplate", namespace, name),
    }?;
    Some(Layer {
        prefix: format!("{}: spec", t.reference()),
        spec: t.at("/spec")?.clone(),
    })
}

/// The first layer that sets `field` (a top-level spec field), Argo's merge order.
fn first<'a>(layers: &'a [Layer], field: &str) -> Option<(&'a Layer, &'a Value)> {
    layers
        .iter()
        .find_map(|l| l.spec.get(field).filter(|v| !v.is_null()).map(|v| (l, v)))
}

fn merge(o: &Object, namespace: String, layers: &[Layer]) -> WorkflowUse {
    let service_account = match first(layers, "serviceAccountName") {
        Some((l, v)) => Found {
            value: v.as_str().unwrap_or("default").to_string(),
            evidence: format!(
                "{}.serviceAccountName={}",
                l.prefix,
                v.as_str().unwrap_or("")
            ),
        },
        None => Found {
            value: "default".into(),
            evidence: format!(
                "{}: no serviceAccountName (pods run as `default`)",
                o.reference()
            ),
        },
    };
    let executor_service_account = first(layers, "executor")
        .and_then(|(l, v)| Some((l, v.get("serviceAccountName")?.as_str()?)))
        .map(|(l, sa)| Found {
            value: sa.to_string(),
            evidence: format!("{}.executor.serviceAccountName={sa}", l.prefix),
        });
    let pull_secrets = first(layers, "imagePullSecrets")
        .map(|(l, v)| {
            names(v)
                .into_iter()
                .map(|n| Found {
                    evidence: format!("{}.imagePullSecrets[name={n}]", l.prefix),
                    value: n,
                })
                .collect()
        })
        .unwrap_or_default();
    let artifact_repository_ref = first(layers, "artifactRepositoryRef").map(|(l, v)| Found {
        value: v.clone(),
        evidence: format!("{}.artifactRepositoryRef={}", l.prefix, v),
    });
    let mut u = WorkflowUse {
        object: o.reference(),
        namespace,
        service_account,
        template_service_accounts: vec![],
        executor_service_account,
        pull_secrets,
        command_less: vec![],
        inline_s3: vec![],
        has_artifacts: None,
        artifact_repository_ref,
        host_paths: vec![],
        non_root: non_root(layers),
    };
    for l in layers {
        read_volumes(&mut u, &l.prefix, l.spec.get("volumes"), "volumes");
        read_pod_spec_patch(&mut u, &l.prefix, l.spec.get("podSpecPatch"));
        for (i, t) in l
            .spec
            .get("templates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            read_template(&mut u, &format!("{}.templates[{i}]", l.prefix), t);
        }
    }
    u
}

/// `[{name: a}, {name: b}]` → `[a, b]`.
pub fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("name").and_then(Value::as_str).map(str::to_string))
        .collect()
}

fn non_root(layers: &[Layer]) -> Option<String> {
    let (l, sc) = first(layers, "securityContext")?;
    if let Some(uid) = sc
        .get("runAsUser")
        .and_then(Value::as_i64)
        .filter(|u| *u != 0)
    {
        return Some(format!("{}.securityContext.runAsUser={uid}", l.prefix));
    }
    (sc.get("runAsNonRoot").and_then(Value::as_bool) == Some(true))
        .then(|| format!("{}.securityContext.runAsNonRoot=true", l.prefix))
}

fn read_template(u: &mut WorkflowUse, at: &str, t: &Value) {
    let name = t.get("name").and_then(Value::as_str).unwrap_or("?");
    let at = format!("{at}(name={name})");
    if let Some(sa) = t.get("serviceAccountName").and_then(Value::as_str) {
        u.template_service_accounts.push(Found {
            value: sa.into(),
            evidence: format!("{at}.serviceAccountName={sa}"),
        });
    }
    // The lookup runs for main, sidecar and containerSet containers, never init containers.
    let mut containers: Vec<(String, &Value)> = Vec::new();
    if let Some(c) = t.get("container") {
        containers.push((format!("{at}.container"), c));
    }
    for (field, list) in [
        ("sidecars", t.get("sidecars")),
        (
            "containerSet.containers",
            t.pointer("/containerSet/containers"),
        ),
    ] {
        for (i, c) in list
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            containers.push((format!("{at}.{field}[{i}]"), c));
        }
    }
    for (path, c) in containers {
        let no_command = c
            .get("command")
            .and_then(Value::as_array)
            .is_none_or(|a| a.is_empty());
        if let (true, Some(image)) = (no_command, c.get("image").and_then(Value::as_str)) {
            u.command_less.push(CommandLess {
                image: image.into(),
                evidence: format!("{path}.image={image} (no command)"),
            });
        }
    }
    for dir in ["inputs", "outputs"] {
        let artifacts = t
            .pointer(&format!("/{dir}/artifacts"))
            .and_then(Value::as_array);
        for (i, a) in artifacts.into_iter().flatten().enumerate() {
            let path = format!("{at}.{dir}.artifacts[{i}]");
            u.has_artifacts.get_or_insert_with(|| path.clone());
            if let Some(s3) = a.get("s3").filter(|s| carries_repository(s)) {
                u.inline_s3.push(S3Use {
                    s3: s3.clone(),
                    evidence: format!("{path}.s3"),
                });
            }
        }
    }
    read_volumes(u, &at, t.get("volumes"), "volumes");
    read_pod_spec_patch(u, &at, t.get("podSpecPatch"));
}

/// An inline `s3:` with only a `key` uses the repository; one with a bucket or credentials is
/// its own repository.
fn carries_repository(s3: &Value) -> bool {
    [
        "bucket",
        "endpoint",
        "accessKeySecret",
        "useSDKCreds",
        "roleARN",
    ]
    .iter()
    .any(|f| s3.get(*f).is_some())
}

fn read_volumes(u: &mut WorkflowUse, at: &str, volumes: Option<&Value>, field: &str) {
    for v in volumes.and_then(Value::as_array).into_iter().flatten() {
        if let Some(path) = v.pointer("/hostPath/path").and_then(Value::as_str) {
            let name = v.get("name").and_then(Value::as_str).unwrap_or("?");
            u.host_paths.push(Found {
                value: path.into(),
                evidence: format!("{at}.{field}[name={name}].hostPath.path={path}"),
            });
        }
    }
}

/// `podSpecPatch` is a YAML or JSON string applied before the lookup: it can add volumes.
fn read_pod_spec_patch(u: &mut WorkflowUse, at: &str, patch: Option<&Value>) {
    let Some(text) = patch.and_then(Value::as_str) else {
        return;
    };
    if let Ok(p) = serde_saphyr::from_str::<Value>(text) {
        read_volumes(
            u,
            &format!("{at}.podSpecPatch"),
            p.get("volumes"),
            "volumes",
        );
    }
}
