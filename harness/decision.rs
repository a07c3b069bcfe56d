//! Upgrade decisions: may a team go from one Argo version to another, given the auth setups it uses?
//!
//! NO-GO when a scenario in scope passes on `from` and fails on `to`; CONDITIONAL when none
//! regresses but some scenario could not be decided on one of the two versions (infra error,
//! exploratory cell, not run); GO when every scenario in scope was measured on both and none regressed.

use crate::report::verdict::Verdict;
use crate::report::{Cell, Report};
use crate::scenario::{ExpectedOutcome, Scenario, range::tag_version};
use crate::shared::{ArgoTag, ObservedOutcome};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Decision {
    Go,
    Conditional,
    #[serde(rename = "NO-GO")]
    NoGo,
}

impl Decision {
    pub fn label(self) -> &'static str {
        match self {
            Decision::Go => "GO",
            Decision::Conditional => "CONDITIONAL",
            Decision::NoGo => "NO-GO",
        }
    }

    /// 0 GO, 1 NO-GO, 2 CONDITIONAL: `crate::exit`'s codes, which no error shares.
    pub fn exit_code(self) -> u8 {
        match self {
            Decision::Go => crate::exit::OK,
            Decision::NoGo => crate::exit::NO_GO,
            Decision::Conditional => crate::exit::CONDITIONAL,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Blocker {
    pub scenario: String,
    /// The error Argo's code returned on the target version.
    pub error: String,
    pub references: Vec<String>,
    /// The first version after `to` that the catalogue expects to pass, if any.
    pub fixed_in: Option<String>,
    /// Scenarios of the same component that pass on the target version.
    pub workarounds: Vec<String>,
    /// For a setup that still works but whose credentials Argo prints after the upgrade: which
    /// secret, where (never the value).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exposed: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Undecided {
    pub scenario: String,
    pub reason: String,
}

#[derive(Debug, Serialize)]
pub struct UpgradeVerdict {
    pub from: String,
    pub to: String,
    pub decision: Decision,
    pub blockers: Vec<Blocker>,
    pub undecided: Vec<Undecided>,
    /// Scenarios that failed on `from` and pass on `to`.
    pub fixed: Vec<String>,
    /// Scenarios that fail on both: broken already on the running version, not by the upgrade
    /// (with the error on `to`).
    pub broken_already: Vec<Undecided>,
    /// Where `scan` found each setup in scope (scenario id → objects and field paths), for the
    /// setups a scan wrote.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub found_in: std::collections::BTreeMap<String, Vec<String>>,
}

/// Decides from a report holding the cells of `scope` on both versions.
pub fn decide(report: &Report, scope: &[Scenario], from: &str, to: &str) -> UpgradeVerdict {
    let mut blockers = Vec::new();
    let mut undecided = Vec::new();
    let mut fixed = Vec::new();
    let mut broken_already = Vec::new();
    for s in scope {
        let (a, b) = (report.cell(&s.id, from), report.cell(&s.id, to));
        match (a, b) {
            (Some(a), Some(b)) => {
                if let Some(reason) = undecidable(a).or_else(|| undecidable(b)) {
                    undecided.push(Undecided {
                        scenario: s.id.clone(),
                        reason,
                    });
                    continue;
                }
                match (a.observed.outcome, b.observed.outcome) {
                    (ObservedOutcome::Pass, ObservedOutcome::Fail) => blockers.push(Blocker {
                        scenario: s.id.clone(),
                        error: b.observed.message.clone(),
                        references: s.references.clone(),
                        fixed_in: fixed_in(s, to, report),
                        workarounds: workarounds(report, s, to),
                        exposed: vec![],
                    }),
                    (ObservedOutcome::Fail, ObservedOutcome::Pass) => fixed.push(s.id.clone()),
                    (ObservedOutcome::Fail, ObservedOutcome::Fail) => {
                        broken_already.push(Undecided {
                            scenario: s.id.clone(),
                            reason: first_line(&b.observed.message).to_string(),
                        })
                    }
                    _ => {}
                }
                let (newly, gone) = exposure_change(a, b);
                if !newly.is_empty() {
                    blockers.push(Blocker {
                        scenario: s.id.clone(),
                        error: format!(
                            "Argo prints this setup's credentials into its logs on {to}"
                        ),
                        references: s.references.clone(),
                        fixed_in: unexposed_in(s, to, report),
                        workarounds: vec![],
                        exposed: newly,
                    });
                }
                if gone {
                    fixed.push(format!("{} (credentials no longer printed)", s.id));
                }
            }
            (a, _) => {
                let missing = if a.is_none() { from } else { to };
                undecided.push(Undecided {
                    scenario: s.id.clone(),
                    reason: format!("not run on {missing} by the {} backend", report.backend),
                });
            }
        }
    }
    let decision = if !blockers.is_empty() {
        Decision::NoGo
    } else if !undecided.is_empty() {
        Decision::Conditional
    } else {
        Decision::Go
    };
    UpgradeVerdict {
        from: from.into(),
        to: to.into(),
        decision,
        blockers,
        undecided,
        fixed,
        broken_already,
        found_in: scope
            .iter()
            .filter(|s| !s.found_in.is_empty())
            .map(|s| (s.id.clone(), s.found_in.clone()))
            .collect(),
    }
}

/// The exposures `to` shows that `from` did not (described), and whether `from`'s are all gone.
fn exposure_change(from: &Cell, to: &Cell) -> (Vec<String>, bool) {
    let before: Vec<&str> = from
        .observed
        .exposures
        .iter()
        .map(|e| e.secret.as_str())
        .collect();
    let newly = to
        .observed
        .exposures
        .iter()
        .filter(|e| !before.contains(&e.secret.as_str()))
        .map(|e| e.describe())
        .collect();
    (
        newly,
        !before.is_empty() && to.observed.exposures.is_empty(),
    )
}

/// The first version after `to` where the scenario's credentials are not printed.
fn unexposed_in(s: &Scenario, to: &str, report: &Report) -> Option<String> {
    let unexposed = |c: &Cell| c.verdict != Verdict::InfraError && c.observed.exposures.is_empty();
    first_later(s, to, report, unexposed, |e| e.exposes.is_empty())
}

/// The first version after `to` where a cell is `good`: a later tag of the report (measured) first,
/// else the lower end of the first expectation above `to` that says so.
fn first_later(
    s: &Scenario,
    to: &str,
    report: &Report,
    good: impl Fn(&Cell) -> bool,
    expected_good: impl Fn(&crate::scenario::Expectation) -> bool,
) -> Option<String> {
    let to_v = tag_version(to)?;
    let later = |t: &&ArgoTag| tag_version(t).is_some_and(|v| v > to_v);
    let measured = report
        .argo
        .iter()
        .filter(later)
        .find(|t| report.cell(&s.id, t).is_some_and(&good));
    if let Some(t) = measured {
        return Some(t.tag.clone());
    }
    s.expectations
        .iter()
        .filter(|e| expected_good(e))
        .filter_map(|e| e.range.lower_bound().filter(|v| *v > to_v))
        .map(|v| format!("v{v} (expected)"))
        .next()
}

fn undecidable(c: &Cell) -> Option<String> {
    match c.verdict {
        Verdict::InfraError => Some(format!(
            "the harness could not observe it on {}: {}",
            c.id.tag,
            first_line(&c.observed.message)
        )),
        Verdict::NotApplicable => Some(format!(
            "not applicable on {}: {}",
            c.id.tag,
            first_line(&c.observed.message)
        )),
        Verdict::Exploratory => Some(format!(
            "exploratory on {} (no expectation to judge {:?} against)",
            c.id.tag, c.observed.outcome
        )),
        _ => None,
    }
}

/// The first version after `to` where the scenario passes.
fn fixed_in(s: &Scenario, to: &str, report: &Report) -> Option<String> {
    let passes = |c: &Cell| c.observed.outcome == ObservedOutcome::Pass;
    first_later(s, to, report, passes, |e| {
        e.outcome == ExpectedOutcome::Pass
    })
}

fn workarounds(report: &Report, s: &Scenario, to: &str) -> Vec<String> {
    report
        .scenarios
        .iter()
        .filter(|o| o.id != s.id && o.component == s.component)
        .filter(|o| {
            report
                .cell(&o.id, to)
                .is_some_and(|c| c.observed.outcome == ObservedOutcome::Pass)
        })
        .map(|o| o.id.clone())
        .collect()
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

impl UpgradeVerdict {
    pub fn render(&self) -> String {
        let mut out = format!("{} {} -> {}: ", self.decision.label(), self.from, self.to);
        out.push_str(match self.decision {
            Decision::Go => {
                "every scenario in scope was measured on both versions and none regressed\n"
            }
            Decision::Conditional => {
                "no measured regression, but some scenarios could not be decided\n"
            }
            Decision::NoGo => "these setups work now and break after the upgrade\n",
        });
        for b in &self.blockers {
            out.push_str(&format!(
                "\n  BLOCKER {}\n    error on {}: {}\n",
                b.scenario,
                self.to,
                first_line(&b.error)
            ));
            for e in &b.exposed {
                out.push_str(&format!("    exposed: {e}\n"));
            }
            self.push_found_in(&mut out, &b.scenario);
            if !b.references.is_empty() {
                out.push_str(&format!("    upstream: {}\n", b.references.join(" ")));
            }
            out.push_str(&format!(
                "    fixed in: {}\n",
                b.fixed_in.as_deref().unwrap_or("no passing version known")
            ));
            if !b.workarounds.is_empty() {
                out.push_str(&format!(
                    "    setups that work on {}: {}\n",
                    self.to,
                    b.workarounds.join(", ")
                ));
            }
        }
        for u in &self.undecided {
            out.push_str(&format!("\n  UNDECIDED {}: {}\n", u.scenario, u.reason));
            self.push_found_in(&mut out, &u.scenario);
        }
        for b in &self.broken_already {
            out.push_str(&format!(
                "\n  BROKEN ALREADY on {} (and still on {}): {}\n    error on {}: {}\n",
                self.from, self.to, b.scenario, self.to, b.reason
            ));
            self.push_found_in(&mut out, &b.scenario);
        }
        if !self.fixed.is_empty() {
            out.push_str(&format!(
                "\n  fixed by the upgrade: {}\n",
                self.fixed.join(", ")
            ));
        }
        out
    }
}

impl UpgradeVerdict {
    /// The objects a scanned setup came from, one line each.
    fn push_found_in(&self, out: &mut String, scenario: &str) {
        for place in self.found_in.get(scenario).into_iter().flatten() {
            out.push_str(&format!("    found in: {place}\n"));
        }
    }
}

/// `--from` as given, else the running version `scan --out` recorded beside the scenarios.
pub fn from_or_recorded(
    from: Option<String>,
    scenario_dir: Option<&std::path::Path>,
) -> anyhow::Result<String> {
    if let Some(from) = from {
        return Ok(from);
    }
    let recorded = scenario_dir.and_then(crate::scan::catalogue::recorded_running);
    recorded.ok_or_else(|| {
        anyhow::anyhow!(
            "give --from: no running version recorded ({} in --scenarios DIR, written by `scan --out DIR`)",
            crate::scan::catalogue::RECORD
        )
    })
}

/// The scenario globs a team relies on: `--uses` values, then a `--uses-file`'s lines (one glob a
/// line, `#` starts a comment).
pub fn uses_globs(
    mut globs: Vec<String>,
    file: Option<&std::path::Path>,
) -> anyhow::Result<Vec<String>> {
    let Some(file) = file else { return Ok(globs) };
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
    let lines = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim());
    globs.extend(lines.filter(|l| !l.is_empty()).map(str::to_string));
    Ok(globs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Expected, Observed, ScenarioSummary};
    use crate::shared::Evidence;

    fn scenario(id: &str) -> Scenario {
        let yaml = format!(
            "id: {id}\ntitle: t\ncomponent: executor-s3\nreferences: [https://example.test/13947]\nauth: {{mode: none}}\n\
             artifact: {{s3: {{bucket: b, key: k}}}}\nexpect:\n  - versions: \">=3.5.0, <3.6.0\"\n    outcome: pass\n\
             \x20 - versions: \">=3.6.0, <3.6.5\"\n    outcome: fail\n    error: x\n  - versions: \">=3.6.5\"\n    outcome: pass\n"
        );
        crate::scenario::parse(std::path::Path::new("t.yaml"), &yaml).unwrap()
    }

    fn cell(s: &str, tag: &str, outcome: ObservedOutcome, verdict: Verdict) -> Cell {
        Cell {
            id: crate::shared::CellId {
                scenario: s.into(),
                tag: ArgoTag::parse(tag).unwrap(),
                column: crate::scenario::Component::ExecutorS3,
            },
            observed: Observed {
                outcome,
                message: format!("{outcome:?} on {tag}"),
                exposures: vec![],
            },
            expected: Expected {
                outcome: ExpectedOutcome::Pass,
                error: None,
                log: None,
                versions: None,
                note: None,
            },
            verdict,
            evidence: Evidence::default(),
        }
    }

    fn report(cells: Vec<Cell>, ids: &[&str]) -> Report {
        let mut r = Report::new(
            ("local", None),
            &[],
            &[],
            Default::default(),
            cells,
            std::time::Duration::ZERO,
        );
        r.argo = ArgoTag::parse_list("v3.5.11,v3.6.0,v3.6.5").unwrap();
        r.scenarios = ids
            .iter()
            .map(|id| ScenarioSummary {
                id: id.to_string(),
                title: String::new(),
                component: crate::scenario::Component::ExecutorS3,
                references: vec![],
            })
            .collect();
        r
    }

    use ObservedOutcome::{Error, Fail, Pass};
    use Verdict::{AsExpected, InfraError};

    #[test]
    fn a_setup_that_passes_before_and_fails_after_is_a_blocker_with_its_fix_and_workarounds() {
        let scope = [scenario("broken"), scenario("fine")];
        let r = report(
            vec![
                cell("broken", "v3.5.11", Pass, AsExpected),
                cell("broken", "v3.6.0", Fail, AsExpected),
                cell("broken", "v3.6.5", Pass, AsExpected),
                cell("fine", "v3.5.11", Pass, AsExpected),
                cell("fine", "v3.6.0", Pass, AsExpected),
            ],
            &["broken", "fine"],
        );
        let v = decide(&r, &scope, "v3.5.11", "v3.6.0");
        assert_eq!(v.decision, Decision::NoGo);
        assert_eq!(v.blockers.len(), 1);
        let b = &v.blockers[0];
        assert_eq!(
            (b.scenario.as_str(), b.fixed_in.as_deref()),
            ("broken", Some("v3.6.5"))
        );
        assert_eq!(b.workarounds, vec!["fine".to_string()]);
        assert_eq!(b.references, vec!["https://example.test/13947".to_string()]);
    }

    #[test]
    fn a_setup_failing_on_both_versions_is_listed_as_broken_already_not_as_a_blocker() {
        let scope = [scenario("gone")];
        let r = report(
            vec![
                cell("gone", "v3.5.11", Fail, AsExpected),
                cell("gone", "v3.6.0", Fail, AsExpected),
            ],
            &["gone"],
        );
        let v = decide(&r, &scope, "v3.5.11", "v3.6.0");
        assert_eq!(v.decision, Decision::Go);
        assert_eq!(v.broken_already[0].scenario, "gone");
        assert_eq!(v.broken_already[0].reason, "Fail on v3.6.0");
        assert!(
            v.render()
                .contains("BROKEN ALREADY on v3.5.11 (and still on v3.6.0): gone"),
            "{}",
            v.render()
        );
    }

    #[test]
    fn the_fix_version_falls_back_to_the_catalogue_when_not_measured() {
        let scope = [scenario("broken")];
        let r = report(
            vec![
                cell("broken", "v3.5.11", Pass, AsExpected),
                cell("broken", "v3.6.0", Fail, AsExpected),
            ],
            &["broken"],
        );
        assert_eq!(
            decide(&r, &scope, "v3.5.11", "v3.6.0").blockers[0]
                .fixed_in
                .as_deref(),
            Some("v3.6.5 (expected)")
        );
    }

    #[test]
    fn infra_errors_and_missing_cells_make_it_conditional_and_clean_runs_go() {
        let scope = [scenario("a")];
        let r = report(
            vec![
                cell("a", "v3.5.11", Pass, AsExpected),
                cell("a", "v3.6.5", Error, InfraError),
            ],
            &["a"],
        );
        let v = decide(&r, &scope, "v3.5.11", "v3.6.5");
        assert_eq!(v.decision, Decision::Conditional);
        assert!(v.undecided[0].reason.contains("could not observe"));
        let missing = report(vec![cell("a", "v3.5.11", Pass, AsExpected)], &["a"]);
        assert_eq!(
            decide(&missing, &scope, "v3.5.11", "v3.6.5").decision,
            Decision::Conditional
        );
        let clean = report(
            vec![
                cell("a", "v3.5.11", Fail, AsExpected),
                cell("a", "v3.6.5", Pass, AsExpected),
            ],
            &["a"],
        );
        let v = decide(&clean, &scope, "v3.5.11", "v3.6.5");
        assert_eq!(
            (v.decision, v.fixed.clone()),
            (Decision::Go, vec!["a".to_string()])
        );
    }

    #[test]
    fn uses_globs_come_from_flags_then_the_file_without_comments() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("uses.txt");
        std::fs::write(&file, "# our setups\ns3-irsa-*   # IRSA\n\necr-*\n").unwrap();
        let globs = uses_globs(vec!["minio-*".into()], Some(&file)).unwrap();
        assert_eq!(globs, ["minio-*", "s3-irsa-*", "ecr-*"]);
        let missing = uses_globs(vec![], Some(&dir.path().join("nope"))).unwrap_err();
        assert!(missing.to_string().starts_with("reading "), "{missing}");
    }
}
