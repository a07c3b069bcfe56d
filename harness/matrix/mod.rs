//! The matrix: scenarios × Argo tags, run on a backend and judged against expectations. One
//! scheduler (`schedule`) runs every backend's cells, for the CLI and for the matrix test alike.

pub mod plan;
pub mod schedule;
pub mod timings;
pub mod verdict;

use crate::backend::{Backend, Choice};
use crate::report::{Cell, Expected, Report};
use crate::scenario::{ExpectedOutcome, Scenario};
use crate::shared::{ArgoTag, CellId};
pub use schedule::Cells;

/// What the scenario expects on `tag`, as the report shows it.
pub fn expected(scenario: &Scenario, tag: &ArgoTag) -> Expected {
    match scenario.expectation_for(&tag.version) {
        Some(e) => Expected {
            outcome: e.outcome,
            error: e.error.as_ref().map(|r| r.as_str().to_string()),
            log: e.log.as_ref().map(|r| r.as_str().to_string()),
            versions: Some(e.range.to_string()),
            note: e.note.clone(),
        },
        None => Expected {
            outcome: ExpectedOutcome::Unknown,
            error: None,
            log: None,
            versions: None,
            note: Some("no expectation covers this version".into()),
        },
    }
}

/// Where a backend keeps its cell times: the cache directory every backend uses.
fn timings_of(backend: &str) -> timings::Timings {
    timings::Timings::load(&crate::builds::cache_dir(), backend)
}

/// Backends side by side for these cells when the user did not say: local sandboxes as many as
/// the previous run's cell times call for (`Timings::sandboxes`, at most `MOST_LOCAL_JOBS`),
/// `DEFAULT_LOCAL_JOBS` before any run; the cluster backend's default.
pub fn default_jobs(choice: Choice, cells: &Cells) -> usize {
    if choice != Choice::Local {
        return choice.default_jobs();
    }
    timings_of(choice.name())
        .sandboxes(&cells.ids(), crate::backend::MOST_LOCAL_JOBS)
        .unwrap_or(crate::backend::DEFAULT_LOCAL_JOBS)
}

/// Runs one cell and judges it (the scheduler's step; also for checks that drive a backend by
/// hand).
pub fn run_cell(backend: &mut dyn Backend, scenario: &Scenario, tag: &ArgoTag) -> Cell {
    let observation = match backend.not_applicable(scenario) {
        Some(why) => crate::shared::Observation::not_applicable(backend.name(), why),
        None => backend.run(scenario, tag),
    };
    let verdict = verdict::judge(scenario.expectation_for(&tag.version), &observation);
    Cell {
        id: CellId::new(scenario, tag),
        observed: crate::report::Observed {
            outcome: observation.outcome,
            message: observation.message,
            exposures: observation.exposures,
        },
        expected: expected(scenario, tag),
        verdict,
        evidence: observation.evidence,
    }
}

/// Runs one cell for the scheduler: times it for the next run's order, says it is done, keeps it.
fn run_and_keep(
    backend: &mut dyn Backend,
    scenario: &Scenario,
    tag: &ArgoTag,
    timings: &timings::Timings,
    cells: &std::sync::Mutex<Vec<Cell>>,
    total: usize,
) -> Cell {
    let started = std::time::Instant::now();
    let cell = run_cell(backend, scenario, tag);
    timings.record(&cell.id, started.elapsed().as_millis() as u64);
    let mut done = cells.lock().unwrap_or_else(|p| p.into_inner());
    crate::progress::cell_done(
        done.len() + 1,
        total,
        &cell.id.to_string(),
        cell.verdict.as_str(),
    );
    done.push(cell.clone());
    cell
}

/// Runs `cells` on `backends` (`schedule::run`), each as soon as its build is done, keeping the
/// cell times for the next run's order; `on_cell` hears of each cell as it ends.
pub fn run_cells(
    backends: &mut [Box<dyn Backend + Send>],
    cells: &Cells,
    on_cell: &(dyn Fn(&Cell) + Sync),
) -> anyhow::Result<Report> {
    let name = backends.first().map(|b| b.name()).unwrap_or_default();
    let timings = timings_of(name);
    let report = schedule::run(backends, cells, &timings, on_cell)?;
    timings.save();
    Ok(report)
}

/// Runs every cell of `scenarios` × `tags` on `backends`.
///
/// Several backends (each with its own sandbox) run cells side by side: most of a cell's time is
/// spent waiting (SDK retries, timeouts), not computing, so this shortens runs even on 2 cores.
/// A cell's evidence stays its own: each sandbox runs one cell at a time.
pub fn run(
    backends: &mut [Box<dyn Backend + Send>],
    scenarios: &[Scenario],
    tags: &[ArgoTag],
) -> anyhow::Result<Report> {
    run_cells(backends, &Cells::all(scenarios, tags), &|_| {})
}
