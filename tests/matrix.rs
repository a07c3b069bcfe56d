//! `cargo test --test matrix`: the compatibility matrix on the local backend, one trial per cell,
//! named `<scenario>::<tag>`. A trial fails with the cell's evidence when its verdict is anything
//! but as-expected or exploratory.
//!
//! `AUTHMATRIX_ARGO=v3.5.11,v3.6.5` narrows the tags; the usual test filters narrow the cells, and
//! only the tags and scenarios still selected are prepared. Needs root or user namespaces, Go and
//! the project's Python venv (`make setup`): a missing piece fails the cells, never skips them.
//! The report of the cells that ran is written to `target/authmatrix/`.

use authmatrix::backend::Backend;
use authmatrix::backend::local::LocalOptions;
use authmatrix::matrix::{self, tags::ArgoTag};
use authmatrix::report::{Cell, Report, junit::evidence_text};
use authmatrix::scenario::{self, Scenario};
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scenarios = match scenario::load_dir(&root.join("scenarios")) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let tags = match std::env::var("AUTHMATRIX_ARGO") {
        Ok(list) => match ArgoTag::parse_list(&list) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("AUTHMATRIX_ARGO: {e}");
                return ExitCode::FAILURE;
            }
        },
        Err(_) => ArgoTag::defaults(),
    };

    // Which cells survive the filters: prepare only their tags and scenarios.
    let cells: Vec<(Scenario, ArgoTag)> = scenarios
        .iter()
        .flat_map(|s| tags.iter().map(move |t| (s.clone(), t.clone())))
        .filter(|(s, t)| {
            !args.is_filtered_out(&Trial::test(matrix::cell_name(&s.id, &t.tag), || Ok(())))
        })
        .collect();
    if args.list || cells.is_empty() {
        let trials = cells
            .iter()
            .map(|(s, t)| {
                Trial::test(matrix::cell_name(&s.id, &t.tag), || Ok(())).with_kind("local")
            })
            .collect();
        return libtest_mimic::run(&args, trials).exit_code();
    }

    let started = Instant::now();
    let mut used_tags: Vec<ArgoTag> = cells.iter().map(|(_, t)| t.clone()).collect();
    used_tags.sort();
    used_tags.dedup();
    let mut used: Vec<Scenario> = Vec::new();
    for (s, _) in &cells {
        if !used.iter().any(|u| u.id == s.id) {
            used.push(s.clone());
        }
    }

    authmatrix::cleanup::install();
    // A pool of backends, one sandbox each, as many as trials run at once: cells mostly wait.
    let mut args = args;
    let jobs = *args.test_threads.get_or_insert(matrix::DEFAULT_JOBS);
    let opts = LocalOptions {
        sandbox_exe: env!("CARGO_BIN_EXE_authmatrix").into(),
        project_root: root.to_path_buf(),
        cache_dir: LocalOptions::default_cache_dir(),
        probe_timeout: Duration::from_secs(60),
    };
    let mut pool = match authmatrix::backend::local::pool(&opts, jobs) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("the local backend cannot start: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let versions = match matrix::prepare(&mut pool, &used, &used_tags) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("preparing the local backend failed: {e:#}");
            return ExitCode::FAILURE;
        }
    };

    let pool = Arc::new((Mutex::new(pool), Condvar::new()));
    let done: Arc<Mutex<Vec<Cell>>> = Arc::default();
    let trials = cells
        .into_iter()
        .map(|(scenario, tag)| {
            let pool = pool.clone();
            let done = done.clone();
            Trial::test(matrix::cell_name(&scenario.id, &tag.tag), move || {
                let mut backend = checkout(&pool);
                let cell = matrix::run_cell(backend.as_mut(), &scenario, &tag);
                give_back(&pool, backend);
                let ok = cell.verdict.is_ok();
                let text = evidence_text(&cell);
                done.lock().unwrap_or_else(|p| p.into_inner()).push(cell);
                if ok { Ok(()) } else { Err(Failed::from(text)) }
            })
            .with_kind("local")
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);

    // Stop the sandboxes before writing, so nothing outlives the test even if writing fails.
    drop(pool);
    let cells = std::mem::take(&mut *done.lock().unwrap_or_else(|p| p.into_inner()));
    let report = Report::new(
        "local",
        &used,
        &used_tags,
        versions,
        cells,
        started.elapsed(),
    );
    let out = root.join("target/authmatrix");
    match report.write(&out) {
        Ok(()) => eprintln!(
            "matrix report: {}\n{}",
            out.join("report.md").display(),
            report.matrix_text()
        ),
        Err(e) => eprintln!(
            "could not write the matrix report to {}: {e:#}",
            out.display()
        ),
    }
    conclusion.exit_code()
}

type Pool = Arc<(Mutex<Vec<Box<dyn Backend + Send>>>, Condvar)>;

fn checkout(pool: &Pool) -> Box<dyn Backend + Send> {
    let (list, ready) = &**pool;
    let mut list = list.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        if let Some(b) = list.pop() {
            return b;
        }
        list = ready.wait(list).unwrap_or_else(|p| p.into_inner());
    }
}

fn give_back(pool: &Pool, backend: Box<dyn Backend + Send>) {
    let (list, ready) = &**pool;
    list.lock().unwrap_or_else(|p| p.into_inner()).push(backend);
    ready.notify_one();
}
