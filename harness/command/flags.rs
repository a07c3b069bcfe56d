//! What each command takes, as clap reads it: closed choices are typed here (`--backend`,
//! `--provider`, `--format`), so a wrong word is a usage error with the possible values; the rest
//! (tags, globs, files) is checked by `Config`'s constructors before anything starts.

use crate::backend::{Choice, cluster::provider::ProviderKind};
use std::path::PathBuf;

/// Seconds one probe or one cluster workflow may run, unless `--probe-timeout` says otherwise.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// Where cells run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// Argo's code via probes, in a sandbox.
    Local,
    /// Argo's released workflow-controller against a real Kubernetes API server.
    Cluster,
}

/// Where the cluster backend's cluster comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    /// Built from Kubernetes' Go modules, no container engine.
    LocalUp,
    /// kind, on the harness's own container engine (`make engine`, `make kind-node`).
    Kind,
}

impl From<Provider> for ProviderKind {
    fn from(p: Provider) -> Self {
        match p {
            Provider::LocalUp => ProviderKind::LocalUp,
            Provider::Kind => ProviderKind::Kind,
        }
    }
}

/// How a result is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// `--backend` and `--provider` of the commands that run cells.
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct Target {
    /// Where to run the cells: `local` (Argo's code via probes, in a sandbox) or `cluster`
    /// (Argo's released workflow-controller against a real Kubernetes API server).
    #[arg(long, value_enum, default_value_t = Backend::Local, env = "AUTHMATRIX_BACKEND")]
    pub backend: Backend,
    /// Where the cluster backend's cluster comes from: `local-up` (built from Kubernetes' Go
    /// modules, no container engine) or `kind` (the docker CLI and what `make engine kind-node` builds; no registry).
    #[arg(long, value_enum, default_value_t = Provider::LocalUp)]
    pub provider: Provider,
}

impl From<Target> for Choice {
    fn from(t: Target) -> Self {
        match t.backend {
            Backend::Local => Choice::Local,
            Backend::Cluster => Choice::Cluster(t.provider.into()),
        }
    }
}

/// `--probe-timeout`: one bound for a probe (local) or a workflow (cluster), on every command.
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct Timeout {
    /// Seconds one probe (local) or one workflow (cluster) may run.
    #[arg(long = "probe-timeout", value_name = "SECONDS", default_value_t = DEFAULT_TIMEOUT_SECS)]
    pub seconds: u64,
}

impl Timeout {
    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.seconds)
    }
}

impl Default for Timeout {
    fn default() -> Self {
        Timeout {
            seconds: DEFAULT_TIMEOUT_SECS,
        }
    }
}

/// `--format`, with `--json` kept for scripts that use it.
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct Output {
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

impl Output {
    pub fn format(self) -> Format {
        match self.json {
            true => Format::Json,
            false => self.format,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct Selection {
    /// Argo tags, comma-separated (default: v3.5.11,v3.6.0,v3.6.4,v3.6.5,v3.7.18,v4.0.5).
    #[arg(long, env = "AUTHMATRIX_ARGO")]
    pub argo: Option<String>,
    /// Only scenarios whose id matches this glob; repeatable (in the environment: comma-separated).
    #[arg(
        long = "scenario",
        value_name = "GLOB",
        env = "AUTHMATRIX_SCENARIO",
        value_delimiter = ','
    )]
    pub scenarios: Vec<String>,
    /// Directory of scenario files (default: the project's scenarios/).
    #[arg(long = "scenarios", value_name = "DIR")]
    pub scenario_dir: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(flatten)]
    pub selection: Selection,
    /// Output directory for the reports.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    #[command(flatten)]
    pub timeout: Timeout,
    /// Backends running cells side by side, each with its own sandbox (default: local, as many
    /// as the previous run's cell times call for, up to 12, else 4; cluster, 2).
    #[arg(long)]
    pub jobs: Option<usize>,
}

#[derive(clap::Args, Debug)]
pub struct ScanArgs {
    /// Manifest files or directories (multi-document YAML: `helm template` or Kustomize output, a
    /// GitOps repository).
    #[arg(long, value_name = "PATH", num_args = 1.., required_unless_present = "kubeconfig", conflicts_with = "kubeconfig")]
    pub manifests: Vec<PathBuf>,
    /// A live cluster, read-only (lists only; Helm release Secrets are never read).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current one).
    #[arg(long, requires = "kubeconfig")]
    pub context: Option<String>,
    /// Namespace of manifest objects that name none (as `kubectl apply -n`).
    #[arg(long, default_value = "default")]
    pub namespace: String,
    #[command(flatten)]
    pub output: Output,
    /// Write one scenario file per setup, and scan.json, into this directory (for
    /// `verdict --scenarios DIR`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The catalogue the setups are matched against (default: the project's scenarios/).
    #[arg(long = "scenarios", value_name = "DIR")]
    pub scenario_dir: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct VerdictArgs {
    /// The version running now (default: the one `scan --out` recorded in --scenarios DIR).
    #[arg(long)]
    pub from: Option<String>,
    #[arg(long)]
    pub to: String,
    /// Scenario id globs of the setups you rely on (default: all); repeatable.
    #[arg(long = "uses", value_name = "GLOB")]
    pub uses: Vec<String>,
    /// A file of such globs, one per line (`#` starts a comment).
    #[arg(long = "uses-file", value_name = "FILE")]
    pub uses_file: Option<PathBuf>,
    /// Read the cells from this run's report.json instead of running them.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Where the cells run when there is no --report (node scenarios need the cluster; on the
    /// local backend they are not applicable, so the verdict is CONDITIONAL for them).
    #[command(flatten)]
    pub target: Target,
    #[arg(long = "scenarios", value_name = "DIR")]
    pub scenario_dir: Option<PathBuf>,
    /// Backends side by side, on either backend (default: as for `run`).
    #[arg(long)]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub timeout: Timeout,
    #[command(flatten)]
    pub output: Output,
}

#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    pub scenario: String,
    #[arg(long)]
    pub from: String,
    #[arg(long)]
    pub to: String,
    #[arg(long)]
    pub bisect: bool,
    #[arg(long = "scenarios", value_name = "DIR")]
    pub scenario_dir: Option<PathBuf>,
    #[arg(long, default_value_t = crate::backend::DEFAULT_LOCAL_JOBS)]
    pub jobs: usize,
    #[command(flatten)]
    pub timeout: Timeout,
}

#[derive(clap::Args, Debug)]
pub struct PrepareArgs {
    /// What to build: probes (`local`), or Kubernetes, etcd and each tag's workflow-controller
    /// (`cluster`).
    // No AUTHMATRIX_BACKEND here: `make probes` must build probes whatever a CI job exported.
    #[arg(long, value_enum, default_value_t = Backend::Local)]
    pub backend: Backend,
    /// With `--backend cluster`: `kind` also checks for kind's CLI, node image and engine.
    #[arg(long, value_enum, default_value_t = Provider::LocalUp)]
    pub provider: Provider,
    #[command(flatten)]
    pub selection: Selection,
    /// Also copy each probe's go.sum into probes/<probe>/sums/<tag>.sum (to commit).
    #[arg(long)]
    pub write_sums: bool,
}
