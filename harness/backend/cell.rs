//! What both backends do around one cell, written once: the prologue (the tag's build, the
//! scenario's fake cloud, the cell's directory, the namespace's objects with their secrets known to
//! the redactor, the pod's AWS token and environment) and the epilogue (a failed fake overrides
//! what Argo said; everything kept as evidence is redacted; a cell that could not be observed is an
//! error, redacted too).

use super::objects::{self, Objects};
use super::sandbox::cloud::SandboxedCloud;
use super::{exposure, identity};
use crate::fakes::world;
use crate::scenario::Scenario;
use crate::shared::{ArgoTag, Evidence, Observation, ObservedOutcome};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Most of each of Argo's logs kept as evidence (a controller's log runs to megabytes).
const LOG_LIMIT: usize = 64 * 1024;

/// A cell once its prologue ran.
pub struct CellStart {
    /// `<run dir>/cells/<scenario>/<tag>`: requests, tokens, logs of this cell.
    pub dir: PathBuf,
    /// The namespace's objects, as the cluster backend creates them and the probes read them.
    pub objects: Objects,
}

/// The tag's build (a probe, a workflow-controller), or why the cell cannot run: `what` names it.
pub fn prepared<T: Clone>(
    build: Option<&Result<T, String>>,
    tag: &ArgoTag,
    what: &str,
) -> Result<T, String> {
    match build {
        Some(Ok(b)) => Ok(b.clone()),
        Some(Err(e)) => Err(format!("no {what} for {tag}: {e}")),
        None => Err(format!("{tag} was not prepared")),
    }
}

/// Readies the fake cloud for the scenario, makes the cell's directory and the namespace's objects;
/// every secret value among them is redacted from then on.
pub fn begin(
    cloud: &mut SandboxedCloud,
    scenario: &Scenario,
    tag: &ArgoTag,
    namespace: &str,
) -> Result<CellStart, String> {
    cloud.apply(scenario)?;
    let dir = cloud
        .run_dir()
        .join("cells")
        .join(&scenario.id)
        .join(&tag.tag);
    crate::cleanup::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let objects = objects::objects(scenario, namespace, &cloud.cloud_values()?);
    for value in objects.secret_values() {
        cloud.redactor.add(&value);
    }
    Ok(CellStart { dir, objects })
}

/// Writes the pod's projected AWS token into the cell's directory, as the kubelet would (no
/// trailing newline: the kubelet writes none, and SDKs reject one); the token is redacted.
pub fn write_token(
    cloud: &mut SandboxedCloud,
    dir: &Path,
    token: Option<String>,
) -> Result<Option<PathBuf>, String> {
    let Some(token) = token else { return Ok(None) };
    cloud.redactor.add(&token);
    let path = dir.join("token");
    std::fs::write(&path, token).map_err(|e| e.to_string())?;
    Ok(Some(path))
}

/// The environment EKS gives a pod of the scenario's identity, with the cell's token file.
pub fn pod_env(
    cloud: &SandboxedCloud,
    scenario: &Scenario,
    dir: &Path,
    token_file: Option<&Path>,
) -> BTreeMap<String, String> {
    identity::pod_env(
        scenario,
        dir,
        &cloud.ca_file,
        token_file,
        &world::role_arn(world::ARTIFACT_ROLE),
    )
}

/// The observation from what the backend judged and the raw evidence: a fake that failed decides
/// the cell before anything Argo did; the namespace's secrets are looked for in Argo's raw output
/// (where, never what); nothing leaves unredacted.
pub fn finish(
    cloud: &SandboxedCloud,
    judged: (ObservedOutcome, String),
    evidence: Evidence,
    objects: &Objects,
) -> Observation {
    let (outcome, message) = match crate::fakes::faults::infra_failure(&evidence.fake_events) {
        Some(why) => (ObservedOutcome::Error, why),
        None => judged,
    };
    let exposures = exposure::find(&exposure::values_by_secret(objects), &evidence.logs);
    Observation {
        outcome,
        message: cloud.redactor.redact(&message),
        exposures,
        evidence: redacted(cloud, evidence),
    }
}

/// The observation of a cell that could not be observed (`probe` names what would have run).
pub fn unobserved(cloud: &SandboxedCloud, probe: String, message: &str) -> Observation {
    Observation {
        outcome: ObservedOutcome::Error,
        message: cloud.redactor.redact(message),
        exposures: vec![],
        evidence: Evidence {
            probe,
            ..Default::default()
        },
    }
}

fn redacted(cloud: &SandboxedCloud, mut evidence: Evidence) -> Evidence {
    let redact = |s: &str| cloud.redactor.redact(s);
    evidence.env = cloud.redact_env(&evidence.env);
    for log in &mut evidence.logs {
        log.text = redact(tail(&log.text, LOG_LIMIT));
    }
    evidence.fake_events = cloud.redact_events(std::mem::take(&mut evidence.fake_events));
    evidence.diagnosis = evidence.diagnosis.as_deref().map(redact);
    // Through the redactor as text: status messages and events may quote anything.
    evidence.kube = evidence
        .kube
        .take()
        .and_then(|k| serde_json::from_str(&redact(&k.to_string())).ok());
    evidence
}

/// The last `limit` bytes of `text`, cut at a character boundary.
fn tail(text: &str, limit: usize) -> &str {
    let mut cut = text.len().saturating_sub(limit);
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    &text[cut..]
}
