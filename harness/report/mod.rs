//! The run's report: `report.json` (a contract: schema `authmatrix.report/v1`), `report.md`
//! (for people and GitHub step summaries), `junit.xml` (one test case per cell) and `report.html`.

pub mod diff;
pub mod html;
pub mod junit;
mod markdown;
pub mod verdict;

use crate::scenario::{Component, ExpectedOutcome, Scenario};
use crate::shared::{ArgoTag, CellId, Evidence, Exposure, ObservedOutcome, TagInfo};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use verdict::Verdict;

pub const SCHEMA: &str = "authmatrix.report/v1";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub backend: String,
    /// The cluster backend's provider (`local-up`, `kind`); absent for the local backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Tags in version order: the matrix's columns.
    pub argo: Vec<ArgoTag>,
    /// Per tag and component: toolchain and dependency versions of what ran.
    pub versions: BTreeMap<String, BTreeMap<Component, TagInfo>>,
    pub scenarios: Vec<ScenarioSummary>,
    pub cells: Vec<Cell>,
    pub summary: Summary,
    #[serde(rename = "elapsedSeconds")]
    pub elapsed_seconds: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScenarioSummary {
    pub id: String,
    pub title: String,
    pub component: Component,
    pub references: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cell {
    /// `scenario`, `argo` and `column` in report.json.
    #[serde(flatten)]
    pub id: CellId,
    pub observed: Observed,
    pub expected: Expected,
    pub verdict: Verdict,
    pub evidence: Evidence,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Observed {
    pub outcome: ObservedOutcome,
    pub message: String,
    /// Secrets of the namespace Argo printed, by name, place and encoding (never the value).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposures: Vec<Exposure>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Expected {
    pub outcome: ExpectedOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Summary {
    pub cells: usize,
    /// Verdict → number of cells.
    pub verdicts: BTreeMap<String, usize>,
    /// True when every cell is `as-expected` or `exploratory`: the run's exit status.
    pub ok: bool,
}

impl Summary {
    /// `56 as-expected, 2 regression`.
    pub fn verdict_counts(&self) -> String {
        self.verdicts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Report {
    /// "local backend", "cluster backend, kind": where the cells ran, for headings.
    pub fn runs_on(&self) -> String {
        match &self.provider {
            Some(provider) => format!("{} backend, {provider}", self.backend),
            None => format!("{} backend", self.backend),
        }
    }

    /// A report of cells the `backend` ran (with the cluster `provider`, for the cluster backend).
    pub fn new(
        (backend, provider): (&str, Option<&str>),
        scenarios: &[Scenario],
        tags: &[ArgoTag],
        versions: BTreeMap<String, BTreeMap<Component, TagInfo>>,
        mut cells: Vec<Cell>,
        elapsed: Duration,
    ) -> Report {
        // Cells may finish in any order (parallel workers); the report's order is the catalogue's.
        let rank = |c: &Cell| {
            (
                scenarios.iter().position(|s| s.id == c.id.scenario),
                tags.iter().position(|t| *t == c.id.tag),
            )
        };
        cells.sort_by_key(rank);
        let mut summary = Summary {
            cells: cells.len(),
            ok: cells.iter().all(|c| c.verdict.is_ok()),
            ..Default::default()
        };
        for c in &cells {
            *summary
                .verdicts
                .entry(c.verdict.as_str().to_string())
                .or_default() += 1;
        }
        Report {
            schema: SCHEMA.to_string(),
            backend: backend.to_string(),
            provider: provider.map(str::to_owned),
            argo: tags.to_vec(),
            versions,
            scenarios: scenarios
                .iter()
                .map(|s| ScenarioSummary {
                    id: s.id.clone(),
                    title: s.title.clone(),
                    component: s.component,
                    references: s.references.clone(),
                })
                .collect(),
            cells,
            summary,
            elapsed_seconds: elapsed.as_secs_f64(),
        }
    }

    pub fn cell(&self, scenario: &str, tag: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.id.is(scenario, tag))
    }

    /// Reads a run's report: `path` is its report.json or the directory holding it.
    pub fn read(path: &Path) -> anyhow::Result<Report> {
        let file = if path.is_dir() {
            path.join("report.json")
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&file)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
        let report: Report = serde_json::from_str(&text)
            .map_err(anyhow::Error::from)
            .and_then(|mut json: serde_json::Value| {
                with_columns(&mut json);
                Ok(serde_json::from_value(json)?)
            })
            .map_err(|e| anyhow::anyhow!("{} is not an authmatrix report: {e}", file.display()))?;
        if report.schema != SCHEMA {
            anyhow::bail!(
                "{} has schema {}, not {SCHEMA}",
                file.display(),
                report.schema
            );
        }
        Ok(report)
    }

    /// Writes report.json, report.md, junit.xml and report.html into `dir`, each atomically: all
    /// four are rendered and written beside their final names first, then renamed into place, so an
    /// interrupted run leaves the previous report or the new one, never half a file.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        let files = [
            ("report.json", serde_json::to_string_pretty(self)?),
            ("report.md", markdown::render(self)),
            ("junit.xml", junit::render(self)?),
            ("report.html", html::render(self)),
        ];
        let mut staged = Vec::new();
        for (name, text) in files {
            let partial = dir.join(format!(".{name}.partial-{}", std::process::id()));
            let written = std::fs::write(&partial, text);
            staged.push((partial, dir.join(name)));
            if let Err(e) = written {
                for (partial, _) in &staged {
                    let _ = std::fs::remove_file(partial);
                }
                return Err(e.into());
            }
        }
        for (partial, done) in staged {
            std::fs::rename(&partial, &done)?;
        }
        Ok(())
    }

    /// Refuses an output directory the reports could not be written to — before any cell runs, so
    /// a long run is not lost at its end. Creates `dir` if needed.
    pub fn check_writable(dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        let probe = dir.join(format!(".authmatrix-write-check-{}", std::process::id()));
        std::fs::write(&probe, b"")
            .map_err(|e| anyhow::anyhow!("cannot write into {}: {e}", dir.display()))?;
        let _ = std::fs::remove_file(&probe);
        Ok(())
    }

    /// The matrix for a terminal: one row per scenario, one column per tag.
    pub fn matrix_text(&self) -> String {
        markdown::matrix(self, false)
    }
}

/// A short word for a cell: the observed outcome, marked when the verdict is not as expected.
pub fn cell_label(cell: &Cell, emoji: bool) -> String {
    let outcome = match cell.observed.outcome {
        ObservedOutcome::Pass => "pass",
        ObservedOutcome::Fail => "fail",
        ObservedOutcome::Error => "error",
        ObservedOutcome::NotApplicable => "n/a",
    };
    let mark = match (cell.verdict, emoji) {
        (Verdict::AsExpected, true) => {
            if cell.observed.outcome == ObservedOutcome::Pass {
                "✅ "
            } else {
                "⛔ "
            }
        }
        (Verdict::AsExpected, false) => "",
        (Verdict::Exploratory, true) => "🔍 ",
        (Verdict::Exploratory, false) => "? ",
        (Verdict::InfraError, true) => "⚠️ ",
        (Verdict::NotApplicable, _) => "",
        (_, true) => "❗ ",
        (_, false) => "!! ",
    };
    let label = match cell.verdict {
        Verdict::AsExpected
        | Verdict::Exploratory
        | Verdict::InfraError
        | Verdict::NotApplicable => {
            format!("{mark}{outcome}")
        }
        v => format!("{mark}{outcome} ({})", v.as_str()),
    };
    match (cell.observed.exposures.is_empty(), emoji) {
        (true, _) => label,
        (false, true) => format!("{label} 🔓 exposed"),
        (false, false) => format!("{label} +exposed"),
    }
}

/// Reports written before cells named their column: each cell's column is its scenario's
/// component, which the report lists, so `diff` still reads them.
fn with_columns(report: &mut serde_json::Value) {
    let components: BTreeMap<String, serde_json::Value> = report["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s["id"].as_str()?.to_string(), s["component"].clone())))
        .collect();
    let Some(cells) = report["cells"].as_array_mut() else {
        return;
    };
    for cell in cells.iter_mut().filter(|c| c.get("column").is_none()) {
        let component = cell["scenario"]
            .as_str()
            .and_then(|s| components.get(s))
            .cloned();
        if let (Some(c), Some(obj)) = (component, cell.as_object_mut()) {
            obj.insert("column".into(), c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_written_before_cells_named_their_column_reads_with_its_scenarios_components() {
        let dir = tempfile::tempdir().unwrap();
        let old = serde_json::json!({
            "schema": SCHEMA, "backend": "local", "argo": ["v3.6.0"], "versions": {},
            "scenarios": [{"id": "ecr-irsa-entrypoint", "title": "t",
                           "component": "controller-entrypoint", "references": []}],
            "cells": [{"scenario": "ecr-irsa-entrypoint", "argo": "v3.6.0",
                       "observed": {"outcome": "fail", "message": "401"},
                       "expected": {"outcome": "fail"}, "verdict": "as-expected",
                       "evidence": {"probe": "p", "elapsedMs": 1, "env": {}, "fakeEvents": []}}],
            "summary": {"cells": 1, "verdicts": {}, "ok": true}, "elapsedSeconds": 1.0,
        });
        std::fs::write(dir.path().join("report.json"), old.to_string()).unwrap();
        let report = Report::read(dir.path()).unwrap();
        let id = &report.cells[0].id;
        assert_eq!(id.column, Component::ControllerEntrypoint);
        assert_eq!(id.to_string(), "ecr-irsa-entrypoint::v3.6.0");
        let again = serde_json::to_value(&report).unwrap();
        assert_eq!(again["cells"][0]["column"], "controller-entrypoint");
        assert_eq!(again["cells"][0]["argo"], "v3.6.0");
    }
}
