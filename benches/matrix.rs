//! `make bench`: the local matrix on v3.5.11, v3.6.0, v3.6.2 and v3.6.5, cold and warm: first the S3
//! column (`s3-*`), then the whole catalogue (S3 and controller entrypoint columns); then the local
//! and cluster backends side by side on the same cells (both columns on the cluster tier's tags;
//! on the cluster the S3 column runs in real pods), each cold and warm, the cluster's cold run
//! broken into building (Kubernetes, etcd, workflow-controller and argoexec), starting the cluster
//! and its node, and the cells.
//!
//! cold = empty authmatrix cache (probes or cluster binaries are built; Go's module and build caches
//! are whatever this machine has); warm = the same run again with the cache filled. Each backend
//! runs with its default number of sandboxes, as `authmatrix run` does. This is a measurement, not
//! a test: it asserts only that every cell ran.

use authmatrix::backend::cluster::{ClusterBackend, ClusterOptions, provider::ProviderKind};
use authmatrix::backend::local::LocalOptions;
use authmatrix::backend::{Backend, Choice};
use authmatrix::matrix::{self, plan};
use authmatrix::scenario;
use authmatrix::shared::ArgoTag;
use std::path::Path;
use std::time::{Duration, Instant};

const TAGS: &str = "v3.5.11,v3.6.0,v3.6.2,v3.6.5";
/// The cluster tier's tags (`make test` runs the controller column there).
const CLUSTER_TAGS: &str = "v3.5.11,v3.6.0,v3.6.5";

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run only for the former.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let all = scenario::load_dir(&root.join("scenarios")).unwrap();
    let tags = ArgoTag::parse_list(TAGS).unwrap();
    for (label, globs) in [
        ("S3 column", vec!["s3-*".to_string()]),
        ("whole matrix", vec![]),
    ] {
        let scenarios = plan::select(all.clone(), &globs).unwrap();
        let cache = tempfile::tempdir().unwrap();
        println!(
            "authmatrix local {label}: {} scenarios x {} tags = {} cells ({TAGS}), {} cores",
            scenarios.len(),
            tags.len(),
            scenarios.len() * tags.len(),
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        );
        for run_label in ["cold (empty probe cache)", "warm"] {
            let t = run(root, cache.path(), &scenarios, &tags);
            println!(
                "  {run_label:<26} total {:>6.1} s with {} sandboxes (probes' own time, summed: {:>5.1} s); {} of {} cells as expected",
                t.total.as_secs_f64(),
                authmatrix::backend::DEFAULT_LOCAL_JOBS,
                t.probe_time.as_secs_f64(),
                t.ok,
                scenarios.len() * tags.len()
            );
        }
    }
    side_by_side(root, &all);
}

/// Both columns on the cluster tier's tags, local and cluster backends, cold and warm. Node
/// scenarios are left out: the local backend cannot run them, so they are no common cells.
fn side_by_side(root: &Path, all: &[scenario::Scenario]) {
    let globs: Vec<String> = ["s3-*", "ecr-*", "basic-*", "token-*"]
        .map(String::from)
        .to_vec();
    let scenarios = plan::select(all.to_vec(), &globs).unwrap();
    let tags = ArgoTag::parse_list(CLUSTER_TAGS).unwrap();
    println!(
        "authmatrix local vs cluster, S3 and controller columns: {} scenarios x {} tags = {} cells ({CLUSTER_TAGS})",
        scenarios.len(),
        tags.len(),
        scenarios.len() * tags.len()
    );
    for choice in [Choice::Local, Choice::Cluster(ProviderKind::LocalUp)] {
        let cache = tempfile::tempdir().unwrap();
        for run_label in ["cold", "warm"] {
            let started = Instant::now();
            let mut built = Duration::ZERO;
            if let Choice::Cluster(provider) = choice {
                let opts = cluster_options(root, cache.path(), provider);
                ClusterBackend::build_all(&opts, &tags).unwrap();
                built = started.elapsed();
            }
            let mut backends = pool(choice, root, cache.path());
            let prepared_at = Instant::now();
            let info = matrix::prepare(&mut backends, &scenarios, &tags).unwrap();
            let prepared = prepared_at.elapsed();
            let cells_at = Instant::now();
            let report = matrix::run_prepared(&mut backends, &scenarios, &tags, info, started);
            let cells = cells_at.elapsed();
            drop(backends);
            let ok = report.cells.iter().filter(|c| c.verdict.is_ok()).count();
            for c in report.cells.iter().filter(|c| !c.verdict.is_ok()) {
                println!(
                    "  NOT AS EXPECTED {}::{} {}: {}",
                    c.scenario,
                    c.argo,
                    c.verdict.as_str(),
                    c.observed.message.lines().next().unwrap_or_default()
                );
            }
            println!(
                "  {:<8} {run_label:<5} total {:>6.1} s = build {:>5.1} s + prepare/start {:>5.1} s + cells {:>5.1} s ({} backends); {ok} of {} cells as expected",
                choice.name(),
                started.elapsed().as_secs_f64(),
                built.as_secs_f64(),
                prepared.as_secs_f64(),
                cells.as_secs_f64(),
                choice.default_jobs(),
                report.cells.len()
            );
        }
    }
}

fn cluster_options(root: &Path, cache: &Path, provider: ProviderKind) -> ClusterOptions {
    ClusterOptions {
        sandbox_exe: env!("CARGO_BIN_EXE_authmatrix").into(),
        project_root: root.to_path_buf(),
        cache_dir: cache.to_path_buf(),
        provider,
        cell_timeout: Duration::from_secs(60),
    }
}

fn pool(choice: Choice, root: &Path, cache: &Path) -> Vec<Box<dyn Backend + Send>> {
    match choice {
        Choice::Local => {
            authmatrix::backend::local::pool(&local_options(root, cache), choice.default_jobs())
        }
        Choice::Cluster(provider) => authmatrix::backend::cluster::pool(
            &cluster_options(root, cache, provider),
            choice.default_jobs(),
        ),
    }
    .unwrap()
}

fn local_options(root: &Path, cache: &Path) -> LocalOptions {
    LocalOptions {
        sandbox_exe: env!("CARGO_BIN_EXE_authmatrix").into(),
        project_root: root.to_path_buf(),
        cache_dir: cache.to_path_buf(),
        probe_timeout: Duration::from_secs(60),
    }
}

struct Timing {
    total: Duration,
    probe_time: Duration,
    ok: usize,
}

fn run(root: &Path, cache: &Path, scenarios: &[scenario::Scenario], tags: &[ArgoTag]) -> Timing {
    let started = Instant::now();
    let mut backends = pool(Choice::Local, root, cache);
    let report = matrix::run(&mut backends, scenarios, tags).unwrap();
    drop(backends);
    let total = started.elapsed();
    for c in &report.cells {
        assert_ne!(
            c.verdict,
            authmatrix::report::verdict::Verdict::InfraError,
            "{}",
            c.observed.message
        );
    }
    let probe_time =
        Duration::from_millis(report.cells.iter().map(|c| c.evidence.elapsed_ms).sum());
    Timing {
        total,
        probe_time,
        ok: report.cells.iter().filter(|c| c.verdict.is_ok()).count(),
    }
}
