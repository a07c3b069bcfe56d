//! The `authmatrix` command's exit codes (`authmatrix::exit`, listed by `--help`): bad input is 3,
//! refused once and before anything starts; CONDITIONAL keeps 2 for itself; an interrupt is 130.
//! The tag tests ask the Go module proxy (Go and the network); the interrupted verdict needs what
//! a local run needs (root or user namespaces, Go, the venv).

use authmatrix::exit;
use std::path::Path;
use std::process::Command;

const BAD_INPUT: i32 = exit::BAD_INPUT as i32;

fn authmatrix(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_authmatrix"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Entries of `dir` a run's sandbox would have made (its temporary run directory).
fn run_dirs(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("authmatrix-"))
        .collect()
}

#[test]
fn help_lists_every_exit_code() {
    let out = Command::new(env!("CARGO_BIN_EXE_authmatrix"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{help}");
    assert!(help.contains("Exit codes:"), "{help}");
    for (code, meaning) in [
        (exit::OK, "GO"),
        (exit::NO_GO, "NO-GO"),
        (exit::CONDITIONAL, "CONDITIONAL"),
        (exit::BAD_INPUT, "bad input"),
        (exit::INFRA, "infrastructure"),
        (exit::INTERRUPTED, "interrupted"),
    ] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{code} ")));
        assert!(
            line.is_some_and(|l| l.contains(meaning)),
            "{code} {meaning}:\n{help}"
        );
    }
}

#[test]
fn a_usage_error_is_bad_input_not_conditional() {
    // clap's own exit code for a usage error is 2, CONDITIONAL's.
    let (code, err) = authmatrix(&["verdict", "--from", "v3.5.11"]);
    assert_eq!(code, BAD_INPUT, "{err}");
    assert!(err.contains("--to"), "{err}");
}

#[test]
fn a_malformed_tag_says_how_to_find_tags() {
    let (code, err) = authmatrix(&["run", "--argo", "3.6", "--out", "/nonexistent"]);
    assert_eq!(code, BAD_INPUT, "{err}");
    assert!(err.contains("git ls-remote --tags"), "{err}");
}

#[test]
fn a_verdict_with_a_bad_tag_or_a_missing_report_is_bad_input() {
    let report = tempfile::tempdir().unwrap();
    let missing = report.path().join("missing");
    let missing = missing.to_str().unwrap();
    let (code, err) = authmatrix(&[
        "verdict", "--from", "3.5", "--to", "v3.6.0", "--report", missing,
    ]);
    assert_eq!(code, BAD_INPUT, "{err}");
    assert!(err.contains("`3.5` is not an Argo tag"), "{err}");
    let (code, err) = authmatrix(&[
        "verdict", "--from", "v3.5.11", "--to", "v3.6.0", "--report", missing,
    ]);
    assert_eq!(code, BAD_INPUT, "{err}");
    assert!(err.contains(missing), "{err}");
    assert_ne!(BAD_INPUT, exit::CONDITIONAL as i32);
}

#[test]
fn a_scenario_glob_that_matches_nothing_lists_the_catalogue() {
    let (code, err) = authmatrix(&["run", "--scenario", "s3-typo*", "--out", "/nonexistent"]);
    assert_eq!(code, BAD_INPUT, "{err}");
    assert!(
        err.contains("no scenario id matches `s3-typo*`") && err.contains("s3-static-keys"),
        "{err}"
    );
}

#[test]
fn kind_is_a_cluster_provider_not_a_backend() {
    let (code, err) = authmatrix(&["run", "--backend", "kind", "--out", "/nonexistent"]);
    assert_eq!(code, BAD_INPUT, "{err}");
    assert!(
        err.contains("'kind'") && err.contains("[possible values: local, cluster]"),
        "{err}"
    );
    let (code, err) = authmatrix(&[
        "run",
        "--backend",
        "cluster",
        "--provider",
        "minikube",
        "--out",
        "/nonexistent",
    ]);
    assert_eq!(code, BAD_INPUT, "{err}");
    assert!(
        err.contains("minikube") && err.contains("[possible values: local-up, kind]"),
        "{err}"
    );
}

#[test]
fn a_broken_private_catalogue_names_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("x.yaml"),
        "id: x\ntitle: t\ncomponent: executor-s3\nauth: {mode: sideways}\n",
    )
    .unwrap();
    let (code, err) = authmatrix(&["scenarios", "--scenarios", dir.path().to_str().unwrap()]);
    assert_eq!(code, BAD_INPUT, "{err}");
    assert!(err.contains("x.yaml:4:"), "{err}");
}

#[test]
fn a_tag_argo_never_released_is_refused_with_where_to_find_tags() {
    // Asks the Go module proxy.
    require!(Go);
    // Well-formed, but never tagged (needs Go and the module proxy).
    let (code, err) = authmatrix(&["prepare", "--argo", "v3.6.99"]);
    assert_eq!(code, BAD_INPUT, "{err}");
    assert!(
        err.contains("v3.6.99 is unknown to the Go module proxy")
            && err.contains("git ls-remote --tags"),
        "{err}"
    );
}

#[test]
fn an_unknown_tag_is_refused_once_before_any_sandbox_starts() {
    require!(Go);
    // Needs Go and the module proxy. A sandbox would need Python: pointing it nowhere makes any
    // attempt to start one show (as a missing tool, exit 4).
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_authmatrix"))
        .args([
            "run",
            "--argo",
            "v9.9.9",
            "--scenario",
            "s3-static-keys",
            "--out",
        ])
        .arg(tmp.path().join("out"))
        .env("TMPDIR", tmp.path())
        .env("AUTHMATRIX_PYTHON", "/nonexistent/python")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(BAD_INPUT), "{err}");
    assert_eq!(
        err.matches("v9.9.9 is unknown to the Go module proxy")
            .count(),
        1,
        "refused once: {err}"
    );
    assert!(
        !err.contains("sandbox") && !err.contains("python") && !err.contains("probe"),
        "nothing started: {err}"
    );
    assert_eq!(
        run_dirs(tmp.path()),
        Vec::<String>::new(),
        "no run directory"
    );
}

#[test]
fn an_output_directory_that_cannot_be_written_is_refused_before_any_cell_runs() {
    let dir = tempfile::tempdir().unwrap();
    // A directory below a regular file cannot be created, not even by root.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let out = file.join("out");
    let (code, err) = authmatrix(&[
        "run",
        "--scenario",
        "s3-static-keys",
        "--argo",
        "v3.6.5",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, BAD_INPUT, "{err}");
    assert!(
        err.contains("cannot create") && err.contains("a-file/out"),
        "{err}"
    );
    assert!(
        !err.contains("probe") && !err.contains("sandbox"),
        "refused before probes or a sandbox: {err}"
    );
}

#[test]
fn prepare_needs_only_go_so_setup_builds_probes_before_the_venv_exists() {
    // Cold, this would compile a tag's probes (minutes): it checks the built ones are found.
    require!(Probes);
    // `prepare` needs only Go: `make probes` may run before the venv exists, and a machine without
    // Python still builds every probe (Go tier: the probes are cached after setup, built otherwise).
    let out = Command::new(env!("CARGO_BIN_EXE_authmatrix"))
        // A tag whose every probe `make probes` builds (the arm64 one on EMULATED_TAGS only).
        .args(["prepare", "--argo", "v4.0.5"])
        .env("AUTHMATRIX_PYTHON", "/nonexistent/python")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("python"), "{err}");
}

#[test]
fn an_interrupted_verdict_exits_130_not_a_decision() {
    // Needs what a local run needs. Ctrl-C once its sandbox runs, as a terminal sends it.
    require_local_run!();
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, _) = crate::util::spawn_until_sandbox_ready(
        Command::new(env!("CARGO_BIN_EXE_authmatrix"))
            .args(["verdict", "--from", "v3.5.11", "--to", "v3.6.0"])
            .args(["--uses", "s3-static-keys"])
            .env("TMPDIR", tmp.path()),
    );
    crate::leftovers::interrupt(child.id(), libc::SIGINT);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(exit::INTERRUPTED as i32), "{status:?}");
    crate::leftovers::assert_clean_after(tmp.path(), libc::SIGINT, status);
}
