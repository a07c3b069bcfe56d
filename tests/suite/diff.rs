//! `authmatrix diff OLD NEW` on hand-written reports: what it says moved, and its exit status.

use std::process::Command;

fn cell(
    scenario: &str,
    argo: &str,
    outcome: &str,
    verdict: &str,
    message: &str,
) -> serde_json::Value {
    let column = match scenario.starts_with("s3-") {
        true => "executor-s3",
        false => "controller-entrypoint",
    };
    serde_json::json!({
        "scenario": scenario, "argo": argo, "column": column,
        "observed": {"outcome": outcome, "message": message},
        "expected": {"outcome": "pass"},
        "verdict": verdict,
        "evidence": {"probe": "hand-written", "elapsedMs": 1, "env": {}, "stdout": "", "stderr": "", "fakeEvents": []},
    })
}

fn report(
    dir: &std::path::Path,
    name: &str,
    backend: &str,
    cells: Vec<serde_json::Value>,
) -> std::path::PathBuf {
    let path = dir.join(name);
    let json = serde_json::json!({
        "schema": "authmatrix.report/v1", "backend": backend, "argo": ["v3.6.0", "v3.6.5"],
        "versions": {}, "scenarios": [], "cells": cells,
        "summary": {"cells": 0, "verdicts": {}, "ok": true}, "elapsedSeconds": 1.0,
    });
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

fn diff(old: &std::path::Path, new: &std::path::Path) -> (i32, String) {
    crate::util::run_text(
        Command::new(env!("CARGO_BIN_EXE_authmatrix"))
            .arg("diff")
            .arg(old)
            .arg(new),
    )
}

#[test]
fn a_newly_regressed_cell_fails_the_diff_and_is_named_with_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let old = report(
        dir.path(),
        "old.json",
        "local",
        vec![
            cell(
                "ecr-irsa-entrypoint",
                "v3.6.5",
                "pass",
                "as-expected",
                "entrypoint ok",
            ),
            cell("s3-static-keys", "v3.6.5", "pass", "as-expected", "loaded"),
            cell(
                "basic-no-secret-entrypoint",
                "v3.6.0",
                "fail",
                "as-expected",
                "UNAUTHORIZED",
            ),
        ],
    );
    let new = report(
        dir.path(),
        "new.json",
        "local",
        vec![
            cell(
                "ecr-irsa-entrypoint",
                "v3.6.5",
                "fail",
                "regression",
                "401 Unauthorized: Not Authorized",
            ),
            cell("s3-static-keys", "v3.6.5", "pass", "as-expected", "loaded"),
            cell(
                "minio-static-keys",
                "v3.6.5",
                "pass",
                "as-expected",
                "loaded",
            ),
        ],
    );
    let (code, out) = diff(&old, &new);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("1 changed, 1 new, 1 vanished"), "{out}");
    assert!(
        out.contains(
            "NEWLY WRONG ecr-irsa-entrypoint::v3.6.5: as-expected (pass) -> regression (fail)"
        ),
        "{out}"
    );
    assert!(out.contains("401 Unauthorized: Not Authorized"), "{out}");
    assert!(
        out.contains("new minio-static-keys::v3.6.5: as-expected (pass)"),
        "{out}"
    );
    assert!(
        out.contains("vanished basic-no-secret-entrypoint::v3.6.0: was as-expected (fail)"),
        "{out}"
    );
    assert!(
        !out.contains("s3-static-keys"),
        "an unchanged cell is not listed: {out}"
    );
}

#[test]
fn a_fixed_cell_and_a_backend_change_are_shown_but_pass() {
    let dir = tempfile::tempdir().unwrap();
    let old = report(
        dir.path(),
        "old.json",
        "local",
        vec![
            cell("ecr-irsa-entrypoint", "v3.6.0", "fail", "regression", "401"),
            cell("s3-static-keys", "v3.6.0", "pass", "as-expected", "loaded"),
        ],
    );
    let new = report(
        dir.path(),
        "new.json",
        "cluster",
        vec![
            cell(
                "ecr-irsa-entrypoint",
                "v3.6.0",
                "pass",
                "as-expected",
                "entrypoint ok",
            ),
            cell(
                "s3-static-keys",
                "v3.6.0",
                "error",
                "infra-error",
                "the node did not start",
            ),
        ],
    );
    let (code, out) = diff(&old, &new);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("(local backend) -> 2 cells (cluster backend): 2 changed"),
        "{out}"
    );
    assert!(
        out.contains(
            "changed ecr-irsa-entrypoint::v3.6.0: regression (fail) -> as-expected (pass)"
        ),
        "{out}"
    );
    assert!(
        out.contains("changed s3-static-keys::v3.6.0: as-expected (pass) -> infra-error (error)"),
        "{out}"
    );
}

#[test]
fn a_file_that_is_not_a_report_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("report.json");
    std::fs::write(&bad, "{\"cells\": 3}").unwrap();
    let (code, out) = diff(dir.path(), dir.path());
    assert_eq!(code, authmatrix::exit::BAD_INPUT as i32, "{out}");
    assert!(
        out.contains(&bad.display().to_string()) && out.contains("not an authmatrix report"),
        "{out}"
    );
}

#[test]
fn reports_are_replaced_whole_and_leave_no_partial_files() {
    let dir = tempfile::tempdir().unwrap();
    let first = report(
        dir.path(),
        "first.json",
        "local",
        vec![cell("s3-static-keys", "v3.6.0", "pass", "as-expected", "")],
    );
    let second = report(
        dir.path(),
        "second.json",
        "cluster",
        vec![cell("s3-static-keys", "v3.6.5", "fail", "regression", "x")],
    );
    let out = dir.path().join("out");
    authmatrix::report::Report::read(&first)
        .unwrap()
        .write(&out)
        .unwrap();
    authmatrix::report::Report::read(&second)
        .unwrap()
        .write(&out)
        .unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["junit.xml", "report.html", "report.json", "report.md"]
    );
    let written = authmatrix::report::Report::read(&out).unwrap();
    assert_eq!(written.backend, "cluster");
    assert_eq!(written.cells[0].id.tag.tag, "v3.6.5");
}
