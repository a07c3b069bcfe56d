//! `cargo test --test matrix`: the compatibility matrix, one trial per cell, named
//! `<scenario>::<tag>` on the local backend and `<scenario>::<tag>::cluster` on the cluster backend
//! (`AUTHMATRIX_BACKEND=local,cluster`; default `local`). A trial fails with the cell's evidence when
//! its verdict is anything but as-expected or exploratory; a cell its backend cannot run is ignored.
//!
//! `AUTHMATRIX_ARGO=v3.5.11,v3.6.5` narrows the tags; the usual test filters narrow the cells, and
//! only the tags and scenarios still selected are prepared. Needs root or user namespaces, Go and
//! the project's Python venv (`make setup`): a missing piece fails the cells, never skips them.
//! The report of the cells that ran is written to `target/authmatrix/`.

use authmatrix::backend::Choice;
use authmatrix::matrix::{self, plan, pool::BackendPool};
use authmatrix::report::{Cell, Report, junit::evidence_text};
use authmatrix::scenario::Scenario;
use authmatrix::shared::ArgoTag;
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The backends this run covers: `AUTHMATRIX_BACKEND` (comma-separated `local`, `cluster`;
/// default `local`), the cluster's provider from `AUTHMATRIX_PROVIDER` (default `local-up`).
fn backends() -> Result<Vec<Choice>, String> {
    let list = std::env::var("AUTHMATRIX_BACKEND").unwrap_or_else(|_| "local".into());
    let provider = std::env::var("AUTHMATRIX_PROVIDER").unwrap_or_else(|_| "local-up".into());
    list.split(',')
        .map(|b| Choice::parse(b.trim(), &provider).map_err(|e| format!("AUTHMATRIX_BACKEND: {e}")))
        .collect()
}

/// A cell's trial name: `<scenario>::<tag>` on the local backend (the names users filter by),
/// `<scenario>::<tag>::cluster` on the cluster backend.
fn trial_name(choice: Choice, scenario: &str, tag: &str) -> String {
    match choice {
        Choice::Local => authmatrix::report::cell_name(scenario, tag),
        Choice::Cluster(_) => format!("{}::cluster", authmatrix::report::cell_name(scenario, tag)),
    }
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let selected = plan::catalogue(Some(&root.join("scenarios")))
        .map_err(|e| e.to_string())
        .and_then(|s| {
            let argo = std::env::var("AUTHMATRIX_ARGO").ok();
            let tags = plan::tags(argo.as_deref()).map_err(|e| format!("AUTHMATRIX_ARGO: {e}"))?;
            Ok((s, tags, backends()?))
        });
    let (scenarios, tags, choices) = match selected {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };

    // Which cells survive the filters, per backend: prepare only their tags and scenarios.
    let mut args = args;
    let test_threads = args.test_threads;
    let started = Instant::now();
    let mut trials = Vec::new();
    let mut runs = Vec::new();
    for choice in choices {
        let cells: Vec<(Scenario, ArgoTag)> = scenarios
            .iter()
            .flat_map(|s| tags.iter().map(move |t| (s.clone(), t.clone())))
            .filter(|(s, t)| {
                !args.is_filtered_out(&Trial::test(trial_name(choice, &s.id, &t.tag), || Ok(())))
            })
            .collect();
        if args.list || cells.is_empty() {
            trials.extend(cells.iter().map(|(s, t)| {
                Trial::test(trial_name(choice, &s.id, &t.tag), || Ok(())).with_kind(choice.name())
            }));
            continue;
        }
        let (used_scenarios, used_tags) = used(&cells);
        let jobs = test_threads
            .unwrap_or_else(|| matrix::default_jobs(choice, &used_scenarios, &used_tags));
        match Run::start(choice, cells, jobs) {
            Ok(run) => {
                trials.extend(run.trials());
                runs.push(run);
            }
            Err(e) => {
                eprintln!("the {} backend cannot start: {e:#}", choice.name());
                return ExitCode::FAILURE;
            }
        }
    }
    // Trials of several backends interleave; each backend's pool bounds its own parallelism.
    let jobs: usize = runs.iter().map(|r| r.jobs).sum();
    args.test_threads = Some(test_threads.unwrap_or(jobs.max(1)));
    let conclusion = libtest_mimic::run(&args, trials);
    let mut built = true;
    for run in runs {
        built &= run.finish(root, started);
    }
    match built {
        true => conclusion.exit_code(),
        false => ExitCode::FAILURE,
    }
}

/// The scenarios (in the catalogue's order) and tags (sorted) of these cells.
fn used(cells: &[(Scenario, ArgoTag)]) -> (Vec<Scenario>, Vec<ArgoTag>) {
    let mut tags: Vec<ArgoTag> = cells.iter().map(|(_, t)| t.clone()).collect();
    tags.sort();
    tags.dedup();
    let mut scenarios: Vec<Scenario> = Vec::new();
    for (s, _) in cells {
        if !scenarios.iter().any(|u| u.id == s.id) {
            scenarios.push(s.clone());
        }
    }
    (scenarios, tags)
}

/// One backend's part of the matrix: its pool of backends and the cells it ran.
struct Run {
    choice: Choice,
    jobs: usize,
    pool: Arc<BackendPool>,
    cells: Vec<(Scenario, ArgoTag)>,
    used: Vec<Scenario>,
    used_tags: Vec<ArgoTag>,
    done: Arc<Mutex<Vec<Cell>>>,
}

impl Run {
    fn start(choice: Choice, cells: Vec<(Scenario, ArgoTag)>, jobs: usize) -> anyhow::Result<Self> {
        let (used, used_tags) = used(&cells);
        choice.check_can_run(&used)?;
        // A pool of backends, one sandbox each, as many as trials run at once: cells mostly wait.
        let backends = authmatrix::backend::pool(
            choice,
            env!("CARGO_BIN_EXE_authmatrix").into(),
            jobs,
            Duration::from_secs(60),
        )?;
        // Local backends start their sandboxes while the probes build; a trial waits for its own
        // probe only (tag by tag, as the builds go).
        let pool = BackendPool::prepare(backends, &used, &used_tags)?;
        let mut cells = cells;
        cells.sort_by_key(|(_, t)| used_tags.iter().position(|u| u == t));
        Ok(Run {
            choice,
            jobs,
            pool: Arc::new(pool),
            cells,
            used,
            used_tags,
            done: Arc::default(),
        })
    }

    fn trials(&self) -> Vec<Trial> {
        self.cells
            .iter()
            .map(|(scenario, tag)| {
                let (pool, done) = (self.pool.clone(), self.done.clone());
                let (scenario, tag) = (scenario.clone(), tag.clone());
                let name = trial_name(self.choice, &scenario.id, &tag.tag);
                // A cell this backend cannot run is an ignored trial, never a passed one; the
                // report still shows it, as not applicable.
                let applicable = pool.not_applicable(&scenario).is_none();
                if !applicable {
                    let cell = pool.run_cell(&scenario, &tag);
                    done.lock().unwrap_or_else(|p| p.into_inner()).push(cell);
                }
                Trial::test(name, move || {
                    pool.wait_ready(&scenario, &tag).map_err(Failed::from)?;
                    let cell = pool.run_cell(&scenario, &tag);
                    let ok = cell.verdict.is_ok();
                    let text = evidence_text(&cell);
                    done.lock().unwrap_or_else(|p| p.into_inner()).push(cell);
                    if ok { Ok(()) } else { Err(Failed::from(text)) }
                })
                .with_kind(self.choice.name())
                .with_ignored_flag(!applicable)
            })
            .collect()
    }
    /// Stops the backends, then writes the report of the cells that ran to
    /// `target/authmatrix/<backend>/` (the local one also to `target/authmatrix/`, as before).
    fn finish(self, root: &Path, started: Instant) -> bool {
        let versions = match self.pool.versions() {
            Ok(v) => v,
            Err(e) => {
                eprintln!("the {} backend cannot start: {e:#}", self.choice.name());
                return false;
            }
        };
        drop(self.pool);
        let cells = std::mem::take(&mut *self.done.lock().unwrap_or_else(|p| p.into_inner()));
        let report = Report::new(
            (self.choice.name(), self.choice.provider()),
            &self.used,
            &self.used_tags,
            versions,
            cells,
            started.elapsed(),
        );
        let out = match self.choice {
            Choice::Local => root.join("target/authmatrix"),
            Choice::Cluster(_) => root.join("target/authmatrix/cluster"),
        };
        match report.write(&out) {
            Ok(()) => eprintln!(
                "{} matrix report: {}\n{}",
                self.choice.name(),
                out.join("report.md").display(),
                report.matrix_text()
            ),
            Err(e) => eprintln!(
                "could not write the matrix report to {}: {e:#}",
                out.display()
            ),
        }
        true
    }
}
