//! junit.xml: one test case per cell, named `<scenario>::<tag>` with the scenario as class name,
//! so tools that key on classname+name see stable ids. Failure text carries the evidence.

use super::verdict::Verdict;
use super::{Cell, Report};
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use std::time::Duration;

pub fn render(r: &Report) -> anyhow::Result<String> {
    let mut report = quick_junit::Report::new("authmatrix");
    let mut suite = TestSuite::new(format!("authmatrix.{}", r.backend));
    for c in &r.cells {
        suite.add_test_case(case(c));
    }
    report.add_test_suite(suite);
    Ok(report.to_string()?)
}

fn case(c: &Cell) -> TestCase {
    let status = match c.verdict {
        Verdict::AsExpected | Verdict::Exploratory => TestCaseStatus::success(),
        // Skipped, not passed: the backend cannot run it.
        Verdict::NotApplicable => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(format!(
                "not applicable: {}",
                first_line(&c.observed.message)
            ));
            s
        }
        Verdict::InfraError => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(format!("infra-error: {}", first_line(&c.observed.message)))
                .set_description(evidence_text(c));
            s
        }
        v => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(format!(
                "{}: expected {:?}, observed {:?}: {}",
                v.as_str(),
                c.expected.outcome,
                c.observed.outcome,
                first_line(&c.observed.message)
            ))
            .set_type(v.as_str())
            .set_description(evidence_text(c));
            s
        }
    };
    let mut tc = TestCase::new(c.id.to_string(), status);
    tc.set_classname(c.id.scenario.clone())
        .set_time(Duration::from_millis(c.evidence.elapsed_ms));
    tc.set_system_out(format!(
        "observed {:?}: {}",
        c.observed.outcome, c.observed.message
    ));
    tc
}

/// The evidence of a cell as text, for failure bodies and test output.
pub fn evidence_text(c: &Cell) -> String {
    let mut s = format!(
        "scenario {} on Argo {}\nexpected: {:?}{}{}\nobserved: {:?}: {}\nverdict: {}\nprobe: {} (stage {:?}, exit {:?}, {} ms)\n",
        c.id.scenario,
        c.id.tag,
        c.expected.outcome,
        c.expected
            .error
            .as_ref()
            .map(|e| format!(" matching /{e}/"))
            .unwrap_or_default(),
        c.expected
            .versions
            .as_ref()
            .map(|v| format!(" for {v}"))
            .unwrap_or_default(),
        c.observed.outcome,
        c.observed.message,
        c.verdict.as_str(),
        c.evidence.probe,
        c.evidence.stage,
        c.evidence.exit_code,
        c.evidence.elapsed_ms
    );
    for e in &c.observed.exposures {
        s.push_str(&format!("credential exposed: {}\n", e.describe()));
    }
    if !c.evidence.fake_events.is_empty() {
        s.push_str("fake cloud saw:\n");
        for e in &c.evidence.fake_events {
            s.push_str(&format!(
                "  {} {} -> {} {}\n",
                e.fake, e.request, e.status, e.detail
            ));
        }
    }
    for log in &c.evidence.logs {
        if !log.text.trim().is_empty() {
            let lines: Vec<&str> = log.text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(30)..];
            s.push_str(&format!(
                "{} (last {} lines):\n{}\n",
                log.source,
                tail.len(),
                tail.join("\n")
            ));
        }
    }
    s
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}
