//! `make bench`: the local matrix on v3.5.11, v3.6.0, v3.6.2 and v3.6.5, cold and warm: first the S3
//! column (`s3-*`), then the whole catalogue (S3 and controller entrypoint columns).
//!
//! cold = empty probe cache (probes are generated and built; Go's module and build caches are
//! whatever this machine has); warm = the same run again with the cache filled. Both use
//! DEFAULT_JOBS sandboxes, as `authmatrix run` does. This is a measurement, not a test: it asserts
//! only that every cell ran.

use authmatrix::backend::local::LocalOptions;
use authmatrix::matrix::{self, plan, tags::ArgoTag};
use authmatrix::scenario;
use std::path::Path;
use std::time::{Duration, Instant};

const TAGS: &str = "v3.5.11,v3.6.0,v3.6.2,v3.6.5";

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
                matrix::DEFAULT_JOBS,
                t.probe_time.as_secs_f64(),
                t.ok,
                scenarios.len() * tags.len()
            );
        }
    }
}

struct Timing {
    total: Duration,
    probe_time: Duration,
    ok: usize,
}

fn run(root: &Path, cache: &Path, scenarios: &[scenario::Scenario], tags: &[ArgoTag]) -> Timing {
    let started = Instant::now();
    let opts = LocalOptions {
        sandbox_exe: env!("CARGO_BIN_EXE_authmatrix").into(),
        project_root: root.to_path_buf(),
        cache_dir: cache.to_path_buf(),
        probe_timeout: Duration::from_secs(60),
    };
    let mut backends = authmatrix::backend::local::pool(&opts, matrix::DEFAULT_JOBS).unwrap();
    let report = matrix::run(&mut backends, scenarios, tags).unwrap();
    drop(backends);
    let total = started.elapsed();
    for c in &report.cells {
        assert_ne!(
            c.verdict,
            authmatrix::matrix::verdict::Verdict::InfraError,
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
