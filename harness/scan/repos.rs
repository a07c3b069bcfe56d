//! Which artifact repository a workflow uses, resolved as Argo resolves it
//! (`workflow/artifactrepositories/artifactrepositories.go`): a ref's ConfigMap in the workflow's
//! namespace, then the controller's; without a ref, `artifact-repositories` in the workflow's
//! namespace, else the controller ConfigMap's `artifactRepository`.

use super::controller::Controller;
use super::objects::{Inventory, Object};
use super::workflows::WorkflowUse;
use serde_json::Value;

const DEFAULT_REF_CONFIGMAP: &str = "artifact-repositories";
const DEFAULT_KEY_ANNOTATION: &str = "workflows.argoproj.io/default-artifact-repository";

/// An S3 repository and where it was declared.
#[derive(Clone, Debug)]
pub struct Repo {
    pub s3: Value,
    pub evidence: String,
}

/// `Ok(None)`: the repository is not S3 (or none is configured). `Err`: could not tell, why.
pub fn resolve(inv: &Inventory, c: &Controller, u: &WorkflowUse) -> Result<Option<Repo>, String> {
    let ns = &u.namespace;
    if let Some(r) = &u.artifact_repository_ref {
        let name = r
            .value
            .get("configMap")
            .and_then(Value::as_str)
            .unwrap_or(DEFAULT_REF_CONFIGMAP);
        let key = r.value.get("key").and_then(Value::as_str);
        for at in [ns.as_str(), c.namespace.as_str()] {
            if let Some(cm) = inv.get("ConfigMap", at, name) {
                return from_configmap(cm, key).map(|repo| {
                    repo.map(|mut x| {
                        x.evidence = format!("{} -> {}", r.evidence, x.evidence);
                        x
                    })
                });
            }
        }
        return match inv.listed("ConfigMap", ns) && inv.listed("ConfigMap", &c.namespace) {
            true => Err(format!(
                "{}: ConfigMap {name} is {} (in {ns} nor {})",
                r.evidence,
                inv.absence_wording(),
                c.namespace
            )),
            false => Err(format!("ConfigMap {name} in {ns} could not be read")),
        };
    }
    if let Some(cm) = inv.get("ConfigMap", ns, DEFAULT_REF_CONFIGMAP) {
        return from_configmap(cm, None);
    }
    if !inv.listed("ConfigMap", ns) {
        return Err(format!(
            "ConfigMaps in {ns} could not be read (an `{DEFAULT_REF_CONFIGMAP}` ConfigMap there would win)"
        ));
    }
    let Some(s3) = c.config.pointer("/artifactRepository/s3") else {
        return Ok(None);
    };
    let at = c
        .configmap
        .clone()
        .unwrap_or_else(|| c.configmap_name.clone());
    Ok(Some(Repo {
        s3: s3.clone(),
        evidence: format!("{at}: artifactRepository.s3"),
    }))
}

/// The key `key` (else the annotated default, else the only key) of an `artifact-repositories`
/// ConfigMap, whose values are YAML `ArtifactRepository`s.
fn from_configmap(cm: &Object, key: Option<&str>) -> Result<Option<Repo>, String> {
    let data = cm.at("/data").and_then(Value::as_object);
    let only = data.filter(|d| d.len() == 1).and_then(|d| d.keys().next());
    let key = key
        .or_else(|| cm.annotation(DEFAULT_KEY_ANNOTATION))
        .or(only.map(String::as_str))
        .ok_or_else(|| {
            format!(
                "{}: no key named and no {DEFAULT_KEY_ANNOTATION}",
                cm.reference()
            )
        })?;
    let text = data
        .and_then(|d| d.get(key))
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{}: no key {key}", cm.reference()))?;
    let repo: Value = serde_saphyr::from_str(text).map_err(|e| {
        format!(
            "{} ({}): data.{key} is not YAML: {e}",
            cm.reference(),
            cm.origin
        )
    })?;
    Ok(repo.get("s3").map(|s3| Repo {
        s3: s3.clone(),
        evidence: format!("{}: data.{key}.s3", cm.reference()),
    }))
}
