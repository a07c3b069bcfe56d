//! The matrix: scenarios × Argo tags, run on a backend and judged against expectations.

pub mod plan;
pub mod tags;
pub mod verdict;

use crate::backend::Backend;
use crate::report::{Cell, Expected, Report};
use crate::scenario::{ExpectedOutcome, Scenario};
use tags::ArgoTag;

/// The cell's name in `cargo test --test matrix` and in junit.xml.
pub fn cell_name(scenario: &str, tag: &str) -> String {
    format!("{scenario}::{tag}")
}

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

/// Runs one cell and judges it.
pub fn run_cell(backend: &mut dyn Backend, scenario: &Scenario, tag: &ArgoTag) -> Cell {
    let observation = backend.run(scenario, tag);
    let verdict = verdict::judge(scenario.expectation_for(&tag.version), &observation);
    Cell {
        scenario: scenario.id.clone(),
        argo: tag.tag.clone(),
        observed: crate::report::Observed {
            outcome: observation.outcome,
            message: observation.message,
        },
        expected: expected(scenario, tag),
        verdict,
        evidence: observation.evidence,
    }
}

/// Prepares the backend and runs every cell, scenario-major, tags in version order.
pub fn run(
    backend: &mut dyn Backend,
    scenarios: &[Scenario],
    tags: &[ArgoTag],
) -> anyhow::Result<Report> {
    let started = std::time::Instant::now();
    let mut components: Vec<_> = scenarios.iter().map(|s| s.component).collect();
    components.sort();
    components.dedup();
    let tag_info = backend.prepare(tags, &components, scenarios)?;
    let total = scenarios.len() * tags.len();
    let mut cells = Vec::with_capacity(total);
    for scenario in scenarios {
        for tag in tags {
            let cell = run_cell(backend, scenario, tag);
            crate::progress::line(&format!(
                "[{}/{total}] {} {}",
                cells.len() + 1,
                cell_name(&cell.scenario, &cell.argo),
                cell.verdict.as_str()
            ));
            cells.push(cell);
        }
    }
    Ok(Report::new(
        backend.name(),
        scenarios,
        tags,
        tag_info,
        cells,
        started.elapsed(),
    ))
}
