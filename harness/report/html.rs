//! report.html: one self-contained file (no network): the versions × scenarios matrix coloured by
//! verdict, upstream links, the version that fixed each scenario, expandable evidence per cell, and
//! the dependency versions per tag. Opening `report.html#cell-<scenario>--<tag>` unfolds that cell.

use super::junit::evidence_text;
use super::{Report, cell_label};
use crate::shared::KEY_MODULES;
use crate::shared::ObservedOutcome;
use std::fmt::Write;

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330}
h1{font-size:20px} h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse} th,td{border:1px solid #d0d5dd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f2f4f7} td.cell a{color:inherit;text-decoration:none;display:block}
.as-expected.pass{background:#d1fadf} .as-expected.fail{background:#fde2c8}
.regression,.unexpected-pass,.signature-mismatch{background:#fda29b;font-weight:600}
.infra-error{background:#fef0c7} .exploratory{background:#e0eaff}
details{margin:4px 0;border:1px solid #d0d5dd;border-radius:4px;padding:4px 8px}
details[open]{background:#f9fafb} pre{white-space:pre-wrap;font-size:12px}
.ok{color:#027a48} .bad{color:#b42318}
";

/// Unfolds the cell named in the URL's fragment.
const SCRIPT: &str = "function openHash(){var d=document.getElementById(decodeURIComponent(location.hash.slice(1)));if(d&&d.tagName==='DETAILS'){d.open=true;d.scrollIntoView();}}window.addEventListener('hashchange',openHash);window.addEventListener('DOMContentLoaded',openHash);";

pub fn cell_id(scenario: &str, tag: &str) -> String {
    format!("cell-{scenario}--{tag}")
}

pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let status = if r.summary.ok {
        "<span class=ok>every cell as expected</span>"
    } else {
        "<span class=bad>some cells are not as expected</span>"
    };
    let _ = write!(
        s,
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>authmatrix report</title><style>{STYLE}</style><script>{SCRIPT}</script></head><body>\
         <h1>authmatrix report ({}): {status}</h1><p>{} cells: {}; {:.1} s.</p>",
        esc(&r.runs_on()),
        r.summary.cells,
        esc(&r.summary.verdict_counts()),
        r.elapsed_seconds
    );

    s.push_str("<h2>Matrix</h2><table id=matrix><tr><th>scenario</th>");
    for tag in &r.argo {
        let _ = write!(s, "<th>{}</th>", esc(tag));
    }
    s.push_str("<th>passes again from</th><th>upstream</th></tr>");
    for sc in &r.scenarios {
        let _ = write!(
            s,
            "<tr><th title=\"{}\">{}</th>",
            esc(&sc.title),
            esc(&sc.id)
        );
        for tag in &r.argo {
            match r.cell(&sc.id, tag) {
                Some(c) => {
                    let outcome = if c.observed.outcome == ObservedOutcome::Pass {
                        "pass"
                    } else {
                        "fail"
                    };
                    let _ = write!(
                        s,
                        "<td class=\"cell {} {outcome}\"><a href=\"#{}\" title=\"{}\">{}</a></td>",
                        c.verdict.as_str(),
                        cell_id(&c.id.scenario, &c.id.tag),
                        esc(&c.observed.message),
                        esc(&cell_label(c, false))
                    );
                }
                None => s.push_str("<td></td>"),
            }
        }
        let _ = write!(
            s,
            "<td>{}</td><td>",
            esc(&fixed_from(r, &sc.id).unwrap_or_default())
        );
        for url in &sc.references {
            let short = url
                .rsplit('/')
                .take(2)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("/");
            let _ = write!(s, "<a href=\"{}\">{}</a> ", esc(url), esc(&short));
        }
        s.push_str("</td></tr>");
    }
    s.push_str("</table>");

    s.push_str("<h2>Evidence</h2>");
    for c in &r.cells {
        let _ = write!(
            s,
            "<details id=\"{}\"><summary><b>{}</b> on {}: {}</summary><pre>{}</pre>{}</details>",
            cell_id(&c.id.scenario, &c.id.tag),
            esc(&c.id.scenario),
            esc(&c.id.tag),
            esc(c.verdict.as_str()),
            esc(&evidence_text(c)),
            c.evidence
                .diagnosis
                .as_ref()
                .map(|d| format!("<p>Diagnosis:</p><pre>{}</pre>", esc(d)))
                .unwrap_or_default()
        );
    }

    s.push_str("<h2>What each version was built with</h2><table><tr><th>tag</th><th>component</th><th>Go</th>");
    for m in KEY_MODULES {
        let _ = write!(s, "<th>{}</th>", esc(m.trim_start_matches("github.com/")));
    }
    s.push_str("</tr>");
    for (tag, comps) in &r.versions {
        for (component, info) in comps {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td>",
                esc(tag),
                component.as_str(),
                esc(&info.go_version)
            );
            for m in KEY_MODULES {
                let v = info.module_version(m);
                let _ = write!(s, "<td>{}</td>", esc(&v));
            }
            s.push_str("</tr>");
        }
    }
    s.push_str("</table></body></html>\n");
    s
}

/// The first tag, in the report's order, where the scenario passes after having failed.
fn fixed_from(r: &Report, scenario: &str) -> Option<String> {
    let mut failed = false;
    for tag in &r.argo {
        match r.cell(scenario, tag).map(|c| c.observed.outcome) {
            Some(ObservedOutcome::Fail) => failed = true,
            Some(ObservedOutcome::Pass) if failed => return Some(tag.tag.clone()),
            _ => {}
        }
    }
    None
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
