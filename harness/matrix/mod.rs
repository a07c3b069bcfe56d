//! The matrix: scenarios × Argo tags, run on a backend and judged against expectations.

pub mod plan;
pub mod pool;
pub mod stream;
pub mod timings;
pub mod verdict;

use crate::backend::Backend;
use crate::report::{Cell, Expected, Report};
use crate::scenario::Component;
use crate::scenario::{ExpectedOutcome, Scenario};
use crate::shared::ArgoTag;
use crate::shared::TagInfo;
use std::collections::BTreeMap;

use crate::report::cell_name;

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

/// Backends side by side for these cells when the user did not say: local sandboxes as many as
/// the previous run's cell times call for (`Timings::sandboxes`, at most `MOST_LOCAL_JOBS`),
/// `DEFAULT_LOCAL_JOBS` before any run; the cluster backend's default.
pub fn default_jobs(
    choice: crate::backend::Choice,
    scenarios: &[Scenario],
    tags: &[ArgoTag],
) -> usize {
    if choice != crate::backend::Choice::Local {
        return choice.default_jobs();
    }
    let timings = timings::Timings::load(
        &crate::backend::local::LocalOptions::default_cache_dir(),
        choice.name(),
    );
    let cells: Vec<(&str, &str)> = scenarios
        .iter()
        .flat_map(|s| tags.iter().map(move |t| (s.id.as_str(), t.tag.as_str())))
        .collect();
    timings
        .sandboxes(&cells, crate::backend::MOST_LOCAL_JOBS)
        .unwrap_or(crate::backend::DEFAULT_LOCAL_JOBS)
}

/// Runs one cell and judges it.
pub fn run_cell(backend: &mut dyn Backend, scenario: &Scenario, tag: &ArgoTag) -> Cell {
    let observation = match backend.not_applicable(scenario) {
        Some(why) => crate::shared::Observation::not_applicable(backend.name(), why),
        None => backend.run(scenario, tag),
    };
    let verdict = verdict::judge(scenario.expectation_for(&tag.version), &observation);
    Cell {
        scenario: scenario.id.clone(),
        argo: tag.tag.clone(),
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

/// Runs one cell for a scheduler: times it for the next run's order, says it is done, keeps it.
pub(crate) fn run_and_keep(
    backend: &mut dyn Backend,
    scenario: &Scenario,
    tag: &ArgoTag,
    timings: &timings::Timings,
    cells: &std::sync::Mutex<Vec<Cell>>,
    total: usize,
) {
    let started = std::time::Instant::now();
    let cell = run_cell(backend, scenario, tag);
    timings.record(&scenario.id, &tag.tag, started.elapsed().as_millis() as u64);
    let mut done = cells.lock().unwrap_or_else(|p| p.into_inner());
    crate::progress::cell_done(
        done.len() + 1,
        total,
        &cell_name(&cell.scenario, &cell.argo),
        cell.verdict.as_str(),
    );
    done.push(cell);
}

/// Prepares every backend for these cells: the first builds the probes, the others (which then find
/// them cached) start their sandboxes in parallel. Returns the first's per-version information.
pub fn prepare(
    backends: &mut [Box<dyn Backend + Send>],
    scenarios: &[Scenario],
    tags: &[ArgoTag],
) -> anyhow::Result<BTreeMap<String, BTreeMap<Component, TagInfo>>> {
    let Some((first, rest)) = backends.split_first_mut() else {
        anyhow::bail!("no backend to run on")
    };
    let components = crate::scenario::components_of(scenarios);
    let tag_info = first.prepare(tags, &components, scenarios)?;
    std::thread::scope(|scope| {
        let handles: Vec<_> = rest
            .iter_mut()
            .map(|b| scope.spawn(|| b.prepare(tags, &components, scenarios).map(|_| ())))
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("preparing a backend panicked")))
        })
    })?;
    Ok(tag_info)
}

/// Prepares every backend and runs every cell, each backend working through a shared queue.
///
/// Several backends (each with its own sandbox) run cells side by side: most of a cell's time is
/// spent waiting (SDK retries, timeouts), not computing, so this shortens runs even on 2 cores.
/// A cell's evidence stays its own: each sandbox runs one probe at a time. When the backends share
/// builds that announce themselves (the local backend's probes), a cell starts as soon as its
/// build is done (`stream`); otherwise (the cluster backend) everything is prepared first.
pub fn run(
    backends: &mut [Box<dyn Backend + Send>],
    scenarios: &[Scenario],
    tags: &[ArgoTag],
) -> anyhow::Result<Report> {
    let started = std::time::Instant::now();
    if let Some(builds) = stream::shared_builds(backends) {
        let name = backends.first().map(|b| b.name()).unwrap_or_default();
        let timings = timings::Timings::load(
            &crate::backend::local::LocalOptions::default_cache_dir(),
            name,
        );
        let report = stream::run(backends, builds, scenarios, tags, started, &timings)?;
        timings.save();
        return Ok(report);
    }
    let tag_info = prepare(backends, scenarios, tags)?;
    Ok(run_prepared(backends, scenarios, tags, tag_info, started))
}

/// Runs every cell on backends already prepared (`prepare`), each backend working through a shared
/// queue; `started` is when the run began, for the report's elapsed time.
pub fn run_prepared(
    backends: &mut [Box<dyn Backend + Send>],
    scenarios: &[Scenario],
    tags: &[ArgoTag],
    tag_info: BTreeMap<String, BTreeMap<Component, TagInfo>>,
    started: std::time::Instant,
) -> Report {
    let name = backends.first().map(|b| b.name()).unwrap_or_default();
    let timings = timings::Timings::load(
        &crate::backend::local::LocalOptions::default_cache_dir(),
        name,
    );
    let cells: Vec<(&Scenario, &ArgoTag)> = scenarios
        .iter()
        .flat_map(|s| tags.iter().map(move |t| (s, t)))
        .collect();
    let order = timings::longest_first(cells, |s, t| timings.previous(&s.id, &t.tag));
    let queue = std::sync::Mutex::new(std::collections::VecDeque::from(order));
    let total = scenarios.len() * tags.len();
    let cells = std::sync::Mutex::new(Vec::with_capacity(total));
    crate::progress::start_cells(total);
    std::thread::scope(|scope| {
        for backend in backends.iter_mut() {
            let (queue, cells, timings) = (&queue, &cells, &timings);
            scope.spawn(move || {
                loop {
                    let Some((scenario, tag)) =
                        queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
                    else {
                        break;
                    };
                    run_and_keep(backend.as_mut(), scenario, tag, timings, cells, total);
                }
            });
        }
    });
    crate::progress::finish_cells();
    let cells = cells.into_inner().unwrap_or_else(|p| p.into_inner());
    let report = report_of(backends, scenarios, tags, tag_info, cells, started);
    timings.save();
    report
}

/// The report of the cells these backends ran, naming the backend (and the cluster's provider).
fn report_of(
    backends: &[Box<dyn Backend + Send>],
    scenarios: &[Scenario],
    tags: &[ArgoTag],
    tag_info: BTreeMap<String, BTreeMap<Component, TagInfo>>,
    cells: Vec<crate::report::Cell>,
    started: std::time::Instant,
) -> Report {
    let first = backends.first();
    let name = first.map(|b| b.name()).unwrap_or_default();
    let provider = first.and_then(|b| b.provider());
    Report::new(
        (name, provider),
        scenarios,
        tags,
        tag_info,
        cells,
        started.elapsed(),
    )
}
