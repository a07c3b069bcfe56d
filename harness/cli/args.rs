//! The command line: what each command takes. `main.rs` carries them out.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "authmatrix",
    version,
    about = "Which Argo Workflows auth setups break on which Argo version"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(clap::Args)]
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

#[derive(Subcommand)]
pub enum Command {
    /// Run the matrix and write report.json, report.md and junit.xml.
    Run(RunArgs),
    /// Decide whether an upgrade is safe for the auth setups you use: GO (exit 0), NO-GO (exit 1,
    /// with blockers, upstream issues, fix versions and workarounds) or CONDITIONAL (exit 2).
    Verdict(VerdictArgs),
    /// Which Go modules on a scenario's code path changed between two versions; with --bisect, run
    /// the scenario on every tag in between and name the first one where the cell flips.
    Explain(ExplainArgs),
    /// Build (or find cached) what a backend needs for the selected tags, without running
    /// anything: probes (local), or Kubernetes, etcd and each tag's workflow-controller (cluster).
    Prepare(PrepareArgs),
    /// What moved between two runs: cells whose verdict or observed outcome changed, new and
    /// vanished cells. Exit 1 when a cell newly regressed. Each is a report.json or its directory.
    Diff { old: PathBuf, new: PathBuf },
    /// Read your Argo setup (rendered manifests, or a live cluster read-only) and list the auth
    /// setups it has, the objects they come from and the catalogue scenario each one is. Exit 0
    /// when it ran (setups or none), 3 when it could not scan at all.
    Scan(ScanArgs),
    /// Serve the container engine the kind provider runs its nodes on (Docker's daemon from
    /// `make engine`) in a sandbox of its own: prints DOCKER_HOST for the docker CLI, kind and
    /// testcontainers, and serves until stdin closes or Ctrl-C. Everything it ran goes with it.
    Engine,
    /// Validate the scenario catalogue and list it.
    Scenarios {
        #[arg(long = "scenarios", value_name = "DIR")]
        scenario_dir: Option<PathBuf>,
    },
    /// Check that the local backend's namespaces work here (as root or through user namespaces).
    NamespaceCheck {
        #[arg(long, hide = true)]
        inside: bool,
    },
    /// Internal: the sandbox process, started by the local backend inside its namespaces.
    #[command(hide = true)]
    SandboxServe,
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// `local` (Argo's code via probes, in a sandbox) or `cluster` (Argo's released
    /// workflow-controller against a real Kubernetes API server).
    #[arg(long, default_value = "local", env = "AUTHMATRIX_BACKEND")]
    pub backend: String,
    /// Where the cluster backend's cluster comes from: `local-up` (built from Kubernetes'
    /// Go modules, no container engine) or `kind` (Docker and a registry).
    #[arg(long, default_value = "local-up")]
    pub provider: String,
    #[command(flatten)]
    pub selection: Selection,
    /// Output directory for the reports.
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Seconds one probe may run.
    #[arg(long, default_value_t = 60)]
    pub probe_timeout: u64,
    /// Backends running cells side by side, each with its own sandbox (default: local, as many
    /// as the previous run's cell times call for, up to 12, else 4; cluster, 2).
    #[arg(long)]
    pub jobs: Option<usize>,
}

#[derive(clap::Args)]
pub struct ScanArgs {
    /// Manifest files or directories (multi-document YAML: `helm template` or Kustomize output, a
    /// GitOps repository).
    #[arg(long, value_name = "PATH", num_args = 1.., required_unless_present = "kubeconfig", conflicts_with = "kubeconfig")]
    pub manifests: Vec<std::path::PathBuf>,
    /// A live cluster, read-only (lists only; Helm release Secrets are never read).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: its current one).
    #[arg(long, requires = "kubeconfig")]
    pub context: Option<String>,
    /// Namespace of manifest objects that name none (as `kubectl apply -n`).
    #[arg(long, default_value = "default")]
    pub namespace: String,
    /// Print the scan as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write one scenario file per setup, and scan.json, into this directory (for
    /// `verdict --scenarios DIR`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The catalogue the setups are matched against (default: the project's scenarios/).
    #[arg(long = "scenarios", value_name = "DIR")]
    pub scenario_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
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
    /// Where to run the cells when there is no --report: `local` or `cluster` (node scenarios
    /// need the cluster; on the local backend they are not applicable, so the verdict is
    /// CONDITIONAL for them).
    #[arg(long, default_value = "local", env = "AUTHMATRIX_BACKEND")]
    pub backend: String,
    #[arg(long, default_value = "local-up")]
    pub provider: String,
    #[arg(long = "scenarios", value_name = "DIR")]
    pub scenario_dir: Option<PathBuf>,
    /// Local sandboxes side by side (default: as for `run`).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Print the verdict as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
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
    #[arg(long, default_value_t = authmatrix::backend::DEFAULT_LOCAL_JOBS)]
    pub jobs: usize,
}

#[derive(clap::Args)]
pub struct PrepareArgs {
    #[arg(long, default_value = "local")]
    pub backend: String,
    #[command(flatten)]
    pub selection: Selection,
    /// Also copy each probe's go.sum into probes/<probe>/sums/<tag>.sum (to commit).
    #[arg(long)]
    pub write_sums: bool,
}
