//! `make bench`: the local matrix on v3.5.11, v3.6.0, v3.6.2 and v3.6.5, cold and warm: first the S3
//! column (`s3-*`), then the whole catalogue (S3 and controller entrypoint columns).
//!
//! cold = empty probe cache (probes are generated and built; Go's module and build caches are
//! whatever this machine has); warm = the same run again with the cache filled. Each phase is
//! timed separately. This is a measurement, not a test: it asserts only that every cell ran.

use authmatrix::backend::Backend;
use authmatrix::backend::local::{LocalBackend, LocalOptions};
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
                "  {run_label:<26} total {:>6.1} s = prepare {:>6.1} s (probes + sandbox) + cells {:>5.1} s; {} of {} cells as expected",
                t.total.as_secs_f64(),
                t.prepare.as_secs_f64(),
                t.cells.as_secs_f64(),
                t.ok,
                scenarios.len() * tags.len()
            );
        }
    }
}

struct Timing {
    total: Duration,
    prepare: Duration,
    cells: Duration,
    ok: usize,
}

fn run(root: &Path, cache: &Path, scenarios: &[scenario::Scenario], tags: &[ArgoTag]) -> Timing {
    let started = Instant::now();
    let mut backend = LocalBackend::new(LocalOptions {
        sandbox_exe: env!("CARGO_BIN_EXE_authmatrix").into(),
        project_root: root.to_path_buf(),
        cache_dir: cache.to_path_buf(),
        probe_timeout: Duration::from_secs(60),
    })
    .unwrap();
    let mut components: Vec<_> = scenarios.iter().map(|s| s.component).collect();
    components.sort();
    components.dedup();
    backend.prepare(tags, &components, scenarios).unwrap();
    let prepared = started.elapsed();
    let mut ok = 0;
    for s in scenarios {
        for t in tags {
            let cell = matrix::run_cell(&mut backend, s, t);
            assert_ne!(
                cell.verdict,
                authmatrix::matrix::verdict::Verdict::InfraError,
                "{}",
                cell.observed.message
            );
            ok += usize::from(cell.verdict.is_ok());
        }
    }
    drop(backend);
    let total = started.elapsed();
    Timing {
        total,
        prepare: prepared,
        cells: total - prepared,
        ok,
    }
}
