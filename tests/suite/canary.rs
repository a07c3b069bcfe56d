//! Secrets never leave the run: a canary value in every secret-bearing field of a scenario (an
//! Opaque secret's keys, a pull secret's password) appears in no report file, no log line and no
//! JUnit text — neither as itself nor base64-encoded. Tier: a sandbox.

use base64::Engine;
use std::process::Command;

fn scenario_files(canary: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "canary-s3.yaml",
            format!(
                "id: canary-s3-keys
title: S3 input with a canary as both keys
component: executor-s3
auth: {{mode: none}}
artifact:
  s3:
    endpoint: s3.authmatrix.test:9000
    insecure: true
    region: us-east-1
    bucket: argo-artifacts
    key: input/static.txt
    accessKeySecret: {{name: s3-cred, key: accesskey}}
    secretKeySecret: {{name: s3-cred, key: secretkey}}
secrets:
  s3-cred:
    accesskey: AKIA{canary}
    secretkey: {canary}
expect:
  - versions: \">=3.5.0\"
    outcome: fail
    error: \".+\"
"
            ),
        ),
        (
            "canary-registry.yaml",
            format!(
                "id: canary-registry-password
title: Private registry pull secret with a canary password
component: controller-entrypoint
auth: {{mode: none}}
workflow:
  image: registry.example.internal/team/app:1.0
  serviceAccountName: default
  imagePullSecrets: [regcred]
kubernetes:
  serviceAccounts:
    - name: default
  pullSecrets:
    regcred:
      registry: registry.example.internal
      username: ${{cloud.registryUsername}}
      password: {canary}
expect:
  - versions: \">=3.5.0\"
    outcome: fail
    error: \".+\"
"
            ),
        ),
        (
            "canary-ecr.yaml",
            format!(
                "id: canary-ecr-password
title: ECR pull secret with a canary password
component: controller-entrypoint
auth: {{mode: none}}
workflow:
  image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/argo/app:1.0
  serviceAccountName: default
  imagePullSecrets: [ecr-cred]
kubernetes:
  serviceAccounts:
    - name: default
  pullSecrets:
    ecr-cred:
      registry: 123456789012.dkr.ecr.us-east-1.amazonaws.com
      username: AWS
      password: {canary}
expect:
  - versions: \">=3.5.0\"
    outcome: fail
    error: \".+\"
"
            ),
        ),
    ]
}

#[test]
fn a_canary_secret_appears_in_no_report_log_or_junit_text() {
    require_local_run!();
    let (canary, dir, catalogue) = canary_catalogue(usize::MAX);
    let out = dir.path().join("out");
    let (report, logs) = run(&catalogue, "v3.5.11,v3.6.5", &out);
    let cells = report["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 6, "{logs}");
    for cell in cells {
        assert_eq!(
            cell["observed"]["outcome"], "fail",
            "the canaries are wrong credentials, refused by the fakes: {cell:#}"
        );
    }
    assert_no_canary(&canary, &out, vec![("stdout and stderr".to_string(), logs)]);
}

/// A fresh canary, and a catalogue of the first `files` canary scenarios in a temporary directory.
fn canary_catalogue(files: usize) -> (String, tempfile::TempDir, std::path::PathBuf) {
    let canary = format!(
        "canary{}",
        authmatrix::fakes::events::request_id().replace('-', "")
    );
    let dir = tempfile::tempdir().unwrap();
    let catalogue = dir.path().join("scenarios");
    std::fs::create_dir(&catalogue).unwrap();
    for (name, text) in scenario_files(&canary).into_iter().take(files) {
        std::fs::write(catalogue.join(name), text).unwrap();
    }
    (canary, dir, catalogue)
}

/// `authmatrix run` of `catalogue` on `tags` into `out`: its report.json and its output.
fn run(
    catalogue: &std::path::Path,
    tags: &str,
    out: &std::path::Path,
) -> (serde_json::Value, String) {
    let (_, logs) = crate::util::run_text(
        Command::new(env!("CARGO_BIN_EXE_authmatrix"))
            .args(["run", "--argo", tags, "--scenarios"])
            .arg(catalogue)
            .arg("--out")
            .arg(out),
    );
    let report = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    (report, logs)
}

/// Neither the canary nor its base64 forms in `places` or any file of `out`.
fn assert_no_canary(canary: &str, out: &std::path::Path, mut places: Vec<(String, String)>) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let forms = [
        canary.to_string(),
        b64.encode(canary),
        b64.encode(format!("AKIA{canary}")),
        b64.encode(format!("AWS:{canary}")),
    ];
    for entry in std::fs::read_dir(out).unwrap() {
        let path = entry.unwrap().path();
        places.push((
            path.display().to_string(),
            String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned(),
        ));
    }
    assert!(places.iter().any(|(p, _)| p.ends_with("junit.xml")));
    for (place, text) in &places {
        for form in &forms {
            assert!(
                !text.contains(form.as_str()),
                "{place} holds the canary ({form})"
            );
        }
    }
}

/// v4.0.0–v4.0.4 print the S3 driver struct, keys included, into argoexec's log (PR 14706; fixed in
/// v4.0.5). The report names which secret was exposed and where; `verdict` makes it a blocker with
/// the fix version; no report, JUnit text, log or stdout holds the value itself.
#[test]
fn regression_pr_14706_argo_v4_0_2_prints_s3_keys_and_the_report_names_them_never_their_value() {
    require_local_run!();
    let (canary, dir, catalogue) = canary_catalogue(1);
    let out = dir.path().join("out");
    let (report, logs) = run(&catalogue, "v3.7.18,v4.0.2", &out);
    let exposed = |tag: &str| -> Vec<String> {
        let cell = report["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["argo"] == tag);
        let exposures = cell.and_then(|c| c["observed"]["exposures"].as_array().cloned());
        exposures
            .unwrap_or_default()
            .iter()
            .map(|e| e["secret"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        exposed("v4.0.2"),
        ["s3-cred/accesskey", "s3-cred/secretkey"],
        "{logs}"
    );
    assert!(exposed("v3.7.18").is_empty(), "{logs}");
    let (_, verdict) = crate::util::run_text(
        Command::new(env!("CARGO_BIN_EXE_authmatrix"))
            .args([
                "verdict",
                "--from",
                "v3.7.18",
                "--to",
                "v4.0.2",
                "--scenarios",
            ])
            .arg(&catalogue)
            .arg("--report")
            .arg(&out),
    );
    assert!(verdict.contains("NO-GO v3.7.18 -> v4.0.2"), "{verdict}");
    assert!(
        verdict.contains("exposed: s3-cred/secretkey in probe stderr"),
        "{verdict}"
    );
    assert_no_canary(
        &canary,
        &out,
        vec![
            ("run's output".into(), logs),
            ("verdict's output".into(), verdict),
        ],
    );
}
