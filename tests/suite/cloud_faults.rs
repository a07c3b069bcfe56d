//! The fake cloud failing mid-run (AUTHMATRIX_FAULT): the cells it touches are `infra-error` with
//! the failure in their evidence — never a pass, never as-expected. Tier: a sandbox.

use rstest::rstest;
use std::process::Command;

#[rstest]
#[case::moto_killed("kill-s3", &["s3-static-keys", "ecr-irsa-entrypoint"], "moto exited")]
#[case::agent_stalled("stall-agent:2000", &["s3-pod-identity-sdk-creds"], "stalled 2000 ms")]
#[case::registry_closes_connections(
    "registry-closes-connections",
    &["basic-pull-secret-entrypoint", "ecr-irsa-entrypoint"],
    "closed the connection without answering"
)]
fn a_failing_fake_makes_infra_errors_never_passes(
    #[case] fault: &str,
    #[case] touched: &[&str],
    #[case] cause: &str,
) {
    require_local_run!();
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authmatrix"));
    cmd.args(["run", "--argo", "v3.6.5", "--out"])
        .arg(out.path())
        .env("AUTHMATRIX_FAULT", fault);
    for s in [
        "s3-static-keys",
        "s3-pod-identity-sdk-creds",
        "basic-pull-secret-entrypoint",
        "ecr-irsa-entrypoint",
    ] {
        cmd.args(["--scenario", s]);
    }
    let run = crate::util::output_within(&mut cmd);
    assert_eq!(
        run.status.code(),
        Some(1),
        "a run with infra errors fails:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("report.json")).unwrap()).unwrap();
    for cell in report["cells"].as_array().unwrap() {
        let scenario = cell["scenario"].as_str().unwrap();
        let infra_events: Vec<_> = cell["evidence"]["fakeEvents"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["infra"] == true)
            .collect();
        if touched.contains(&scenario) {
            assert_eq!(cell["verdict"], "infra-error", "{scenario}: {cell:#}");
            let message = cell["observed"]["message"].as_str().unwrap();
            assert!(message.contains(cause), "{scenario}: {message}");
            assert!(
                !infra_events.is_empty(),
                "{scenario}: the cause is in its evidence"
            );
        }
        if !infra_events.is_empty() {
            assert_eq!(
                cell["verdict"], "infra-error",
                "{scenario} saw the fake fail, yet: {cell:#}"
            );
        }
    }
}
