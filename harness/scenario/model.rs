//! The scenario model: what a scenario file says, after validation.
//!
//! A scenario is data: the auth setup, the artifact in Argo's own schema, and the expected outcome per
//! Argo version range. Nothing here knows what any Argo version actually does.

use super::range::VersionRange;
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Which part of Argo a scenario exercises; each component has its own probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Component {
    /// argoexec's init container loading an S3 input artifact (`workflow/artifacts` → S3 driver).
    ExecutorS3,
    /// The workflow-controller looking up the entrypoint of an image without `command`
    /// (`workflow/controller/entrypoint` → k8schain → registry).
    ControllerEntrypoint,
    /// A workflow's pod on a Kubernetes node: the kubelet pulling its image, the executor's RBAC,
    /// the pod's security context and volumes. Only a cluster with a node can run it.
    Node,
}

impl Component {
    pub fn as_str(self) -> &'static str {
        match self {
            Component::ExecutorS3 => "executor-s3",
            Component::ControllerEntrypoint => "controller-entrypoint",
            Component::Node => "node",
        }
    }

    /// Whether the local backend has a probe for it (a node's behaviour needs a node).
    pub fn has_probe(self) -> bool {
        self != Component::Node
    }
}

/// The ambient AWS identity of the pod running Argo's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// No ambient identity: whatever credentials exist come from the artifact's secrets.
    None,
    /// IAM Roles for Service Accounts: a projected token exchanged at STS (AssumeRoleWithWebIdentity).
    Irsa,
    /// EKS Pod Identity: a projected token presented to the node's agent on 169.254.170.23.
    PodIdentity,
}

/// What the projected service-account token in the pod looks like.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenKind {
    /// Signed by the cluster, right audience, not expired.
    #[default]
    Valid,
    /// Right audience, `exp` in the past.
    Expired,
    /// `nbf` in the future.
    NotYetValid,
    /// Audience meant for the other mechanism (IRSA's for Pod Identity and vice versa).
    WrongAudience,
    /// Not a JWT at all.
    Malformed,
    /// An empty token file.
    Empty,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Auth {
    pub mode: AuthMode,
    pub token: TokenKind,
}

/// State of the fake cloud around the pod, as opposed to the pod's own configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgentState {
    #[default]
    Running,
    /// Nothing listens on 169.254.170.23:80 (agent DaemonSet missing or crashed).
    Down,
}

/// Which S3 server holds the scenario's bucket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum S3Server {
    /// moto: S3 behind IAM, which checks every key and policy as AWS does (the default).
    #[default]
    Moto,
    /// MinIO, as Argo's quick-start deploys it (`minio:9000`, its root user's keys). Only its
    /// root user exists: no IAM, so the scenarios it fits are static keys right or wrong.
    Minio,
}

impl S3Server {
    pub fn as_str(self) -> &'static str {
        match self {
            S3Server::Moto => "moto",
            S3Server::Minio => "minio",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cloud {
    #[serde(default)]
    pub s3: S3Server,
    #[serde(default)]
    pub pod_identity_agent: AgentState,
    /// Lifetime of tokens the ECR API issues (ECR: 12 hours).
    #[serde(default = "default_ecr_token_lifetime")]
    pub ecr_token_lifetime_seconds: i64,
    /// What public.ecr.aws answers stale credentials with: 403 (seen until 2023) or 400 (since 2024).
    #[serde(default = "default_stale_status")]
    pub ecr_public_stale_status: u16,
}

impl Default for Cloud {
    fn default() -> Self {
        Cloud {
            s3: S3Server::Moto,
            pod_identity_agent: AgentState::Running,
            ecr_token_lifetime_seconds: default_ecr_token_lifetime(),
            ecr_public_stale_status: default_stale_status(),
        }
    }
}

fn default_ecr_token_lifetime() -> i64 {
    12 * 3600
}

fn default_stale_status() -> u16 {
    400
}

/// The outcome a scenario expects on some Argo versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpectedOutcome {
    Pass,
    Fail,
    /// Exploratory: the report shows what was observed and judges nothing.
    Unknown,
}

#[derive(Clone, Debug)]
pub struct Expectation {
    pub range: VersionRange,
    pub outcome: ExpectedOutcome,
    /// For `fail`: a regex the observed error must match.
    pub error: Option<Regex>,
    /// For `fail`: a regex Argo's log output (the probe's stdout and stderr) must match, for
    /// failures whose cause is logged rather than returned (aws-sdk-go v1 logs why it skipped a provider).
    pub log: Option<Regex>,
    /// Secrets (`NAME/KEY`) Argo prints into its own logs on these versions: credential exposure
    /// expected here, a finding anywhere else.
    pub exposes: Vec<String>,
    /// Why this expectation holds (upstream reference, measured evidence).
    pub note: Option<String>,
}

/// The workflow's side: for an entrypoint lookup a container image without `command`; for a node
/// scenario the main container's command, and the pod's security context and volumes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkflowSpec {
    pub image: String,
    /// node: the main container's `command` (explicit, so the controller looks nothing up).
    #[serde(default)]
    pub command: Vec<String>,
    /// node: `spec.securityContext` (a Kubernetes PodSecurityContext).
    #[serde(default)]
    pub security_context: Option<serde_json::Value>,
    /// node: `spec.volumes` (Kubernetes Volumes).
    #[serde(default)]
    pub volumes: Vec<serde_json::Value>,
    /// node: the main container's `volumeMounts`.
    #[serde(default)]
    pub volume_mounts: Vec<serde_json::Value>,
    /// `spec.serviceAccountName` (the lookup uses the workflow-level one).
    #[serde(default)]
    pub service_account_name: Option<String>,
    /// `spec.imagePullSecrets`, by name.
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
    /// How the registry holds `image`: empty, one image manifest (linux/amd64); else an OCI image
    /// index whose children are exactly these platforms (`os/arch[/variant]`, e.g. `linux/amd64`).
    #[serde(default)]
    pub image_index: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceAccountSpec {
    pub name: String,
    #[serde(default)]
    pub image_pull_secrets: Vec<String>,
}

/// A `kubernetes.io/dockerconfigjson` secret with one registry entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PullSecretSpec {
    pub registry: String,
    pub username: String,
    pub password: String,
}

/// What exists in the workflow's namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesSpec {
    #[serde(default)]
    pub service_accounts: Vec<ServiceAccountSpec>,
    #[serde(default)]
    pub pull_secrets: BTreeMap<String, PullSecretSpec>,
    /// node: the rules (RBAC PolicyRules) of the Role bound to the workflow's ServiceAccount —
    /// what its executor may do. Absent: the Role Argo's docs give the executor.
    #[serde(default)]
    pub executor_rules: Option<Vec<serde_json::Value>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageIndexEntry {
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
}

/// The controller's configuration that matters here: the `images:` index of its configmap.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ControllerSpec {
    #[serde(default)]
    pub images: BTreeMap<String, ImageIndexEntry>,
    /// The CPU the controller runs on (default: this machine's). From v4.0.0 the entrypoint lookup
    /// asks the registry for the controller's own platform (argo-v4-facts.md §1, PR 15059).
    #[serde(default)]
    pub arch: Option<Arch>,
}

/// A CPU architecture, named as Go names it (GOARCH).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Amd64,
    Arm64,
}

impl Arch {
    /// This machine's architecture; None on one the harness does not know.
    pub fn host() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::Amd64),
            "aarch64" => Some(Arch::Arm64),
            _ => None,
        }
    }

    /// GOARCH.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    /// Debian's qemu-user-static binary that runs this architecture's programs elsewhere.
    pub fn qemu(self) -> &'static str {
        match self {
            Arch::Amd64 => "qemu-x86_64-static",
            Arch::Arm64 => "qemu-aarch64-static",
        }
    }
}

#[derive(Clone, Debug)]
pub struct EntrypointSpec {
    pub workflow: WorkflowSpec,
    pub kubernetes: KubernetesSpec,
    pub controller: ControllerSpec,
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    pub component: Component,
    pub references: Vec<String>,
    pub auth: Auth,
    pub cloud: Cloud,
    /// executor-s3: the artifact exactly as a workflow would carry it (Argo's `Artifact` schema);
    /// `Null` for other components.
    pub artifact: serde_json::Value,
    /// controller-entrypoint and node: the workflow, the namespace's objects and the controller's index.
    pub entrypoint: Option<EntrypointSpec>,
    /// Kubernetes secrets the executor may read: name → key → value. Values may use
    /// `${cloud.NAME}` placeholders for credentials the fake cloud issues at run time.
    pub secrets: BTreeMap<String, BTreeMap<String, String>>,
    pub expectations: Vec<Expectation>,
    /// Where `authmatrix scan` found this setup: objects and field paths, never values. A verdict
    /// shows them beside what it says of the setup.
    pub found_in: Vec<String>,
    pub source: PathBuf,
}

impl Scenario {
    /// The architecture the controller of this scenario runs on when it differs from this
    /// machine's: its probe is built for it and runs emulated.
    pub fn foreign_arch(&self) -> Option<Arch> {
        let arch = self.entrypoint.as_ref()?.controller.arch?;
        (Some(arch) != Arch::host()).then_some(arch)
    }

    /// The expectation whose range contains `version`, if any (ranges never overlap).
    pub fn expectation_for(&self, version: &semver::Version) -> Option<&Expectation> {
        self.expectations.iter().find(|e| e.range.contains(version))
    }
}

/// Names usable as `${cloud.NAME}` in secret values.
pub const CLOUD_PLACEHOLDERS: &[&str] = &[
    "staticAccessKeyId",
    "staticSecretAccessKey",
    // An ECR registry password from GetAuthorizationToken (as `aws ecr get-login-password` prints it),
    // and one whose 12 hours are over.
    "ecrToken",
    "ecrExpiredToken",
    // The user of the private registry (basic personality) and its password.
    "registryUsername",
    "registryPassword",
    // MinIO's root user and password (made per run), for `cloud.s3: minio` scenarios: the keys
    // Argo's quick-start puts into its `my-minio-cred` Secret.
    "minioRootUser",
    "minioRootPassword",
];
