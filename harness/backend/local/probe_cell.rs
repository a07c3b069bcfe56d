//! One cell on the local backend: the probe's request for a scenario, and what its answer means.

use crate::backend::objects::{self, Objects, SuccessCheck};
use crate::backend::sandbox::network::ECR_REGISTRY_HOST;
use crate::fakes::world;
use crate::scenario::Scenario;
use crate::shared::{Evidence, ObservedOutcome};
use k8s_openapi::api::core::v1::Secret;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// The artifact as the probe receives it: Argo requires a name.
pub fn artifact(scenario: &Scenario) -> serde_json::Value {
    let mut art = scenario.artifact.clone();
    if let Some(obj) = art.as_object_mut() {
        obj.entry("name").or_insert_with(|| "input".into());
    }
    art
}

/// The probe's request for a scenario, and what success looks like. `objs` are the namespace's
/// objects from [`objects::objects`], as the cluster backend creates them.
pub fn request(
    scenario: &Scenario,
    cell_dir: &Path,
    objs: &Objects,
) -> Result<(serde_json::Value, SuccessCheck), String> {
    let success = objects::success_check(scenario)?;
    let request = match &scenario.entrypoint {
        None => {
            let secrets: BTreeMap<String, BTreeMap<String, String>> = objs
                .secrets
                .iter()
                .map(|s| {
                    let data = s.data.iter().flatten();
                    let keys = data
                        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
                        .collect();
                    (s.metadata.name.clone().unwrap_or_default(), keys)
                })
                .collect();
            serde_json::json!({ "artifact": artifact(scenario), "secrets": secrets, "workDir": cell_dir })
        }
        Some(ep) => {
            let mut kube_objects: Vec<serde_json::Value> = objs
                .service_accounts
                .iter()
                .map(|o| serde_json::to_value(o).expect("serializable"))
                .collect();
            kube_objects.extend(
                objs.secrets
                    .iter()
                    .map(|o| serde_json::to_value(o).expect("serializable")),
            );
            serde_json::json!({
                "mode": "lookup",
                "namespace": world::NAMESPACE,
                "objects": kube_objects,
                "workflow": objs.workflow,
                "images": ep.controller.images,
            })
        }
    };
    Ok((request, success))
}

/// For an image on the ECR registry: the credential-helper probe's request.
pub fn ecr_helper_request(scenario: &Scenario) -> Option<serde_json::Value> {
    let image = &scenario.entrypoint.as_ref()?.workflow.image;
    let host = image.split('/').next()?;
    (host == ECR_REGISTRY_HOST).then(|| serde_json::json!({"mode": "ecr-helper", "registry": host}))
}

/// The probe's answer (probes/s3/main.go `result`).
#[derive(Deserialize)]
pub struct ProbeResult {
    pub stage: String,
    pub ok: bool,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub bytes: usize,
    #[serde(default)]
    pub sha256: String,
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
}

/// Turns the probe's answer into an outcome. Success with other content than the fake cloud holds
/// (other bytes, another entrypoint) is a failure, not a pass.
pub fn probe_outcome(
    result: Option<ProbeResult>,
    success: &SuccessCheck,
    evidence: &mut Evidence,
    run_problem: Option<String>,
) -> (ObservedOutcome, String) {
    if let Some(problem) = run_problem {
        return (ObservedOutcome::Error, problem);
    }
    let Some(r) = result else {
        return (
            ObservedOutcome::Error,
            format!(
                "the probe wrote no result (exit code {:?})",
                evidence.exit_code
            ),
        );
    };
    evidence.stage = Some(r.stage.clone());
    if r.stage == "decode" {
        return (
            ObservedOutcome::Error,
            format!(
                "the scenario's input did not decode in Argo's schema: {}",
                r.error
            ),
        );
    }
    if !r.ok {
        return (ObservedOutcome::Fail, r.error);
    }
    match success {
        SuccessCheck::WorkflowSucceeds => (
            ObservedOutcome::Error,
            "a node scenario reached a probe (the local backend reports it not applicable)".into(),
        ),
        SuccessCheck::SameBody(body) => {
            let want = hex::encode(Sha256::digest(body.as_bytes()));
            if r.sha256 == want {
                (
                    ObservedOutcome::Pass,
                    format!("loaded {} bytes, identical to the seeded object", r.bytes),
                )
            } else {
                (
                    ObservedOutcome::Fail,
                    format!(
                        "loaded {} bytes that differ from the seeded object (sha256 {})",
                        r.bytes, r.sha256
                    ),
                )
            }
        }
        SuccessCheck::SameImageConfig { entrypoint, cmd } => {
            if &r.entrypoint == entrypoint && &r.cmd == cmd {
                (
                    ObservedOutcome::Pass,
                    format!("entrypoint {:?}, cmd {:?}", r.entrypoint, r.cmd),
                )
            } else {
                (
                    ObservedOutcome::Fail,
                    format!(
                        "the lookup returned entrypoint {:?} and cmd {:?}, the image has {entrypoint:?} and {cmd:?}",
                        r.entrypoint, r.cmd
                    ),
                )
            }
        }
    }
}

/// The Secret volumes Argo's controller gives the pod of a template with this input artifact, in
/// the order it adds their items (`createSecretVolumesFromArtifactLocations` in workflowpod.go,
/// S3): one volume per Secret, named after it, with each referenced key as an item.
fn secret_volumes(artifact: &serde_json::Value) -> Vec<(String, Vec<String>)> {
    let s3 = &artifact["s3"];
    let mut refs = vec![
        &s3["accessKeySecret"],
        &s3["secretKeySecret"],
        &s3["sessionTokenSecret"],
    ];
    let sse = &s3["encryptionOptions"];
    if sse["enableEncryption"] == true {
        refs.push(&sse["serverSideCustomerKeySecret"]);
    }
    refs.push(&s3["caSecret"]);
    let mut volumes: Vec<(String, Vec<String>)> = Vec::new();
    for r in refs {
        let (Some(name), Some(key)) = (r["name"].as_str(), r["key"].as_str()) else {
            continue;
        };
        if name.is_empty() || key.is_empty() {
            continue;
        }
        match volumes.iter_mut().find(|(n, _)| n == name) {
            Some((_, keys)) if !keys.iter().any(|k| k == key) => keys.push(key.into()),
            Some(_) => {}
            None => volumes.push((name.into(), vec![key.into()])),
        }
    }
    volumes
}

/// What the kubelet says when it cannot mount one of those volumes from the namespace's Secrets:
/// NotFound from its Secret manager, or `MakePayload`'s missing item, behind operationexecutor's
/// `MountVolume.SetUp failed for volume %q : ` (Kubernetes v1.34.1, `pkg/volume/secret`).
fn kubelet_mount_failure(artifact: &serde_json::Value, secrets: &[Secret]) -> Option<String> {
    secret_volumes(artifact)
        .into_iter()
        .find_map(|(name, keys)| {
            let prefix = format!("MountVolume.SetUp failed for volume {name:?} : ");
            let Some(secret) = secrets
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(name.as_str()))
            else {
                return Some(format!("{prefix}secret {name:?} not found"));
            };
            let data = secret.data.as_ref();
            keys.iter()
                .find(|k| !data.is_some_and(|d| d.contains_key(*k)))
                .map(|k| format!("{prefix}references non-existent secret key: {k}"))
        })
}

/// An executor-s3 cell whose pod could not start on a node: the kubelet mounts the artifact's
/// Secrets into the pod before argoexec runs, so a missing Secret or key keeps the pod from ever
/// starting (the cluster backend's pod stays `Init:0/1`). No kubelet runs here: the outcome and
/// the words are the kubelet's, and what Argo's driver said, handed the namespace's secrets
/// directly, follows. An infra error stays one.
pub fn kubelet_first(
    scenario: &Scenario,
    objs: &Objects,
    judged: (ObservedOutcome, String),
) -> (ObservedOutcome, String) {
    if scenario.entrypoint.is_some() || judged.0 == ObservedOutcome::Error {
        return judged;
    }
    match kubelet_mount_failure(&scenario.artifact, &objs.secrets) {
        Some(mount) => (
            ObservedOutcome::Fail,
            format!(
                "the pod cannot start: FailedMount: {mount} (the kubelet's words: on the cluster backend the pod stays Init:0/1 and the workflow Running 0/1; no kubelet runs here, where Argo's S3 driver, handed the namespace's secrets directly, fails with: {})",
                judged.1
            ),
        ),
        None => judged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::objects::opaque_secret;

    fn s3_artifact(name: &str) -> serde_json::Value {
        serde_json::json!({"s3": {"bucket": "b", "key": "k",
            "accessKeySecret": {"name": name, "key": "accesskey"},
            "secretKeySecret": {"name": name, "key": "secretkey"}}})
    }

    #[test]
    fn one_volume_per_secret_with_its_keys_in_argos_order() {
        let mut art = s3_artifact("s3-cred");
        art["s3"]["caSecret"] = serde_json::json!({"name": "ca", "key": "ca.crt"});
        art["s3"]["sessionTokenSecret"] =
            serde_json::json!({"name": "s3-cred", "key": "accesskey"});
        assert_eq!(
            secret_volumes(&art),
            vec![
                (
                    "s3-cred".into(),
                    vec!["accesskey".into(), "secretkey".into()]
                ),
                ("ca".into(), vec!["ca.crt".into()])
            ]
        );
        assert!(secret_volumes(&serde_json::json!({"s3": {"useSDKCreds": true}})).is_empty());
    }

    #[test]
    fn a_missing_secret_or_key_is_what_the_kubelet_says() {
        let present = [opaque_secret(
            "s3-cred",
            "argo",
            &[("accesskey", "a"), ("secretkey", "s")],
        )];
        assert_eq!(
            kubelet_mount_failure(&s3_artifact("s3-cred"), &present),
            None
        );
        assert_eq!(
            kubelet_mount_failure(&s3_artifact("no-such-secret"), &present).as_deref(),
            Some(
                r#"MountVolume.SetUp failed for volume "no-such-secret" : secret "no-such-secret" not found"#
            )
        );
        let partial = [opaque_secret("s3-cred", "argo", &[("secretkey", "s")])];
        assert_eq!(
            kubelet_mount_failure(&s3_artifact("s3-cred"), &partial).as_deref(),
            Some(
                r#"MountVolume.SetUp failed for volume "s3-cred" : references non-existent secret key: accesskey"#
            )
        );
    }
}
