//! `make bench`: what a user of the local backend waits for, then the local and cluster backends
//! side by side.
//!
//! 1. Time to the first cell: `authmatrix run` (the default tags, every scenario) on an empty
//!    authmatrix cache, from start to the first observed cell's result as the user sees it (its
//!    `[n/N]` line on stderr; node cells, not applicable locally, are reported at once and do not
//!    count), and to the end of that cold run. Go's module and build caches are this machine's:
//!    the output says whether they already hold Argo's modules.
//! 2. The warm default matrix: the same run again with that cache filled (probes built, the cold
//!    run's cell times ordering the cells), its wall time next to the sum of the cells' times
//!    and the longest cell (the floor no schedule beats), all from this one run: a cell's time as
//!    its sandbox spent it (the timings the run keeps), and the probes' own times (the report's).
//! 3. The local and cluster backends side by side on the same cells (both columns on the cluster
//!    tier's tags; on the cluster the S3 column runs in real pods), each cold and warm, the
//!    cluster's cold run broken into building (Kubernetes, etcd, workflow-controller and argoexec),
//!    starting the cluster and its node, and the cells.
//!
//! The empty cache borrows the user's built tools (MinIO) so that every cell runs.
//! `AUTHMATRIX_BENCH=local` runs parts 1 and 2 only; `AUTHMATRIX_BENCH=warm` part 2 only, on the
//! user's own cache (`AUTHMATRIX_CACHE` or ~/.cache/authmatrix). Each run uses authmatrix's default
//! number of sandboxes. This is a measurement, not a test: it asserts only that every cell ran.

use authmatrix::backend::cluster::{ClusterOptions, provider::ProviderKind};
use authmatrix::backend::local::LocalOptions;
use authmatrix::backend::{Backend, Choice};
use authmatrix::matrix::{self, plan};
use authmatrix::scenario;
use authmatrix::shared::ArgoTag;
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The cluster tier's tags (`CLUSTER_TAGS` in the Makefile: `make test` runs the controller
/// column there).
const CLUSTER_TAGS: &str = "v3.5.11,v3.6.0,v4.0.5";

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run only for the former.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let all = scenario::load_dir(&root.join("scenarios")).unwrap();
    let parts = std::env::var("AUTHMATRIX_BENCH").unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let tags = authmatrix::shared::tags::DEFAULT_TAGS.join(",");
    println!(
        "authmatrix local, default matrix: {} scenarios x {} tags ({tags}), {cores} cores, release build",
        all.len(),
        authmatrix::shared::tags::DEFAULT_TAGS.len(),
    );
    if parts == "warm" {
        let cache = authmatrix::builds::cache_dir();
        println!("  cache: {} (as it is)", cache.display());
        warm(&cache, "warm");
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    println!("  {}", go_caches());
    // MinIO (`make minio`) is a tool, not a probe: borrowed from the user's cache when built there,
    // so that its cells run rather than being not applicable.
    let tools = authmatrix::builds::cache_dir().join("tools");
    match tools.is_dir() {
        true => {
            std::os::unix::fs::symlink(&tools, cache.path().join("tools")).unwrap();
            println!("  tools (MinIO) from {}", tools.display());
        }
        false => println!("  no MinIO built (`make minio`): its cells are not applicable"),
    }
    let cold = run_cli(cache.path());
    println!(
        "  cold (empty authmatrix cache): first observed cell after {:>6.1} s; all {} cells after {:>6.1} s; {} as expected",
        cold.first_cell.map_or(f64::NAN, |d| d.as_secs_f64()),
        cold.cells.len(),
        cold.wall.as_secs_f64(),
        cold.ok
    );
    warm(cache.path(), "warm");
    if parts != "local" {
        side_by_side(root, &all);
    }
}

/// The warm default matrix: wall time against the sum of cell times and the longest cell, as the
/// run's sandboxes spent them (the cache's timings/local.json, written by this run) and as the
/// probes' own times (the report's evidence).
fn warm(cache: &Path, label: &str) {
    let run = run_cli(cache);
    let spent: std::collections::BTreeMap<String, u64> =
        std::fs::read(cache.join("timings/local.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
    let cell_ms: Vec<(String, u64)> = run
        .cells
        .iter()
        .map(|(name, _)| (name.clone(), spent.get(name).copied().unwrap_or(0)))
        .collect();
    let (sum, (longest, ms)) = sum_and_longest(&cell_ms);
    let (probe_sum, _) = sum_and_longest(&run.cells);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "  {label:<4} wall {:>5.1} s (first observed cell after {:.1} s) with {} sandboxes; the cells' times: sum {:>5.1} s (the probes' own {:>5.1} s), longest {:>4.1} s ({longest}) = the floor; {} of {} cells as expected",
        run.wall.as_secs_f64(),
        run.first_cell.map_or(f64::NAN, |d| d.as_secs_f64()),
        run.sandboxes,
        sum as f64 / 1000.0,
        probe_sum as f64 / 1000.0,
        ms as f64 / 1000.0,
        run.ok,
        run.cells.len()
    );
    // The other floor: the run's CPU shared out over the cores (sandboxes starting their servers,
    // probes, the harness), which no number of sandboxes beats.
    println!(
        "  {label:<4} CPU {:>5.1} s (user + sys of the run and every process it ran) = {:>4.1} s on {cores} cores",
        run.cpu.as_secs_f64(),
        run.cpu.as_secs_f64() / cores as f64
    );
}

fn sum_and_longest(cells: &[(String, u64)]) -> (u64, (String, u64)) {
    let sum = cells.iter().map(|c| c.1).sum();
    let longest = cells
        .iter()
        .max_by_key(|c| c.1)
        .cloned()
        .unwrap_or_default();
    (sum, longest)
}

/// Whether Go's caches already hold what the probes build from.
fn go_caches() -> String {
    let env = |var: &str| {
        Command::new("go")
            .args(["env", var])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let modcache = env("GOMODCACHE");
    let argo = Path::new(&modcache).join("cache/download/github.com/argoproj/argo-workflows");
    format!(
        "Go's module cache ({modcache}) {} Argo's modules and Go's build cache ({}) is this machine's: \
         a fresh machine also downloads and compiles them",
        if argo.is_dir() {
            "already holds"
        } else {
            "does not hold"
        },
        env("GOCACHE")
    )
}

struct CliRun {
    wall: Duration,
    /// When the first cell with an observation (not a not-applicable one) was reported.
    first_cell: Option<Duration>,
    /// Cell name → its own time (ms).
    cells: Vec<(String, u64)>,
    ok: usize,
    sandboxes: usize,
    /// CPU time (user + sys) of the run and every process it waited for: sandboxes, servers, probes.
    cpu: Duration,
}

/// CPU time (user + sys) of this process's waited-for descendants so far.
fn children_cpu() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// `authmatrix run` with `cache` as its cache, timed from its start; progress read line by line.
fn run_cli(cache: &Path) -> CliRun {
    let out = tempfile::tempdir().unwrap();
    let cpu_before = children_cpu();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_authmatrix"))
        .args(["run", "--out"])
        .arg(out.path())
        .env("AUTHMATRIX_CACHE", cache)
        .env("CI", "1") // Plain progress lines, one per cell.
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut first_cell, mut sandboxes) = (None, 0);
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    for line in stderr.lines().map_while(Result::ok) {
        // The first cell observed: node cells are not applicable locally, and say so at once.
        let cell = line.starts_with("authmatrix: [") && !line.contains(" not-applicable");
        if first_cell.is_none() && cell {
            first_cell = Some(started.elapsed());
        }
        if line.contains("sandbox ready") {
            sandboxes += 1;
        }
        if line.contains("error") || line.contains("FAILED") {
            println!("  {line}");
        }
    }
    let _ = child.wait().unwrap();
    let wall = started.elapsed();
    let cpu = children_cpu() - cpu_before;
    let report = authmatrix::report::Report::read(out.path()).unwrap();
    let mut cells = Vec::new();
    let mut ok = 0;
    for c in &report.cells {
        let name = c.id.to_string();
        assert_ne!(
            c.verdict,
            authmatrix::report::verdict::Verdict::InfraError,
            "{name}: {}",
            c.observed.message
        );
        match c.verdict.is_ok() {
            true => ok += 1,
            false => println!("  NOT AS EXPECTED {name} {}", c.verdict.as_str()),
        }
        cells.push((name, c.evidence.elapsed_ms));
    }
    CliRun {
        wall,
        first_cell,
        cells,
        ok,
        sandboxes,
        cpu,
    }
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
                authmatrix::backend::cluster::prepare_tier(&opts, &tags).unwrap();
                built = started.elapsed();
            }
            let mut backends = pool(choice, root, cache.path());
            let cells_at = Instant::now();
            let report = matrix::run(&mut backends, &scenarios, &tags).unwrap();
            let cells = cells_at.elapsed();
            drop(backends);
            let ok = report.cells.iter().filter(|c| c.verdict.is_ok()).count();
            for c in report.cells.iter().filter(|c| !c.verdict.is_ok()) {
                println!(
                    "  NOT AS EXPECTED {}::{} {}: {}",
                    c.id.scenario,
                    c.id.tag,
                    c.verdict.as_str(),
                    c.observed.message.lines().next().unwrap_or_default()
                );
            }
            println!(
                "  {:<8} {run_label:<5} total {:>6.1} s = cluster build {:>5.1} s + run {:>5.1} s (probe builds, starts and cells streamed; {} backends); {ok} of {} cells as expected",
                choice.name(),
                started.elapsed().as_secs_f64(),
                built.as_secs_f64(),
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
