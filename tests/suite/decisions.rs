//! The upgrade questions, answered end to end by the `authmatrix` command on the local backend
//! (needs what the matrix needs: root or user namespaces, Go, the venv).

use crate::util::authmatrix;

/// See: https://github.com/argoproj/argo-workflows/issues/13947
#[test]
fn argo_13947_upgrading_from_3_5_11_to_3_6_0_is_no_go_for_ecr_with_irsa() {
    require_local_run!();
    let (code, out, err) = authmatrix(&[
        "verdict",
        "--from",
        "v3.5.11",
        "--to",
        "v3.6.0",
        "--uses",
        "ecr-irsa-*",
        "--uses",
        "s3-irsa-*",
    ]);
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(out.starts_with("NO-GO v3.5.11 -> v3.6.0"), "{out}");
    assert!(
        out.contains("BLOCKER ecr-irsa-entrypoint") && out.contains("issues/13947"),
        "{out}"
    );
    assert!(
        out.contains("fixed in: v3.6.5"),
        "the catalogue names the fix: {out}"
    );
    assert!(
        out.contains("ecr-irsa-image-index"),
        "a workaround that works on v3.6.0: {out}"
    );
}

#[test]
fn argo_13947_explain_names_the_sdk_modules_that_meet_on_the_credential_path() {
    require_local_run!();
    let (code, out, err) = authmatrix(&[
        "explain",
        "ecr-irsa-entrypoint",
        "--from",
        "v3.5.12",
        "--to",
        "v3.6.0",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("* github.com/aws/aws-sdk-go-v2 ") && out.contains("v1.16.7 -> v1.30.1"),
        "{out}"
    );
    assert!(
        out.contains("github.com/aws/aws-sdk-go-v2/service/ecr v1.17.8"),
        "service/ecr stays behind: {out}"
    );
}

#[test]
fn argo_13947_bisect_finds_the_fix_in_3_6_5() {
    require_local_run!();
    let (code, out, err) = authmatrix(&[
        "explain",
        "ecr-irsa-entrypoint",
        "--bisect",
        "--from",
        "v3.6.0",
        "--to",
        "v3.6.5",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("first tag where ecr-irsa-entrypoint flips: v3.6.5"),
        "{out}"
    );
}
