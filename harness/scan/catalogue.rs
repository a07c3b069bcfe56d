//! `scan --out DIR`: the setups found, as scenario files `--scenarios DIR` loads, plus `scan.json`
//! (the scan itself, whose `running` version `verdict` takes as its default `--from`).
//!
//! A setup that corresponds to a catalogue scenario is that scenario's file with the team's names
//! put in where the expectations do not name the catalogue's own (an error regex that names
//! `regcred` must keep `regcred`), and its expectations unchanged. An exploratory setup starts
//! from the nearest scenario of its component and expects nothing (`outcome: unknown`).

use super::{Scan, Setup};
use crate::scenario::{AuthMode, Component};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The file in DIR recording the scan (and the running version).
pub const RECORD: &str = "scan.json";

/// Writes one scenario file per setup and `scan.json`; returns the files written.
pub fn write(scan: &Scan, catalogue: &Path, out: &Path) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut written = Vec::new();
    for setup in &scan.setups {
        let scenario = scenario_for(setup, catalogue)?;
        let yaml = serde_saphyr::to_string(&scenario).map_err(|e| e.to_string())?;
        let path = out.join(format!("{}.yaml", setup.id));
        std::fs::write(&path, format!("{}{yaml}", header(setup)))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path);
    }
    let record = out.join(RECORD);
    let json = serde_json::to_string_pretty(scan).map_err(|e| e.to_string())?;
    std::fs::write(&record, json + "\n").map_err(|e| format!("{}: {e}", record.display()))?;
    written.push(record);
    Ok(written)
}

/// The running version a scan recorded in `dir`, if it recorded one.
pub fn recorded_running(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(RECORD)).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v.get("running")?.as_str().map(str::to_string)
}

/// Comments on top: where the setup was found (evidence lines hold references, never values).
fn header(s: &Setup) -> String {
    let mut h = format!("# authmatrix scan: {}\n# {}\n", s.id, s.summary);
    match &s.corresponds_to {
        Some(id) => h.push_str(&format!(
            "# corresponds to the catalogue's {id}: setup and expectations copied from it\n"
        )),
        None => h.push_str(
            "# exploratory: no catalogue scenario describes this setup; nothing is expected\n",
        ),
    }
    h.push_str("# found in:\n");
    for e in &s.evidence {
        h.push_str(&format!("#   {e}\n"));
    }
    h
}

fn read_catalogue(catalogue: &Path, id: &str) -> Result<Value, String> {
    let path = catalogue.join(format!("{id}.yaml"));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn scenario_for(s: &Setup, catalogue: &Path) -> Result<Value, String> {
    let (base, exploratory) = match &s.corresponds_to {
        Some(id) => (id.clone(), false),
        None => (nearest(s).to_string(), true),
    };
    let mut v = read_catalogue(catalogue, &base)?;
    let title = v["title"].as_str().unwrap_or("").to_string();
    v["id"] = json!(s.id);
    v["title"] = match exploratory {
        false => json!(format!("{title} (as found: {})", s.summary)),
        true => json!(format!("As found: {} (exploratory)", s.summary)),
    };
    if exploratory {
        make_exploratory(&mut v, s);
    }
    keep_team_names(&mut v, s);
    // The verdict names the team's objects beside each finding.
    v["foundIn"] = json!(s.evidence);
    Ok(v)
}

/// The catalogue scenario an exploratory setup starts from: same component, same identity.
fn nearest(s: &Setup) -> &'static str {
    match (s.component, s.auth) {
        (Component::ExecutorS3, AuthMode::Irsa) => "s3-irsa-default-iam",
        (Component::ExecutorS3, AuthMode::PodIdentity) => "s3-pod-identity-default-iam",
        (Component::ExecutorS3, AuthMode::None) => "s3-static-keys",
        (Component::ControllerEntrypoint, AuthMode::Irsa) => "ecr-irsa-entrypoint",
        (Component::ControllerEntrypoint, AuthMode::PodIdentity) => "ecr-pod-identity-entrypoint",
        (Component::ControllerEntrypoint, AuthMode::None) => "basic-no-secret-entrypoint",
        (Component::Node, _) if s.summary.contains("hostPath") => "hostpath-not-writable",
        (Component::Node, _) => "executor-rbac-missing-taskresults",
    }
}

/// The team's S3 credential fields over the base artifact (endpoint, region and key stay the
/// fake cloud's), and no expectation.
fn make_exploratory(v: &mut Value, s: &Setup) {
    if let (Some(team), Some(s3)) = (&s.s3, v.pointer_mut("/artifact/s3")) {
        for f in [
            "useSDKCreds",
            "roleARN",
            "accessKeySecret",
            "secretKeySecret",
            "sessionTokenSecret",
        ] {
            match team.get(f) {
                Some(x) => s3[f] = x.clone(),
                None => {
                    if let Some(o) = s3.as_object_mut() {
                        o.remove(f);
                    }
                }
            }
        }
    }
    v["expect"] = json!([{
        "versions": ">=3.0.0",
        "outcome": "unknown",
        "note": "authmatrix scan found this setup; no catalogue scenario describes it, so the run shows what happens and judges nothing",
    }]);
}

/// The team's ServiceAccount and bucket, where the expectations do not name the catalogue's.
fn keep_team_names(v: &mut Value, s: &Setup) {
    let pinned = expectation_text(v);
    let free = |old: &str| !old.is_empty() && !pinned.contains(old);
    let text = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    if let Some(team) = &s.names.service_account
        && let Some(old) = text(v, "/workflow/serviceAccountName")
        && free(&old)
    {
        v["workflow"]["serviceAccountName"] = json!(team);
        let accounts = v
            .pointer_mut("/kubernetes/serviceAccounts")
            .and_then(Value::as_array_mut);
        for sa in accounts.into_iter().flatten() {
            if sa["name"] == json!(old) {
                sa["name"] = json!(team);
            }
        }
    }
    if let Some(team) = &s.names.bucket
        && let Some(old) = text(v, "/artifact/s3/bucket")
        && free(&old)
    {
        v["artifact"]["s3"]["bucket"] = json!(team);
    }
}

/// Every error and log pattern of the expectations, as one text.
fn expectation_text(v: &Value) -> String {
    v["expect"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| [e.get("error"), e.get("log")])
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join("\n")
}
