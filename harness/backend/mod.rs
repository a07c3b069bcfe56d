//! Backends run one matrix cell: a scenario on one Argo version, against the fake cloud.
//!
//! `local` runs Argo's own code (probes built per tag) in a private namespace; `cluster` runs Argo's
//! released binaries against a real Kubernetes API server (`local-up` inside the same kind of
//! sandbox, or kind). Both produce the same [`Observation`].

pub mod cell;
pub mod cluster;
pub mod exposure;
pub mod identity;
pub mod local;
pub mod objects;
pub mod sandbox;

// The builds are the build layer's; a backend names the ones it shares (`Backend::builds`).
pub use crate::builds::{BuildEvent, Builds, TagInfos};
use crate::scenario::Scenario;
use crate::shared::{ArgoTag, Observation};

/// One backend alone, ready for these cells: its builds, then its start. For checks that drive a
/// backend by hand; a run goes through the matrix's scheduler, which starts cells as builds end.
pub fn start_alone(
    backend: &mut dyn Backend,
    scenarios: &[Scenario],
    tags: &[ArgoTag],
) -> anyhow::Result<TagInfos> {
    let every = crate::builds::every_cell;
    let infos = backend.builds().build(scenarios, tags, &every, &|_| {})?;
    backend.start(scenarios)?;
    Ok(infos)
}
/// Local sandboxes a run uses side by side when no earlier run timed its cells: cells mostly wait,
/// so more than the 2 cores pays off.
pub const DEFAULT_LOCAL_JOBS: usize = 4;

/// The most local sandboxes a run starts unasked (`matrix::default_jobs` chooses up to this many
/// for the waiting work). The warm default matrix on 2 busy cores (2026-12-02): 6 sandboxes
/// 31.4 s, 8 28.2 s, 12 25.8–26.2 s, 16 32.0 s (the last ones were ready after the last cell).
pub const MOST_LOCAL_JOBS: usize = 12;

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

    /// The cluster's provider, for the report (`None` for the local backend).
    pub fn provider(self) -> Option<&'static str> {
        match self {
            Choice::Local => None,
            Choice::Cluster(p) => Some(p.as_str()),
        }
    }

    /// Backends side by side by default: local sandboxes are cheap; each cluster backend runs a
    /// control plane of its own.
    pub fn default_jobs(self) -> usize {
        match self {
            Choice::Local => DEFAULT_LOCAL_JOBS,
            // Each backend has its own sandbox and cluster (kind's on its own engine).
            Choice::Cluster(_) => 2,
        }
    }
}

impl Choice {
    /// Refuses a backend that can run none of these scenarios, before anything starts: a run
    /// that could only report every cell not applicable is a mistake, not a result. Only the local
    /// backend has such a limit (it has no node); either cluster provider runs every column.
    pub fn check_can_run(self, scenarios: &[Scenario]) -> anyhow::Result<()> {
        let runs_none = !scenarios.iter().any(|s| s.component.has_probe());
        if self == Choice::Local && !scenarios.is_empty() && runs_none {
            anyhow::bail!(
                "--backend local: node scenarios need a Kubernetes node (a kubelet pulling images, RBAC, volumes); use --backend cluster"
            );
        }
        Ok(())
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
    let cache_dir = crate::builds::cache_dir();
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

    /// Where a cluster backend's cluster comes from (`local-up`, `kind`), for the report.
    fn provider(&self) -> Option<&'static str> {
        None
    }

    /// The builds this backend shares with the other backends of its pool (the local backend's
    /// probes, the cluster's Kubernetes and controllers): the scheduler calls [`Builds::build`]
    /// once and runs each cell as soon as its build is announced.
    fn builds(&self) -> std::sync::Arc<dyn Builds>;

    /// Starts what runs cells (a sandbox; a cluster, once what it needs is built) while the other
    /// builds go on. A start that fails for one cell's reasons is that cell's observation; `Err`
    /// means nothing can run.
    fn start(&mut self, scenarios: &[Scenario]) -> anyhow::Result<()>;

    /// Runs one cell. Never panics on a product failure: that is an observation.
    fn run(&mut self, scenario: &Scenario, tag: &ArgoTag) -> Observation;

    /// Why this backend cannot run the scenario at all, if it cannot.
    fn not_applicable(&self, _scenario: &Scenario) -> Option<String> {
        None
    }

    /// Whether running this scenario makes [`Backend::start`] start a server of its own that the
    /// catalogue's other scenarios do not need (MinIO, for `cloud.s3: minio`): the matrix then
    /// starts only a share of its backends with such scenarios and runs their cells there.
    fn needs_own_server(&self, _scenario: &Scenario) -> bool {
        false
    }
}
