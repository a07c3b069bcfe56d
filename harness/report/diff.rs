//! `authmatrix diff OLD NEW`: what moved between two runs' report.json — last night's and
//! tonight's, or the local and the cluster backend's of the same cells. Cells are keyed by
//! (scenario, Argo tag); a cell changed when its verdict or observed outcome did.

use super::{Cell, Report};
use std::collections::BTreeMap;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Diff {
    /// (scenario, tag, old cell, new cell) whose verdict or observed outcome differ.
    pub changed: Vec<Change>,
    /// Cells only the new report has.
    pub new: Vec<(String, String, String)>,
    /// Cells only the old report has.
    pub vanished: Vec<(String, String, String)>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Change {
    pub scenario: String,
    pub argo: String,
    pub old: String,
    pub new: String,
    /// The new cell is a regression or an unexpected pass that the old one was not.
    pub newly_wrong: bool,
    /// The new cell's message, for the reader.
    pub message: String,
}

fn describe(c: &Cell) -> String {
    format!(
        "{} ({})",
        c.verdict.as_str(),
        serde_json::to_value(c.observed.outcome)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    )
}

fn wrong(c: &Cell) -> bool {
    matches!(
        c.verdict.as_str(),
        "regression" | "unexpected-pass" | "signature-mismatch"
    )
}

pub fn diff(old: &Report, new: &Report) -> Diff {
    let key = |c: &Cell| (c.id.scenario.clone(), c.id.tag.tag.clone());
    let before: BTreeMap<_, &Cell> = old.cells.iter().map(|c| (key(c), c)).collect();
    let after: BTreeMap<_, &Cell> = new.cells.iter().map(|c| (key(c), c)).collect();
    let mut d = Diff::default();
    for (k, n) in &after {
        match before.get(k) {
            None => {
                d.new.push((k.0.clone(), k.1.clone(), describe(n)));
                if wrong(n) {
                    d.changed.push(Change {
                        scenario: k.0.clone(),
                        argo: k.1.clone(),
                        old: "absent".into(),
                        new: describe(n),
                        newly_wrong: true,
                        message: n.observed.message.clone(),
                    });
                }
            }
            Some(o) if o.verdict != n.verdict || o.observed.outcome != n.observed.outcome => {
                d.changed.push(Change {
                    scenario: k.0.clone(),
                    argo: k.1.clone(),
                    old: describe(o),
                    new: describe(n),
                    newly_wrong: wrong(n) && !wrong(o),
                    message: n.observed.message.clone(),
                })
            }
            Some(_) => {}
        }
    }
    for (k, o) in &before {
        if !after.contains_key(k) {
            d.vanished.push((k.0.clone(), k.1.clone(), describe(o)));
        }
    }
    d
}

impl Diff {
    /// Exit status 1: some cell is newly a regression (or an unexpected pass, or a failure
    /// for another reason than the expected one).
    pub fn newly_regressed(&self) -> bool {
        self.changed.iter().any(|c| c.newly_wrong)
    }

    /// The text `authmatrix diff` prints.
    pub fn render(&self, old: &Report, new: &Report) -> String {
        let mut out = format!(
            "{} cells ({}) -> {} cells ({}): {} changed, {} new, {} vanished\n",
            old.cells.len(),
            old.runs_on(),
            new.cells.len(),
            new.runs_on(),
            self.changed.iter().filter(|c| c.old != "absent").count(),
            self.new.len(),
            self.vanished.len()
        );
        for c in self.changed.iter().filter(|c| c.old != "absent") {
            let mark = if c.newly_wrong {
                "NEWLY WRONG"
            } else {
                "changed"
            };
            out.push_str(&format!(
                "  {mark} {}::{}: {} -> {}\n    {}\n",
                c.scenario,
                c.argo,
                c.old,
                c.new,
                c.message.lines().next().unwrap_or_default()
            ));
        }
        for (s, t, v) in &self.new {
            let wrong = self
                .changed
                .iter()
                .any(|c| c.newly_wrong && &c.scenario == s && &c.argo == t);
            let mark = if wrong { "NEW, WRONG" } else { "new" };
            out.push_str(&format!("  {mark} {s}::{t}: {v}\n"));
        }
        for (s, t, v) in &self.vanished {
            out.push_str(&format!("  vanished {s}::{t}: was {v}\n"));
        }
        out
    }
}
