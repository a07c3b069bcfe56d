//! The scan as a person reads it.

use super::Scan;
use std::fmt::Write;

pub fn text(s: &Scan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "scanned: {}", s.source);
    let counts: Vec<String> = s.objects.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let _ = writeln!(
        out,
        "objects read: {}",
        if counts.is_empty() {
            "none".into()
        } else {
            counts.join(", ")
        }
    );
    match (&s.running, &s.running_evidence) {
        (Some(v), Some(e)) => {
            let _ = writeln!(out, "running: Argo {v}\n  from {e}");
        }
        _ => {
            let _ = writeln!(out, "running: unknown (see coverage)");
        }
    }
    let _ = writeln!(out, "\n{} setup(s):", s.setups.len());
    for x in &s.setups {
        let scenario = match &x.corresponds_to {
            Some(id) => format!("catalogue scenario {id}"),
            None => "no catalogue scenario: exploratory".into(),
        };
        let _ = writeln!(
            out,
            "\n  {} [{}]\n    {}\n    {scenario}",
            x.id,
            x.component.as_str(),
            x.summary
        );
        for e in &x.evidence {
            let _ = writeln!(out, "      {e}");
        }
    }
    let _ = writeln!(
        out,
        "\ncoverage: {}",
        if s.coverage.is_empty() {
            "everything needed was read"
        } else {
            "what could not be seen"
        }
    );
    for g in &s.coverage {
        let _ = writeln!(
            out,
            "  - {}: {}\n    unknown: {}",
            g.what,
            g.why,
            g.unknown.join("; ")
        );
    }
    out
}
