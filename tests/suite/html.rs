//! report.html in a real browser: Debian's headless Chromium opens the file, the matrix is there,
//! and a cell's evidence unfolds from its link. A screenshot lands in target/authmatrix-html/.

use authmatrix::report::verdict::Verdict;
use authmatrix::report::{Cell, Expected, Observed, Report, html::cell_id};
use authmatrix::scenario::{self, ExpectedOutcome};
use authmatrix::shared::ArgoTag;
use authmatrix::shared::{ArgoLog, Evidence, ObservedOutcome};
use std::path::Path;
use std::process::Command;

fn chromium(args: &[&str], url: &str) -> std::process::Output {
    let profile = tempfile::tempdir().unwrap();
    // A headless browser that never exits would hang the suite: bounded, it fails.
    crate::util::output_within(
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(args)
            .arg(url),
    )
}

fn cell(scenario: &str, tag: &str, outcome: ObservedOutcome, message: &str) -> Cell {
    Cell {
        id: authmatrix::shared::CellId {
            scenario: scenario.into(),
            tag: authmatrix::shared::ArgoTag::parse(tag).unwrap(),
            column: authmatrix::scenario::Component::ExecutorS3,
        },
        observed: Observed {
            outcome,
            message: message.into(),
            exposures: vec![],
        },
        expected: Expected {
            outcome: ExpectedOutcome::Fail,
            error: Some("401".into()),
            log: None,
            versions: Some(">=3.6.0, <3.6.5".into()),
            note: None,
        },
        verdict: Verdict::AsExpected,
        evidence: Evidence {
            probe: "controller-entrypoint".into(),
            logs: vec![ArgoLog::new("probe stdout", "lookup log line")],
            diagnosis: Some(
                "ecr: Failed to get authorization token: not found, ResolveEndpointV2".into(),
            ),
            ..Default::default()
        },
    }
}

#[test]
fn the_html_report_shows_the_matrix_and_unfolds_a_cells_evidence_in_chromium() {
    require!(Chromium);
    let all = scenario::load_dir(&crate::util::root().join("scenarios")).unwrap();
    let scenarios: Vec<_> = all
        .into_iter()
        .filter(|s| s.id == "ecr-irsa-entrypoint")
        .collect();
    let tags = ArgoTag::parse_list("v3.5.12,v3.6.0,v3.6.5").unwrap();
    let cells = vec![
        cell(
            "ecr-irsa-entrypoint",
            "v3.5.12",
            ObservedOutcome::Pass,
            "entrypoint [\"/bin/busybox\"]",
        ),
        cell(
            "ecr-irsa-entrypoint",
            "v3.6.0",
            ObservedOutcome::Fail,
            "unexpected status code 401 Unauthorized: Not Authorized",
        ),
        cell(
            "ecr-irsa-entrypoint",
            "v3.6.5",
            ObservedOutcome::Pass,
            "entrypoint [\"/bin/busybox\"]",
        ),
    ];
    let report = Report::new(
        ("local", None),
        &scenarios,
        &tags,
        Default::default(),
        cells,
        std::time::Duration::from_secs(1),
    );
    let out = crate::util::root().join("target/authmatrix-html");
    report.write(&out).unwrap();
    let url = format!(
        "file://{}#{}",
        out.join("report.html").display(),
        cell_id("ecr-irsa-entrypoint", "v3.6.0")
    );

    let dom = chromium(&["--dump-dom"], &url);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("<table id=\"matrix\">") && dom.contains("ecr-irsa-entrypoint"),
        "the matrix is rendered:\n{dom}"
    );
    assert!(
        dom.contains("href=\"https://github.com/argoproj/argo-workflows/issues/13947\""),
        "upstream links"
    );
    let opened = format!(
        "<details id=\"{}\" open=\"\">",
        cell_id("ecr-irsa-entrypoint", "v3.6.0")
    );
    assert!(
        dom.contains(&opened),
        "the linked cell's evidence is unfolded"
    );
    assert!(
        dom.contains("ResolveEndpointV2") && dom.contains("401 Unauthorized: Not Authorized"),
        "the evidence is in it"
    );

    let shot = out.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let r = chromium(
        &[
            "--window-size=1200,800",
            "--virtual-time-budget=3000",
            &format!("--screenshot={}", shot.display()),
        ],
        &url,
    );
    assert!(
        shot_is_drawn(&shot),
        "screenshot saved at {}: {}",
        shot.display(),
        String::from_utf8_lossy(&r.stderr)
    );
}

/// A PNG of a rendered page, not a blank one (a blank 1200x800 PNG is a few kB).
fn shot_is_drawn(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 20_000)
}
