//! report.md: the matrix, what each non-passing cell said, and the dependency versions per tag.

use super::{Report, cell_label};
use crate::shared::KEY_MODULES;
use crate::shared::ObservedOutcome;
use std::fmt::Write;

pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let verdict = if r.summary.ok {
        "every cell as expected"
    } else {
        "SOME CELLS ARE NOT AS EXPECTED"
    };
    let _ = writeln!(s, "# authmatrix report ({}): {verdict}\n", r.runs_on());
    let _ = writeln!(
        s,
        "{} cells: {}; {:.1} s.\n",
        r.summary.cells,
        r.summary.verdict_counts(),
        r.elapsed_seconds
    );
    s.push_str(&matrix(r, true));
    s.push_str("\nLegend: ✅ passes as expected · ⛔ fails as expected · ❗ not as expected · ⚠️ the harness could not observe · 🔍 exploratory (no expectation) · 🔓 Argo printed a secret of the namespace into its logs.\n");

    let exposed: Vec<_> = r
        .cells
        .iter()
        .filter(|c| !c.observed.exposures.is_empty())
        .collect();
    if !exposed.is_empty() {
        let _ = writeln!(s, "\n## Credentials Argo printed\n");
        for c in exposed {
            let what: Vec<String> = c.observed.exposures.iter().map(|e| e.describe()).collect();
            let _ = writeln!(
                s,
                "- **{}** on `{}`: {}",
                c.id.scenario,
                c.id.tag,
                what.join("; ")
            );
        }
    }

    let _ = writeln!(s, "\n## Why cells fail\n");
    for c in r.cells.iter().filter(|c| {
        !matches!(
            c.observed.outcome,
            ObservedOutcome::Pass | ObservedOutcome::NotApplicable
        )
    }) {
        let _ = writeln!(
            s,
            "- **{}** on `{}` — {}: `{}`",
            c.id.scenario,
            c.id.tag,
            c.verdict.as_str(),
            one_line(&c.observed.message)
        );
    }

    let _ = writeln!(s, "\n## Scenarios\n");
    for sc in &r.scenarios {
        let refs: Vec<String> = sc.references.iter().map(|u| format!("<{u}>")).collect();
        let _ = writeln!(
            s,
            "- `{}` ({}): {}. {}",
            sc.id,
            sc.component.as_str(),
            sc.title,
            refs.join(" ")
        );
    }

    let _ = writeln!(s, "\n## What each version was built with\n");
    let _ = write!(s, "| tag | component | Go |");
    for m in KEY_MODULES {
        let _ = write!(s, " {} |", m.trim_start_matches("github.com/"));
    }
    let _ = writeln!(s, "\n|---|---|---|{}", "---|".repeat(KEY_MODULES.len()));
    for (tag, comps) in &r.versions {
        for (component, info) in comps {
            let _ = write!(
                s,
                "| {tag} | {} | {} |",
                component.as_str(),
                info.go_version
            );
            for m in KEY_MODULES {
                let cell = info.module_version(m);
                let _ = write!(s, " {cell} |");
            }
            s.push('\n');
        }
    }
    s
}

/// The matrix table; with `emoji` for Markdown, plain for terminals.
pub fn matrix(r: &Report, emoji: bool) -> String {
    let mut rows: Vec<Vec<String>> = vec![
        std::iter::once("scenario".to_string())
            .chain(r.argo.iter().map(|t| t.tag.clone()))
            .collect(),
    ];
    for sc in &r.scenarios {
        let mut row = vec![sc.id.clone()];
        for tag in &r.argo {
            row.push(
                r.cell(&sc.id, tag)
                    .map(|c| cell_label(c, emoji))
                    .unwrap_or_default(),
            );
        }
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut s = String::new();
    for (n, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(s, "| {} |", cells.join(" | "));
        if n == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            let _ = writeln!(s, "|-{}-|", rule.join("-|-"));
        }
    }
    s
}

fn one_line(s: &str) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 300 {
        format!("{}…", flat.chars().take(300).collect::<String>())
    } else {
        flat
    }
}
