//! Argo's own install manifests of a tag, read from its module's `manifests/cluster-install` the
//! way kustomize builds them (`resources:` followed, `namespace:` applied). Only what that
//! kustomization uses is understood; anything else is an error, never silently skipped.

use std::path::Path;

/// Kinds the harness applies. The Deployments and Services are not: the controller runs as the
/// cluster provider places it (a process on `local-up`), and argo-server is not part of any cell.
const APPLIED_KINDS: &[&str] = &[
    "CustomResourceDefinition",
    "ServiceAccount",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "ConfigMap",
    "PriorityClass",
];
const SKIPPED_KINDS: &[&str] = &["Deployment", "Service"];

/// The objects of `manifests/cluster-install` to apply, CRDs first.
pub fn cluster_install(manifests: &Path) -> Result<Vec<serde_json::Value>, String> {
    let mut objects = build(&manifests.join("cluster-install"), 0)?;
    objects.retain(|o| !SKIPPED_KINDS.contains(&kind(o)));
    if let Some(other) = objects.iter().find(|o| !APPLIED_KINDS.contains(&kind(o))) {
        return Err(format!(
            "Argo's manifests hold a {} the harness does not know how to apply",
            kind(other)
        ));
    }
    objects.sort_by_key(|o| kind(o) != "CustomResourceDefinition");
    Ok(objects)
}

pub fn kind(object: &serde_json::Value) -> &str {
    object["kind"].as_str().unwrap_or_default()
}

/// A kustomization directory's resources, with its `namespace:` applied.
fn build(dir: &Path, depth: usize) -> Result<Vec<serde_json::Value>, String> {
    if depth > 8 {
        return Err(format!("kustomizations nest too deep at {}", dir.display()));
    }
    let path = dir.join("kustomization.yaml");
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let k: serde_json::Value =
        serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    for key in k.as_object().into_iter().flat_map(|o| o.keys()) {
        if !["apiVersion", "kind", "resources", "namespace"].contains(&key.as_str()) {
            return Err(format!(
                "{}: `{key}` is not understood by the harness's kustomize reader",
                path.display()
            ));
        }
    }
    let mut objects = Vec::new();
    for resource in k["resources"].as_array().into_iter().flatten() {
        let name = resource
            .as_str()
            .ok_or_else(|| format!("{}: a resource is not a path", path.display()))?;
        let target = dir.join(name);
        if target.is_dir() {
            objects.extend(build(&target, depth + 1)?);
        } else {
            let text = std::fs::read_to_string(&target)
                .map_err(|e| format!("read {}: {e}", target.display()))?;
            let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text)
                .map_err(|e| format!("{}: {e}", target.display()))?;
            objects.extend(docs.into_iter().filter(|d| d.is_object()));
        }
    }
    if let Some(ns) = k["namespace"].as_str() {
        for o in &mut objects {
            set_namespace(o, ns);
        }
    }
    Ok(objects)
}

/// kustomize's namespace transformer: namespaced objects move to `ns`, and so do the
/// ServiceAccount subjects of role bindings.
fn set_namespace(object: &mut serde_json::Value, ns: &str) {
    let cluster_scoped = [
        "CustomResourceDefinition",
        "ClusterRole",
        "ClusterRoleBinding",
        "PriorityClass",
        "Namespace",
    ];
    if !cluster_scoped.contains(&kind(object)) {
        object["metadata"]["namespace"] = ns.into();
    }
    // `get_mut`, not indexing: indexing a missing key would add `subjects: null` to every object.
    if let Some(subjects) = object.get_mut("subjects").and_then(|s| s.as_array_mut()) {
        for s in subjects {
            if s["kind"] == "ServiceAccount" {
                s["namespace"] = ns.into();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    #[test]
    fn resources_are_followed_and_the_namespace_applied() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cluster-install");
        fs::create_dir_all(root.join("rbac")).unwrap();
        fs::write(
            root.join("kustomization.yaml"),
            "resources:\n- ./rbac\n- crd.yaml\nnamespace: argo\n",
        )
        .unwrap();
        fs::write(root.join("crd.yaml"), "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: workflows.argoproj.io}\n").unwrap();
        fs::write(
            root.join("rbac/kustomization.yaml"),
            "resources: [binding.yaml]\n",
        )
        .unwrap();
        fs::write(
            root.join("rbac/binding.yaml"),
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nsubjects:\n- {kind: ServiceAccount, name: argo}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
        )
        .unwrap();
        let objects = super::cluster_install(dir.path()).unwrap();
        let kinds: Vec<_> = objects.iter().map(super::kind).collect();
        assert_eq!(kinds, ["CustomResourceDefinition", "ClusterRoleBinding"]);
        assert!(objects[0]["metadata"].get("namespace").is_none());
        assert!(objects[0].get("subjects").is_none());
        assert_eq!(objects[1]["subjects"][0]["namespace"], "argo");
    }

    #[test]
    fn an_unknown_kustomize_feature_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cluster-install");
        fs::create_dir_all(&root).unwrap();
        fs::write(
            root.join("kustomization.yaml"),
            "resources: []\npatches: [{path: p.yaml}]\n",
        )
        .unwrap();
        let err = super::cluster_install(dir.path()).unwrap_err();
        assert!(err.contains("`patches` is not understood"), "{err}");
    }
}
