//! Backends run one matrix cell: a scenario on one Argo version, against the fake cloud.
//!
//! `local` runs Argo's own code (probes built per tag) in a private namespace; `cluster` runs Argo's
//! released binaries against a real Kubernetes API server (`local-up` inside the same kind of
//! sandbox, or kind). Both produce the same [`Observation`].

pub mod cluster;
pub mod identity;
pub mod local;
pub mod objects;
pub mod sandbox;

use crate::fakes::events::Event;
use crate::matrix::tags::ArgoTag;
use crate::scenario::{Component, Scenario};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObservedOutcome {
    /// Argo's code did what the workflow asked (and the artifact's content is the seeded one).
    Pass,
    /// Argo's code returned an error.
    Fail,
    /// The harness could not tell: probe did not build, crashed or timed out, sandbox failed.
    Error,
    /// This backend cannot run the scenario (e.g. pods that must run, on a cluster without a
    /// kubelet): reported as such, never as a pass.
    NotApplicable,
}

/// What one cell showed, with everything needed to believe it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Observation {
    pub outcome: ObservedOutcome,
    /// The error Argo's code returned (for `fail`) or the harness problem (for `error`).
    pub message: String,
    pub evidence: Evidence,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    pub probe: String,
    /// Where Argo's code stopped: `driver` (NewDriver) or `load` (Load).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    pub elapsed_ms: u64,
    /// The pod environment the probe ran with (values of secrets redacted).
    pub env: BTreeMap<String, String>,
    /// Argo's own log output.
    pub stdout: String,
    pub stderr: String,
    /// Requests the fakes answered while the probe ran.
    pub fake_events: Vec<Event>,
    /// A second look at a failure (e.g. the ECR credential helper's own error behind a 401).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<String>,
    /// The cluster backend's view of the cell: the objects as created (secret values redacted),
    /// the workflow's and its node's status, the pod, the namespace's events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube: Option<serde_json::Value>,
}

/// What a backend knows about one Argo version after preparing it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagInfo {
    pub go_version: String,
    pub checksums: String,
    pub required: BTreeMap<String, String>,
    pub linked: BTreeMap<String, String>,
    /// Set when the version could not be prepared: every cell of it is an infra error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Which backend a run uses, as the CLI (`--backend`, `--provider`) and the matrix test
/// (`AUTHMATRIX_BACKEND`) name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    Local,
    Cluster(cluster::provider::ProviderKind),
}

impl Choice {
    pub fn parse(backend: &str, provider: &str) -> anyhow::Result<Self> {
        match backend {
            "local" => Ok(Choice::Local),
            "cluster" => Ok(Choice::Cluster(
                provider.parse().map_err(|e: String| anyhow::anyhow!(e))?,
            )),
            other => anyhow::bail!("unknown backend `{other}`: use `local` or `cluster`"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Choice::Local => "local",
            Choice::Cluster(_) => "cluster",
        }
    }

    /// Backends side by side by default: local sandboxes are cheap; each cluster backend runs a
    /// control plane of its own.
    pub fn default_jobs(self) -> usize {
        match self {
            Choice::Local => crate::matrix::DEFAULT_JOBS,
            Choice::Cluster(cluster::provider::ProviderKind::LocalUp) => 2,
            // One kind cluster per run.
            Choice::Cluster(cluster::provider::ProviderKind::Kind) => 1,
        }
    }
}

/// `jobs` backends of one kind, ready for `matrix::run`. `sandbox_exe` is the `authmatrix`
/// binary (it serves the sandbox); `timeout` bounds one probe or one workflow.
pub fn pool(
    choice: Choice,
    sandbox_exe: std::path::PathBuf,
    jobs: usize,
    timeout: std::time::Duration,
) -> anyhow::Result<Vec<Box<dyn Backend + Send>>> {
    crate::cleanup::install();
    let project_root = crate::project_root();
    let cache_dir = local::LocalOptions::default_cache_dir();
    match choice {
        Choice::Local => local::pool(
            &local::LocalOptions {
                sandbox_exe,
                project_root,
                cache_dir,
                probe_timeout: timeout,
            },
            jobs,
        ),
        Choice::Cluster(provider) => cluster::pool(
            &cluster::ClusterOptions {
                sandbox_exe,
                project_root,
                cache_dir,
                provider,
                cell_timeout: timeout,
            },
            jobs,
        ),
    }
}

/// A way of running the matrix.
pub trait Backend {
    fn name(&self) -> &'static str;

    /// Gets everything version-specific ready. A version that cannot be prepared is reported in its
    /// [`TagInfo::error`], not as an `Err`: the other versions still run. `Err` means nothing can run.
    fn prepare(
        &mut self,
        tags: &[ArgoTag],
        components: &[Component],
        scenarios: &[Scenario],
    ) -> anyhow::Result<BTreeMap<String, BTreeMap<Component, TagInfo>>>;

    /// Runs one cell. Never panics on a product failure: that is an observation.
    fn run(&mut self, scenario: &Scenario, tag: &ArgoTag) -> Observation;

    /// Why this backend cannot run the scenario at all, if it cannot.
    fn not_applicable(&self, _scenario: &Scenario) -> Option<String> {
        None
    }
}

impl Observation {
    /// The observation of a cell its backend cannot run.
    pub fn not_applicable(backend: &str, why: String) -> Self {
        Observation {
            outcome: ObservedOutcome::NotApplicable,
            message: why,
            evidence: Evidence {
                probe: backend.into(),
                ..Default::default()
            },
        }
    }
}
