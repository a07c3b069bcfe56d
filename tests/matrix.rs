//! `cargo test --test matrix`: the compatibility matrix, one trial per cell, named
//! `<scenario>::<tag>` on the local backend and `<scenario>::<tag>::cluster` on the cluster backend
//! (`AUTHMATRIX_BACKEND=local,cluster`; default `local`). A trial fails with the cell's evidence when
//! its verdict is anything but as-expected or exploratory; a cell its backend cannot run is ignored.
//!
//! `AUTHMATRIX_ARGO=v3.5.11,v3.6.5` narrows the tags; the usual test filters narrow the cells, and
//! only the tags and scenarios still selected are built. The cells run on the matrix's one
//! scheduler (`matrix::run_cells`, as `authmatrix run` runs them): each trial waits for its cell.
//! The report of the cells that ran is written to `target/authmatrix/`.
//!
//! A backend whose tier is absent (no venv, no probes, no cluster build: see `tests/common/tiers.rs`)
//! has its trials ignored and the tier named once on stderr, unless `AUTHMATRIX_TIERS=required`
//! (`make test`), where they run and fail.

#[path = "common/tiers.rs"]
mod tiers;

use authmatrix::backend::Choice;
use authmatrix::matrix::{self, Cells, plan};
use authmatrix::report::{Cell, Report, junit::evidence_text};
use authmatrix::scenario::Scenario;
use authmatrix::shared::{ArgoTag, CellId};
use libtest_mimic::{Arguments, Failed, Trial};
use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

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
fn trial_name(choice: Choice, cell: &CellId) -> String {
    match choice {
        Choice::Local => cell.to_string(),
        Choice::Cluster(_) => format!("{cell}::cluster"),
    }
}

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
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

    let mut trials = Vec::new();
    let mut runs = Vec::new();
    for choice in choices {
        // Which cells survive the filters: only their tags and scenarios are built.
        let cells: Vec<(&Scenario, CellId)> = scenarios
            .iter()
            .flat_map(|s| tags.iter().map(move |t| (s, CellId::new(s, t))))
            .filter(|(_, c)| !args.is_filtered_out(&Trial::test(trial_name(choice, c), || Ok(()))))
            .collect();
        let tier_absent = !cells.is_empty() && !tiers::runs(tier_of(choice));
        if args.list || cells.is_empty() || tier_absent {
            trials.extend(cells.iter().map(|(_, c)| {
                Trial::test(trial_name(choice, c), || Ok(()))
                    .with_kind(choice.name())
                    .with_ignored_flag(tier_absent)
            }));
            continue;
        }
        match Run::start(choice, &cells, args.test_threads) {
            Ok(run) => {
                trials.extend(run.trials(&cells));
                runs.push(run);
            }
            Err(e) => {
                eprintln!("the {} backend cannot start: {e:#}", choice.name());
                return ExitCode::FAILURE;
            }
        }
    }
    // Trials only wait for their cells: the scheduler bounds how many run at once.
    args.test_threads.get_or_insert(4);
    let conclusion = libtest_mimic::run(&args, trials);
    let mut built = true;
    for run in runs {
        built &= run.finish(root);
    }
    match built {
        true => conclusion.exit_code(),
        false => ExitCode::FAILURE,
    }
}

/// What running a backend's cells needs.
fn tier_of(choice: Choice) -> &'static [tiers::Tier] {
    use authmatrix::backend::cluster::provider::ProviderKind;
    match choice {
        Choice::Local => tiers::LOCAL_RUN,
        Choice::Cluster(ProviderKind::LocalUp) => tiers::CLUSTER_RUN,
        Choice::Cluster(ProviderKind::Kind) => tiers::KIND_RUN,
    }
}

/// The scenarios (in the catalogue's order) and tags (sorted) of these cells.
fn used(cells: &[(&Scenario, CellId)]) -> (Vec<Scenario>, Vec<ArgoTag>) {
    let mut tags: Vec<ArgoTag> = cells.iter().map(|(_, c)| c.tag.clone()).collect();
    tags.sort();
    tags.dedup();
    let mut scenarios: Vec<Scenario> = Vec::new();
    for (s, _) in cells {
        if !scenarios.iter().any(|u| u.id == s.id) {
            scenarios.push((*s).clone());
        }
    }
    (scenarios, tags)
}

/// The cells a run has finished so far, and how it ended once it has.
#[derive(Default)]
struct Results {
    cells: HashMap<CellId, Cell>,
    ended: Option<Result<Report, String>>,
}

/// One backend's part of the matrix: the scheduler's thread and the cells it has run.
struct Run {
    choice: Choice,
    results: Arc<(Mutex<Results>, Condvar)>,
    thread: std::thread::JoinHandle<()>,
    /// Scenarios its backends cannot run: their trials are ignored (the report still has them).
    not_applicable: Vec<String>,
}

impl Run {
    /// Starts the scheduler on these cells in the background; `threads` (`--test-threads`)
    /// caps the backends side by side.
    fn start(
        choice: Choice,
        cells: &[(&Scenario, CellId)],
        threads: Option<usize>,
    ) -> anyhow::Result<Self> {
        // No `check_can_run` here: with several backends one may run none of the selected cells
        // (the local backend and node scenarios); its trials are ignored, as not applicable.
        let (scenarios, tags) = used(cells);
        let ids: Vec<CellId> = cells.iter().map(|(_, c)| c.clone()).collect();
        let wanted = Cells::only(&scenarios, &tags, ids.clone());
        let jobs = threads.unwrap_or_else(|| matrix::default_jobs(choice, &wanted));
        let mut backends = authmatrix::backend::pool(
            choice,
            env!("CARGO_BIN_EXE_authmatrix").into(),
            jobs,
            Duration::from_secs(60),
        )?;
        let not_applicable = scenarios
            .iter()
            .filter(|s| backends[0].not_applicable(s).is_some())
            .map(|s| s.id.clone())
            .collect();
        let results = Arc::new((Mutex::new(Results::default()), Condvar::new()));
        let thread = {
            let results = Arc::clone(&results);
            std::thread::spawn(move || {
                let wanted = Cells::only(&scenarios, &tags, ids);
                let heard = |cell: &Cell| {
                    lock(&results.0).cells.insert(cell.id.clone(), cell.clone());
                    results.1.notify_all();
                };
                let ended = matrix::run_cells(&mut backends, &wanted, &heard);
                drop(backends);
                lock(&results.0).ended = Some(ended.map_err(|e| format!("{e:#}")));
                results.1.notify_all();
            })
        };
        Ok(Run {
            choice,
            results,
            thread,
            not_applicable,
        })
    }

    fn trials(&self, cells: &[(&Scenario, CellId)]) -> Vec<Trial> {
        cells
            .iter()
            .map(|(_, id)| {
                let (results, id) = (Arc::clone(&self.results), id.clone());
                let applicable = !self.not_applicable.contains(&id.scenario);
                Trial::test(trial_name(self.choice, &id), move || {
                    let cell = wait_for(&results, &id).map_err(Failed::from)?;
                    match cell.verdict.is_ok() {
                        true => Ok(()),
                        false => Err(Failed::from(evidence_text(&cell))),
                    }
                })
                .with_kind(self.choice.name())
                .with_ignored_flag(!applicable)
            })
            .collect()
    }

    /// Waits for the scheduler, then writes the report of the cells that ran to
    /// `target/authmatrix/<backend>/` (the local one to `target/authmatrix/`).
    fn finish(self, root: &Path) -> bool {
        let _ = self.thread.join();
        let ended = lock(&self.results.0).ended.take();
        let report = match ended {
            Some(Ok(report)) => report,
            Some(Err(e)) => {
                eprintln!("the {} backend could not run: {e}", self.choice.name());
                return false;
            }
            None => {
                eprintln!("the {} backend's scheduler panicked", self.choice.name());
                return false;
            }
        };
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The cell once the scheduler has run it; the run's error if it ended without it.
fn wait_for(results: &(Mutex<Results>, Condvar), id: &CellId) -> Result<Cell, String> {
    let mut r = lock(&results.0);
    loop {
        if let Some(cell) = r.cells.get(id) {
            return Ok(cell.clone());
        }
        match &r.ended {
            Some(Err(e)) => return Err(e.clone()),
            Some(Ok(_)) => return Err(format!("the run ended without cell {id}")),
            None => r = results.1.wait(r).unwrap_or_else(|p| p.into_inner()),
        }
    }
}
