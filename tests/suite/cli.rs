//! The `authmatrix` command's answers to bad input: clear, and exit code 2.

use std::process::Command;

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

#[test]
fn a_malformed_tag_says_how_to_find_tags() {
    let (code, err) = authmatrix(&["run", "--argo", "3.6", "--out", "/nonexistent"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("git ls-remote --tags"), "{err}");
}

#[test]
fn a_scenario_glob_that_matches_nothing_lists_the_catalogue() {
    let (code, err) = authmatrix(&["run", "--scenario", "s3-typo*", "--out", "/nonexistent"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no scenario id matches `s3-typo*`") && err.contains("s3-static-keys"),
        "{err}"
    );
}

#[test]
fn kind_is_a_cluster_provider_not_a_backend() {
    let (code, err) = authmatrix(&["run", "--backend", "kind", "--out", "/nonexistent"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("unknown backend `kind`") && err.contains("`cluster`"),
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
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("minikube") && err.contains("kind"), "{err}");
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
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("x.yaml:4:"), "{err}");
}

#[test]
fn a_tag_argo_never_released_is_refused_with_where_to_find_tags() {
    // Well-formed, but never tagged (needs Go and the module proxy).
    let (code, err) = authmatrix(&["prepare", "--argo", "v3.6.99"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("v3.6.99 is unknown to the Go module proxy")
            && err.contains("git ls-remote --tags"),
        "{err}"
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
    assert_eq!(code, 2, "{err}");
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
    // `prepare` needs only Go: `make probes` may run before the venv exists, and a machine without
    // Python still builds every probe (Go tier: the probes are cached after setup, built otherwise).
    let out = Command::new(env!("CARGO_BIN_EXE_authmatrix"))
        .args(["prepare", "--argo", "v3.6.5"])
        .env("AUTHMATRIX_PYTHON", "/nonexistent/python")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("python"), "{err}");
}
