//! The command line: the commands and their help. Each command's flags are
//! `authmatrix::command::flags`; `main.rs` turns them into a validated `Config` and runs it.

use authmatrix::command::flags::{ExplainArgs, PrepareArgs, RunArgs, ScanArgs, VerdictArgs};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "authmatrix",
    version,
    about = "Which Argo Workflows auth setups break on which Argo version",
    after_help = authmatrix::exit::HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the matrix and write report.json, report.md and junit.xml. Exit 0 when every cell is
    /// as expected, 1 when one is not.
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
    /// when it ran (setups or none), 3 when nothing given was readable, 4 when the cluster
    /// could not be listed.
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
