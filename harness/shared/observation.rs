//! What one cell showed: the outcome, Argo's words and everything needed to believe them.
//! Every room uses these types; they know nothing of how a backend produced them.

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
    /// Secrets of the namespace that Argo printed (values never kept: where, not what).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposures: Vec<Exposure>,
    pub evidence: Evidence,
}

/// A secret value of the scenario's namespace found in what Argo printed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Exposure {
    /// The Secret's name and key: `my-s3-credentials/secretKey`.
    pub secret: String,
    /// Which of Argo's outputs printed it (`container init`, `probe stderr`, …) and on which line.
    pub source: String,
    pub line: usize,
    /// How it was written: `plain`, `base64`, `url-escaped` or `json-escaped`.
    pub encoding: String,
}

impl Exposure {
    /// `my-s3-credentials/secretKey in container init line 3 (plain)`.
    pub fn describe(&self) -> String {
        format!(
            "{} in {} line {} ({})",
            self.secret, self.source, self.line, self.encoding
        )
    }
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
    /// What Argo's own code printed, by where it printed it (the probe's stdout and stderr on the
    /// local backend; the controller's log and each pod container's on the cluster).
    #[serde(default)]
    pub logs: Vec<ArgoLog>,
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

impl Observation {
    /// The observation of a cell its backend cannot run.
    pub fn not_applicable(backend: &str, why: String) -> Self {
        Observation {
            outcome: ObservedOutcome::NotApplicable,
            message: why,
            exposures: vec![],
            evidence: Evidence {
                probe: backend.into(),
                ..Default::default()
            },
        }
    }
}

/// One stream of Argo's output, named by where it came from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgoLog {
    /// `probe stdout`, `workflow-controller`, `container init`, …
    pub source: String,
    pub text: String,
}

impl ArgoLog {
    pub fn new(source: impl Into<String>, text: impl Into<String>) -> Self {
        ArgoLog {
            source: source.into(),
            text: text.into(),
        }
    }
}

impl Evidence {
    /// Everything Argo printed, one stream after another: what a scenario's `log` signature is
    /// matched against.
    pub fn argo_output(&self) -> String {
        self.logs
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// What the fakes saw: one line per request, kept as evidence for the cell that caused it.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Event {
    /// Which fake answered (`pod-identity-agent`, `sts`, ...).
    pub fake: String,
    /// Method and path, e.g. `GET /v1/credentials`.
    pub request: String,
    pub status: u16,
    /// Why the fake answered that way, in the words of its reply.
    pub detail: String,
    /// A failure of the fake cloud itself (faults.rs), not an answer: the cell is an infra error.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub infra: bool,
}
