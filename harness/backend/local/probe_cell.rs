//! One cell on the local backend: the probe's request for a scenario, and what its answer means.

use crate::backend::objects::{self, Objects, SuccessCheck};
use crate::backend::sandbox::network::ECR_REGISTRY_HOST;
use crate::fakes::world;
use crate::scenario::Scenario;
use crate::shared::{Evidence, ObservedOutcome};
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
