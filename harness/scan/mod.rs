//! `authmatrix scan`: read a team's real Argo setup (rendered manifests or a live cluster,
//! read-only) and say which setups it has, with the objects and field paths they come from, which
//! catalogue scenario each one is, and what could not be seen.
//!
//! objects (sanitized on read) → controller + workflows (merged) → detect → setups; `catalogue`
//! writes them as scenario files for `verdict --scenarios`.

pub mod catalogue;
mod controller;
mod detect;
mod identity;
pub mod live;
pub mod manifests;
pub mod objects;
mod rbac;
mod render;
mod repos;
mod workflows;

use crate::scenario::{AuthMode, Component};
use serde::Serialize;
use std::path::PathBuf;

/// Exit code of a scan whose manifests had nothing readable at all: bad input. (A live cluster
/// that cannot be listed through a readable kubeconfig is `crate::exit::INFRA`.)
pub const EXIT_CANNOT_SCAN: u8 = crate::exit::BAD_INPUT;

/// A scan that could not run: nothing readable.
#[derive(Debug, thiserror::Error)]
#[error("cannot scan: {0}")]
pub struct CannotScan(pub String);

/// The result of a scan.
#[derive(Debug, Serialize)]
pub struct Scan {
    /// What was read.
    pub source: String,
    /// The Argo version running now (the controller's image tag), if found.
    pub running: Option<String>,
    pub running_evidence: Option<String>,
    pub setups: Vec<Setup>,
    pub coverage: Vec<Gap>,
    /// Objects read, by kind.
    pub objects: std::collections::BTreeMap<String, usize>,
}

/// One way the team's Argo exercises one component.
#[derive(Clone, Debug, Serialize)]
pub struct Setup {
    /// Unique in the scan; the scenario id `--out` writes.
    pub id: String,
    pub summary: String,
    pub component: Component,
    /// The catalogue scenario this setup is; `None`: exploratory (no scenario describes it).
    pub corresponds_to: Option<String>,
    /// `ns/Kind/name: field.path=value` lines (references and derived facts, never values of
    /// Secrets).
    pub evidence: Vec<String>,
    pub names: Names,
    #[serde(skip)]
    pub auth: AuthMode,
    /// The S3 repository (field names and Secret references only).
    #[serde(skip)]
    pub s3: Option<serde_json::Value>,
}

impl Default for Setup {
    /// Every detector names its component; the default only fills the rest.
    fn default() -> Self {
        Setup {
            id: String::new(),
            summary: String::new(),
            component: Component::ExecutorS3,
            corresponds_to: None,
            evidence: vec![],
            names: Names::default(),
            auth: AuthMode::None,
            s3: None,
        }
    }
}

/// The team's own names, kept in the scenario `--out` writes where the schema allows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Names {
    pub namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pull_secrets: Vec<String>,
}

/// What could not be read or decided, why, and which setups are unknown because of it.
#[derive(Clone, Debug, Serialize)]
pub struct Gap {
    pub what: String,
    pub why: String,
    pub unknown: Vec<String>,
}

/// Scans manifest files and directories (`default_ns` for objects that name none).
pub fn from_manifests(paths: &[PathBuf], default_ns: &str) -> Result<Scan, CannotScan> {
    let inv = manifests::read(paths, default_ns).map_err(CannotScan)?;
    Ok(scan(inv))
}

/// Scans a live cluster through a kubeconfig, read-only.
pub fn from_cluster(
    kubeconfig: &std::path::Path,
    context: Option<&str>,
) -> Result<Scan, CannotScan> {
    let inv = live::read(kubeconfig, context)?;
    Ok(scan(inv))
}

/// Judges an inventory.
pub fn scan(inv: objects::Inventory) -> Scan {
    let c = controller::read(&inv);
    let mut coverage = inv.gaps.clone();
    coverage.extend(controller_gaps(&inv, &c));
    let (uses, elsewhere): (Vec<_>, Vec<_>) = workflows::read(&inv, &c)
        .into_iter()
        .partition(|u| c.handles(&u.namespace));
    if !elsewhere.is_empty() {
        let objects: Vec<String> = elsewhere.iter().map(|u| u.object.clone()).collect();
        coverage.push(Gap {
            what: format!(
                "{} workflow object(s) outside the controller's namespace",
                objects.len()
            ),
            why: format!(
                "{} runs --namespaced: another controller handles {}",
                c.deployment.clone().unwrap_or_default(),
                objects.join(", ")
            ),
            unknown: vec!["their setups (scan that controller's install)".into()],
        });
    }
    if uses.is_empty() {
        coverage.push(Gap {
            what: "Workflows, WorkflowTemplates, ClusterWorkflowTemplates, CronWorkflows".into(),
            why: "none found".into(),
            unknown: vec![
                "S3 artifact setups, entrypoint lookups and pull secrets of workflows".into(),
            ],
        });
    }
    let (mut setups, gaps) = detect::setups(&inv, &c, &uses);
    coverage.extend(gaps);
    if identity::agent(&inv).is_some() {
        coverage.push(Gap {
            what: "EKS Pod Identity associations".into(),
            why: "they live in the EKS API (eks:ListPodIdentityAssociations), not in Kubernetes: only pods already injected show them".into(),
            unknown: vec!["Pod Identity of ServiceAccounts without a running injected pod".into()],
        });
    }
    assign_ids(&mut setups);
    let mut objects = std::collections::BTreeMap::new();
    for o in &inv.objects {
        *objects.entry(o.kind.clone()).or_insert(0) += 1;
    }
    Scan {
        source: inv.source.clone(),
        running: c.version.clone(),
        running_evidence: c.version_evidence.clone(),
        setups,
        coverage,
        objects,
    }
}

fn controller_gaps(inv: &objects::Inventory, c: &controller::Controller) -> Vec<Gap> {
    let mut gaps = Vec::new();
    let controllers = controller::all(inv);
    if controllers.len() > 1 {
        gaps.push(Gap {
            what: format!(
                "{} workflow-controller Deployments: {}",
                controllers.len(),
                controllers.join(", ")
            ),
            why: format!(
                "only {} is judged (its version, ConfigMap and identity)",
                c.deployment.clone().unwrap_or_default()
            ),
            unknown: vec!["setups of the other controllers (scan each install on its own)".into()],
        });
    }
    if c.deployment.is_none() {
        gaps.push(Gap {
            what: "the workflow-controller Deployment".into(),
            why: format!(
                "no Deployment running a workflow-controller image was {}",
                read_wording(inv)
            ),
            unknown: vec![
                "the running version (give `verdict --from`)".into(),
                "the controller's identity (ECR lookups)".into(),
            ],
        });
    } else if c.version.is_none() {
        gaps.push(Gap {
            what: format!("{}: image tag", c.deployment.clone().unwrap_or_default()),
            why: "not an Argo release tag".into(),
            unknown: vec!["the running version (give `verdict --from`)".into()],
        });
    }
    if c.configmap.is_none() {
        gaps.push(Gap {
            what: format!("{}/ConfigMap/{}", c.namespace, c.configmap_name),
            why: match inv.listed("ConfigMap", &c.namespace) {
                true => inv.absence_wording().to_string(),
                false => "could not be read".into(),
            },
            unknown: vec![
                "the default artifact repository, the images index, workflowDefaults".into(),
            ],
        });
    }
    if let Some(p) = &c.config_problem {
        gaps.push(Gap {
            what: "the controller ConfigMap".into(),
            why: p.clone(),
            unknown: vec![
                "the default artifact repository, the images index, workflowDefaults".into(),
            ],
        });
    }
    gaps
}

fn read_wording(inv: &objects::Inventory) -> &'static str {
    match inv.readable {
        objects::Readable::Manifests => "in the manifests",
        objects::Readable::Cluster(_) => "readable in the cluster",
    }
}

/// `<namespace>-<service account>-<scenario or component>`, made unique with a counter.
fn assign_ids(setups: &mut [Setup]) {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for s in setups.iter_mut() {
        let what = s
            .corresponds_to
            .clone()
            .unwrap_or_else(|| format!("{}-exploratory", s.component.as_str()));
        let who = s.names.service_account.clone().unwrap_or_default();
        let base = slug(&format!("{}-{}-{}", s.names.namespace, who, what));
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        s.id = match *n {
            1 => base,
            n => format!("{base}-{n}"),
        };
    }
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        match c.is_ascii_lowercase() || c.is_ascii_digit() {
            true => out.push(c),
            false if !out.ends_with('-') => out.push('-'),
            false => {}
        }
    }
    out.trim_matches('-').to_string()
}

impl Scan {
    pub fn render(&self) -> String {
        render::text(self)
    }
}
